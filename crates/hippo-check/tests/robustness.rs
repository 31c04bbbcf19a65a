//! Inputs that are not plain infrastructure code: a Terraform file with a UTF-8 byte-order
//! mark parses; commented JSON, READMEs and binary files never abort the gate nor change its
//! exit code; infrastructure files that truly cannot be parsed still exit 2.

mod common;

use std::path::PathBuf;

use common::*;
use hippo_check::cli::{run, CheckArgs};
use hippo_check::report::OutputFormat;
use hippo_check::rules::Severity;

fn corpus(name: &str) -> PathBuf {
    fixtures().join("corpus").join(name)
}

/// Runs the real `hippo check` entry point, report to a file so tests stay quiet.
fn exit_code(paths: Vec<PathBuf>) -> i32 {
    let out = std::env::temp_dir().join(format!(
        "hippo-check-robustness-{}-{}.json",
        std::process::id(),
        paths.len()
    ));
    let args = CheckArgs {
        command: None,
        paths,
        format: OutputFormat::Json,
        fail_on: Severity::Low,
        rules_dir: None,
        baseline: None,
        write_baseline: None,
        output: Some(out.clone()),
        list_rules: false,
        show_suppressed: false,
        no_color: true,
        evidence: None,
        signing_key: None,
    };
    let code = run(&args);
    let _ = std::fs::remove_file(out);
    code
}

#[test]
fn terraform_with_byte_order_mark_parses_and_keeps_line_numbers() {
    let o = scan_paths(&[corpus("noise/main.tf")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let f = open(&o)
        .into_iter()
        .find(|f| f.rule_id == "HIPPO-AWS-RDS-001")
        .expect("the resource after the BOM is evaluated");
    assert_eq!(f.line, 3, "{f:?}");
}

#[test]
fn non_infrastructure_files_are_skipped_not_errors() {
    let o = scan_paths(&[corpus("noise")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let skipped: Vec<String> = o
        .not_infrastructure
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    for name in [
        "tsconfig.json",
        "settings.json",
        "fixture-data.json",
        "mkdocs.yml",
    ] {
        assert!(
            skipped.contains(&name.to_string()),
            "{name} not listed in {skipped:?}"
        );
    }
    // README and PNG are text/secret-scan inputs: never parsed, never listed, never errors.
    assert!(!skipped.iter().any(|s| s == "README.md" || s == "logo.png"));
}

#[test]
fn non_infrastructure_files_do_not_change_the_exit_code() {
    let alone = exit_code(vec![corpus("noise/main.tf")]);
    let with_noise = exit_code(vec![corpus("noise")]);
    assert_eq!(alone, 1, "the RDS finding fails the gate");
    assert_eq!(with_noise, alone);
}

#[test]
fn broken_infrastructure_files_still_exit_2() {
    for dir in ["broken-cfn", "broken-tf"] {
        let o = scan_paths(&[corpus(dir)]);
        assert_eq!(o.errors.len(), 1, "{dir}: {:?}", o.errors);
        assert!(o.not_infrastructure.is_empty(), "{dir}");
        assert_eq!(exit_code(vec![corpus(dir)]), 2, "{dir}");
    }
    // Broken infrastructure next to noise: the noise does not hide the error.
    assert_eq!(exit_code(vec![corpus("noise"), corpus("broken-cfn")]), 2);
}

#[test]
fn cloudformation_with_byte_order_mark_parses_in_yaml_and_json() {
    let o = scan_paths(&[corpus("bom")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let mut at: Vec<(String, u32)> = open(&o)
        .into_iter()
        .filter(|f| f.rule_id == "HIPPO-AWS-RDS-001")
        .map(|f| (f.file.rsplit('/').next().unwrap().to_string(), f.line))
        .collect();
    at.sort();
    assert_eq!(
        at,
        vec![("stack.json".to_string(), 7), ("stack.yaml".to_string(), 6)]
    );
}

fn scratch(case: u64) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hippo-check-noise-{}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The markers that make a file infrastructure code (and a parse failure an error).
const MARKERS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "AWS::",
    "format_version",
    "terraform_version",
    "resource_changes",
    "planned_values",
    "containerDefinitions",
    "apiVersion",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary bytes under data-file names never abort the gate: whatever does not parse
    /// and carries no infrastructure marker is skipped, never a parse error.
    #[test]
    fn arbitrary_non_infrastructure_bytes_never_are_errors(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        case in proptest::prelude::any::<u64>(),
    ) {
        let text = String::from_utf8_lossy(&bytes);
        proptest::prop_assume!(!MARKERS.iter().any(|m| text.contains(m)));
        let d = scratch(case);
        for name in ["data.json", "notes.yaml", "config.yml", "README.md", "blob.bin"] {
            std::fs::write(d.join(name), &bytes).unwrap();
        }
        let o = scan_paths(std::slice::from_ref(&d));
        let _ = std::fs::remove_dir_all(&d);
        proptest::prop_assert!(o.errors.is_empty(), "{:?}", o.errors);
    }
}
