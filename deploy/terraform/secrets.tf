# Secrets Manager. Terraform creates the secrets (CMK-encrypted, rotation scheduled) but never
# their values, so no secret is in this repository, in the Terraform state or in a task
# definition's `environment`. ECS injects them through the container's `secrets` (ecs.tf).
#
#   database_url  - the URL hippo connects with, as the `hippo_service` login (not the master
#                   user: no superuser rights; it owns schema `hippo`, and hippo runs every
#                   transaction as the NOLOGIN, non-BYPASSRLS role `hippo_app` its migrations make):
#                   postgres://hippo_service:<password>@<endpoint>:5432/hippo?sslmode=verify-full&sslrootcert=/etc/hippo/certs/rds-global-bundle.pem
#                   Put the first value with `aws secretsmanager put-secret-value` (docs/deploy.md);
#                   rotated every 30 days by the rotation function you provide.
#   RDS master    - created and rotated by RDS itself (rds.tf, manage_master_user_password);
#                   the rotation schedule is set below. Used only for break-glass administration.

resource "aws_secretsmanager_secret" "database_url" {
  name                    = "${local.prefix}/database-url"
  description             = "hippo: PostgreSQL URL of the hippo_service login (sslmode=verify-full); injected as HIPPO_DATABASE_URL"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_rotation" "database_url" {
  secret_id           = aws_secretsmanager_secret.database_url.id
  rotation_lambda_arn = var.database_url_rotation_lambda_arn

  # The first value is put by hand after apply (docs/deploy.md, step 4): nothing to rotate yet.
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = 30
  }
}

# RDS-managed master secret: managed rotation (no Lambda), every 30 days.
resource "aws_secretsmanager_secret_rotation" "rds_master" {
  secret_id          = aws_db_instance.main.master_user_secret[0].secret_arn
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = 30
  }
}
