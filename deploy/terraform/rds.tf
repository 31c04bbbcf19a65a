# RDS PostgreSQL, Multi-AZ, in the isolated database subnets.
#   encryption at rest  - storage, snapshots, automated backups and Performance Insights under the
#                         RDS CMK
#   encryption in transit - rds.force_ssl = 1 and TLS 1.2 minimum; hippo itself refuses a
#                         non-loopback database without sslmode=verify-full
#   access              - not publicly accessible; security group admits hippo tasks only;
#                         IAM database authentication on (for people, via short-lived tokens)
#   audit               - pgaudit, connection logging, exported to encrypted six-year log groups
#   recoverability      - 35-day automated backups (PITR), AWS Backup (backup.tf), deletion
#                         protection and a final snapshot

resource "aws_db_subnet_group" "main" {
  name        = "${local.prefix}-db"
  description = "Isolated database subnets (no route out of the VPC)"
  subnet_ids  = aws_subnet.database[*].id

  tags = {
    Name = "${local.prefix}-db"
  }
}

resource "aws_db_parameter_group" "postgres" {
  name        = "${local.prefix}-postgres${var.db_engine_major_version}"
  family      = "postgres${var.db_engine_major_version}"
  description = "hippo: TLS required, pgaudit, connection logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "ssl_min_protocol_version"
    value = "TLSv1.2"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pgaudit,pg_stat_statements"
    apply_method = "pending-reboot"
  }

  # Every statement class is audited. hippo binds all values as parameters, and parameter values
  # are NOT logged (pgaudit.log_parameter = 0): logging them would copy PHI into CloudWatch.
  parameter {
    name  = "pgaudit.log"
    value = "all"
  }

  parameter {
    name  = "pgaudit.log_catalog"
    value = "0"
  }

  parameter {
    name  = "pgaudit.log_parameter"
    value = "0"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "-1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates these on first export with no retention and no CMK; creating them first fixes both.
resource "aws_cloudwatch_log_group" "rds_postgresql" {
  name              = "/aws/rds/instance/${local.prefix}-postgres/postgresql"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "rds_upgrade" {
  name              = "/aws/rds/instance/${local.prefix}-postgres/upgrade"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_db_instance" "main" {
  identifier     = "${local.prefix}-postgres"
  engine         = "postgres"
  engine_version = var.db_engine_major_version
  instance_class = var.db_instance_class

  db_name  = "hippo"
  username = "hippo_admin"
  port     = 5432

  # The master password is generated, stored and rotated by RDS in Secrets Manager, encrypted
  # with the secrets CMK; it never appears in Terraform, its state or a task definition.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.secrets.arn

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.rds.arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  network_type           = "IPV4"
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  parameter_group_name                = aws_db_parameter_group.postgres.name
  iam_database_authentication_enabled = true

  backup_retention_period   = 35
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.prefix}-postgres-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.rds.arn
  performance_insights_retention_period = 7

  monitoring_interval = 15
  monitoring_role_arn = aws_iam_role.rds_monitoring.arn

  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  tags = {
    Name   = "${local.prefix}-postgres"
    Backup = "hippo-daily"
  }

  depends_on = [
    aws_cloudwatch_log_group.rds_postgresql,
    aws_cloudwatch_log_group.rds_upgrade,
  ]
}
