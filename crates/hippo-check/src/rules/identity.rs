//! Identity, secrets and account services: IAM users, keys and inline policies, Secrets
//! Manager, SSM SecureString parameters, Cognito MFA, GuardDuty, API Gateway logging, and
//! Terraform state/variable hygiene.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF, TF_CFN};
use crate::model::{Node, Resource, Tri};

/// Resources through which a policy can reach a user directly.
const USER_GRANTS: &[&str] = &[
    "aws_iam_user_policy",
    "aws_iam_user_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_policy",
    "aws_iam_user",
];

fn iam_005(r: &Resource, _: &Index) -> Vec<Hit> {
    const MSG: &str = "an inline policy is embedded in a role, user or group; use managed policies that can be reviewed and reused";
    match r.rtype.as_str() {
        "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => hit(r.line, MSG),
        // CloudFormation's `AWS::IAM::Policy` is an inline policy embedded in its targets
        // (`AWS::IAM::ManagedPolicy` is the managed one; both read as `aws_iam_policy`).
        "aws_iam_policy" if r.source_type == "AWS::IAM::Policy" => hit(r.line, MSG),
        // Policies embedded in the principal itself: CloudFormation `Policies`, Terraform
        // `inline_policy` blocks (an empty block only clears inline policies).
        "aws_iam_role" | "aws_iam_user" | "aws_iam_group" => r
            .get_any(&["Policies", "inline_policy"])
            .filter(|p| {
                p.is_unknown()
                    || p.items()
                        .iter()
                        .any(|i| i.get_any(&["policy", "PolicyDocument"]).is_some())
            })
            .map(|p| hit(p.line, MSG))
            .unwrap_or_default(),
        _ => vec![],
    }
}

