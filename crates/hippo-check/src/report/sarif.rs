//! SARIF 2.1.0 output.

use serde_json::{json, Value};

use super::{TOOL, VERSION};
use crate::engine::Outcome;
use crate::rules::{registry, Severity};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

pub fn write(o: &Outcome, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut ids: Vec<&str> = registry().iter().map(|r| r.id).collect();
    let mut rules: Vec<Value> = registry()
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "name": r.id.replace('-', ""),
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": format!("{}. Expected: {}", r.title, r.expected) },
                "help": { "text": format!("Expected: {}\nRemediation:\n{}", r.expected, r.remediation),
                          "markdown": format!("**Expected:** {}\n\n```\n{}\n```", r.expected, r.remediation) },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "tags": r.hipaa.iter().map(|c| format!("HIPAA-{c}")).chain(["security".to_string()]).collect::<Vec<_>>(),
                                "security-severity": score(r.severity), "precision": "high" }
            })
        })
        .collect();
    for f in &o.findings {
        if !ids.contains(&f.rule_id) {
            ids.push(f.rule_id);
            rules.push(json!({ "id": f.rule_id, "shortDescription": { "text": f.title },
                "defaultConfiguration": { "level": level(f.severity) }, "properties": { "tags": ["custom"] } }));
        }
    }
    let result = |f: &crate::engine::Finding| {
        let mut text = format!("{}: {}", f.title, f.message);
        if let Some(c) = &f.condition {
            text.push_str(&format!(" (condition: {c})"));
        }
        if let Some(o) = &f.origin {
            text.push_str(&format!(" (rendered from {o})"));
        }
        let mut r = json!({
            "ruleId": f.rule_id,
            "ruleIndex": ids.iter().position(|i| *i == f.rule_id).unwrap_or(0),
            "level": level(f.severity),
            "message": { "text": text },
            "locations": [{ "physicalLocation": {
                "artifactLocation": { "uri": f.file.trim_start_matches("./") },
                "region": { "startLine": f.line.max(1) } } }],
            "partialFingerprints": { "hippoFingerprint/v1": f.fingerprint },
            "properties": { "hipaa": f.hipaa, "resource": f.resource }
        });
        if let Some(c) = &f.condition {
            r["properties"]["condition"] = json!(c);
        }
        if let Some((file, line)) = f.origin.as_deref().and_then(|o| o.rsplit_once(':')) {
            r["properties"]["origin"] = json!(f.origin);
            r["relatedLocations"] = json!([{ "id": 1, "message": { "text": "rendered from" },
                "physicalLocation": { "artifactLocation": { "uri": file.trim_start_matches("./") },
                    "region": { "startLine": line.parse::<u32>().unwrap_or(1).max(1) } } }]);
        }
        if let Some(s) = &f.suppressed {
            r["suppressions"] = json!([{ "kind": if s.kind == "inline" { "inSource" } else { "external" }, "justification": s.reason }]);
        }
        r
    };
    let notifications: Vec<Value> = o
        .errors
        .iter()
        .map(|e| json!({ "level": "error", "message": { "text": e.message },
            "locations": [{ "physicalLocation": { "artifactLocation": { "uri": e.file }, "region": { "startLine": e.line.max(1) } } }] }))
        .collect();
    let mut run = json!({
        "tool": { "driver": { "name": TOOL, "version": VERSION, "semanticVersion": VERSION, "rules": rules } },
        "results": [],
        "invocations": [{ "executionSuccessful": o.errors.is_empty(), "toolExecutionNotifications": notifications }],
    });
    if let Some(c) = &o.commit {
        run["versionControlProvenance"] = json!([{ "repositoryUri": "file:///", "revisionId": c }]);
    }
    let doc = json!({ "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run] });
    // Results are serialised one at a time into the `"results": []` slot, so a large scan
    // never holds every result as a JSON tree at once.
    let text = serde_json::to_string(&doc).map_err(std::io::Error::other)?;
    let slot = text
        .find("\"results\":[]")
        .map(|i| i + "\"results\":[".len())
        .unwrap_or(0);
    w.write_all(&text.as_bytes()[..slot])?;
    for (i, f) in o.findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, &result(f)).map_err(std::io::Error::other)?;
    }
    w.write_all(&text.as_bytes()[slot..])?;
    w.write_all(b"\n")
}
