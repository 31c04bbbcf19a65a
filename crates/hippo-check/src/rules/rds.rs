//! RDS rules: encryption with customer-managed keys (storage and Performance Insights),
//! network exposure, backups, availability, logging and SSL enforcement through parameter
//! groups, for instances, Aurora clusters and Aurora instances.

use super::helpers::*;
use super::{defaults, Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource, Tri};

const DB: &[&str] = &["aws_db_instance", "aws_rds_cluster"];
const INSTANCE: &[&str] = &["aws_db_instance"];
/// Instances, Aurora instances included (`aws_rds_cluster_instance`; in CloudFormation a
/// DB instance with `DBClusterIdentifier`), for the settings an Aurora instance keeps itself:
/// storage, backups, logs and deletion protection belong to its cluster.
const ANY_INSTANCE: &[&str] = &["aws_db_instance", "aws_rds_cluster_instance"];
/// Everything that can run Performance Insights.
const PI: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
];
const PG: &[&str] = &["aws_db_parameter_group", "aws_rds_cluster_parameter_group"];

fn rds_001(r: &Resource, _: &Index) -> Vec<Hit> {
    if r.get_any(&["replicate_source_db", "SourceDBInstanceIdentifier"])
        .is_some()
    {
        return vec![];
    }
    require_true(
        r,
        &["storage_encrypted"],
        defaults::rds_storage_encrypted_by_default(r),
    )
}

fn rds_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_key_id"], idx, "the database storage")
}

fn rds_003(r: &Resource, _: &Index) -> Vec<Hit> {
    require_not_true(r, &["publicly_accessible"])
}

fn rds_004(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["multi_az"], false)
}

fn rds_005(r: &Resource, _: &Index) -> Vec<Hit> {
    require_min(r, &["backup_retention_period"], 30.0, Some(1.0))
}

fn rds_006(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&[
        "enabled_cloudwatch_logs_exports",
        "EnableCloudwatchLogsExports",
    ]) {
        Some(n) if n.is_unknown() => hit(n.line, unknown_msg("enabled_cloudwatch_logs_exports", n)),
        Some(n) if !strings(Some(n)).is_empty() => vec![],
        Some(n) => hit(n.line, "no database logs are exported to CloudWatch Logs"),
        None => hit(
            r.line,
            "`enabled_cloudwatch_logs_exports` is not set; database logs are not exported",
        ),
    }
}

fn rds_007(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(r, &["deletion_protection"], false)
}

/// Parameter name/value pairs of a parameter group (Terraform blocks or CFN map).
fn params(r: &Resource) -> Vec<(String, Node)> {
    let mut out = Vec::new();
    for p in r.get("parameter").map(|p| p.items()).unwrap_or_default() {
        if let (Some(n), Some(v)) = (p.get("name").and_then(Node::as_str), p.get("value")) {
            out.push((n.to_string(), v.clone()));
        }
    }
    if let Some(m) = r.get("Parameters") {
        out.extend(m.entries().iter().cloned());
    }
    out
}

fn family(r: &Resource) -> String {
    r.get_any(&["family", "Family"])
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn param<'a>(ps: &'a [(String, Node)], name: &str) -> Option<&'a Node> {
    ps.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn rds_008(r: &Resource, _: &Index) -> Vec<Hit> {
    if PG.contains(&r.rtype.as_str()) {
        let fam = family(r);
        let ps = params(r);
        let (name, want) = if fam.contains("postgres") {
            ("rds.force_ssl", "1")
        } else if fam.contains("mysql") || fam.contains("mariadb") {
            ("require_secure_transport", "1")
        } else {
            return vec![];
        };
        return match param(&ps, name) {
            Some(v) if v.is_unknown() => hit(v.line, unknown_msg(name, v)),
            Some(v)
                if v.as_str()
                    .map(|s| s == want || s.eq_ignore_ascii_case("on"))
                    .unwrap_or(false)
                    || v.as_num() == Some(1.0) =>
            {
                vec![]
            }
            Some(v) => hit(
                v.line,
                format!("`{name}` is {}; it must be {want}", v.describe()),
            ),
            None => hit(
                r.line,
                format!("parameter group does not set `{name} = {want}`"),
            ),
        };
    }
    let engine = r
        .get_any(&["engine", "Engine"])
        .and_then(Node::as_str)
        .unwrap_or("");
    if !(engine.contains("postgres") || engine.contains("mysql") || engine.contains("mariadb")) {
        return vec![];
    }
    match r.get_any(&["parameter_group_name", "db_cluster_parameter_group_name", "DBParameterGroupName", "DBClusterParameterGroupName"]) {
        Some(_) => vec![],
        None => hit(r.line, "uses the engine's default parameter group; SSL enforcement (rds.force_ssl / require_secure_transport) cannot be verified"),
    }
}

