//! AWS Backup rules: retention, vault encryption, cross-region copies.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource};

/// Rules of a backup plan: Terraform `rule` blocks, CloudFormation
/// `BackupPlan.BackupPlanRule`.
fn plan_rules(r: &Resource) -> Vec<&Node> {
    r.get("rule")
        .or_else(|| r.body.path(&["BackupPlan", "BackupPlanRule"]))
        .map(|x| x.items())
        .unwrap_or_default()
}

fn bak_001(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for rule in plan_rules(r) {
        let lifecycle = rule.get("lifecycle");
        if let Some(d) = lifecycle.and_then(|l| l.get_any(&["delete_after", "DeleteAfterDays"])) {
            match d.as_num() {
                Some(v) if v >= 30.0 => {}
                Some(v) => out.extend(hit(
                    d.line,
                    format!("recovery points are deleted after {v} days; keep at least 30"),
                )),
                None => out.extend(hit(d.line, unknown_msg("delete_after", d))),
            }
        }
    }
    out
}

fn bak_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(
        r,
        &["kms_key_arn", "EncryptionKeyArn"],
        idx,
        "the backup vault",
    )
}

fn bak_003(r: &Resource, _: &Index) -> Vec<Hit> {
    if plan_rules(r)
        .iter()
        .any(|x| x.get_any(&["copy_action", "CopyActions"]).is_some())
    {
        vec![]
    } else {
        hit(
            r.line,
            "no backup rule copies recovery points to another region",
        )
    }
}

fn bak_004(r: &Resource, idx: &Index) -> Vec<Hit> {
    // Terraform `resources`; CloudFormation `BackupSelection.Resources`.
    let covered = idx.candidates(r, &["arn"]).into_iter().any(|s| {
        s.rtype == "aws_backup_selection"
            && s.get("resources")
                .or_else(|| s.body.path(&["BackupSelection", "Resources"]))
                .is_some_and(|n| points_to(n, r, &["arn"]))
    });
    if covered {
        vec![]
    } else {
        hit(r.line, "no backup selection (aws_backup_selection, AWS::Backup::BackupSelection) includes this data store")
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule {
            id: "HIPPO-AWS-BAK-001",
            title: "Backup plans keep recovery points 30 days or more",
            severity: Severity::High,
            hipaa: &["164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"],
            types: &["aws_backup_plan"],
            formats: TF_CFN,
            expected: "lifecycle.delete_after >= 30 in every rule (or no expiry)",
            remediation: "lifecycle {\n  delete_after = 35\n}",
            sources: &[
                "seed 000: Backup policies configured and tested",
                "seed 002: Automated backups using AWS Backup",
                "AWS Config: backup-plan-min-frequency-and-min-retention-check",
                "Prowler: backup_plans_exist",
            ],
            kind: Kind::Resource(bak_001),
        },
        Rule {
            id: "HIPPO-AWS-BAK-002",
            title: "Backup vaults use a customer-managed KMS key",
            severity: Severity::Medium,
            hipaa: &["164.312(a)(2)(iv)"],
            types: &["aws_backup_vault"],
            formats: TF_CFN,
            expected: "kms_key_arn names a customer-managed KMS key",
            remediation: "kms_key_arn = aws_kms_key.backup.arn",
            sources: &[
                "AWS Config: backup-recovery-point-encrypted",
                "Prowler: backup_vaults_encrypted",
            ],
            kind: Kind::Resource(bak_002),
        },
        Rule {
            id: "HIPPO-AWS-BAK-003",
            title: "Backups are copied to another region",
            severity: Severity::Low,
            hipaa: &["164.308(a)(7)(ii)(B)"],
            types: &["aws_backup_plan"],
            formats: TF_CFN,
            expected: "A rule with copy_action to a vault in another region",
            remediation: "copy_action {\n  destination_vault_arn = aws_backup_vault.dr.arn\n}",
            sources: &["seed 002: AWS Backup - Cross-region DR"],
            kind: Kind::Resource(bak_003),
        },
        Rule {
            id: "HIPPO-AWS-BAK-004",
            title: "Data stores are covered by an AWS Backup plan",
            severity: Severity::Low,
            hipaa: &["164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)"],
            types: &["aws_db_instance", "aws_rds_cluster", "aws_efs_file_system", "aws_dynamodb_table", "aws_ebs_volume"],
            formats: TF_CFN,
            expected: "An aws_backup_selection lists the resource",
            remediation: "resource \"aws_backup_selection\" \"phi\" {\n  name         = \"phi\"\n  plan_id      = aws_backup_plan.main.id\n  iam_role_arn = aws_iam_role.backup.arn\n  resources    = [aws_db_instance.phi.arn]\n}",
            sources: &[
                "seed 002: Automated backups using AWS Backup",
                "AWS Config: rds-in-backup-plan, aurora-resources-protected-by-backup-plan, ebs-in-backup-plan, efs-in-backup-plan, dynamodb-in-backup-plan",
            ],
            kind: Kind::Resource(bak_004),
        },
    ]
}
