//! CycloneDX SBOMs made by `cargo cyclonedx`, and the check that they are complete: every
//! crate of `Cargo.lock` (or of the binary's dependency graph) listed, with its licence and,
//! for registry crates, the SHA-256 checksum `Cargo.lock` pins.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::workspace;

/// A crate as `Cargo.lock` pins it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedCrate {
    pub name: String,
    pub version: String,
    /// SHA-256 of the `.crate` file; `None` for workspace (path) crates.
    pub checksum: Option<String>,
}

#[derive(serde::Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<LockEntry>,
}

#[derive(serde::Deserialize)]
struct LockEntry {
    name: String,
    version: String,
    checksum: Option<String>,
}

pub fn parse_lock(text: &str) -> Result<Vec<LockedCrate>> {
    let lock: LockFile = toml::from_str(text).context("Cargo.lock is not valid TOML")?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| LockedCrate {
            name: p.name,
            version: p.version,
            checksum: p.checksum,
        })
        .collect())
}

pub fn lock_crates(root: &Path) -> Result<Vec<LockedCrate>> {
    parse_lock(&fs::read_to_string(root.join("Cargo.lock")).context("cannot read Cargo.lock")?)
}

/// The crates compiled into the hippo binary (normal and build dependencies, this platform),
/// as `cargo tree` resolves them, with their `Cargo.lock` checksums.
pub fn binary_packages(root: &Path) -> Result<Vec<LockedCrate>> {
    let out = Command::new(workspace::cargo())
        .current_dir(root)
        .args([
            "tree",
            "--locked",
            "-p",
            "hippo",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .output()
        .context("cannot run cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let checksums: BTreeMap<(String, String), Option<String>> = lock_crates(root)?
        .into_iter()
        .map(|c| ((c.name, c.version), c.checksum))
        .collect();
    let mut seen = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let version = version.trim_start_matches('v').to_string();
        seen.insert((name.to_string(), version));
    }
    seen.into_iter()
        .map(|key| {
            let checksum = checksums
                .get(&key)
                .with_context(|| {
                    format!(
                        "cargo tree names {}@{} which Cargo.lock lacks",
                        key.0, key.1
                    )
                })?
                .clone();
            Ok(LockedCrate {
                name: key.0,
                version: key.1,
                checksum,
            })
        })
        .collect()
}

/// The SBOM of the hippo binary for this platform (`cargo cyclonedx` writes one per workspace
/// member; the others are dropped).
pub fn generate_binary_sbom(root: &Path) -> Result<Value> {
    let scratch = workspace::target_dir(root)?.join("sbom-release");
    let files = collect(root, &[], &scratch)?;
    let hippo = files
        .iter()
        .find(|f| f.ends_with("hippo.cdx.json"))
        .context("cargo cyclonedx wrote no SBOM for the hippo package")?;
    let bytes = fs::read(hippo).with_context(|| format!("cannot read {}", hippo.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", hippo.display()))
}

/// Runs `cargo cyclonedx` over the whole workspace, every platform, and moves each member's
/// SBOM into `out`; then adds `dev-only.cdx.json` for the crates only tests and benchmarks use.
/// Returns their paths.
pub fn generate_workspace(root: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let mut files = collect(root, &["--target", "all"], out)?;
    let boms = files
        .iter()
        .map(|f| Ok(serde_json::from_slice(&fs::read(f)?)?))
        .collect::<Result<Vec<Value>>>()?;
    let listed = listed(&boms);
    let missing: Vec<LockedCrate> = lock_crates(root)?
        .into_iter()
        .filter(|c| !listed.contains_key(&(c.name.clone(), c.version.clone())))
        .collect();
    let dev_only = out.join("dev-only.cdx.json");
    let bom = dev_only_bom(&missing, &licences(root)?)?;
    fs::write(&dev_only, serde_json::to_vec_pretty(&bom)?)?;
    files.push(dev_only);
    Ok(files)
}

/// Licence expression of every package cargo resolves, by (name, version).
fn licences(root: &Path) -> Result<BTreeMap<(String, String), String>> {
    let metadata = workspace::metadata(root, &[])?;
    Ok(metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                (
                    p["name"].as_str()?.to_string(),
                    p["version"].as_str()?.to_string(),
                ),
                p["license"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// cargo-cyclonedx describes what each crate ships and leaves out dev-dependencies, so the
/// crates only tests and benchmarks compile are listed here by hand, with CycloneDX's
/// `scope: excluded` (present in the build environment, not in any artifact), their licence
/// from cargo metadata and the checksum Cargo.lock pins.
fn dev_only_bom(
    crates: &[LockedCrate],
    licences: &BTreeMap<(String, String), String>,
) -> Result<Value> {
    let components = crates
        .iter()
        .map(|c| {
            let licence = licences
                .get(&(c.name.clone(), c.version.clone()))
                .with_context(|| {
                    format!("cargo metadata has no licence for {}@{}", c.name, c.version)
                })?;
            let mut component = serde_json::json!({
                "type": "library",
                "bom-ref": format!("dev-only:{}@{}", c.name, c.version),
                "name": c.name,
                "version": c.version,
                "scope": "excluded",
                "purl": format!("pkg:cargo/{}@{}", c.name, c.version),
                "licenses": [{ "expression": licence }],
            });
            if let Some(sum) = &c.checksum {
                component["hashes"] = serde_json::json!([{ "alg": "SHA-256", "content": sum }]);
            }
            Ok(component)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "name": "hippo-workspace-dev-only",
                "description": "crates used only by tests and benchmarks; in no shipped artifact",
            },
        },
        "components": components,
    }))
}

/// Runs `cargo cyclonedx` (it writes `<package>.cdx.json` beside each member's Cargo.toml)
/// and moves the files into `out`.
fn collect(root: &Path, extra: &[&str], out: &Path) -> Result<Vec<PathBuf>> {
    run_cyclonedx(root, extra)?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let metadata = workspace::metadata(root, &["--no-deps"])?;
    let mut written = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(manifest)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            continue;
        };
        let from = Path::new(manifest)
            .parent()
            .context("a manifest path without a directory")?
            .join(format!("{name}.cdx.json"));
        let to = out.join(format!("{name}.cdx.json"));
        fs::rename(&from, &to)
            .or_else(|_| fs::copy(&from, &to).and_then(|_| fs::remove_file(&from)))
            .with_context(|| format!("cargo cyclonedx wrote no {}", from.display()))?;
        written.push(to);
    }
    Ok(written)
}

fn run_cyclonedx(root: &Path, extra: &[&str]) -> Result<()> {
    let out = Command::new(workspace::cargo())
        .current_dir(root)
        .args([
            "cyclonedx",
            "--format",
            "json",
            "--spec-version",
            "1.5",
            "-qq",
        ])
        .args(extra)
        .output()
        .context(
            "cannot run cargo cyclonedx (install it: cargo install --locked cargo-cyclonedx)",
        )?;
    if !out.status.success() {
        bail!(
            "cargo cyclonedx failed (is it installed? `cargo install --locked cargo-cyclonedx`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// What an SBOM says of one crate.
#[derive(Debug, Default, Clone)]
struct Listed {
    licensed: bool,
    sha256: Vec<String>,
}

fn listed(boms: &[Value]) -> BTreeMap<(String, String), Listed> {
    let mut found: BTreeMap<(String, String), Listed> = BTreeMap::new();
    let mut stack: Vec<&Value> = Vec::new();
    for bom in boms {
        stack.push(&bom["metadata"]["component"]);
        stack.extend(bom["components"].as_array().into_iter().flatten());
    }
    while let Some(component) = stack.pop() {
        stack.extend(component["components"].as_array().into_iter().flatten());
        let (Some(name), Some(version)) =
            (component["name"].as_str(), component["version"].as_str())
        else {
            continue;
        };
        let entry = found
            .entry((name.to_string(), version.to_string()))
            .or_default();
        entry.licensed |= component["licenses"].as_array().is_some_and(|l| {
            l.iter()
                .any(|x| x.get("expression").is_some() || x.get("license").is_some())
        });
        for hash in component["hashes"].as_array().into_iter().flatten() {
            if hash["alg"] == "SHA-256" {
                if let Some(content) = hash["content"].as_str() {
                    entry.sha256.push(content.to_ascii_lowercase());
                }
            }
        }
    }
    found
}

/// Every way the SBOMs fail to account for `crates`; empty when complete.
pub fn check_all(boms: &[Value], crates: &[LockedCrate]) -> Vec<String> {
    let found = listed(boms);
    let mut problems = Vec::new();
    for c in crates {
        let id = format!("{}@{}", c.name, c.version);
        let Some(entry) = found.get(&(c.name.clone(), c.version.clone())) else {
            problems.push(format!("{id} is not in the SBOM"));
            continue;
        };
        if !entry.licensed {
            problems.push(format!("{id} has no licence in the SBOM"));
        }
        if let Some(checksum) = &c.checksum {
            if !entry.sha256.iter().any(|h| h == checksum) {
                problems.push(format!(
                    "{id} lacks the SHA-256 checksum Cargo.lock pins ({checksum})"
                ));
            }
        }
    }
    problems
}

pub fn check(bom: &Value, crates: &[LockedCrate]) -> Result<Vec<String>> {
    Ok(check_all(std::slice::from_ref(bom), crates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "hippo"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aa"
"#;

    fn bom(components: Value) -> Value {
        json!({
            "metadata": { "component": { "name": "hippo", "version": "0.1.0",
                "licenses": [{ "expression": "Apache-2.0" }] } },
            "components": components,
        })
    }

    #[test]
    fn a_complete_sbom_passes() {
        let crates = parse_lock(LOCK).unwrap();
        assert_eq!(crates.len(), 2);
        let good = bom(json!([{ "name": "serde", "version": "1.0.0",
            "licenses": [{ "expression": "MIT OR Apache-2.0" }],
            "hashes": [{ "alg": "SHA-256", "content": "AA" }] }]));
        assert_eq!(check(&good, &crates).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_missing_crate_licence_or_checksum_is_named() {
        let crates = parse_lock(LOCK).unwrap();
        let missing = bom(json!([]));
        assert_eq!(
            check(&missing, &crates).unwrap(),
            vec!["serde@1.0.0 is not in the SBOM"]
        );
        let unlicensed = bom(json!([{ "name": "serde", "version": "1.0.0",
            "hashes": [{ "alg": "SHA-256", "content": "aa" }] }]));
        assert_eq!(
            check(&unlicensed, &crates).unwrap(),
            vec!["serde@1.0.0 has no licence in the SBOM"]
        );
        let wrong_sum = bom(json!([{ "name": "serde", "version": "1.0.0",
            "licenses": [{ "license": { "id": "MIT" } }],
            "hashes": [{ "alg": "SHA-256", "content": "bb" }] }]));
        let problems = check(&wrong_sum, &crates).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("checksum"), "{problems:?}");
    }
}
