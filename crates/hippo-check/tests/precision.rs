//! Precision: values that cannot be known statically are reported at info naming what could
//! not be resolved; references to secrets are not literal secrets; provider and engine
//! defaults are known; "deny unencrypted uploads" is advice, not a requirement; a rule that
//! does not cover a scanned format says so in the report.

mod common;

use std::path::PathBuf;

use common::*;
use hippo_check::engine::Finding;
use hippo_check::report::{render, OutputFormat};
use hippo_check::rules::Severity;

fn precision(name: &str) -> PathBuf {
    fixtures().join("precision").join(name)
}

fn findings(name: &str) -> Vec<Finding> {
    let o = scan_paths(&[precision(name)]);
    assert!(o.errors.is_empty(), "{name}: {:?}", o.errors);
    open(&o).into_iter().cloned().collect()
}

fn one<'a>(fs: &'a [Finding], rule: &str) -> &'a Finding {
    let hits: Vec<_> = fs.iter().filter(|f| f.rule_id == rule).collect();
    assert_eq!(hits.len(), 1, "{rule}: {fs:#?}");
    hits[0]
}

#[test]
fn unknowable_values_are_info_and_say_what_was_not_resolved() {
    let fs = findings("unresolved.tf");
    for (rule, what) in [
        ("HIPPO-AWS-RDS-001", "var.encrypt has no default"),
        ("HIPPO-AWS-RDS-002", "module.kms.key_arn"),
        ("HIPPO-AWS-RDS-003", "data.aws_ssm_parameter.public"),
    ] {
        let f = one(&fs, rule);
        assert_eq!(f.severity, Severity::Info, "{f:#?}");
        assert!(f.message.contains(what), "{rule}: {}", f.message);
        assert!(
            f.message.contains("cannot be resolved statically"),
            "{}",
            f.message
        );
    }
    let fs = findings("unresolved.yaml");
    let f = one(&fs, "HIPPO-AWS-EBS-001");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message.contains("parameter Encrypt has no default"),
        "{}",
        f.message
    );
}

#[test]
fn a_known_non_compliant_value_keeps_the_rule_severity() {
    let fs = findings("defaults.tf");
    let f = one(&fs, "HIPPO-AWS-ELC-001");
    assert_eq!(f.severity, Severity::High);
}

#[test]
fn references_to_secrets_are_not_literal_secrets() {
    for name in ["references.tf", "references.yaml", "references.json"] {
        let secrets: Vec<_> = findings(name)
            .into_iter()
            .filter(|f| f.rule_id.starts_with("HIPPO-SECRET"))
            .map(|f| format!("{}:{} {}", f.rule_id, f.line, f.message))
            .collect();
        assert!(secrets.is_empty(), "{name}: {secrets:#?}");
    }
    // The same assignment with a literal value is still caught.
    let fs = findings("literal.tf");
    assert_eq!(one(&fs, "HIPPO-SECRET-003").line, 2);
}

#[test]
fn defaults_that_are_compliant_do_not_fire() {
    let fs = findings("defaults.tf");
    let on = |rule: &str, res: &str| {
        fs.iter()
            .any(|f| f.rule_id == rule && f.resource.as_deref() == Some(res))
    };
    // Valkey encrypts at rest by default; Redis OSS does not.
    assert!(!on(
        "HIPPO-AWS-ELC-001",
        "aws_elasticache_replication_group.valkey"
    ));
    assert!(on(
        "HIPPO-AWS-ELC-001",
        "aws_elasticache_replication_group.redis"
    ));
    // The provider enforces HTTPS once `domain_endpoint_options` is present.
    assert!(!fs
        .iter()
        .any(|f| f.rule_id == "HIPPO-AWS-OS-002" && f.message.contains("enforce_https")));
    assert!(
        on("HIPPO-AWS-OS-002", "aws_opensearch_domain.search"),
        "node-to-node still required"
    );
    // Aurora Serverless v1 volumes are always encrypted; provisioned clusters are not.
    assert!(!on("HIPPO-AWS-RDS-001", "aws_rds_cluster.serverless_v1"));
    assert!(on("HIPPO-AWS-RDS-001", "aws_rds_cluster.provisioned"));
    // Minor version upgrades default to on.
    assert!(!on("HIPPO-AWS-RDS-010", "aws_db_instance.phi"));
}

#[test]
fn unencrypted_upload_denial_is_advice_not_a_requirement() {
    let fs = findings("s3_default_encryption.tf");
    let f = one(&fs, "HIPPO-AWS-S3-007");
    assert_eq!(
        f.severity,
        Severity::Info,
        "S3 encrypts every new object by default since 2023"
    );
    assert!(!fs
        .iter()
        .any(|f| f.rule_id == "HIPPO-AWS-S3-001" || f.rule_id == "HIPPO-AWS-S3-002"));
    // The customer-managed-key rule still guards PHI buckets.
    let rule = hippo_check::rules::find("HIPPO-AWS-S3-002").unwrap();
    assert!(rule.severity >= Severity::High);
}

