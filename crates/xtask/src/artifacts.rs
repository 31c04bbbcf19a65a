//! The files of a release directory, their signatures and the `SHA256SUMS` list.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

pub const PROVENANCE: &str = "provenance.intoto.json";
pub const CHECKSUMS: &str = "SHA256SUMS";

/// A signed file of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    Binary,
    Sbom,
    Dockerfile,
    Provenance,
}

pub const ARTIFACTS: [Artifact; 4] = [
    Artifact::Binary,
    Artifact::Sbom,
    Artifact::Dockerfile,
    Artifact::Provenance,
];

impl Artifact {
    pub fn file_name(self) -> &'static str {
        match self {
            Artifact::Binary => "hippo",
            Artifact::Sbom => "hippo.cdx.json",
            Artifact::Dockerfile => "Dockerfile",
            Artifact::Provenance => PROVENANCE,
        }
    }

    /// The detached signature: 64 raw bytes, as `openssl pkeyutl -verify -sigfile` reads them.
    pub fn signature_path(self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.sig", self.file_name()))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `SHA256SUMS` in `sha256sum -c` format, over every artifact and signature.
pub fn write_checksums(dir: &Path) -> Result<()> {
    let mut text = String::new();
    for artifact in ARTIFACTS {
        for path in [dir.join(artifact.file_name()), artifact.signature_path(dir)] {
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let _ = writeln!(text, "{}  {name}", sha256_hex(&bytes));
        }
    }
    fs::write(dir.join(CHECKSUMS), text).context("cannot write SHA256SUMS")
}
