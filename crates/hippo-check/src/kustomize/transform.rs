//! A kustomization's own transformations, applied after its patches: `namePrefix`,
//! `nameSuffix`, `namespace`, `commonLabels`, `labels`, `commonAnnotations`, `images` and
//! `replicas`. A value a transformation sets takes the line of the kustomization field that
//! set it, so a finding on it points at that field.
//!
//! References to renamed objects (a ConfigMap name in a volume, a role in a binding) are not
//! rewritten: no rule reads them as names of rendered objects.

use super::load::{kind_of, mappings, Obj};
use super::patch::{field, field_mut, map_mut, path_mut, set};
use crate::model::{Node, Val};

/// Kinds that are not namespaced: `namespace:` leaves them alone.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "PodSecurityPolicy",
    "Node",
];

/// Kinds whose `spec.selector.matchLabels` selects their own pod template.
const SELECTING: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"];

type Failure = (u32, String);

fn text<'a>(doc: &'a Node, key: &str) -> Result<Option<(&'a str, u32)>, Failure> {
    match field(doc, key) {
        None => Ok(None),
        Some(n) if n.val == Val::Null => Ok(None),
        Some(n) => match n.as_str() {
            Some(s) => Ok(Some((s, n.line))),
            None => Err((n.line, format!("`{key}` must be a string"))),
        },
    }
}

fn pairs(n: &Node, key: &str) -> Result<Vec<(String, Node)>, Failure> {
    match &n.val {
        Val::Map(kv) => Ok(kv
            .iter()
            .map(|(k, v)| {
                let s = match &v.val {
                    Val::Str(s) => s.clone(),
                    Val::Num(x) => crate::terraform::eval::fmt_num(*x),
                    Val::Bool(b) => b.to_string(),
                    _ => String::new(),
                };
                (k.clone(), Node::new(v.line, Val::Str(s)))
            })
            .collect()),
        Val::Null => Ok(Vec::new()),
        _ => Err((n.line, format!("`{key}` must be a mapping"))),
    }
}

/// Applies the transformations of kustomization `doc` to `objs`.
pub fn apply(doc: &Node, file: &str, objs: &mut [Obj]) -> Result<(), Failure> {
    let prefix = text(doc, "namePrefix")?;
    let suffix = text(doc, "nameSuffix")?;
    if prefix.is_some() || suffix.is_some() {
        for obj in objs.iter_mut() {
            if matches!(kind_of(&obj.doc), "Namespace" | "CustomResourceDefinition") {
                continue;
            }
            if let Some(name) = path_mut(&mut obj.doc, &["metadata", "name"]) {
                if let Val::Str(s) = &mut name.val {
                    *s = format!(
                        "{}{s}{}",
                        prefix.map_or("", |p| p.0),
                        suffix.map_or("", |p| p.0)
                    );
                }
            }
        }
    }
    if let Some((ns, line)) = text(doc, "namespace")? {
        for obj in objs.iter_mut() {
            if CLUSTER_SCOPED.contains(&kind_of(&obj.doc)) {
                continue;
            }
            if let Some(meta) = map_mut(&mut obj.doc, "metadata", line) {
                set(meta, "namespace", Node::new(line, Val::Str(ns.to_string())));
            }
        }
    }
    if let Some(n) = field(doc, "commonLabels") {
        let labels = pairs(n, "commonLabels")?;
        objs.iter_mut()
            .for_each(|o| add_labels(&mut o.doc, &labels, true, true));
    }
    for entry in mappings(doc, "labels", file).map_err(|e| (e.line, e.message))? {
        let labels = field(entry, "pairs")
            .map(|p| pairs(p, "pairs"))
            .transpose()?;
        let flag = |k: &str| field(entry, k).is_some_and(|n| n.val == Val::Bool(true));
        let selectors = flag("includeSelectors");
        let templates = selectors || flag("includeTemplates");
        for o in objs.iter_mut() {
            add_labels(
                &mut o.doc,
                labels.as_deref().unwrap_or(&[]),
                selectors,
                templates,
            );
        }
    }
    if let Some(n) = field(doc, "commonAnnotations") {
        let notes = pairs(n, "commonAnnotations")?;
        for o in objs.iter_mut() {
            merge_into(&mut o.doc, &["metadata"], "annotations", &notes);
            if let Some(t) = template_path(&o.doc) {
                let mut at: Vec<&str> = t.to_vec();
                at.push("metadata");
                merge_into(&mut o.doc, &at, "annotations", &notes);
            }
        }
    }
    for entry in mappings(doc, "images", file).map_err(|e| (e.line, e.message))? {
        let image = Image::from_node(entry)?;
        objs.iter_mut().for_each(|o| image.apply(&mut o.doc));
    }
    for entry in mappings(doc, "replicas", file).map_err(|e| (e.line, e.message))? {
        let name = field(entry, "name").and_then(Node::as_str).unwrap_or("");
        let Some(count) = field(entry, "count") else {
            return Err((entry.line, "a replicas entry needs a `count`".into()));
        };
        for o in objs.iter_mut().filter(|o| {
            SELECTING.contains(&kind_of(&o.doc))
                && (super::load::name_of(&o.doc) == name || o.original_name == name)
        }) {
            if let Some(spec) = map_mut(&mut o.doc, "spec", entry.line) {
                set(spec, "replicas", count.clone());
            }
        }
    }
    Ok(())
}

