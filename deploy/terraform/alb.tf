# Public Application Load Balancer in the public subnets: the only internet-facing entry point.
# TLS 1.2/1.3 only (ELBSecurityPolicy-TLS13-1-2-2021-06), HTTP answered with a 301 to HTTPS,
# invalid headers dropped, access logs kept, deletion protected, WAF attached (waf.tf).
# ALB -> task traffic is HTTPS too: hippo never serves plain HTTP off loopback.

resource "aws_lb" "main" {
  name                       = "${local.prefix}-alb"
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = aws_subnet.public[*].id
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_deletion_protection = true
  enable_http2               = true
  enable_waf_fail_open       = false
  idle_timeout               = 60

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "hippo" {
  name                 = "${local.prefix}-hippo"
  port                 = local.container_port
  protocol             = "HTTPS"
  protocol_version     = "HTTP1"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 35

  health_check {
    enabled             = true
    protocol            = "HTTPS"
    path                = "/readyz"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.hippo.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}
