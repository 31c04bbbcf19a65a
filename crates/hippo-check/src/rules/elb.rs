//! Load balancer and CloudFront rules: TLS 1.2+ policies, HTTP to HTTPS redirect, TLS to
//! targets, access logs (application, network and classic load balancers, CloudFront
//! distributions).

use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource};

const LISTENER: &[&str] = &["aws_lb_listener", "aws_alb_listener"];
const LB: &[&str] = &["aws_lb", "aws_alb"];
const TARGET_GROUP: &[&str] = &["aws_lb_target_group", "aws_alb_target_group"];

/// True for ELB security policies that allow only TLS 1.2 and newer.
pub fn tls12_policy(p: &str) -> bool {
    p.contains("TLS13") || p.contains("TLS-1-2") || p.contains("FS-1-2") || p.contains("TLS12")
}

fn protocol(r: &Resource) -> Option<String> {
    r.get("protocol")
        .and_then(Node::as_str)
        .map(|s| s.to_ascii_uppercase())
}

fn elb_001(r: &Resource, _: &Index) -> Vec<Hit> {
    if !matches!(protocol(r).as_deref(), Some("HTTPS") | Some("TLS")) {
        return vec![];
    }
    match r.get("ssl_policy") {
        None => hit(
            r.line,
            "`ssl_policy` is not set; the default ELBSecurityPolicy-2016-08 allows TLS 1.0 and 1.1",
        ),
        Some(n) if n.is_unknown() => hit(n.line, unknown_msg("ssl_policy", n)),
        Some(n) => match n.as_str() {
            Some(p) if tls12_policy(p) => vec![],
            _ => hit(
                n.line,
                format!(
                    "ssl_policy {} allows protocols older than TLS 1.2",
                    n.describe()
                ),
            ),
        },
    }
}

fn elb_002(r: &Resource, _: &Index) -> Vec<Hit> {
    if protocol(r).as_deref() != Some("HTTP") {
        return vec![];
    }
    let actions = r
        .get_any(&["default_action", "DefaultActions"])
        .map(|a| a.items())
        .unwrap_or_default();
    let redirects = actions.iter().any(|a| {
        a.get("type").and_then(Node::as_str) == Some("redirect")
            && a.get_any(&["redirect", "RedirectConfig"])
                .and_then(|x| x.get("protocol"))
                .and_then(Node::as_str)
                == Some("HTTPS")
    });
    if redirects {
        vec![]
    } else {
        hit(r.line, "HTTP listener does not redirect to HTTPS")
    }
}

fn elb_003(r: &Resource, _: &Index) -> Vec<Hit> {
    if let Some(attrs) = r.get("LoadBalancerAttributes") {
        let on = attrs.items().iter().any(|a| {
            a.get("Key").and_then(Node::as_str) == Some("access_logs.s3.enabled")
                && a.get("Value").map(|v| v.truth()) == Some(crate::model::Tri::Yes)
        });
        return if on {
            vec![]
        } else {
            hit(r.line, "access_logs.s3.enabled is not true")
        };
    }
    match r.get("access_logs") {
        Some(a) => require_true_in(a, a.line, &["enabled"], false),
        None => hit(r.line, "load balancer access logs are not enabled"),
    }
}

/// True if the load balancer is an ALB (Terraform `load_balancer_type`, CloudFormation
/// `Type`; both default to application).
fn application(r: &Resource) -> bool {
    r.get_any(&["load_balancer_type", "Type"])
        .and_then(Node::as_str)
        .is_none_or(|t| t == "application")
}

/// A setting of a load balancer: a Terraform attribute, or the CloudFormation
/// `LoadBalancerAttributes` entry with that key (defaults to false when absent).
fn lb_setting(r: &Resource, tf_key: &str, cfn_key: &str) -> Vec<Hit> {
    let Some(attrs) = r.get("LoadBalancerAttributes") else {
        return require_true(r, &[tf_key], false);
    };
    match attrs
        .items()
        .into_iter()
        .find(|a| a.get("Key").and_then(Node::as_str) == Some(cfn_key))
        .and_then(|a| a.get("Value"))
    {
        Some(v) => require_true_in(
            &Node::new(
                v.line,
                crate::model::Val::Map(vec![(cfn_key.to_string(), v.clone())]),
            ),
            v.line,
            &[cfn_key],
            false,
        ),
        None => hit(
            attrs.line,
            format!("`{cfn_key}` is not set (defaults to false)"),
        ),
    }
}

fn elb_004(r: &Resource, _: &Index) -> Vec<Hit> {
    if !application(r) {
        return vec![];
    }
    lb_setting(
        r,
        "drop_invalid_header_fields",
        "routing.http.drop_invalid_header_fields.enabled",
    )
}

