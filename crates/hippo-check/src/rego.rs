//! Custom rules in Rego, evaluated in-process with regorus over the normalised model.
//!
//! Each `.rego` file in the rules directory declares a package and a `deny` set whose
//! members are objects `{"id", "message", "severity", "resource", "hipaa"}` (strings
//! are accepted too). The input is `{"resources": [{address, name, type, source_type,
//! format, file, line, values}]}`; unknown values appear as `{"$unknown": "..."}` and
//! references to other resources as `{"$ref": "<address>"}`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::engine::Finding;
use crate::error::CheckError;
use crate::model::Resource;
use crate::rules::Severity;

/// Builds the Rego input document.
pub fn input(resources: &[Resource]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = resources
        .iter()
        .map(|r| {
            serde_json::json!({
                "address": r.address, "name": r.name, "type": r.rtype, "source_type": r.source_type,
                "format": r.format.label(), "file": r.file.as_ref(), "line": r.display_line(), "values": r.body.to_json(),
            })
        })
        .collect();
    serde_json::json!({ "resources": list })
}

fn package(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim().to_string())
    })
}

fn severity(s: &str) -> Severity {
    match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "low" => Severity::Low,
        "info" => Severity::Info,
        _ => Severity::Medium,
    }
}

/// Evaluates every policy in `dir` and returns their findings.
pub fn evaluate(dir: &Path, resources: &[Resource]) -> Result<Vec<Finding>, CheckError> {
    let rd = std::fs::read_dir(dir).map_err(|e| CheckError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rego"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(vec![]);
    }
    let input = regorus::Value::from_json_str(&input(resources).to_string())
        .map_err(|e| CheckError::Rego(e.to_string()))?;
    let mut by_name: HashMap<&str, &Resource> = HashMap::new();
    for r in resources {
        by_name.insert(r.name.as_str(), r);
        by_name.insert(r.address.as_str(), r);
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| CheckError::Io {
            path: f.clone(),
            source: e,
        })?;
        let pkg = package(&text)
            .ok_or_else(|| CheckError::Rego(format!("{}: no package declaration", f.display())))?;
        let mut engine = regorus::Engine::new();
        engine
            .add_policy(f.display().to_string(), text)
            .map_err(|e| CheckError::Rego(format!("{}: {e}", f.display())))?;
        engine.set_input(input.clone());
        let v = engine
            .eval_rule(format!("data.{pkg}.deny"))
            .map_err(|e| CheckError::Rego(format!("{}: {e}", f.display())))?;
        let json: serde_json::Value = serde_json::from_str(
            &v.to_json_str()
                .map_err(|e| CheckError::Rego(e.to_string()))?,
        )
        .unwrap_or_default();
        let items = match json {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Null => vec![],
            other => vec![other],
        };
        for item in items {
            out.push(to_finding(&item, &f, &by_name));
        }
    }
    Ok(out)
}

/// Custom-rule texts live for the rest of the run, like the built-in rule metadata.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn to_finding(
    item: &serde_json::Value,
    policy: &Path,
    resources: &HashMap<&str, &Resource>,
) -> Finding {
    let get = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let message = get("message")
        .or_else(|| get("msg"))
        .or_else(|| item.as_str().map(str::to_string))
        .unwrap_or_else(|| item.to_string());
    let id = get("id").unwrap_or_else(|| "CUSTOM-REGO".to_string());
    let target = get("resource").and_then(|a| resources.get(a.as_str()).copied());
    let file: Arc<str> = target
        .map(|r| r.file.clone())
        .unwrap_or_else(|| Arc::from(policy.display().to_string()));
    let hipaa: Vec<&'static str> = item
        .get("hipaa")
        .and_then(|h| h.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(|s| leak(s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let f = Finding {
        fingerprint: crate::suppress::fingerprint(&[
            &id,
            &file,
            target.map(|r| r.name.as_str()).unwrap_or(""),
            &message,
        ]),
        rule_id: leak(id.clone()),
        title: leak(get("title").unwrap_or(id)),
        severity: severity(&get("severity").unwrap_or_default()),
        hipaa: Box::leak(hipaa.into_boxed_slice()),
        file,
        line: target.map(|r| r.line).unwrap_or(1),
        resource: target.map(|r| r.name.clone()),
        resource_type: target.map(|r| r.source_type.clone()),
        message,
        condition: None,
        origin: None,
        suppressed: None,
        resource_line: target.map(|r| r.line),
    };
    match target {
        Some(r) => crate::findings::with_origin(f, r),
        None => f,
    }
}
