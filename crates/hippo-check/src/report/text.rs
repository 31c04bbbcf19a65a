//! Human-readable text output, grouped by file.

use crate::engine::Outcome;
use crate::rules::Severity;

fn paint(s: &str, sev: Severity, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    let code = match sev {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

pub fn render(o: &Outcome, color: bool, show_suppressed: bool) -> String {
    let mut out = String::new();
    let mut current = "";
    let mut open = 0;
    for f in &o.findings {
        if f.suppressed.is_some() && !show_suppressed {
            continue;
        }
        if *f.file != *current {
            current = &f.file;
            out.push_str(&format!("\n{current}\n"));
        }
        let sev = paint(
            &format!("{:<8}", f.severity.label().to_uppercase()),
            f.severity,
            color,
        );
        let res = f
            .resource
            .as_deref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        let sup = match &f.suppressed {
            Some(s) => format!(" (suppressed: {})", s.reason),
            None => {
                open += 1;
                String::new()
            }
        };
        out.push_str(&format!(
            "  {}:{:<5} {sev} {} {}{res}: {}{sup}\n",
            current, f.line, f.rule_id, f.title, f.message
        ));
        if let Some(c) = &f.condition {
            out.push_str(&format!("          condition: {c}\n"));
        }
        if let Some(o) = &f.origin {
            out.push_str(&format!("          rendered from: {o}\n"));
        }
    }
    for e in &o.errors {
        out.push_str(&format!(
            "\nPARSE ERROR {}:{}: {}\n",
            e.file, e.line, e.message
        ));
    }
    if !o.helm_templates.is_empty() {
        out.push_str(&format!(
            "\nnote: {} unrendered Helm template(s) were not scanned as manifests (scan `helm template` output): {}\n",
            o.helm_templates.len(),
            o.helm_templates.join(", ")
        ));
    }
    if !o.not_infrastructure.is_empty() {
        out.push_str(&format!(
            "\nnote: {} file(s) are not infrastructure code and did not parse; skipped: {}\n",
            o.not_infrastructure.len(),
            o.not_infrastructure.join(", ")
        ));
    }
    for n in &o.not_evaluated {
        out.push_str(&format!(
            "\nnote: rule {} not evaluated for {} ({} {} resource(s)): {}\n",
            n.rule_id, n.format, n.resources, n.resource_type, n.reason
        ));
    }
    let suppressed = o.findings.iter().filter(|f| f.suppressed.is_some()).count();
    out.push_str(&format!(
        "\n{} files, {} resources scanned: {open} findings, {suppressed} suppressed, {} parse errors\n",
        o.files, o.resources, o.errors.len()
    ));
    out
}
