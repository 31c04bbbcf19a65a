//! Compute access rules: EC2 instance profiles, public Lambda permissions, and secrets and
//! their key in Lambda environment variables.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF_CFN};
use crate::model::{Node, Resource, Val};
use crate::secrets;

fn ec2_003(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("iam_instance_profile") {
        Some(_) => vec![],
        None => hit(
            r.line,
            "no IAM instance profile: credentials would have to be stored on the instance",
        ),
    }
}

fn lambda_001(r: &Resource, _: &Index) -> Vec<Hit> {
    match r.get("principal") {
        Some(p) if p.as_str() == Some("*") => {
            hit(p.line, "the function can be invoked by any principal")
        }
        Some(p) if p.is_unknown() => hit(p.line, unknown_msg("principal", p)),
        _ => vec![],
    }
}

const FUNCTION: &[&str] = &["aws_lambda_function"];

/// The function's environment variables: `environment { variables = {...} }` in Terraform,
/// `Environment: { Variables: {...} }` in CloudFormation.
fn lambda_env(r: &Resource) -> Option<&Node> {
    r.body.path(&["environment", "variables"])
}

fn lambda_002(r: &Resource, _: &Index) -> Vec<Hit> {
    let Some(vars) = lambda_env(r) else {
        return vec![];
    };
    let mut out = Vec::new();
    for (name, v) in vars.entries() {
        // HCL object values carry the line of their attribute (or, once a variable is
        // substituted, of its declaration): point at the value when it lies inside this
        // resource, else at the `variables` map.
        let line = if (r.line..=r.end_line).contains(&v.line) {
            v.line
        } else {
            vars.line
        };
        match &v.val {
            // A literal value is judged by the same detectors as any text file.
            Val::Str(s) if !s.is_empty() && (secret_name(name) || secrets::looks_secret(s)) => {
                out.extend(hit(line, format!("environment variable {name} holds a secret in plaintext ({}); read it from Secrets Manager or SSM at run time", secrets::mask(s))));
            }
            // A secret passed in from a variable or another resource still ends up in the
            // function configuration, readable by anyone with lambda:GetFunctionConfiguration.
            Val::Ref(_) | Val::Unknown(_) if secret_name(name) => {
                out.extend(hit(line, format!("environment variable {name} carries a secret ({}) into the function configuration; pass its ARN and read it at run time", v.describe())));
            }
            _ => {}
        }
    }
    out
}

fn lambda_003(r: &Resource, idx: &Index) -> Vec<Hit> {
    match lambda_env(r) {
        Some(vars) if !vars.entries().is_empty() => {
            require_cmk(r, &["kms_key_arn"], idx, "the environment variables")
        }
        _ => vec![],
    }
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!("HIPPO-AWS-EC2-003", "EC2 instances have an IAM instance profile", Medium, &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"], &["aws_instance"], TF_CFN, "iam_instance_profile is set (role credentials, no stored keys)", "iam_instance_profile = aws_iam_instance_profile.app.name",
            &["AWS Config: ec2-instance-profile-attached"], ec2_003),
        rule!("HIPPO-AWS-LAMBDA-001", "Lambda functions are not invocable by everyone", Critical, &["164.312(a)(1)"], &["aws_lambda_permission"], TF_CFN, "principal names a service or account, never \"*\"", "principal  = \"apigateway.amazonaws.com\"\nsource_arn = \"${aws_api_gateway_rest_api.api.execution_arn}/*\"",
            &["AWS Config: lambda-function-public-access-prohibited", "Prowler: awslambda_function_not_publicly_accessible"], lambda_001),
        rule!("HIPPO-AWS-LAMBDA-002", "Lambda environment variables hold no secrets", Critical, &["164.312(a)(1)", "164.312(d)", "164.308(a)(5)(ii)(D)"], FUNCTION, TF_CFN, "No password, token, key or credential-bearing URL in environment variables (literal or passed in)", "environment {\n  variables = {\n    DB_PASSWORD_SECRET_ARN = aws_secretsmanager_secret.db.arn\n  }\n}",
            &["issue 16: Lambda secrets in environment variables", "Checkov: CKV_AWS_45", "Prowler: awslambda_function_no_secrets_in_variables"], lambda_002),
        rule!("HIPPO-AWS-LAMBDA-003", "Lambda environment variables are encrypted with a customer-managed key", Medium, &["164.312(a)(2)(iv)"], FUNCTION, TF_CFN, "A function with environment variables sets kms_key_arn (KmsKeyArn) to a customer-managed KMS key", "kms_key_arn = aws_kms_key.lambda.arn",
            &["issue 16: Lambda environment without a CMK", "Checkov: CKV_AWS_173"], lambda_003),
    ]
}
