# The keyring's own KMS key (issue 20): the keyring secret (secrets.tf) holds the keyring sealed
# by this key (`hippo keyring generate --kms-key-id`), so reading the secret alone reveals
# nothing. Each task opens it once at start with kms:Decrypt, allowed only to the task role and
# only for ciphertexts whose encryption context says they are a Hippo keyring; every Decrypt is
# a CloudTrail event. A task that cannot reach KMS does not start.

data "aws_iam_policy_document" "kms_keyring" {
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

resource "aws_kms_key" "keyring" {
  description             = "${local.prefix} hippo keyring (seals the keyring secret)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_keyring.json
}

resource "aws_kms_alias" "keyring" {
  name          = "alias/${local.prefix}-keyring"
  target_key_id = aws_kms_key.keyring.key_id
}

data "aws_iam_policy_document" "task_keyring" {
  statement {
    sid       = "OpenSealedKeyring"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.keyring.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:hippo:purpose"
      values   = ["keyring"]
    }
  }
}

# hippo:ignore HIPPO-AWS-IAM-005 reason="policy is scoped to this one role and one key by ARN; an inline policy cannot be attached elsewhere by mistake"
resource "aws_iam_role_policy" "task_keyring" {
  name   = "keyring"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_keyring.json
}
