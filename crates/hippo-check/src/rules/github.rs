//! GitHub Actions workflow checks behind the HIPPO-PIPE rules: action pinning, token
//! permissions, cloud keys, secrets in logs, untrusted pull request code, deploy gates and
//! script injection.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use super::helpers::hit;
use super::pipeline::{
    deploy_command, is_commit_sha, makes_local_cluster, prints, runs_scanner, LONG_LIVED_KEYS,
};
use super::{Hit, Index};
use crate::model::{key_eq, Node, Resource, Val};
use crate::pipeline::{script_lines, GITHUB_WORKFLOW};

fn jobs(r: &Resource) -> Vec<(&str, &Node)> {
    r.body
        .get("jobs")
        .map(|j| j.entries().iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn steps(job: &Node) -> Vec<&Node> {
    job.get("steps").map(Node::items).unwrap_or_default()
}

fn uses(step: &Node) -> Option<(&str, u32)> {
    step.get("uses")
        .and_then(|u| u.as_str().map(|s| (s, u.line)))
}

/// Every `uses:` of a workflow: job-level reusable workflows and step actions.
fn all_uses(r: &Resource) -> Vec<(&str, u32)> {
    let mut out = Vec::new();
    for (_, job) in jobs(r) {
        out.extend(uses(job));
        out.extend(steps(job).into_iter().filter_map(uses));
    }
    out
}

pub fn unpinned_actions(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (u, line) in all_uses(r) {
        if u.starts_with("./") {
            continue;
        }
        if let Some(image) = u.strip_prefix("docker://") {
            if !image.contains("@sha256:") {
                out.extend(hit(
                    line,
                    format!("container action `{image}` is not pinned by `@sha256:` digest"),
                ));
            }
            continue;
        }
        match u.rsplit_once('@') {
            Some((_, r)) if is_commit_sha(r) => {}
            Some((name, r)) => out.extend(hit(
                line,
                format!(
                    "`{name}` is pinned to `{r}`, a tag or branch its owner can move to other code; pin the full commit SHA"
                ),
            )),
            None => out.extend(hit(line, format!("`{u}` names no ref at all"))),
        }
    }
    out
}

fn is_write_all(p: &Node) -> bool {
    p.as_str() == Some("write-all")
}

pub fn token_permissions(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    let top = r.body.get("permissions");
    if let Some(p) = top.filter(|p| is_write_all(p)) {
        out.extend(hit(
            p.line,
            "`permissions: write-all` gives every job's GITHUB_TOKEN write access to the repository, its packages and its deployments",
        ));
    }
    for (id, job) in jobs(r) {
        match job.get("permissions") {
            Some(p) if is_write_all(p) => out.extend(hit(
                p.line,
                format!("job `{id}` has `permissions: write-all`"),
            )),
            Some(_) => {}
            None if top.is_none() => out.extend(hit(
                job.line,
                format!(
                    "job `{id}` sets no `permissions:` and neither does the workflow: its GITHUB_TOKEN gets the repository default, which can be read-write on everything"
                ),
            )),
            None => {}
        }
    }
    out
}

/// A credential value that is a stored long-lived key: a secret or a literal, not the
/// output of an earlier step (such as short-lived credentials from an OIDC exchange).
fn stored_key(v: &Node) -> bool {
    v.as_str().is_some_and(|s| {
        !s.trim().is_empty()
            && (s.contains("secrets.") || s.contains("vars.") || !s.contains("${{"))
    })
}

fn long_lived_in(map: Option<&Node>, what: &str, out: &mut Vec<Hit>) {
    for (k, v) in map.map(Node::entries).unwrap_or_default() {
        if LONG_LIVED_KEYS.iter().any(|name| key_eq(k, name)) && stored_key(v) {
            out.extend(hit(
                v.line,
                format!("{what} `{k}` is a long-lived cloud key; use OIDC federation (`id-token: write` and a role to assume) instead"),
            ));
        }
    }
}

pub fn long_lived_keys(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    long_lived_in(r.body.get("env"), "workflow env", &mut out);
    for (_, job) in jobs(r) {
        long_lived_in(job.get("env"), "job env", &mut out);
        long_lived_in(
            job.get("secrets"),
            "secret passed to a reusable workflow",
            &mut out,
        );
        for step in steps(job) {
            long_lived_in(step.get("env"), "step env", &mut out);
            let action = uses(step)
                .map(|u| u.0.to_ascii_lowercase())
                .unwrap_or_default();
            for (k, v) in step.get("with").map(Node::entries).unwrap_or_default() {
                let key_input = key_eq(k, "aws-secret-access-key")
                    || (key_eq(k, "creds") && action.starts_with("azure/login"))
                    || (key_eq(k, "credentials_json")
                        && action.starts_with("google-github-actions/auth"));
                if key_input && stored_key(v) {
                    out.extend(hit(
                        v.line,
                        format!("`with: {k}` hands the action a long-lived cloud key; use OIDC federation (`role-to-assume`/workload identity with `id-token: write`) instead"),
                    ));
                }
            }
        }
    }
    out
}

/// Names of environment variables set from a secret, in a workflow, job or step `env:`.
fn secret_env_names<'a>(maps: &[Option<&'a Node>]) -> Vec<&'a str> {
    maps.iter()
        .flatten()
        .flat_map(|m| m.entries())
        .filter(|(_, v)| v.as_str().is_some_and(|s| s.contains("secrets.")))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// True if a shell command mentions `${{ secrets.* }}` or one of the variables set from a
