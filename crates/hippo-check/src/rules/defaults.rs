//! Provider and engine defaults the rules rely on when a setting is absent. Only defaults
//! checked against the provider or AWS documentation are encoded, each with its source; a
//! rule stays silent on an absent setting only when its default is the compliant value.

use crate::model::{Format, Node, Resource};

/// ElastiCache encryption at rest when `at_rest_encryption_enabled` / `AtRestEncryptionEnabled`
/// is absent: on for Valkey, off for Redis OSS.
/// Source (CreateReplicationGroup, AtRestEncryptionEnabled: "Default: true when using Valkey,
/// false when using Redis OSS"):
/// https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/elasticache/aws.sdk.kotlin.services.elasticache.model/-create-replication-group-request/at-rest-encryption-enabled.html
/// The Terraform provider documents the same ("When engine is redis, default is false. When
/// engine is valkey, default is true."), mirrored at
/// https://pub.dev/documentation/pulumi_aws/latest/elasticache/ReplicationGroupArgs/atRestEncryptionEnabled.html
pub fn elasticache_at_rest_by_default(r: &Resource) -> bool {
    engine(r).is_some_and(|e| e.eq_ignore_ascii_case("valkey"))
}

/// RDS minor version upgrades when `auto_minor_version_upgrade` is absent: on.
/// Source (CreateDBInstance, AutoMinorVersionUpgrade: "By default, minor engine upgrades are
/// applied automatically"):
/// https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/rds/aws.sdk.kotlin.services.rds.model/-create-db-instance-request/auto-minor-version-upgrade.html
/// Terraform provider: "Defaults to true", mirrored at
/// https://pub.dev/documentation/pulumi_aws/latest/rds/InstanceArgs/autoMinorVersionUpgrade.html
pub const RDS_AUTO_MINOR_VERSION_UPGRADE: bool = true;

/// OpenSearch HTTPS enforcement when a `domain_endpoint_options` block is present without
/// `enforce_https`: the Terraform provider defaults it to true ("Whether or not to require
/// HTTPS. Defaults to true.", mirrored at
/// https://pub.dev/documentation/pulumi_aws/latest/opensearch/DomainDomainEndpointOptions-class.html).
/// CloudFormation and the API document no default for `EnforceHTTPS`
/// (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsOpenSearchServiceDomainDomainEndpointOptionsDetails.html),
/// so there an absent value is not taken as compliant.
pub fn opensearch_enforce_https_by_default(format: Format) -> bool {
    matches!(format, Format::Terraform | Format::TerraformPlan)
}

/// RDS storage encryption when `storage_encrypted` / `StorageEncrypted` is absent: off
/// ("By default, it isn't encrypted.",
/// https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/rds/aws.sdk.kotlin.services.rds.model/-create-db-instance-request/storage-encrypted.html),
/// except for Aurora Serverless v1 clusters (`engine_mode = "serverless"`), whose cluster
/// volume "is always encrypted. You can choose the encryption key, but you can't disable
/// encryption" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless.html).
/// Serverless v2 uses the provisioned engine mode and keeps the off default.
pub fn rds_storage_encrypted_by_default(r: &Resource) -> bool {
    r.rtype == "aws_rds_cluster"
        && r.get_any(&["engine_mode", "EngineMode"])
            .and_then(Node::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case("serverless"))
}

fn engine(r: &Resource) -> Option<&str> {
    r.get_any(&["engine", "Engine"]).and_then(Node::as_str)
}

/// SQS encryption at rest when neither `sqs_managed_sse_enabled` / `SqsManagedSseEnabled` nor
/// `kms_master_key_id` / `KmsMasterKeyId` is set: on (SSE-SQS, with SQS-owned keys) for every
/// queue created since October 2022. Only an explicit `false` without a KMS key leaves a
/// queue unencrypted.
/// Source (Encryption at rest in Amazon SQS):
/// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
/// and the AWS CDK, which builds on that default ("By default queues are encrypted using
/// SSE-SQS"): https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_sqs-readme.html
pub const SQS_MANAGED_SSE_BY_DEFAULT: bool = true;
