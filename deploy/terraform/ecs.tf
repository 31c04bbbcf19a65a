# ECR repository and the ECS Fargate service running `hippo serve` in the private subnets.

resource "aws_ecr_repository" "hippo" {
  name                 = "${local.prefix}/hippo"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.compute.arn
  }
}

resource "aws_ecr_lifecycle_policy" "hippo" {
  repository = aws_ecr_repository.hippo.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 30 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 30
        }
        action = {
          type = "expire"
        }
      }
    ]
  })
}

resource "aws_ecs_cluster" "main" {
  name = "${local.prefix}-cluster"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    # The task's writable volumes (hippo's data directory: configuration, TLS key) are encrypted
    # with the compute CMK.
    managed_storage_configuration {
      fargate_ephemeral_storage_kms_key_id = aws_kms_key.compute.arn
    }
  }

  depends_on = [aws_cloudwatch_log_group.container_insights]
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# The task: one container, non-root, read-only root filesystem, all capabilities dropped, no
# privilege. Configuration by HIPPO_* variables (none secret); the database URL and the shared
# keyring only through `secrets` from Secrets Manager. The data directory and /tmp are task
# volumes.
resource "aws_ecs_task_definition" "hippo" {
  family                   = "${local.prefix}-hippo"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "data"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = local.container_name
      image                  = local.image
      essential              = true
      command                = ["serve"]
      user                   = "${local.container_uid}:${local.container_uid}"
      readonlyRootFilesystem = true
      privileged             = false
      stopTimeout            = 40

      portMappings = [
        {
          containerPort = local.container_port
          protocol      = "tcp"
        }
      ]

      # Audit export: sealed, signed batches go to the audit bucket under <environment>/, each
      # with COMPLIANCE Object Lock until now + retention_days (2192, as the bucket default) and
      # SSE-KMS with the bucket's CMK (its policy refuses any other key). Credentials: the task
      # role, from the container credentials endpoint. None of these values is secret.
      environment = [
        { name = "HIPPO_DATA_DIR", value = local.data_dir },
        { name = "HIPPO_LISTEN", value = "0.0.0.0:${local.container_port}" },
        { name = "HIPPO_STORE", value = "postgres" },
        { name = "HIPPO_AUDIT__EXPORT_URL", value = "s3://${aws_s3_bucket.audit.id}/${var.environment}/" },
        { name = "HIPPO_AUDIT__S3_REGION", value = local.region },
        { name = "HIPPO_AUDIT__S3_SSE", value = "aws:kms" },
        { name = "HIPPO_AUDIT__S3_KMS_KEY_ID", value = aws_kms_key.s3.arn },
        { name = "HIPPO_AUDIT__RETENTION_DAYS", value = "2192" },
        # Documents (issue 20): sealed by hippo, then SSE-KMS under the documents CMK.
        { name = "HIPPO_DOCUMENTS__TO", value = "s3://${aws_s3_bucket.documents.id}/${var.environment}" },
        { name = "HIPPO_DOCUMENTS__S3_KMS_KEY_ID", value = aws_kms_key.documents.arn },
      ]

      # HIPPO_KEYRING: the keyring JSON every task shares (secrets.tf); hippo refuses to start
      # with a keyring other than the one pinned in the database.
      secrets = [
        { name = "HIPPO_DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
        { name = "HIPPO_KEYRING", valueFrom = aws_secretsmanager_secret.keyring.arn },
      ]

      mountPoints = [
        { sourceVolume = "data", containerPath = local.volume_root, readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]

      linuxParameters = {
        initProcessEnabled = true
        capabilities = {
          drop = ["ALL"]
        }
      }

      ulimits = [
        { name = "nofile", softLimit = 65536, hardLimit = 65536 },
      ]

      healthCheck = {
        command     = ["CMD", "/usr/bin/curl", "--fail", "--silent", "--show-error", "--max-time", "3", "--cacert", "${local.data_dir}/tls/ca.pem", "https://127.0.0.1:${local.container_port}/healthz"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "hippo"
          mode                  = "non-blocking"
          max-buffer-size       = "25m"
        }
      }
    }
  ])
}

resource "aws_ecs_service" "hippo" {
  name                               = "${local.prefix}-hippo"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.hippo.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "1.4.0"
  enable_execute_command             = false
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  wait_for_steady_state              = false

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.hippo.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https]
}
