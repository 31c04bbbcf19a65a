# Customer-managed KMS keys, one per purpose (seed: "Separate keys per service", "Key rotation
# enabled", "Key policies restrict access"). Every key rotates yearly and has a 30-day deletion
# window. Each policy lets the account's IAM policies grant use (so roles get exactly what
# iam.tf gives them) and lets only the named AWS service use the key, for this account.

locals {
  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"
}

# --- RDS: database storage, snapshots, Performance Insights -----------------------------------

data "aws_iam_policy_document" "kms_rds" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  statement {
    sid       = "RdsUsesKeyForThisAccount"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["rds.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "rds" {
  description             = "${local.prefix} RDS PostgreSQL storage, snapshots and Performance Insights"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_rds.json
}

resource "aws_kms_alias" "rds" {
  name          = "alias/${local.prefix}-rds"
  target_key_id = aws_kms_key.rds.key_id
}

# --- S3: the audit export bucket ---------------------------------------------------------------

data "aws_iam_policy_document" "kms_s3" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }
}

resource "aws_kms_key" "s3" {
  description             = "${local.prefix} S3 audit export bucket"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_s3.json
}

resource "aws_kms_alias" "s3" {
  name          = "alias/${local.prefix}-s3"
  target_key_id = aws_kms_key.s3.key_id
}

# --- Logs: CloudWatch log groups, CloudTrail, AWS Config delivery, the alarm topic -------------

data "aws_iam_policy_document" "kms_logs" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsThisAccountsGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudTrailEncryptsThisAccountsTrails"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudTrailDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }

  statement {
    sid       = "ConfigDeliversEncryptedSnapshots"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "AlarmSourcesPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "backup.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${local.prefix} CloudWatch Logs, CloudTrail, AWS Config and alarm topic"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_logs.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.prefix}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

# --- Secrets: Secrets Manager secrets (database URL, RDS master password, keyring) -------------

data "aws_iam_policy_document" "kms_secrets" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  statement {
    sid       = "SecretsManagerUsesKeyForThisAccount"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "secretsmanager.${var.dr_region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "secrets" {
  description             = "${local.prefix} Secrets Manager secrets"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_secrets.json
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.prefix}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

# --- Compute: ECR images and Fargate ephemeral storage (the task's data directory) -------------

data "aws_iam_policy_document" "kms_compute" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  statement {
    sid       = "FargateEncryptsEphemeralStorage"
    actions   = ["kms:GenerateDataKeyWithoutPlaintext"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["fargate.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:ecs:clusterAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:ecs:clusterName"
      values   = ["${local.prefix}-cluster"]
    }
  }

  statement {
    sid       = "FargateGrantsForEphemeralStorage"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["fargate.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:ecs:clusterAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:ecs:clusterName"
      values   = ["${local.prefix}-cluster"]
    }

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:GrantOperations"
      values   = ["Decrypt"]
    }
  }

  statement {
    sid       = "FargateDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["fargate.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "compute" {
  description             = "${local.prefix} ECR images and Fargate ephemeral storage"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_compute.json
}

resource "aws_kms_alias" "compute" {
  name          = "alias/${local.prefix}-compute"
  target_key_id = aws_kms_key.compute.key_id
}

# --- Backup: the AWS Backup vault in the primary region and its DR copy ------------------------

data "aws_iam_policy_document" "kms_backup" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }
}

resource "aws_kms_key" "backup" {
  description             = "${local.prefix} AWS Backup vault"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_backup.json
}

resource "aws_kms_alias" "backup" {
  name          = "alias/${local.prefix}-backup"
  target_key_id = aws_kms_key.backup.key_id
}

resource "aws_kms_key" "backup_dr" {
  provider = aws.dr

  description             = "${local.prefix} AWS Backup vault (disaster-recovery region)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_backup.json
}

resource "aws_kms_alias" "backup_dr" {
  provider = aws.dr

  name          = "alias/${local.prefix}-backup"
  target_key_id = aws_kms_key.backup_dr.key_id
}

# The DR region's key for the replica of the keyring escrow secret (secrets.tf): a replica is
# encrypted under a key of its own region. Same policy as the primary secrets key, whose
# ViaService condition names both regions' Secrets Manager.
resource "aws_kms_key" "secrets_dr" {
  provider = aws.dr

  description             = "${local.prefix} Secrets Manager replicas (disaster-recovery region)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_secrets.json
}

resource "aws_kms_alias" "secrets_dr" {
  provider = aws.dr

  name          = "alias/${local.prefix}-secrets"
  target_key_id = aws_kms_key.secrets_dr.key_id
}