/// Path of a workload's pod template (`spec.template`, or a CronJob's job template).
fn template_path(doc: &Node) -> Option<&'static [&'static str]> {
    match kind_of(doc) {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some(&["spec", "template"])
        }
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// Merges `pairs` into the mapping `key` under `at` (created when absent, if `at` exists).
fn merge_into(doc: &mut Node, at: &[&str], key: &str, pairs: &[(String, Node)]) {
    let line = doc.line;
    let Some(parent) = path_mut_creating(doc, at, line) else {
        return;
    };
    if let Some(map) = map_mut(parent, key, line) {
        for (k, v) in pairs {
            set(map, k, v.clone());
        }
    }
}

fn path_mut_creating<'a>(doc: &'a mut Node, at: &[&str], line: u32) -> Option<&'a mut Node> {
    at.iter().try_fold(doc, |cur, k| map_mut(cur, k, line))
}

fn add_labels(doc: &mut Node, labels: &[(String, Node)], selectors: bool, templates: bool) {
    if labels.is_empty() {
        return;
    }
    merge_into(doc, &["metadata"], "labels", labels);
    let kind = kind_of(doc).to_string();
    if templates {
        if let Some(t) = template_path(doc) {
            let mut at: Vec<&str> = t.to_vec();
            at.push("metadata");
            merge_into(doc, &at, "labels", labels);
        }
    }
    if !selectors {
        return;
    }
    if SELECTING.contains(&kind.as_str()) {
        merge_into(doc, &["spec", "selector"], "matchLabels", labels);
    } else if kind == "Service" {
        merge_into(doc, &["spec"], "selector", labels);
    } else if kind == "NetworkPolicy" {
        // Only an existing pod selector is narrowed; an empty one selects every pod.
        if let Some(sel) = path_mut(doc, &["spec", "podSelector", "matchLabels"]) {
            for (k, v) in labels {
                set(sel, k, v.clone());
            }
        }
    }
}

/// One `images:` entry.
struct Image {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
    line: u32,
}

impl Image {
    fn from_node(n: &Node) -> Result<Image, Failure> {
        let s = |k: &str| {
            field(n, k).map(|v| match &v.val {
                Val::Num(x) => crate::terraform::eval::fmt_num(*x),
                _ => v.as_str().unwrap_or("").to_string(),
            })
        };
        let Some(name) = s("name").filter(|s| !s.is_empty()) else {
            return Err((n.line, "an images entry needs a `name`".into()));
        };
        Ok(Image {
            name,
            new_name: s("newName"),
            new_tag: s("newTag"),
            digest: s("digest"),
            line: n.line,
        })
    }

    fn apply(&self, doc: &mut Node) {
        let spec: &[&str] = match kind_of(doc) {
            "Pod" => &["spec"],
            "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        };
        let Some(spec) = path_mut(doc, spec) else {
            return;
        };
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let Some(Node {
                val: Val::List(cs), ..
            }) = field_mut(spec, list)
            else {
                continue;
            };
            for c in cs.iter_mut() {
                let Some(image) = field_mut(c, "image") else {
                    continue;
                };
                if let Some(new) = image.as_str().and_then(|s| self.rewrite(s)) {
                    *image = Node::new(self.line, Val::Str(new));
                }
            }
        }
    }

    /// The rewritten reference, if `image` is the one this entry names.
    fn rewrite(&self, image: &str) -> Option<String> {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (image, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if name != self.name {
            return None;
        }
        let base = self.new_name.as_deref().unwrap_or(name);
        Some(match (&self.digest, &self.new_tag) {
            (Some(d), _) => format!("{base}@{d}"),
            (None, Some(t)) => format!("{base}:{t}"),
            (None, None) => match (tag, digest) {
                (_, Some(d)) => format!("{base}@{d}"),
                (Some(t), None) => format!("{base}:{t}"),
                (None, None) => base.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            line: 1,
        }
    }

    #[test]
    fn images_rewrite_name_tag_and_digest() {
        let i = image("reg:5000/api", Some("reg/app"), Some("2.0"), None);
        assert_eq!(
            i.rewrite("reg:5000/api:1.0").as_deref(),
            Some("reg/app:2.0")
        );
        assert_eq!(i.rewrite("reg:5000/other:1.0"), None);
        let d = image("api", None, None, Some("sha256:abc"));
        assert_eq!(d.rewrite("api:latest").as_deref(), Some("api@sha256:abc"));
        let keep = image("api", Some("mirror/api"), None, None);
        assert_eq!(
            keep.rewrite("api@sha256:1").as_deref(),
            Some("mirror/api@sha256:1")
        );
        assert_eq!(keep.rewrite("api").as_deref(), Some("mirror/api"));
    }
}
