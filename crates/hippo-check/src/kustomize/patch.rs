//! Patches as kustomize applies them: strategic merge (maps merged by key, lists of named
//! things merged by their key, `$patch: delete|replace`, `key: null` removes) and JSON 6902
//! operations (add, remove, replace, move, copy, test), plus patch target selection.
//!
//! Values a patch brings keep their own (tagged) lines, so a finding on a patched value
//! points at the patch file, and one on an untouched value at the base.

use regex::Regex;

use super::load::{kind_of, name_of, Obj};
use crate::model::{Node, Val};

/// Exact-key lookup: manifests are case-sensitive, unlike the rule model's `Node::get`.
pub fn field<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.entries().iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

pub fn field_mut<'a>(n: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut n.val {
        Val::Map(kv) => kv.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

pub fn path_mut<'a>(n: &'a mut Node, keys: &[&str]) -> Option<&'a mut Node> {
    keys.iter().try_fold(n, |cur, k| field_mut(cur, k))
}

/// Sets `key` in a mapping (replacing or appending); does nothing on a non-mapping.
pub fn set(n: &mut Node, key: &str, value: Node) {
    if let Val::Map(kv) = &mut n.val {
        match kv.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => kv.push((key.to_string(), value)),
        }
    }
}

/// The mapping under `key`, created (at `line`) when absent or null.
pub fn map_mut<'a>(n: &'a mut Node, key: &str, line: u32) -> Option<&'a mut Node> {
    let present = field(n, key).is_some_and(|v| matches!(v.val, Val::Map(_)));
    if !present {
        if !matches!(n.val, Val::Map(_)) {
            return None;
        }
        set(n, key, Node::map(line));
    }
    field_mut(n, key)
}

/// Which objects a patch's `target` selects.
pub struct Target {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<Regex>,
    namespace: Option<String>,
    labels: Vec<(String, String)>,
}

