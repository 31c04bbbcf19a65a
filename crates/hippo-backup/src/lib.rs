//! Continuous backup of Hippo's embedded store and everything that reads it back.
//!
//! - [`manifest`]: what each shipped object is, its place in a signed hash chain (pure);
//! - [`seal`]: journal batches sealed under a key derived from their database's key (pure);
//! - [`sink`]: directories and S3 (SSE-KMS, Object Lock) behind one interface;
//! - [`ship`]: the background shipper `hippo serve` runs (bases, batches, journal pruning);
//! - [`inventory`]: a sink's backups read and checked (signatures, chains, objects);
//! - [`restore`]: point-in-time restore into a staging directory, then checked end to end;
//! - [`retention`]: which generations a policy keeps (pure).
//!
//! The SQLite mechanics (snapshots, the journal, applying rows) are the store's own, in
//! `hippo_store::sqlite::backup`.

pub mod inventory;
pub mod manifest;
pub mod restore;
pub mod retention;
pub mod seal;
pub mod ship;
pub mod sink;

pub use sink::BackupSink;

/// Errors of backup and restore. Messages name objects, databases and keys' fingerprints,
/// never content.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] hippo_store::StoreError),
    #[error("backup sink: {0}")]
    Sink(String),
    #[error("backup configuration: {0}")]
    Config(String),
    /// A backup object failed a check: the first bad object is named.
    #[error("{object}: {reason}")]
    Refused { object: String, reason: String },
    #[error("{0}")]
    Restore(String),
}

impl BackupError {
    pub fn refused(object: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        BackupError::Refused {
            object: object.into(),
            reason: reason.to_string(),
        }
    }
}
