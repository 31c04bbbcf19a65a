//! Analytics data stores: OpenSearch placement, logging and access policy, Redshift logging
//! and snapshots, Kinesis stream encryption.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource};

fn os_003(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.body.path(&["vpc_options", "subnet_ids"]) {
        Some(s) if !s.items().is_empty() || !strings(Some(s)).is_empty() || s.is_unknown() => {
            vec![]
        }
        _ => hit(
            r.line,
            "the domain has a public endpoint (no vpc_options with subnets)",
        ),
    }
}

fn os_004(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut types = r
        .get("log_publishing_options")
        .map(|l| {
            l.items()
                .iter()
                .filter_map(|o| o.get("log_type").and_then(Node::as_str).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // CloudFormation keys `LogPublishingOptions` by log type, each with `Enabled`.
    if let Some(m) = r.get("LogPublishingOptions") {
        types.extend(
            m.entries()
                .iter()
                .filter(|(_, o)| o.get("Enabled").map(Node::truth) != Some(crate::model::Tri::No))
                .map(|(t, _)| t.clone()),
        );
    }
    if types
        .iter()
        .any(|t| t == "AUDIT_LOGS" || t == "INDEX_SLOW_LOGS" || t == "ES_APPLICATION_LOGS")
    {
        vec![]
    } else {
        hit(
            r.line,
            "no log_publishing_options send domain logs to CloudWatch Logs",
        )
    }
}

fn rs_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    // CloudFormation: `LoggingProperties` (a bucket or CloudWatch destination) turns it on.
    if r.body
        .path(&["logging", "enable"])
        .is_some_and(|n| n.truth() == crate::model::Tri::Yes)
        || r.get("LoggingProperties").is_some()
        || !referrers(
            idx,
            "aws_redshift_logging",
            &["cluster_identifier"],
            r,
            &["cluster_identifier"],
        )
        .is_empty()
    {
        return vec![];
    }
    hit(r.line, "audit logging is not enabled for the cluster")
}

fn rs_004(r: &Resource, _: &Index) -> Vec<Hit> {
    require_min(r, &["automated_snapshot_retention_period"], 1.0, Some(1.0))
}

fn kin_001(r: &Resource, _: &Index) -> Vec<Hit> {
    // Terraform `encryption_type`; CloudFormation `StreamEncryption { EncryptionType }`.
    let setting = r
        .get("encryption_type")
        .or_else(|| r.body.path(&["StreamEncryption", "EncryptionType"]));
    match setting {
        Some(n) if n.as_str() == Some("KMS") => vec![],
        Some(n) if n.is_unknown() => hit(n.line, unknown_msg("encryption_type", n)),
        _ => hit(
            setting.map(|n| n.line).unwrap_or(r.line),
            "the stream is not encrypted with KMS",
        ),
    }
}

/// True if a policy principal is everyone: `"*"`, `{"AWS": "*"}` or a list holding `"*"`.
fn anyone(principal: Option<&Node>) -> bool {
    strings(principal).iter().any(|p| p == "*")
}

fn os_005(r: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(p) = r.get("access_policies") else {
        return vec![];
    };
    let Some(stmts) = policy_statements(p, idx) else {
        return if p.is_unknown() {
            hit(p.line, unknown_msg("access_policies", p))
        } else {
            vec![]
        };
    };
    let open = stmts.iter().any(|s| {
        s.get("Effect").and_then(Node::as_str) == Some("Allow")
            && anyone(s.get("Principal"))
            && condition_keys(s).is_empty()
    });
    if open {
        hit(p.line, "the access policy allows any principal (\"*\") without a condition: anyone who reaches the endpoint can read and write the indices")
    } else {
        vec![]
    }
}

pub fn rules() -> Vec<Rule> {
    let os: &[&str] = &["aws_opensearch_domain", "aws_elasticsearch_domain"];
    let rs: &[&str] = &["aws_redshift_cluster"];
    let os_policy: &[&str] = &[
        "aws_opensearch_domain",
        "aws_elasticsearch_domain",
        "aws_opensearch_domain_policy",
        "aws_elasticsearch_domain_policy",
    ];
    vec![
        rule!("HIPPO-AWS-OS-003", "OpenSearch domains are deployed in a VPC", High, &["164.312(a)(1)", "164.312(e)(1)"], os, TF_CFN, "vpc_options { subnet_ids = [...] }", "vpc_options {\n  subnet_ids         = aws_subnet.data[*].id\n  security_group_ids = [aws_security_group.search.id]\n}",
            &["AWS Config: elasticsearch-in-vpc-only, opensearch-in-vpc-only"], os_003),
        rule!("HIPPO-AWS-OS-004", "OpenSearch domains publish logs to CloudWatch", Medium, &["164.312(b)"], os, TF_CFN, "log_publishing_options for AUDIT_LOGS or application logs", "log_publishing_options {\n  log_type                 = \"AUDIT_LOGS\"\n  cloudwatch_log_group_arn = aws_cloudwatch_log_group.search.arn\n}",
            &["AWS Config: elasticsearch-logs-to-cloudwatch, opensearch-logs-to-cloudwatch"], os_004),
        rule!("HIPPO-AWS-OS-005", "OpenSearch domain access policies are not open to everyone", Critical, &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"], os_policy, TF_CFN, "No Allow statement with Principal \"*\" unless a Condition (source IP, VPC, account) constrains it", "access_policies = jsonencode({\n  Statement = [{\n    Effect    = \"Allow\"\n    Principal = { AWS = aws_iam_role.search_app.arn }\n    Action    = \"es:ESHttp*\"\n    Resource  = \"${aws_opensearch_domain.search.arn}/*\"\n  }]\n})",
            &["issue 16: OpenSearch/Elasticsearch domain policies open to any principal", "Checkov: CKV_AWS_248", "Prowler: opensearch_service_domains_not_publicly_accessible"], os_005),
        rule!("HIPPO-AWS-RS-003", "Redshift audit logging is enabled", Medium, &["164.312(b)"], rs, TF_CFN, "logging { enable = true } or an aws_redshift_logging resource", "resource \"aws_redshift_logging\" \"dw\" {\n  cluster_identifier   = aws_redshift_cluster.dw.cluster_identifier\n  log_destination_type = \"cloudwatch\"\n}",
            &["AWS Config: redshift-cluster-configuration-check (loggingEnabled)", "Prowler: redshift_cluster_audit_logging"], rs_003),
        rule!("HIPPO-AWS-RS-004", "Redshift automated snapshots are kept", Medium, &["164.308(a)(7)(ii)(A)"], rs, TF_CFN, "automated_snapshot_retention_period >= 1", "automated_snapshot_retention_period = 35",
            &["AWS Config: redshift-backup-enabled", "Prowler: redshift_cluster_automated_snapshot"], rs_004),
        rule!("HIPPO-AWS-KIN-001", "Kinesis streams are encrypted with KMS", High, &["164.312(a)(2)(iv)"], &["aws_kinesis_stream"], TF_CFN, "encryption_type = \"KMS\"", "encryption_type = \"KMS\"\nkms_key_id      = aws_kms_key.stream.arn",
            &["AWS Config: kinesis-stream-encrypted", "Prowler: kinesis_stream_encrypted_at_rest"], kin_001),
    ]
}
