//! Shared rule building blocks: required settings, key ownership, references, policies.

use crate::model::{Node, Resource, Tri, Val};
use crate::rules::{Hit, Index, Msg};

pub fn hit(line: u32, message: impl Into<Msg>) -> Vec<Hit> {
    let m = message.into();
    vec![Hit {
        line,
        message: m.text,
        unresolved: m.unresolved,
    }]
}

/// The setting must be true. `missing_ok` says whether an absent setting is compliant.
pub fn require_true(r: &Resource, keys: &[&str], missing_ok: bool) -> Vec<Hit> {
    require_true_in(&r.body, r.line, keys, missing_ok)
}

pub fn require_true_in(body: &Node, line: u32, keys: &[&str], missing_ok: bool) -> Vec<Hit> {
    match body.get_any(keys) {
        None if missing_ok => vec![],
        None => hit(
            line,
            format!("`{}` is not set (defaults to false)", keys[0]),
        ),
        Some(n) => match n.truth() {
            Tri::Yes => vec![],
            Tri::No => hit(n.line, format!("`{}` is {}", keys[0], n.describe())),
            Tri::Unknown => hit(n.line, unknown_msg(keys[0], n)),
        },
    }
}

/// The setting must not be true (absent is compliant).
pub fn require_not_true(r: &Resource, keys: &[&str]) -> Vec<Hit> {
    match r.get_any(keys) {
        None => vec![],
        Some(n) => match n.truth() {
            Tri::No => vec![],
            Tri::Yes => hit(n.line, format!("`{}` is {}", keys[0], n.describe())),
            Tri::Unknown => hit(n.line, unknown_msg(keys[0], n)),
        },
    }
}

/// The message for a setting whose value does not settle the rule. A value that cannot be
/// known statically (see [`unresolvable`]) makes an `info` finding that names what could not
/// be resolved; any other value (a string that is not a boolean, say) is a plain failure.
pub fn unknown_msg(key: &str, n: &Node) -> Msg {
    match unresolvable(n) {
        Some(what) => Msg {
            text: format!(
                "`{key}` is unknown: it cannot be resolved statically ({what}); check it once the value is known"
            ),
            unresolved: true,
        },
        None => Msg::from(format!(
            "`{key}` is {}, which is not a compliant value",
            n.describe()
        )),
    }
}

/// What a value depends on, if it cannot be known before `terraform apply` or stack creation:
/// a variable without default, a data source, a module output, a CloudFormation parameter
/// without default, or a computed attribute of another resource.
pub fn unresolvable(n: &Node) -> Option<String> {
    match &n.val {
        Val::Unknown(e) => Some(e.clone()),
        // Addresses are qualified by their module directory or template file; the name is
        // what the reader looks for.
        Val::Ref(a) => Some(format!(
            "the value of {}",
            a.rsplit("::").next().unwrap_or(a)
        )),
        _ => None,
    }
}

/// A finding about a whole configuration block whose content cannot be known statically.
pub fn unresolved_block(what: &str) -> Msg {
    Msg {
        text: format!(
            "{what} are unknown: they cannot be resolved statically; check them once known"
        ),
        unresolved: true,
    }
}

/// A numeric setting must be at least `min`; `missing` is the value used when absent.
pub fn require_min(r: &Resource, keys: &[&str], min: f64, missing: Option<f64>) -> Vec<Hit> {
    match r.get_any(keys) {
        None => match missing {
            Some(d) if d >= min => vec![],
            Some(d) => hit(
                r.line,
                format!(
                    "`{}` is not set (defaults to {d}); at least {min} is required",
                    keys[0]
                ),
            ),
            None => hit(
                r.line,
                format!("`{}` is not set; at least {min} is required", keys[0]),
            ),
        },
        Some(n) => match n.as_num() {
            Some(v) if v >= min => vec![],
            Some(v) => hit(
                n.line,
                format!("`{}` is {v}; at least {min} is required", keys[0]),
            ),
            None => hit(n.line, unknown_msg(keys[0], n)),
        },
    }
}

