//! S3 rules: encryption, public access, versioning, logging, lifecycle, bucket policy.

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF, TF_CFN};
use crate::model::{Node, Resource, Tri, Val};

const BUCKET: &[&str] = &["aws_s3_bucket"];
const NAMES: &[&str] = &["bucket", "BucketName"];

fn linked<'a>(idx: &Index<'a>, t: &str, b: &Resource) -> Vec<&'a Resource> {
    referrers(idx, t, &["bucket", "Bucket"], b, NAMES)
}

/// Encryption-by-default settings for a bucket, inline or from linked resources.
fn sse_defaults(b: &Resource, idx: &Index) -> Vec<Node> {
    let mut out = Vec::new();
    if let Some(cfg) = b.get("server_side_encryption_configuration") {
        for rule in cfg
            .items()
            .iter()
            .flat_map(|c| c.get("rule").map(|r| r.items()).unwrap_or_default())
        {
            out.extend(rule.get("apply_server_side_encryption_by_default").cloned());
        }
    }
    if let Some(cfg) = b
        .body
        .path(&["BucketEncryption", "ServerSideEncryptionConfiguration"])
    {
        for rule in cfg.items() {
            out.extend(rule.get("ServerSideEncryptionByDefault").cloned());
        }
    }
    for r in linked(idx, "aws_s3_bucket_server_side_encryption_configuration", b) {
        for rule in r.get("rule").map(|x| x.items()).unwrap_or_default() {
            out.extend(rule.get("apply_server_side_encryption_by_default").cloned());
        }
    }
    out
}

fn s3_001(b: &Resource, idx: &Index) -> Vec<Hit> {
    if sse_defaults(b, idx).is_empty() {
        return hit(
            b.line,
            "no default server-side encryption configuration for this bucket",
        );
    }
    vec![]
}

fn s3_002(b: &Resource, idx: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for d in sse_defaults(b, idx) {
        let alg = d.get_any(&["sse_algorithm", "SSEAlgorithm"]);
        match alg.map(|a| &a.val) {
            Some(Val::Str(a)) if a.starts_with("aws:kms") => {
                let key = d.get_any(&["kms_master_key_id", "KMSMasterKeyID"]);
                match key_kind(key, idx) {
                    KeyKind::CustomerManaged => {}
                    KeyKind::Unknown => out.extend(hit(d.line, unknown_msg("kms_master_key_id", key.unwrap_or(&d)))),
                    _ => out.extend(hit(key.map(|k| k.line).unwrap_or(d.line), "SSE-KMS uses the AWS-managed key aws/s3; name a customer-managed KMS key")),
                }
            }
            Some(Val::Str(a)) => out.extend(hit(d.line, format!("default encryption is {a} (S3-managed keys), not SSE-KMS with a customer-managed key"))),
            _ => out.extend(hit(d.line, "sse_algorithm is unknown or missing")),
        }
    }
    out
}

fn account_block_all(idx: &Index) -> bool {
    idx.of_type("aws_s3_account_public_access_block")
        .iter()
        .any(|a| all_four(&a.body).is_empty())
}

const PAB_KEYS: [&str; 4] = [
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
];

fn all_four(body: &Node) -> Vec<Hit> {
    PAB_KEYS
        .iter()
        .flat_map(|k| require_true_in(body, body.line, &[k], false))
        .collect()
}

fn s3_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    if r.rtype == "aws_s3_bucket_public_access_block" {
        return all_four(&r.body);
    }
    if let Some(cfg) = r.get("PublicAccessBlockConfiguration") {
        return all_four(cfg);
    }
    if account_block_all(idx) {
        return vec![];
    }
    if linked(idx, "aws_s3_bucket_public_access_block", r).is_empty() {
        return hit(r.line, "no public access block (aws_s3_bucket_public_access_block or PublicAccessBlockConfiguration) covers this bucket");
    }
    vec![]
}

