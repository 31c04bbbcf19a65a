//! Other data stores and compute storage: EBS, EC2, DynamoDB, EFS, ElastiCache, SNS,
//! OpenSearch, Redshift.

use super::helpers::*;
use super::{defaults, Hit, Index, Kind, Rule, Severity, TF, TF_CFN};
use crate::model::{Resource, Tri};

const E: &str = "164.312(a)(2)(iv)";

fn ebs_001(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["encrypted"], false)
}
fn ebs_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_key_id"], idx, "the volume")
}
fn ebs_003(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("enabled") {
        Some(n) if n.truth() != Tri::Yes => hit(n.line, "EBS encryption by default is disabled"),
        _ => vec![],
    }
}
fn ec2_001(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for k in ["root_block_device", "ebs_block_device"] {
        for d in r.get(k).map(|d| d.items()).unwrap_or_default() {
            out.extend(require_true_in(d, d.line, &["encrypted"], false));
        }
    }
    // CloudFormation: `BlockDeviceMappings[].Ebs.Encrypted`; the root volume is one of the
    // mappings (by its device name), so at least one mapping must exist.
    let mappings = r.get("BlockDeviceMappings");
    for m in mappings.map(|m| m.items()).unwrap_or_default() {
        if let Some(ebs) = m.get("Ebs") {
            out.extend(require_true_in(ebs, ebs.line, &["encrypted"], false));
        }
    }
    if r.get("root_block_device").is_none() && mappings.is_none() {
        out.extend(hit(
            r.line,
            "no root_block_device (BlockDeviceMappings) with encrypted = true",
        ));
    }
    out
}
fn ec2_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    // CloudFormation sets metadata options in a launch template (`LaunchTemplateData`); an
    // `AWS::EC2::Instance` gets them only through the template it launches from, and so does
    // a Terraform `aws_instance` with a `launch_template` block and no `metadata_options`.
    let body = r.get("LaunchTemplateData").unwrap_or(&r.body);
    if body.get("metadata_options").is_none() {
        let template = r
            .get("launch_template")
            .and_then(|l| l.get_any(&["id", "LaunchTemplateId", "name", "LaunchTemplateName"]));
        if let Some(lt) = template {
            let templates = idx.resolve(lt, "aws_launch_template");
            return match templates.first() {
                Some(t) => ec2_002(t, idx)
                    .into_iter()
                    .map(|h| Hit { line: lt.line, ..h })
                    .collect(),
                None => hit(
                    lt.line,
                    unresolved_block(&format!(
                        "the metadata options of launch template {}, which is not in the scan,",
                        lt.describe()
                    )),
                ),
            };
        }
    }
    match body.path(&["metadata_options", "http_tokens"]) {
        Some(n) if n.as_str() == Some("required") => vec![],
        Some(n) => hit(
            n.line,
            format!("`http_tokens` is {}; IMDSv2 must be required", n.describe()),
        ),
        None => hit(
            r.line,
            "IMDSv2 is not required (metadata_options.http_tokens)",
        ),
    }
}
fn ddb_001(r: &Resource, _: &Index) -> Vec<Hit> {
    let setting = r
        .body
        .path(&["point_in_time_recovery", "enabled"])
        .or_else(|| {
            r.body.path(&[
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled",
            ])
        });
    match setting {
        Some(n) if n.truth() == Tri::Yes => vec![],
        Some(n) => hit(
            n.line,
            format!("point-in-time recovery `enabled` is {}", n.describe()),
        ),
        None => hit(r.line, "point-in-time recovery is not enabled"),
    }
}
fn ddb_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    match r.get_any(&["server_side_encryption", "SSESpecification"]) {
        Some(s) if s.get_any(&["enabled", "SSEEnabled"]).map(|e| e.truth()) == Some(Tri::Yes) => {
            match key_kind(s.get_any(&["kms_key_arn", "KMSMasterKeyId"]), idx) {
                KeyKind::CustomerManaged => vec![],
                _ => hit(
                    s.line,
                    "table uses the AWS-managed key; set kms_key_arn to a customer-managed key",
                ),
            }
        }
        Some(s) => hit(
            s.line,
            "server-side encryption with a KMS key is not enabled",
        ),
        None => hit(
            r.line,
            "table uses the AWS-owned key; no server_side_encryption with a customer-managed key",
        ),
    }
}
fn efs_001(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["encrypted"], false)
}
fn elc_001(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(
        r,
        &["at_rest_encryption_enabled"],
        defaults::elasticache_at_rest_by_default(r),
    )
}
fn elc_004(r: &Resource, idx: &Index) -> Vec<Hit> {
    // Without encryption at rest there is no key to judge; HIPPO-AWS-ELC-001 reports that.
    let at_rest = match r.get("at_rest_encryption_enabled") {
        Some(n) => n.truth() == Tri::Yes,
        None => defaults::elasticache_at_rest_by_default(r),
    };
    if !at_rest {
        return vec![];
    }
    require_cmk(r, &["kms_key_id"], idx, "the cache's data at rest")
}
fn elc_002(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["transit_encryption_enabled"], false)
}
fn elc_003(r: &Resource, _: &Index) -> Vec<Hit> {
    require_min(r, &["snapshot_retention_limit"], 1.0, Some(0.0))
}
fn sns_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_master_key_id"], idx, "the topic")
}
fn os_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["encrypt_at_rest", "EncryptionAtRestOptions"]) {
        Some(e) => require_true_in(e, e.line, &["enabled"], false),
        None => hit(r.line, "encryption at rest is not enabled"),
    }
}
fn os_002(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = match r.get_any(&["node_to_node_encryption", "NodeToNodeEncryptionOptions"]) {
        Some(e) => require_true_in(e, e.line, &["enabled"], false),
        None => hit(r.line, "node-to-node encryption is not enabled"),
    };
    match r.get("domain_endpoint_options") {
        Some(d) => out.extend(require_true_in(
            d,
            d.line,
            &["enforce_https"],
            defaults::opensearch_enforce_https_by_default(r.format),
        )),
        None => out.extend(hit(r.line, "HTTPS is not enforced on the domain endpoint")),
    }
    out
}
fn rs_001(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["encrypted"], false)
}
fn rs_002(r: &Resource, _: &Index) -> Vec<Hit> {
    require_not_true(r, &["publicly_accessible"])
}

