//! `[documents]`: clinical documents (referral letters, consent forms, lab PDFs, images):
//! where sealed blobs are kept, which key provider wraps their data keys, size and type limits.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Where sealed documents are kept: unset, `<data_dir>/documents` (embedded); a directory;
    /// or `s3://bucket/prefix` (scale-out; the bucket of deploy/terraform/documents.tf). S3
    /// endpoint, region and credentials as for the audit export ([audit] s3_endpoint, AWS_*).
    pub to: Option<String>,
    /// Largest accepted document, in bytes (refused with 413 while streaming, nothing kept).
    pub max_bytes: u64,
    /// Accepted media types; each upload's content is sniffed and must match its declared type.
    pub allowed_types: Vec<String>,
    /// Plaintext bytes per sealed chunk, in KiB: the memory held per upload or download.
    pub chunk_kib: u32,
    /// Who wraps each document's data key: `local` (the keyring) or `kms` (AWS KMS).
    pub key_provider: String,
    /// With key_provider = "kms": the KMS key id or ARN.
    pub kms_key_id: Option<String>,
    /// KMS endpoint override (a VPC endpoint, a test server). Unset: AWS_ENDPOINT_URL_KMS,
    /// AWS_ENDPOINT_URL, else AWS itself.
    pub kms_endpoint: Option<String>,
    /// Unwrapped data keys kept in memory at most ...
    pub key_cache_entries: usize,
    /// ... each for at most this many seconds.
    pub key_cache_ttl_secs: u64,
    /// With `to = s3://…`: the KMS key of the bucket's SSE-KMS encryption (unset: the
    /// bucket's default key). Objects are always written with `aws:kms`.
    pub s3_kms_key_id: Option<String>,
    /// Malware-scan hook: a command and its arguments that reads each document on standard
    /// input and exits 0 (clean) or 1 (infected: refused with 422); any other outcome refuses
    /// the upload with 503 (fail closed). Empty: no scan. E.g. ["clamdscan", "--no-summary", "-"].
    pub scan_command: Vec<String>,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            to: None,
            max_bytes: 64 * 1024 * 1024,
            allowed_types: [
                "application/pdf",
                "image/png",
                "image/jpeg",
                "image/tiff",
                "text/plain",
            ]
            .map(String::from)
            .to_vec(),
            chunk_kib: 64,
            key_provider: "local".into(),
            kms_key_id: None,
            kms_endpoint: None,
            key_cache_entries: 1024,
            key_cache_ttl_secs: 300,
            s3_kms_key_id: None,
            scan_command: Vec::new(),
        }
    }
}

impl DocumentsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_bytes == 0 {
            return Err(ConfigError::new(
                "documents.max_bytes",
                "must be at least 1",
                "e.g. 67108864 (64 MiB)",
            ));
        }
        if !(1..=16384).contains(&self.chunk_kib) {
            return Err(ConfigError::new(
                "documents.chunk_kib",
                "must be between 1 and 16384",
                "e.g. 64",
            ));
        }
        if self.allowed_types.is_empty()
            || self.allowed_types.iter().any(|t| {
                t.is_empty() || !t.contains('/') || t.contains(';') || *t != t.to_ascii_lowercase()
            })
        {
            return Err(ConfigError::new(
                "documents.allowed_types",
                "must list lower-case media types without parameters",
                "e.g. [\"application/pdf\", \"image/png\"]",
            ));
        }
        match self.key_provider.as_str() {
            "local" => {}
            "kms" if self.kms_key_id.is_some() => {}
            "kms" => {
                return Err(ConfigError::new(
                    "documents.kms_key_id",
                    "key_provider = \"kms\" needs the KMS key that wraps document keys",
                    "set documents.kms_key_id to the key id or ARN",
                ))
            }
            _ => {
                return Err(ConfigError::new(
                    "documents.key_provider",
                    "must be \"local\" or \"kms\"",
                    "e.g. \"local\"",
                ))
            }
        }
        if let Some(to) = &self.to {
            if to.starts_with("s3://") {
                hippo_store::export::S3Url::parse(to).map_err(|e| {
                    ConfigError::new("documents.to", e.to_string(), "e.g. s3://bucket/documents")
                })?;
            } else if !Path::new(to).is_absolute() {
                return Err(ConfigError::new(
                    "documents.to",
                    "must be an absolute directory or s3://bucket/prefix",
                    "e.g. /var/lib/hippo/documents",
                ));
            }
        }
        Ok(())
    }
}
