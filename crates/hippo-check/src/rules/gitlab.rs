//! GitLab CI checks behind the HIPPO-PIPE rules: pinned includes, cloud keys, secrets in
//! logs, protected deploy environments and a scan stage before every deploy.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use super::helpers::hit;
use super::pipeline::{
    deploy_command, is_commit_sha, makes_local_cluster, prints, runs_scanner, LONG_LIVED_KEYS,
};
use super::Hit;
use crate::model::{key_eq, Node, Resource};
use crate::pipeline::{gitlab_jobs, script_lines};

pub fn unpinned_includes(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for inc in r.body.get("include").map(Node::items).unwrap_or_default() {
        if let Some(url) = inc.as_str().filter(|s| s.starts_with("http")) {
            out.extend(hit(
                inc.line,
                format!("remote include `{url}` has no `integrity:` hash: whoever serves it can change the pipeline"),
            ));
        }
        if let Some(url) = inc.get("remote").filter(|_| inc.get("integrity").is_none()) {
            out.extend(hit(
                url.line,
                format!("remote include `{}` has no `integrity:` hash: whoever serves it can change the pipeline", url.as_str().unwrap_or("?")),
            ));
        }
        if let Some(project) = inc.get("project") {
            let name = project.as_str().unwrap_or("?");
            match inc.get("ref") {
                None => out.extend(hit(
                    project.line,
                    format!("include of project `{name}` has no `ref:` and follows its default branch; pin a commit SHA"),
                )),
                Some(r) if r.as_str().is_some_and(is_commit_sha) => {}
                Some(r) => out.extend(hit(
                    r.line,
                    format!("include of project `{name}` is pinned to `{}`, a tag or branch that can be moved; pin a commit SHA", r.as_str().unwrap_or("?")),
                )),
            }
        }
        if let Some(c) = inc.get("component") {
            let text = c.as_str().unwrap_or("");
            match text.rsplit_once('@') {
                Some((_, v)) if is_commit_sha(v) => {}
                _ => out.extend(hit(
                    c.line,
                    format!("component `{text}` is not pinned to a commit SHA"),
                )),
            }
        }
    }
    out
}

fn long_lived_vars(vars: Option<&Node>, out: &mut Vec<Hit>) {
    for (k, v) in vars.map(Node::entries).unwrap_or_default() {
        let value = v.get("value").unwrap_or(v);
        let set = value.as_str().is_some_and(|s| !s.trim().is_empty());
        if set && LONG_LIVED_KEYS.iter().any(|n| key_eq(k, n)) {
            out.extend(hit(
                v.line,
                format!("variable `{k}` is a long-lived cloud key; use `id_tokens:` and OIDC federation (assume-role-with-web-identity) instead"),
            ));
        }
    }
}

pub fn long_lived_keys(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    long_lived_vars(r.body.get("variables"), &mut out);
    for (_, job) in gitlab_jobs(&r.body) {
        long_lived_vars(job.get("variables"), &mut out);
        // A job with `id_tokens:` may export short-lived keys under the same names.
        if job.get("id_tokens").is_some() {
            continue;
        }
        for (line, n) in script_lines(job) {
            if let Some(k) = LONG_LIVED_KEYS
                .iter()
                .find(|k| line.contains(&format!("${k}")) || line.contains(&format!("${{{k}}}")))
            {
                out.extend(hit(
                    n,
                    format!("the script uses `${k}`, a long-lived cloud key from the CI/CD variables, and the job has no `id_tokens:` for OIDC federation"),
                ));
            }
        }
    }
    out
}

fn variable_ref() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)").expect("variable pattern"))
}

/// A variable name that holds a secret (not its id, name, file path or URL).
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const SECRET: &[&str] = &[
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "PRIVATE_KEY",
        "API_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ];
    const NOT_SECRET: &[&str] = &[
        "_ID",
        "_NAME",
        "_URL",
        "_FILE",
        "_PATH",
        "_USER",
        "_USERNAME",
    ];
    SECRET.iter().any(|s| n.contains(s)) && !NOT_SECRET.iter().any(|s| n.ends_with(s))
}

pub fn secrets_printed(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (_, job) in gitlab_jobs(&r.body) {
        for (line, n) in script_lines(job) {
            let leaks = |cmd: &str| {
                variable_ref()
                    .captures_iter(cmd)
                    .any(|c| secret_name(&c[1]))
            };
            if prints(line, leaks) {
                out.extend(hit(
                    n,
                    "a secret variable is printed to the job log (masking misses encoded or partial copies)",
                ));
            }
        }
    }
    out
}

