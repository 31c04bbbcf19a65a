//! CloudFormation templates (YAML or JSON): resources mapped to canonical types,
//! parameters resolved from defaults, intrinsic functions resolved or left unknown.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{partial_string, Format, Node, Resource, Val};

/// CloudFormation type to the canonical (Terraform) resource type.
pub const TYPE_MAP: &[(&str, &str)] = &[
    ("AWS::S3::Bucket", "aws_s3_bucket"),
    ("AWS::S3::BucketPolicy", "aws_s3_bucket_policy"),
    ("AWS::RDS::DBInstance", "aws_db_instance"),
    // An `AWS::RDS::DBInstance` with `DBClusterIdentifier` is an Aurora instance: storage,
    // backups and logs belong to its cluster (see `canonical_type`).
    ("AWS::RDS::DBInstance", "aws_rds_cluster_instance"),
    ("AWS::RDS::DBCluster", "aws_rds_cluster"),
    ("AWS::RDS::DBParameterGroup", "aws_db_parameter_group"),
    (
        "AWS::RDS::DBClusterParameterGroup",
        "aws_rds_cluster_parameter_group",
    ),
    ("AWS::KMS::Key", "aws_kms_key"),
    ("AWS::EC2::SecurityGroup", "aws_security_group"),
    ("AWS::EC2::SecurityGroupIngress", "aws_security_group_rule"),
    ("AWS::EC2::Volume", "aws_ebs_volume"),
    ("AWS::EC2::Instance", "aws_instance"),
    ("AWS::EC2::Subnet", "aws_subnet"),
    ("AWS::EC2::VPC", "aws_vpc"),
    ("AWS::EC2::FlowLog", "aws_flow_log"),
    ("AWS::ElasticLoadBalancingV2::Listener", "aws_lb_listener"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "aws_lb"),
    ("AWS::CloudTrail::Trail", "aws_cloudtrail"),
    ("AWS::Logs::LogGroup", "aws_cloudwatch_log_group"),
    ("AWS::ECS::TaskDefinition", "aws_ecs_task_definition"),
    ("AWS::ECS::Service", "aws_ecs_service"),
    ("AWS::ECR::Repository", "aws_ecr_repository"),
    ("AWS::SecretsManager::Secret", "aws_secretsmanager_secret"),
    (
        "AWS::SecretsManager::RotationSchedule",
        "aws_secretsmanager_secret_rotation",
    ),
    ("AWS::EKS::Cluster", "aws_eks_cluster"),
    ("AWS::DynamoDB::Table", "aws_dynamodb_table"),
    ("AWS::EFS::FileSystem", "aws_efs_file_system"),
    ("AWS::SNS::Topic", "aws_sns_topic"),
    (
        "AWS::ElastiCache::ReplicationGroup",
        "aws_elasticache_replication_group",
    ),
    ("AWS::Backup::BackupVault", "aws_backup_vault"),
    ("AWS::Backup::BackupPlan", "aws_backup_plan"),
    ("AWS::ElasticLoadBalancing::LoadBalancer", "aws_elb"),
    // An `AWS::IAM::Policy` is inline (attached through Roles/Users/Groups) and an
    // `AWS::IAM::ManagedPolicy` is standalone; both read as a policy document with targets.
    ("AWS::IAM::ManagedPolicy", "aws_iam_policy"),
    ("AWS::IAM::Policy", "aws_iam_policy"),
    ("AWS::IAM::Role", "aws_iam_role"),
    ("AWS::IAM::User", "aws_iam_user"),
    ("AWS::IAM::Group", "aws_iam_group"),
    ("AWS::Neptune::DBCluster", "aws_neptune_cluster"),
    ("AWS::Lambda::Function", "aws_lambda_function"),
    ("AWS::OpenSearchService::Domain", "aws_opensearch_domain"),
    ("AWS::Elasticsearch::Domain", "aws_elasticsearch_domain"),
    ("AWS::Kinesis::Stream", "aws_kinesis_stream"),
    ("AWS::Redshift::Cluster", "aws_redshift_cluster"),
    ("AWS::EC2::LaunchTemplate", "aws_launch_template"),
    (
        "AWS::AutoScaling::LaunchConfiguration",
        "aws_launch_configuration",
    ),
    ("AWS::Lambda::Permission", "aws_lambda_permission"),
    ("AWS::IAM::AccessKey", "aws_iam_access_key"),
    ("AWS::Cognito::UserPool", "aws_cognito_user_pool"),
    ("AWS::GuardDuty::Detector", "aws_guardduty_detector"),
    ("AWS::ApiGateway::Stage", "aws_api_gateway_stage"),
    ("AWS::ApiGatewayV2::Stage", "aws_apigatewayv2_stage"),
    (
        "AWS::WAFv2::WebACLAssociation",
        "aws_wafv2_web_acl_association",
    ),
    ("AWS::RDS::DBSubnetGroup", "aws_db_subnet_group"),
    ("AWS::SQS::Queue", "aws_sqs_queue"),
    (
        "AWS::KinesisFirehose::DeliveryStream",
        "aws_kinesis_firehose_delivery_stream",
    ),
    (
        "AWS::CloudFront::Distribution",
        "aws_cloudfront_distribution",
    ),
    (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "aws_lb_target_group",
    ),
    ("AWS::Backup::BackupSelection", "aws_backup_selection"),
];

