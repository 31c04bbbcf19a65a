# Account-level detective controls for the region: GuardDuty, Security Hub, AWS Config with
# managed rules mirroring this stack's checklist, and EBS encryption by default.
# Each of these is one per account and region: if your organisation already enables them
# centrally, import the existing ones (docs/deploy.md) rather than deleting these blocks.

resource "aws_guardduty_detector" "main" {
  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
}

resource "aws_guardduty_detector_feature" "s3_data_events" {
  detector_id = aws_guardduty_detector.main.id
  name        = "S3_DATA_EVENTS"
  status      = "ENABLED"
}

resource "aws_guardduty_detector_feature" "rds_login_events" {
  detector_id = aws_guardduty_detector.main.id
  name        = "RDS_LOGIN_EVENTS"
  status      = "ENABLED"
}

# Security Hub. There is no HIPAA standard in Security Hub (HIPAA coverage comes from the AWS
# Config rules below and AWS Audit Manager's HIPAA framework); these three standards cover the
# technical controls.
resource "aws_securityhub_account" "main" {
  enable_default_standards  = false
  auto_enable_controls      = true
  control_finding_generator = "SECURITY_CONTROL"
}

resource "aws_securityhub_standards_subscription" "fsbp" {
  standards_arn = "arn:${local.partition}:securityhub:${local.region}::standards/aws-foundational-security-best-practices/v/1.0.0"

  depends_on = [aws_securityhub_account.main]
}

resource "aws_securityhub_standards_subscription" "cis" {
  standards_arn = "arn:${local.partition}:securityhub:${local.region}::standards/cis-aws-foundations-benchmark/v/3.0.0"

  depends_on = [aws_securityhub_account.main]
}

resource "aws_securityhub_standards_subscription" "nist_800_53" {
  standards_arn = "arn:${local.partition}:securityhub:${local.region}::standards/nist-800-53/v/5.0.0"

  depends_on = [aws_securityhub_account.main]
}

resource "aws_ebs_encryption_by_default" "main" {
  enabled = true
}

# --- AWS Config ------------------------------------------------------------------------------

resource "aws_config_configuration_recorder" "main" {
  name     = "${local.prefix}-recorder"
  role_arn = aws_iam_role.config.arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "main" {
  name           = "${local.prefix}-delivery"
  s3_bucket_name = aws_s3_bucket.trail.id
  s3_key_prefix  = "config"
  s3_kms_key_arn = aws_kms_key.logs.arn

  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }

  depends_on = [aws_config_configuration_recorder.main, aws_s3_bucket_policy.trail]
}

resource "aws_config_configuration_recorder_status" "main" {
  name       = aws_config_configuration_recorder.main.name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.main]
}

