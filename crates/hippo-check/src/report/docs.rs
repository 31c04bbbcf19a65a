//! Rule documentation generated from the rule definitions (`--list-rules`).

use crate::model::Format;
use crate::rules::{formats, registry, Kind, Rule};
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

/// Formats the rule leaves out, with the reason: declared gaps (see `rules::formats`), and
/// Terraform resource types that CloudFormation has no resource type for.
fn not_covered(r: &Rule) -> Vec<String> {
    let mut out: Vec<String> = formats::NOT_EVALUATED
        .iter()
        .filter(|g| g.rule == r.id)
        .map(|g| format!("not evaluated on {}: {}", g.format.label(), g.reason))
        .collect();
    if r.formats.contains(&Format::Terraform) && !r.formats.contains(&Format::CloudFormation) {
        let tf_only: Vec<String> = r
            .types
            .iter()
            .filter(|t| !formats::expresses(Format::CloudFormation, t))
            .map(|t| match formats::terraform_only(t) {
                Some(why) => format!("`{t}` ({why})"),
                None => format!("`{t}`"),
            })
            .collect();
        if !tf_only.is_empty() {
            out.push(format!(
                "not applicable to cloudformation: {}",
                tf_only.join("; ")
            ));
        }
    }
    out
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

/// What the gate judges beyond the files as written: conditional Terraform resources and
/// kustomize renders.
const EVALUATES: &str = "## What hippo check evaluates

**Conditional Terraform resources.** A compliance gate judges every resource that *some* input \
could create, not only those the variable defaults create. A resource or module call whose \
`count` or `for_each` depends on anything but literals (a variable, a local, a module output, a \
function of those) and gives no instance with the scanned inputs (variable defaults, \
`terraform.tfvars`, `*.auto.tfvars`), or whose value cannot be known from the code, is judged \
as if created once. Its findings carry a `condition` (text: `condition:` line; JSON: \
`condition`; SARIF: `properties.condition` and the message), e.g. `created when var.replica is \
true (count = var.replica ? 1 : 0; the scanned inputs (defaults, tfvars) give count 0)`; \
`each.key`/`each.value` of such an instance are unknown, so rules that read them report what \
they cannot verify. Resources inside a module call switched off this way carry `module.NAME is \
created when ...`. A `count`/`for_each` the inputs do resolve gives its instances as before, \
without a condition. Only a block whose `count` is a literal `0`, or whose `for_each` is a \
literal empty collection, is skipped: no input can create it. Plan JSON is judged as planned: a \
plan records one set of inputs, so scan the HCL as well to cover every input.

**Kustomize.** A directory with `kustomization.yaml`, `kustomization.yml` or `Kustomization` \
(or a YAML file whose `apiVersion` is `kustomize.config.k8s.io/...`) is rendered before the \
Kubernetes rules run. Every root kustomization (one no other scanned kustomization uses as a \
base) is rendered with its bases: `resources`/`bases` (files and directories, recursively, \
relative paths), `components`, `patchesStrategicMerge` and `patches` (strategic merge: maps \
merged by key, containers, volumes and env merged by `name`, `$patch: delete|replace`, \
`key: null` removes), `patches`/`patchesJson6902` with JSON 6902 operations (add, remove, \
replace, move, copy, test) and `target` selection (kind, group, version, name as a regular \
expression, namespace, label selector), `namePrefix`/`nameSuffix`, `namespace`, `commonLabels`, \
`labels`, `commonAnnotations`, `images` (newName, newTag, digest) and `replicas`. Generators, \
Helm charts and name references of renamed objects are not rendered. Remote bases (URLs) are \
not fetched: each is an info finding, HIPPO-KUST-001. A kustomization that cannot be rendered \
(not a mapping, a missing resource or patch file, a patch that matches nothing, a cycle) is a \
parse error (exit 2) naming the file and line; the rest of the tree is still judged.

A finding on a rendered object is reported in the overlay's kustomization file, at the line of \
the entry that brought the offending value in (the `resources` entry of the base, the `patches` \
entry of the patch, or the field that set it, such as `images`), and its `origin` names the \
`file:line` the value comes from (SARIF: a related location). Base manifests are valid \
manifests and are still checked on their own; an overlay finding that only repeats a finding of \
the same rule at the same base line is dropped, so a problem is reported once, where it is \
written, and an overlay that fixes a base problem stays silent for it. Patch files are partial \
manifests: they are judged only inside the render, never on their own. Inline suppressions of \
overlay findings go above the kustomization entry the finding points at.

";

/// Rules as Markdown (docs/rules.md).
pub fn markdown() -> String {
    let mut s = String::from(
        "# `hippo check` rule pack\n\n\
         Generated from the rule definitions by `hippo check --list-rules --format markdown`; do not edit by hand.\n\n\
         Severities: critical > high > medium > low > info. `--fail-on SEVERITY` fails the run on any unsuppressed finding at or above it.\n\
         A value the checker cannot determine from the code (a variable without default, a data source, a module output, a CloudFormation parameter without default, a value known only after apply) is reported at `info`, naming what could not be resolved: it never passes silently, and never fails the gate as if it were known to be wrong.\n\
         A setting left out is judged by its provider or engine default where that default is documented (sources in `src/rules/defaults.rs`).\n\
         Format coverage: every rule is evaluated on every input format that can express its resource types (Terraform HCL and plan JSON, CloudFormation YAML and JSON, ECS task definition JSON), with one implementation per rule; the Inputs column lists them. A rule that leaves out a format which can express its types is declared with its reason (`rules::formats::NOT_EVALUATED`), listed under the rule below, and named in every scan report that meets such a resource (\"rule X not evaluated for cloudformation\").\n\
         Key ownership: a setting that must name a customer-managed KMS key fails when it is unset, names `alias/aws/*`, or is a data source for an `alias/aws/*` alias; a reference to an `aws_kms_key`/`aws_kms_alias` resource, a key ARN/ID or a customer alias passes.\n\
         Pipelines as code: a GitHub Actions workflow is any YAML file under `.github/workflows/` or with top-level `on:` and `jobs:`; a GitLab CI pipeline is `.gitlab-ci.yml`, any `*.gitlab-ci.yml`, or a YAML file whose jobs have `script:` and `stage:` (included files). GitLab `extends:` and YAML merge keys are resolved before the rules run. A job deploys when its scripts run `terraform`/`tofu`/`terragrunt apply`, `kubectl apply|create|replace|patch|set image|rollout restart`, `helm upgrade|install`, `helmfile apply|sync`, `aws ecs update-service`, `aws cloudformation deploy|create-stack|update-stack|execute-change-set`, `aws lambda update-function-code`, `sam|cdk|serverless deploy`, `pulumi up`, `gcloud run deploy` or `az webapp deploy` (or use a known deploy action), unless it creates its own throw-away cluster (kind, minikube, k3d). Recognised scanners: `hippo check`, checkov, tfsec, trivy, terrascan, kics, grype, snyk, semgrep, conftest, kubesec, their GitHub actions, CodeQL, and GitLab's security scanning templates and components.\n\n",
    );
    s.push_str(EVALUATES);
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
        for gap in not_covered(r) {
            s.push_str(&format!("- Coverage: {gap}\n"));
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
