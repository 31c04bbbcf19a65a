//! Neptune graph database rules: encryption at rest with a customer-managed key, audit log
//! export, IAM authentication, backup retention and deletion protection.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::Resource;

const CLUSTER: &[&str] = &["aws_neptune_cluster"];

fn nep_001(r: &Resource, _: &Index) -> Vec<Hit> {
    // A read replica of another cluster inherits the source's encryption.
    if r.get("replication_source_identifier").is_some() {
        return vec![];
    }
    require_true(r, &["storage_encrypted"], false)
}

fn nep_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    // Terraform spells the key `kms_key_arn`, CloudFormation `KmsKeyId`.
    require_cmk(r, &["kms_key_arn", "kms_key_id"], idx, "the graph storage")
}

fn nep_003(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("enable_cloudwatch_logs_exports") {
        Some(n) if n.is_unknown() => hit(n.line, unknown_msg("enable_cloudwatch_logs_exports", n)),
        Some(n) if strings(Some(n)).iter().any(|l| l == "audit") => vec![],
        Some(n) => hit(
            n.line,
            "`enable_cloudwatch_logs_exports` does not include \"audit\"; queries are not logged",
        ),
        None => hit(
            r.line,
            "`enable_cloudwatch_logs_exports` is not set; the audit log is not exported",
        ),
    }
}

fn nep_004(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(
        r,
        &["iam_database_authentication_enabled", "IamAuthEnabled"],
        false,
    )
}

fn nep_005(r: &Resource, _: &Index) -> Vec<Hit> {
    require_min(r, &["backup_retention_period"], 7.0, Some(1.0))
}

fn nep_006(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["deletion_protection"], false)
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!(
            "HIPPO-AWS-NEP-001",
            "Neptune clusters encrypt storage",
            High,
            &["164.312(a)(2)(iv)"],
            CLUSTER,
            TF_CFN,
            "storage_encrypted = true (StorageEncrypted: true)",
            "storage_encrypted = true\nkms_key_arn       = aws_kms_key.neptune.arn",
            &[
                "issue 16: Neptune without encryption at rest",
                "AWS Config: neptune-cluster-encrypted",
                "Prowler: neptune_cluster_storage_encrypted"
            ],
            nep_001
        ),
        rule!(
            "HIPPO-AWS-NEP-002",
            "Neptune clusters use a customer-managed KMS key",
            Medium,
            &["164.312(a)(2)(iv)"],
            CLUSTER,
            TF_CFN,
            "kms_key_arn (KmsKeyId) names a customer-managed KMS key",
            "kms_key_arn = aws_kms_key.neptune.arn",
            &["issue 16: Neptune without a CMK", "Checkov: CKV_AWS_347"],
            nep_002
        ),
        rule!(
            "HIPPO-AWS-NEP-003",
            "Neptune clusters export the audit log",
            Medium,
            &["164.312(b)"],
            CLUSTER,
            TF_CFN,
            "enable_cloudwatch_logs_exports includes \"audit\"",
            "enable_cloudwatch_logs_exports = [\"audit\"]",
            &[
                "issue 16: Neptune without audit log export",
                "AWS Config: neptune-cluster-cloudwatch-log-export-enabled",
                "Prowler: neptune_cluster_integration_cloudwatch_logs"
            ],
            nep_003
        ),
        rule!(
            "HIPPO-AWS-NEP-004",
            "Neptune clusters require IAM authentication",
            Medium,
            &["164.312(d)", "164.312(a)(1)"],
            CLUSTER,
            TF_CFN,
            "iam_database_authentication_enabled = true (IamAuthEnabled: true)",
            "iam_database_authentication_enabled = true",
            &[
                "issue 16: Neptune without IAM authentication",
                "AWS Config: neptune-cluster-iam-database-authentication",
                "Prowler: neptune_cluster_iam_authentication_enabled"
            ],
            nep_004
        ),
        rule!(
            "HIPPO-AWS-NEP-005",
            "Neptune clusters keep backups 7 days or more",
            Medium,
            &["164.308(a)(7)(ii)(A)"],
            CLUSTER,
            TF_CFN,
            "backup_retention_period >= 7 (the default is 1)",
            "backup_retention_period = 7",
            &[
                "issue 16: Neptune with short backup retention",
                "AWS Config: neptune-cluster-backup-retention-check",
                "Prowler: neptune_cluster_backup_enabled"
            ],
            nep_005
        ),
        rule!(
            "HIPPO-AWS-NEP-006",
            "Neptune clusters have deletion protection",
            Low,
            &["164.308(a)(7)(ii)(A)", "164.312(c)(1)"],
            CLUSTER,
            TF_CFN,
            "deletion_protection = true",
            "deletion_protection = true",
            &[
                "issue 16: Neptune without deletion protection",
                "AWS Config: neptune-cluster-deletion-protection-enabled",
                "Prowler: neptune_cluster_deletion_protection"
            ],
            nep_006
        ),
    ]
}
