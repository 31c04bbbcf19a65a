//! Sinks for sealed audit batches: where `hippo audit export` and the background exporter put
//! the NDJSON batches and their manifests. A local directory (read-only files, atomic renames)
//! for the embedded default; S3 with Object Lock in compliance mode for production.
//!
//! The protocol is the same for every sink: a batch's data object is written first and its
//! manifest last, so a batch counts as exported only once its manifest exists. The resume
//! point of a log is therefore the highest `last_seq` among the manifests already in the sink,
//! which makes export idempotent and resumable after a crash at any point.

pub mod dir;
pub mod s3;

use crate::StoreError;
use async_trait::async_trait;

pub use dir::DirSink;
pub use s3::{Credentials, S3Options, S3Sink, S3Url, ServerSideEncryption};

/// Errors of an export sink. Messages name objects and HTTP statuses, never credentials,
/// signed URLs or event contents.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("export destination: {0}")]
    Config(String),
    #[error("S3 {op} of {key} failed with HTTP {status}{code}")]
    S3Status {
        op: &'static str,
        key: String,
        status: u16,
        /// The S3 error code (e.g. ` (AccessDenied)`), or empty.
        code: String,
    },
    #[error("S3 {op} of {key} failed: {reason}")]
    S3Transport {
        op: &'static str,
        key: String,
        reason: String,
    },
    /// Another instance (or `hippo audit export`) is exporting this log right now.
    #[error("another exporter is writing log {0} right now; it resumes where that one stops")]
    Busy(String),
    /// Only raised by test sinks that simulate a crash.
    #[error("export interrupted: {0}")]
    Interrupted(String),
}

impl ExportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ExportError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// The error as a [`StoreError`], for callers of the older directory-only API.
    pub fn into_store_error(self) -> StoreError {
        match self {
            ExportError::Store(e) => e,
            ExportError::Io { path, source } => StoreError::Io { path, source },
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// What a sealed object is: its kind decides the content type and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Newline-delimited canonical events of one batch.
    Events,
    /// The batch's manifest (the commit point of the batch).
    Manifest,
}

impl ObjectKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ObjectKind::Events => "application/x-ndjson",
            ObjectKind::Manifest => "application/json",
        }
    }
}

/// A destination for sealed audit batches, one namespace per log id.
#[async_trait]
pub trait ExportSink: Send + Sync {
    /// Where the sink writes, for messages (never carries credentials).
    fn describe(&self) -> String;

    /// The last sequence number of `log_id` already sealed in the sink (0 if none), derived
    /// from the manifests it holds: export resumes after it.
    async fn exported_through(&self, log_id: &str) -> Result<u64, ExportError>;

    /// Writes one sealed object `name` of `log_id`, immutable until `retain_until` (RFC 3339)
    /// where the sink can enforce it. Writing a name again (a data object left by a run that
    /// crashed before its manifest) must succeed and leave the new bytes readable.
    async fn put_sealed(
        &self,
        log_id: &str,
        name: &str,
        kind: ObjectKind,
        bytes: &[u8],
        retain_until: &str,
    ) -> Result<(), ExportError>;

    /// The names of `log_id`'s objects (base names, sorted): for checking a database against
    /// what was exported from it.
    async fn names(&self, log_id: &str) -> Result<Vec<String>, ExportError>;

    /// The bytes of `log_id`'s object `name`.
    async fn read(&self, log_id: &str, name: &str) -> Result<Vec<u8>, ExportError>;
}

/// The stem of the objects of the batch `first..=last`.
pub fn batch_stem(first: u64, last: u64) -> String {
    format!("batch-{first:012}-{last:012}")
}

/// The last sequence number covered by a manifest object called `name` (its base name, or a
/// key ending in it), or `None` if it is not a manifest.
pub fn manifest_last_seq(name: &str) -> Option<u64> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let range = base
        .strip_prefix("batch-")?
        .strip_suffix(".manifest.json")?;
    let (first, last) = range.split_once('-')?;
    first.parse::<u64>().ok()?;
    last.parse::<u64>().ok()
}

/// Opens the sink named by `target`: `s3://bucket/prefix` for S3 (with `s3`'s endpoint,
/// region and encryption settings and credentials from the standard AWS environment
/// variables), anything else is a local directory.
pub fn open_sink(target: &str, s3: &S3Options) -> Result<Box<dyn ExportSink>, ExportError> {
    if target.starts_with("s3://") {
        let url = S3Url::parse(target)?;
        Ok(Box::new(S3Sink::new(url, s3.clone())?))
    } else if target.contains("://") {
        Err(ExportError::Config(format!(
            "unsupported scheme in {target:?}; use s3://bucket/prefix or a directory path"
        )))
    } else {
        Ok(Box::new(DirSink::new(target)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_parse() {
        assert_eq!(
            manifest_last_seq("batch-000000000001-000000000005.manifest.json"),
            Some(5)
        );
        assert_eq!(
            manifest_last_seq("audit/default/batch-000000000006-000000000010.manifest.json"),
            Some(10)
        );
        assert_eq!(
            manifest_last_seq("batch-000000000001-000000000005.ndjson"),
            None
        );
        assert_eq!(manifest_last_seq("batch-x-5.manifest.json"), None);
        assert_eq!(
            manifest_last_seq(&format!("{}.manifest.json", batch_stem(1, 5))),
            Some(5)
        );
    }

    #[test]
    fn open_sink_dispatches_on_scheme() {
        let opts = S3Options::default();
        assert!(open_sink("ftp://x/y", &opts).is_err());
        assert!(open_sink("/tmp/somewhere", &opts)
            .unwrap()
            .describe()
            .contains("/tmp/somewhere"));
    }
}
