//! Per-rule fixtures: every non-compliant fixture yields exactly the marked rule ids at the
//! marked lines, every compliant fixture yields no finding at all, and every rule has both
//! kinds of fixture in each input syntax it applies to (Terraform as HCL and as plan JSON,
//! CloudFormation as YAML and as JSON). JSON has no comments: its fixtures carry their
//! expectations in `.expect` / `.good` sidecar files.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use hippo_check::model::Format;
use hippo_check::rules::formats::{
    expresses, gaps, terraform_only, NOT_EVALUATED, TERRAFORM_ONLY_TYPES,
};
use hippo_check::rules::registry;
use hippo_check::terraform::plan::NOT_IN_PLAN;

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

/// The fixture directories a rule of each format must have fixtures in: one per input
/// syntax the format is read from (Terraform as HCL and as plan JSON, CloudFormation as
/// YAML and as JSON), since each syntax has its own parser and its own line numbers.
fn dirs_for(f: Format) -> &'static [&'static str] {
    match f {
        Format::Terraform => &["terraform", "terraform-plan"],
        Format::TerraformPlan => &["terraform-plan"],
        Format::CloudFormation => &["cloudformation", "cloudformation-json"],
        Format::Kubernetes => &["kubernetes"],
        Format::Dockerfile => &["dockerfile"],
        Format::EcsJson => &["ecs"],
        Format::GithubActions => &["github-actions"],
        Format::GitlabCi => &["gitlab-ci"],
        Format::Text => &["text"],
    }
}

/// (rule, fixture directory, why the rule cannot have fixtures there). Kept as short as the
/// formats allow; an entry that is no longer needed fails the test below.
const NOT_EXPRESSIBLE: &[(&str, &str, &str)] = &[(
    "HIPPO-TF-001",
    "terraform-plan",
    "`terraform show -json` has no backend configuration, so state encryption can only be \
     checked in the HCL `backend` block",
)];

#[test]
fn every_rule_has_bad_and_good_fixtures_per_format() {
    let mut bad: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (d, p) in files("_bad") {
        bad.entry(d)
            .or_default()
            .extend(expectations(&p).into_iter().map(|(r, _)| r));
    }
    let mut good: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (d, p) in files("_good") {
        good.entry(d).or_default().extend(good_rules(&p));
    }
    let known: BTreeSet<&str> = bad.keys().chain(good.keys()).map(String::as_str).collect();
    let mut missing = Vec::new();
    for r in registry() {
        for f in r.formats {
            for d in dirs_for(*f) {
                assert!(known.contains(d), "no fixture directory rules/{d}");
                if NOT_EXPRESSIBLE
                    .iter()
                    .any(|(id, dir, _)| *id == r.id && dir == d)
                {
                    continue;
                }
                if !bad.get(*d).is_some_and(|s| s.contains(r.id)) {
                    missing.push(format!("{} {d}: no non-compliant fixture", r.id));
                }
                if !good.get(*d).is_some_and(|s| s.contains(r.id)) {
                    missing.push(format!("{} {d}: no compliant fixture", r.id));
                }
            }
        }
    }
    for (id, d, why) in NOT_EXPRESSIBLE {
        let applies = registry()
            .iter()
            .any(|r| r.id == *id && r.formats.iter().any(|f| dirs_for(*f).contains(d)));
        let covered = bad.get(*d).is_some_and(|s| s.contains(*id))
            || good.get(*d).is_some_and(|s| s.contains(*id));
        if !applies || covered {
            missing.push(format!("{id} {d}: stale NOT_EXPRESSIBLE entry ({why})"));
        }
    }
    // The rule docs leave terraform-plan out of these rules' inputs: keep both in step.
    for r in registry()
        .iter()
        .filter(|r| r.formats.contains(&Format::Terraform))
    {
        let plan_less = r.types.iter().all(|t| NOT_IN_PLAN.contains(t));
        let listed = NOT_EXPRESSIBLE
            .iter()
            .any(|(id, d, _)| *id == r.id && *d == "terraform-plan");
        if plan_less != listed {
            missing.push(format!(
                "{}: NOT_IN_PLAN and NOT_EXPRESSIBLE disagree on terraform-plan",
                r.id
            ));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// A rule must be evaluated on every format that can express one of its resource types
/// (CloudFormation for an AWS type in `cfn::TYPE_MAP`, ECS JSON for task definitions), which
/// the test above then holds to fixtures, or be declared in `NOT_EVALUATED` with the reason
/// the scan report gives. A new Terraform-only rule for a type CloudFormation has fails here.
#[test]
fn every_rule_covers_each_format_of_its_types_or_says_why_not() {
    let mut problems = Vec::new();
    for r in registry() {
        for f in gaps(r) {
            if !NOT_EVALUATED
                .iter()
                .any(|g| g.rule == r.id && g.format == f)
            {
                problems.push(format!(
                    "{} is not evaluated on {} although that format expresses its resource \
                     types: cover the format (one implementation, fixtures per syntax) or \
                     declare it in rules::formats::NOT_EVALUATED with the reason",
                    r.id,
                    f.label()
                ));
            }
        }
    }
    // An AWS type CloudFormation has must be mapped (cfn::TYPE_MAP), so that the check above
    // applies to it; one it has not must say so.
    for r in registry() {
        for t in r.types.iter().filter(|t| t.starts_with("aws_")) {
            let mapped = expresses(Format::CloudFormation, t);
            if mapped == terraform_only(t).is_some() {
                problems.push(format!(
                    "{} reads {t}: map its CloudFormation type in cfn::TYPE_MAP, or list it in \
                     rules::formats::TERRAFORM_ONLY_TYPES with the reason (not both)",
                    r.id
                ));
            }
        }
    }
    for (t, _) in TERRAFORM_ONLY_TYPES {
        if !registry().iter().any(|r| r.types.contains(t)) {
            problems.push(format!("stale TERRAFORM_ONLY_TYPES entry {t}"));
        }
    }
    for g in NOT_EVALUATED {
        if !registry()
            .iter()
            .any(|r| r.id == g.rule && gaps(r).contains(&g.format))
        {
            problems.push(format!(
                "stale NOT_EVALUATED entry {} {}",
                g.rule,
                g.format.label()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Rule ids are unique: fixtures, suppressions and baselines name rules by id, so two rules
/// sharing one would answer for each other's fixtures.
#[test]
fn rule_ids_are_unique() {
    let mut seen = BTreeSet::new();
    let dup: Vec<&str> = registry()
        .iter()
        .map(|r| r.id)
        .filter(|id| !seen.insert(*id))
        .collect();
    assert!(dup.is_empty(), "duplicate rule ids: {dup:?}");
}
