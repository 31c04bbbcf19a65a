//! `cargo xtask verify-release`: checks a release directory before it is deployed: every
//! signature against the trusted public key, every digest the provenance claims, the SBOM's
//! subject, and that the base images were pinned.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::artifacts::{sha256_hex, Artifact, ARTIFACTS, PROVENANCE};
use crate::{keys, provenance};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The release directory (`dist/hippo-<version>-<commit>/`).
    dir: PathBuf,
    /// The trusted release public key (SPKI PEM). Never the copy inside the release directory:
    /// whoever could alter the release could alter that copy too.
    #[arg(long)]
    public_key: PathBuf,
    /// Accept a release whose base images were not pinned by digest.
    #[arg(long)]
    allow_unpinned_base_images: bool,
}

pub fn run(args: &VerifyArgs) -> Result<()> {
    let problems = problems(&args.dir, &args.public_key, args.allow_unpinned_base_images)?;
    if problems.is_empty() {
        println!(
            "release {} verified: 4 signatures, 3 digests, SBOM subject",
            args.dir.display()
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("refused: {problem}");
    }
    bail!(
        "the release in {} failed verification ({} problem(s)); do not deploy it",
        args.dir.display(),
        problems.len()
    )
}

/// Every reason to refuse the release, in a stable order; empty when it verifies.
pub fn problems(dir: &Path, public_key: &Path, allow_unpinned: bool) -> Result<Vec<String>> {
    let key = keys::load_public_key(public_key)?;
    let mut problems = Vec::new();
    for artifact in ARTIFACTS {
        let name = artifact.file_name();
        let Ok(bytes) = fs::read(dir.join(name)) else {
            problems.push(format!("{name} is missing"));
            continue;
        };
        match fs::read(artifact.signature_path(dir)) {
            Ok(sig) if keys::verify(&key, &bytes, &sig) => {}
            Ok(_) => problems.push(format!(
                "{name}: the signature does not match this file and key"
            )),
            Err(_) => problems.push(format!("{name}.sig is missing")),
        }
    }
    let Ok(text) = fs::read(dir.join(PROVENANCE)) else {
        return Ok(problems);
    };
    let statement: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{PROVENANCE} is not JSON ({e})"));
            return Ok(problems);
        }
    };
    let claims = match provenance::claims(&statement) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("{PROVENANCE}: {e}"));
            return Ok(problems);
        }
    };
    for artifact in [Artifact::Binary, Artifact::Sbom, Artifact::Dockerfile] {
        let name = artifact.file_name();
        let Some(subject) = claims.subjects.iter().find(|s| s.name == name) else {
            problems.push(format!("{PROVENANCE} does not name {name} as a subject"));
            continue;
        };
        if let Ok(bytes) = fs::read(dir.join(name)) {
            let actual = sha256_hex(&bytes);
            if actual != subject.sha256 {
                problems.push(format!(
                    "{name}: sha256 {actual} differs from the provenance's {}",
                    subject.sha256
                ));
            }
        }
    }
    if !claims.base_images_pinned && !allow_unpinned {
        problems.push(
            "the base images were not pinned by digest (built with --allow-unpinned-base-images)"
                .to_string(),
        );
    }
    problems.extend(sbom_subject_problem(dir, &claims.version)?);
    Ok(problems)
}

/// The SBOM must describe hippo at the version the provenance names.
fn sbom_subject_problem(dir: &Path, version: &str) -> Result<Option<String>> {
    let Ok(bytes) = fs::read(dir.join(Artifact::Sbom.file_name())) else {
        return Ok(None);
    };
    let bom: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", Artifact::Sbom.file_name()))?;
    let component = &bom["metadata"]["component"];
    if component["name"] != "hippo" || component["version"] != version {
        return Ok(Some(format!(
            "the SBOM describes {} {}, not hippo {version}",
            component["name"], component["version"]
        )));
    }
    Ok(None)
}
