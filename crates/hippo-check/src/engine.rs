//! The scan pipeline: discover, parse in parallel, evaluate rules, apply suppressions.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::discover;
use crate::error::{CheckError, ParseError};
use crate::exceptions::{apply_suppressions, load_baseline};
use crate::findings::finding;
pub use crate::findings::{Finding, Suppressed};
use crate::intake::{process, FileOut};
use crate::kustomize;
use crate::model::Format;
use crate::rules::{self, Index, Kind};
use crate::terraform::Tree;

/// Per-rule evaluation counts for the evidence report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RuleStat {
    pub evaluated: usize,
    pub failed: usize,
}

/// The outcome of a scan.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub errors: Vec<ParseError>,
    pub files: usize,
    pub resources: usize,
    pub stats: BTreeMap<String, RuleStat>,
    pub commit: Option<String>,
    pub date: String,
    pub paths: Vec<String>,
    /// Unrendered Helm templates found: not parsed as manifests (secrets still scanned).
    pub helm_templates: Vec<String>,
    /// `.json`/`.yaml` files without any infrastructure marker that did not parse (commented
    /// JSON, binary data): listed, not errors, so they never change the exit code.
    pub not_infrastructure: Vec<String>,
    /// Rules that recognise a scanned resource's type but are not evaluated on its format.
    pub not_evaluated: Vec<NotEvaluated>,
    /// Every file read, with the SHA-256 of the bytes scanned, in path order.
    pub scanned: Vec<ScannedFile>,
}

/// One scanned file and the hash of its content as scanned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScannedFile {
    pub path: String,
    pub sha256: String,
}

/// A rule skipped for resources of a format it does not cover: the report says so.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotEvaluated {
    pub rule_id: &'static str,
    pub format: &'static str,
    pub resource_type: String,
    pub resources: usize,
    pub reason: &'static str,
}

