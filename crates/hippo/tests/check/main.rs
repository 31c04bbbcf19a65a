//! Inputs, evaluation semantics, suppressions, baseline, Rego, outputs and exit codes.

#[path = "../../../hippo-check/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use hippo_check::engine::{scan, Options};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hippo-check-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn bin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hippo"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const BAD_BUCKET: &str = "resource \"aws_kms_key\" \"k\" {\n  enable_key_rotation = true\n}\n";

#[test]
fn unknown_values_are_findings_not_passes() {
    let d = tmp("unknown");
    write(&d, "main.tf", "variable \"enc\" {}\nresource \"aws_db_instance\" \"db\" {\n  storage_encrypted = var.enc\n}\n");
    let o = scan_paths(&[d]);
    let f = o
        .findings
        .iter()
        .find(|f| f.rule_id == "HIPPO-AWS-RDS-001")
        .expect("unknown flagged");
    assert_eq!(f.line, 3);
    assert!(f.message.contains("unknown"), "{}", f.message);
}

#[test]
fn templates_conditionals_and_functions_are_evaluated() {
    let d = tmp("eval");
    write(
        &d,
        "main.tf",
        r#"
variable "env" { default = "prod" }
locals {
  days = var.env == "prod" ? 2192 : 30
  tags = merge({ a = "1" }, { b = "2" })
  name = lower("PHI-${var.env}")
}
resource "aws_cloudwatch_log_group" "ok" {
  name              = local.name
  retention_in_days = local.days
  kms_key_id        = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}
resource "aws_cloudwatch_log_group" "short" {
  name              = format("%s-short", local.name)
  retention_in_days = max(7, 30)
  kms_key_id        = "alias/phi-logs"
}
"#,
    );
    let o = scan_paths(&[d]);
    let f: Vec<_> = open(&o)
        .into_iter()
        .map(|f| (f.rule_id, f.line, f.resource.clone()))
        .collect();
    assert_eq!(
        f,
        vec![(
            "HIPPO-AWS-CW-001",
            15,
            Some("aws_cloudwatch_log_group.short".to_string())
        )]
    );
}

#[test]
fn aws_managed_key_data_source_is_not_customer_managed() {
    let d = tmp("kmsdata");
    write(&d, "main.tf", "data \"aws_kms_alias\" \"s3\" {\n  name = \"alias/aws/s3\"\n}\nresource \"aws_sns_topic\" \"t\" {\n  kms_master_key_id = data.aws_kms_alias.s3.target_key_arn\n}\n");
    let o = scan_paths(&[d]);
    let f = o
        .findings
        .iter()
        .find(|f| f.rule_id == "HIPPO-AWS-SNS-001")
        .expect("flagged");
    assert!(f.message.contains("AWS-managed"), "{}", f.message);
    assert_eq!(f.line, 5);
}

