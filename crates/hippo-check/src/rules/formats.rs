//! Format coverage of the rule pack: which input formats can express a resource type, which
//! rules leave out a format that can, and why (so a scan says so instead of staying silent).

use crate::cfn;
use crate::model::Format;
use crate::rules::{registry, Kind, Rule};

/// A rule that is not evaluated on a format although that format can express one of the
/// rule's resource types, and the reason. Every such gap must be listed here: the registry
/// test fails on an unlisted gap (a new Terraform-only rule) and on a stale entry.
pub struct NotEvaluated {
    pub rule: &'static str,
    pub format: Format,
    pub reason: &'static str,
}

/// Every known gap. Kept as short as the formats allow.
pub const NOT_EVALUATED: &[NotEvaluated] = &[];

/// Terraform resource types of the rule pack that CloudFormation has no resource type for,
/// and how CloudFormation says the same thing (if it can). Every AWS type a rule reads is
/// either mapped in `cfn::TYPE_MAP` (and the rule must then cover CloudFormation) or listed
/// here: a rule for a new AWS type cannot silently stay Terraform-only.
pub const TERRAFORM_ONLY_TYPES: &[(&str, &str)] = &[
    (
        "aws_alb",
        "an alias of aws_lb (AWS::ElasticLoadBalancingV2::LoadBalancer)",
    ),
    (
        "aws_alb_listener",
        "an alias of aws_lb_listener (AWS::ElasticLoadBalancingV2::Listener)",
    ),
    (
        "aws_alb_target_group",
        "an alias of aws_lb_target_group (AWS::ElasticLoadBalancingV2::TargetGroup)",
    ),
    (
        "aws_ssm_parameter",
        "AWS::SSM::Parameter cannot create SecureString parameters, the only type the rule judges",
    ),
    (
        "aws_default_security_group",
        "Terraform adopts the VPC's default group; CloudFormation cannot manage it",
    ),
    (
        "aws_ebs_encryption_by_default",
        "an account setting with no CloudFormation resource type",
    ),
    (
        "aws_iam_account_password_policy",
        "an account setting with no CloudFormation resource type",
    ),
    (
        "aws_elasticsearch_domain_policy",
        "CloudFormation sets AccessPolicies on the domain, which the rule reads",
    ),
    (
        "aws_opensearch_domain_policy",
        "CloudFormation sets AccessPolicies on the domain, which the rule reads",
    ),
    (
        "aws_iam_role_policy",
        "CloudFormation: AWS::IAM::Policy or Policies on the role, which the rule reads",
    ),
    (
        "aws_iam_user_policy",
        "CloudFormation: AWS::IAM::Policy or Policies on the user, which the rule reads",
    ),
    (
        "aws_iam_group_policy",
        "CloudFormation: AWS::IAM::Policy or Policies on the group, which the rule reads",
    ),
    (
        "aws_iam_policy_attachment",
        "CloudFormation: Users/Roles/Groups on the policy, which the rule reads",
    ),
    (
        "aws_iam_user_policy_attachment",
        "CloudFormation: ManagedPolicyArns on the user, which the rule reads",
    ),
    (
        "aws_s3_bucket_acl",
        "CloudFormation: AccessControl on the bucket, which the rule reads",
    ),
    (
        "aws_s3_bucket_public_access_block",
        "CloudFormation: PublicAccessBlockConfiguration on the bucket, which the rule reads",
    ),
    (
        "aws_vpc_security_group_ingress_rule",
        "CloudFormation: AWS::EC2::SecurityGroupIngress, which the rule reads",
    ),
    (
        "aws_s3_object",
        "CloudFormation has no resource type for S3 objects",
    ),
    (
        "aws_s3_bucket_object",
        "CloudFormation has no resource type for S3 objects",
    ),
];

/// Why CloudFormation has no counterpart of a Terraform type, if it is a known one.
pub fn terraform_only(rtype: &str) -> Option<&'static str> {
    TERRAFORM_ONLY_TYPES
        .iter()
        .find(|(t, _)| *t == rtype)
        .map(|(_, why)| *why)
}

/// True if a format can carry a resource of this canonical type.
pub fn expresses(format: Format, rtype: &str) -> bool {
    match format {
        Format::Terraform | Format::TerraformPlan => {
            rtype.starts_with("aws_") || rtype.starts_with("terraform_")
        }
        Format::CloudFormation => cfn::TYPE_MAP.iter().any(|(_, t)| *t == rtype),
        Format::EcsJson => rtype == "aws_ecs_task_definition",
        Format::Kubernetes => rtype.starts_with("k8s_"),
        Format::Dockerfile => rtype == "dockerfile",
        Format::GithubActions => rtype == crate::pipeline::GITHUB_WORKFLOW,
        Format::GitlabCi => rtype == crate::pipeline::GITLAB_PIPELINE,
        Format::Text => false,
    }
}

/// The format a rule is declared for when it reads a resource of format `f` (plan JSON is
/// read by the Terraform rules).
pub fn declared(f: Format) -> Format {
    if f == Format::TerraformPlan {
        Format::Terraform
    } else {
        f
    }
}

/// Formats that can express one of the rule's resource types but that the rule does not
/// evaluate.
pub fn gaps(rule: &Rule) -> Vec<Format> {
    if !matches!(rule.kind, Kind::Resource(_)) {
        return Vec::new();
    }
    [
        Format::Terraform,
        Format::CloudFormation,
        Format::EcsJson,
        Format::Kubernetes,
        Format::Dockerfile,
    ]
    .into_iter()
    .filter(|f| !rule.formats.contains(f))
    .filter(|f| rule.types.iter().any(|t| expresses(*f, t)))
    .collect()
}

/// Why a rule is not evaluated on a format (for the scan report and the rule docs).
pub fn reason(rule: &str, format: Format) -> &'static str {
    NOT_EVALUATED
        .iter()
        .find(|g| g.rule == rule && g.format == declared(format))
        .map(|g| g.reason)
        .unwrap_or("no reason recorded")
}

/// Rules that recognise a resource's type but do not evaluate its format.
pub fn skipped_for(rtype: &str, format: Format) -> impl Iterator<Item = &'static Rule> + '_ {
    let f = declared(format);
    registry().iter().filter(move |r| {
        matches!(r.kind, Kind::Resource(_)) && !r.formats.contains(&f) && r.types.contains(&rtype)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudformation_types_are_expressed_and_others_are_not() {
        assert!(expresses(Format::CloudFormation, "aws_iam_user"));
        assert!(!expresses(
            Format::CloudFormation,
            "aws_iam_account_password_policy"
        ));
        assert!(expresses(Format::EcsJson, "aws_ecs_task_definition"));
        assert!(!expresses(Format::EcsJson, "aws_s3_bucket"));
    }
}
