# Values the deploy steps in docs/deploy.md need.

output "alb_dns_name" {
  description = "Point your DNS name (the one on certificate_arn) at this, as an alias record."
  value       = aws_lb.main.dns_name
}

output "ecr_repository_url" {
  description = "Push the hippo image here."
  value       = aws_ecr_repository.hippo.repository_url
}

output "ecs_cluster" {
  description = "ECS cluster name (for aws ecs run-task one-off commands)."
  value       = aws_ecs_cluster.main.name
}

output "ecs_service" {
  description = "ECS service name."
  value       = aws_ecs_service.hippo.name
}

output "task_definition_family" {
  description = "Task definition family (one-off tasks reuse it with a command override)."
  value       = aws_ecs_task_definition.hippo.family
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks and the rotation function."
  value       = aws_subnet.private[*].id
}

output "app_security_group_id" {
  description = "Security group for one-off hippo tasks."
  value       = aws_security_group.app.id
}

output "rotation_security_group_id" {
  description = "Security group for the database URL rotation function."
  value       = aws_security_group.rotation.id
}

output "app_log_group" {
  description = "CloudWatch log group of hippo (and of its one-off tasks)."
  value       = aws_cloudwatch_log_group.app.name
}

output "db_endpoint" {
  description = "RDS endpoint (host:port) for the database URL secret."
  value       = aws_db_instance.main.endpoint
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret holding the RDS master credentials (break-glass only)."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret to put hippo's database URL into."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "keyring_secret_arn" {
  description = "Secrets Manager secret to put hippo's keyring into, once, before the first start (`hippo keyring generate`)."
  value       = aws_secretsmanager_secret.keyring.arn
}

output "audit_bucket" {
  description = "S3 bucket (Object Lock, COMPLIANCE, 2192 days) for hippo audit export batches."
  value       = aws_s3_bucket.audit.id
}

output "audit_kms_key_arn" {
  description = "KMS key audit uploads must name (x-amz-server-side-encryption-aws-kms-key-id)."
  value       = aws_kms_key.s3.arn
}

output "backup_vault" {
  description = "AWS Backup vault in the primary region."
  value       = aws_backup_vault.main.name
}

output "security_alarms_topic_arn" {
  description = "SNS topic for security alarms."
  value       = aws_sns_topic.security_alarms.arn
}

output "dbadmin_security_group_id" {
  description = "Security group for break-glass CloudShell VPC sessions that need psql."
  value       = aws_security_group.dbadmin.id
}

output "keyring_escrow_secret_arn" {
  description = "Secret holding the passphrase-sealed escrow copy of the keyring (replicated to dr_region); put once with `hippo keyring escrow`"
  value       = aws_secretsmanager_secret.keyring_escrow.arn
}

output "keyring_kms_key_arn" {
  description = "KMS key that seals hippo's keyring (`hippo keyring generate --kms-key-id <this>`); tasks may only Decrypt with it"
  value       = aws_kms_key.keyring.arn
}
