//! KMS rules: key rotation, keys used by databases, key policies.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource, Tri};

fn symmetric(r: &Resource) -> bool {
    r.get_any(&["customer_master_key_spec", "key_spec", "KeySpec"])
        .and_then(Node::as_str)
        .is_none_or(|s| s == "SYMMETRIC_DEFAULT")
}

fn kms_001(r: &Resource, _: &Index) -> Vec<Hit> {
    if !symmetric(r) {
        return vec![];
    }
    require_true(r, &["enable_key_rotation"], false)
}

fn kms_002(k: &Resource, idx: &Index) -> Vec<Hit> {
    if !symmetric(k) || k.get("enable_key_rotation").map(|n| n.truth()) == Some(Tri::Yes) {
        return vec![];
    }
    let is_db = |r: &&Resource| r.rtype == "aws_db_instance" || r.rtype == "aws_rds_cluster";
    let uses = |db: &Resource, target: &Resource| {
        db.get("kms_key_id")
            .is_some_and(|n| points_to(n, target, &["arn", "key_id"]))
    };
    let mut users: Vec<&Resource> = idx
        .candidates(k, &["arn", "key_id"])
        .into_iter()
        .filter(is_db)
        .filter(|db| uses(db, k))
        .collect();
    for alias in idx
        .candidates(k, &["arn", "key_id"])
        .into_iter()
        .filter(|a| a.rtype == "aws_kms_alias")
    {
        if alias
            .get_any(&["target_key_id", "TargetKeyId"])
            .is_some_and(|t| points_to(t, k, &["arn", "key_id"]))
        {
            users.extend(
                idx.candidates(alias, &["name", "arn"])
                    .into_iter()
                    .filter(is_db)
                    .filter(|db| uses(db, alias)),
            );
        }
    }
    match users.first() {
        Some(db) => {
            let line = k
                .get("enable_key_rotation")
                .map(|n| n.line)
                .unwrap_or(k.line);
            hit(
                line,
                format!(
                    "key rotation is off for a key that encrypts database {}",
                    db.name
                ),
            )
        }
        None => vec![],
    }
}

fn kms_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(p) = r.get_any(&["policy", "KeyPolicy"]) else {
        return vec![];
    };
    let Some(stmts) = policy_statements(p, idx) else {
        return if p.is_unknown() {
            hit(p.line, unknown_msg("policy", p))
        } else {
            vec![]
        };
    };
    for s in stmts {
        let allow = s.get("Effect").and_then(Node::as_str) == Some("Allow");
        let star = strings(s.get("Principal")).iter().any(|x| x == "*");
        let conditioned = s.get("Condition").is_some_and(|c| !c.entries().is_empty());
        if allow && star && !conditioned {
            return hit(
                p.line,
                "key policy allows any principal (\"*\") without a condition",
            );
        }
    }
    vec![]
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-KMS-001", title: "KMS key rotation is enabled", severity: Severity::Medium, hipaa: &["164.312(a)(2)(iv)", "164.308(a)(1)(ii)(B)"], types: &["aws_kms_key"], formats: TF_CFN,
            expected: "enable_key_rotation = true on symmetric customer-managed keys", remediation: "resource \"aws_kms_key\" \"rds\" {\n  description         = \"RDS encryption\"\n  enable_key_rotation = true\n}",
            sources: &["seed 001: Key rotation enabled", "AWS Config: cmk-backing-key-rotation-enabled", "Prowler: kms_cmk_rotation_enabled"], kind: Kind::Resource(kms_001) },
        Rule { id: "HIPPO-AWS-KMS-002", title: "KMS key encrypting a database rotates", severity: Severity::High, hipaa: &["164.312(a)(2)(iv)"], types: &["aws_kms_key"], formats: TF_CFN,
            expected: "A key referenced by an RDS instance or cluster (directly or through an alias) has enable_key_rotation = true", remediation: "enable_key_rotation = true",
            sources: &["seed 001: RDS encryption key; Key rotation enabled (cross-resource)"], kind: Kind::Resource(kms_002) },
        Rule { id: "HIPPO-AWS-KMS-003", title: "KMS key policy does not allow every principal", severity: Severity::High, hipaa: &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"], types: &["aws_kms_key"], formats: TF_CFN,
            expected: "No Allow statement with Principal \"*\" and no Condition", remediation: "principals {\n  type        = \"AWS\"\n  identifiers = [\"arn:aws:iam::${data.aws_caller_identity.current.account_id}:root\"]\n}",
            sources: &["seed 001: Key policies restrict access", "Prowler: kms_key_not_publicly_accessible"], kind: Kind::Resource(kms_003) },
    ]
}