/// The first deploy command of a job: (line, command).
fn deploy_of(job: &Node) -> Option<(u32, String)> {
    let lines = script_lines(job);
    if makes_local_cluster(&lines) {
        return None;
    }
    lines
        .into_iter()
        .find_map(|(l, n)| deploy_command(l).map(|c| (n, c.to_string())))
}

pub fn unprotected_deploys(r: &Resource) -> Vec<Hit> {
    let mut out = Vec::new();
    for (id, job) in gitlab_jobs(&r.body) {
        let Some((line, what)) = deploy_of(job) else {
            continue;
        };
        if job.get("environment").is_none() {
            out.extend(hit(
                job.line,
                format!("job `{id}` deploys (`{what}`, line {line}) without `environment:`: no protected environment or approval gates it and no deployment is recorded"),
            ));
        }
    }
    out
}

/// Stage names in run order (`.pre` first, `.post` last, GitLab's defaults when unset).
fn stages(body: &Node) -> Vec<String> {
    let declared: Vec<String> = body
        .get("stages")
        .map(|s| {
            s.items()
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| ["build", "test", "deploy"].map(str::to_string).to_vec());
    let mut out = vec![".pre".to_string()];
    out.extend(declared.into_iter().filter(|s| s != ".pre" && s != ".post"));
    out.push(".post".to_string());
    out
}

fn stage_index(stages: &[String], job: &Node) -> Option<usize> {
    let name = job.get("stage").and_then(Node::as_str).unwrap_or("test");
    stages.iter().position(|s| s == name)
}

/// True if the pipeline includes one of GitLab's security scanning templates or
/// components, whose jobs run in the `test` stage.
fn includes_security_scanning(body: &Node) -> bool {
    body.get("include")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .any(|inc| {
            let template = inc.get("template").and_then(Node::as_str).unwrap_or("");
            let component = inc.get("component").and_then(Node::as_str).unwrap_or("");
            template.starts_with("Security/")
                || template.starts_with("Jobs/SAST")
                || template.starts_with("Jobs/Secret-Detection")
                || [
                    "/sast",
                    "/secret-detection",
                    "/container-scanning",
                    "/dependency-scanning",
                ]
                .iter()
                .any(|c| component.contains(c))
        })
}

fn needs(job: &Node) -> Option<Vec<&str>> {
    let n = job.get("needs")?;
    Some(
        n.items()
            .iter()
            .filter_map(|i| i.as_str().or_else(|| i.get("job").and_then(Node::as_str)))
            .collect(),
    )
}

pub fn unscanned_deploys(r: &Resource) -> Vec<Hit> {
    let jobs = gitlab_jobs(&r.body);
    let order = stages(&r.body);
    let scans = |j: &Node| {
        script_lines(j)
            .into_iter()
            .find(|(l, _)| runs_scanner(l))
            .map(|x| x.1)
    };
    let scanner_stages: Vec<usize> = jobs
        .iter()
        .filter(|(_, j)| scans(j).is_some())
        .filter_map(|(_, j)| stage_index(&order, j))
        .chain(
            includes_security_scanning(&r.body)
                .then(|| order.iter().position(|s| s == "test"))
                .flatten(),
        )
        .collect();
    let mut out = Vec::new();
    for (id, job) in &jobs {
        let Some((line, what)) = deploy_of(job) else {
            continue;
        };
        if scans(job).is_some_and(|s| s < line) {
            continue;
        }
        let gated = match needs(job) {
            // With `needs:` a job ignores stage order and waits only for what it names.
            Some(direct) => {
                let mut seen: BTreeSet<&str> = BTreeSet::new();
                let mut todo = direct;
                while let Some(n) = todo.pop() {
                    if seen.insert(n) {
                        let j = jobs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
                        todo.extend(j.and_then(needs).unwrap_or_default());
                    }
                }
                seen.iter()
                    .any(|n| jobs.iter().any(|(k, j)| k == n && scans(j).is_some()))
            }
            None => stage_index(&order, job)
                .is_some_and(|mine| scanner_stages.iter().any(|s| *s < mine)),
        };
        if !gated {
            out.extend(hit(
                job.line,
                format!("job `{id}` deploys (`{what}`, line {line}) with no `hippo check` or security scan job before it (earlier stage or `needs:`)"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_exclude_ids_and_paths() {
        assert!(secret_name("DEPLOY_TOKEN") && secret_name("db_password"));
        assert!(!secret_name("AWS_ACCESS_KEY_ID") && !secret_name("TOKEN_FILE"));
        assert!(!secret_name("CI_COMMIT_SHA"));
    }

    #[test]
    fn stages_default_and_wrap_in_pre_and_post() {
        let body = Node::map(1);
        assert_eq!(stages(&body), [".pre", "build", "test", "deploy", ".post"]);
    }
}
