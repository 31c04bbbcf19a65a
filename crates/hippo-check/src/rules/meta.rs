//! Rules produced outside resource evaluation: secret scanning and suppression hygiene.

use super::{Kind, Rule, Severity};
use crate::model::Format;

const ANY: &[Format] = &[Format::Text];

macro_rules! meta {
    ($id:expr, $title:expr, $sev:ident, $hipaa:expr, $kind:expr, $exp:expr, $rem:expr, $src:expr) => {
        Rule {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            hipaa: $hipaa,
            types: &[],
            formats: ANY,
            expected: $exp,
            remediation: $rem,
            sources: $src,
            kind: $kind,
        }
    };
}

pub fn rules() -> Vec<Rule> {
    let sec: &[&str] = &["164.312(a)(1)", "164.312(d)", "164.308(a)(5)(ii)(D)"];
    let s4: &[&str] = &[
        "seed 004: Secrets scanning on commits and artifacts; block on detection",
        "seed 002: No Hardcoded Secrets",
    ];
    vec![
        meta!("HIPPO-SECRET-001", "AWS access key ID in source", Critical, sec, Kind::Secret, "No AWS access key IDs (AKIA/ASIA...) in the tree", "Revoke the key, rotate, and use roles or Secrets Manager", s4),
        meta!("HIPPO-SECRET-002", "Private key in source", Critical, sec, Kind::Secret, "No PEM/OpenSSH private keys in the tree", "Remove the key, rotate it, and store it in Secrets Manager or KMS", s4),
        meta!("HIPPO-SECRET-003", "High-entropy value assigned to a password/secret/token name", High, sec, Kind::Secret, "Names like password, secret, token, api_key get their value from a secret store", "password = data.aws_secretsmanager_secret_version.db.secret_string", s4),
        meta!("HIPPO-SECRET-004", "Database URL with an inline password", Critical, sec, Kind::Secret, "Connection strings carry no password; it comes from Secrets Manager", "postgresql://app@db.internal:5432/phi?sslmode=require  # password from the secret store", s4),
        meta!("HIPPO-SECRET-005", "JSON Web Token in source", High, sec, Kind::Secret, "No signed tokens committed", "Remove the token and revoke its signing key if it is long-lived", s4),
        meta!("HIPPO-SUP-001", "Suppression without a reason", Medium, &["164.308(a)(1)(ii)(D)", "164.316(b)(1)"], Kind::Meta, "Every hippo:ignore and baseline entry has reason=\"...\"", "# hippo:ignore HIPPO-AWS-S3-010 reason=\"log bucket uses WORM archive account\" until=2026-12-31", &["seed 004: manual override requires documented approval"]),
        meta!("HIPPO-SUP-002", "Expired suppression", Medium, &["164.308(a)(1)(ii)(D)", "164.308(a)(8)"], Kind::Meta, "until= dates are in the future", "Fix the finding or renew the exception with a new review date", &["seed 004: Time-boxed exceptions with automatic revalidation before release"]),
        meta!("HIPPO-SUP-003", "Suppression names an unknown rule", Low, &["164.316(b)(1)"], Kind::Meta, "hippo:ignore names an existing rule id", "Use an id from `hippo check --list-rules`", &["seed 004: Fail closed on policy violations"]),
    ]
}
