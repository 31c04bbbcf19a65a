# Secrets Manager. Terraform creates the secrets (CMK-encrypted; rotation scheduled where a new
# value can simply replace the old one, so not for the keyring, see below) but never their
# values, so no secret is in this repository, in the Terraform state or in a task definition's
# `environment`. ECS injects them through the container's `secrets` (ecs.tf).
#
#   database_url  - the URL hippo connects with, as the `hippo_service` login (not the master
#                   user: no superuser rights; it owns schema `hippo`, and hippo runs every
#                   transaction as the NOLOGIN, non-BYPASSRLS role `hippo_app` its migrations make):
#                   postgres://hippo_service:<password>@<endpoint>:5432/hippo?sslmode=verify-full&sslrootcert=/etc/hippo/certs/rds-global-bundle.pem
#                   Put the first value with `aws secretsmanager put-secret-value` (docs/deploy.md);
#                   rotated every 30 days by the rotation function you provide.
#   RDS master    - created and rotated by RDS itself (rds.tf, manage_master_user_password);
#                   the rotation schedule is set below. Used only for break-glass administration.
#   keyring       - hippo's keyring: a JSON document with the key-encryption key and the Ed25519
#                   seed that signs the audit log's Merkle tree heads (and keys the HMAC redaction
#                   of audit details). Every task must use the same one, so it is this secret,
#                   injected as HIPPO_KEYRING. Not rotated automatically (see below).

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

# The keyring shared by every hippo task. Terraform creates the secret, never its value: the
# operator puts it once, before the first hippo task starts, from a trusted workstation, piped so
# it never lands on disk (docs/deploy.md, step 4):
#   hippo keyring generate | aws secretsmanager put-secret-value \
#     --secret-id <keyring_secret_arn> --secret-string file:///dev/stdin
# On its first start hippo pins the keyring's public key and a check value in the database and
# from then on refuses to start any task whose keyring differs, so a missing or wrong value stops
# the deployment instead of splitting the audit trail between signing keys.
#
# No aws_secretsmanager_secret_rotation, on purpose: a new value would be a new signing key and a
# new redaction key, which hippo refuses against the pinned database (the audit trail would need a
# signed key-transition record to stay verifiable across the change, and hippo has none). Replacing
# the keyring is a manual, documented procedure (docs/deploy.md, "Key and secret rotation").
# hippo:ignore HIPPO-AWS-SM-002 reason="the keyring holds the audit tree-head signing key pinned in the database; an automatic rotation would make every task refuse to start; replacement is a documented manual procedure (docs/deploy.md)" until=2027-06-30
resource "aws_secretsmanager_secret" "keyring" {
  name                    = "${local.prefix}/keyring"
  description             = "hippo: keyring JSON (KEK and audit tree-head signing seed) shared by every task; injected as HIPPO_KEYRING; value from `hippo keyring generate`"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

# The keyring's escrow copy (`hippo keyring escrow`: the keyring sealed to a recovery passphrase
# with Argon2id and AES-256-GCM), replicated to dr_region under that region's own CMK, so that a
# region's loss (and with it the keyring secret above) does not make every backup noise. No hippo
# task can read it (no IAM grant in iam.tf): only the break-glass recovery role of the key-custody
# procedure. The passphrase is kept apart from AWS (split between two custodians). The value is
# put once, like the keyring's (docs/deploy.md, step 4, and "Backup, restore and DR drill").
# hippo:ignore HIPPO-AWS-SM-002 reason="an escrow copy of the keyring, replaced only when the keyring is (a documented manual procedure); automatic rotation would desynchronise it from the keyring it recovers" until=2027-06-30
resource "aws_secretsmanager_secret" "keyring_escrow" {
  name                    = "${local.prefix}/keyring-escrow"
  description             = "hippo: keyring sealed to a recovery passphrase (hippo keyring escrow), for restores after a region loss; replicated to the DR region"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30

  replica {
    region     = var.dr_region
    kms_key_id = aws_kms_key.secrets_dr.arn
  }
}