fn rds_009(r: &Resource, _: &Index) -> Vec<Hit> {
    if !PG.contains(&r.rtype.as_str()) {
        let engine = r.get_any(&["engine"]).and_then(Node::as_str).unwrap_or("");
        let custom = r.get_any(&[
            "parameter_group_name",
            "db_cluster_parameter_group_name",
            "DBParameterGroupName",
            "DBClusterParameterGroupName",
        ]);
        return if engine.contains("postgres") && custom.is_none() {
            hit(r.line, "uses the default parameter group: pgaudit and connection logging are not configured")
        } else {
            vec![]
        };
    }
    if !family(r).contains("postgres") {
        return vec![];
    }
    let ps = params(r);
    let mut out = Vec::new();
    match param(&ps, "shared_preload_libraries").and_then(Node::as_str) {
        Some(s) if s.contains("pgaudit") => {}
        _ => out.extend(hit(
            r.line,
            "`shared_preload_libraries` does not load pgaudit",
        )),
    }
    for p in ["log_connections", "log_disconnections"] {
        match param(&ps, p) {
            Some(v) if v.truth() == Tri::Yes => {}
            Some(v) => out.extend(hit(v.line, format!("`{p}` is {}", v.describe()))),
            None => out.extend(hit(r.line, format!("`{p}` is not enabled"))),
        }
    }
    out
}

fn rds_013(r: &Resource, _: &Index) -> Vec<Hit> {
    require_true(
        r,
        &[
            "iam_database_authentication_enabled",
            "EnableIAMDatabaseAuthentication",
        ],
        false,
    )
}

fn rds_010(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(n) = r.get("auto_minor_version_upgrade") else {
        return if defaults::RDS_AUTO_MINOR_VERSION_UPGRADE {
            vec![]
        } else {
            hit(r.line, "`auto_minor_version_upgrade` is not set")
        };
    };
    match n.truth() {
        Tri::No => hit(
            n.line,
            "automatic minor version upgrades (security patches) are disabled",
        ),
        Tri::Yes => vec![],
        Tri::Unknown => hit(n.line, unknown_msg("auto_minor_version_upgrade", n)),
    }
}

fn rds_011(r: &Resource, _: &Index) -> Vec<Hit> {
    require_min(r, &["monitoring_interval"], 1.0, Some(0.0))
}

fn rds_014(r: &Resource, idx: &Index) -> Vec<Hit> {
    // Terraform `performance_insights_enabled`; CloudFormation `EnablePerformanceInsights`
    // (instances) and `PerformanceInsightsEnabled` (clusters). Off by default.
    match r.get_any(&["performance_insights_enabled", "EnablePerformanceInsights"]) {
        Some(n) if n.truth() == Tri::Yes => require_cmk(
            r,
            &["performance_insights_kms_key_id"],
            idx,
            "Performance Insights (which keeps SQL text, PHI literals included)",
        ),
        Some(n) if n.truth() == Tri::Unknown => {
            hit(n.line, unknown_msg("performance_insights_enabled", n))
        }
        _ => vec![],
    }
}

fn rds_012(r: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(group) = r.get("db_subnet_group_name") else {
        return vec![];
    };
    for g in idx.resolve(group, "aws_db_subnet_group") {
        let Some(ids) = g.get("subnet_ids") else {
            continue;
        };
        for subnet in idx.resolve(ids, "aws_subnet") {
            if subnet.get("map_public_ip_on_launch").map(|m| m.truth()) == Some(Tri::Yes) {
                return hit(
                    group.line,
                    format!("the DB subnet group includes public subnet {}", subnet.name),
                );
            }
        }
    }
    vec![]
}

