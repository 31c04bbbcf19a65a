//! Kubernetes rules: non-root, no privilege, no host namespaces, secrets, image pinning, TLS.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity};
use crate::k8s::{containers, pod_spec};
use crate::model::{Format, Node, Resource, Tri};

const K8S: &[Format] = &[Format::Kubernetes];
const WL: &[&str] = &["k8s_workload"];

fn cname(c: &Node) -> String {
    c.get("name")
        .and_then(Node::as_str)
        .unwrap_or("container")
        .to_string()
}

fn each(r: &Resource, f: impl Fn(&Node, &Node) -> Vec<Hit>) -> Vec<Hit> {
    let Some(spec) = pod_spec(&r.body) else {
        return vec![];
    };
    containers(spec)
        .into_iter()
        .flat_map(|c| f(spec, c))
        .collect()
}

fn sc<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.get("securityContext").and_then(|s| s.get(key))
}

fn k8s_001(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |spec, c| {
        let non_root = sc(c, "runAsNonRoot")
            .or_else(|| sc(spec, "runAsNonRoot"))
            .map(|n| n.truth())
            == Some(Tri::Yes);
        let uid = sc(c, "runAsUser")
            .or_else(|| sc(spec, "runAsUser"))
            .and_then(Node::as_num);
        match uid {
            Some(0.0) => hit(
                sc(c, "runAsUser").map(|n| n.line).unwrap_or(c.line),
                format!("container {} runs as UID 0", cname(c)),
            ),
            Some(_) => vec![],
            None if non_root => vec![],
            None => hit(
                c.line,
                format!(
                    "container {} does not set runAsNonRoot: true or a non-zero runAsUser",
                    cname(c)
                ),
            ),
        }
    })
}
fn k8s_002(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| match sc(c, "privileged") {
        Some(n) if n.truth() == Tri::Yes => {
            hit(n.line, format!("container {} is privileged", cname(c)))
        }
        _ => vec![],
    })
}
fn k8s_003(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| match sc(c, "allowPrivilegeEscalation") {
        Some(n) if n.truth() == Tri::No => vec![],
        Some(n) => hit(
            n.line,
            format!("container {} allows privilege escalation", cname(c)),
        ),
        None => hit(
            c.line,
            format!(
                "container {} does not set allowPrivilegeEscalation: false",
                cname(c)
            ),
        ),
    })
}
fn k8s_004(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| match sc(c, "readOnlyRootFilesystem") {
        Some(n) if n.truth() == Tri::Yes => vec![],
        Some(n) => hit(
            n.line,
            format!("container {} has a writable root filesystem", cname(c)),
        ),
        None => hit(
            c.line,
            format!(
                "container {} does not set readOnlyRootFilesystem: true",
                cname(c)
            ),
        ),
    })
}
fn k8s_005(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| {
        let mut out = Vec::new();
        for e in c.get("env").map(|e| e.items()).unwrap_or_default() {
            let n = e.get("name").and_then(Node::as_str).unwrap_or("");
            if let Some(v) = e.get("value").and_then(Node::as_str) {
                if !v.is_empty() && (secret_name(n) || crate::secrets::looks_secret(v)) {
                    out.extend(hit(
                        e.line,
                        format!(
                            "container {} sets secret-like env {n} as a literal; use secretKeyRef",
                            cname(c)
                        ),
                    ));
                }
            }
        }
        out
    })
}
fn k8s_006(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(spec) = pod_spec(&r.body) else {
        return vec![];
    };
    ["hostNetwork", "hostPID", "hostIPC"]
        .iter()
        .filter_map(|k| {
            spec.get(k).filter(|n| n.truth() == Tri::Yes).map(|n| Hit {
                line: n.line,
                message: format!("pod shares the host namespace ({k})"),
                unresolved: false,
            })
        })
        .collect()
}
fn k8s_007(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| match c.get("image") {
        Some(i) if i.as_str().is_some_and(unpinned_image) => hit(
            i.line,
            format!(
                "image {} is not pinned to a version tag or digest",
                i.describe()
            ),
        ),
        _ => vec![],
    })
}
fn k8s_008(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.body.path(&["spec", "tls"]) {
        Some(t) if !t.items().is_empty() => vec![],
        _ => hit(
            r.line,
            "Ingress has no TLS section; traffic may be served over plain HTTP",
        ),
    }
}
fn k8s_009(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["data", "stringData"]) {
        Some(n) if !n.entries().is_empty() => hit(
            n.line,
            "a Secret manifest with inline data is committed; use an external secret store",
        ),
        _ => vec![],
    }
}

