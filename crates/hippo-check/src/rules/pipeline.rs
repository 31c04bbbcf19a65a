//! Pipeline-as-code rules (GitHub Actions and GitLab CI): their metadata, and what both
//! systems share — recognising deploy commands, security scanners, immutable refs and
//! secrets printed to the job log.

use std::sync::OnceLock;

use regex::Regex;

use super::datastores::rule;
use super::{github, gitlab, Hit, Index, Kind, Rule, Severity};
use crate::model::{Format, Resource};
use crate::pipeline::{GITHUB_WORKFLOW, GITLAB_PIPELINE};

const BOTH: &[Format] = &[Format::GithubActions, Format::GitlabCi];
const GH: &[Format] = &[Format::GithubActions];
const T: &[&str] = &[GITHUB_WORKFLOW, GITLAB_PIPELINE];

/// A full commit SHA: the only `@ref` its owner cannot move to other code.
pub fn is_commit_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

struct Patterns {
    deploy: Regex,
    local_cluster: Regex,
    scanner: Regex,
    print: Regex,
    split: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        // Commands that change a live environment. `[^|;&]*` lets flags sit between the tool
        // and its verb (`terraform -chdir=infra apply`) without crossing into the next command.
        deploy: Regex::new(
            r"(?x)\b(?:
              (?:terraform|tofu|terragrunt)\s+(?:[^|;&]*\s)?apply\b
            | kubectl\s+(?:[^|;&]*\s)?(?:apply|create|replace|patch|set\s+image|rollout\s+restart)\b
            | helm\s+(?:[^|;&]*\s)?(?:upgrade|install)\b
            | helmfile\s+(?:[^|;&]*\s)?(?:apply|sync)\b
            | aws\s+ecs\s+update-service\b
            | aws\s+cloudformation\s+(?:deploy|create-stack|update-stack|execute-change-set)\b
            | aws\s+lambda\s+update-function-code\b
            | (?:sam|cdk|serverless|sls)\s+(?:[^|;&]*\s)?deploy\b
            | pulumi\s+(?:[^|;&]*\s)?up\b
            | gcloud\s+run\s+deploy\b
            | az\s+webapp\s+deploy\b
            )",
        )
        .expect("deploy pattern"),
        // A throw-away cluster made inside the job: applying manifests to it deploys nothing.
        local_cluster: Regex::new(
            r"\b(?:kind\s+create\s+cluster|minikube\s+start|k3d\s+cluster\s+create)\b",
        )
        .expect("local cluster pattern"),
        scanner: Regex::new(
            r"(?x)\b(?:
              hippo\s+check
            | checkov
            | tfsec
            | trivy\s+(?:config|fs|image|repo|k8s)
            | terrascan\s+scan
            | kics\s+scan
            | grype
            | snyk\s+(?:iac\s+)?test
            | semgrep
            | conftest\s+test
            | kubesec\s+scan
            )\b",
        )
        .expect("scanner pattern"),
        print: Regex::new(r"^(?:echo|printf|print|puts|Write-Host|Write-Output|console\.log)\b")
            .expect("print pattern"),
        split: Regex::new(r"&&|\|\||;").expect("split pattern"),
    })
}

/// The deploy command of a script line, if it is one. A `--dry-run` (`kubectl apply
/// --dry-run=server` validating manifests, `helm upgrade --dry-run`) changes nothing.
pub fn deploy_command(line: &str) -> Option<&str> {
    let p = patterns();
    p.split
        .split(line)
        .flat_map(|cmd| cmd.split('|'))
        .filter(|cmd| !cmd.contains("--dry-run"))
        .find_map(|cmd| p.deploy.find(cmd).map(|m| m.as_str()))
}

/// True if the script builds a local, throw-away cluster (kind, minikube, k3d).
pub fn makes_local_cluster(lines: &[(&str, u32)]) -> bool {
    lines
        .iter()
        .any(|(l, _)| patterns().local_cluster.is_match(l))
}

/// True if a script line runs `hippo check` or a recognised IaC/security scanner. Lines that
/// install a scanner do not count: installing is not scanning.
pub fn runs_scanner(line: &str) -> bool {
    !line.contains("install") && patterns().scanner.is_match(line)
}

/// True if a command of `line` prints `leaks` to the job log: it starts with a print
/// command and its output is neither piped (`| docker login --password-stdin`) nor
/// redirected (`>> "$GITHUB_ENV"`, `> key.pem`).
pub fn prints(line: &str, leaks: impl Fn(&str) -> bool) -> bool {
    let p = patterns();
    p.split
        .split(line)
        .map(str::trim)
        .any(|cmd| p.print.is_match(cmd) && !cmd.contains('|') && !cmd.contains('>') && leaks(cmd))
}