/// True if a parsed document is a CloudFormation template.
pub fn is_template(doc: &Node) -> bool {
    if doc.get("AWSTemplateFormatVersion").is_some() {
        return true;
    }
    doc.get("Resources").is_some_and(|r| {
        r.entries().iter().any(|(_, v)| {
            v.get("Type")
                .and_then(Node::as_str)
                .is_some_and(|t| t.contains("::"))
        })
    })
}

/// Extracts normalised resources from a template.
pub fn resources(doc: &Node, file: &Arc<str>) -> Vec<Resource> {
    let prefix = format!("{file}::");
    let mut params = HashMap::new();
    for (k, p) in doc
        .get("Parameters")
        .map(|n| n.entries())
        .unwrap_or_default()
    {
        params.insert(k.clone(), p.get("Default").cloned());
    }
    let logical: Vec<String> = doc
        .get("Resources")
        .map(|r| r.entries().iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let ctx = Ctx {
        params,
        logical,
        prefix: prefix.clone(),
    };
    let mut out = Vec::new();
    for (id, r) in doc
        .get("Resources")
        .map(|n| n.entries())
        .unwrap_or_default()
    {
        let stype = r
            .get("Type")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let rtype = canonical_type(&stype, r.get("Properties"));
        let mut body = r
            .get("Properties")
            .map(|p| ctx.resolve(p))
            .unwrap_or(Node::map(r.line));
        if stype == "AWS::EC2::SecurityGroupIngress" {
            if let Val::Map(kv) = &mut body.val {
                kv.push(("type".into(), Node::new(r.line, Val::Str("ingress".into()))));
            }
        }
        out.push(Resource {
            rtype,
            source_type: stype,
            address: format!("{prefix}{id}"),
            name: id.clone(),
            format: Format::CloudFormation,
            file: file.clone(),
            line: r.line,
            end_line: last_line(r),
            body,
            origin: None,
        });
    }
    out
}

/// The canonical type of a CloudFormation resource: its `TYPE_MAP` entry, except that a DB
/// instance in a cluster is an Aurora instance (`aws_rds_cluster_instance`, as in Terraform).
fn canonical_type(stype: &str, props: Option<&Node>) -> String {
    if stype == "AWS::RDS::DBInstance"
        && props.is_some_and(|p| p.get("DBClusterIdentifier").is_some())
    {
        return "aws_rds_cluster_instance".into();
    }
    TYPE_MAP
        .iter()
        .find(|(c, _)| *c == stype)
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| stype.to_string())
}

fn last_line(n: &Node) -> u32 {
    match &n.val {
        Val::List(items) => items.iter().map(last_line).max().unwrap_or(n.line),
        Val::Map(kv) => kv.iter().map(|(_, v)| last_line(v)).max().unwrap_or(n.line),
        _ => n.line,
    }
}