fn k8s_010(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| {
        let drop = c
            .get("securityContext")
            .and_then(|s| s.path(&["capabilities", "drop"]));
        if strings(drop).iter().any(|d| d.eq_ignore_ascii_case("ALL")) {
            vec![]
        } else {
            hit(
                c.line,
                format!(
                    "container {} does not drop all Linux capabilities",
                    cname(c)
                ),
            )
        }
    })
}

/// The one capability a non-root web server may need back (binding ports below 1024).
const HARMLESS_CAPABILITY: &str = "NET_BIND_SERVICE";

fn k8s_018(r: &Resource, _: &Index) -> Vec<Hit> {
    each(r, |_, c| {
        let Some(add) = c
            .get("securityContext")
            .and_then(|s| s.path(&["capabilities", "add"]))
        else {
            return vec![];
        };
        let added: Vec<String> = strings(Some(add))
            .into_iter()
            .filter(|a| {
                !a.trim_start_matches("CAP_")
                    .eq_ignore_ascii_case(HARMLESS_CAPABILITY)
            })
            .collect();
        if added.is_empty() {
            vec![]
        } else {
            hit(
                add.line,
                format!(
                    "container {} adds Linux capabilities back ({}); only NET_BIND_SERVICE may be added",
                    cname(c),
                    added.join(", ")
                ),
            )
        }
    })
}