#[test]
fn a_rule_not_covering_a_scanned_format_is_reported() {
    use hippo_check::engine::not_evaluated;
    use hippo_check::model::{Format, Node, Resource};
    // No rule leaves out a format that can express its types today (the registry test in
    // rules::formats keeps it so); a CloudFormation resource of a Terraform-only rule's type
    // stands in for a future gap.
    let rule = hippo_check::rules::registry()
        .iter()
        .find(|r| {
            !r.formats.contains(&Format::CloudFormation)
                && !r.types.is_empty()
                && r.types[0].starts_with("aws_")
        })
        .expect("a Terraform-only rule");
    let r = Resource {
        rtype: rule.types[0].to_string(),
        source_type: "AWS::Future::Thing".into(),
        address: "t.yaml::Thing".into(),
        name: "Thing".into(),
        format: Format::CloudFormation,
        file: "t.yaml".into(),
        line: 1,
        end_line: 1,
        body: Node::map(1),
        origin: None,
    };
    let mut o = scan_paths(&[precision("literal.tf")]);
    o.not_evaluated = not_evaluated(std::slice::from_ref(&r));
    assert_eq!(o.not_evaluated.len(), 1);
    assert_eq!(o.not_evaluated[0].rule_id, rule.id);
    let text = render(&o, OutputFormat::Text, false, false);
    assert!(
        text.contains(&format!(
            "rule {} not evaluated for cloudformation (1 AWS::Future::Thing resource(s))",
            rule.id
        )),
        "{text}"
    );
    let json = render(&o, OutputFormat::Json, false, false);
    assert!(json.contains("\"rules_not_evaluated\""), "{json}");
    let evidence = render(&o, OutputFormat::Markdown, false, false);
    assert!(
        evidence.contains("## Rules not evaluated on a scanned format"),
        "{evidence}"
    );
    // A scan of formats every rule covers carries no such note.
    assert!(scan_paths(&[precision("literal.tf")])
        .not_evaluated
        .is_empty());
}

#[test]
fn instances_take_imdsv2_from_their_launch_template() {
    let fs = findings("launch_template.tf");
    let imds = |res: &str| {
        fs.iter()
            .filter(|f| f.rule_id == "HIPPO-AWS-EC2-002" && f.resource.as_deref() == Some(res))
            .collect::<Vec<_>>()
    };
    assert!(imds("aws_instance.by_id").is_empty(), "{fs:#?}");
    assert!(imds("aws_instance.by_name").is_empty(), "{fs:#?}");
    let lax = imds("aws_instance.from_lax");
    assert_eq!(lax.len(), 1);
    assert_eq!((lax[0].line, lax[0].severity), (31, Severity::Medium));
    let elsewhere = imds("aws_instance.elsewhere");
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0].severity, Severity::Info, "{:?}", elsewhere[0]);
}

#[test]
fn an_unresolvable_source_cidr_is_info_not_open_to_the_world() {
    let o = scan_paths(&[fixtures().join("rules/terraform/vpc_cidr_bad.tf")]);
    let net: Vec<_> = open(&o)
        .into_iter()
        .filter(|f| f.rule_id == "HIPPO-AWS-NET-001")
        .collect();
    let world = net
        .iter()
        .find(|f| f.line == 13)
        .expect("world-open ingress");
    assert_eq!(world.severity, Severity::Critical);
    let partner = net.iter().find(|f| f.line == 21).expect("partner ingress");
    assert_eq!(partner.severity, Severity::Info);
    assert!(
        partner.message.contains("(the value of aws_eip.partner)"),
        "{}",
        partner.message
    );
}

#[test]
fn iam_grants_on_unresolved_resources_are_never_claimed_as_wildcards() {
    const IAM: [&str; 4] = [
        "HIPPO-AWS-IAM-001",
        "HIPPO-AWS-IAM-006",
        "HIPPO-AWS-IAM-007",
        "HIPPO-AWS-IAM-008",
    ];
    for (file, partial, whole, dependency) in [
        (
            "iam_unresolved.tf",
            "aws_iam_policy.regional",
            "aws_iam_policy.from_variable",
            "var.resources has no default",
        ),
        (
            "iam_unresolved.yaml",
            "Regional",
            "FromParameter",
            "parameter Resources has no default",
        ),
    ] {
        let fs = findings(file);
        let iam: Vec<&Finding> = fs.iter().filter(|f| IAM.contains(&f.rule_id)).collect();
        // An ARN with an unknown region is not "*": nothing to report.
        assert!(
            !iam.iter().any(|f| f.resource.as_deref() == Some(partial)),
            "{file}: {iam:#?}"
        );
        // A whole resource list that could be ["*"]: each rule says so, at info.
        for rule in IAM {
            let f = iam
                .iter()
                .find(|f| f.rule_id == rule && f.resource.as_deref() == Some(whole))
                .unwrap_or_else(|| panic!("{file}: {rule} silent on {whole}: {iam:#?}"));
            assert_eq!(f.severity, Severity::Info, "{f:#?}");
            assert!(
                f.message.contains("cannot be resolved statically"),
                "{}",
                f.message
            );
            assert!(f.message.contains(dependency), "{}", f.message);
        }
    }
}

#[test]
fn an_action_interpolating_an_unknown_service_is_not_full_admin() {
    let fs = findings("iam_unresolved.tf");
    let on = |rule: &str| {
        fs.iter().find(|f| {
            f.rule_id == rule
                && f.resource.as_deref() == Some("aws_iam_policy.service_from_variable")
        })
    };
    assert!(on("HIPPO-AWS-IAM-001").is_none(), "{fs:#?}");
    let wildcard = on("HIPPO-AWS-IAM-006").expect("IAM-006 says the service is unknown");
    assert_eq!(wildcard.severity, Severity::Info, "{wildcard:#?}");
    assert!(
        wildcard.message.contains("var.service"),
        "{}",
        wildcard.message
    );
}

#[test]
fn sqs_queues_are_encrypted_by_default_unless_switched_off() {
    let fs = findings("defaults.tf");
    let on = |res: &str| {
        fs.iter()
            .any(|f| f.rule_id == "HIPPO-AWS-SQS-001" && f.resource.as_deref() == Some(res))
    };
    assert!(!on("aws_sqs_queue.default_sse"), "{fs:#?}");
    assert!(on("aws_sqs_queue.sse_off"), "{fs:#?}");
}
