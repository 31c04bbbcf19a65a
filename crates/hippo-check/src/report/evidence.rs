//! Evidence report for auditors: per HIPAA citation, the rules behind it and pass/fail
//! counts, plus the scanned commit, open findings and documented exceptions.

use std::collections::BTreeMap;

use super::{esc, TOOL, VERSION};
use crate::engine::Outcome;
use crate::rules::{registry, Rule};

/// Citation -> rules that support it.
fn by_citation() -> BTreeMap<&'static str, Vec<&'static Rule>> {
    let mut m: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for r in registry() {
        for c in r.hipaa {
            m.entry(c).or_default().push(r);
        }
    }
    m
}

/// Rows: (citation, [(id, title, evaluated, passed, failed, status)]).
#[allow(clippy::type_complexity)]
fn rows(
    o: &Outcome,
) -> Vec<(
    &'static str,
    Vec<(String, String, usize, usize, usize, &'static str)>,
)> {
    by_citation()
        .into_iter()
        .map(|(c, rules)| {
            let rs = rules
                .iter()
                .map(|r| {
                    let s = o.stats.get(r.id).cloned().unwrap_or_default();
                    let open = o
                        .findings
                        .iter()
                        .filter(|f| f.rule_id == r.id && f.suppressed.is_none())
                        .count();
                    let status = if open > 0 {
                        "FAIL"
                    } else if s.evaluated == 0 {
                        "not applicable"
                    } else {
                        "PASS"
                    };
                    (
                        r.id.to_string(),
                        r.title.to_string(),
                        s.evaluated,
                        s.evaluated.saturating_sub(s.failed),
                        s.failed,
                        status,
                    )
                })
                .collect();
            (c, rs)
        })
        .collect()
}

fn header(o: &Outcome) -> Vec<(String, String)> {
    vec![
        ("Tool".into(), format!("{TOOL} {VERSION}")),
        ("Date".into(), o.date.clone()),
        (
            "Scanned commit".into(),
            o.commit
                .clone()
                .unwrap_or_else(|| "not a git checkout".into()),
        ),
        ("Paths".into(), o.paths.join(", ")),
        (
            "Files / resources".into(),
            format!("{} / {}", o.files, o.resources),
        ),
        (
            "Open findings".into(),
            o.findings
                .iter()
                .filter(|f| f.suppressed.is_none())
                .count()
                .to_string(),
        ),
        (
            "Documented exceptions".into(),
            o.findings
                .iter()
                .filter(|f| f.suppressed.is_some())
                .count()
                .to_string(),
        ),
        ("Parse errors".into(), o.errors.len().to_string()),
    ]
}

pub fn markdown(o: &Outcome) -> String {
    let mut s =
        String::from("# HIPAA infrastructure evidence report\n\n| Item | Value |\n|---|---|\n");
    for (k, v) in header(o) {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    for (c, rs) in rows(o) {
        s.push_str(&format!("\n## 45 CFR {c}\n\n| Rule | Title | Evaluated | Passed | Failed | Status |\n|---|---|---:|---:|---:|---|\n"));
        for (id, t, e, p, f, st) in rs {
            s.push_str(&format!("| {id} | {t} | {e} | {p} | {f} | {st} |\n"));
        }
    }
    s.push_str("\n## Open findings\n\n");
    for f in o.findings.iter().filter(|f| f.suppressed.is_none()) {
        s.push_str(&format!(
            "- **{}** `{}:{}` {} — {}\n",
            f.rule_id,
            f.file,
            f.line,
            f.resource.as_deref().unwrap_or(""),
            f.message
        ));
    }
    if !o.not_evaluated.is_empty() {
        s.push_str("\n## Rules not evaluated on a scanned format\n\n");
        for n in &o.not_evaluated {
            s.push_str(&format!(
                "- **{}** on {} ({} {} resource(s)): {}\n",
                n.rule_id, n.format, n.resources, n.resource_type, n.reason
            ));
        }
    }
    s.push_str("\n## Documented exceptions\n\n");
    for f in o.findings.iter().filter(|f| f.suppressed.is_some()) {
        let sup = f.suppressed.as_ref().expect("filtered");
        s.push_str(&format!(
            "- **{}** `{}:{}` ({}, until {}): {}\n",
            f.rule_id,
            f.file,
            f.line,
            sup.kind,
            sup.until.as_deref().unwrap_or("no end date"),
            sup.reason
        ));
    }
    for e in &o.errors {
        s.push_str(&format!(
            "\n**Parse error** `{}:{}`: {}\n",
            e.file, e.line, e.message
        ));
    }
    s
}

pub fn html(o: &Outcome) -> String {
    let mut s = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>HIPAA infrastructure evidence report</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:4px 8px}.FAIL{color:#b00;font-weight:bold}.PASS{color:#070}</style></head><body>\n<h1>HIPAA infrastructure evidence report</h1>\n<table>\n");
    for (k, v) in header(o) {
        s.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(&k),
            esc(&v)
        ));
    }
    s.push_str("</table>\n");
    for (c, rs) in rows(o) {
        s.push_str(&format!("<h2>45 CFR {}</h2>\n<table><tr><th>Rule</th><th>Title</th><th>Evaluated</th><th>Passed</th><th>Failed</th><th>Status</th></tr>\n", esc(c)));
        for (id, t, e, p, f, st) in rs {
            s.push_str(&format!("<tr><td>{}</td><td>{}</td><td>{e}</td><td>{p}</td><td>{f}</td><td class=\"{}\">{}</td></tr>\n", esc(&id), esc(&t), st.split(' ').next().unwrap_or(""), esc(st)));
        }
        s.push_str("</table>\n");
    }
    s.push_str("<h2>Open findings</h2>\n<ul>\n");
    for f in o.findings.iter().filter(|f| f.suppressed.is_none()) {
        s.push_str(&format!(
            "<li><b>{}</b> <code>{}:{}</code> {}</li>\n",
            esc(f.rule_id),
            esc(&f.file),
            f.line,
            esc(&f.message)
        ));
    }
    if !o.not_evaluated.is_empty() {
        s.push_str("</ul>\n<h2>Rules not evaluated on a scanned format</h2>\n<ul>\n");
        for n in &o.not_evaluated {
            s.push_str(&format!(
                "<li><b>{}</b> on {} ({} {} resource(s)): {}</li>\n",
                esc(n.rule_id),
                esc(n.format),
                n.resources,
                esc(&n.resource_type),
                esc(n.reason)
            ));
        }
    }
    s.push_str("</ul>\n<h2>Documented exceptions</h2>\n<ul>\n");
    for f in o.findings.iter().filter(|f| f.suppressed.is_some()) {
        let sup = f.suppressed.as_ref().expect("filtered");
        s.push_str(&format!(
            "<li><b>{}</b> <code>{}:{}</code>: {}</li>\n",
            esc(f.rule_id),
            esc(&f.file),
            f.line,
            esc(&sup.reason)
        ));
    }
    s.push_str("</ul>\n</body></html>\n");
    s
}