impl Target {
    pub fn from_node(n: &Node) -> Target {
        let s = |k: &str| field(n, k).and_then(Node::as_str).map(str::to_string);
        // Kustomize reads a target name as a regular expression anchored at both ends.
        let name = s("name").map(|p| {
            Regex::new(&format!("^(?:{p})$")).unwrap_or_else(|_| {
                Regex::new(&format!("^{}$", regex::escape(&p))).expect("escaped")
            })
        });
        let labels = s("labelSelector")
            .map(|sel| {
                sel.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Target {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            name,
            namespace: s("namespace"),
            labels,
        }
    }

    fn matches(&self, obj: &Obj) -> bool {
        let doc = &obj.doc;
        let api = field(doc, "apiVersion")
            .and_then(Node::as_str)
            .unwrap_or("");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let meta = field(doc, "metadata");
        let ns = meta
            .and_then(|m| field(m, "namespace"))
            .and_then(Node::as_str)
            .unwrap_or("");
        let label = |k: &str| {
            meta.and_then(|m| field(m, "labels"))
                .and_then(|l| field(l, k))
                .and_then(Node::as_str)
        };
        self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.kind.as_deref().is_none_or(|k| k == kind_of(doc))
            && self
                .name
                .as_ref()
                .is_none_or(|re| re.is_match(name_of(doc)) || re.is_match(&obj.original_name))
            && self.namespace.as_deref().is_none_or(|n| n == ns)
            && self
                .labels
                .iter()
                .all(|(k, v)| label(k) == Some(v.as_str()))
    }
}

/// Applies a strategic merge patch to the object it names (kind and name, and namespace
/// when the patch gives one); a patch that names no rendered object is an error.
pub fn merge_by_identity(objs: &mut [Obj], patch: &Node) -> Result<(), String> {
    let kind = kind_of(patch);
    let name = name_of(patch);
    let ns = field(patch, "metadata")
        .and_then(|m| field(m, "namespace"))
        .and_then(Node::as_str);
    let mut found = false;
    for obj in objs.iter_mut() {
        let obj_ns = field(&obj.doc, "metadata")
            .and_then(|m| field(m, "namespace"))
            .and_then(Node::as_str);
        if kind_of(&obj.doc) == kind
            && (name_of(&obj.doc) == name || obj.original_name == name)
            && ns.is_none_or(|n| obj_ns == Some(n))
        {
            merge(&mut obj.doc, patch);
            found = true;
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!("patch for {kind} {name} matches no resource"))
    }
}

/// Applies a strategic merge patch to every object the target selects (its own name and
/// kind are then ignored, as kustomize does).
pub fn merge_on(objs: &mut [Obj], target: &Target, patch: &Node) {
    let mut body = patch.clone();
    if let Val::Map(kv) = &mut body.val {
        kv.retain(|(k, _)| k != "metadata" && k != "kind" && k != "apiVersion");
    }
    for obj in objs.iter_mut().filter(|o| target.matches(o)) {
        merge(&mut obj.doc, &body);
    }
}

fn directive(n: &Node) -> Option<&str> {
    field(n, "$patch").and_then(Node::as_str)
}

/// A copy without strategic-merge directives (`$patch`, `$setElementOrder/...`).
fn clean(n: &Node) -> Node {
    let mut out = n.clone();
    match &mut out.val {
        Val::Map(kv) => {
            kv.retain(|(k, _)| !k.starts_with('$'));
            kv.iter_mut().for_each(|(_, v)| *v = clean(v));
        }
        Val::List(items) => {
            items.retain(|i| directive(i).is_none());
            items.iter_mut().for_each(|i| *i = clean(i));
        }
        _ => {}
    }
    out
}

/// The key by which Kubernetes merges the elements of a list field, for the lists a
/// security rule reads; other lists are replaced by the patch's list.
fn merge_key(list: &str, item: &Node) -> Option<&'static str> {
    match list {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "ports" if field(item, "containerPort").is_some() => Some("containerPort"),
        "ports" => Some("port"),
        _ => None,
    }
}

/// Strategic merge of `patch` into `base`.
pub fn merge(base: &mut Node, patch: &Node) {
    if directive(patch) == Some("replace") || !matches!(base.val, Val::Map(_)) {
        *base = clean(patch);
        return;
    }
    let Val::Map(entries) = &patch.val else {
        *base = clean(patch);
        return;
    };
    for (key, value) in entries.iter().filter(|(k, _)| !k.starts_with('$')) {
        if value.val == Val::Null || directive(value) == Some("delete") {
            if let Val::Map(kv) = &mut base.val {
                kv.retain(|(k, _)| k != key);
            }
            continue;
        }
        let Some(existing) = field_mut(base, key) else {
            set(base, key, clean(value));
            continue;
        };
        let line = existing.line;
        let replacement = match (&mut existing.val, &value.val) {
            (Val::List(items), Val::List(patch_items)) => merge_list(key, items, patch_items, line),
            (Val::Map(_), Val::Map(_)) => {
                merge(existing, value);
                None
            }
            _ => Some(clean(value)),
        };
        if let Some(r) = replacement {
            *existing = r;
        }
    }
}

/// Merges list elements by the list's merge key; returns the replacement list when the
/// list has no merge key (or the patch says `$patch: replace`).
fn merge_list(key: &str, items: &mut Vec<Node>, patch: &[Node], line: u32) -> Option<Node> {
    let replace = patch.iter().any(|p| directive(p) == Some("replace"));
    let merge_by = patch.first().and_then(|p| merge_key(key, p));
    let Some(by) = merge_by.filter(|_| !replace) else {
        let kept: Vec<Node> = patch
            .iter()
            .filter(|p| directive(p).is_none())
            .map(clean)
            .collect();
        return Some(Node::new(line, Val::List(kept)));
    };
    for p in patch {
        let id = field(p, by).map(|n| n.to_json());
        let pos = items
            .iter()
            .position(|i| id.is_some() && field(i, by).map(|n| n.to_json()) == id);
        match (pos, directive(p)) {
            (Some(i), Some("delete")) => {
                items.remove(i);
            }
            (None, Some("delete")) => {}
            (Some(i), _) => merge(&mut items[i], p),
            (None, _) => items.push(clean(p)),
        }
    }
    None
}

/// Applies JSON 6902 operations to every object the target selects.
pub fn json6902_on(objs: &mut [Obj], target: &Target, ops: &Node) -> Result<(), String> {
    for obj in objs.iter_mut().filter(|o| target.matches(o)) {
        json6902(&mut obj.doc, ops)?;
    }
    Ok(())
}

/// A JSON pointer (RFC 6901) as its unescaped reference tokens.
fn pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("JSON pointer {path} does not start with /"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, path: &str) -> Result<usize, String> {
    token
        .parse::<usize>()
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| format!("{path}: no list element {token}"))
}

fn locate<'a>(doc: &'a mut Node, tokens: &[String], path: &str) -> Result<&'a mut Node, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match &mut cur.val {
            Val::Map(kv) => match kv.iter_mut().find(|(k, _)| k == t) {
                Some((_, v)) => v,
                None => return Err(format!("{path}: no field {t}")),
            },
            Val::List(items) => {
                let i = index(t, items.len(), path)?;
                &mut items[i]
            }
            _ => return Err(format!("{path}: {t} is inside a scalar")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Node, path: &str, value: Node) -> Result<(), String> {
    let tokens = pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    let parent = locate(doc, parent, path)?;
    match &mut parent.val {
        Val::Map(_) => set(parent, last, value),
        Val::List(items) if last == "-" => items.push(value),
        Val::List(items) => match last.parse::<usize>() {
            Ok(i) if i <= items.len() => items.insert(i, value),
            _ => return Err(format!("{path}: no list position {last}")),
        },
        _ => return Err(format!("{path}: parent is a scalar")),
    }
    Ok(())
}

