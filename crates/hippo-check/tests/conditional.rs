//! Terraform resources that only some inputs create (`count`/`for_each` switched off by the
//! defaults) are judged, and their findings name the condition that creates them.

mod common;

use common::*;
use hippo_check::report::{render, OutputFormat};

fn dir(name: &str) -> std::path::PathBuf {
    fixtures().join("conditional").join(name)
}

#[test]
fn resources_switched_off_by_the_defaults_are_judged_with_their_condition() {
    let o = scan_paths(&[dir("bad")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let of = |res: &str, rule: &str| {
        open(&o)
            .into_iter()
            .find(|f| f.resource.as_deref() == Some(res) && f.rule_id == rule)
            .unwrap_or_else(|| panic!("no {rule} on {res}"))
            .clone()
    };
    // The example: a PHI replica bucket under `count = var.replica ? 1 : 0`, default
    // false, with no public-access block, no CMK and no access logs.
    for rule in ["HIPPO-AWS-S3-003", "HIPPO-AWS-S3-001", "HIPPO-AWS-S3-005"] {
        let f = of("aws_s3_bucket.phi_replica[0]", rule);
        let c = f.condition.as_deref().expect("condition attached");
        assert!(c.starts_with("created when var.replica is true"), "{c}");
        assert!(c.contains("count = var.replica ? 1 : 0"), "{c}");
    }
    // for_each over a map that is empty by default.
    let f = of("aws_s3_bucket.tenant[each.key]", "HIPPO-AWS-S3-003");
    assert!(f.condition.as_deref().is_some_and(
        |c| c.contains("for_each = var.tenant_buckets") && c.contains("empty collection")
    ));
    // A condition computed in a local.
    let f = of("aws_db_instance.reporting[0]", "HIPPO-AWS-RDS-001");
    assert!(f
        .condition
        .as_deref()
        .is_some_and(|c| c.starts_with("created when local.production is true")));
    // A module call switched off by default: its resources carry the module's condition.
    let f = of("module.replica.aws_ebs_volume.replica", "HIPPO-AWS-EBS-001");
    assert!(f
        .condition
        .as_deref()
        .is_some_and(|c| c.starts_with("module.replica is created when var.replica is true")));
    // A literal `count = 0` can be created by no input: not judged.
    assert!(!open(&o)
        .iter()
        .any(|f| f.resource.as_deref().is_some_and(|r| r.contains("retired"))));
}

#[test]
fn conditions_appear_in_text_json_and_sarif() {
    let o = scan_paths(&[dir("bad")]);
    let text = render(&o, OutputFormat::Text, false, false);
    assert!(text.contains("condition: created when var.replica is true"));
    let json: serde_json::Value =
        serde_json::from_str(&render(&o, OutputFormat::Json, false, false)).expect("json");
    let with_condition = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["condition"].as_str().is_some())
        .count();
    assert_eq!(
        with_condition,
        open(&o).len(),
        "every finding of the fixture is conditional"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&render(&o, OutputFormat::Sarif, false, false)).expect("sarif");
    let result = &sarif["runs"][0]["results"][0];
    assert!(
        result["properties"]["condition"].as_str().is_some(),
        "{result}"
    );
    assert!(result["message"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("(condition: created ")));
}

#[test]
fn the_same_resources_made_compliant_stay_silent() {
    let o = scan_paths(&[dir("good")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let f: Vec<String> = open(&o)
        .iter()
        .map(|f| format!("{}:{} {}", f.rule_id, f.line, f.message))
        .collect();
    assert!(f.is_empty(), "{f:#?}");
    // Silence because the bucket was judged and passed, not because it was skipped.
    for rule in ["HIPPO-AWS-S3-001", "HIPPO-AWS-S3-003", "HIPPO-AWS-S3-005"] {
        assert!(o.stats[rule].evaluated >= 1, "{rule} not evaluated");
    }
}
