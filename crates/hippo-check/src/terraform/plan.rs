//! Terraform plan JSON (`terraform show -json`): planned values become resources, values
//! unknown until apply become references or unknowns, and root variable declarations become
//! `terraform_variable` resources, so the HCL rule pack applies unchanged.
//!
//! Lines come from the line-keeping JSON parser: a finding points at the resource object in
//! `planned_values` or at the attribute inside it. That is precise for pretty-printed plans
//! (`terraform show -json plan | jq .`); Terraform's own output is one line, so every finding
//! in an unformatted plan is on line 1.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Format, Node, Resource, Val};

/// Resource types the HCL evaluator produces that a plan cannot contain: the JSON plan
/// format has no backend configuration, so state-backend rules are evaluated on HCL only.
pub const NOT_IN_PLAN: &[&str] = &["terraform_backend"];

/// True if the JSON document looks like a Terraform plan.
pub fn is_plan(doc: &Node) -> bool {
    doc.get("planned_values").is_some() && doc.get("format_version").is_some()
}

/// Exact-key lookup: plan keys are provider schema names, so the rule model's
/// case-insensitive `Node::get` could confuse e.g. `references` with a block's attribute.
fn field<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.entries().iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// What the plan says about one resource while its values are rebuilt.
struct Ctx<'a> {
    /// `<file>::`, the address prefix every resource of this file gets.
    prefix: &'a str,
    /// Module instance of the resource (`module.a[0].`), for references inside a module.
    module: &'a str,
}

/// Extracts resources from a plan document.
pub fn resources(doc: &Node, file: &Arc<str>) -> Vec<Resource> {
    let prefix = format!("{file}::");
    let mut unknown: HashMap<&str, &Node> = HashMap::new();
    for rc in doc
        .get("resource_changes")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        if field(rc, "deposed").is_some() {
            continue;
        }
        if let (Some(addr), Some(au)) = (
            field(rc, "address").and_then(Node::as_str),
            field(rc, "change").and_then(|c| field(c, "after_unknown")),
        ) {
            unknown.entry(addr).or_insert(au);
        }
    }
    // Configuration is per module call, not per instance: keyed by the address without
    // instance keys (`module.a.aws_s3_bucket.b`).
    let mut config: HashMap<String, Option<&Node>> = HashMap::new();
    let root_cfg = doc
        .get("configuration")
        .and_then(|c| field(c, "root_module"));
    if let Some(root) = root_cfg {
        collect_config(root, "", &mut config);
    }
    let mut out = Vec::new();
    if let Some(root) = doc
        .get("planned_values")
        .and_then(|p| field(p, "root_module"))
    {
        walk(root, "", file, &prefix, &unknown, &config, &mut out);
    }
    if let Some(vars) = root_cfg.and_then(|r| field(r, "variables")) {
        for (name, decl) in vars.entries() {
            let mut body = decl.clone();
            normalise(&mut body);
            out.push(Resource {
                rtype: "terraform_variable".into(),
                source_type: "terraform_variable".into(),
                address: format!("{prefix}var.{name}"),
                name: format!("var.{name}"),
                format: Format::TerraformPlan,
                file: file.clone(),
                line: decl.line,
                end_line: decl.line,
                body,
                origin: None,
            });
        }
    }
    out
}

fn collect_config<'a>(module: &'a Node, path: &str, out: &mut HashMap<String, Option<&'a Node>>) {
    for r in field(module, "resources")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        if let Some(addr) = field(r, "address").and_then(Node::as_str) {
            out.insert(format!("{path}{addr}"), field(r, "expressions"));
        }
    }
    for (name, call) in field(module, "module_calls")
        .map(|n| n.entries())
        .unwrap_or_default()
    {
        if let Some(m) = field(call, "module") {
            collect_config(m, &format!("{path}module.{name}."), out);
        }
    }
}

