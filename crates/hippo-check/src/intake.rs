//! One input file: read, classify, parse into resources (or a Terraform body), and scan for
//! secrets and suppression comments.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::discover::{self, FileKind};
use crate::error::ParseError;
use crate::model::Resource;
use crate::parse::{json, yaml};
use crate::suppress::{self, Suppression};
use crate::terraform::{self, TfFile};
use crate::{cfn, docker, ecs, k8s, kustomize, pipeline, secrets};

/// What one input file contributes to a scan.
pub struct FileOut {
    pub path: Arc<str>,
    pub tf: Option<TfFile>,
    pub resources: Vec<Resource>,
    pub secrets: Vec<secrets::SecretHit>,
    pub sups: Vec<Suppression>,
    pub error: Option<ParseError>,
    pub helm_template: bool,
    /// A kustomization (by file name or by its `kustomize.config.k8s.io` apiVersion):
    /// rendered with its bases after intake, not judged as a manifest.
    pub kustomization: bool,
    /// A `.json`/`.yaml` file that is not infrastructure code and could not be parsed (a
    /// `tsconfig.json` with comments, a binary with a data extension): noted, never an error.
    pub not_infrastructure: bool,
    /// SHA-256 of the exact bytes that were scanned (for signed evidence); `None` if the
    /// file could not be read.
    pub sha256: Option<[u8; 32]>,
}

fn perr(path: &Arc<str>, line: u32, msg: impl Into<String>) -> Option<ParseError> {
    Some(ParseError {
        file: path.to_string(),
        line,
        message: msg.into(),
    })
}

/// Reads, classifies and parses one file; never panics on bad input.
pub fn process(p: &Path) -> FileOut {
    let path: Arc<str> = Arc::from(p.to_string_lossy().as_ref());
    let mut out = FileOut {
        path: path.clone(),
        tf: None,
        resources: vec![],
        secrets: vec![],
        sups: vec![],
        error: None,
        helm_template: false,
        kustomization: false,
        not_infrastructure: false,
        sha256: None,
    };
    let bytes = match std::fs::read(p) {
        Ok(b) => b,
        Err(e) => {
            out.error = perr(&path, 0, format!("cannot read: {e}"));
            return out;
        }
    };
    out.sha256 = Some(Sha256::digest(&bytes).into());
    let kind = discover::classify(p);
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) if kind == FileKind::Text => return out,
        // Terraform, Dockerfiles, CloudFormation and manifests are text: a `.json` or `.yaml`
        // that is not UTF-8 is some other tool's data, not infrastructure code.
        Err(_) if matches!(kind, FileKind::Json | FileKind::Yaml) => {
            out.not_infrastructure = true;
            return out;
        }
        Err(_) => {
            out.error = perr(&path, 1, "file is not valid UTF-8");
            return out;
        }
    };
    if kind == FileKind::Text && text.len() > 4 << 20 {
        return out;
    }
    // Terraform, CloudFormation and Kubernetes all accept a leading UTF-8 byte-order mark;
    // editors on Windows write one. Removing it keeps every line number unchanged.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    out.secrets = secrets::scan(&text);
    out.sups = suppress::scan(&text, &path);
    match kind {
        FileKind::Terraform | FileKind::TfVars => match terraform::parse_hcl(&text) {
            Ok(body) => {
                out.tf = Some(TfFile {
                    path: path.clone(),
                    body,
                })
            }
            Err((l, m)) => out.error = perr(&path, l, format!("HCL parse error: {m}")),
        },
        FileKind::TerraformJson => {
            match terraform::tfjson::parse(&text, p.to_string_lossy().ends_with(".tfvars.json")) {
                Ok(body) => {
                    out.tf = Some(TfFile {
                        path: path.clone(),
                        body,
                    })
                }
                Err((l, m)) => {
                    out.error = perr(&path, l, format!("Terraform JSON parse error: {m}"))
                }
            }
        }
        FileKind::Yaml if is_helm_template(p, &text) => out.helm_template = true,
        FileKind::Yaml => match yaml::parse_docs(&text) {
            Ok(docs) => {
                out.kustomization = kustomize::is_kustomization_name(p)
                    || docs.iter().any(kustomize::is_kustomization_doc);
                for d in docs {
                    if kustomize::is_kustomization_doc(&d) {
                        continue;
                    } else if cfn::is_template(&d) {
                        out.resources.extend(cfn::resources(&d, &path));
                    } else if k8s::is_manifest(&d) {
                        k8s::resources(&d, &path, &mut out.resources);
                    } else if let Some(format) = pipeline::format_of(p, &d) {
                        out.resources
                            .push(pipeline::resource(format, &d, &path, &text));
                    }
                }
            }
            Err(_)
                if !looks_like_infrastructure(&text)
                    && !pipeline::is_pipeline_path(p)
                    && !kustomize::is_kustomization_name(p) =>
            {
                out.not_infrastructure = true
            }
            Err(e) => out.error = perr(&path, e.line, format!("YAML parse error: {}", e.msg)),
        },
        FileKind::Json => match json::parse(&text) {
            Ok(d) => {
                if terraform::plan::is_plan(&d) {
                    out.resources = terraform::plan::resources(&d, &path);
                } else if cfn::is_template(&d) {
                    out.resources = cfn::resources(&d, &path);
                } else if let Some(td) = ecs::task_definition(&d) {
                    out.resources.push(ecs::resource(td, &path));
                }
            }
            Err(_) if !looks_like_infrastructure(&text) => out.not_infrastructure = true,
            Err(e) => out.error = perr(&path, e.line, format!("JSON parse error: {}", e.msg)),
        },
        FileKind::Dockerfile => match docker::parse(&text, &path) {
            Ok(r) => out.resources.push(r),
            Err((l, m)) => out.error = perr(&path, l, m),
        },
        FileKind::Text => {}
    }
    out
}

/// Markers without which a `.json`/`.yaml` file cannot be a CloudFormation template, a
/// Terraform plan, an ECS task definition or a Kubernetes manifest. A file that fails to
/// parse is an error (exit 2) only when it carries one of them: the gate must not pass
/// broken infrastructure code, and must not fail on an editor's commented `tsconfig.json`.
fn looks_like_infrastructure(text: &str) -> bool {
    const MARKERS: &[&str] = &[
        "AWSTemplateFormatVersion",
        "AWS::",
        "format_version",
        "terraform_version",
        "resource_changes",
        "planned_values",
        "containerDefinitions",
        "apiVersion",
    ];
    MARKERS.iter().any(|m| text.contains(m))
}

/// An unrendered Helm template: under a `templates/` directory and using `{{ }}`. It is not
/// YAML until rendered, so it is reported (not parsed); scan `helm template` output instead.
fn is_helm_template(p: &Path, text: &str) -> bool {
    text.contains("{{") && p.components().any(|c| c.as_os_str() == "templates")
}