/// The (rule, format, source type) combinations of a scan that no rule evaluation covered.
pub fn not_evaluated(resources: &[crate::model::Resource]) -> Vec<NotEvaluated> {
    let mut seen: BTreeMap<(&'static str, crate::model::Format, &str), usize> = BTreeMap::new();
    for r in resources {
        for rule in rules::formats::skipped_for(&r.rtype, r.format) {
            *seen
                .entry((rule.id, rules::formats::declared(r.format), &r.source_type))
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .map(|((rule_id, f, t), n)| NotEvaluated {
            rule_id,
            format: f.label(),
            resource_type: t.to_string(),
            resources: n,
            reason: rules::formats::reason(rule_id, f),
        })
        .collect()
}

/// Scan options.
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub rules_dir: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub today: String,
}

/// Findings of one resource, and (rule, failed) for each rule evaluated on it.
type PerResource = (Vec<Finding>, Vec<(&'static str, bool)>);

/// Runs a scan.
pub fn scan(opts: &Options) -> Result<Outcome, CheckError> {
    let files = discover::walk(&opts.paths)?;
    let outs: Vec<FileOut> = files.par_iter().map(|p| process(p)).collect();
    let mut tree = Tree::default();
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    let mut secret_hits = Vec::new();
    let mut sups = Vec::new();
    let mut helm_templates = Vec::new();
    let mut not_infrastructure = Vec::new();
    let mut scanned = Vec::with_capacity(outs.len());
    let mut kustomizations: Vec<Arc<str>> = Vec::new();
    for o in outs {
        if let Some(h) = o.sha256 {
            scanned.push(ScannedFile {
                path: o.path.to_string(),
                sha256: hex::encode(h),
            });
        }
        if o.kustomization {
            kustomizations.push(o.path.clone());
        }
        if o.helm_template {
            helm_templates.push(o.path.to_string());
        }
        if o.not_infrastructure {
            not_infrastructure.push(o.path.to_string());
        }
        if let Some(e) = o.error {
            errors.push(e);
        }
        if let Some(tf) = o.tf {
            let p = PathBuf::from(tf.path.as_ref());
            tree.add(&p, tf);
        }
        resources.extend(o.resources);
        secret_hits.extend(o.secrets.into_iter().map(|s| (o.path.clone(), s)));
        sups.extend(o.sups);
    }
    resources.extend(tree.resources());
    drop(tree);
    let failed: HashSet<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    let rendered = kustomize::render_all(&kustomizations, &failed);
    errors.extend(rendered.errors);
    if !rendered.patch_files.is_empty() {
        // A patch is a partial manifest: judged inside the render, not on its own.
        resources.retain(|r| {
            r.format != Format::Kubernetes
                || !rendered
                    .patch_files
                    .contains(&kustomize::normalize(Path::new(r.file.as_ref())))
        });
    }
    resources.extend(rendered.resources);
    let idx = Index::new(&resources);
    let registry = rules::registry();
    let not_evaluated = not_evaluated(&resources);

    let per_res: Vec<PerResource> = resources
        .par_iter()
        .map(|r| {
            let mut fs = Vec::new();
            let mut evals = Vec::new();
            for rule in registry.iter().filter(|rule| rule.applies(r)) {
                let Kind::Resource(check) = rule.kind else {
                    continue;
                };
                let hits = check(r, &idx);
                evals.push((rule.id, !hits.is_empty()));
                for h in hits {
                    // A verdict resting on a value nobody can know before apply is a prompt
                    // to re-check, not a failure of the rule.
                    let severity = if h.unresolved {
                        rules::Severity::Info
                    } else {
                        rule.severity
                    };
                    fs.push(finding(
                        rule.id,
                        rule.title,
                        severity,
                        rule.hipaa,
                        &r.file,
                        h.line,
                        Some(r),
                        h.message,
                    ));
                }
            }
            (fs, evals)
        })
        .collect();

    let mut findings =
        Vec::with_capacity(per_res.iter().map(|(f, _)| f.len()).sum::<usize>() + secret_hits.len());
    let mut stats: BTreeMap<String, RuleStat> = registry
        .iter()
        .map(|r| (r.id.to_string(), RuleStat::default()))
        .collect();
    for (fs, evals) in per_res {
        findings.extend(fs);
        for (id, failed) in evals {
            let s = stats.entry(id.to_string()).or_default();
            s.evaluated += 1;
            s.failed += usize::from(failed);
        }
    }
    for (path, s) in secret_hits {
        let rule = rules::find(s.rule_id).expect("secret rule registered");
        findings.push(finding(
            rule.id,
            rule.title,
            rule.severity,
            rule.hipaa,
            &path,
            s.line,
            None,
            s.message,
        ));
    }
    if let Some(rule) = rules::find("HIPPO-KUST-001") {
        for remote in rendered.remote {
            findings.push(finding(
                rule.id,
                rule.title,
                rule.severity,
                rule.hipaa,
                &remote.file,
                remote.line,
                None,
                format!(
                    "remote base {} is not fetched: its resources were not evaluated",
                    remote.url
                ),
            ));
        }
    }
    if let Some(dir) = &opts.rules_dir {
        findings.extend(crate::rego::evaluate(dir, &resources)?);
    }
    kustomize::drop_repeats(&mut findings);
    dedup(&mut findings);
    let baseline = match &opts.baseline {
        Some(p) => Some(load_baseline(p)?),
        None => None,
    };
    let meta = apply_suppressions(&mut findings, &sups, baseline.as_ref(), opts);
    findings.extend(meta);
    for f in &findings {
        if ["HIPPO-SECRET", "HIPPO-SUP", "HIPPO-KUST"]
            .iter()
            .any(|p| f.rule_id.starts_with(p))
        {
            let s = stats.entry(f.rule_id.to_string()).or_default();
            s.evaluated += 1;
            s.failed += usize::from(f.suppressed.is_none());
        }
    }
    findings.sort_by(|a, b| (&a.file, a.line, &a.rule_id).cmp(&(&b.file, b.line, &b.rule_id)));
    errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(Outcome {
        files: files.len(),
        resources: resources
            .iter()
            .filter(|r| !r.rtype.starts_with("data."))
            .count(),
        findings,
        errors,
        stats,
        commit: opts
            .paths
            .first()
            .and_then(|p| crate::gitinfo::head_commit(p)),
        date: opts.today.clone(),
        paths: opts.paths.iter().map(|p| p.display().to_string()).collect(),
        helm_templates,
        not_infrastructure,
        not_evaluated,
        scanned,
    })
}

fn dedup(findings: &mut Vec<Finding>) {
    use std::hash::{Hash, Hasher};
    let mut seen = HashSet::with_capacity(findings.len());
    findings.retain(|f| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (f.rule_id, &f.file, f.line, &f.message, &f.origin).hash(&mut h);
        seen.insert(h.finish())
    });
}
