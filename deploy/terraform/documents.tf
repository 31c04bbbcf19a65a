# Documents (issue 20): the bucket where hippo keeps sealed clinical documents (referral
# letters, consent forms, lab PDFs, images) and its own KMS key. Objects are sealed by hippo
# (AES-256-GCM chunks under a data key per document, wrapped by hippo's key provider) before
# they reach S3, and S3 adds SSE-KMS under the documents CMK: the bucket policy refuses any
# upload without it. Public access blocked, ACLs disabled, versioning on, TLS 1.2+ only,
# access logging, and a lifecycle that aborts abandoned multipart uploads after a day and
# expires noncurrent versions after 35 days, so a crypto-shredded document's older copies do
# not outlive the backup window.

data "aws_iam_policy_document" "kms_documents" {
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

resource "aws_kms_key" "documents" {
  description             = "${local.prefix} S3 documents bucket"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_documents.json
}

resource "aws_kms_alias" "documents" {
  name          = "alias/${local.prefix}-documents"
  target_key_id = aws_kms_key.documents.key_id
}

# hippo:ignore HIPPO-AWS-S3-010,HIPPO-AWS-S3-011 reason="documents are versioned and deletable by design (versioned delete, crypto-shredding), so no Object Lock; cross-region copy is a documented DR option (docs/deploy.md)" until=2027-06-30
resource "aws_s3_bucket" "documents" {
  bucket = local.documents_bucket_name

  tags = {
    Name    = local.documents_bucket_name
    Purpose = "hippo-documents"
  }
}

resource "aws_s3_bucket_public_access_block" "documents" {
  bucket = aws_s3_bucket.documents.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "documents" {
  bucket = aws_s3_bucket.documents.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.documents.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "documents" {
  bucket = aws_s3_bucket.documents.id

  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${local.documents_bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 35
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.documents]
}

data "aws_iam_policy_document" "documents_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.documents.arn, "${aws_s3_bucket.documents.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTlsOlderThan12"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.documents.arn, "${aws_s3_bucket.documents.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  statement {
    sid       = "DenyUnencryptedObjectUploads"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.documents.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyUploadsWithOtherKmsKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.documents.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.documents.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "documents" {
  bucket = aws_s3_bucket.documents.id
  policy = data.aws_iam_policy_document.documents_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.documents]
}

# The task reads, writes, lists and deletes sealed documents under <environment>/ (uploads,
# downloads, versioned deletes, rewraps, shredding), with SSE-KMS under the documents CMK used
# only through S3.
data "aws_iam_policy_document" "task_documents" {
  statement {
    sid       = "SealedDocuments"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.documents.arn}/${var.environment}/*"]
  }

  statement {
    sid       = "ListOwnDocumentsPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.documents.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.environment}/*"]
    }
  }

  statement {
    sid       = "EncryptDocuments"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.documents.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

# hippo:ignore HIPPO-AWS-IAM-005 reason="policy is scoped to this one role and its resources by ARN; an inline policy cannot be attached elsewhere by mistake"
resource "aws_iam_role_policy" "task_documents" {
  name   = "documents"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_documents.json
}
