//! How the AWS Config "Operational Best Practices for HIPAA Security" conformance pack and
//! Prowler's HIPAA mapping line up with the rule pack: covered by which rules, impossible
//! to check from code (live account state), or checkable but not covered yet.

/// Coverage of one external check.
pub enum Cov {
    /// Covered by these rule ids.
    Rules(&'static [&'static str]),
    /// Live account or run-time state: cannot be checked from infrastructure code.
    Runtime(&'static str),
    /// Could be checked from code, but no rule covers it yet (reason given).
    NotCovered(&'static str),
}

use Cov::{NotCovered as No, Rules as R, Runtime as Rt};

const ACCOUNT: &str = "account state (who has which credentials, MFA devices, key age)";
const RUNTIME: &str = "run-time state of deployed resources";
const OUT: &str = "service outside Hippo's stack (no rule yet)";

/// AWS Config conformance pack "Operational Best Practices for HIPAA Security".
pub const AWS_CONFIG_HIPAA: &[(&str, Cov)] = &[
    ("access-keys-rotated", Rt(ACCOUNT)),
    ("acm-certificate-expiration-check", Rt(RUNTIME)),
    (
        "alb-http-to-https-redirection-check",
        R(&["HIPPO-AWS-ELB-002"]),
    ),
    ("alb-waf-enabled", R(&["HIPPO-AWS-WAF-001"])),
    (
        "api-gw-associated-with-waf",
        No("API Gateway WAF association not modelled yet"),
    ),
    (
        "api-gw-execution-logging-enabled",
        R(&["HIPPO-AWS-APIGW-001"]),
    ),
    (
        "api-gw-ssl-enabled",
        No("client certificates on API stages not modelled yet"),
    ),
    (
        "aurora-resources-protected-by-backup-plan",
        R(&["HIPPO-AWS-BAK-004"]),
    ),
    (
        "autoscaling-group-elb-healthcheck-required",
        No("availability tuning, not a PHI safeguard in the seeds"),
    ),
    (
        "autoscaling-launch-config-public-ip-disabled",
        R(&["HIPPO-AWS-NET-008"]),
    ),
    (
        "backup-plan-min-frequency-and-min-retention-check",
        R(&["HIPPO-AWS-BAK-001"]),
    ),
    ("backup-recovery-point-encrypted", R(&["HIPPO-AWS-BAK-002"])),
    (
        "backup-recovery-point-manual-deletion-disabled",
        No("backup vault access policies not modelled yet"),
    ),
    (
        "cloud-trail-cloud-watch-logs-enabled",
        R(&["HIPPO-AWS-CT-004"]),
    ),
    ("cloudtrail-enabled", R(&["HIPPO-AWS-CT-005"])),
    ("cloud-trail-encryption-enabled", R(&["HIPPO-AWS-CT-003"])),
    (
        "cloud-trail-log-file-validation-enabled",
        R(&["HIPPO-AWS-CT-002"]),
    ),
    ("cloudtrail-s3-dataevents-enabled", R(&["HIPPO-AWS-CT-006"])),
    (
        "cloudwatch-alarm-action-check",
        No("alarm actions not modelled yet"),
    ),
    (
        "codebuild-project-envvar-awscred-check",
        R(&["HIPPO-SECRET-001", "HIPPO-SECRET-003"]),
    ),
    (
        "codebuild-project-source-repo-url-check",
        R(&["HIPPO-SECRET-004"]),
    ),
    ("db-instance-backup-enabled", R(&["HIPPO-AWS-RDS-005"])),
    ("dms-replication-not-public", No(OUT)),
    (
        "dynamodb-autoscaling-enabled",
        No("capacity planning, not a PHI safeguard in the seeds"),
    ),
    ("dynamodb-in-backup-plan", R(&["HIPPO-AWS-BAK-004"])),
    ("dynamodb-pitr-enabled", R(&["HIPPO-AWS-DDB-001"])),
    ("dynamodb-throughput-limit-check", Rt(RUNTIME)),
    ("ebs-in-backup-plan", R(&["HIPPO-AWS-BAK-004"])),
    (
        "ebs-snapshot-public-restorable-check",
        Rt("snapshots are made at run time"),
    ),
    ("ec2-ebs-encryption-by-default", R(&["HIPPO-AWS-EBS-003"])),
    ("ec2-imdsv2-check", R(&["HIPPO-AWS-EC2-002"])),
    ("ec2-instance-managed-by-systems-manager", Rt(RUNTIME)),
    ("ec2-instance-no-public-ip", R(&["HIPPO-AWS-NET-008"])),
    ("ec2-instance-profile-attached", R(&["HIPPO-AWS-EC2-003"])),
    (
        "ec2-managedinstance-association-compliance-status-check",
        Rt(RUNTIME),
    ),
    (
        "ec2-managedinstance-patch-compliance-status-check",
        Rt(RUNTIME),
    ),
    (
        "ec2-resources-protected-by-backup-plan",
        No("EC2 instances in backup selections not modelled yet"),
    ),
    ("ec2-stopped-instance", Rt(RUNTIME)),
    ("ecs-containers-readonly-access", R(&["HIPPO-AWS-ECS-005"])),
    (
        "ecs-task-definition-user-for-host-mode-check",
        R(&["HIPPO-AWS-ECS-002"]),
    ),
    ("efs-encrypted-check", R(&["HIPPO-AWS-EFS-001"])),
    ("efs-in-backup-plan", R(&["HIPPO-AWS-BAK-004"])),
    ("elastic-beanstalk-managed-updates-enabled", No(OUT)),
    (
        "elasticache-redis-cluster-automatic-backup-check",
        R(&["HIPPO-AWS-ELC-003"]),
    ),
    ("elasticsearch-encrypted-at-rest", R(&["HIPPO-AWS-OS-001"])),
    ("elasticsearch-in-vpc-only", R(&["HIPPO-AWS-OS-003"])),
    ("elasticsearch-logs-to-cloudwatch", R(&["HIPPO-AWS-OS-004"])),
    (
        "elasticsearch-node-to-node-encryption-check",
        R(&["HIPPO-AWS-OS-002"]),
    ),
    (
        "elb-acm-certificate-required",
        No("certificate source of classic ELB listeners not modelled yet"),
    ),
    (
        "elb-cross-zone-load-balancing-enabled",
        No("availability tuning, not a PHI safeguard in the seeds"),
    ),
    ("elb-deletion-protection-enabled", R(&["HIPPO-AWS-ELB-006"])),
    ("elb-logging-enabled", R(&["HIPPO-AWS-ELB-003"])),
    (
        "elb-predefined-security-policy-ssl-check",
        R(&["HIPPO-AWS-ELB-001"]),
    ),
    ("elb-tls-https-listeners-only", R(&["HIPPO-AWS-ELB-005"])),
    (
        "elbv2-acm-certificate-required",
        No("certificate source of listeners not modelled yet"),
    ),
    ("emr-kerberos-enabled", No(OUT)),
    ("emr-master-no-public-ip", No(OUT)),
    (
        "encrypted-volumes",
        R(&["HIPPO-AWS-EBS-001", "HIPPO-AWS-EC2-001"]),
    ),
    ("guardduty-enabled-centralized", R(&["HIPPO-AWS-GD-001"])),
    (
        "iam-customer-policy-blocked-kms-actions",
        R(&["HIPPO-AWS-IAM-007"]),
    ),
    (
        "iam-inline-policy-blocked-kms-actions",
        R(&["HIPPO-AWS-IAM-007"]),
    ),
    ("iam-no-inline-policy-check", R(&["HIPPO-AWS-IAM-005"])),
    ("iam-password-policy", R(&["HIPPO-AWS-IAM-004"])),
    (
        "iam-policy-no-statements-with-admin-access",
        R(&["HIPPO-AWS-IAM-001"]),
    ),
    (
        "iam-policy-no-statements-with-full-access",
        R(&["HIPPO-AWS-IAM-006"]),
    ),
    ("iam-root-access-key-check", Rt(ACCOUNT)),
    ("iam-user-mfa-enabled", Rt(ACCOUNT)),
    ("iam-user-no-policies-check", R(&["HIPPO-AWS-IAM-002"])),
    ("iam-user-unused-credentials-check", Rt(ACCOUNT)),
    ("restricted-ssh", R(&["HIPPO-AWS-NET-002"])),
    (
        "ec2-instances-in-vpc",
        No("EC2-Classic is retired; not modelled"),
    ),
    (
        "internet-gateway-authorized-vpc-only",
        No("needs the list of authorised VPCs (deployment input)"),
    ),
    ("kinesis-stream-encrypted", R(&["HIPPO-AWS-KIN-001"])),
    ("kms-cmk-not-scheduled-for-deletion", Rt(RUNTIME)),
    (
        "lambda-function-public-access-prohibited",
        R(&["HIPPO-AWS-LAMBDA-001"]),
    ),
    ("mfa-enabled-for-iam-console-access", Rt(ACCOUNT)),
    ("multi-region-cloudtrail-enabled", R(&["HIPPO-AWS-CT-001"])),
    (
        "no-unrestricted-route-to-igw",
        No("public subnets legitimately route 0.0.0.0/0 to the IGW; needs subnet intent"),
    ),
    ("opensearch-encrypted-at-rest", R(&["HIPPO-AWS-OS-001"])),
    ("opensearch-https-required", R(&["HIPPO-AWS-OS-002"])),
    ("opensearch-in-vpc-only", R(&["HIPPO-AWS-OS-003"])),
    ("opensearch-logs-to-cloudwatch", R(&["HIPPO-AWS-OS-004"])),
    (
        "opensearch-node-to-node-encryption-check",
        R(&["HIPPO-AWS-OS-002"]),
    ),
    (
        "rds-automatic-minor-version-upgrade-enabled",
        R(&["HIPPO-AWS-RDS-010"]),
    ),
    (
        "rds-cluster-deletion-protection-enabled",
        R(&["HIPPO-AWS-RDS-007"]),
    ),
    ("rds-enhanced-monitoring-enabled", R(&["HIPPO-AWS-RDS-011"])),
    ("rds-in-backup-plan", R(&["HIPPO-AWS-BAK-004"])),
    (
        "rds-instance-public-access-check",
        R(&["HIPPO-AWS-RDS-003"]),
    ),
    ("rds-logging-enabled", R(&["HIPPO-AWS-RDS-006"])),
    ("rds-multi-az-support", R(&["HIPPO-AWS-RDS-004"])),
    (
        "rds-cluster-multi-az-enabled",
        No("Aurora availability comes from cluster instances in several AZs; not modelled yet"),
    ),
    (
        "rds-snapshot-encrypted",
        Rt("snapshots are made at run time"),
    ),
    (
        "rds-snapshots-public-prohibited",
        Rt("snapshots are made at run time"),
    ),
    ("rds-storage-encrypted", R(&["HIPPO-AWS-RDS-001"])),
    ("redshift-backup-enabled", R(&["HIPPO-AWS-RS-004"])),
    (
        "redshift-cluster-configuration-check",
        R(&["HIPPO-AWS-RS-001", "HIPPO-AWS-RS-003"]),
    ),
    (
        "redshift-cluster-maintenancesettings-check",
        No("maintenance settings not modelled yet"),
    ),
    (
        "redshift-cluster-public-access-check",
        R(&["HIPPO-AWS-RS-002"]),
    ),
    (
        "redshift-require-tls-ssl",
        No("Redshift parameter groups not modelled yet"),
    ),
    (
        "restricted-common-ports",
        R(&["HIPPO-AWS-NET-001", "HIPPO-AWS-NET-002"]),
    ),
    ("root-account-hardware-mfa-enabled", Rt(ACCOUNT)),
    ("root-account-mfa-enabled", Rt(ACCOUNT)),
    (
        "s3-account-level-public-access-blocks-periodic",
        R(&["HIPPO-AWS-S3-003"]),
    ),
    ("s3-bucket-acl-prohibited", R(&["HIPPO-AWS-S3-009"])),
    ("s3-bucket-default-lock-enabled", R(&["HIPPO-AWS-S3-010"])),
    (
        "s3-bucket-level-public-access-prohibited",
        R(&["HIPPO-AWS-S3-003"]),
    ),
    ("s3-bucket-logging-enabled", R(&["HIPPO-AWS-S3-005"])),
    (
        "s3-bucket-public-read-prohibited",
        R(&["HIPPO-AWS-S3-009", "HIPPO-AWS-S3-003"]),
    ),
    (
        "s3-bucket-public-write-prohibited",
        R(&["HIPPO-AWS-S3-009", "HIPPO-AWS-S3-003"]),
    ),
    ("s3-bucket-replication-enabled", R(&["HIPPO-AWS-S3-011"])),
    (
        "s3-bucket-server-side-encryption-enabled",
        R(&["HIPPO-AWS-S3-001"]),
    ),
    ("s3-bucket-ssl-requests-only", R(&["HIPPO-AWS-S3-008"])),
    ("s3-bucket-versioning-enabled", R(&["HIPPO-AWS-S3-004"])),
    ("s3-default-encryption-kms", R(&["HIPPO-AWS-S3-002"])),
    (
        "s3-event-notifications-enabled",
        No("operational notifications, not a PHI safeguard in the seeds"),
    ),
    (
        "s3-version-lifecycle-policy-check",
        R(&["HIPPO-AWS-S3-006"]),
    ),
    (
        "sagemaker-endpoint-configuration-kms-key-configured",
        No(OUT),
    ),
    ("sagemaker-notebook-instance-kms-key-configured", No(OUT)),
    ("sagemaker-notebook-no-direct-internet-access", No(OUT)),
    (
        "secretsmanager-rotation-enabled-check",
        R(&["HIPPO-AWS-SM-002"]),
    ),
    ("secretsmanager-using-cmk", R(&["HIPPO-AWS-SM-001"])),
    ("securityhub-enabled", Rt(ACCOUNT)),
    ("sns-encrypted-kms", R(&["HIPPO-AWS-SNS-001"])),
    (
        "ssm-document-not-public",
        No("SSM documents not modelled yet"),
    ),
    (
        "subnet-auto-assign-public-ip-disabled",
        R(&["HIPPO-AWS-NET-007"]),
    ),
    (
        "vpc-default-security-group-closed",
        R(&["HIPPO-AWS-NET-006"]),
    ),
    ("vpc-flow-logs-enabled", R(&["HIPPO-AWS-NET-005"])),
    (
        "vpc-sg-open-only-to-authorized-ports",
        R(&[
            "HIPPO-AWS-NET-001",
            "HIPPO-AWS-NET-002",
            "HIPPO-AWS-NET-003",
        ]),
    ),
    ("vpc-vpn-2-tunnels-up", Rt(RUNTIME)),
    (
        "wafv2-logging-enabled",
        No("WAF logging configuration not modelled yet"),
    ),
    (
        "annual-risk-assessment-performed",
        Rt("process evidence (risk assessment), not configuration"),
    ),
];

/// Prowler's HIPAA mapping (checks named in prowler/compliance/aws/hipaa_aws.json).
pub const PROWLER_HIPAA: &[(&str, Cov)] = &[
    ("acm_certificates_expiration_check", Rt(RUNTIME)),
    (
        "apigateway_restapi_logging_enabled",
        R(&["HIPPO-AWS-APIGW-001"]),
    ),
    (
        "awslambda_function_not_publicly_accessible",
        R(&["HIPPO-AWS-LAMBDA-001"]),
    ),
    (
        "awslambda_function_url_public",
        No("Lambda function URLs not modelled yet"),
    ),
    (
        "cloudfront_distributions_https_enabled",
        No("CloudFront is outside Hippo's stack (no rule yet)"),
    ),
    ("cloudtrail_bedrock_logging_enabled", No(OUT)),
    (
        "cloudtrail_cloudwatch_logging_enabled",
        R(&["HIPPO-AWS-CT-004"]),
    ),
    (
        "cloudtrail_kms_encryption_enabled",
        R(&["HIPPO-AWS-CT-003"]),
    ),
    (
        "cloudtrail_log_file_validation_enabled",
        R(&["HIPPO-AWS-CT-002"]),
    ),
    ("cloudtrail_multi_region_enabled", R(&["HIPPO-AWS-CT-001"])),
    (
        "cloudtrail_s3_dataevents_read_enabled",
        R(&["HIPPO-AWS-CT-006"]),
    ),
    (
        "cloudtrail_s3_dataevents_write_enabled",
        R(&["HIPPO-AWS-CT-006"]),
    ),
    (
        "cloudwatch_changes_to_network_acls_alarm_configured",
        No("metric filters and alarms not modelled yet"),
    ),
    (
        "cloudwatch_changes_to_network_gateways_alarm_configured",
        No("metric filters and alarms not modelled yet"),
    ),
    (
        "cloudwatch_changes_to_network_route_tables_alarm_configured",
        No("metric filters and alarms not modelled yet"),
    ),
    (
        "cloudwatch_changes_to_vpcs_alarm_configured",
        No("metric filters and alarms not modelled yet"),
    ),
    (
        "cloudwatch_log_group_kms_encryption_enabled",
        R(&["HIPPO-AWS-CW-002"]),
    ),
    (
        "cloudwatch_log_group_retention_policy_specific_days_enabled",
        R(&["HIPPO-AWS-CW-001"]),
    ),
    (
        "cloudwatch_log_metric_filter_authentication_failures",
        No("metric filters and alarms not modelled yet"),
    ),
    (
        "cloudwatch_log_metric_filter_root_usage",
        No("metric filters and alarms not modelled yet"),
    ),
    ("config_recorder_all_regions_enabled", Rt(ACCOUNT)),
    (
        "dynamodb_accelerator_cluster_encryption_enabled",
        No("DAX is outside Hippo's stack (no rule yet)"),
    ),
    (
        "dynamodb_tables_kms_cmk_encryption_enabled",
        R(&["HIPPO-AWS-DDB-002"]),
    ),
    ("dynamodb_tables_pitr_enabled", R(&["HIPPO-AWS-DDB-001"])),
    (
        "ec2_confidential_workload_host_imdsv2_not_enforced",
        R(&["HIPPO-AWS-EC2-002"]),
    ),
    (
        "ec2_confidential_workload_host_public_ip",
        R(&["HIPPO-AWS-NET-008"]),
    ),
    (
        "ec2_confidential_workload_host_unrestricted_ingress",
        R(&["HIPPO-AWS-NET-003"]),
    ),
    (
        "ec2_confidential_workload_host_vsock_proxy_exposed",
        Rt(RUNTIME),
    ),
    ("ec2_ebs_default_encryption", R(&["HIPPO-AWS-EBS-003"])),
    (
        "ec2_ebs_public_snapshot",
        Rt("snapshots are made at run time"),
    ),
    (
        "ec2_ebs_volume_encryption",
        R(&["HIPPO-AWS-EBS-001", "HIPPO-AWS-EC2-001"]),
    ),
    ("ec2_instance_managed_by_ssm", Rt(RUNTIME)),
    ("ec2_instance_older_than_specific_days", Rt(RUNTIME)),
    ("ec2_instance_public_ip", R(&["HIPPO-AWS-NET-008"])),
    (
        "ec2_networkacl_allow_ingress_any_port",
        No("network ACLs not modelled yet (optional in seed 001)"),
    ),
    (
        "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
        R(&["HIPPO-AWS-NET-002"]),
    ),
    ("efs_encryption_at_rest_enabled", R(&["HIPPO-AWS-EFS-001"])),
    ("efs_have_backup_enabled", R(&["HIPPO-AWS-BAK-004"])),
    (
        "eks_cluster_kms_cmk_encryption_in_secrets_enabled",
        R(&["HIPPO-AWS-EKS-003"]),
    ),
    ("elb_logging_enabled", R(&["HIPPO-AWS-ELB-003"])),
    (
        "elb_ssl_listeners",
        R(&["HIPPO-AWS-ELB-005", "HIPPO-AWS-ELB-002"]),
    ),
    ("elbv2_deletion_protection", R(&["HIPPO-AWS-ELB-006"])),
    ("elbv2_logging_enabled", R(&["HIPPO-AWS-ELB-003"])),
    ("emr_cluster_master_nodes_no_public_ip", No(OUT)),
    ("guardduty_is_enabled", R(&["HIPPO-AWS-GD-001"])),
    (
        "guardduty_no_high_severity_findings",
        Rt("findings exist only at run time"),
    ),
    (
        "iam_aws_attached_policy_no_administrative_privileges",
        R(&["HIPPO-AWS-IAM-001"]),
    ),
    (
        "iam_customer_attached_policy_no_administrative_privileges",
        R(&["HIPPO-AWS-IAM-001"]),
    ),
    (
        "iam_inline_policy_no_administrative_privileges",
        R(&["HIPPO-AWS-IAM-001", "HIPPO-AWS-IAM-005"]),
    ),
    (
        "iam_inline_policy_no_wildcard_marketplace_subscribe",
        No("Marketplace actions not flagged yet"),
    ),
    ("iam_no_root_access_key", Rt(ACCOUNT)),
    ("iam_password_policy_lowercase", R(&["HIPPO-AWS-IAM-004"])),
    (
        "iam_password_policy_minimum_length_14",
        R(&["HIPPO-AWS-IAM-004"]),
    ),
    ("iam_password_policy_number", R(&["HIPPO-AWS-IAM-004"])),
    ("iam_password_policy_reuse_24", R(&["HIPPO-AWS-IAM-004"])),
    ("iam_password_policy_symbol", R(&["HIPPO-AWS-IAM-004"])),
    ("iam_password_policy_uppercase", R(&["HIPPO-AWS-IAM-004"])),
    (
        "iam_policy_no_wildcard_marketplace_subscribe",
        No("Marketplace actions not flagged yet"),
    ),
    ("iam_root_hardware_mfa_enabled", Rt(ACCOUNT)),
    ("iam_root_mfa_enabled", Rt(ACCOUNT)),
    ("iam_rotate_access_key_90_days", Rt(ACCOUNT)),
    ("iam_user_accesskey_unused", Rt(ACCOUNT)),
    ("iam_user_console_access_unused", Rt(ACCOUNT)),
    ("iam_user_mfa_enabled_console_access", Rt(ACCOUNT)),
    (
        "kms_cmk_rotation_enabled",
        R(&["HIPPO-AWS-KMS-001", "HIPPO-AWS-KMS-002"]),
    ),
    (
        "kms_key_enclave_attestation_bypassable_path",
        No("Nitro Enclave attestation policies not modelled"),
    ),
    (
        "kms_key_enclave_attestation_not_enforced",
        No("Nitro Enclave attestation policies not modelled"),
    ),
    ("kms_key_enclave_attestation_pcr_mismatch", Rt(RUNTIME)),
    ("kms_key_enclave_attestation_unknown_image", Rt(RUNTIME)),
    ("kms_key_enclave_debug_attestation_detected", Rt(RUNTIME)),
    (
        "opensearch_service_domains_encryption_at_rest_enabled",
        R(&["HIPPO-AWS-OS-001"]),
    ),
    (
        "opensearch_service_domains_node_to_node_encryption_enabled",
        R(&["HIPPO-AWS-OS-002"]),
    ),
    ("rds_instance_backup_enabled", R(&["HIPPO-AWS-RDS-005"])),
    (
        "rds_instance_integration_cloudwatch_logs",
        R(&["HIPPO-AWS-RDS-006"]),
    ),
    ("rds_instance_multi_az", R(&["HIPPO-AWS-RDS-004"])),
    (
        "rds_instance_no_public_access",
        R(&["HIPPO-AWS-RDS-003", "HIPPO-AWS-NET-004"]),
    ),
    ("rds_instance_storage_encrypted", R(&["HIPPO-AWS-RDS-001"])),
    (
        "rds_snapshots_public_access",
        Rt("snapshots are made at run time"),
    ),
    ("redshift_cluster_audit_logging", R(&["HIPPO-AWS-RS-003"])),
    (
        "redshift_cluster_automated_snapshot",
        R(&["HIPPO-AWS-RS-004"]),
    ),
    ("redshift_cluster_public_access", R(&["HIPPO-AWS-RS-002"])),
    (
        "s3_account_level_public_access_blocks",
        R(&["HIPPO-AWS-S3-003"]),
    ),
    ("s3_bucket_default_encryption", R(&["HIPPO-AWS-S3-001"])),
    ("s3_bucket_object_versioning", R(&["HIPPO-AWS-S3-004"])),
    (
        "s3_bucket_policy_public_write_access",
        R(&["HIPPO-AWS-S3-003"]),
    ),
    (
        "s3_bucket_public_access",
        R(&["HIPPO-AWS-S3-003", "HIPPO-AWS-S3-009"]),
    ),
    (
        "s3_bucket_secure_transport_policy",
        R(&["HIPPO-AWS-S3-008"]),
    ),
    (
        "s3_bucket_server_access_logging_enabled",
        R(&["HIPPO-AWS-S3-005"]),
    ),
    ("sagemaker_notebook_instance_encryption_enabled", No(OUT)),
    (
        "sagemaker_notebook_instance_without_direct_internet_access_configured",
        No(OUT),
    ),
    (
        "secretsmanager_automatic_rotation_enabled",
        R(&["HIPPO-AWS-SM-002"]),
    ),
    ("securityhub_enabled", Rt(ACCOUNT)),
    (
        "sns_topics_kms_encryption_at_rest_enabled",
        R(&["HIPPO-AWS-SNS-001"]),
    ),
    ("ssm_managed_compliant_patching", Rt(RUNTIME)),
    ("vpc_flow_logs_enabled", R(&["HIPPO-AWS-NET-005"])),
];

/// Renders both tables as Markdown.
pub fn markdown() -> String {
    let mut s = String::from(
        "\n## Coverage of the AWS Config HIPAA pack and Prowler's HIPAA mapping\n\n\
         Every check of the AWS Config conformance pack *Operational Best Practices for HIPAA Security* and every check named in Prowler's HIPAA mapping, with the rules that cover it. \
         **Cannot be checked from code** marks live account or run-time state (credentials, MFA devices, findings, snapshots, patch status): run AWS Config or Prowler against the deployed account for those. \
         **Not covered yet** marks checks that code could answer but no rule does in this version, with the reason.\n",
    );
    for (title, table) in [
        (
            "AWS Config: Operational Best Practices for HIPAA Security",
            AWS_CONFIG_HIPAA,
        ),
        ("Prowler: HIPAA mapping", PROWLER_HIPAA),
    ] {
        let (mut covered, mut runtime, mut open) = (0, 0, 0);
        let mut rows = String::new();
        for (check, cov) in table {
            let cell = match cov {
                Cov::Rules(ids) => {
                    covered += 1;
                    ids.join(", ")
                }
                Cov::Runtime(why) => {
                    runtime += 1;
                    format!("cannot be checked from code: {why}")
                }
                Cov::NotCovered(why) => {
                    open += 1;
                    format!("not covered yet: {why}")
                }
            };
            rows.push_str(&format!("| `{check}` | {cell} |\n"));
        }
        s.push_str(&format!(
            "\n### {title}\n\n{} checks: {covered} covered, {runtime} cannot be checked from code, {open} not covered yet.\n\n| Check | hippo check |\n|---|---|\n{rows}",
            table.len()
        ));
    }
    s.push_str("\nOrganisational items of the seeds (the signed BAA, risk assessments, training, incident response, restore tests and DR drills) are process evidence, not configuration, and are outside any code scanner.\n");
    s
}
