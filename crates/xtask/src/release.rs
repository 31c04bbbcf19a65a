//! `cargo xtask release`: builds the release binary, writes the SBOM, the container definition
//! with its base images, and the provenance statement, and signs all four.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use time::OffsetDateTime;

use crate::artifacts::{sha256_hex, write_checksums, Artifact, ARTIFACTS, PROVENANCE};
use crate::provenance::{self, BaseImage, BuildFacts, Subject};
use crate::{keys, sbom, workspace};

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// Directory the release is written under (as `hippo-<version>-<commit>/`).
    #[arg(long, default_value = "dist")]
    out: PathBuf,
    /// Ed25519 signing key (PKCS#8 PEM, mode 0600). Without it a throw-away key is made:
    /// its signatures prove integrity, not origin.
    #[arg(long, env = "HIPPO_RELEASE_SIGNING_KEY_FILE")]
    key: Option<PathBuf>,
    /// Sign this already-built binary instead of running `cargo build --release`
    /// (the provenance records that the binary was not built by this run).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Release from a tree with uncommitted changes (recorded as dirty in the provenance).
    #[arg(long)]
    allow_dirty: bool,
    /// Resolve unpinned base images to digests with `docker buildx imagetools inspect`.
    #[arg(long)]
    pin_base_images: bool,
    /// Accept base images without digests (recorded; `verify-release` refuses such a release
    /// unless it is given the same flag).
    #[arg(long, conflicts_with = "pin_base_images")]
    allow_unpinned_base_images: bool,
}

pub fn run(args: ReleaseArgs) -> Result<PathBuf> {
    let started = OffsetDateTime::now_utc();
    let root = workspace::root()?;
    let commit = workspace::git(&root, &["rev-parse", "HEAD"])?;
    let dirty =
        !workspace::git(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    if dirty && !args.allow_dirty {
        bail!("the working tree has uncommitted changes: commit them, or pass --allow-dirty for a test release");
    }
    let version = workspace::version(&root)?;

    let dockerfile = fs::read_to_string(root.join("deploy/Dockerfile"))
        .context("cannot read deploy/Dockerfile")?;
    let dockerfile = pinned_dockerfile(&dockerfile, &args)?;
    let base_images = provenance::base_images(&dockerfile);

    let key = match &args.key {
        Some(path) => keys::load_signing_key(path)?,
        None => {
            eprintln!(
                "warning: no --key given: signing with a throw-away key; the signatures prove \
                 that nothing changed after signing, not who signed (use the release key from \
                 the CI secret store for a real release)"
            );
            keys::generate()?
        }
    };

    let (binary, built_here) = match &args.binary {
        Some(path) => (path.clone(), false),
        None => (build_release(&root)?, true),
    };

    let dir = args.out.join(format!("hippo-{version}-{}", &commit[..12]));
    if dir.exists() && fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty; remove it or choose another --out",
            dir.display()
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    eprintln!("release: binary");
    fs::copy(&binary, dir.join(Artifact::Binary.file_name()))
        .with_context(|| format!("cannot copy {}", binary.display()))?;
    eprintln!("release: SBOM (cargo cyclonedx)");
    let bom = sbom::generate_binary_sbom(&root)?;
    let missing = sbom::check(&bom, &sbom::binary_packages(&root)?)?;
    if !missing.is_empty() {
        bail!(
            "the SBOM misses crates of the binary:\n  {}",
            missing.join("\n  ")
        );
    }
    fs::write(
        dir.join(Artifact::Sbom.file_name()),
        serde_json::to_vec_pretty(&bom)?,
    )?;
    fs::write(dir.join(Artifact::Dockerfile.file_name()), &dockerfile)?;

    let subjects = [Artifact::Binary, Artifact::Sbom, Artifact::Dockerfile]
        .iter()
        .map(|a| {
            Ok(Subject {
                name: a.file_name().to_string(),
                sha256: sha256_hex(&fs::read(dir.join(a.file_name()))?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let facts = BuildFacts {
        version: version.clone(),
        source_uri: workspace::source_uri(&root),
        commit: commit.clone(),
        dirty,
        cargo_lock_sha256: sha256_hex(&fs::read(root.join("Cargo.lock"))?),
        rustc: workspace::tool_version("rustc")?,
        cargo: workspace::tool_version("cargo")?,
        built_here,
        base_images,
        builder_id: builder_id(),
        invocation_id: invocation_id(),
        started,
        finished: OffsetDateTime::now_utc(),
    };
    let statement = provenance::statement(&facts, &subjects);
    fs::write(dir.join(PROVENANCE), serde_json::to_vec_pretty(&statement)?)?;

    eprintln!("release: signatures");
    for artifact in ARTIFACTS {
        let path = dir.join(artifact.file_name());
        let bytes = fs::read(&path)?;
        fs::write(artifact.signature_path(&dir), keys::sign(&key, &bytes))?;
    }
    keys::write_public(&key, &dir.join(keys::PUBLIC_FILE))?;
    write_checksums(&dir)?;
    println!("{}", dir.display());
    Ok(dir)
}

fn pinned_dockerfile(dockerfile: &str, args: &ReleaseArgs) -> Result<String> {
    let unpinned: Vec<BaseImage> = provenance::base_images(dockerfile)
        .into_iter()
        .filter(|i| i.digest.is_none())
        .collect();
    if unpinned.is_empty() || args.allow_unpinned_base_images {
        return Ok(dockerfile.to_string());
    }
    if !args.pin_base_images {
        let names: Vec<&str> = unpinned.iter().map(|i| i.reference.as_str()).collect();
        bail!(
            "deploy/Dockerfile has base images without a digest ({}): pass --pin-base-images to \
             resolve them with docker buildx, or --allow-unpinned-base-images for a test release",
            names.join(", ")
        );
    }
    provenance::pin_dockerfile(dockerfile, resolve_digest)
}

fn resolve_digest(image: &str) -> Result<String> {
    let out = Command::new("docker")
        .args([
            "buildx",
            "imagetools",
            "inspect",
            image,
            "--format",
            "{{.Manifest.Digest}}",
        ])
        .output()
        .context("cannot run docker buildx to resolve base image digests")?;
    if !out.status.success() {
        bail!(
            "docker buildx imagetools inspect {image} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn build_release(root: &Path) -> Result<PathBuf> {
    eprintln!("release: cargo build --release --locked -p hippo");
    let status = Command::new(workspace::cargo())
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            "hippo",
            "--bin",
            "hippo",
        ])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(workspace::target_dir(root)?.join("release/hippo"))
}

/// Who built it: the hosted CI run when there is one, else this host.
fn builder_id() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_WORKFLOW_REF"),
    ) {
        (Some(server), Some(_), Some(workflow)) => format!("{server}/{workflow}"),
        _ => format!(
            "local:{}",
            fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown-host".into())
        ),
    }
}

fn invocation_id() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(run)) => format!("{server}/{repo}/actions/runs/{run}"),
        _ => {
            let mut id = [0u8; 16];
            getrandom::getrandom(&mut id)
                .map(|_| hex::encode(id))
                .unwrap_or_default()
        }
    }
}
