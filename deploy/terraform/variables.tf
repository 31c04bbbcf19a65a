# Inputs. Compliance settings (encryption, retention, TLS policy, deletion protection) are
# literals in the resources that carry them, not variables: they are not meant to be tuned down
# per environment, and `hippo check deploy/` reads them where they are.

variable "name" {
  description = "Name prefix for every resource (lowercase letters, digits and '-')."
  type        = string
  default     = "hippo"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, used in tags and resource names (e.g. prod, staging)."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "Primary AWS region (must be covered by your AWS BAA; every service used here is HIPAA eligible)."
  type        = string
  default     = "us-east-1"
}

variable "dr_region" {
  description = "Region AWS Backup copies recovery points to, for disaster recovery."
  type        = string
  default     = "us-west-2"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into public, private (app) and isolated (database) /24 subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to span (2 or 3). Multi-AZ RDS and the ALB need at least 2."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for the public HTTPS listener (DNS-validated)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "image_digest" {
  description = "Digest of the hippo image in this stack's ECR repository (sha256:...); tasks run exactly this image."
  type        = string

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must look like sha256:<64 hex digits> (see docs/deploy.md: docker buildx imagetools inspect)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory (MiB)."
  type        = number
  default     = 2048
}

variable "desired_count" {
  description = "Number of hippo tasks. Use 0 for the very first apply (see docs/deploy.md, bootstrap)."
  type        = number
  default     = 2
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "db_engine_major_version" {
  description = "PostgreSQL major version (the parameter group family follows it)."
  type        = string
  default     = "16"
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage (GiB); storage autoscaling grows it up to db_max_allocated_storage_gb."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound for RDS storage autoscaling (GiB)."
  type        = number
  default     = 1000
}

variable "database_url_rotation_lambda_arn" {
  description = "ARN of the Secrets Manager rotation function for the application's database URL secret (rotates the hippo_service login's password and rewrites the URL; see docs/deploy.md)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws:lambda:", var.database_url_rotation_lambda_arn))
    error_message = "database_url_rotation_lambda_arn must be a Lambda function ARN."
  }
}

variable "waf_rate_limit_per_5min" {
  description = "Requests one client IP may send in 5 minutes before WAF blocks it."
  type        = number
  default     = 3000
}

variable "alarm_email" {
  description = "Address subscribed to the security alarm topic (GuardDuty findings, backup failures, root logins, Hippo's security events and operational alarms). Required: alarms that reach nobody are no alarms."
  type        = string

  validation {
    condition     = can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", var.alarm_email))
    error_message = "alarm_email must be the address of the person or list on call for security alarms (e.g. security-oncall@example.org); an empty address would leave every alarm unheard."
  }
}

variable "alarm_https_endpoints" {
  description = "Extra HTTPS endpoints subscribed to the alarm topic (e.g. a paging service's SNS integration URL)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_https_endpoints : startswith(e, "https://")])
    error_message = "Every alarm_https_endpoints entry must be an https:// URL."
  }
}

variable "db_connections_alarm" {
  description = "Database connections above which the rds-connections alarm fires; keep it below the instance class's max_connections (docs/deploy.md sizes the pools)."
  type        = number
  default     = 150
}

variable "db_replica_identifiers" {
  description = "Identifiers of RDS read replicas whose ReplicaLag is alarmed (none by default)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
