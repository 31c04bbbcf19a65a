# Derived names and the subnet plan.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  prefix     = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  azs = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # /24s: public 0-2 (ALB, NAT), private app 10-12 (ECS tasks, endpoints), isolated db 20-22 (RDS).
  public_subnet_cidrs  = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 8, i)]
  private_subnet_cidrs = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 8, 10 + i)]
  db_subnet_cidrs      = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 8, 20 + i)]

  # The container: hippo listens on HTTPS 8443 with its own certificate (ALB -> task is TLS too).
  container_name = "hippo"
  container_port = 8443
  container_uid  = 10001
  volume_root    = "/var/lib/hippo"      # task volume, owned by uid 10001 in the image
  data_dir       = "/var/lib/hippo/data" # created by hippo (mode 0700): config, TLS (keyring: secrets.tf)

  image = "${aws_ecr_repository.hippo.repository_url}@${var.image_digest}"

  # Bucket names are global: suffix with the account and region.
  audit_bucket_name      = "${local.prefix}-audit-${local.account_id}-${local.region}"
  documents_bucket_name  = "${local.prefix}-documents-${local.account_id}-${local.region}"
  trail_bucket_name      = "${local.prefix}-trail-${local.account_id}-${local.region}"
  access_log_bucket_name = "${local.prefix}-access-logs-${local.account_id}-${local.region}"

  tags = merge(var.tags, {
    Application = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
    DataClass   = "phi"
  })
}
