//! CI/CD pipeline definitions (GitHub Actions workflows, GitLab CI files) to one resource per
//! file, with GitLab `extends:`/`<<:` inheritance resolved and every shell script line
//! numbered as it stands in the source.

use std::path::Path;
use std::sync::Arc;

use crate::model::{Format, Node, Resource, Val};

/// Canonical resource types of pipeline definitions.
pub const GITHUB_WORKFLOW: &str = "github_workflow";
pub const GITLAB_PIPELINE: &str = "gitlab_pipeline";

/// Key under which a step or job carries its numbered shell lines (a list of strings whose
/// node lines are source lines). Added beside the original keys, which stay untouched.
pub const LINES: &str = "hippo_script_lines";

/// Top-level GitLab CI keys that are settings, not jobs.
const GITLAB_GLOBAL_KEYS: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// True for `.github/workflows/*.yml` paths.
fn in_github_workflows(p: &Path) -> bool {
    let parts: Vec<_> = p.components().map(|c| c.as_os_str()).collect();
    parts
        .windows(2)
        .any(|w| w[0] == ".github" && w[1] == "workflows")
}

/// True for `.gitlab-ci.yml` and `*.gitlab-ci.yml` (the name GitLab's own `include:`
/// examples use for split pipeline files).
fn gitlab_name(p: &Path) -> bool {
    let n = file_name(p);
    n.ends_with("gitlab-ci.yml") || n.ends_with("gitlab-ci.yaml")
}

/// True if the path alone says the file is a pipeline definition, so that a file there
/// which does not parse is an error rather than skipped data.
pub fn is_pipeline_path(p: &Path) -> bool {
    in_github_workflows(p) || gitlab_name(p)
}

/// Which pipeline system a parsed YAML document belongs to, by path or by shape.
pub fn format_of(p: &Path, doc: &Node) -> Option<Format> {
    if !matches!(doc.val, Val::Map(_)) {
        return None;
    }
    let jobs = doc.get("jobs").filter(|j| matches!(j.val, Val::Map(_)));
    if in_github_workflows(p) || (doc.get("on").is_some() && jobs.is_some()) {
        return Some(Format::GithubActions);
    }
    // An included GitLab file can have any name: a map with a job that has a `script` and a
    // `stage` (or a file with `stages:`) is GitLab CI and nothing else.
    let gitlab_shape = doc.entries().iter().any(|(k, v)| {
        !GITLAB_GLOBAL_KEYS.contains(&k.as_str())
            && v.get("script").is_some()
            && (v.get("stage").is_some() || doc.get("stages").is_some())
    });
    (gitlab_name(p) || gitlab_shape).then_some(Format::GitlabCi)
}

/// Builds the resource of one pipeline document. `text` is the file's source, used to give
/// each line of a multi-line script its own line number.
pub fn resource(format: Format, doc: &Node, file: &Arc<str>, text: &str) -> Resource {
    let src: Vec<&str> = text.lines().collect();
    let (rtype, source_type, body) = if format == Format::GitlabCi {
        (
            GITLAB_PIPELINE,
            "GitLab CI pipeline",
            gitlab_body(doc, &src),
        )
    } else {
        (
            GITHUB_WORKFLOW,
            "GitHub Actions workflow",
            github_body(doc, &src),
        )
    };
    Resource {
        rtype: rtype.to_string(),
        source_type: source_type.to_string(),
        address: format!("{file}::{rtype}"),
        name: file.to_string(),
        format,
        file: file.clone(),
        line: doc.line.max(1),
        end_line: src.len().max(1) as u32,
        body,
        origin: None,
    }
}

/// Numbers each non-blank line of a script scalar starting at `start`: the line is looked
/// up in the source from the last match onwards, so literal (`|`) and quoted scripts get
/// exact lines; a folded line that cannot be found keeps the previous line.
fn numbered(script: &Node, src: &[&str], out: &mut Vec<Node>) {
    match &script.val {
        Val::Str(s) => {
            let mut cursor = script.line.saturating_sub(1) as usize;
            let mut line = script.line;
            for part in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if let Some(off) = src.iter().skip(cursor).position(|l| l.contains(part)) {
                    cursor += off;
                    line = cursor as u32 + 1;
                    cursor += 1;
                }
                out.push(Node::new(line, Val::Str(part.to_string())));
            }
        }
        // GitLab script lists, including nested lists from `!reference` and anchors.
        Val::List(items) => items.iter().for_each(|i| numbered(i, src, out)),
        _ => {}
    }
}