/// Who manages a KMS key referenced by a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Missing,
    AwsManaged,
    CustomerManaged,
    Unknown,
}

pub fn key_kind(n: Option<&Node>, idx: &Index) -> KeyKind {
    let Some(n) = n else { return KeyKind::Missing };
    match &n.val {
        Val::Null => KeyKind::Missing,
        Val::Str(s) if s.is_empty() => KeyKind::Missing,
        Val::Str(s) if s.contains("alias/aws/") => KeyKind::AwsManaged,
        Val::Str(_) => KeyKind::CustomerManaged,
        Val::Ref(addr) => match idx.get(addr) {
            Some(t) if t.rtype == "aws_kms_key" || t.rtype == "aws_kms_alias" => {
                KeyKind::CustomerManaged
            }
            Some(t) if t.rtype == "data.aws_kms_alias" || t.rtype == "data.aws_kms_key" => {
                match t.get_any(&["name", "key_id"]).and_then(Node::as_str) {
                    Some(s) if s.contains("alias/aws/") => KeyKind::AwsManaged,
                    Some(_) => KeyKind::CustomerManaged,
                    None => KeyKind::Unknown,
                }
            }
            _ => KeyKind::Unknown,
        },
        _ => KeyKind::Unknown,
    }
}

/// The key setting must name a customer-managed KMS key.
pub fn require_cmk(r: &Resource, keys: &[&str], idx: &Index, what: &str) -> Vec<Hit> {
    let n = r.get_any(keys);
    match key_kind(n, idx) {
        KeyKind::CustomerManaged => vec![],
        KeyKind::Missing => hit(
            n.map(|n| n.line).unwrap_or(r.line),
            format!("`{}` is not set: {what} uses an AWS-managed key (or none), not a customer-managed KMS key", keys[0]),
        ),
        KeyKind::AwsManaged => hit(
            n.map(|n| n.line).unwrap_or(r.line),
            format!("`{}` names an AWS-managed key ({}); use a customer-managed KMS key", keys[0], n.map(|n| n.describe()).unwrap_or_default()),
        ),
        KeyKind::Unknown => hit(n.map(|n| n.line).unwrap_or(r.line), unknown_msg(keys[0], n.unwrap_or(&r.body))),
    }
}

/// True if the node refers to the target resource, by reference or by one of its names.
pub fn points_to(n: &Node, target: &Resource, name_keys: &[&str]) -> bool {
    match &n.val {
        Val::Ref(a) => a == &target.address,
        Val::Str(s) => name_keys
            .iter()
            .filter_map(|k| target.get(k).and_then(Node::as_str))
            .any(|name| name == s || s.ends_with(&format!(":{name}"))),
        Val::List(items) => items.iter().any(|i| points_to(i, target, name_keys)),
        _ => false,
    }
}

/// Resources of type `t` whose `key` points at `target` (same scan scope).
pub fn referrers<'a>(
    idx: &Index<'a>,
    t: &str,
    keys: &[&str],
    target: &Resource,
    names: &[&str],
) -> Vec<&'a Resource> {
    idx.candidates(target, names)
        .into_iter()
        .filter(|r| r.rtype == t && r.get_any(keys).is_some_and(|n| points_to(n, target, names)))
        .collect()
}

/// Parses a policy document from a JSON string, an object, or an `aws_iam_policy_document`.
pub fn policy_statements(n: &Node, idx: &Index) -> Option<Vec<Node>> {
    let doc = match &n.val {
        Val::Str(s) => crate::parse::json::parse(s).ok()?,
        Val::Map(_) => n.clone(),
        Val::Ref(a) => {
            let t = idx.get(a)?;
            if t.rtype != "data.aws_iam_policy_document" {
                return None;
            }
            return Some(
                t.get("statement")
                    .map(|s| s.items().into_iter().map(doc_statement).collect())
                    .unwrap_or_default(),
            );
        }
        _ => return None,
    };
    Some(
        doc.get("Statement")
            .map(|s| s.items().into_iter().cloned().collect())
            .unwrap_or_default(),
    )
}

