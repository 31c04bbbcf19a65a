//! `cargo xtask`: the project's release tooling. Wiring only; each command lives in its module.
//!
//! - `release`: release binary, SBOM, container definition and SLSA provenance, all signed.
//! - `verify-release`: what a deploy runs first; refuses a tampered or unsigned release.
//! - `sbom`: the workspace SBOM, checked to list every crate of Cargo.lock (CI).
//! - `keygen`: a release signing key pair.

mod artifacts;
mod keys;
mod provenance;
mod release;
mod sbom;
mod verify;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Release tooling for hippo: build, SBOM, provenance, signatures"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build and sign a release: binary, CycloneDX SBOM, Dockerfile, SLSA provenance.
    Release(release::ReleaseArgs),
    /// Verify a release directory against the trusted public key before deploying it.
    VerifyRelease(verify::VerifyArgs),
    /// Write the CycloneDX SBOM of every workspace crate and check it lists every crate of
    /// Cargo.lock with its licence and checksum; or, with --check, check SBOM files given.
    Sbom {
        /// Where the SBOM files go.
        #[arg(long, default_value = "target/sbom")]
        out: PathBuf,
        /// Check these SBOM files instead of generating them.
        #[arg(long, num_args = 1..)]
        check: Vec<PathBuf>,
    },
    /// Create a release signing key pair (PKCS#8 and SPKI PEM) in DIR.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Release(args) => release::run(args).map(|_| ()),
        Cmd::VerifyRelease(args) => verify::run(&args),
        Cmd::Sbom { out, check } => sbom_command(&out, &check),
        Cmd::Keygen { out } => {
            let key = keys::generate()?;
            keys::write_pair(&key, &out)?;
            println!(
                "wrote {} (keep it in the CI secret store) and {} (publish it to deployers)",
                out.join(keys::PRIVATE_FILE).display(),
                out.join(keys::PUBLIC_FILE).display()
            );
            Ok(())
        }
    }
}

fn sbom_command(out: &std::path::Path, check: &[PathBuf]) -> Result<()> {
    let root = workspace::root()?;
    let files = if check.is_empty() {
        sbom::generate_workspace(&root, &root.join(out))?
    } else {
        check.to_vec()
    };
    let boms = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", f.display()))
        })
        .collect::<Result<Vec<serde_json::Value>>>()?;
    let crates = sbom::lock_crates(&root)?;
    let problems = sbom::check_all(&boms, &crates);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("SBOM: {p}");
        }
        bail!(
            "the SBOM does not account for {} crate(s) of Cargo.lock",
            problems.len()
        );
    }
    println!(
        "SBOM complete: {} crates of Cargo.lock listed with licence and checksum, in {} file(s)",
        crates.len(),
        files.len()
    );
    Ok(())
}
