# AWS Backup: continuous backup (point-in-time restore) and daily RDS snapshots, kept 35 days in
# a CMK-encrypted, locked vault; each daily snapshot is copied to a vault in the DR region.
# This is on top of RDS's own 35-day automated backups (rds.tf).

resource "aws_backup_vault" "main" {
  name          = "${local.prefix}-vault"
  kms_key_arn   = aws_kms_key.backup.arn
  force_destroy = false
}

# Vault Lock in governance mode: recovery points cannot be deleted before 35 days by anyone
# without the backup:DeleteBackupVaultLockConfiguration permission. To make it immutable
# (compliance mode), add changeable_for_days: after that many days nobody, AWS included,
# can remove the lock.
resource "aws_backup_vault_lock_configuration" "main" {
  backup_vault_name  = aws_backup_vault.main.name
  min_retention_days = 35
  max_retention_days = 2192
}

resource "aws_backup_vault" "dr" {
  provider = aws.dr

  name          = "${local.prefix}-vault-dr"
  kms_key_arn   = aws_kms_key.backup_dr.arn
  force_destroy = false
}

resource "aws_backup_vault_lock_configuration" "dr" {
  provider = aws.dr

  backup_vault_name  = aws_backup_vault.dr.name
  min_retention_days = 35
  max_retention_days = 2192
}

resource "aws_backup_vault_notifications" "main" {
  backup_vault_name   = aws_backup_vault.main.name
  sns_topic_arn       = aws_sns_topic.security_alarms.arn
  backup_vault_events = ["BACKUP_JOB_FAILED", "COPY_JOB_FAILED", "RESTORE_JOB_COMPLETED", "S3_BACKUP_OBJECT_FAILED"]
}

# Two rules, as AWS Backup requires for RDS: continuous backup (point-in-time restore) cannot be
# copied across regions, so the daily snapshot rule carries the DR copy.
resource "aws_backup_plan" "main" {
  name = "${local.prefix}-plan"

  rule {
    rule_name                = "continuous-35-days"
    target_vault_name        = aws_backup_vault.main.name
    schedule                 = "cron(0 5 * * ? *)"
    start_window             = 60
    completion_window        = 360
    enable_continuous_backup = true

    lifecycle {
      delete_after = 35
    }

    recovery_point_tags = {
      Application = var.name
      Environment = var.environment
      Kind        = "continuous"
    }
  }

  rule {
    rule_name                = "daily-35-days-dr-copy"
    target_vault_name        = aws_backup_vault.main.name
    schedule                 = "cron(0 6 * * ? *)"
    start_window             = 60
    completion_window        = 360
    enable_continuous_backup = false

    lifecycle {
      delete_after = 35
    }

    copy_action {
      destination_vault_arn = aws_backup_vault.dr.arn

      lifecycle {
        delete_after = 35
      }
    }

    recovery_point_tags = {
      Application = var.name
      Environment = var.environment
      Kind        = "daily"
    }
  }
}

resource "aws_backup_selection" "rds" {
  name         = "${local.prefix}-rds"
  plan_id      = aws_backup_plan.main.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_db_instance.main.arn]
}