/// Converts an `aws_iam_policy_document` statement block to the JSON policy shape.
fn doc_statement(s: &Node) -> Node {
    let l = s.line;
    let mut kv = vec![(
        "Effect".to_string(),
        s.get("effect")
            .cloned()
            .unwrap_or(Node::new(l, Val::Str("Allow".into()))),
    )];
    for (block, json) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(v) = s.get(block) {
            kv.push((json.into(), v.clone()));
        }
    }
    if let Some(p) = s.get("principals") {
        let ids = p
            .items()
            .iter()
            .filter_map(|x| x.get("identifiers").cloned())
            .collect();
        kv.push(("Principal".into(), Node::new(l, Val::List(ids))));
    }
    let mut cond = Vec::new();
    for c in s.get("condition").map(|c| c.items()).unwrap_or_default() {
        let test = c
            .get("test")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let var = c
            .get("variable")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let vals = c
            .get("values")
            .cloned()
            .unwrap_or(Node::new(l, Val::List(vec![])));
        cond.push((test, Node::new(l, Val::Map(vec![(var, vals)]))));
    }
    kv.push(("Condition".into(), Node::new(l, Val::Map(cond))));
    Node::new(l, Val::Map(kv))
}

/// All strings in a node (a string or a list of strings).
pub fn strings(n: Option<&Node>) -> Vec<String> {
    match n.map(|n| &n.val) {
        Some(Val::Str(s)) => vec![s.clone()],
        Some(Val::List(items)) => items.iter().flat_map(|i| strings(Some(i))).collect(),
        Some(Val::Map(kv)) => kv.iter().flat_map(|(_, v)| strings(Some(v))).collect(),
        _ => vec![],
    }
}

/// True if the statement is a Deny covering the action.
pub fn denies(stmt: &Node, action: &str) -> bool {
    stmt.get("Effect").and_then(Node::as_str) == Some("Deny")
        && strings(stmt.get("Action"))
            .iter()
            .any(|a| a == action || a == "s3:*" || a == "*")
}

/// The condition keys (lower-cased) used anywhere in the statement's Condition block.
pub fn condition_keys(stmt: &Node) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = stmt.get("Condition") {
        for (_, op) in c.entries() {
            for (k, _) in op.entries() {
                out.push(k.to_ascii_lowercase());
            }
        }
    }
    out
}

/// Secret-like environment variable names.
pub fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    // References to a secret (its ARN, id or name) are not the secret.
    if ["_ARN", "_ARNS", "_ID", "_IDS", "_NAME"]
        .iter()
        .any(|s| n.ends_with(s))
    {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
        "DATABASE_URL",
        "DB_URL",
        "CONNECTION_STRING",
        "AUTH_KEY",
        "SIGNING_KEY",
    ]
    .iter()
    .any(|p| n.contains(p))
}

/// True if an image reference has no tag/digest or uses `latest`.
pub fn unpinned_image(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest" || tag.is_empty(),
    }
}

/// Container definitions of an ECS task definition (list, or JSON string).
pub fn container_defs(r: &Resource) -> Vec<Node> {
    let Some(n) = r.get("container_definitions") else {
        return vec![];
    };
    match &n.val {
        Val::List(items) => items.clone(),
        Val::Str(s) => match crate::parse::json::parse(s) {
            Ok(doc) => doc
                .items()
                .into_iter()
                .map(|c| relocate(c, n.line))
                .collect(),
            Err(_) => vec![],
        },
        _ => vec![Node::new(
            n.line,
            Val::Unknown("container definitions".into()),
        )],
    }
}

fn relocate(n: &Node, base: u32) -> Node {
    let mut c = n.clone();
    fn shift(n: &mut Node, base: u32) {
        n.line = base;
        match &mut n.val {
            Val::List(items) => items.iter_mut().for_each(|i| shift(i, base)),
            Val::Map(kv) => kv.iter_mut().for_each(|(_, v)| shift(v, base)),
            _ => {}
        }
    }
    shift(&mut c, base);
    c
}