fn walk(
    module: &Node,
    module_addr: &str,
    file: &Arc<str>,
    prefix: &str,
    unknown: &HashMap<&str, &Node>,
    config: &HashMap<String, Option<&Node>>,
    out: &mut Vec<Resource>,
) {
    let empty = Node::map(module.line);
    for r in field(module, "resources")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        let addr = field(r, "address")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let rtype = field(r, "type")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let data = field(r, "mode").and_then(Node::as_str) == Some("data");
        let mut body = field(r, "values").cloned().unwrap_or(Node::map(r.line));
        // The body stands for the resource: a top-level value known only after apply has
        // no line of its own and is reported on the resource, as in HCL.
        body.line = r.line;
        if let Some(au) = unknown.get(addr.as_str()) {
            // No configuration entry: nothing tells a computed default from a configured
            // value, so every unknown stays unknown.
            let exprs = config
                .get(&without_keys(&addr))
                .map(|e| e.unwrap_or(&empty));
            let cx = Ctx {
                prefix,
                module: module_addr,
            };
            merge(&mut body, au, exprs, &cx);
        }
        normalise(&mut body);
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
            origin: None,
        });
    }
    for c in field(module, "child_modules")
        .map(|n| n.items())
        .unwrap_or_default()
    {
        let addr = field(c, "address").and_then(Node::as_str).unwrap_or("");
        walk(c, &format!("{addr}."), file, prefix, unknown, config, out);
    }
}

/// The expression for `key` in a block's expressions. Outer `None`: the configuration says
/// nothing (no configuration, or a `dynamic` block, which the plan does not describe);
/// inner `None`: the configuration is known and does not set the key.
fn sub<'a>(exprs: Option<&'a Node>, key: &str) -> Option<Option<&'a Node>> {
    exprs.map(|e| field(e, key))
}

/// An attribute expression (`references` / `constant_value`), as opposed to nested blocks.
fn is_attr_expr(e: &Node) -> bool {
    field(e, "references").is_some() || field(e, "constant_value").is_some()
}

/// Expressions of the `i`-th block of a nested block type (a list for list/set blocks,
/// an object for single blocks).
fn block_expr(e: &Node, i: usize) -> Option<&Node> {
    match &e.val {
        Val::List(items) => items.get(i),
        Val::Map(_) if !is_attr_expr(e) && i == 0 => Some(e),
        _ => None,
    }
}

/// Puts the values `after_unknown` marks as unknown back into an object (`after_unknown`
/// mirrors the value's shape with `true` at each unknown leaf).
fn merge(obj: &mut Node, au: &Node, exprs: Option<&Node>, cx: &Ctx) {
    let line = obj.line;
    let empty = Node::map(line);
    let Val::Map(kv) = &mut obj.val else { return };
    for (k, u) in au.entries() {
        let e = sub(exprs, k);
        let pos = kv.iter().position(|(key, _)| key == k);
        match &u.val {
            Val::Bool(true) => match e {
                // Computed by the provider and not set in the configuration: the same as an
                // unset attribute in HCL (e.g. a bucket's legacy `versioning`, an instance's
                // default parameter group), so rules see it as absent, not as a value.
                Some(None) => {
                    if let Some(p) = pos {
                        kv.remove(p);
                    }
                }
                _ => {
                    // Terraform omits unknown attributes from objects; if one is there anyway
                    // (as null), its own line is the better location.
                    let at = pos.map(|p| kv[p].1.line).unwrap_or(line);
                    let n = Node::new(at, unknown_value(k, e.flatten(), None, at, cx));
                    match pos {
                        Some(p) => kv[p].1 = n,
                        None => kv.push((k.clone(), n)),
                    }
                }
            },
            Val::Map(_) => {
                if let Some(p) = pos {
                    let child = match e {
                        None => None,
                        Some(None) => Some(&empty),
                        Some(Some(x)) => block_expr(x, 0),
                    };
                    merge(&mut kv[p].1, u, child, cx);
                }
            }
            Val::List(_) => {
                if let Some(p) = pos {
                    merge_list(k, &mut kv[p].1, u, e, cx);
                }
            }
            _ => {}
        }
    }
}