fn s3_004(b: &Resource, idx: &Index) -> Vec<Hit> {
    if let Some(v) = b.get("versioning") {
        return require_true_in(v, v.line, &["enabled"], false);
    }
    if let Some(v) = b.get("VersioningConfiguration") {
        return status_enabled(v.get("Status"), v.line);
    }
    if let Some(r) = linked(idx, "aws_s3_bucket_versioning", b).first() {
        return status_enabled(r.body.path(&["versioning_configuration", "status"]), r.line);
    }
    hit(b.line, "versioning is not enabled for this bucket")
}

fn status_enabled(n: Option<&Node>, line: u32) -> Vec<Hit> {
    match n {
        Some(s) if s.as_str() == Some("Enabled") => vec![],
        Some(s) if s.is_unknown() => hit(s.line, unknown_msg("status", s)),
        Some(s) => hit(s.line, format!("versioning status is {}", s.describe())),
        None => hit(line, "versioning status is not set"),
    }
}

fn s3_005(b: &Resource, idx: &Index) -> Vec<Hit> {
    if b.get_any(&["logging", "LoggingConfiguration"]).is_some()
        || !linked(idx, "aws_s3_bucket_logging", b).is_empty()
    {
        return vec![];
    }
    hit(
        b.line,
        "server access logging is not enabled for this bucket",
    )
}

fn s3_006(b: &Resource, idx: &Index) -> Vec<Hit> {
    if b.get_any(&["lifecycle_rule", "LifecycleConfiguration"])
        .is_some()
        || !linked(idx, "aws_s3_bucket_lifecycle_configuration", b).is_empty()
    {
        return vec![];
    }
    hit(
        b.line,
        "no lifecycle configuration (archive/expiry of PHI backups) for this bucket",
    )
}

fn bucket_statements(b: &Resource, idx: &Index) -> Option<Vec<Node>> {
    let mut found = None;
    if let Some(p) = b.get("policy") {
        found = Some(policy_statements(p, idx).unwrap_or_default());
    }
    for t in ["aws_s3_bucket_policy"] {
        for r in linked(idx, t, b) {
            let p = r.get_any(&["policy", "PolicyDocument"])?;
            found
                .get_or_insert_with(Vec::new)
                .extend(policy_statements(p, idx).unwrap_or_default());
        }
    }
    found
}

fn s3_007(b: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(stmts) = bucket_statements(b, idx) else {
        return hit(b.line, "no bucket policy requires SSE-KMS on uploads; S3 still encrypts every new object (SSE-S3 by default), so this is advice only");
    };
    let ok = stmts.iter().any(|s| {
        denies(s, "s3:PutObject")
            && condition_keys(s)
                .iter()
                .any(|k| k == "s3:x-amz-server-side-encryption")
    });
    if ok {
        vec![]
    } else {
        hit(
            b.line,
            "the bucket policy does not require SSE-KMS on uploads; S3 still encrypts every new object (SSE-S3 by default), so this is advice only",
        )
    }
}

fn s3_008(b: &Resource, idx: &Index) -> Vec<Hit> {
    let Some(stmts) = bucket_statements(b, idx) else {
        return hit(
            b.line,
            "no bucket policy denies requests without TLS (aws:SecureTransport = false)",
        );
    };
    let ok = stmts.iter().any(|s| {
        s.get("Effect").and_then(Node::as_str) == Some("Deny")
            && condition_keys(s).iter().any(|k| k == "aws:securetransport")
    });
    if ok {
        vec![]
    } else {
        hit(
            b.line,
            "the bucket policy does not deny requests without TLS",
        )
    }
}

fn s3_009(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get_any(&["acl", "AccessControl"]) {
        Some(n) => match n.as_str().map(|s| s.to_ascii_lowercase().replace('-', "")) {
            Some(a) if a.starts_with("publicread") || a == "authenticatedread" => hit(
                n.line,
                format!(
                    "canned ACL {} grants public or any-AWS-user access",
                    n.describe()
                ),
            ),
            Some(_) => vec![],
            None if n.is_unknown() => hit(n.line, unknown_msg("acl", n)),
            None => vec![],
        },
        None => vec![],
    }
}