fn labels(doc: &Node) -> Vec<(String, String)> {
    let meta = if doc.get("kind").and_then(Node::as_str) == Some("Pod") {
        doc.get("metadata")
    } else if doc.get("kind").and_then(Node::as_str) == Some("CronJob") {
        doc.path(&["spec", "jobTemplate", "spec", "template", "metadata"])
    } else {
        doc.path(&["spec", "template", "metadata"])
    };
    meta.and_then(|m| m.get("labels"))
        .map(|l| {
            l.entries()
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn namespace(doc: &Node) -> &str {
    doc.path(&["metadata", "namespace"])
        .and_then(Node::as_str)
        .unwrap_or("default")
}

fn k8s_011(r: &Resource, idx: &Index) -> Vec<Hit> {
    let ns = namespace(&r.body);
    let have = labels(&r.body);
    let covered = idx.of_type("k8s_networkpolicy").iter().any(|np| {
        namespace(&np.body) == ns
            && np.body.path(&["spec", "podSelector"]).is_some_and(|sel| {
                sel.get("matchLabels")
                    .map(|m| m.entries())
                    .unwrap_or_default()
                    .iter()
                    .all(|(k, v)| {
                        v.as_str()
                            .is_some_and(|v| have.iter().any(|(hk, hv)| hk == k && hv == v))
                    })
                    && sel.get("matchExpressions").is_none()
            })
    });
    if covered {
        vec![]
    } else {
        hit(
            r.line,
            format!("no NetworkPolicy in namespace {ns} selects this workload's pods"),
        )
    }
}

fn k8s_012(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(spec) = pod_spec(&r.body) else {
        return vec![];
    };
    let pod = sc(spec, "seccompProfile")
        .and_then(|p| p.get("type"))
        .and_then(Node::as_str);
    each(r, |_, c| {
        let t = sc(c, "seccompProfile")
            .and_then(|p| p.get("type"))
            .and_then(Node::as_str)
            .or(pod);
        match t {
            Some("RuntimeDefault") | Some("Localhost") => vec![],
            _ => hit(
                c.line,
                format!(
                    "container {} has no RuntimeDefault seccomp profile",
                    cname(c)
                ),
            ),
        }
    })
}

fn k8s_013(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(spec) = pod_spec(&r.body) else {
        return vec![];
    };
    match spec.get("automountServiceAccountToken") {
        Some(n) if n.truth() == Tri::No => vec![],
        Some(n) => hit(n.line, "the service account token is mounted into the pod"),
        None => hit(
            r.line,
            "automountServiceAccountToken is not false; the API token is mounted by default",
        ),
    }
}

pub fn rules() -> Vec<Rule> {
    let ac: &[&str] = &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"];
    vec![
        rule!("HIPPO-K8S-001", "Containers run as non-root", High, ac, WL, K8S, "securityContext.runAsNonRoot: true or runAsUser > 0", "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001", &["seed 001: Don't run as root user", "seed 004: least privilege"], k8s_001),
        rule!("HIPPO-K8S-002", "Containers are not privileged", High, ac, WL, K8S, "securityContext.privileged is not true", "securityContext:\n  privileged: false", &["seed 004: least privilege"], k8s_002),
        rule!("HIPPO-K8S-003", "Containers disallow privilege escalation", Medium, ac, WL, K8S, "securityContext.allowPrivilegeEscalation: false", "securityContext:\n  allowPrivilegeEscalation: false", &["seed 004: least privilege"], k8s_003),
        rule!("HIPPO-K8S-004", "Containers have read-only root filesystems", Low, &["164.312(c)(1)"], WL, K8S, "securityContext.readOnlyRootFilesystem: true", "securityContext:\n  readOnlyRootFilesystem: true", &["seed 004: immutable images"], k8s_004),
        rule!("HIPPO-K8S-005", "No secrets in container environment literals", Critical, &["164.312(a)(1)", "164.312(d)"], WL, K8S, "Secret values come from secretKeyRef or a CSI secret store", "env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password", &["seed 004: Runtime injection of secrets; nothing baked into code"], k8s_005),
        rule!("HIPPO-K8S-006", "Pods do not share host namespaces", High, ac, WL, K8S, "hostNetwork, hostPID and hostIPC are not true", "hostNetwork: false", &["seed 002: network segmentation"], k8s_006),
        rule!("HIPPO-K8S-007", "Container images are pinned", Medium, &["164.312(c)(1)"], WL, K8S, "image uses a version tag or digest, never latest", "image: registry.example.com/app@sha256:...", &["seed 004: Pin dependency versions; disallow latest tags"], k8s_007),
        rule!("HIPPO-K8S-008", "Ingresses terminate TLS", High, &["164.312(e)(1)"], &["k8s_ingress"], K8S, "spec.tls lists the hosts", "spec:\n  tls:\n  - hosts: [app.example.com]\n    secretName: app-tls", &["seed 000: Transmission security (TLS 1.2+)"], k8s_008),
        rule!("HIPPO-K8S-010", "Containers drop all Linux capabilities", Medium, ac, WL, K8S, "securityContext.capabilities.drop includes ALL", "securityContext:\n  capabilities:\n    drop: [\"ALL\"]", &["seed 004: least privilege", "Checkov: CKV_K8S_28, CKV_K8S_37"], k8s_010),
        rule!("HIPPO-K8S-018", "Containers do not add Linux capabilities", Medium, ac, WL, K8S, "securityContext.capabilities.add is absent or only NET_BIND_SERVICE", "securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]  # only if the process binds a port below 1024", &["seed 004: least privilege", "Checkov: CKV_K8S_25"], k8s_018),
        rule!("HIPPO-K8S-011", "Workloads are covered by a NetworkPolicy", Medium, &["164.312(e)(1)", "164.308(a)(4)(ii)(B)"], WL, K8S, "A NetworkPolicy in the namespace selects the pods", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: api\n  namespace: phi\nspec:\n  podSelector:\n    matchLabels:\n      app: api\n  policyTypes: [Ingress, Egress]", &["seed 000: Network segmentation (2025 HIPAA requirement)", "seed 004: network micro-segmentation", "Checkov: CKV2_K8S_6"], k8s_011),
        rule!("HIPPO-K8S-012", "Containers use the RuntimeDefault seccomp profile", Low, ac, WL, K8S, "securityContext.seccompProfile.type RuntimeDefault (pod or container)", "securityContext:\n  seccompProfile:\n    type: RuntimeDefault", &["seed 004: hardened baselines", "Checkov: CKV_K8S_31"], k8s_012),
        rule!("HIPPO-K8S-013", "Service account tokens are not mounted by default", Low, &["164.312(a)(1)"], WL, K8S, "automountServiceAccountToken: false unless the pod calls the API", "spec:\n  automountServiceAccountToken: false", &["seed 002: IRSA per service; least privilege", "Checkov: CKV_K8S_38"], k8s_013),
        rule!("HIPPO-K8S-009", "No Secret manifests with inline data", High, &["164.312(a)(1)"], &["k8s_secret"], K8S, "Secrets come from an external store (External Secrets, CSI), not committed manifests", "Use an ExternalSecret that reads from AWS Secrets Manager", &["seed 002: Never commit secrets to git", "seed 004: secrets scanning"], k8s_009),
    ]
}