struct Ctx {
    params: HashMap<String, Option<Node>>,
    logical: Vec<String>,
    prefix: String,
}

impl Ctx {
    fn resolve(&self, n: &Node) -> Node {
        let l = n.line;
        match &n.val {
            Val::Map(kv) if kv.len() == 1 && (kv[0].0 == "Ref" || kv[0].0.starts_with("Fn::")) => {
                self.intrinsic(&kv[0].0, &kv[0].1, l)
            }
            Val::Map(kv) => Node::new(
                l,
                Val::Map(
                    kv.iter()
                        .map(|(k, v)| (k.clone(), self.resolve(v)))
                        .collect(),
                ),
            ),
            Val::List(items) => Node::new(
                l,
                Val::List(items.iter().map(|i| self.resolve(i)).collect()),
            ),
            _ => n.clone(),
        }
    }

    fn reference(&self, name: &str, l: u32) -> Node {
        if let Some(p) = self.params.get(name) {
            return match p {
                Some(d) => Node::new(l, d.val.clone()),
                None => Node::new(l, Val::Unknown(format!("parameter {name} has no default"))),
            };
        }
        if self.logical.iter().any(|x| x == name) {
            return Node::new(l, Val::Ref(format!("{}{name}", self.prefix)));
        }
        Node::new(l, Val::Unknown(format!("Ref {name}")))
    }

    fn intrinsic(&self, f: &str, arg: &Node, l: u32) -> Node {
        match f {
            "Ref" => match arg.as_str() {
                Some(name) => self.reference(name, l),
                None => Node::new(l, Val::Unknown("Ref".into())),
            },
            "Fn::GetAtt" => {
                let target = match &arg.val {
                    Val::List(items) => items.first().and_then(Node::as_str).map(str::to_string),
                    Val::Str(s) => s.split('.').next().map(str::to_string),
                    _ => None,
                };
                match target {
                    Some(t) => Node::new(l, Val::Ref(format!("{}{t}", self.prefix))),
                    None => Node::new(l, Val::Unknown("Fn::GetAtt".into())),
                }
            }
            "Fn::Sub" => match arg.as_str() {
                Some(s) => self.sub(s, l),
                None => Node::new(l, Val::Unknown("Fn::Sub with variables".into())),
            },
            "Fn::Join" => {
                let items = arg.items();
                let sep = arg
                    .items()
                    .first()
                    .and_then(|s| s.as_str())
                    .map(str::to_string);
                let parts = items.get(1).map(|p| self.resolve(p));
                match (sep, parts) {
                    (
                        Some(sep),
                        Some(Node {
                            val: Val::List(ps), ..
                        }),
                    ) => {
                        let strs: Option<Vec<String>> =
                            ps.iter().map(|p| p.as_str().map(str::to_string)).collect();
                        match strs {
                            Some(s) => Node::new(l, Val::Str(s.join(&sep))),
                            None => {
                                Node::new(l, Val::Unknown("Fn::Join with unknown parts".into()))
                            }
                        }
                    }
                    _ => Node::new(l, Val::Unknown("Fn::Join".into())),
                }
            }
            other => Node::new(l, Val::Unknown(other.to_string())),
        }
    }

    fn sub(&self, s: &str, l: u32) -> Node {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else { break };
            let name = &rest[i + 2..i + j];
            if let Some(lit) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(lit);
                out.push('}');
            } else {
                match self.reference(name, l).val {
                    Val::Str(v) => out.push_str(&v),
                    Val::Num(n) => out.push_str(&crate::terraform::eval::fmt_num(n)),
                    Val::Ref(r) if out.is_empty() && rest[i + j + 1..].is_empty() => {
                        return Node::new(l, Val::Ref(r))
                    }
                    _ => {
                        let what = format!("Fn::Sub ${{{name}}}");
                        // `${X}` alone may be anything; with literal text around it, the
                        // value keeps that text (see `model::partial_string`).
                        let whole = s.trim() == format!("${{{name}}}");
                        return Node::new(
                            l,
                            Val::Unknown(if whole { what } else { partial_string(&what) }),
                        );
                    }
                }
            }
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        Node::new(l, Val::Str(out))
    }
}
