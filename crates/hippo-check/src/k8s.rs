//! Kubernetes manifests (multi-document YAML, rendered Helm output) to resources.

use std::sync::Arc;

use crate::model::{Format, Node, Resource};

const WORKLOADS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// True if a YAML document is a Kubernetes object.
pub fn is_manifest(doc: &Node) -> bool {
    doc.get("apiVersion").is_some() && doc.get("kind").and_then(Node::as_str).is_some()
}

/// One resource per Kubernetes object; `List` objects are expanded.
pub fn resources(doc: &Node, file: &Arc<str>, out: &mut Vec<Resource>) {
    let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind == "List" {
        for item in doc.get("items").map(|i| i.items()).unwrap_or_default() {
            if is_manifest(item) {
                resources(item, file, out);
            }
        }
        return;
    }
    let ns = doc
        .path(&["metadata", "namespace"])
        .and_then(Node::as_str)
        .unwrap_or("default");
    let name = doc
        .path(&["metadata", "name"])
        .and_then(Node::as_str)
        .unwrap_or("unnamed");
    let rtype = if WORKLOADS.contains(&kind) {
        "k8s_workload".to_string()
    } else {
        format!("k8s_{}", kind.to_ascii_lowercase())
    };
    let id = format!("{kind}/{ns}/{name}");
    out.push(Resource {
        rtype,
        source_type: kind.to_string(),
        address: format!("{file}::{id}"),
        name: id,
        format: Format::Kubernetes,
        file: file.clone(),
        line: doc.line,
        end_line: doc.line,
        body: doc.clone(),
        origin: None,
    });
}

/// The pod spec of a workload object.
pub fn pod_spec(doc: &Node) -> Option<&Node> {
    match doc.get("kind").and_then(Node::as_str)? {
        "Pod" => doc.get("spec"),
        "CronJob" => doc.path(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => doc.path(&["spec", "template", "spec"]),
    }
}

/// All containers (including init containers) of a pod spec.
pub fn containers(spec: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(list) = spec.get(key) {
            out.extend(list.items());
        }
    }
    out
}