fn with_lines(node: &Node, scripts: &[&Node], src: &[&str]) -> Node {
    let mut lines = Vec::new();
    for s in scripts {
        numbered(s, src, &mut lines);
    }
    let mut n = node.clone();
    if let Val::Map(kv) = &mut n.val {
        kv.push((LINES.to_string(), Node::new(node.line, Val::List(lines))));
    }
    n
}

fn map_values(node: &Node, f: impl Fn(&Node) -> Node) -> Node {
    let mut n = node.clone();
    if let Val::Map(kv) = &mut n.val {
        for (_, v) in kv.iter_mut() {
            *v = f(v);
        }
    }
    n
}

/// Every step's `run:` (and `actions/github-script`'s `script:`) gets its numbered lines.
fn github_body(doc: &Node, src: &[&str]) -> Node {
    let mut body = doc.clone();
    let Val::Map(kv) = &mut body.val else {
        return body;
    };
    for (k, jobs) in kv.iter_mut() {
        if k != "jobs" {
            continue;
        }
        *jobs = map_values(jobs, |job| {
            let mut job = job.clone();
            if let Val::Map(jkv) = &mut job.val {
                for (jk, steps) in jkv.iter_mut() {
                    if jk != "steps" {
                        continue;
                    }
                    if let Val::List(items) = &mut steps.val {
                        for step in items.iter_mut() {
                            let scripts: Vec<&Node> =
                                [step.get("run"), step.path(&["with", "script"])]
                                    .into_iter()
                                    .flatten()
                                    .collect();
                            *step = with_lines(step, &scripts, src);
                        }
                    }
                }
            }
            job
        });
    }
    body
}

