//! `hippo check verify-evidence`: checks an evidence bundle's Ed25519 signature, its human
//! report, and that every file it lists still has the recorded SHA-256.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{keys, AttestError, FileRef, DOCUMENT, KIND, PUBLIC_KEY, SIGNATURE};
use crate::engine::ScannedFile;

/// Arguments of `hippo check verify-evidence`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The evidence directory written by `hippo check --evidence DIR`
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// The signer's public key (PEM "PUBLIC KEY" or 64 hex characters). Without it the key
    /// stored in the bundle is used, which proves integrity only, not who signed
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,

    /// Directory the scanned paths are relative to (the directory `hippo check` ran in)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,

    /// Check the signature and report only, not the scanned files (when the tree is absent)
    #[arg(long)]
    pub signature_only: bool,
}

/// Why a bundle is refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] AttestError),
    #[error("{path}: an Ed25519 signature is 64 bytes, this file has {len}")]
    SignatureLength { path: PathBuf, len: usize },
    #[error("signature check failed: {document} was altered after signing, or was not signed by key {fingerprint}")]
    BadSignature {
        document: PathBuf,
        fingerprint: String,
    },
    #[error("{document} is signed but is not a hippo check evidence document: {why}")]
    Malformed { document: PathBuf, why: String },
    #[error("the evidence does not match:\n{}", .0.join("\n"))]
    Mismatch(Vec<String>),
}

/// A bundle that passed every check.
#[derive(Debug)]
pub struct Verified {
    pub fingerprint: String,
    /// True if the key came from the bundle itself (integrity only, not origin).
    pub key_from_bundle: bool,
    pub generated_at: String,
    pub git_commit: Option<String>,
    /// Files re-hashed (0 with `--signature-only`).
    pub files_checked: usize,
}

fn read(path: PathBuf) -> Result<Vec<u8>, VerifyError> {
    std::fs::read(&path).map_err(|source| VerifyError::Read { path, source })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Verifies the bundle in `args.dir`.
pub fn verify(args: &VerifyArgs) -> Result<Verified, VerifyError> {
    let document = args.dir.join(DOCUMENT);
    let json = read(document.clone())?;
    let sig_path = args.dir.join(SIGNATURE);
    let sig = read(sig_path.clone())?;
    let sig: [u8; 64] = sig
        .as_slice()
        .try_into()
        .map_err(|_| VerifyError::SignatureLength {
            path: sig_path,
            len: sig.len(),
        })?;
    let key_path = args
        .public_key
        .clone()
        .unwrap_or_else(|| args.dir.join(PUBLIC_KEY));
    let key: VerifyingKey = keys::read_public_key(&key_path)?;
    let fingerprint = keys::fingerprint(&key);
    key.verify_strict(&json, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::BadSignature {
            document: document.clone(),
            fingerprint: fingerprint.clone(),
        })?;

    // From here on the document is exactly what the key holder signed.
    let malformed = |why: &str| VerifyError::Malformed {
        document: document.clone(),
        why: why.to_string(),
    };
    let doc: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| malformed(&e.to_string()))?;
    if doc["kind"] != KIND {
        return Err(malformed("its `kind` is not hippo-check-evidence"));
    }
    let report: FileRef = serde_json::from_value(doc["report"].clone())
        .map_err(|e| malformed(&format!("report: {e}")))?;
    let files: Vec<ScannedFile> = serde_json::from_value(doc["files"].clone())
        .map_err(|e| malformed(&format!("files: {e}")))?;

    let mut mismatches = Vec::new();
    // The report is named by the signed document; a path that leaves the bundle is refused.
    if report.path.contains(['/', '\\']) {
        mismatches.push(format!("report path {} is not a file name", report.path));
    } else {
        match std::fs::read(args.dir.join(&report.path)) {
            Ok(b) if sha256_hex(&b) == report.sha256 => {}
            Ok(_) => mismatches.push(format!(
                "changed: {} (the human report differs from the signed hash)",
                args.dir.join(&report.path).display()
            )),
            Err(e) => mismatches.push(format!(
                "missing: {} ({e})",
                args.dir.join(&report.path).display()
            )),
        }
    }
    if !args.signature_only {
        for f in &files {
            let path = args.root.join(&f.path);
            match std::fs::read(&path) {
                Ok(b) => {
                    let now = sha256_hex(&b);
                    if now != f.sha256 {
                        mismatches.push(format!(
                            "changed: {} (sha256 {} at signing, {now} now)",
                            f.path, f.sha256
                        ));
                    }
                }
                Err(e) => mismatches.push(format!("missing: {} ({e})", path.display())),
            }
        }
    }
    if !mismatches.is_empty() {
        return Err(VerifyError::Mismatch(mismatches));
    }
    Ok(Verified {
        fingerprint,
        key_from_bundle: args.public_key.is_none(),
        generated_at: doc["generated_at"].as_str().unwrap_or("").to_string(),
        git_commit: doc["git_commit"].as_str().map(str::to_string),
        files_checked: if args.signature_only { 0 } else { files.len() },
    })
}

/// Runs `hippo check verify-evidence` and returns the exit code: 0 verified, 1 refused
/// (bad signature, changed or missing file), 2 unreadable bundle or key.
pub fn run(args: &VerifyArgs) -> i32 {
    match verify(args) {
        Ok(v) => {
            println!(
                "evidence verified: signature by key {} over {}",
                v.fingerprint,
                args.dir.join(DOCUMENT).display()
            );
            println!(
                "generated {} at commit {}",
                v.generated_at,
                v.git_commit.as_deref().unwrap_or("(not a git checkout)")
            );
            if args.signature_only {
                println!("scanned files not checked (--signature-only)");
            } else {
                println!("{} scanned files unchanged", v.files_checked);
            }
            if v.key_from_bundle {
                println!(
                    "note: the public key was taken from the bundle itself; this proves the bundle is intact, not who produced it (pass --public-key with the signer's key)"
                );
            }
            0
        }
        Err(e @ (VerifyError::Read { .. } | VerifyError::Key(_))) => {
            eprintln!("hippo check verify-evidence: {e}");
            2
        }
        Err(e) => {
            eprintln!("hippo check verify-evidence: REFUSED: {e}");
            1
        }
    }
}

/// The arguments `hippo check verify-evidence DIR` gets with no options.
pub fn args(dir: &Path) -> VerifyArgs {
    VerifyArgs {
        dir: dir.to_path_buf(),
        public_key: None,
        root: PathBuf::from("."),
        signature_only: false,
    }
}
