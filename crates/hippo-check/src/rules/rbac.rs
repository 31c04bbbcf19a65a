//! Kubernetes access-control rules: wildcard and Secret-reading RBAC roles, bindings to
//! `cluster-admin`, and container runtime sockets mounted from the host.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity};
use crate::k8s::pod_spec;
use crate::model::{Format, Node, Resource};

const K8S: &[Format] = &[Format::Kubernetes];
const ROLES: &[&str] = &["k8s_role", "k8s_clusterrole"];
const BINDINGS: &[&str] = &["k8s_rolebinding", "k8s_clusterrolebinding"];
const AC: &[&str] = &["164.308(a)(4)(ii)(B)", "164.312(a)(1)"];

fn policy_rules(r: &Resource) -> Vec<&Node> {
    r.get("rules").map(|n| n.items()).unwrap_or_default()
}

fn k8s_014(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for rule in policy_rules(r) {
        for key in ["verbs", "resources", "nonResourceURLs"] {
            if strings(rule.get(key)).iter().any(|v| v == "*") {
                let line = rule.get(key).map(|n| n.line).unwrap_or(rule.line);
                out.extend(hit(
                    line,
                    format!("a rule grants `{key}: [\"*\"]`; list the verbs and resources the subject needs"),
                ));
            }
        }
    }
    out
}

/// Verbs that return Secret contents: `get` and `list` return the data, `watch` streams it.
const READ_VERBS: &[&str] = &["get", "list", "watch", "*"];

fn k8s_015(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for rule in policy_rules(r) {
        let core = rule
            .get("apiGroups")
            .map(|g| strings(Some(g)).iter().any(|g| g.is_empty() || g == "*"))
            .unwrap_or(true);
        let secrets = strings(rule.get("resources"))
            .iter()
            .any(|s| s == "secrets" || s == "*");
        let reads = strings(rule.get("verbs"))
            .iter()
            .any(|v| READ_VERBS.contains(&v.as_str()));
        // `resourceNames` limits the rule to named Secrets: that is the least-privilege form.
        let every_secret = strings(rule.get("resourceNames")).is_empty();
        if core && secrets && reads && every_secret {
            let line = rule.get("resources").map(|n| n.line).unwrap_or(rule.line);
            out.extend(hit(
                line,
                "the role can read every Secret in its scope; restrict it with resourceNames or drop get/list/watch on secrets",
            ));
        }
    }
    out
}

fn k8s_016(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.body.path(&["roleRef", "name"]) {
        Some(n) if n.as_str() == Some("cluster-admin") => hit(
            n.line,
            "binds subjects to cluster-admin (every verb on every resource in every namespace)",
        ),
        _ => vec![],
    }
}

/// Host paths that expose a container runtime's API socket: whoever reaches it can start
/// privileged containers on the node and read every pod's volumes and Secrets.
fn runtime_socket(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    const SOCKETS: &[&str] = &[
        "docker.sock",
        "containerd.sock",
        "crio.sock",
        "cri-dockerd.sock",
    ];
    const DIRS: &[&str] = &[
        "/var/run",
        "/run",
        "/var/run/docker",
        "/var/run/containerd",
        "/run/containerd",
        "/var/run/crio",
        "/run/crio",
    ];
    SOCKETS.iter().any(|s| p.ends_with(s)) || DIRS.contains(&p)
}

fn k8s_017(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(spec) = pod_spec(&r.body) else {
        return vec![];
    };
    let mut out = Vec::new();
    for v in spec.get("volumes").map(|v| v.items()).unwrap_or_default() {
        if let Some(p) = v.path(&["hostPath", "path"]) {
            match p.as_str() {
                Some(s) if runtime_socket(s) => out.extend(hit(
                    p.line,
                    format!("hostPath {s} exposes the container runtime socket to the pod"),
                )),
                Some(_) => {}
                None => out.extend(hit(p.line, unknown_msg("hostPath.path", p))),
            }
        }
    }
    out
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!("HIPPO-K8S-014", "RBAC roles grant no wildcard verbs or resources", High, AC, ROLES, K8S, "No rule of a Role or ClusterRole lists \"*\" in verbs, resources or nonResourceURLs", "rules:\n- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"get\", \"list\"]",
            &["issue 16: wildcard ClusterRoles", "Checkov: CKV_K8S_49", "CIS Kubernetes 5.1.3"], k8s_014),
        rule!("HIPPO-K8S-015", "RBAC roles cannot read every Secret", High, AC, ROLES, K8S, "No get/list/watch on secrets without resourceNames", "rules:\n- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: [\"api-tls\"]\n  verbs: [\"get\"]",
            &["issue 16: roles that read every Secret", "CIS Kubernetes 5.1.2"], k8s_015),
        rule!("HIPPO-K8S-016", "Nothing is bound to cluster-admin", High, AC, BINDINGS, K8S, "roleRef never names the cluster-admin ClusterRole", "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: app-reader",
            &["issue 16: bindings to cluster-admin", "CIS Kubernetes 5.1.1"], k8s_016),
        rule!("HIPPO-K8S-017", "Pods do not mount the container runtime socket", Critical, AC, &["k8s_workload"], K8S, "No hostPath volume of docker.sock, containerd.sock, crio.sock or their run directories", "Use the Kubernetes API (or a build service such as Kaniko) instead of the node's runtime socket",
            &["issue 16: hostPath mounts of the container runtime socket", "Checkov: CKV_K8S_27"], k8s_017),
    ]
}

#[cfg(test)]
mod tests {
    use super::runtime_socket;

    #[test]
    fn runtime_sockets_and_their_directories_are_recognised() {
        for p in [
            "/var/run/docker.sock",
            "/run/containerd/containerd.sock",
            "/var/run/crio/crio.sock",
            "/var/run/cri-dockerd.sock",
            "/var/run/",
            "/run/containerd",
        ] {
            assert!(runtime_socket(p), "{p}");
        }
        for p in [
            "/var/log",
            "/var/run/app-metrics",
            "/etc/ssl/certs",
            "/run/secrets-store",
        ] {
            assert!(!runtime_socket(p), "{p}");
        }
    }
}