/// The job definitions of a GitLab pipeline body (hidden `.templates` excluded).
pub fn gitlab_jobs(body: &Node) -> Vec<(&str, &Node)> {
    body.entries()
        .iter()
        .filter(|(k, v)| {
            !k.starts_with('.')
                && !GITLAB_GLOBAL_KEYS.contains(&k.as_str())
                && matches!(v.val, Val::Map(_))
        })
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

/// Adds the keys of `base` that `job` does not set (GitLab merges `variables` key by key).
fn inherit(job: &mut Node, base: &Node) {
    let (Val::Map(kv), Val::Map(bkv)) = (&mut job.val, &base.val) else {
        return;
    };
    for (bk, bv) in bkv {
        if bk == "<<" || bk == "extends" {
            continue;
        }
        match kv.iter_mut().find(|(k, _)| k == bk) {
            None => kv.push((bk.clone(), bv.clone())),
            Some((_, v)) if bk == "variables" => {
                let own = v.clone();
                let mut merged = bv.clone();
                if let (Val::Map(m), Val::Map(o)) = (&mut merged.val, &own.val) {
                    for (ok, ov) in o {
                        m.retain(|(mk, _)| mk != ok);
                        m.push((ok.clone(), ov.clone()));
                    }
                    *v = Node::new(own.line, merged.val);
                }
            }
            Some(_) => {}
        }
    }
}

/// A job with its YAML merge keys and `extends:` chain resolved (depth-limited: a cycle
/// in `extends:` is GitLab's error to report, not a reason to loop).
fn resolve_job(doc: &Node, job: &Node, depth: usize) -> Node {
    let mut out = job.clone();
    for merged in job.get("<<").map(Node::items).unwrap_or_default() {
        inherit(&mut out, merged);
    }
    if depth < 10 {
        let parents: Vec<&str> = match job.get("extends") {
            Some(n) => match &n.val {
                Val::Str(s) => vec![s.as_str()],
                Val::List(l) => l.iter().filter_map(Node::as_str).collect(),
                _ => vec![],
            },
            None => vec![],
        };
        // The last parent wins, so inherit from the last one first.
        for p in parents.iter().rev() {
            if let Some(parent) = doc.get(p) {
                inherit(&mut out, &resolve_job(doc, parent, depth + 1));
            }
        }
    }
    out
}

/// Jobs resolved, `default:` scripts and id tokens inherited, and each job's
/// `before_script`, `script` and `after_script` numbered in the order they run.
fn gitlab_body(doc: &Node, src: &[&str]) -> Node {
    let mut body = doc.clone();
    let defaults = doc.get("default").cloned();
    let legacy: Vec<(String, Node)> = ["before_script", "after_script"]
        .iter()
        .filter_map(|k| doc.get(k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let job_names: Vec<String> = gitlab_jobs(doc)
        .into_iter()
        .map(|(k, _)| k.to_string())
        .collect();
    let Val::Map(kv) = &mut body.val else {
        return body;
    };
    for (k, v) in kv.iter_mut() {
        if !job_names.contains(k) {
            continue;
        }
        let mut job = resolve_job(doc, v, 0);
        if let Some(d) = &defaults {
            let mut inherited = Node::map(d.line);
            if let Val::Map(ikv) = &mut inherited.val {
                for key in ["before_script", "after_script", "id_tokens"] {
                    if let Some(val) = d.get(key) {
                        ikv.push((key.to_string(), val.clone()));
                    }
                }
            }
            inherit(&mut job, &inherited);
        }
        inherit(&mut job, &Node::new(doc.line, Val::Map(legacy.clone())));
        let scripts: Vec<&Node> = ["before_script", "script", "after_script"]
            .iter()
            .filter_map(|s| job.get(s))
            .collect();
        *v = with_lines(&job, &scripts, src);
    }
    body
}

/// The numbered shell lines of a step or job: (text, line).
pub fn script_lines(node: &Node) -> Vec<(&str, u32)> {
    node.get(LINES)
        .map(|l| {
            l.items()
                .iter()
                .filter_map(|n| n.as_str().map(|s| (s, n.line)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::yaml::parse_docs;

    fn build(path: &str, text: &str) -> Resource {
        let doc = parse_docs(text).unwrap().remove(0);
        let fmt = format_of(Path::new(path), &doc).expect("a pipeline");
        resource(fmt, &doc, &Arc::from(path), text)
    }

    #[test]
    fn literal_run_blocks_keep_their_source_lines() {
        let text = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n          echo one\n\n          echo two\n";
        let r = build("ci.yml", text);
        assert_eq!(r.format, Format::GithubActions);
        let step = &r.body.path(&["jobs", "a", "steps"]).unwrap().items()[0];
        assert_eq!(script_lines(step), vec![("echo one", 7), ("echo two", 9)]);
    }

    #[test]
    fn gitlab_extends_and_merge_keys_are_resolved() {
        let text = ".base: &base\n  image: alpine\n  variables:\n    A: \"1\"\n.deploy:\n  script:\n    - terraform apply\ndeploy:\n  <<: *base\n  extends: .deploy\n  stage: deploy\n  variables:\n    B: \"2\"\n";
        let r = build("x.gitlab-ci.yml", text);
        let jobs = gitlab_jobs(&r.body);
        assert_eq!(jobs.len(), 1);
        let job = jobs[0].1;
        assert_eq!(job.get("image").and_then(Node::as_str), Some("alpine"));
        assert!(job.path(&["variables", "A"]).is_some() && job.path(&["variables", "B"]).is_some());
        assert_eq!(script_lines(job), vec![("terraform apply", 7)]);
    }

    #[test]
    fn shape_alone_recognises_pipelines_and_nothing_else() {
        let gh = parse_docs("on: [push]\njobs:\n  a: {runs-on: x}\n").unwrap();
        assert_eq!(
            format_of(Path::new("a.yml"), &gh[0]),
            Some(Format::GithubActions)
        );
        let gl = parse_docs("build:\n  stage: build\n  script: [make]\n").unwrap();
        assert_eq!(
            format_of(Path::new("ci/b.yml"), &gl[0]),
            Some(Format::GitlabCi)
        );
        let other = parse_docs("name: app\nversion: 1\nscript: x\n").unwrap();
        assert_eq!(format_of(Path::new("c.yml"), &other[0]), None);
    }
}
