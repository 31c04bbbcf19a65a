//! EKS rules: private endpoint, audit logs, envelope encryption of secrets.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource, Tri};

const EKS: &[&str] = &["aws_eks_cluster"];

/// The cluster's network settings: Terraform `vpc_config`, CloudFormation `ResourcesVpcConfig`.
fn vpc_config(r: &Resource) -> Option<&Node> {
    r.get_any(&["vpc_config", "ResourcesVpcConfig"])
}

fn eks_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match vpc_config(r).and_then(|v| v.path(&["endpoint_public_access"])) {
        Some(n) if n.truth() == Tri::No => vec![],
        Some(n) => hit(
            n.line,
            format!("the API endpoint is public ({})", n.describe()),
        ),
        None => hit(
            vpc_config(r).map(|v| v.line).unwrap_or(r.line),
            "`endpoint_public_access` defaults to true; the cluster API is public",
        ),
    }
}

fn eks_002(r: &Resource, _: &Index) -> Vec<Hit> {
    // Terraform `enabled_cluster_log_types`; CloudFormation
    // `Logging.ClusterLogging.EnabledTypes[].Type`.
    let cfn = r.body.path(&["Logging", "ClusterLogging", "EnabledTypes"]);
    if strings(r.get("enabled_cluster_log_types"))
        .iter()
        .chain(strings(cfn).iter())
        .any(|s| s == "audit")
    {
        vec![]
    } else {
        hit(
            r.get("enabled_cluster_log_types")
                .map(|n| n.line)
                .unwrap_or(r.line),
            "EKS audit logs are not enabled",
        )
    }
}

fn eks_003(r: &Resource, _: &Index) -> Vec<Hit> {
    let enc = r.get("encryption_config");
    let ok = enc.is_some_and(|e| {
        strings(e.get("resources")).iter().any(|s| s == "secrets")
            && e.path(&["provider", "key_arn"])
                .is_some_and(|k| !matches!(k.val, crate::model::Val::Null))
    });
    if ok {
        vec![]
    } else {
        hit(
            enc.map(|e: &Node| e.line).unwrap_or(r.line),
            "Kubernetes secrets are not envelope-encrypted with a KMS key",
        )
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-EKS-001", title: "EKS cluster endpoint is private", severity: Severity::High, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: EKS, formats: TF_CFN,
            expected: "vpc_config { endpoint_public_access = false }", remediation: "vpc_config {\n  subnet_ids              = aws_subnet.private[*].id\n  endpoint_private_access = true\n  endpoint_public_access  = false\n}",
            sources: &["seed 002: Amazon EKS (private cluster)", "Prowler: eks_cluster_not_publicly_accessible"], kind: Kind::Resource(eks_001) },
        Rule { id: "HIPPO-AWS-EKS-002", title: "EKS audit logging is enabled", severity: Severity::Medium, hipaa: &["164.312(b)"], types: EKS, formats: TF_CFN,
            expected: "enabled_cluster_log_types includes \"audit\"", remediation: "enabled_cluster_log_types = [\"api\", \"audit\", \"authenticator\"]",
            sources: &["seed 002: EKS Audit Logs", "Prowler: eks_control_plane_logging_all_types_enabled"], kind: Kind::Resource(eks_002) },
        Rule { id: "HIPPO-AWS-EKS-003", title: "EKS secrets are encrypted with KMS", severity: Severity::High, hipaa: &["164.312(a)(2)(iv)"], types: EKS, formats: TF_CFN,
            expected: "encryption_config { resources = [\"secrets\"] provider { key_arn = <CMK> } }", remediation: "encryption_config {\n  resources = [\"secrets\"]\n  provider { key_arn = aws_kms_key.eks.arn }\n}",
            sources: &["seed 002: KMS-encrypted secrets", "Prowler: eks_cluster_kms_cmk_encryption_in_secrets_enabled"], kind: Kind::Resource(eks_003) },
    ]
}
