//! Signed evidence of a scan (`hippo check --evidence DIR`): one JSON document (tool and
//! rule pack, time, roots, git commit, the SHA-256 of every scanned file, findings,
//! suppressions with their reasons), the human report, and an Ed25519 signature over the
//! document's exact bytes. [`verify`] checks a bundle.

pub mod keys;
pub mod verify;

use std::path::{Path, PathBuf};

use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::engine::{Finding, Outcome, ScannedFile};
use crate::error::ParseError;
use crate::report::{evidence, TOOL, VERSION};
use crate::rules::registry;

/// File names inside an evidence directory.
pub const DOCUMENT: &str = "evidence.json";
/// Raw 64-byte Ed25519 signature of `evidence.json` (what `openssl pkeyutl -verify -rawin`
/// reads as `-sigfile`).
pub const SIGNATURE: &str = "evidence.json.sig";
pub const PUBLIC_KEY: &str = "evidence-public-key.pem";
pub const REPORT: &str = "evidence.md";
/// The document's `kind`, so that no other signed JSON can be passed off as evidence.
pub const KIND: &str = "hippo-check-evidence";

/// Why evidence could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("key {path}: {why}")]
    Key { path: PathBuf, why: String },
    #[error("no random source for a fresh signing key: {0}")]
    Random(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the evidence document: {0}")]
    Encode(String),
}

#[derive(serde::Serialize)]
struct RulePack {
    version: &'static str,
    rules: usize,
    /// SHA-256 over every rule's id, severity, title, citations and inputs: any change to
    /// the rule pack changes it, whatever the version says.
    sha256: String,
}

#[derive(serde::Serialize)]
struct Summary {
    files: usize,
    resources: usize,
    open_findings: usize,
    suppressed_findings: usize,
    parse_errors: usize,
}

#[derive(serde::Serialize)]
struct SuppressionRecord<'a> {
    rule_id: &'a str,
    file: &'a str,
    line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    message: &'a str,
    kind: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<&'a str>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct FileRef {
    pub path: String,
    pub sha256: String,
}

#[derive(serde::Serialize)]
struct SigningInfo {
    algorithm: &'static str,
    public_key: String,
    fingerprint: String,
    key_origin: &'static str,
    note: &'static str,
}

#[derive(serde::Serialize)]
struct Document<'a> {
    kind: &'static str,
    format_version: u32,
    tool: &'static str,
    rule_pack: RulePack,
    generated_at: String,
    working_directory: String,
    roots: &'a [String],
    git_commit: Option<&'a str>,
    summary: Summary,
    files: &'a [ScannedFile],
    findings: Vec<&'a Finding>,
    suppressions: Vec<SuppressionRecord<'a>>,
    parse_errors: &'a [ParseError],
    report: FileRef,
    signature: SigningInfo,
}

fn rule_pack() -> RulePack {
    let mut h = Sha256::new();
    for r in registry() {
        let formats: Vec<&str> = r.formats.iter().map(|f| f.label()).collect();
        h.update(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            r.id,
            r.severity.label(),
            r.title,
            r.hipaa.join(","),
            formats.join(","),
            r.types.join(",")
        ));
    }
    RulePack {
        version: VERSION,
        rules: registry().len(),
        sha256: hex::encode(h.finalize()),
    }
}

fn write_file(path: PathBuf, bytes: &[u8]) -> Result<(), AttestError> {
    std::fs::write(&path, bytes).map_err(|source| AttestError::Write { path, source })
}

/// What [`write`] produced.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub fingerprint: String,
    /// True if no signing key was given and a fresh one was generated (and discarded).
    pub generated_key: bool,
}

/// Writes the evidence bundle of `o` into `dir`, signed with the key in `key_file` or, if
/// none is given, with a fresh key whose public half is written beside the evidence.
pub fn write(o: &Outcome, dir: &Path, key_file: Option<&Path>) -> Result<Written, AttestError> {
    let key = match key_file {
        Some(p) => keys::read_signing_key(p)?,
        None => keys::generate()?,
    };
    let public = key.verifying_key();
    std::fs::create_dir_all(dir).map_err(|source| AttestError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let report = evidence::markdown(o);
    write_file(dir.join(REPORT), report.as_bytes())?;
    let (open, suppressed): (Vec<&Finding>, Vec<&Finding>) =
        o.findings.iter().partition(|f| f.suppressed.is_none());
    let doc = Document {
        kind: KIND,
        format_version: 1,
        tool: TOOL,
        rule_pack: rule_pack(),
        generated_at: now(),
        working_directory: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        roots: &o.paths,
        git_commit: o.commit.as_deref(),
        summary: Summary {
            files: o.files,
            resources: o.resources,
            open_findings: open.len(),
            suppressed_findings: suppressed.len(),
            parse_errors: o.errors.len(),
        },
        files: &o.scanned,
        suppressions: suppressed
            .iter()
            .filter_map(|f| {
                let s = f.suppressed.as_ref()?;
                Some(SuppressionRecord {
                    rule_id: f.rule_id,
                    file: &f.file,
                    line: f.line,
                    resource: f.resource.as_deref(),
                    message: &f.message,
                    kind: s.kind,
                    reason: &s.reason,
                    until: s.until.as_deref(),
                })
            })
            .collect(),
        findings: open,
        parse_errors: &o.errors,
        report: FileRef {
            path: REPORT.to_string(),
            sha256: hex::encode(Sha256::digest(report.as_bytes())),
        },
        signature: SigningInfo {
            algorithm: "ed25519",
            public_key: hex::encode(public.as_bytes()),
            fingerprint: keys::fingerprint(&public),
            key_origin: if key_file.is_some() {
                "provided"
            } else {
                "generated"
            },
            note: if key_file.is_some() {
                "signed with the operator's key: verify against its public key obtained out of band"
            } else {
                "signed with a key generated for this run and then discarded: the signature proves the bundle was not altered after signing, not who produced it"
            },
        },
    };
    let mut json =
        serde_json::to_vec_pretty(&doc).map_err(|e| AttestError::Encode(e.to_string()))?;
    json.push(b'\n');
    let signature = key.sign(&json);
    write_file(dir.join(DOCUMENT), &json)?;
    write_file(dir.join(SIGNATURE), &signature.to_bytes())?;
    write_file(dir.join(PUBLIC_KEY), keys::public_pem(&public).as_bytes())?;
    Ok(Written {
        dir: dir.to_path_buf(),
        fingerprint: keys::fingerprint(&public),
        generated_key: key_file.is_none(),
    })
}

/// The current time in RFC 3339 (UTC), to the second.
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
