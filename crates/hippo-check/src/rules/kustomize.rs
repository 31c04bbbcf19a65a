//! Coverage notes of kustomize rendering: what the gate could not evaluate.

use super::{Kind, Rule, Severity};
use crate::model::Format;

pub fn rules() -> Vec<Rule> {
    vec![Rule {
        id: "HIPPO-KUST-001",
        title: "Remote kustomize base not evaluated",
        severity: Severity::Info,
        hipaa: &["164.308(a)(8)"],
        types: &[],
        formats: &[Format::Kubernetes],
        expected: "Every base and component of a kustomize overlay is in the scanned tree (remote URLs are not fetched)",
        remediation: "Vendor the remote base into the repository (or scan the output of `kustomize build`), so that the gate judges what is deployed:\nresources:\n- ../../vendor/monitoring-base   # was github.com/org/monitoring//base?ref=v1.2.0",
        sources: &["issue 16: resources the gate never saw (kustomize bases and overlays)"],
        kind: Kind::Coverage,
    }]
}