fn elb_005(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for l in r
        .get_any(&["listener", "Listeners"])
        .map(|l| l.items())
        .unwrap_or_default()
    {
        let p = l
            .get_any(&["lb_protocol", "Protocol"])
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_ascii_uppercase();
        if p != "HTTPS" && p != "SSL" {
            out.extend(hit(
                l.line,
                format!("classic load balancer listener uses {p}, not HTTPS/SSL"),
            ));
        }
    }
    out
}

fn elb_007(r: &Resource, _: &Index) -> Vec<Hit> {
    // Terraform: `access_logs { bucket, enabled }` (enabled defaults to true once the block
    // names a bucket); CloudFormation: `AccessLoggingPolicy { Enabled, S3BucketName }`.
    let Some(a) = r.get_any(&["access_logs", "AccessLoggingPolicy"]) else {
        return hit(
            r.line,
            "classic load balancer access logs are not enabled (no access_logs block)",
        );
    };
    match a.get("enabled") {
        Some(_) => require_true_in(a, a.line, &["enabled"], false),
        None if a.get_any(&["bucket", "S3BucketName"]).is_some() => vec![],
        None => hit(a.line, "access logs name no S3 bucket"),
    }
}

fn elb_008(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("protocol") {
        Some(n) if n.as_str().is_some_and(|p| p.eq_ignore_ascii_case("HTTP")) => hit(
            n.line,
            "the target group receives plain HTTP: the load balancer decrypts requests and forwards them, PHI included, unencrypted to the targets (inside the VPC); use HTTPS to the targets",
        ),
        Some(n) if n.is_unknown() => hit(n.line, unknown_msg("protocol", n)),
        _ => vec![],
    }
}

fn cf_001(r: &Resource, _: &Index) -> Vec<Hit> {
    // Terraform `logging_config { bucket }`; CloudFormation `DistributionConfig.Logging`.
    let logging = r
        .get("logging_config")
        .or_else(|| r.body.path(&["DistributionConfig", "Logging"]));
    match logging.and_then(|l| l.get("bucket")) {
        Some(b) if b.is_unknown() || b.as_str().is_some_and(|s| !s.is_empty()) => vec![],
        Some(b) => hit(b.line, "CloudFront access logging names no bucket"),
        None => hit(
            logging.map(|l| l.line).unwrap_or(r.line),
            "CloudFront access logging is not configured (no logging_config / DistributionConfig.Logging with a bucket)",
        ),
    }
}

fn elb_006(r: &Resource, _: &Index) -> Vec<Hit> {
    lb_setting(
        r,
        "enable_deletion_protection",
        "deletion_protection.enabled",
    )
}

fn waf_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    if !application(r) {
        return vec![];
    }
    if referrers(
        idx,
        "aws_wafv2_web_acl_association",
        &["resource_arn", "ResourceArn"],
        r,
        &["arn"],
    )
    .is_empty()
    {
        return hit(
            r.line,
            "no WAF web ACL is associated with this load balancer",
        );
    }
    vec![]
}