#[test]
fn terraform_plan_json_is_scanned_with_unknowns() {
    let o = scan_paths(&[fixtures().join("inputs/plan.json")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let ids: Vec<(&str, u32)> = open(&o).iter().map(|f| (f.rule_id, f.line)).collect();
    assert!(ids.contains(&("HIPPO-AWS-RDS-001", 14)), "{ids:?}");
    let kms = o
        .findings
        .iter()
        .find(|f| f.rule_id == "HIPPO-AWS-RDS-002")
        .unwrap();
    assert_eq!(kms.line, 7);
    assert!(kms.message.contains("known after apply"), "{}", kms.message);
    assert!(ids.contains(&("HIPPO-AWS-S3-003", 20)), "{ids:?}");
}

#[test]
fn cloudformation_json_is_scanned() {
    let o = scan_paths(&[fixtures().join("inputs/cfn.json")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let ids: Vec<(&str, u32)> = open(&o).iter().map(|f| (f.rule_id, f.line)).collect();
    assert!(ids.contains(&("HIPPO-AWS-RDS-001", 8)), "{ids:?}");
    assert!(ids.contains(&("HIPPO-AWS-NET-001", 17)), "{ids:?}");
}

#[test]
fn parse_errors_are_reported_and_exit_2() {
    let d = tmp("parse");
    write(
        &d,
        "broken.tf",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \n",
    );
    // Only infrastructure code is a parse error; a broken non-infrastructure file is skipped
    // (tests/robustness.rs in hippo-check).
    write(
        &d,
        "broken.yaml",
        "AWSTemplateFormatVersion: \"2010-09-09\"\nResources: [1, 2\n",
    );
    write(&d, "broken.json", "{\"apiVersion\": }");
    let o = scan_paths(std::slice::from_ref(&d));
    assert_eq!(o.errors.len(), 3, "{:?}", o.errors);
    let (code, _, err) = bin(&[d.to_str().unwrap(), "--no-color"]);
    assert_eq!(code, 2);
    assert!(err.contains("parse error"));
}

#[test]
fn exit_codes_follow_fail_on() {
    let d = tmp("exit");
    write(
        &d,
        "main.tf",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n  object_lock_enabled = true\n}\n",
    );
    let p = d.to_str().unwrap();
    assert_eq!(bin(&[p]).0, 1);
    assert_eq!(bin(&[p, "--fail-on", "critical"]).0, 1); // S3-003 is critical
    let clean = tmp("clean");
    write(&clean, "main.tf", BAD_BUCKET);
    assert_eq!(bin(&[clean.to_str().unwrap()]).0, 0);
    assert_eq!(bin(&["/nonexistent/path/for/hippo"]).0, 2);
    assert_eq!(bin(&[p, "--format", "nope"]).0, 2);
}

#[test]
fn inline_suppressions_apply_to_line_and_resource() {
    let d = tmp("suppress");
    write(
        &d,
        "main.tf",
        r#"# hippo:ignore HIPPO-AWS-KMS-001 reason="asymmetric signing key, rotation not supported" until=2099-01-01
resource "aws_kms_key" "sign" {
  description = "signing"
}

resource "aws_kms_key" "other" {
  enable_key_rotation = false # hippo:ignore HIPPO-AWS-KMS-001 reason="retiring this key in Q3"
}
"#,
    );
    let o = scan_paths(&[d]);
    assert!(open(&o).is_empty(), "{:#?}", open(&o));
    assert_eq!(
        o.findings.iter().filter(|f| f.suppressed.is_some()).count(),
        2
    );
}

#[test]
fn baseline_suppresses_by_fingerprint_and_requires_reason() {
    let d = tmp("baseline");
    let tf = write(&d, "main.tf", "resource \"aws_kms_key\" \"k\" {}\n");
    let base = d.join("baseline.json");
    let (code, _, _) = bin(&[
        tf.to_str().unwrap(),
        "--write-baseline",
        base.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    // Written with empty reasons: every entry is itself a finding until justified.
    let (code, out, _) = bin(&[
        tf.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("HIPPO-SUP-001"));
    let text = std::fs::read_to_string(&base).unwrap().replace(
        "\"reason\": \"\"",
        "\"reason\": \"accepted by security review SR-12\"",
    );
    std::fs::write(&base, text).unwrap();
    let (code, out, _) = bin(&[
        tf.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["suppressed"]["kind"] == "baseline"));
}

#[test]
fn rego_custom_rules_run_over_the_model() {
    let o = scan(&Options {
        paths: vec![fixtures().join("rules/terraform/s3_bad.tf")],
        rules_dir: Some(fixtures().join("rego")),
        baseline: None,
        today: "2026-06-01".into(),
    })
    .unwrap();
    let f = o
        .findings
        .iter()
        .find(|f| f.rule_id == "CUSTOM-TAGS-001")
        .expect("custom rule fired");
    assert_eq!(f.line, 1);
    assert_eq!(f.resource.as_deref(), Some("aws_s3_bucket.bad"));
    assert_eq!(f.hipaa, vec!["164.308(a)(1)(ii)(A)".to_string()]);
}

#[test]
fn secrets_are_masked_in_every_output() {
    let p = fixtures().join("rules/text/secrets_bad.env");
    for fmt in ["text", "json", "sarif", "junit", "markdown", "html"] {
        let (_, out, _) = bin(&[p.to_str().unwrap(), "--format", fmt, "--no-color"]);
        for raw in [
            // hippo:ignore HIPPO-SECRET-001 reason="a fake key in the AWS format: the secret-scan test input"
            "AKIAQ3EGUVWXYZ234567",
            "Zx9qL2vT8mWc4RbY",
            "Kq8sLm2Zx9",
            "c2lnbmF0dXJlLXZhbHVl",
        ] {
            assert!(!out.contains(raw), "{fmt} output leaks {raw}");
        }
    }
}

#[test]
fn gitignored_and_helm_template_files_are_not_parsed() {
    let d = tmp("ignore");
    write(&d, ".gitignore", "generated/\n");
    write(
        &d,
        "generated/bad.tf",
        "resource \"aws_s3_bucket\" \"b\" {}\n",
    );
    write(
        &d,
        "chart/templates/deploy.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name }}\n",
    );
    let o = scan_paths(&[d]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert!(o.findings.is_empty(), "{:?}", o.findings);
    assert_eq!(
        o.helm_templates.len(),
        1,
        "the Helm template is reported, not silently skipped"
    );
}

#[test]
fn sarif_output_validates_against_the_2_1_0_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("schema compiles");
    for target in ["corpus/vulnerable", "rules/terraform/s3_good.tf"] {
        let (_, out, _) = bin(&[
            fixtures().join(target).to_str().unwrap(),
            "--format",
            "sarif",
        ]);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{target}: {errors:#?}");
        assert_eq!(doc["version"], "2.1.0");
    }
}

#[test]
fn junit_markdown_and_html_reports_are_produced() {
    let p = fixtures().join("corpus/vulnerable");
    let (_, junit, _) = bin(&[p.to_str().unwrap(), "--format", "junit"]);
    assert!(
        junit.starts_with("<?xml") && junit.contains("<testcase") && junit.contains("<failure")
    );
    assert_eq!(
        junit.matches("<testcase").count(),
        hippo_check::rules::registry().len()
    );
    let (_, md, _) = bin(&[p.to_str().unwrap(), "--format", "markdown"]);
    assert!(md.contains("## 45 CFR 164.312(a)(2)(iv)") && md.contains("| HIPPO-AWS-RDS-001 |"));
    let (_, html, _) = bin(&[p.to_str().unwrap(), "--format", "html"]);
    assert!(html.contains("<h2>45 CFR 164.312(b)</h2>") && html.ends_with("</html>\n"));
    let (_, json, _) = bin(&[p.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["summary"]["findings"].as_u64().unwrap() > 100);
}

#[test]
fn list_rules_markdown_matches_docs() {
    let (code, md, _) = bin(&["--list-rules", "--format", "markdown"]);
    assert_eq!(code, 0);
    for r in hippo_check::rules::registry() {
        assert!(md.contains(&format!("## {}", r.id)));
    }
    assert!(md.contains("cannot be checked from code"));
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    if let Ok(existing) = std::fs::read_to_string(docs) {
        assert!(
            existing == md,
            "docs/rules.md is stale: regenerate with --list-rules --format markdown"
        );
    }
}

#[test]
fn coverage_tables_name_only_existing_rules() {
    use hippo_check::report::coverage::{Cov, AWS_CONFIG_HIPAA, PROWLER_HIPAA};
    for (check, cov) in AWS_CONFIG_HIPAA.iter().chain(PROWLER_HIPAA) {
        if let Cov::Rules(ids) = cov {
            for id in *ids {
                assert!(
                    hippo_check::rules::find(id).is_some(),
                    "{check} names unknown rule {id}"
                );
            }
        }
    }
    assert!(AWS_CONFIG_HIPAA.len() > 100 && PROWLER_HIPAA.len() > 80);
}

#[test]
fn terraform_json_syntax_is_evaluated_like_hcl() {
    let o = scan_paths(&[fixtures().join("inputs/cdktf")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let db: Vec<_> = open(&o)
        .into_iter()
        .filter(|f| f.resource.as_deref() == Some("aws_db_instance.db"))
        .map(|f| (f.rule_id, f.line, f.message.clone()))
        .collect();
    assert!(
        db.iter()
            .any(|(id, line, _)| *id == "HIPPO-AWS-RDS-001" && *line == 13),
        "{db:#?}"
    );
    // backup_retention_period = "${var.retention}", overridden to 21 by terraform.tfvars.json
    assert!(
        db.iter()
            .any(|(id, line, m)| *id == "HIPPO-AWS-RDS-005" && *line == 14 && m.contains("is 21")),
        "{db:#?}"
    );
    // kms_key_id references the aws_kms_key resource: customer-managed
    assert!(
        !db.iter().any(|(id, _, _)| *id == "HIPPO-AWS-RDS-002"),
        "{db:#?}"
    );
}

#[test]
fn evidence_report_names_the_scanned_commit() {
    let d = tmp("git");
    write(&d, ".git/HEAD", "ref: refs/heads/main\n");
    write(
        &d,
        ".git/refs/heads/main",
        "0123456789abcdef0123456789abcdef01234567\n",
    );
    write(
        &d,
        "main.tf",
        "resource \"aws_kms_key\" \"k\" {\n  enable_key_rotation = true\n}\n",
    );
    let (code, md, _) = bin(&[d.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(
        md.contains("| Scanned commit | 0123456789abcdef0123456789abcdef01234567 |"),
        "{md}"
    );
    let (_, sarif, _) = bin(&[d.to_str().unwrap(), "--format", "sarif"]);
    assert!(sarif.contains("\"revisionId\":\"0123456789abcdef0123456789abcdef01234567\""));
}

#[test]
fn count_and_for_each_instances_are_expanded_when_known() {
    let d = tmp("instances");
    write(
        &d,
        "main.tf",
        r#"variable "create_legacy" {
  default = false
}

resource "aws_ebs_volume" "legacy" {
  count             = var.create_legacy ? 1 : 0
  availability_zone = "us-east-1a"
}

locals {
  volumes = {
    phi     = { encrypted = true }
    scratch = { encrypted = false }
  }
}

resource "aws_ebs_volume" "data" {
  for_each          = local.volumes
  availability_zone = "us-east-1a"
  encrypted         = each.value.encrypted
  kms_key_id        = "arn:aws:kms:us-east-1:111122223333:key/${each.key}"
}
"#,
    );
    let o = scan_paths(std::slice::from_ref(&d));
    let ebs: Vec<_> = open(&o)
        .into_iter()
        .filter(|f| f.rule_id.starts_with("HIPPO-AWS-EBS"))
        .map(|f| (f.rule_id, f.line, f.resource.clone().unwrap_or_default()))
        .collect();
    // A volume switched off by the defaults is still judged (an input turns it on), and its
    // findings name the condition; of the for_each instances only "scratch" is unencrypted.
    assert_eq!(
        ebs,
        vec![
            (
                "HIPPO-AWS-EBS-001",
                5,
                "aws_ebs_volume.legacy[0]".to_string()
            ),
            (
                "HIPPO-AWS-EBS-002",
                5,
                "aws_ebs_volume.legacy[0]".to_string()
            ),
            (
                "HIPPO-AWS-EBS-001",
                20,
                "aws_ebs_volume.data[\"scratch\"]".to_string()
            ),
        ]
    );
    for f in open(&o)
        .into_iter()
        .filter(|f| f.rule_id.starts_with("HIPPO-AWS-EBS"))
    {
        let condition = f.condition.clone().unwrap_or_default();
        if f.line == 5 {
            assert!(condition.contains("var.create_legacy"), "{condition}");
        } else {
            assert!(
                condition.is_empty(),
                "the for_each instance is known: {condition}"
            );
        }
    }
}

#[test]
fn hippos_own_deploy_code_passes_the_gate() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let (code, out, err) = bin(&[deploy.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "deploy/ must pass hippo check:\n{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    let text = report.to_string();
    assert!(
        text.contains("aws_db_instance") || text.contains("resources"),
        "the scan saw the deploy tree"
    );
    // Every accepted exception is documented with a reason.
    let (_, shown, _) = bin(&[deploy.to_str().unwrap(), "--show-suppressed"]);
    assert!(shown.contains("suppressed"), "{shown}");
}
