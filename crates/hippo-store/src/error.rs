//! Storage errors. Messages carry ids and reasons, never record contents or query values.

use hippo_core::RecordId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record {0} not found")]
    RecordNotFound(RecordId),
    #[error("record version {version} of {id} not found")]
    VersionNotFound { id: RecordId, version: i64 },
    #[error("version conflict: the record is at version {current}")]
    VersionConflict { current: i64 },
    #[error("a record's type cannot change; create a new record instead")]
    TypeChange,
    #[error("record {0} is deleted")]
    RecordDeleted(RecordId),
    #[error("tenant '{0}' does not exist; create it with `hippo tenant create {0}`")]
    TenantNotFound(String),
    #[error("tenant '{0}' already exists")]
    TenantExists(String),
    #[error("API key {0} not found")]
    ApiKeyNotFound(String),
    #[error("user {0} not found")]
    UserNotFound(String),
    #[error("a user with that name already exists; choose another name")]
    UserExists,
    #[error("the second factor is not in the state this step needs: {0}")]
    FactorState(&'static str),
    #[error("the audit event could not be written: {0}")]
    AuditFailed(String),
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("encryption key problem: {0}")]
    Crypto(String),
    #[error("{path}: {reason}")]
    Permissions { path: String, reason: String },
    #[error("database error: {0}")]
    Database(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Item `item` of a batch carries an idempotency key already used for a different record
    /// input, or used by an earlier item of the same batch.
    #[error("item {item} of the batch reuses an idempotency key for a different record")]
    IdempotencyKeyReused { item: usize },
    #[error("record {id} version {version} fails its integrity check (its stored body no longer matches its hash); `hippo records verify` lists every such version, and a new version written with PUT replaces it")]
    IntegrityFailed { id: RecordId, version: i64 },
}

impl StoreError {
    /// A stable reason code for audit details and problem types.
    pub fn reason(&self) -> &'static str {
        match self {
            StoreError::RecordNotFound(_) | StoreError::VersionNotFound { .. } => "not_found",
            StoreError::VersionConflict { .. } => "version_conflict",
            StoreError::RecordDeleted(_) => "deleted",
            StoreError::TypeChange => "type_change",
            StoreError::TenantNotFound(_) => "tenant_not_found",
            StoreError::TenantExists(_) => "tenant_exists",
            StoreError::ApiKeyNotFound(_) => "apikey_not_found",
            StoreError::UserNotFound(_) => "user_not_found",
            StoreError::UserExists => "user_exists",
            StoreError::FactorState(_) => "factor_state",
            StoreError::AuditFailed(_) => "audit_failed",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Crypto(_) => "crypto",
            StoreError::Permissions { .. } => "permissions",
            StoreError::Database(_) => "database",
            StoreError::Io { .. } => "io",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::IntegrityFailed { .. } => "integrity_failed",
            StoreError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLite messages name tables and constraints, never bound parameter values.
        StoreError::Database(e.to_string())
    }
}
