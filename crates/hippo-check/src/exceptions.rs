//! Documented exceptions: inline `hippo:ignore` suppressions and the baseline file applied to
//! findings; an exception without a reason, past its date or naming an unknown rule is not
//! honoured and becomes a finding itself.

use std::path::Path;
use std::sync::Arc;

use crate::engine::Options;
use crate::error::CheckError;
use crate::findings::{finding, Finding, Suppressed};
use crate::rules;
use crate::suppress::{self, Baseline, Suppression};

pub fn load_baseline(p: &Path) -> Result<Baseline, CheckError> {
    let text = std::fs::read_to_string(p).map_err(|e| CheckError::Io {
        path: p.to_path_buf(),
        source: e,
    })?;
    serde_json::from_str(&text).map_err(|e| CheckError::Baseline {
        path: p.to_path_buf(),
        msg: e.to_string(),
    })
}

fn meta(id: &str, file: &str, line: u32, message: String) -> Finding {
    let rule = rules::find(id).expect("meta rule registered");
    finding(
        rule.id,
        rule.title,
        rule.severity,
        rule.hipaa,
        &Arc::from(file),
        line,
        None,
        message,
    )
}

/// Checks a suppression's own validity; returns a meta finding if it is not honoured.
fn validate(
    ids: &[String],
    reason: &Option<String>,
    until: &Option<String>,
    file: &str,
    line: u32,
    today: &str,
) -> Option<Finding> {
    if let Some(bad) = ids
        .iter()
        .find(|id| rules::find(id).is_none() && !id.starts_with("CUSTOM"))
    {
        return Some(meta(
            "HIPPO-SUP-003",
            file,
            line,
            format!("suppression names unknown rule {bad}"),
        ));
    }
    if reason.is_none() {
        return Some(meta(
            "HIPPO-SUP-001",
            file,
            line,
            format!(
                "suppression of {} has no reason=\"...\"; it is not honoured",
                ids.join(",")
            ),
        ));
    }
    match until {
        Some(u) if !suppress::valid_date(u) => Some(meta(
            "HIPPO-SUP-002",
            file,
            line,
            format!("suppression date {u} is not YYYY-MM-DD; it is not honoured"),
        )),
        Some(u) if u.as_str() < today => Some(meta(
            "HIPPO-SUP-002",
            file,
            line,
            format!("suppression of {} expired on {u}", ids.join(",")),
        )),
        _ => None,
    }
}

/// Marks findings covered by valid inline suppressions or baseline entries, and returns the
/// findings produced by invalid ones (no reason, expired, unknown rule).
pub fn apply_suppressions(
    findings: &mut [Finding],
    sups: &[Suppression],
    baseline: Option<&Baseline>,
    opts: &Options,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut valid = Vec::new();
    for s in sups {
        match validate(
            &s.rule_ids,
            &s.reason,
            &s.until,
            &s.file,
            s.line,
            &opts.today,
        ) {
            Some(m) => out.push(m),
            None => valid.push(s),
        }
    }
    for f in findings.iter_mut() {
        let res_start = f.resource_line;
        if let Some(s) = valid.iter().find(|s| {
            *s.file == *f.file
                && s.rule_ids.iter().any(|id| id == f.rule_id)
                && (s.target_line == f.line
                    || (f.resource.is_some() && Some(s.target_line) == res_start))
        }) {
            f.suppressed = Some(Suppressed {
                kind: "inline",
                reason: s.reason.clone().unwrap_or_default(),
                until: s.until.clone(),
            });
        }
    }
    if let (Some(b), Some(path)) = (baseline, &opts.baseline) {
        let file = path.display().to_string();
        for (i, e) in b.entries.iter().enumerate() {
            let reason = Some(e.reason.clone()).filter(|r| !r.trim().is_empty());
            if let Some(m) = validate(
                std::slice::from_ref(&e.rule_id),
                &reason,
                &e.until,
                &file,
                (i + 1) as u32,
                &opts.today,
            ) {
                out.push(Finding {
                    message: format!("baseline entry {}: {}", e.fingerprint, m.message),
                    ..m
                });
                continue;
            }
            for f in findings
                .iter_mut()
                .filter(|f| f.fingerprint == e.fingerprint && f.suppressed.is_none())
            {
                f.suppressed = Some(Suppressed {
                    kind: "baseline",
                    reason: e.reason.clone(),
                    until: e.until.clone(),
                });
            }
        }
    }
    out
}