pub fn rules() -> Vec<Rule> {
    vec![
        Rule { id: "HIPPO-AWS-ELB-001", title: "HTTPS listeners allow only TLS 1.2 or newer", severity: Severity::High, hipaa: &["164.312(e)(1)", "164.312(e)(2)(ii)"], types: LISTENER, formats: TF_CFN,
            expected: "ssl_policy is a TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06", remediation: "ssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-06\"",
            sources: &["seed 001: TLS 1.2+ only", "seed 004: TLS 1.2+ in transit", "AWS Config: elb-predefined-security-policy-ssl-check", "Prowler: elbv2_insecure_ssl_ciphers"], kind: Kind::Resource(elb_001) },
        Rule { id: "HIPPO-AWS-ELB-002", title: "HTTP listeners redirect to HTTPS", severity: Severity::High, hipaa: &["164.312(e)(1)"], types: LISTENER, formats: TF_CFN,
            expected: "Port 80 listeners only redirect to HTTPS", remediation: "default_action {\n  type = \"redirect\"\n  redirect {\n    port        = \"443\"\n    protocol    = \"HTTPS\"\n    status_code = \"HTTP_301\"\n  }\n}",
            sources: &["seed 001: HTTP -> HTTPS redirect", "AWS Config: alb-http-to-https-redirection-check", "Prowler: elbv2_listeners_underneath"], kind: Kind::Resource(elb_002) },
        Rule { id: "HIPPO-AWS-ELB-003", title: "Load balancer access logs are enabled", severity: Severity::Medium, hipaa: &["164.312(b)"], types: LB, formats: TF_CFN,
            expected: "access_logs { enabled = true } to an S3 bucket", remediation: "access_logs {\n  bucket  = aws_s3_bucket.lb_logs.id\n  enabled = true\n}",
            sources: &["seed 001: Access logs enabled (load balancer)", "AWS Config: elb-logging-enabled", "Prowler: elbv2_logging_enabled"], kind: Kind::Resource(elb_003) },
        Rule { id: "HIPPO-AWS-ELB-004", title: "ALB drops invalid HTTP headers", severity: Severity::Low, hipaa: &["164.312(c)(1)"], types: LB, formats: TF_CFN,
            expected: "drop_invalid_header_fields = true", remediation: "drop_invalid_header_fields = true",
            sources: &["AWS Config: alb-http-drop-invalid-header-enabled", "Prowler: elbv2_desync_mitigation_mode"], kind: Kind::Resource(elb_004) },
        Rule { id: "HIPPO-AWS-ELB-005", title: "Classic load balancer listeners use HTTPS/SSL", severity: Severity::High, hipaa: &["164.312(e)(1)"], types: &["aws_elb"], formats: TF_CFN,
            expected: "Every listener has lb_protocol HTTPS or SSL", remediation: "listener {\n  lb_port            = 443\n  lb_protocol        = \"https\"\n  instance_port      = 8080\n  instance_protocol  = \"http\"\n  ssl_certificate_id = aws_acm_certificate.app.arn\n}",
            sources: &["AWS Config: elb-tls-https-listeners-only", "Prowler: elb_ssl_listeners"], kind: Kind::Resource(elb_005) },
        Rule { id: "HIPPO-AWS-WAF-001", title: "Internet-facing ALBs are protected by AWS WAF", severity: Severity::Medium, hipaa: &["164.308(a)(1)(ii)(B)", "164.312(c)(1)"], types: LB, formats: TF_CFN,
            expected: "An aws_wafv2_web_acl_association references the load balancer", remediation: "resource \"aws_wafv2_web_acl_association\" \"alb\" {\n  resource_arn = aws_lb.alb.arn\n  web_acl_arn  = aws_wafv2_web_acl.main.arn\n}",
            sources: &["seed 002: API Gateway + WAF", "AWS Config: alb-waf-enabled", "Prowler: elbv2_waf_acl_attached"], kind: Kind::Resource(waf_001) },
        Rule { id: "HIPPO-AWS-ELB-006", title: "Load balancer deletion protection is enabled", severity: Severity::Low, hipaa: &["164.308(a)(7)(ii)(C)"], types: LB, formats: TF_CFN,
            expected: "enable_deletion_protection = true", remediation: "enable_deletion_protection = true",
            sources: &["AWS Config: elb-deletion-protection-enabled", "Prowler: elbv2_deletion_protection"], kind: Kind::Resource(elb_006) },
        Rule { id: "HIPPO-AWS-ELB-007", title: "Classic load balancer access logs are enabled", severity: Severity::Medium, hipaa: &["164.312(b)"], types: &["aws_elb"], formats: TF_CFN,
            expected: "access_logs { bucket, enabled = true } (AccessLoggingPolicy with Enabled: true)", remediation: "access_logs {\n  bucket   = aws_s3_bucket.lb_logs.id\n  interval = 5\n  enabled  = true\n}",
            sources: &["issue 16: classic ELB access logs", "AWS Config: elb-logging-enabled", "Prowler: elb_logging_enabled", "Checkov: CKV_AWS_92"], kind: Kind::Resource(elb_007) },
        Rule { id: "HIPPO-AWS-ELB-008", title: "Load balancer target groups forward over TLS", severity: Severity::Low, hipaa: &["164.312(e)(1)", "164.312(e)(2)(ii)"], types: TARGET_GROUP, formats: TF_CFN,
            expected: "protocol = \"HTTPS\" for HTTP target groups (traffic inside the VPC is encrypted end to end)", remediation: "protocol = \"HTTPS\"\nhealth_check {\n  protocol = \"HTTPS\"\n  path     = \"/healthz\"\n}",
            sources: &["seed 000: Encryption in transit (TLS 1.2+)", "issue 16: target groups forwarding decrypted requests", "Checkov: CKV_AWS_378"], kind: Kind::Resource(elb_008) },
        Rule { id: "HIPPO-AWS-CF-001", title: "CloudFront distributions write access logs", severity: Severity::Medium, hipaa: &["164.312(b)"], types: &["aws_cloudfront_distribution"], formats: TF_CFN,
            expected: "logging_config { bucket = ... } (CloudFormation DistributionConfig.Logging.Bucket)", remediation: "logging_config {\n  bucket          = aws_s3_bucket.cdn_logs.bucket_domain_name\n  include_cookies = false\n  prefix          = \"cdn/\"\n}",
            sources: &["issue 16: access log of the front end's request path, as ELB-003 for load balancers", "Prowler: cloudfront_distributions_logging_enabled", "Checkov: CKV_AWS_86"], kind: Kind::Resource(cf_001) },
    ]
}