# AWS managed Config rules without parameters, one per checklist item they verify.
locals {
  config_managed_rules = {
    "s3-bucket-public-read-prohibited"         = "S3_BUCKET_PUBLIC_READ_PROHIBITED"
    "s3-bucket-public-write-prohibited"        = "S3_BUCKET_PUBLIC_WRITE_PROHIBITED"
    "s3-bucket-ssl-requests-only"              = "S3_BUCKET_SSL_REQUESTS_ONLY"
    "s3-bucket-sse-enabled"                    = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
    "s3-bucket-versioning-enabled"             = "S3_BUCKET_VERSIONING_ENABLED"
    "s3-bucket-logging-enabled"                = "S3_BUCKET_LOGGING_ENABLED"
    "s3-account-level-public-access-blocks"    = "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC"
    "rds-storage-encrypted"                    = "RDS_STORAGE_ENCRYPTED"
    "rds-multi-az-support"                     = "RDS_MULTI_AZ_SUPPORT"
    "rds-instance-public-access-check"         = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK"
    "rds-instance-deletion-protection-enabled" = "RDS_INSTANCE_DELETION_PROTECTION_ENABLED"
    "rds-logging-enabled"                      = "RDS_LOGGING_ENABLED"
    "rds-snapshot-encrypted"                   = "RDS_SNAPSHOT_ENCRYPTED"
    "rds-iam-authentication-enabled"           = "RDS_INSTANCE_IAM_AUTHENTICATION_ENABLED"
    "rds-automatic-minor-version-upgrade"      = "RDS_AUTOMATIC_MINOR_VERSION_UPGRADE_ENABLED"
    "rds-enhanced-monitoring-enabled"          = "RDS_ENHANCED_MONITORING_ENABLED"
    "multi-region-cloudtrail-enabled"          = "MULTI_REGION_CLOUD_TRAIL_ENABLED"
    "cloudtrail-log-file-validation"           = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"
    "cloudtrail-encryption-enabled"            = "CLOUD_TRAIL_ENCRYPTION_ENABLED"
    "cloudtrail-cloudwatch-logs-enabled"       = "CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED"
    "cloudwatch-log-group-encrypted"           = "CLOUDWATCH_LOG_GROUP_ENCRYPTED"
    "vpc-flow-logs-enabled"                    = "VPC_FLOW_LOGS_ENABLED"
    "vpc-default-security-group-closed"        = "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
    "restricted-ssh"                           = "INCOMING_SSH_DISABLED"
    "guardduty-enabled"                        = "GUARDDUTY_ENABLED_CENTRALIZED"
    "securityhub-enabled"                      = "SECURITYHUB_ENABLED"
    "kms-cmk-rotation-enabled"                 = "CMK_BACKING_KEY_ROTATION_ENABLED"
    "alb-http-to-https-redirection"            = "ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK"
    "alb-http-drop-invalid-header-enabled"     = "ALB_HTTP_DROP_INVALID_HEADER_ENABLED"
    "alb-waf-enabled"                          = "ALB_WAF_ENABLED"
    "elb-deletion-protection-enabled"          = "ELB_DELETION_PROTECTION_ENABLED"
    "elb-logging-enabled"                      = "ELB_LOGGING_ENABLED"
    "ecs-containers-readonly-access"           = "ECS_CONTAINERS_READONLY_ACCESS"
    "ecs-containers-nonprivileged"             = "ECS_CONTAINERS_NONPRIVILEGED"
    "ecs-task-definition-nonroot-user"         = "ECS_TASK_DEFINITION_NONROOT_USER"
    "ecs-no-environment-secrets"               = "ECS_NO_ENVIRONMENT_SECRETS"
    "ecs-awsvpc-networking-enabled"            = "ECS_AWSVPC_NETWORKING_ENABLED"
    "ecr-private-image-scanning-enabled"       = "ECR_PRIVATE_IMAGE_SCANNING_ENABLED"
    "secretsmanager-rotation-enabled"          = "SECRETSMANAGER_ROTATION_ENABLED_CHECK"
    "secretsmanager-using-cmk"                 = "SECRETSMANAGER_USING_CMK"
    "iam-root-access-key-check"                = "IAM_ROOT_ACCESS_KEY_CHECK"
    "root-account-mfa-enabled"                 = "ROOT_ACCOUNT_MFA_ENABLED"
    "mfa-enabled-for-iam-console-access"       = "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS"
    "iam-user-no-policies-check"               = "IAM_USER_NO_POLICIES_CHECK"
    "ec2-ebs-encryption-by-default"            = "EC2_EBS_ENCRYPTION_BY_DEFAULT"
  }
}

resource "aws_config_config_rule" "managed" {
  for_each = local.config_managed_rules

  name = "${local.prefix}-${each.key}"

  source {
    owner             = "AWS"
    source_identifier = each.value
  }

  depends_on = [aws_config_configuration_recorder.main]
}

# Rules with parameters: six-year log retention, 35-day backups, restricted database ports.
resource "aws_config_config_rule" "cw_log_group_retention" {
  name = "${local.prefix}-cw-loggroup-retention-period-check"

  source {
    owner             = "AWS"
    source_identifier = "CW_LOGGROUP_RETENTION_PERIOD_CHECK"
  }

  input_parameters = jsonencode({
    MinRetentionTime = "2192"
  })

  depends_on = [aws_config_configuration_recorder.main]
}

resource "aws_config_config_rule" "db_backup_retention" {
  name = "${local.prefix}-db-instance-backup-enabled"

  source {
    owner             = "AWS"
    source_identifier = "DB_INSTANCE_BACKUP_ENABLED"
  }

  input_parameters = jsonencode({
    backupRetentionMinimum = "35"
  })

  depends_on = [aws_config_configuration_recorder.main]
}

resource "aws_config_config_rule" "restricted_db_ports" {
  name = "${local.prefix}-restricted-common-ports"

  source {
    owner             = "AWS"
    source_identifier = "RESTRICTED_INCOMING_TRAFFIC"
  }

  input_parameters = jsonencode({
    blockedPort1 = "5432"
    blockedPort2 = "3306"
    blockedPort3 = "1433"
    blockedPort4 = "3389"
    blockedPort5 = "22"
  })

  depends_on = [aws_config_configuration_recorder.main]
}

resource "aws_config_config_rule" "backup_plan_retention" {
  name = "${local.prefix}-backup-plan-min-frequency-and-min-retention"

  source {
    owner             = "AWS"
    source_identifier = "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"
  }

  input_parameters = jsonencode({
    requiredFrequencyValue = "1"
    requiredFrequencyUnit  = "days"
    requiredRetentionDays  = "35"
  })

  depends_on = [aws_config_configuration_recorder.main]
}