fn s3_010(b: &Resource, _: &Index) -> Vec<Hit> {
    match b.get_any(&["object_lock_enabled", "ObjectLockEnabled"]) {
        Some(n) if n.truth() == Tri::Yes => vec![],
        Some(n) => hit(n.line, "Object Lock is not enabled"),
        None if b
            .body
            .path(&["object_lock_configuration", "object_lock_enabled"])
            .and_then(Node::as_str)
            == Some("Enabled") =>
        {
            vec![]
        }
        None => hit(
            b.line,
            "Object Lock is not enabled (immutable audit logs and backups)",
        ),
    }
}

fn s3_011(b: &Resource, idx: &Index) -> Vec<Hit> {
    if b.get_any(&["replication_configuration", "ReplicationConfiguration"])
        .is_some()
        || !linked(idx, "aws_s3_bucket_replication_configuration", b).is_empty()
    {
        return vec![];
    }
    hit(
        b.line,
        "no cross-region replication configured for this bucket",
    )
}

/// An object is compliant with its own customer-managed key, or without one when its bucket
/// (in the same scan) encrypts by default with a customer-managed key: S3 then applies that
/// key to the upload. (S3-002 alone is silent on a bucket with no encryption configuration,
/// which S3-001 reports, so both must pass.)
fn s3_012(r: &Resource, idx: &Index) -> Vec<Hit> {
    let own = r.get("kms_key_id");
    if own.is_none() {
        let buckets = r
            .get("bucket")
            .map(|b| idx.resolve(b, "aws_s3_bucket"))
            .unwrap_or_default();
        if !buckets.is_empty()
            && buckets
                .iter()
                .all(|b| s3_001(b, idx).is_empty() && s3_002(b, idx).is_empty())
        {
            return vec![];
        }
    }
    require_cmk(
        r,
        &["kms_key_id"],
        idx,
        "the object (and its bucket's default)",
    )
}

