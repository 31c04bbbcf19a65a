//! Terraform plan JSON (`terraform show -json`): planned values become resources;
//! values unknown until apply stay unknown, references become `Ref`s.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Format, Node, Resource, Val};

/// True if the JSON document looks like a Terraform plan.
pub fn is_plan(doc: &Node) -> bool {
    doc.get("planned_values").is_some() && doc.get("format_version").is_some()
}

/// Extracts resources from a plan document.
pub fn resources(doc: &Node, file: &Arc<str>) -> Vec<Resource> {
    let prefix = format!("{file}::");
    let mut unknown: HashMap<String, Vec<String>> = HashMap::new();
    for rc in doc
        .get("resource_changes")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        let (Some(addr), Some(au)) = (
            rc.get("address").and_then(Node::as_str),
            rc.path(&["change", "after_unknown"]),
        ) else {
            continue;
        };
        let keys = au
            .entries()
            .iter()
            .filter(|(_, v)| v.val == Val::Bool(true))
            .map(|(k, _)| k.clone())
            .collect();
        unknown.insert(addr.to_string(), keys);
    }
    let mut refs: HashMap<(String, String), String> = HashMap::new();
    if let Some(cfg) = doc.path(&["configuration", "root_module", "resources"]) {
        for r in cfg.items() {
            let Some(addr) = r.get("address").and_then(Node::as_str) else {
                continue;
            };
            for (k, e) in r
                .get("expressions")
                .map(|n| n.entries())
                .unwrap_or_default()
            {
                let first = e
                    .get("references")
                    .and_then(|x| x.items().first().and_then(|f| f.as_str()));
                if let Some(target) = first {
                    let t: Vec<&str> = target.split('.').collect();
                    let base = if t.first() == Some(&"data") {
                        t.get(..3)
                    } else {
                        t.get(..2)
                    };
                    if let Some(b) = base {
                        refs.insert(
                            (addr.to_string(), k.clone()),
                            format!("{prefix}{}", b.join(".")),
                        );
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Some(root) = doc.path(&["planned_values", "root_module"]) {
        walk(root, file, &prefix, &unknown, &refs, &mut out);
    }
    out
}

fn walk(
    module: &Node,
    file: &Arc<str>,
    prefix: &str,
    unknown: &HashMap<String, Vec<String>>,
    refs: &HashMap<(String, String), String>,
    out: &mut Vec<Resource>,
) {
    for r in module
        .get("resources")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        let addr = r
            .get("address")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let rtype = r
            .get("type")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let data = r.get("mode").and_then(Node::as_str) == Some("data");
        let mut body = r.get("values").cloned().unwrap_or(Node::map(r.line));
        if let Val::Map(kv) = &mut body.val {
            for k in unknown.get(&addr).into_iter().flatten() {
                let v = match refs.get(&(addr.clone(), k.clone())) {
                    Some(t) => Val::Ref(t.clone()),
                    None => Val::Unknown(format!("{k} (known after apply)")),
                };
                match kv.iter_mut().find(|(key, _)| key == k) {
                    Some((_, n)) => n.val = v,
                    None => kv.push((k.clone(), Node::new(r.line, v))),
                }
            }
        }
        out.push(Resource {
            rtype: if data {
                format!("data.{rtype}")
            } else {
                rtype.clone()
            },
            source_type: rtype,
            address: format!("{prefix}{addr}"),
            name: addr,
            format: Format::TerraformPlan,
            file: file.clone(),
            line: r.line,
            end_line: r.line,
            body,
        });
    }
    for c in module
        .get("child_modules")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        walk(c, file, prefix, unknown, refs, out);
    }
}
