//! Rule documentation generated from the rule definitions (`--list-rules`).

use crate::model::Format;
use crate::rules::{registry, Kind, Rule};
use crate::terraform::plan::NOT_IN_PLAN;

fn formats(r: &Rule) -> String {
    let mut v: Vec<&str> = r.formats.iter().map(|f| f.label()).collect();
    // Terraform rules also run on plan JSON, except where the plan lacks what they read.
    let in_plan = r.types.iter().any(|t| !NOT_IN_PLAN.contains(t));
    if r.formats.contains(&Format::Terraform) && in_plan {
        v.insert(1, Format::TerraformPlan.label());
    }
    v.join(", ")
}

fn kind(r: &Rule) -> &'static str {
    match r.kind {
        Kind::Resource(_) => "resource",
        Kind::Secret => "secret scan",
        Kind::Meta => "suppression hygiene",
        Kind::Coverage => "coverage note",
    }
}

/// Rules as plain text.
pub fn text() -> String {
    let mut s = String::new();
    for r in registry() {
        s.push_str(&format!(
            "{:<22} {:<9} {}  [{}]\n",
            r.id,
            r.severity.label(),
            r.title,
            r.hipaa.join(", ")
        ));
    }
    s
}

/// Rules as JSON.
pub fn json() -> String {
    let v: Vec<_> = registry()
        .iter()
        .map(|r| {
            serde_json::json!({ "id": r.id, "title": r.title, "severity": r.severity, "hipaa": r.hipaa,
                "resource_types": r.types, "formats": formats(r), "expected": r.expected,
                "remediation": r.remediation, "sources": r.sources, "kind": kind(r) })
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// Rules as Markdown (docs/rules.md).
pub fn markdown() -> String {
    let mut s = String::from(
        "# `hippo check` rule pack\n\n\
         Generated from the rule definitions by `hippo check --list-rules --format markdown`; do not edit by hand.\n\n\
         Severities: critical > high > medium > low > info. `--fail-on SEVERITY` fails the run on any unsuppressed finding at or above it.\n\
         A value the checker cannot determine from the code (a variable without default, a value known only after apply, an unsupported function) is reported as a finding: unknown is never compliant.\n\
         Key ownership: a setting that must name a customer-managed KMS key fails when it is unset, names `alias/aws/*`, or is a data source for an `alias/aws/*` alias; a reference to an `aws_kms_key`/`aws_kms_alias` resource, a key ARN/ID or a customer alias passes.\n\n",
    );
    s.push_str(&format!(
        "{} rules.\n\n| Id | Title | Severity | HIPAA | Inputs |\n|---|---|---|---|---|\n",
        registry().len()
    ));
    for r in registry() {
        s.push_str(&format!(
            "| [{}](#{}) | {} | {} | {} | {} |\n",
            r.id,
            r.id.to_lowercase(),
            r.title,
            r.severity.label(),
            r.hipaa.join(", "),
            formats(r)
        ));
    }
    for r in registry() {
        s.push_str(&format!("\n## {}\n\n**{}**\n\n", r.id, r.title));
        s.push_str(&format!(
            "- Severity: {}\n- HIPAA: {}\n- Kind: {}\n",
            r.severity.label(),
            r.hipaa.join(", "),
            kind(r)
        ));
        if !r.types.is_empty() {
            s.push_str(&format!(
                "- Resource types: {}\n",
                r.types
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s.push_str(&format!(
            "- Inputs: {}\n- Expected: {}\n- Sources: {}\n\nRemediation:\n\n```\n{}\n```\n",
            formats(r),
            r.expected,
            r.sources.join("; "),
            r.remediation
        ));
    }
    s.push_str(&super::coverage::markdown());
    s
}