fn remove(doc: &mut Node, path: &str) -> Result<Node, String> {
    let tokens = pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    let parent = locate(doc, parent, path)?;
    match &mut parent.val {
        Val::Map(kv) => match kv.iter().position(|(k, _)| k == last) {
            Some(i) => Ok(kv.remove(i).1),
            None => Err(format!("{path}: no field {last}")),
        },
        Val::List(items) => {
            let i = index(last, items.len(), path)?;
            Ok(items.remove(i))
        }
        _ => Err(format!("{path}: parent is a scalar")),
    }
}

/// Applies a list of JSON 6902 operations to one document.
pub fn json6902(doc: &mut Node, ops: &Node) -> Result<(), String> {
    let Val::List(list) = &ops.val else {
        return Err("a JSON 6902 patch is a list of operations".into());
    };
    for op in list {
        let s = |k: &str| field(op, k).and_then(Node::as_str);
        let path = s("path").ok_or("a JSON 6902 operation needs a `path`")?;
        let value = || {
            field(op, "value")
                .cloned()
                .ok_or_else(|| format!("{path}: operation needs a `value`"))
        };
        match s("op").unwrap_or("") {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => *locate(doc, &pointer(path)?, path)? = value()?,
            "move" => {
                let from = s("from").ok_or("move needs `from`")?;
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = s("from").ok_or("copy needs `from`")?;
                let v = locate(doc, &pointer(from)?, from)?.clone();
                add(doc, path, v)?;
            }
            "test" => {
                let actual = locate(doc, &pointer(path)?, path)?.to_json();
                if actual != value()?.to_json() {
                    return Err(format!("{path}: test operation failed"));
                }
            }
            other => return Err(format!("unknown JSON 6902 operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::yaml::parse_docs;

    fn doc(text: &str) -> Node {
        parse_docs(text).expect("yaml").remove(0)
    }

    const BASE: &str = "kind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: api:1\n        resources:\n          limits:\n            memory: 1Gi\n      - name: side\n        image: side:1\n";

    #[test]
    fn strategic_merge_merges_containers_by_name_and_removes_null_keys() {
        let mut base = doc(BASE);
        let patch = doc("kind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        securityContext:\n          privileged: true\n        resources: null\n      - name: side\n        $patch: delete\n      - name: new\n        image: new:1\n");
        merge(&mut base, &patch);
        let got = base.to_json();
        let cs = &got["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().map(Vec::len), Some(2), "{got}");
        assert_eq!(cs[0]["image"], "api:1");
        assert_eq!(cs[0]["securityContext"]["privileged"], true);
        assert!(cs[0].get("resources").is_none());
        assert_eq!(cs[1]["name"], "new");
        // The patched value keeps the patch's line (line 10 of the patch).
        let spec = base
            .path(&["spec", "template", "spec", "containers"])
            .expect("containers");
        assert_eq!(
            spec.items()[0]
                .path(&["securityContext", "privileged"])
                .map(|n| n.line),
            Some(10)
        );
    }

    #[test]
    fn json6902_adds_replaces_removes_moves_and_tests() {
        let mut base = doc(BASE);
        let ops = doc("- op: add\n  path: /spec/template/spec/containers/0/securityContext\n  value: {privileged: true}\n- op: replace\n  path: /spec/template/spec/containers/1/image\n  value: side:2\n- op: remove\n  path: /spec/template/spec/containers/0/resources\n- op: add\n  path: /metadata/labels\n  value: {}\n- op: add\n  path: /metadata/labels/app~1name\n  value: api\n- op: copy\n  from: /metadata/name\n  path: /metadata/labels/copied\n- op: test\n  path: /metadata/labels/copied\n  value: api\n");
        json6902(&mut base, &ops).expect("applies");
        let got = base.to_json();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"],
            true
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][1]["image"],
            "side:2"
        );
        assert!(got["spec"]["template"]["spec"]["containers"][0]
            .get("resources")
            .is_none());
        assert_eq!(got["metadata"]["labels"]["app/name"], "api");
        let bad = doc("- op: replace\n  path: /spec/nothing/here\n  value: 1\n");
        assert!(json6902(&mut base, &bad)
            .unwrap_err()
            .contains("no field nothing"));
        let failing = doc("- op: test\n  path: /metadata/name\n  value: other\n");
        assert!(json6902(&mut base, &failing).is_err());
    }

    #[test]
    fn targets_select_by_kind_name_pattern_and_labels() {
        let obj = Obj {
            doc: doc("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prod-api\n  labels:\n    tier: web\n"),
            original_name: "api".into(),
        };
        let t = |s: &str| Target::from_node(&doc(s));
        assert!(t("kind: Deployment\nname: api").matches(&obj));
        assert!(t("group: apps\nversion: v1\nname: prod-.*").matches(&obj));
        assert!(t("labelSelector: tier=web").matches(&obj));
        assert!(!t("kind: StatefulSet").matches(&obj));
        assert!(!t("labelSelector: tier=db").matches(&obj));
    }
}
