//! CloudWatch Logs rules: six-year retention and KMS encryption.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::Resource;

/// Six years in days (AWS's 2192-day retention option).
pub const SIX_YEARS_DAYS: f64 = 2192.0;

fn cw_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["retention_in_days", "RetentionInDays"]) {
        None => vec![],
        Some(n) => match n.as_num() {
            Some(0.0) => vec![],
            Some(d) if d >= SIX_YEARS_DAYS => vec![],
            Some(d) => hit(n.line, format!("retention is {d} days; HIPAA documentation retention needs at least 2192 days (6 years)")),
            None => hit(n.line, unknown_msg("retention_in_days", n)),
        },
    }
}

fn cw_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_key_id"], idx, "the log group")
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule {
            id: "HIPPO-AWS-CW-001",
            title: "CloudWatch log groups keep logs for 6 years",
            severity: Severity::Medium,
            hipaa: &["164.316(b)(2)(i)", "164.312(b)"],
            types: &["aws_cloudwatch_log_group"],
            formats: TF_CFN,
            expected: "retention_in_days >= 2192 (or 0 / unset = never expire)",
            remediation: "retention_in_days = 2192",
            sources: &[
                "seed 000: CloudWatch Logs retention >= 6 years",
                "AWS Config: cw-loggroup-retention-period-check",
                "Prowler: cloudwatch_log_group_retention_policy_specific_days_enabled",
            ],
            kind: Kind::Resource(cw_001),
        },
        Rule {
            id: "HIPPO-AWS-CW-002",
            title: "CloudWatch log groups are encrypted with a customer-managed key",
            severity: Severity::Medium,
            hipaa: &["164.312(a)(2)(iv)"],
            types: &["aws_cloudwatch_log_group"],
            formats: TF_CFN,
            expected: "kms_key_id names a customer-managed KMS key",
            remediation: "kms_key_id = aws_kms_key.logs.arn",
            sources: &[
                "AWS Config: cloudwatch-log-group-encrypted",
                "Prowler: cloudwatch_log_group_kms_encryption_enabled",
            ],
            kind: Kind::Resource(cw_002),
        },
    ]
}
