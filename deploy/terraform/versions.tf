# Hippo production infrastructure on AWS: provider and state configuration.
#
# State holds resource identifiers and (for RDS) nothing secret: no secret value is ever set from
# Terraform. Keep the state in an S3 backend with SSE-KMS and a lock table all the same; the
# backend is configured at init time so no account names live in this repository:
#   terraform init -backend-config=backend.hcl

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 6.0.0"
    }
  }

  # Bucket, key, region and DynamoDB table come from -backend-config at init; the state holds
  # resource attributes (ARNs, not PHI), encrypted with the state CMK.
  backend "s3" {
    encrypt    = true
    kms_key_id = "alias/hippo-terraform-state"
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# The disaster-recovery region: AWS Backup copies every recovery point here.
provider "aws" {
  alias  = "dr"
  region = var.dr_region

  default_tags {
    tags = local.tags
  }
}
