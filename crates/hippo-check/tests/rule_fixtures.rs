//! Per-rule fixtures: every non-compliant fixture yields exactly the marked rule ids at the
//! marked lines, every compliant fixture yields no finding at all, and every rule has both
//! kinds of fixture in each input format it applies to.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use hippo_check::model::Format;
use hippo_check::rules::registry;

fn files(kind: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for fmt in std::fs::read_dir(fixtures().join("rules")).unwrap() {
        let fmt = fmt.unwrap().path();
        let fmt_name = fmt.file_name().unwrap().to_string_lossy().to_string();
        for f in std::fs::read_dir(&fmt).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.contains(kind) && !name.ends_with(".expect") && !name.ends_with(".good") {
                out.push((fmt_name.clone(), p));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn non_compliant_fixtures_report_exact_rule_and_line() {
    let bad = files("_bad");
    assert!(!bad.is_empty());
    let mut failures = Vec::new();
    for (_, path) in bad {
        let expected = expectations(&path);
        assert!(
            !expected.is_empty(),
            "{} has no hippo-expect markers",
            path.display()
        );
        let o = scan_paths(std::slice::from_ref(&path));
        assert!(o.errors.is_empty(), "{}: {:?}", path.display(), o.errors);
        let marked: BTreeSet<&str> = expected.iter().map(|(r, _)| r.as_str()).collect();
        let actual: BTreeSet<(String, u32)> = open(&o)
            .iter()
            .filter(|f| marked.contains(f.rule_id))
            .map(|f| (f.rule_id.to_string(), f.line))
            .collect();
        if actual != expected {
            let missing: Vec<_> = expected.difference(&actual).collect();
            let extra: Vec<_> = actual.difference(&expected).collect();
            failures.push(format!(
                "{}: missing {missing:?} unexpected {extra:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn compliant_fixtures_report_nothing() {
    for (_, path) in files("_good") {
        let o = scan_paths(std::slice::from_ref(&path));
        assert!(o.errors.is_empty(), "{}: {:?}", path.display(), o.errors);
        let f: Vec<String> = open(&o)
            .iter()
            .map(|f| format!("{}:{} {}", f.rule_id, f.line, f.message))
            .collect();
        assert!(f.is_empty(), "{} should be clean: {f:#?}", path.display());
    }
}

fn dir_format(d: &str) -> Format {
    match d {
        "terraform" => Format::Terraform,
        "cloudformation" => Format::CloudFormation,
        "kubernetes" => Format::Kubernetes,
        "dockerfile" => Format::Dockerfile,
        "ecs" => Format::EcsJson,
        _ => Format::Text,
    }
}

#[test]
fn every_rule_has_bad_and_good_fixtures_per_format() {
    let mut bad: BTreeMap<Format, BTreeSet<String>> = BTreeMap::new();
    for (d, p) in files("_bad") {
        bad.entry(dir_format(&d))
            .or_default()
            .extend(expectations(&p).into_iter().map(|(r, _)| r));
    }
    let mut good: BTreeMap<Format, BTreeSet<String>> = BTreeMap::new();
    for (d, p) in files("_good") {
        good.entry(dir_format(&d))
            .or_default()
            .extend(good_rules(&p));
    }
    let mut missing = Vec::new();
    for r in registry() {
        for f in r.formats {
            if !bad.get(f).is_some_and(|s| s.contains(r.id)) {
                missing.push(format!("{} {:?}: no non-compliant fixture", r.id, f));
            }
            if !good.get(f).is_some_and(|s| s.contains(r.id)) {
                missing.push(format!("{} {:?}: no compliant fixture", r.id, f));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
