//! Finding input files: .gitignore-aware walk and classification by name.

use std::path::{Path, PathBuf};

use crate::docker;

/// How a file will be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Terraform,
    TfVars,
    /// Terraform JSON syntax (`*.tf.json`, `*.tfvars.json`).
    TerraformJson,
    Yaml,
    Json,
    Dockerfile,
    /// Secret scanning only.
    Text,
}

pub fn classify(path: &Path) -> FileKind {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let lower = name.to_ascii_lowercase();
    if docker::is_dockerfile(name) {
        FileKind::Dockerfile
    } else if lower.ends_with(".tf.json") || lower.ends_with(".tfvars.json") {
        FileKind::TerraformJson
    } else if lower.ends_with(".tf") {
        FileKind::Terraform
    } else if lower.ends_with(".tfvars") {
        FileKind::TfVars
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") || name == "Kustomization" {
        FileKind::Yaml
    } else if lower.ends_with(".json") || lower.ends_with(".template") {
        FileKind::Json
    } else {
        FileKind::Text
    }
}

const SKIP_DIRS: &[&str] = &[".git", ".terraform", "node_modules", ".hg", ".svn"];

/// Paths a repository excludes from `hippo check` (gitignore syntax), each with its reason in a
/// comment: deliberately bad test fixtures, for example. Listed in the scanned tree itself so
/// that a reviewer sees every exclusion next to the code.
pub const IGNORE_FILE: &str = ".hippocheckignore";

/// Walks the given paths (files or directories), honouring .gitignore and .hippocheckignore.
pub fn walk(paths: &[PathBuf]) -> Result<Vec<PathBuf>, crate::error::CheckError> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(crate::error::CheckError::Usage(format!(
                "path does not exist: {}",
                p.display()
            )));
        }
        if p.is_file() {
            out.push(p.clone());
            continue;
        }
        let walker = ignore::WalkBuilder::new(p)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .parents(true)
            .add_custom_ignore_filename(IGNORE_FILE)
            .filter_entry(|e| !SKIP_DIRS.iter().any(|d| e.file_name() == *d))
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| crate::error::CheckError::Usage(e.to_string()))?;
            if entry.file_type().is_some_and(|t| t.is_file()) {
                out.push(entry.into_path());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
