# Operational and security alarms (issue 19): load balancer 5xx and unhealthy targets, ECS
# running tasks, RDS CPU, free storage, connections and replica lag, audit export age, and
# Hippo's own security events. All notify the encrypted security_alarms topic, which must
# have a subscriber (var.alarm_email has no default and is validated).

locals {
  # Connections above which the database is close to max_connections for its class; RDS sets
  # max_connections from memory, so this is a share of what the smallest classes allow.
  db_connections_alarm = var.db_connections_alarm
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${local.prefix}-alb-target-5xx"
  alarm_description   = "Hippo answered 5xx to more than 1% of requests for 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 5
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]

  metric_query {
    id          = "ratio"
    expression  = "100 * errors / MAX([errors, requests, 1])"
    label       = "5xx percent"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "alb_unhealthy_targets" {
  alarm_name          = "${local.prefix}-alb-unhealthy-targets"
  alarm_description   = "A Hippo task fails the load balancer's health check (/readyz)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    LoadBalancer = aws_lb.main.arn_suffix
    TargetGroup  = aws_lb_target_group.hippo.arn_suffix
  }
  alarm_actions = [aws_sns_topic.security_alarms.arn]
  ok_actions    = [aws_sns_topic.security_alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "ecs_running_tasks" {
  alarm_name          = "${local.prefix}-ecs-running-tasks"
  alarm_description   = "Fewer Hippo tasks run than desired_count"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.desired_count
  comparison_operator = "LessThanThreshold"
  # No data means no task reports: as bad as none running.
  treat_missing_data = "breaching"
  dimensions = {
    ClusterName = aws_ecs_cluster.main.name
    ServiceName = aws_ecs_service.hippo.name
  }
  alarm_actions = [aws_sns_topic.security_alarms.arn]
  ok_actions    = [aws_sns_topic.security_alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${local.prefix}-rds-cpu"
  alarm_description   = "The database's CPU stayed above 80% for 15 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  alarm_name          = "${local.prefix}-rds-free-storage"
  alarm_description   = "Less than 10% of the database's maximum storage is free"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.db_max_allocated_storage_gb * 1024 * 1024 * 1024 / 10
  comparison_operator = "LessThanThreshold"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${local.prefix}-rds-connections"
  alarm_description   = "Database connections approach max_connections (size the Hippo pools: docs/deploy.md)"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = local.db_connections_alarm
  comparison_operator = "GreaterThanThreshold"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]
}

# ReplicaLag is reported by read replicas only: one alarm per replica named in
# var.db_replica_identifiers (none by default; the primary is Multi-AZ, whose standby is
# synchronous and has no lag to report).
resource "aws_cloudwatch_metric_alarm" "rds_replica_lag" {
  for_each = toset(var.db_replica_identifiers)

  alarm_name          = "${local.prefix}-rds-replica-lag-${each.value}"
  alarm_description   = "Read replica ${each.value} lags the primary by more than 60 seconds"
  namespace           = "AWS/RDS"
  metric_name         = "ReplicaLag"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 60
  comparison_operator = "GreaterThanThreshold"
  dimensions          = { DBInstanceIdentifier = each.value }
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]
}

# Hippo logs one `audit_export_ok` line per log and successful export run (every
# audit.export_interval_secs, 300 s by default). No such line for an hour: the immutable copy
# of the audit trail is falling behind.
resource "aws_cloudwatch_log_metric_filter" "audit_export_ok" {
  name           = "${local.prefix}-audit-export-ok"
  log_group_name = aws_cloudwatch_log_group.app.name
  pattern        = "{ $.event = \"audit_export_ok\" }"

  metric_transformation {
    name      = "AuditExportRuns"
    namespace = "${local.prefix}/Hippo"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "audit_export_age" {
  alarm_name          = "${local.prefix}-audit-export-age"
  alarm_description   = "No successful audit export for an hour: check the export bucket, its KMS key and the task role"
  namespace           = "${local.prefix}/Hippo"
  metric_name         = "AuditExportRuns"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
  ok_actions          = [aws_sns_topic.security_alarms.arn]
}

# Every security alert Hippo raises (brute force, break-glass, unusual read volume, denial
# spike, export or verification failure, tree-head signing stopped) is a JSON log line on the
# `security` target with an `alert_id`; each one pages.
resource "aws_cloudwatch_log_metric_filter" "security_events" {
  name           = "${local.prefix}-security-events"
  log_group_name = aws_cloudwatch_log_group.app.name
  pattern        = "{ $.target = \"security\" && $.alert_id = * }"

  metric_transformation {
    name      = "SecurityEvents"
    namespace = "${local.prefix}/Hippo"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "security_events" {
  alarm_name          = "${local.prefix}-security-events"
  alarm_description   = "Hippo raised a security alert: see the app log group, target security, and GET /v1/audit?action=security.alert"
  namespace           = "${local.prefix}/Hippo"
  metric_name         = "SecurityEvents"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
}