fn iam_002(r: &Resource, _: &Index) -> Vec<Hit> {
    const MSG: &str =
        "a policy is attached directly to an IAM user; grant permissions through groups or roles";
    match r.rtype.as_str() {
        "aws_iam_user_policy" | "aws_iam_user_policy_attachment" => hit(r.line, MSG),
        // `aws_iam_policy_attachment { users }`, a CloudFormation policy's `Users`, and a
        // CloudFormation user's own `Policies` / `ManagedPolicyArns`.
        _ => match r.get_any(&["users", "Policies", "ManagedPolicyArns"]) {
            // Which principals an unknown list names cannot be told before apply.
            Some(n) if n.is_unknown() => hit(n.line, unknown_msg("users", n)),
            Some(n) if !n.items().is_empty() || !strings(Some(n)).is_empty() => hit(n.line, MSG),
            _ => vec![],
        },
    }
}
fn iam_003(r: &Resource, _: &Index) -> Vec<Hit> {
    hit(
        r.line,
        "a long-lived IAM access key is created in code; use roles and short-lived credentials",
    )
}
fn iam_004(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = require_min(r, &["minimum_password_length"], 14.0, Some(8.0));
    out.extend(require_min(
        r,
        &["password_reuse_prevention"],
        24.0,
        Some(0.0),
    ));
    for k in [
        "require_symbols",
        "require_numbers",
        "require_uppercase_characters",
        "require_lowercase_characters",
    ] {
        out.extend(require_true(r, &[k], false));
    }
    out
}
fn sm_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    require_cmk(r, &["kms_key_id"], idx, "the secret")
}
fn ssm_001(r: &Resource, idx: &Index) -> Vec<Hit> {
    match r.get("type") {
        Some(t) if t.as_str() == Some("SecureString") => {
            require_cmk(r, &["key_id"], idx, "the SecureString parameter")
        }
        Some(t) if t.is_unknown() => hit(t.line, unknown_msg("type", t)),
        _ => vec![],
    }
}
fn sm_002(r: &Resource, idx: &Index) -> Vec<Hit> {
    if r.get("rotation_rules").is_some()
        || !referrers(
            idx,
            "aws_secretsmanager_secret_rotation",
            &["secret_id", "SecretId"],
            r,
            &["name", "arn"],
        )
        .is_empty()
    {
        return vec![];
    }
    hit(r.line, "no rotation is configured for this secret")
}
fn cog_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("mfa_configuration") {
        Some(n) if n.as_str() == Some("ON") => vec![],
        Some(n) => hit(
            n.line,
            format!("`mfa_configuration` is {}; MFA must be ON", n.describe()),
        ),
        None => hit(r.line, "`mfa_configuration` defaults to OFF"),
    }
}
fn gd_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("enable") {
        Some(n) if n.truth() != Tri::Yes => hit(n.line, "GuardDuty detector is disabled"),
        _ => vec![],
    }
}
fn api_001(r: &Resource, _: &Index) -> Vec<Hit> {
    // CloudFormation: `AccessLogSetting` (REST API stage), `AccessLogSettings` (HTTP API).
    match r.get_any(&["access_log_settings", "AccessLogSetting"]) {
        Some(_) => vec![],
        None => hit(r.line, "API stage has no access_log_settings"),
    }
}
fn tf_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("type").and_then(Node::as_str) {
        Some("s3") => {
            let mut out = require_true(r, &["encrypt"], false);
            if r.get("kms_key_id").is_none() {
                out.extend(hit(
                    r.line,
                    "state is not encrypted with a customer-managed KMS key (`kms_key_id`)",
                ));
            }
            out
        }
        Some("local") => hit(
            r.line,
            "state is kept in a local file, not an encrypted remote backend",
        ),
        _ => vec![],
    }
}
fn tf_002(r: &Resource, _: &Index) -> Vec<Hit> {
    let name = r.name.trim_start_matches("var.");
    if !secret_name(name) {
        return vec![];
    }
    match r.get("sensitive") {
        Some(n) if n.truth() == Tri::Yes => vec![],
        _ => hit(
            r.line,
            format!("variable {name} holds a secret but is not marked sensitive = true"),
        ),
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!("HIPPO-AWS-IAM-002", "IAM policies are not attached directly to users", Medium, &["164.308(a)(4)(ii)(B)"], USER_GRANTS, TF_CFN, "Permissions granted through groups or roles", "resource \"aws_iam_group_policy_attachment\" \"ops\" {\n  group      = aws_iam_group.ops.name\n  policy_arn = aws_iam_policy.ops.arn\n}",
            &["AWS Config: iam-user-no-policies-check", "Prowler: iam_policy_attached_only_to_group_or_roles"], iam_002),
        rule!("HIPPO-AWS-IAM-003", "No long-lived IAM access keys are created in code", Medium, &["164.308(a)(5)(ii)(D)", "164.312(d)"], &["aws_iam_access_key"], TF_CFN, "No aws_iam_access_key resources; use roles (OIDC for CI)", "Use an IAM role assumed through OIDC federation instead of an access key",
            &["seed 004: no long-lived secrets stored in the pipeline; short-lived tokens", "Prowler: iam_rotate_access_key_90_days"], iam_003),
        rule!("HIPPO-AWS-IAM-004", "IAM password policy is strong", Medium, &["164.308(a)(5)(ii)(D)"], &["aws_iam_account_password_policy"], TF, "minimum_password_length >= 14, reuse prevention 24, all character classes", "resource \"aws_iam_account_password_policy\" \"strict\" {\n  minimum_password_length      = 14\n  password_reuse_prevention    = 24\n  require_symbols              = true\n  require_numbers              = true\n  require_uppercase_characters = true\n  require_lowercase_characters = true\n}",
            &["AWS Config: iam-password-policy", "Prowler: iam_password_policy_minimum_length_14"], iam_004),
        rule!("HIPPO-AWS-IAM-005", "No inline IAM policies", Low, &["164.308(a)(4)(ii)(B)", "164.308(a)(4)(ii)(C)"], &["aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy", "aws_iam_policy", "aws_iam_role", "aws_iam_user", "aws_iam_group"], TF_CFN, "Permissions come from managed policies attached to roles or groups", "resource \"aws_iam_role_policy_attachment\" \"app\" {\n  role       = aws_iam_role.app.name\n  policy_arn = aws_iam_policy.app.arn\n}",
            &["AWS Config: iam-no-inline-policy-check", "Prowler: iam_inline_policy_no_administrative_privileges"], iam_005),
        rule!("HIPPO-AWS-SM-001", "Secrets Manager secrets use a customer-managed KMS key", Low, &["164.312(a)(2)(iv)"], &["aws_secretsmanager_secret"], TF_CFN, "kms_key_id names a customer-managed KMS key", "kms_key_id = aws_kms_key.secrets.arn",
            &["seed 003: optional customer-managed keys for secrets", "AWS Config: secretsmanager-using-cmk"], sm_001),
        rule!("HIPPO-AWS-SSM-001", "SSM SecureString parameters use a customer-managed KMS key", Low, &["164.312(a)(2)(iv)"], &["aws_ssm_parameter"], TF, "key_id names a customer-managed KMS key when type = \"SecureString\" (not the AWS-managed alias/aws/ssm)", "type   = \"SecureString\"\nkey_id = aws_kms_key.parameters.arn",
            &["issue 16: SecureString parameters with the AWS-managed key, as SM-001 for Secrets Manager", "Checkov: CKV_AWS_337"], ssm_001),
        rule!("HIPPO-AWS-SM-002", "Secrets Manager secrets rotate", Medium, &["164.308(a)(5)(ii)(D)"], &["aws_secretsmanager_secret"], TF_CFN, "An aws_secretsmanager_secret_rotation (or RotationSchedule) references the secret", "resource \"aws_secretsmanager_secret_rotation\" \"db\" {\n  secret_id           = aws_secretsmanager_secret.db.id\n  rotation_lambda_arn = aws_lambda_function.rotate.arn\n  rotation_rules { automatically_after_days = 30 }\n}",
            &["seed 004: Rotate keys and passwords automatically", "AWS Config: secretsmanager-rotation-enabled-check", "Prowler: secretsmanager_automatic_rotation_enabled"], sm_002),
        rule!("HIPPO-AWS-COG-001", "Cognito user pools require MFA", High, &["164.312(d)", "164.308(a)(5)(ii)(D)"], &["aws_cognito_user_pool"], TF_CFN, "mfa_configuration = \"ON\"", "mfa_configuration = \"ON\"\nsoftware_token_mfa_configuration {\n  enabled = true\n}",
            &["seed 002: Amazon Cognito - MFA", "seed 000: MFA required per 2025 Security Rule updates"], cog_001),
        rule!("HIPPO-AWS-GD-001", "GuardDuty detectors are enabled", Medium, &["164.308(a)(1)(ii)(D)", "164.308(a)(6)(ii)"], &["aws_guardduty_detector"], TF_CFN, "enable = true", "resource \"aws_guardduty_detector\" \"main\" {\n  enable = true\n}",
            &["seed 000: GuardDuty threat detection", "AWS Config: guardduty-enabled-centralized", "Prowler: guardduty_is_enabled"], gd_001),
        rule!("HIPPO-AWS-APIGW-001", "API Gateway stages write access logs", Medium, &["164.312(b)"], &["aws_api_gateway_stage", "aws_apigatewayv2_stage"], TF_CFN, "access_log_settings { destination_arn, format }", "access_log_settings {\n  destination_arn = aws_cloudwatch_log_group.api.arn\n  format          = jsonencode({ requestId = \"$context.requestId\" })\n}",
            &["seed 002: API Gateway access logs", "AWS Config: api-gw-execution-logging-enabled", "Prowler: apigateway_restapi_logging_enabled"], api_001),
        rule!("HIPPO-TF-001", "Terraform state is stored encrypted in a remote backend", High, &["164.312(a)(2)(iv)", "164.308(a)(1)(ii)(B)"], &["terraform_backend"], TF, "backend \"s3\" with encrypt = true and kms_key_id", "backend \"s3\" {\n  bucket     = \"tf-state\"\n  key        = \"prod/terraform.tfstate\"\n  encrypt    = true\n  kms_key_id = \"alias/terraform-state\"\n}",
            &["seed 002: Store Terraform state in a secure, encrypted remote backend (S3 with KMS encryption)", "seed 004: Manage IaC state with encryption"], tf_001),
        rule!("HIPPO-TF-002", "Secret Terraform variables are marked sensitive", Medium, &["164.312(a)(1)"], &["terraform_variable"], TF, "Variables named like passwords, secrets or tokens have sensitive = true", "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}",
            &["seed 002: Variables are marked as sensitive = true"], tf_002),
    ]
}