fn merge_list(key: &str, list: &mut Node, au: &Node, e: Option<Option<&Node>>, cx: &Ctx) {
    let line = list.line;
    let empty = Node::map(line);
    let Val::List(items) = &mut list.val else {
        return;
    };
    let len = au.items().len();
    for (i, u) in au.items().into_iter().enumerate() {
        if items.len() <= i {
            items.push(Node::new(line, Val::Null));
        }
        match &u.val {
            Val::Bool(true) => {
                let at = items[i].line;
                items[i] = Node::new(at, unknown_value(key, e.flatten(), Some((i, len)), at, cx));
            }
            Val::Map(_) => {
                // A nested block: its expressions are the i-th block's. An unknown inside a
                // list-typed attribute has only the attribute's expression: no config info.
                let child = match e {
                    None => None,
                    Some(None) => Some(&empty),
                    Some(Some(x)) if is_attr_expr(x) => None,
                    Some(Some(x)) => block_expr(x, i),
                };
                merge(&mut items[i], u, child, cx);
            }
            Val::List(_) => merge_list(key, &mut items[i], u, None, cx),
            _ => {}
        }
    }
}

/// The value of an attribute known only after apply. When the configuration says which
/// resources it is computed from, it is a reference to them (so cross-resource rules can
/// follow it, as they follow HCL references); otherwise it is unknown.
fn unknown_value(
    key: &str,
    expr: Option<&Node>,
    elem: Option<(usize, usize)>,
    line: u32,
    cx: &Ctx,
) -> Val {
    let refs: Vec<&str> = expr
        .and_then(|x| field(x, "references"))
        .map(|r| r.items().into_iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    let mut bases: Vec<String> = Vec::new();
    for r in refs {
        if let Some(b) = resource_base(r) {
            if !bases.contains(&b) {
                bases.push(b);
            }
        }
    }
    // `references` lists `aws_x.y[0].arn`, `aws_x.y[0]` and `aws_x.y`; the instance is
    // the one planned, so the bare resource name is dropped when an instance is named.
    let keyed: Vec<String> = bases
        .iter()
        .filter(|b| {
            !bases
                .iter()
                .any(|o| o.len() > b.len() && o.starts_with(&format!("{b}[")))
        })
        .cloned()
        .collect();
    let to_ref = |b: &str| Val::Ref(format!("{}{}{b}", cx.prefix, cx.module));
    match (keyed.len(), elem) {
        (0, _) => Val::Unknown(format!("{key} (known after apply)")),
        (1, _) => to_ref(&keyed[0]),
        // One list element per referenced resource, in source order.
        (n, Some((i, len))) if n == len => to_ref(&keyed[i]),
        (_, Some(_)) => Val::Unknown(format!("{key} (known after apply)")),
        // A whole value computed from several resources (e.g. `[a.arn, b.arn]`): kept as
        // the list of them, so membership rules (backup selections, security groups) see each.
        (_, None) => Val::List(keyed.iter().map(|b| Node::new(line, to_ref(b))).collect()),
    }
}

/// The resource a reference names (`aws_kms_key.k` of `aws_kms_key.k.arn`,
/// `data.aws_iam_policy_document.p` of `data.aws_iam_policy_document.p.json`); `None` for
/// variables, locals, module outputs and other non-resource references.
fn resource_base(r: &str) -> Option<String> {
    let parts = split_traversal(r);
    let n = match parts.first()?.as_str() {
        "data" => 3,
        "var" | "local" | "module" | "each" | "count" | "path" | "terraform" | "self" => {
            return None
        }
        _ => 2,
    };
    (parts.len() >= n).then(|| parts[..n].join("."))
}

/// Splits `a.b["x.y"].c` on the dots outside brackets and quotes.
fn split_traversal(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut depth, mut quoted) = (0u32, false);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            '.' if !quoted && depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// A resource address without instance keys, the form the configuration is keyed by.
fn without_keys(addr: &str) -> String {
    split_traversal(addr)
        .iter()
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// Plans spell out every schema attribute: unset ones as `null`, absent nested blocks as
/// `[]`. HCL leaves both out, and rules read "absent" as "not configured"; dropping them
/// here keeps presence checks (`logging`, `access_log_settings`, ...) meaning the same.
fn normalise(n: &mut Node) {
    match &mut n.val {
        Val::Map(kv) => {
            kv.iter_mut().for_each(|(_, v)| normalise(v));
            kv.retain(|(_, v)| !is_empty(v));
        }
        Val::List(items) => {
            items.iter_mut().for_each(normalise);
            items.retain(|v| v.val != Val::Null);
        }
        _ => {}
    }
}

fn is_empty(n: &Node) -> bool {
    match &n.val {
        Val::Null => true,
        Val::List(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Resource> {
        let doc = crate::parse::json::parse(text).expect("valid JSON");
        assert!(is_plan(&doc));
        resources(&doc, &Arc::from("p.json"))
    }

    #[test]
    fn unknowns_without_configuration_stay_unknown_on_the_resource_line() {
        let rs = parse(
            r#"{"format_version": "1.2", "planned_values": {"root_module": {"resources": [
  {"address": "aws_db_instance.db", "type": "aws_db_instance",
   "values": {"engine": "postgres"}}]}},
 "resource_changes": [{"address": "aws_db_instance.db",
   "change": {"after_unknown": {"kms_key_id": true}}}]}"#,
        );
        let k = rs[0].get("kms_key_id").expect("kept");
        assert!(matches!(k.val, Val::Unknown(_)));
        assert_eq!(k.line, 2);
    }

    #[test]
    fn computed_defaults_are_absent_and_nested_references_resolve() {
        let rs = parse(
            r#"{"format_version": "1.2", "planned_values": {"root_module": {"resources": [
  {"address": "aws_s3_bucket_server_side_encryption_configuration.c",
   "type": "aws_s3_bucket_server_side_encryption_configuration",
   "values": {"expected_bucket_owner": null, "rule": [
     {"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms",
                                                   "kms_master_key_id": null}]}]}}]}},
 "resource_changes": [{"address": "aws_s3_bucket_server_side_encryption_configuration.c",
   "change": {"after_unknown": {"id": true, "bucket": true, "rule": [
     {"apply_server_side_encryption_by_default": [{"kms_master_key_id": true}]}]}}}],
 "configuration": {"root_module": {"resources": [
   {"address": "aws_s3_bucket_server_side_encryption_configuration.c", "expressions": {
     "bucket": {"references": ["aws_s3_bucket.b.id", "aws_s3_bucket.b"]},
     "rule": [{"apply_server_side_encryption_by_default": [{
       "kms_master_key_id": {"references": ["aws_kms_key.k.arn", "aws_kms_key.k"]}}]}]}}]}}}"#,
        );
        let r = &rs[0];
        assert!(r.get("id").is_none(), "computed, not configured");
        assert!(r.get("expected_bucket_owner").is_none(), "null is unset");
        assert_eq!(
            r.get("bucket").map(|n| &n.val),
            Some(&Val::Ref("p.json::aws_s3_bucket.b".into()))
        );
        let key = r
            .body
            .path(&[
                "rule",
                "apply_server_side_encryption_by_default",
                "kms_master_key_id",
            ])
            .expect("merged");
        assert_eq!(key.val, Val::Ref("p.json::aws_kms_key.k".into()));
        assert_eq!(key.line, 6);
    }

    #[test]
    fn resource_bases() {
        assert_eq!(
            resource_base("aws_kms_key.k.arn").as_deref(),
            Some("aws_kms_key.k")
        );
        assert_eq!(
            resource_base("data.aws_iam_policy_document.p.json").as_deref(),
            Some("data.aws_iam_policy_document.p")
        );
        assert_eq!(
            resource_base("aws_subnet.s[\"a.b\"].id").as_deref(),
            Some("aws_subnet.s[\"a.b\"]")
        );
        assert_eq!(resource_base("var.retention"), None);
        assert_eq!(resource_base("module.net.vpc_id"), None);
        assert_eq!(
            without_keys("module.a[0].aws_s3_bucket.b[\"x.y\"]"),
            "module.a.aws_s3_bucket.b"
        );
    }
}