const E: &str = "164.312(a)(2)(iv)";

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-RDS-001", title: "RDS storage is encrypted at rest", severity: Severity::Critical, hipaa: &[E], types: DB, formats: TF_CFN,
            expected: "storage_encrypted = true", remediation: "resource \"aws_db_instance\" \"phi\" {\n  storage_encrypted = true\n  kms_key_id        = aws_kms_key.rds.arn\n}",
            sources: &["seed 000/001: RDS encryption enabled with KMS", "AWS Config: rds-storage-encrypted", "Prowler: rds_instance_storage_encrypted"], kind: Kind::Resource(rds_001) },
        Rule { id: "HIPPO-AWS-RDS-002", title: "RDS uses a customer-managed KMS key", severity: Severity::High, hipaa: &[E], types: DB, formats: TF_CFN,
            expected: "kms_key_id names a customer-managed key (not alias/aws/rds, not unset)", remediation: "kms_key_id = aws_kms_key.rds.arn",
            sources: &["seed 001: --kms-key-id alias/rds-encryption; separate keys per service", "gap: Checkov has no CMK check for RDS instances"], kind: Kind::Resource(rds_002) },
        Rule { id: "HIPPO-AWS-RDS-003", title: "RDS instance is not publicly accessible", severity: Severity::Critical, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: ANY_INSTANCE, formats: TF_CFN,
            expected: "publicly_accessible = false (or unset)", remediation: "publicly_accessible = false",
            sources: &["seed 001: Not publicly accessible", "AWS Config: rds-instance-public-access-check", "Prowler: rds_instance_no_public_access"], kind: Kind::Resource(rds_003) },
        Rule { id: "HIPPO-AWS-RDS-004", title: "RDS instance is Multi-AZ", severity: Severity::Medium, hipaa: &["164.308(a)(7)(ii)(C)", "164.308(a)(7)(i)"], types: INSTANCE, formats: TF_CFN,
            expected: "multi_az = true", remediation: "multi_az = true",
            sources: &["seed 001: Multi-AZ enabled", "AWS Config: rds-multi-az-support", "Prowler: rds_instance_multi_az"], kind: Kind::Resource(rds_004) },
        Rule { id: "HIPPO-AWS-RDS-005", title: "RDS automated backups are kept 30 days or more", severity: Severity::High, hipaa: &["164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"], types: DB, formats: TF_CFN,
            expected: "backup_retention_period >= 30", remediation: "backup_retention_period = 35",
            sources: &["seed 001: Automated backups configured (30+ days)", "seed 002: 35-day retention", "AWS Config: db-instance-backup-enabled", "Prowler: rds_instance_backup_enabled"], kind: Kind::Resource(rds_005) },
        Rule { id: "HIPPO-AWS-RDS-006", title: "RDS logs are exported to CloudWatch Logs", severity: Severity::Medium, hipaa: &["164.312(b)"], types: DB, formats: TF_CFN,
            expected: "enabled_cloudwatch_logs_exports includes the engine log (e.g. postgresql)", remediation: "enabled_cloudwatch_logs_exports = [\"postgresql\", \"upgrade\"]",
            sources: &["seed 001: CloudWatch Logs enabled", "Prowler: rds_instance_integration_cloudwatch_logs"], kind: Kind::Resource(rds_006) },
        Rule { id: "HIPPO-AWS-RDS-007", title: "RDS deletion protection is enabled", severity: Severity::Medium, hipaa: &["164.308(a)(7)(ii)(A)", "164.312(c)(1)"], types: DB, formats: TF_CFN,
            expected: "deletion_protection = true", remediation: "deletion_protection = true",
            sources: &["seed 003: optional multi-AZ / deletion protection", "AWS Config: rds-instance-deletion-protection-enabled", "Prowler: rds_instance_deletion_protection"], kind: Kind::Resource(rds_007) },
        Rule { id: "HIPPO-AWS-RDS-008", title: "RDS enforces SSL/TLS connections", severity: Severity::High, hipaa: &["164.312(e)(1)", "164.312(e)(2)(ii)"], types: &["aws_db_instance", "aws_rds_cluster", "aws_db_parameter_group", "aws_rds_cluster_parameter_group"], formats: TF_CFN,
            expected: "A custom parameter group with rds.force_ssl = 1 (PostgreSQL) or require_secure_transport = 1 (MySQL/MariaDB)", remediation: "parameter {\n  name  = \"rds.force_ssl\"\n  value = \"1\"\n}",
            sources: &["seed 001: SSL/TLS required for connections; Parameter group configured (force_ssl)", "seed 003: force_ssl style parameters", "Prowler: rds_instance_transport_encrypted"], kind: Kind::Resource(rds_008) },
        Rule { id: "HIPPO-AWS-RDS-009", title: "PostgreSQL audit and connection logging is configured", severity: Severity::Medium, hipaa: &["164.312(b)", "164.308(a)(1)(ii)(D)"], types: &["aws_db_instance", "aws_rds_cluster", "aws_db_parameter_group", "aws_rds_cluster_parameter_group"], formats: TF_CFN,
            expected: "shared_preload_libraries includes pgaudit; log_connections = 1; log_disconnections = 1", remediation: "parameter {\n  name         = \"shared_preload_libraries\"\n  value        = \"pgaudit\"\n  apply_method = \"pending-reboot\"\n}\nparameter {\n  name  = \"log_connections\"\n  value = \"1\"\n}",
            sources: &["seed 001: RDS Parameter Group (pgaudit, log_connections, log_disconnections)"], kind: Kind::Resource(rds_009) },
        Rule { id: "HIPPO-AWS-RDS-010", title: "RDS automatic minor version upgrades are on", severity: Severity::Low, hipaa: &["164.308(a)(5)(ii)(B)"], types: &["aws_db_instance", "aws_rds_cluster", "aws_rds_cluster_instance"], formats: TF_CFN,
            expected: "auto_minor_version_upgrade is not false", remediation: "auto_minor_version_upgrade = true",
            sources: &["seed 001: --auto-minor-version-upgrade", "Prowler: rds_instance_minor_version_upgrade_enabled"], kind: Kind::Resource(rds_010) },
        Rule { id: "HIPPO-AWS-RDS-011", title: "RDS enhanced monitoring is enabled", severity: Severity::Low, hipaa: &["164.312(b)"], types: ANY_INSTANCE, formats: TF_CFN,
            expected: "monitoring_interval > 0", remediation: "monitoring_interval = 60\nmonitoring_role_arn = aws_iam_role.rds_monitoring.arn",
            sources: &["AWS Config: rds-enhanced-monitoring-enabled", "Prowler: rds_instance_enhanced_monitoring_enabled"], kind: Kind::Resource(rds_011) },
        Rule { id: "HIPPO-AWS-RDS-012", title: "RDS is not placed in a public subnet", severity: Severity::High, hipaa: &["164.312(a)(1)", "164.312(e)(1)"], types: INSTANCE, formats: TF_CFN,
            expected: "The DB subnet group contains only private (data) subnets", remediation: "db_subnet_group_name = aws_db_subnet_group.data.name  # subnets with map_public_ip_on_launch = false and no IGW route",
            sources: &["seed 001: Deployed in private data subnets; No PHI resources in public subnets"], kind: Kind::Resource(rds_012) },
        Rule { id: "HIPPO-AWS-RDS-013", title: "RDS IAM database authentication is enabled", severity: Severity::Low, hipaa: &["164.312(d)", "164.312(a)(2)(i)"], types: DB, formats: TF_CFN,
            expected: "iam_database_authentication_enabled = true (short-lived tokens instead of static passwords)", remediation: "iam_database_authentication_enabled = true",
            sources: &["seed 004: Use dynamic, short-lived credentials for databases", "Prowler: rds_instance_iam_authentication_enabled", "Checkov: CKV_AWS_161"], kind: Kind::Resource(rds_013) },
        Rule { id: "HIPPO-AWS-RDS-014", title: "RDS Performance Insights uses a customer-managed KMS key", severity: Severity::Medium, hipaa: &[E], types: PI, formats: TF_CFN,
            expected: "performance_insights_kms_key_id names a customer-managed key when performance_insights_enabled = true", remediation: "performance_insights_enabled    = true\nperformance_insights_kms_key_id = aws_kms_key.rds.arn",
            sources: &["issue 16: Performance Insights keeps SQL text, which can carry PHI literals", "Checkov: CKV_AWS_354"], kind: Kind::Resource(rds_014) },
    ]
}
