//! Error types of the checker.

use std::path::PathBuf;

/// Errors that stop a scan (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("usage error: {0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid baseline {path}: {msg}")]
    Baseline { path: PathBuf, msg: String },
    #[error("custom rule error: {0}")]
    Rego(String),
}

/// A file that could not be parsed: always reported, never skipped.
#[derive(Debug, Clone, serde::Serialize, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: u32,
    pub message: String,
}
