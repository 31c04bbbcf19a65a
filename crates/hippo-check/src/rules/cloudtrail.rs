//! CloudTrail rules: all regions, log file validation, encryption, CloudWatch, data events.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Resource, Tri};

const TRAIL: &[&str] = &["aws_cloudtrail"];

fn ct_001(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["is_multi_region_trail"], false)
}
fn ct_002(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["enable_log_file_validation"], false)
}
fn ct_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_key_id"], idx, "the trail's log files")
}
fn ct_004(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["cloud_watch_logs_group_arn", "CloudWatchLogsLogGroupArn"]) {
        Some(_) => vec![],
        None => hit(r.line, "the trail does not deliver to CloudWatch Logs"),
    }
}
fn ct_005(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for k in [
        "enable_logging",
        "IsLogging",
        "include_global_service_events",
    ] {
        if let Some(n) = r.get(k) {
            if n.truth() != Tri::Yes {
                out.extend(hit(n.line, format!("`{k}` is {}", n.describe())));
            }
        }
    }
    out
}
fn ct_006(r: &Resource, _: &Index) -> Vec<Hit> {
    let all = strings(r.get_any(&["event_selector", "EventSelectors"]))
        .into_iter()
        .chain(strings(r.get_any(&[
            "advanced_event_selector",
            "AdvancedEventSelectors",
        ])))
        .collect::<Vec<_>>();
    if all.iter().any(|s| s == "AWS::S3::Object") {
        vec![]
    } else {
        hit(
            r.line,
            "no S3 object-level (data event) logging is configured",
        )
    }
}

pub fn rules() -> Vec<Rule> {
    const AUDIT: &str = "164.312(b)";
    vec![
        Rule { id: "HIPPO-AWS-CT-001", title: "CloudTrail trail covers all regions", severity: Severity::High, hipaa: &[AUDIT, "164.308(a)(1)(ii)(D)"], types: TRAIL, formats: TF_CFN,
            expected: "is_multi_region_trail = true", remediation: "is_multi_region_trail = true",
            sources: &["seed 000: CloudTrail enabled in all regions", "AWS Config: multi-region-cloudtrail-enabled, cloudtrail-enabled", "Prowler: cloudtrail_multi_region_enabled"], kind: Kind::Resource(ct_001) },
        Rule { id: "HIPPO-AWS-CT-002", title: "CloudTrail log file validation is enabled", severity: Severity::Medium, hipaa: &[AUDIT, "164.312(c)(1)", "164.312(c)(2)"], types: TRAIL, formats: TF_CFN,
            expected: "enable_log_file_validation = true", remediation: "enable_log_file_validation = true",
            sources: &["seed 003: CloudTrail with log file validation", "AWS Config: cloud-trail-log-file-validation-enabled", "Prowler: cloudtrail_log_file_validation_enabled"], kind: Kind::Resource(ct_002) },
        Rule { id: "HIPPO-AWS-CT-003", title: "CloudTrail logs are encrypted with a customer-managed key", severity: Severity::Medium, hipaa: &["164.312(a)(2)(iv)", AUDIT], types: TRAIL, formats: TF_CFN,
            expected: "kms_key_id names a customer-managed KMS key", remediation: "kms_key_id = aws_kms_key.cloudtrail.arn",
            sources: &["AWS Config: cloud-trail-encryption-enabled", "Prowler: cloudtrail_kms_encryption_enabled"], kind: Kind::Resource(ct_003) },
        Rule { id: "HIPPO-AWS-CT-004", title: "CloudTrail delivers to CloudWatch Logs", severity: Severity::Medium, hipaa: &[AUDIT, "164.308(a)(1)(ii)(D)"], types: TRAIL, formats: TF_CFN,
            expected: "cloud_watch_logs_group_arn and cloud_watch_logs_role_arn set", remediation: "cloud_watch_logs_group_arn = \"${aws_cloudwatch_log_group.trail.arn}:*\"\ncloud_watch_logs_role_arn  = aws_iam_role.trail.arn",
            sources: &["seed 001: Centralized log management", "AWS Config: cloudtrail-cloudwatch-logs-enabled", "Prowler: cloudtrail_cloudwatch_logging_enabled"], kind: Kind::Resource(ct_004) },
        Rule { id: "HIPPO-AWS-CT-005", title: "CloudTrail logging and global service events are not disabled", severity: Severity::High, hipaa: &[AUDIT], types: TRAIL, formats: TF_CFN,
            expected: "enable_logging and include_global_service_events not false", remediation: "enable_logging                = true\ninclude_global_service_events = true",
            sources: &["seed 000: CloudTrail enabled", "AWS Config: cloudtrail-enabled", "Prowler: cloudtrail_multi_region_enabled_logging_management_events"], kind: Kind::Resource(ct_005) },
        Rule { id: "HIPPO-AWS-CT-006", title: "CloudTrail records S3 object-level data events", severity: Severity::Medium, hipaa: &[AUDIT], types: TRAIL, formats: TF_CFN,
            expected: "An event selector for AWS::S3::Object data events", remediation: "event_selector {\n  read_write_type           = \"All\"\n  include_management_events = true\n  data_resource {\n    type   = \"AWS::S3::Object\"\n    values = [\"arn:aws:s3\"]\n  }\n}",
            sources: &["seed 001: CloudTrail logging key usage / object-level access forensics", "AWS Config: cloudtrail-s3-dataevents-enabled", "Prowler: cloudtrail_s3_dataevents_read_enabled, cloudtrail_s3_dataevents_write_enabled"], kind: Kind::Resource(ct_006) },
    ]
}
