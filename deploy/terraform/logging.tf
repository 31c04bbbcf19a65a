# CloudWatch log groups (all: logs CMK, 2192 days = six years, seed "CloudWatch Logs retention
# >= 6 years"), CloudTrail, and security alarms.

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/${var.environment}/hippo"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "vpc_flow" {
  name              = "/${var.name}/${var.environment}/vpc-flow-logs"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "cloudtrail" {
  name              = "/${var.name}/${var.environment}/cloudtrail"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

# WAF requires the aws-waf-logs- prefix.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.prefix}"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

# ECS creates this one for Container Insights with short retention and no CMK unless it exists.
resource "aws_cloudwatch_log_group" "container_insights" {
  name              = "/aws/ecs/containerinsights/${local.prefix}-cluster/performance"
  retention_in_days = 2192
  kms_key_id        = aws_kms_key.logs.arn
}

# ---------------------------------------------------------------------------------------------
# CloudTrail: every region, global services, digest files (log file validation), SSE-KMS,
# delivered to S3 (six-year object lock) and CloudWatch Logs. Data events for the audit bucket.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudtrail" "main" {
  name                          = "${local.prefix}-trail"
  s3_bucket_name                = aws_s3_bucket.trail.id
  s3_key_prefix                 = "cloudtrail"
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  enable_logging                = true
  kms_key_id                    = aws_kms_key.logs.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.cloudtrail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.cloudtrail.arn

  advanced_event_selector {
    name = "All management events"

    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  advanced_event_selector {
    name = "Object-level access to the audit export bucket"

    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }

    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }

    field_selector {
      field       = "resources.ARN"
      starts_with = ["${aws_s3_bucket.audit.arn}/"]
    }
  }

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.cloudtrail]
}

# ---------------------------------------------------------------------------------------------
# Alarms: an encrypted SNS topic for security events.
# ---------------------------------------------------------------------------------------------

resource "aws_sns_topic" "security_alarms" {
  name              = "${local.prefix}-security-alarms"
  kms_master_key_id = aws_kms_key.logs.arn
}

data "aws_iam_policy_document" "security_alarms_topic" {
  statement {
    sid       = "EventBridgeAndCloudWatchPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security_alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "backup.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security_alarms.arn]

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
}

resource "aws_sns_topic_policy" "security_alarms" {
  arn    = aws_sns_topic.security_alarms.arn
  policy = data.aws_iam_policy_document.security_alarms_topic.json
}

resource "aws_sns_topic_subscription" "security_alarms_email" {
  topic_arn = aws_sns_topic.security_alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_sns_topic_subscription" "security_alarms_https" {
  for_each = toset(var.alarm_https_endpoints)

  topic_arn = aws_sns_topic.security_alarms.arn
  protocol  = "https"
  endpoint  = each.value
}

# GuardDuty findings of medium severity and above.
resource "aws_cloudwatch_event_rule" "guardduty_findings" {
  name        = "${local.prefix}-guardduty-findings"
  description = "GuardDuty findings with severity >= 4"

  event_pattern = jsonencode({
    source      = ["aws.guardduty"]
    detail-type = ["GuardDuty Finding"]
    detail = {
      severity = [{ numeric = [">=", 4] }]
    }
  })
}

resource "aws_cloudwatch_event_target" "guardduty_findings" {
  rule      = aws_cloudwatch_event_rule.guardduty_findings.name
  target_id = "sns"
  arn       = aws_sns_topic.security_alarms.arn
}

# Failed or expired AWS Backup jobs.
resource "aws_cloudwatch_event_rule" "backup_failures" {
  name        = "${local.prefix}-backup-failures"
  description = "AWS Backup jobs that failed, expired or were aborted"

  event_pattern = jsonencode({
    source      = ["aws.backup"]
    detail-type = ["Backup Job State Change", "Copy Job State Change"]
    detail = {
      state = ["FAILED", "EXPIRED", "ABORTED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "backup_failures" {
  rule      = aws_cloudwatch_event_rule.backup_failures.name
  target_id = "sns"
  arn       = aws_sns_topic.security_alarms.arn
}

# CloudTrail metric filters: root account use and unauthorized API calls.
resource "aws_cloudwatch_log_metric_filter" "root_usage" {
  name           = "${local.prefix}-root-usage"
  log_group_name = aws_cloudwatch_log_group.cloudtrail.name
  pattern        = "{ $.userIdentity.type = \"Root\" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != \"AwsServiceEvent\" }"

  metric_transformation {
    name      = "RootAccountUsage"
    namespace = "${local.prefix}/Security"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "root_usage" {
  alarm_name          = "${local.prefix}-root-usage"
  alarm_description   = "The root account was used"
  namespace           = "${local.prefix}/Security"
  metric_name         = "RootAccountUsage"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
}

resource "aws_cloudwatch_log_metric_filter" "unauthorized_api_calls" {
  name           = "${local.prefix}-unauthorized-api-calls"
  log_group_name = aws_cloudwatch_log_group.cloudtrail.name
  pattern        = "{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }"

  metric_transformation {
    name      = "UnauthorizedApiCalls"
    namespace = "${local.prefix}/Security"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "unauthorized_api_calls" {
  alarm_name          = "${local.prefix}-unauthorized-api-calls"
  alarm_description   = "Repeated unauthorized AWS API calls"
  namespace           = "${local.prefix}/Security"
  metric_name         = "UnauthorizedApiCalls"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alarms.arn]
}
