//! Compute access rules: EC2 instance profiles and public Lambda permissions.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity, TF};
use crate::model::Resource;

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

pub fn rules() -> Vec<Rule> {
    vec![
        rule!("HIPPO-AWS-EC2-003", "EC2 instances have an IAM instance profile", Medium, &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"], &["aws_instance"], TF, "iam_instance_profile is set (role credentials, no stored keys)", "iam_instance_profile = aws_iam_instance_profile.app.name",
            &["AWS Config: ec2-instance-profile-attached"], ec2_003),
        rule!("HIPPO-AWS-LAMBDA-001", "Lambda functions are not invocable by everyone", Critical, &["164.312(a)(1)"], &["aws_lambda_permission"], TF, "principal names a service or account, never \"*\"", "principal  = \"apigateway.amazonaws.com\"\nsource_arn = \"${aws_api_gateway_rest_api.api.execution_arn}/*\"",
            &["AWS Config: lambda-function-public-access-prohibited", "Prowler: awslambda_function_not_publicly_accessible"], lambda_001),
    ]
}
