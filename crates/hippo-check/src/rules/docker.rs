//! Dockerfile rules: non-root user, pinned base images, no secrets in ENV/ARG.

use super::datastores::rule;
use super::helpers::*;
use super::{Hit, Index, Kind, Rule, Severity};
use crate::model::{Format, Node, Resource};

const DF: &[Format] = &[Format::Dockerfile];
const T: &[&str] = &["dockerfile"];

fn instructions(r: &Resource) -> Vec<(String, String, u32)> {
    r.body
        .items()
        .iter()
        .map(|i| {
            let ins = i
                .get("instruction")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            let args = i
                .get("args")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            (ins, args, i.line)
        })
        .collect()
}

fn docker_001(r: &Resource, _: &Index) -> Vec<Hit> {
    let ins = instructions(r);
    let last_from = ins.iter().rposition(|(i, _, _)| i == "FROM").unwrap_or(0);
    let user = ins[last_from..].iter().rev().find(|(i, _, _)| i == "USER");
    match user {
        None => hit(
            ins.get(last_from).map(|x| x.2).unwrap_or(1),
            "the final stage sets no USER; the container runs as root",
        ),
        Some((_, a, l)) if crate::rules::ecs::is_root_user(a) => {
            hit(*l, "the final stage runs as root")
        }
        Some(_) => vec![],
    }
}

fn docker_002(r: &Resource, _: &Index) -> Vec<Hit> {
    let ins = instructions(r);
    let stages: Vec<String> = ins
        .iter()
        .filter(|(i, _, _)| i == "FROM")
        .filter_map(|(_, a, _)| {
            a.split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .find(|w| w[0].eq_ignore_ascii_case("as"))
                .map(|w| w[1].to_string())
        })
        .collect();
    let mut out = Vec::new();
    for (i, a, l) in &ins {
        if i != "FROM" {
            continue;
        }
        let image = a
            .split_whitespace()
            .find(|w| !w.starts_with("--"))
            .unwrap_or("");
        if image == "scratch" || stages.iter().any(|s| s == image) || image.contains('$') {
            continue;
        }
        if unpinned_image(image) {
            out.extend(hit(
                *l,
                format!("base image {image} is not pinned to a version tag or digest"),
            ));
        }
    }
    out
}

fn docker_003(r: &Resource, _: &Index) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, a, l) in instructions(r) {
        if i != "ENV" && i != "ARG" {
            continue;
        }
        let (k, v) = a
            .split_once(['=', ' '])
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .unwrap_or((a.as_str(), ""));
        if !v.is_empty()
            && !v.starts_with('$')
            && (secret_name(k) || crate::secrets::looks_secret(v))
        {
            out.extend(hit(
                l,
                format!("{i} {k} bakes a secret value into the image"),
            ));
        }
    }
    out
}

pub fn rules() -> Vec<Rule> {
    vec![
        rule!(
            "HIPPO-DOCKER-001",
            "Container images run as a non-root user",
            High,
            &["164.312(a)(1)", "164.308(a)(4)(ii)(B)"],
            T,
            DF,
            "The final stage has USER with a non-root user",
            "RUN addgroup -g 1001 -S app && adduser -S app -u 1001\nUSER app",
            &["seed 001: Don't run as root user (Dockerfile example)"],
            docker_001
        ),
        rule!(
            "HIPPO-DOCKER-002",
            "Base images are pinned",
            Medium,
            &["164.312(c)(1)"],
            T,
            DF,
            "FROM uses a version tag or digest, never latest or no tag",
            "FROM node:20.11-alpine3.19",
            &[
                "seed 001: Use minimal base images; keep images updated",
                "seed 004: Pin dependency versions; disallow latest tags"
            ],
            docker_002
        ),
        rule!(
            "HIPPO-DOCKER-003",
            "No secrets in ENV or ARG",
            Critical,
            &["164.312(a)(1)", "164.312(d)"],
            T,
            DF,
            "Secrets are injected at run time, never baked into image layers",
            "RUN --mount=type=secret,id=npmrc npm ci",
            &["seed 004: Runtime injection of secrets; nothing baked into code or images"],
            docker_003
        ),
    ]
}