macro_rules! rule {
    ($id:expr, $title:expr, $sev:ident, $hipaa:expr, $types:expr, $fmts:expr, $exp:expr, $rem:expr, $src:expr, $f:ident) => {
        Rule {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            hipaa: $hipaa,
            types: $types,
            formats: $fmts,
            expected: $exp,
            remediation: $rem,
            sources: $src,
            kind: Kind::Resource($f),
        }
    };
}
pub(crate) use rule;

pub fn rules() -> Vec<Rule> {
    let os: &[&str] = &["aws_opensearch_domain", "aws_elasticsearch_domain"];
    vec![
        rule!("HIPPO-AWS-EBS-001", "EBS volumes are encrypted", High, &[E], &["aws_ebs_volume"], TF_CFN, "encrypted = true", "encrypted  = true\nkms_key_id = aws_kms_key.ebs.arn",
            &["seed 000: Enable KMS encryption for RDS, S3, EBS", "AWS Config: encrypted-volumes", "Prowler: ec2_ebs_volume_encryption"], ebs_001),
        rule!("HIPPO-AWS-EBS-002", "EBS volumes use a customer-managed KMS key", Medium, &[E], &["aws_ebs_volume"], TF_CFN, "kms_key_id names a customer-managed KMS key", "kms_key_id = aws_kms_key.ebs.arn",
            &["seed 001: alias/ebs-encryption key; separate keys per service"], ebs_002),
        rule!("HIPPO-AWS-EBS-003", "EBS encryption by default is not disabled", High, &[E], &["aws_ebs_encryption_by_default"], TF, "enabled = true", "resource \"aws_ebs_encryption_by_default\" \"on\" {\n  enabled = true\n}",
            &["AWS Config: ec2-ebs-encryption-by-default", "Prowler: ec2_ebs_default_encryption"], ebs_003),
        rule!("HIPPO-AWS-EC2-001", "EC2 instance block devices are encrypted", High, &[E], &["aws_instance"], TF_CFN, "root_block_device and ebs_block_device have encrypted = true", "root_block_device {\n  encrypted = true\n}",
            &["seed 004: Enforce encryption at rest for volumes", "AWS Config: encrypted-volumes"], ec2_001),
        rule!("HIPPO-AWS-EC2-002", "EC2 instances require IMDSv2", Medium, &["164.312(a)(1)"], &["aws_instance", "aws_launch_template"], TF_CFN, "metadata_options { http_tokens = \"required\" }", "metadata_options {\n  http_endpoint = \"enabled\"\n  http_tokens   = \"required\"\n}",
            &["AWS Config: ec2-imdsv2-check", "Prowler: ec2_instance_imdsv2_enabled"], ec2_002),
        rule!("HIPPO-AWS-DDB-001", "DynamoDB point-in-time recovery is enabled", Medium, &["164.308(a)(7)(ii)(A)"], &["aws_dynamodb_table"], TF_CFN, "point_in_time_recovery { enabled = true }", "point_in_time_recovery {\n  enabled = true\n}",
            &["AWS Config: dynamodb-pitr-enabled", "Prowler: dynamodb_tables_pitr_enabled"], ddb_001),
        rule!("HIPPO-AWS-DDB-002", "DynamoDB uses a customer-managed KMS key", Medium, &[E], &["aws_dynamodb_table"], TF_CFN, "server_side_encryption { enabled = true, kms_key_arn = <CMK> }", "server_side_encryption {\n  enabled     = true\n  kms_key_arn = aws_kms_key.ddb.arn\n}",
            &["AWS Config: dynamodb-table-encrypted-kms", "Prowler: dynamodb_tables_kms_cmk_encryption_enabled"], ddb_002),
        rule!("HIPPO-AWS-EFS-001", "EFS file systems are encrypted", High, &[E], &["aws_efs_file_system"], TF_CFN, "encrypted = true", "encrypted  = true\nkms_key_id = aws_kms_key.efs.arn",
            &["AWS Config: efs-encrypted-check", "Prowler: efs_encryption_at_rest_enabled"], efs_001),
        rule!("HIPPO-AWS-ELC-001", "ElastiCache encrypts data at rest", High, &[E], &["aws_elasticache_replication_group"], TF_CFN, "at_rest_encryption_enabled = true", "at_rest_encryption_enabled = true",
            &["seed 001: ElastiCache in the data subnet", "Prowler: elasticache_redis_cluster_rest_encryption_enabled"], elc_001),
        rule!("HIPPO-AWS-ELC-002", "ElastiCache encrypts data in transit", High, &["164.312(e)(1)"], &["aws_elasticache_replication_group"], TF_CFN, "transit_encryption_enabled = true", "transit_encryption_enabled = true",
            &["seed 000: Encryption in transit (TLS 1.2+)", "Prowler: elasticache_redis_cluster_in_transit_encryption_enabled"], elc_002),
        rule!("HIPPO-AWS-ELC-003", "ElastiCache automatic backups are enabled", Low, &["164.308(a)(7)(ii)(A)"], &["aws_elasticache_replication_group"], TF_CFN, "snapshot_retention_limit >= 1", "snapshot_retention_limit = 7",
            &["AWS Config: elasticache-redis-cluster-automatic-backup-check", "Prowler: elasticache_redis_cluster_backup_enabled"], elc_003),
        rule!("HIPPO-AWS-ELC-004", "ElastiCache encrypts data at rest with a customer-managed KMS key", Medium, &[E], &["aws_elasticache_replication_group"], TF_CFN, "kms_key_id names a customer-managed KMS key when at-rest encryption is on", "at_rest_encryption_enabled = true\nkms_key_id                 = aws_kms_key.cache.arn",
            &["seed 001: separate customer-managed keys per service", "Checkov: CKV_AWS_191"], elc_004),
        rule!("HIPPO-AWS-SNS-001", "SNS topics are encrypted with a customer-managed key", Low, &[E], &["aws_sns_topic"], TF_CFN, "kms_master_key_id names a customer-managed KMS key", "kms_master_key_id = aws_kms_key.sns.arn",
            &["seed 002: Alerts via SNS", "AWS Config: sns-encrypted-kms", "Prowler: sns_topics_kms_encryption_at_rest_enabled"], sns_001),
        rule!("HIPPO-AWS-OS-001", "OpenSearch domains encrypt data at rest", High, &[E], os, TF_CFN, "encrypt_at_rest { enabled = true }", "encrypt_at_rest {\n  enabled = true\n}",
            &["AWS Config: elasticsearch-encrypted-at-rest", "Prowler: opensearch_service_domains_encryption_at_rest_enabled"], os_001),
        rule!("HIPPO-AWS-OS-002", "OpenSearch domains encrypt node-to-node traffic and enforce HTTPS", High, &["164.312(e)(1)"], os, TF_CFN, "node_to_node_encryption { enabled = true } and domain_endpoint_options { enforce_https = true }", "node_to_node_encryption {\n  enabled = true\n}\ndomain_endpoint_options {\n  enforce_https       = true\n  tls_security_policy = \"Policy-Min-TLS-1-2-2019-07\"\n}",
            &["AWS Config: elasticsearch-node-to-node-encryption-check", "Prowler: opensearch_service_domains_node_to_node_encryption_enabled, opensearch_service_domains_https_communications_enforced"], os_002),
        rule!("HIPPO-AWS-RS-001", "Redshift clusters are encrypted", High, &[E], &["aws_redshift_cluster"], TF_CFN, "encrypted = true", "encrypted  = true\nkms_key_id = aws_kms_key.redshift.arn",
            &["AWS Config: redshift-cluster-configuration-check", "Prowler: redshift_cluster_encrypted_at_rest"], rs_001),
        rule!("HIPPO-AWS-RS-002", "Redshift clusters are not publicly accessible", Critical, &["164.312(a)(1)"], &["aws_redshift_cluster"], TF_CFN, "publicly_accessible = false", "publicly_accessible = false",
            &["AWS Config: redshift-cluster-public-access-check", "Prowler: redshift_cluster_public_access"], rs_002),
    ]
}