/// secret (`$NAME`, `${NAME}`, PowerShell `$env:NAME`).
fn mentions_secret(cmd: &str, names: &[&str]) -> bool {
    if cmd.contains("::add-mask::") {
        return false;
    }
    let expr = cmd.contains("${{") && (cmd.contains("secrets.") || cmd.contains("toJSON(secrets)"));
    expr || names.iter().any(|n| {
        [format!("${n}"), format!("${{{n}}}"), format!("$env:{n}")]
            .iter()
            .any(|p| {
                cmd.match_indices(p.as_str()).any(|(i, _)| {
                    !cmd[i + p.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
            })
    })
}

pub fn secrets_printed(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (_, job) in jobs(r) {
        for step in steps(job) {
            let names = secret_env_names(&[r.body.get("env"), job.get("env"), step.get("env")]);
            for (line, n) in script_lines(step) {
                if line.contains("toJSON(secrets)") {
                    out.extend(hit(
                        n,
                        "`toJSON(secrets)` hands every secret of the repository to the script",
                    ));
                } else if prints(line, |c| mentions_secret(c, &names)) {
                    out.extend(hit(n, "a secret is printed to the job log (masking misses encoded or partial copies)"));
                }
            }
        }
    }
    out
}

fn triggers(r: &Resource) -> BTreeSet<&str> {
    let Some(on) = r.body.get("on") else {
        return BTreeSet::new();
    };
    match &on.val {
        Val::Str(s) => [s.as_str()].into(),
        Val::List(l) => l.iter().filter_map(Node::as_str).collect(),
        Val::Map(kv) => kv.iter().map(|(k, _)| k.as_str()).collect(),
        _ => BTreeSet::new(),
    }
}

/// Expressions that name the code of the pull request (or of the run that triggered a
/// `workflow_run`) rather than the base branch.
const HEAD_REFS: &[&str] = &[
    "github.event.pull_request.head.sha",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.merge_commit_sha",
    "github.head_ref",
    "github.event.workflow_run.head_sha",
    "github.event.workflow_run.head_branch",
    "refs/pull/",
];

pub fn untrusted_checkout(r: &Resource) -> Vec<Hit> {
    let t = triggers(r);
    let Some(trigger) = ["pull_request_target", "workflow_run"]
        .into_iter()
        .find(|x| t.contains(x))
    else {
        return vec![];
    };
    let why = format!("a `{trigger}` workflow runs with the repository's secrets and a write token; checking out the pull request's head runs untrusted code with them");
    // An `if:` that checks where the code comes from (`head.repo.full_name ==
    // github.repository`, `workflow_run.event == 'push'`) keeps fork code out. A label check
    // does not: the head can change after the label is set.
    let guarded = |n: &Node| {
        n.get("if").and_then(Node::as_str).is_some_and(|c| {
            [
                "pull_request.head.repo.full_name",
                "pull_request.head.repo.fork",
                "workflow_run.event",
                "workflow_run.head_repository",
            ]
            .iter()
            .any(|g| c.contains(g))
        })
    };
    let mut out = Vec::new();
    for (_, job) in jobs(r) {
        if guarded(job) {
            continue;
        }
        for step in steps(job) {
            if guarded(step) {
                continue;
            }
            let checkout = uses(step).is_some_and(|(u, _)| u.starts_with("actions/checkout"));
            if let Some(refn) = step.path(&["with", "ref"]).filter(|_| checkout) {
                if refn
                    .as_str()
                    .is_some_and(|s| HEAD_REFS.iter().any(|h| s.contains(h)))
                {
                    out.extend(hit(refn.line, why.clone()));
                }
            }
            for (line, n) in script_lines(step) {
                let git = line.contains("git checkout")
                    || line.contains("git fetch")
                    || line.contains("git switch");
                if line.contains("gh pr checkout")
                    || (git && HEAD_REFS.iter().any(|h| line.contains(h)))
                {
                    out.extend(hit(n, why.clone()));
                }
            }
        }
    }
    out
}

/// The first deploy in a job: (line, what deploys). Jobs that only deploy to a cluster they
/// create themselves are not deploys.
fn deploy_of(job: &Node) -> Option<(u32, String)> {
    const DEPLOY_ACTIONS: &[&str] = &[
        "aws-actions/amazon-ecs-deploy-task-definition",
        "aws-actions/aws-cloudformation-github-deploy",
        "azure/webapps-deploy",
        "azure/k8s-deploy",
        "azure/functions-action",
        "google-github-actions/deploy-cloudrun",
        "google-github-actions/deploy-appengine",
        "hashicorp/tfc-workflows-github/actions/apply-run",
    ];
    let all: Vec<(&str, u32)> = steps(job).into_iter().flat_map(script_lines).collect();
    if makes_local_cluster(&all) {
        return None;
    }
    steps(job).into_iter().find_map(|s| {
        if let Some((u, l)) = uses(s) {
            let lower = u.to_ascii_lowercase();
            if let Some(a) = DEPLOY_ACTIONS.iter().find(|a| lower.starts_with(*a)) {
                return Some((l, a.to_string()));
            }
        }
        script_lines(s)
            .into_iter()
            .find_map(|(line, n)| deploy_command(line).map(|c| (n, c.to_string())))
    })
}

pub fn unprotected_deploys(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (id, job) in jobs(r) {
        let Some((line, what)) = deploy_of(job) else {
            continue;
        };
        if job.get("environment").is_none() {
            out.extend(hit(
                job.line,
                format!("job `{id}` deploys (`{what}`, line {line}) without `environment:`: no required reviewers gate it and no deployment is recorded"),
            ));
        }
    }
    out
}

/// The first line of a job that runs a scanner (a scanning action or a scanner command).
fn scan_of(job: &Node) -> Option<u32> {
    const SCAN_ACTIONS: &[&str] = &[
        "bridgecrewio/checkov-action",
        "aquasecurity/trivy-action",
        "aquasecurity/tfsec-action",
        "aquasecurity/tfsec-sarif-action",
        "tenable/terrascan-action",
        "checkmarx/kics-github-action",
        "snyk/actions/iac",
        "github/codeql-action/analyze",
        "anchore/scan-action",
    ];
    steps(job).into_iter().find_map(|s| {
        if let Some((u, l)) = uses(s) {
            let lower = u.to_ascii_lowercase();
            if SCAN_ACTIONS.iter().any(|a| lower.starts_with(a)) {
                return Some(l);
            }
        }
        script_lines(s)
            .into_iter()
            .find_map(|(line, n)| runs_scanner(line).then_some(n))
    })
}

fn needs(job: &Node) -> Vec<&str> {
    match job.get("needs").map(|n| &n.val) {
        Some(Val::Str(s)) => vec![s.as_str()],
        Some(Val::List(l)) => l.iter().filter_map(Node::as_str).collect(),
        _ => vec![],
    }
}

/// True if a job scans, itself or through a local reusable workflow (`uses:
/// ./.github/workflows/scan.yml`) found in the scanned tree; `depth` stops cycles.
fn job_scans(job: &Node, idx: &Index, depth: usize) -> bool {
    if scan_of(job).is_some() {
        return true;
    }
    let Some(local) = uses(job).and_then(|(u, _)| u.strip_prefix("./")) else {
        return false;
    };
    let local = local.split('@').next().unwrap_or(local);
    depth < 4
        && idx
            .of_type(GITHUB_WORKFLOW)
            .iter()
            .filter(|w| w.file.ends_with(local))
            .any(|w| jobs(w).iter().any(|(_, j)| job_scans(j, idx, depth + 1)))
}

pub fn unscanned_deploys(r: &Resource, idx: &Index) -> Vec<Hit> {
    let all = jobs(r);
    let job = |name: &str| all.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let mut out = Vec::new();
    for (id, j) in &all {
        let Some((line, what)) = deploy_of(j) else {
            continue;
        };
        if scan_of(j).is_some_and(|s| s < line) {
            continue;
        }
        // Everything the deploy waits for, transitively.
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo = needs(j);
        while let Some(n) = todo.pop() {
            if seen.insert(n) {
                todo.extend(job(n).map(needs).unwrap_or_default());
            }
        }
        if !seen
            .iter()
            .any(|n| job(n).is_some_and(|j| job_scans(j, idx, 0)))
        {
            out.extend(hit(
                j.line,
                format!("job `{id}` deploys (`{what}`, line {line}) without depending on a job that runs `hippo check` or a security scanner"),
            ));
        }
    }
    out
}

fn injection() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"(?x)\$\{\{[^}]*?\b(?P<context>
              github\.head_ref
            | github\.event\.(?:
                issue\.(?:title|body)
              | pull_request\.(?:title|body|head\.(?:ref|label))
              | (?:comment|review|review_comment)\.body
              | discussion\.(?:title|body)
              | head_commit\.(?:message|author\.(?:email|name))
              | commits\b[^}]*\.(?:message|author\.(?:email|name))
              | pages\b[^}]*\.page_name
              | workflow_run\.(?:head_branch|display_title|head_commit\.message)
              )
            )\b",
        )
        .expect("injection pattern")
    })
}

pub fn script_injection(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (_, job) in jobs(r) {
        for step in steps(job) {
            for (line, n) in script_lines(step) {
                if let Some(c) = injection().captures(line) {
                    out.extend(hit(
                        n,
                        format!("`{}` is pasted into the script before it runs: a crafted title, branch name or comment becomes shell code; pass it through `env:` instead", &c["context"]),
                    ));
                }
            }
        }
    }
    out
}