/// Names of cloud credentials that are long-lived secrets (the key half of a key pair, a
/// service principal secret, a service account key file).
pub const LONG_LIVED_KEYS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
];

fn by_format(
    r: &Resource,
    github: fn(&Resource) -> Vec<Hit>,
    gitlab: fn(&Resource) -> Vec<Hit>,
) -> Vec<Hit> {
    match r.format {
        Format::GithubActions => github(r),
        Format::GitlabCi => gitlab(r),
        _ => vec![],
    }
}

fn pipe_001(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::unpinned_actions, gitlab::unpinned_includes)
}
fn pipe_002(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::token_permissions, |_| vec![])
}
fn pipe_003(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::long_lived_keys, gitlab::long_lived_keys)
}
fn pipe_004(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::secrets_printed, gitlab::secrets_printed)
}
fn pipe_005(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::untrusted_checkout, |_| vec![])
}
fn pipe_006(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::unprotected_deploys, gitlab::unprotected_deploys)
}
fn pipe_007(r: &Resource, idx: &Index) -> Vec<Hit> {
    match r.format {
        Format::GithubActions => github::unscanned_deploys(r, idx),
        Format::GitlabCi => gitlab::unscanned_deploys(r),
        _ => vec![],
    }
}
fn pipe_008(r: &Resource, _: &Index) -> Vec<Hit> {
    by_format(r, github::script_injection, |_| vec![])
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!(
            "HIPPO-PIPE-001",
            "Third-party pipeline code is pinned to a commit",
            High,
            &["164.312(c)(1)", "164.308(a)(5)(ii)(B)"],
            T,
            BOTH,
            "GitHub: every `uses:` names a full 40-character commit SHA (local `./` actions and `docker://…@sha256:` images excepted). GitLab: `include:` of a project or component names a commit SHA, a remote include carries `integrity:`",
            "- uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n# GitLab\ninclude:\n  - project: platform/ci-templates\n    ref: 5f3c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d\n    file: /deploy.yml",
            &["seed 004: Pin dependency versions; verify third-party code before it runs in the pipeline"],
            pipe_001
        ),
        rule!(
            "HIPPO-PIPE-002",
            "Workflow tokens have explicit, least-privilege permissions",
            Medium,
            &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"],
            T,
            GH,
            "`permissions:` is set at workflow or job level for every job, and is never `write-all`",
            "permissions:\n  contents: read\n  id-token: write   # only where OIDC federation is used",
            &["seed 004: Least-privilege pipeline identities"],
            pipe_002
        ),
        rule!(
            "HIPPO-PIPE-003",
            "Pipelines use OIDC federation, not long-lived cloud keys",
            High,
            &["164.312(d)", "164.312(a)(1)", "164.308(a)(5)(ii)(D)"],
            T,
            BOTH,
            "No AWS secret access key, Azure client secret or Google service account key is passed to or kept in the pipeline; cloud access uses short-lived OIDC credentials",
            "permissions:\n  id-token: write\n  contents: read\nsteps:\n  - uses: aws-actions/configure-aws-credentials@<sha>\n    with:\n      role-to-assume: arn:aws:iam::123456789012:role/deploy\n      aws-region: us-east-1\n# GitLab: id_tokens: { AWS_TOKEN: { aud: sts.amazonaws.com } } and aws sts assume-role-with-web-identity",
            &["seed 004: Short-lived credentials for CI (OIDC), no static cloud keys"],
            pipe_003
        ),
        rule!(
            "HIPPO-PIPE-004",
            "Secrets are never printed to the job log",
            High,
            &["164.312(a)(1)", "164.312(d)"],
            T,
            BOTH,
            "No echo/printf/Write-Host of a secret (directly or through an environment variable set from one) whose output reaches the log",
            "# pass secrets on stdin or in files, never to the log\n- run: echo \"$REGISTRY_TOKEN\" | docker login ghcr.io -u bot --password-stdin\n  env:\n    REGISTRY_TOKEN: ${{ secrets.REGISTRY_TOKEN }}",
            &["seed 004: Secrets never in logs; runtime injection of secrets"],
            pipe_004
        ),
        rule!(
            "HIPPO-PIPE-005",
            "Untrusted pull request code never runs with secrets",
            Critical,
            &["164.308(a)(5)(ii)(B)", "164.312(c)(1)", "164.312(a)(1)"],
            T,
            GH,
            "A `pull_request_target` or `workflow_run` workflow checks out or runs the pull request's head only behind an `if:` that keeps forks out (`head.repo.full_name`/`head.repo.fork`, `workflow_run.event`/`head_repository`); a label check is not enough",
            "on: pull_request   # runs fork code without secrets and with a read-only token\n# or keep pull_request_target and check out only the base branch (the default)",
            &["seed 004: Protect the pipeline from untrusted input"],
            pipe_005
        ),
        rule!(
            "HIPPO-PIPE-006",
            "Deploy jobs run in a protected environment",
            High,
            &["164.308(a)(4)(ii)(C)", "164.312(b)", "164.308(a)(1)(ii)(D)"],
            T,
            BOTH,
            "A job that deploys (terraform apply, kubectl apply, helm upgrade, aws ecs update-service, cdk/sam deploy, …) declares `environment:`, whose protection rules (required reviewers, protected environment) gate it and whose deployments are recorded",
            "deploy:\n  needs: [check]\n  environment: production   # required reviewers set on the environment\n# GitLab\ndeploy:\n  environment:\n    name: production       # protected environment with approval\n  when: manual",
            &["seed 004: Production deploys behind approval; deployment history"],
            pipe_006
        ),
        rule!(
            "HIPPO-PIPE-007",
            "A security scan gates every deploy",
            High,
            &["164.308(a)(1)(ii)(B)", "164.308(a)(8)", "164.312(c)(1)"],
            T,
            BOTH,
            "Every deploy job depends (GitHub `needs:`, GitLab `needs:` or an earlier stage) on a job that runs `hippo check` or a recognised IaC/security scanner (GitHub: also through a local reusable workflow `uses: ./.github/workflows/…` in the scanned tree), or runs one itself before deploying",
            "check:\n  steps:\n    - run: hippo check --fail-on high deploy/\ndeploy:\n  needs: [check]\n# A scan enforced only as a required status check on the branch is not visible in the\n# workflow: suppress with a reason that names that check.",
            &["seed 004: hippo check and security scanning before deploy"],
            pipe_007
        ),
        rule!(
            "HIPPO-PIPE-008",
            "Untrusted event text is never expanded into scripts",
            High,
            &["164.308(a)(5)(ii)(B)", "164.312(c)(1)"],
            T,
            GH,
            "`run:` and github-script never contain `${{ }}` of attacker-controlled text (issue or pull request title and body, comments, branch names, commit messages)",
            "- run: echo \"Title: $TITLE\"\n  env:\n    TITLE: ${{ github.event.pull_request.title }}",
            &["seed 004: Protect the pipeline from untrusted input"],
            pipe_008
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_commands_are_recognised_with_flags_between() {
        assert!(deploy_command("terraform -chdir=infra apply -auto-approve").is_some());
        assert!(deploy_command("helm --namespace phi upgrade --install api ./chart").is_some());
        assert!(deploy_command("aws ecs update-service --cluster c --service s").is_some());
        assert!(deploy_command("terraform plan -out=apply.tfplan").is_none());
        assert!(deploy_command("terraform plan && echo done").is_none());
        assert!(deploy_command("kubectl get pods").is_none());
        assert!(deploy_command("kubectl apply --dry-run=server -f deploy/kubernetes/").is_none());
        assert!(deploy_command(
            "kubectl create secret generic s --dry-run=client -o yaml | kubectl apply -f -"
        )
        .is_some());
    }

    #[test]
    fn scanners_count_only_when_run() {
        assert!(runs_scanner("hippo check --fail-on high deploy/"));
        assert!(runs_scanner("trivy config ."));
        assert!(!runs_scanner("pip install checkov"));
        assert!(!runs_scanner("echo checking"));
    }

    #[test]
    fn printing_means_reaching_the_log() {
        let leak = |c: &str| c.contains("TOKEN");
        assert!(prints("echo $TOKEN", leak));
        assert!(prints("make build && echo \"t=$TOKEN\"", leak));
        assert!(!prints("echo $TOKEN | docker login --password-stdin", leak));
        assert!(!prints("echo \"T=$TOKEN\" >> $GITHUB_ENV", leak));
        assert!(!prints("curl -H \"Authorization: $TOKEN\" x", leak));
    }

    #[test]
    fn only_full_shas_are_pins() {
        assert!(is_commit_sha("11bd71901bbe5b1630ceea73d27597364c9af683"));
        assert!(!is_commit_sha("v4"));
        assert!(!is_commit_sha("11bd719"));
    }
}