const E: &str = "164.312(a)(2)(iv)";
const ACCESS: &str = "164.312(a)(1)";
const AUDIT: &str = "164.312(b)";
const INTEGRITY: &str = "164.312(c)(1)";
const TRANS: &str = "164.312(e)(1)";
const BACKUP: &str = "164.308(a)(7)(ii)(A)";

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-S3-001", title: "S3 bucket has default server-side encryption", severity: Severity::High, hipaa: &[E, "164.312(e)(2)(ii)"], types: BUCKET, formats: TF_CFN,
            expected: "An encryption configuration (inline, BucketEncryption, or aws_s3_bucket_server_side_encryption_configuration) applies to the bucket",
            remediation: "resource \"aws_s3_bucket_server_side_encryption_configuration\" \"phi\" {\n  bucket = aws_s3_bucket.phi.id\n  rule {\n    apply_server_side_encryption_by_default {\n      sse_algorithm     = \"aws:kms\"\n      kms_master_key_id = aws_kms_key.s3.arn\n    }\n  }\n}",
            sources: &["seed 001: S3 encryption enabled (KMS)", "AWS Config: s3-bucket-server-side-encryption-enabled", "Prowler: s3_bucket_default_encryption"], kind: Kind::Resource(s3_001) },
        Rule { id: "HIPPO-AWS-S3-002", title: "S3 default encryption uses a customer-managed KMS key", severity: Severity::High, hipaa: &[E], types: BUCKET, formats: TF_CFN,
            expected: "sse_algorithm = \"aws:kms\" with kms_master_key_id naming a customer-managed key (not alias/aws/s3)",
            remediation: "apply_server_side_encryption_by_default {\n  sse_algorithm     = \"aws:kms\"\n  kms_master_key_id = aws_kms_key.s3.arn\n}",
            sources: &["seed 001: S3 encryption with KMS key", "AWS Config: s3-default-encryption-kms", "Prowler: s3_bucket_kms_encryption"], kind: Kind::Resource(s3_002) },
        Rule { id: "HIPPO-AWS-S3-003", title: "S3 public access is blocked", severity: Severity::Critical, hipaa: &[ACCESS, "164.308(a)(4)(ii)(A)"], types: &["aws_s3_bucket", "aws_s3_bucket_public_access_block"], formats: TF_CFN,
            expected: "A public access block with block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets all true covers the bucket",
            remediation: "resource \"aws_s3_bucket_public_access_block\" \"phi\" {\n  bucket                  = aws_s3_bucket.phi.id\n  block_public_acls       = true\n  block_public_policy     = true\n  ignore_public_acls      = true\n  restrict_public_buckets = true\n}",
            sources: &["seed 001: All public access blocked", "AWS Config: s3-bucket-level-public-access-prohibited, s3-account-level-public-access-blocks-periodic", "Prowler: s3_bucket_level_public_access_block, s3_account_level_public_access_blocks"], kind: Kind::Resource(s3_003) },
        Rule { id: "HIPPO-AWS-S3-004", title: "S3 bucket versioning is enabled", severity: Severity::Medium, hipaa: &[INTEGRITY, BACKUP], types: BUCKET, formats: TF_CFN,
            expected: "Versioning status Enabled", remediation: "resource \"aws_s3_bucket_versioning\" \"phi\" {\n  bucket = aws_s3_bucket.phi.id\n  versioning_configuration { status = \"Enabled\" }\n}",
            sources: &["seed 001: Versioning enabled", "seed 002: S3 versioning for data protection", "AWS Config: s3-bucket-versioning-enabled", "Prowler: s3_bucket_object_versioning"], kind: Kind::Resource(s3_004) },
        Rule { id: "HIPPO-AWS-S3-005", title: "S3 server access logging is enabled", severity: Severity::Medium, hipaa: &[AUDIT], types: BUCKET, formats: TF_CFN,
            expected: "Access logging to a log bucket", remediation: "resource \"aws_s3_bucket_logging\" \"phi\" {\n  bucket        = aws_s3_bucket.phi.id\n  target_bucket = aws_s3_bucket.logs.id\n  target_prefix = \"s3-access-logs/\"\n}",
            sources: &["seed 001: Access logging enabled", "seed 003: S3 server access logging on the documents bucket", "AWS Config: s3-bucket-logging-enabled", "Prowler: s3_bucket_server_access_logging_enabled"], kind: Kind::Resource(s3_005) },
        Rule { id: "HIPPO-AWS-S3-006", title: "S3 lifecycle policy is configured", severity: Severity::Low, hipaa: &["164.316(b)(2)(i)", "164.310(d)(2)(i)"], types: BUCKET, formats: TF_CFN,
            expected: "A lifecycle configuration (transition/expiry) applies to the bucket", remediation: "resource \"aws_s3_bucket_lifecycle_configuration\" \"phi\" {\n  bucket = aws_s3_bucket.phi.id\n  rule {\n    id     = \"archive\"\n    status = \"Enabled\"\n    transition {\n      days          = 90\n      storage_class = \"GLACIER\"\n    }\n  }\n}",
            sources: &["seed 001: Lifecycle policies configured"], kind: Kind::Resource(s3_006) },
        // S3 has encrypted every new object by default (SSE-S3) since 5 January 2023, so a
        // policy denying uploads without an encryption header no longer guards against
        // unencrypted PHI; it only stops a client from choosing SSE-S3 over the bucket's
        // customer-managed key, which HIPPO-AWS-S3-002 already requires by default. Kept as
        // advice at info, never a failure.
        Rule { id: "HIPPO-AWS-S3-007", title: "S3 bucket policy requires SSE-KMS on uploads (advisory)", severity: Severity::Info, hipaa: &[E], types: BUCKET, formats: TF_CFN,
            expected: "Optional since S3 encrypts every new object by default (January 2023): a Deny statement for s3:PutObject conditioned on s3:x-amz-server-side-encryption keeps clients from overriding the bucket's customer-managed key", remediation: "statement {\n  effect    = \"Deny\"\n  actions   = [\"s3:PutObject\"]\n  resources = [\"${aws_s3_bucket.phi.arn}/*\"]\n  principals {\n    type        = \"*\"\n    identifiers = [\"*\"]\n  }\n  condition {\n    test     = \"StringNotEquals\"\n    variable = \"s3:x-amz-server-side-encryption\"\n    values   = [\"aws:kms\"]\n  }\n}",
            sources: &["seed 001: Bucket policy denies unencrypted uploads", "seed 003: Buckets deny unencrypted uploads", "AWS: Amazon S3 now automatically encrypts all new objects (2023-01-05), https://aws.amazon.com/about-aws/whats-new/2023/01/amazon-s3-automatically-encrypts-new-objects/"], kind: Kind::Resource(s3_007) },
        Rule { id: "HIPPO-AWS-S3-008", title: "S3 bucket policy requires TLS", severity: Severity::High, hipaa: &[TRANS, "164.312(e)(2)(i)"], types: BUCKET, formats: TF_CFN,
            expected: "A Deny statement with Condition Bool aws:SecureTransport = false", remediation: "condition {\n  test     = \"Bool\"\n  variable = \"aws:SecureTransport\"\n  values   = [\"false\"]\n}",
            sources: &["AWS Config: s3-bucket-ssl-requests-only", "Prowler: s3_bucket_secure_transport_policy"], kind: Kind::Resource(s3_008) },
        Rule { id: "HIPPO-AWS-S3-009", title: "S3 bucket has no public canned ACL", severity: Severity::Critical, hipaa: &[ACCESS], types: &["aws_s3_bucket", "aws_s3_bucket_acl"], formats: TF_CFN,
            expected: "acl is private (or unset); never public-read, public-read-write or authenticated-read", remediation: "acl = \"private\"  # or remove the ACL and use BucketOwnerEnforced ownership",
            sources: &["seed 000: Public S3 buckets", "AWS Config: s3-bucket-public-read-prohibited, s3-bucket-public-write-prohibited", "Prowler: s3_bucket_public_access"], kind: Kind::Resource(s3_009) },
        Rule { id: "HIPPO-AWS-S3-010", title: "S3 Object Lock is enabled", severity: Severity::Low, hipaa: &[INTEGRITY, AUDIT], types: BUCKET, formats: TF_CFN,
            expected: "object_lock_enabled = true", remediation: "resource \"aws_s3_bucket\" \"audit\" {\n  bucket              = \"audit-logs\"\n  object_lock_enabled = true\n}",
            sources: &["seed 002: Immutable logs (S3 Object Lock)"], kind: Kind::Resource(s3_010) },
        Rule { id: "HIPPO-AWS-S3-011", title: "S3 cross-region replication is configured", severity: Severity::Low, hipaa: &[BACKUP, "164.308(a)(7)(ii)(B)"], types: BUCKET, formats: TF_CFN,
            expected: "A replication configuration applies to the bucket", remediation: "resource \"aws_s3_bucket_replication_configuration\" \"phi\" {\n  bucket = aws_s3_bucket.phi.id\n  role   = aws_iam_role.replication.arn\n  rule {\n    status = \"Enabled\"\n    destination { bucket = aws_s3_bucket.dr.arn }\n  }\n}",
            sources: &["seed 002: S3 cross-region replication", "AWS Config: s3-bucket-replication-enabled", "Prowler: s3_bucket_cross_region_replication"], kind: Kind::Resource(s3_011) },
        Rule { id: "HIPPO-AWS-S3-012", title: "S3 objects are encrypted with a customer-managed KMS key", severity: Severity::Medium, hipaa: &[E], types: &["aws_s3_object", "aws_s3_bucket_object"], formats: TF,
            expected: "kms_key_id names a customer-managed key, or the object's bucket encrypts by default with one", remediation: "resource \"aws_s3_object\" \"report\" {\n  bucket     = aws_s3_bucket.phi.id\n  key        = \"reports/latest.csv\"\n  source     = \"latest.csv\"\n  kms_key_id = aws_kms_key.s3.arn\n}",
            sources: &["issue 16: S3 objects without a CMK", "Checkov: CKV_AWS_186"], kind: Kind::Resource(s3_012) },
    ]
}
