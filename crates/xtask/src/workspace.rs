//! Facts about the workspace being released: its root, version, commit and tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The cargo that runs us (`cargo xtask` sets CARGO), else the one on PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

pub fn root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .context("crates/xtask is not two levels below the workspace root")
}

pub fn git(root: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where the source can be fetched from: the `origin` remote, else this clone.
pub fn source_uri(root: &Path) -> String {
    git(root, &["config", "--get", "remote.origin.url"])
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("file://{}", root.display()))
}

/// `[workspace.package] version` of the root manifest (every crate inherits it).
pub fn version(root: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    let manifest: toml::Value = toml::from_str(&text).context("Cargo.toml is not valid TOML")?;
    manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(toml::Value::as_str)
        .map(str::to_string)
        .context("Cargo.toml has no [workspace.package] version")
}

pub fn tool_version(tool: &str) -> Result<String> {
    let program = if tool == "cargo" {
        cargo()
    } else {
        tool.to_string()
    };
    let out = Command::new(&program)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {tool} --version"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The target directory cargo uses for this workspace (honours CARGO_TARGET_DIR).
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let metadata = metadata(root, &["--no-deps"])?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata did not name a target directory")
}

pub fn metadata(root: &Path, extra: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(extra)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata printed something that is not JSON")
}
