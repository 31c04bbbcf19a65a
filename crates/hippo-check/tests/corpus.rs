//! The vulnerable-by-design corpus triggers every rule of the pack, through variables,
//! locals, tfvars and local modules; and what single findings say (masked secrets, the VPC's
//! own CIDR resolved as private).

mod common;

use std::collections::BTreeSet;

use common::*;
use hippo_check::rules::registry;

#[test]
fn vulnerable_corpus_covers_every_rule() {
    let o = scan_paths(&[fixtures().join("corpus/vulnerable")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let fired: BTreeSet<&str> = o.findings.iter().map(|f| f.rule_id).collect();
    let missing: Vec<&str> = registry()
        .iter()
        .map(|r| r.id)
        .filter(|id| !fired.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules never triggered by the corpus: {missing:?}"
    );
}

#[test]
fn module_inputs_and_tfvars_are_followed() {
    let o = scan_paths(&[fixtures().join("corpus/vulnerable")]);
    let db: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.resource.as_deref() == Some("module.database.aws_db_instance.db"))
        .collect();
    let has = |id: &str, needle: &str| {
        db.iter()
            .any(|f| f.rule_id == id && f.message.contains(needle))
    };
    // storage_encrypted = local.encrypt_db = (var.environment == "dev") = false
    assert!(has("HIPPO-AWS-RDS-001", "false"), "{db:#?}");
    // backup_retention_period = var.db_retention_days, overridden by terraform.tfvars to 3
    assert!(has("HIPPO-AWS-RDS-005", "is 3"), "{db:#?}");
    assert!(has("HIPPO-AWS-RDS-003", "true"));
    assert!(has("HIPPO-AWS-RDS-002", "alias/aws/rds"));
    assert!(has(
        "HIPPO-AWS-NET-004",
        "module.database.aws_security_group.db"
    ));
    let sg_line = o
        .findings
        .iter()
        .find(|f| f.rule_id == "HIPPO-AWS-NET-001")
        .map(|f| (f.file.clone(), f.line))
        .unwrap();
    assert!(sg_line.0.ends_with("modules/database/main.tf"));
    assert_eq!(sg_line.1, 24);
}

#[test]
fn kms_key_without_rotation_used_by_rds_is_flagged_once_per_key() {
    let o = scan_paths(&[fixtures().join("corpus/vulnerable")]);
    let k: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.rule_id == "HIPPO-AWS-KMS-002" && f.file.ends_with("database/main.tf"))
        .collect();
    assert_eq!(k.len(), 1, "{k:#?}");
    assert_eq!(
        k[0].resource.as_deref(),
        Some("module.database.aws_kms_key.db")
    );
}

#[test]
fn lambda_environment_secrets_are_reported_per_variable_and_masked() {
    let o = scan_paths(&[fixtures().join("rules/terraform/phi_services_bad.tf")]);
    let msgs: Vec<&str> = o
        .findings
        .iter()
        .filter(|f| f.rule_id == "HIPPO-AWS-LAMBDA-002")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    for var in ["GRAPH_PASSWORD", "API_TOKEN", "REPORTS_DB"] {
        assert!(msgs.iter().any(|m| m.contains(var)), "{var}: {msgs:#?}");
    }
    assert!(!msgs.iter().any(|m| m.contains("LOG_LEVEL")));
    for secret in ["tok-9f8e7d6c5b4a", "Sup3rS3cretPw"] {
        assert!(
            !msgs.iter().any(|m| m.contains(secret)),
            "a finding message leaks {secret}: {msgs:#?}"
        );
    }
}

#[test]
fn vpc_own_cidr_is_private_but_other_references_stay_unknown() {
    let good = scan_paths(&[fixtures().join("rules/terraform/vpc_cidr_good.tf")]);
    assert!(
        !good
            .findings
            .iter()
            .any(|f| f.rule_id.starts_with("HIPPO-AWS-NET")),
        "{:#?}",
        good.findings
    );
    let bad = scan_paths(&[fixtures().join("rules/terraform/vpc_cidr_bad.tf")]);
    let net: Vec<&str> = bad
        .findings
        .iter()
        .filter(|f| f.rule_id == "HIPPO-AWS-NET-001")
        .map(|f| f.message.as_str())
        .collect();
    assert!(net.iter().any(|m| m.contains("0.0.0.0/0")), "{net:#?}");
    assert!(
        net.iter().any(|m| m.contains("cannot be determined")),
        "{net:#?}"
    );
}
