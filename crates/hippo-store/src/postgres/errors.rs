//! Maps PostgreSQL driver errors to store errors: lost or overloaded databases become
//! `Unavailable` (503, retry), the rest name a SQLSTATE and a constraint, never a value.

use crate::StoreError;

/// SQLSTATEs that mean "try again later" rather than "this request is wrong".
fn transient(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (e.g. too many connections)
        || code.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
        || matches!(code, "57014" | "40001" | "40P01" | "55P03") // timeout, serialization, deadlock, lock
}

/// A driver error as a store error. PostgreSQL's own messages can quote values (e.g. "invalid
/// input syntax ... \"<value>\""), so only the SQLSTATE, table and constraint are kept.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    let mapped = map(e);
    crate::stats::postgres_error(match mapped {
        StoreError::Unavailable(_) => crate::stats::DbErrorClass::Unavailable,
        _ => crate::stats::DbErrorClass::Refused,
    });
    mapped
}

fn map(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            let mut what = format!("postgres error {code}");
            if let Some(t) = d.table() {
                what.push_str(&format!(" on table {t}"));
            }
            if let Some(c) = d.constraint() {
                what.push_str(&format!(" (constraint {c})"));
            }
            if transient(&code) {
                StoreError::Unavailable(what)
            } else {
                StoreError::Database(what)
            }
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("database connection failed: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("database TLS failed: {e}")),
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(
            "no database connection could be had in time (is PostgreSQL reachable?)".into(),
        ),
        sqlx::Error::PoolClosed => StoreError::Unavailable("the database pool is closed".into()),
        // The stream ended mid-message or held garbage: the connection is gone, as far as
        // this call is concerned (the pool discards it).
        sqlx::Error::Protocol(_) => {
            StoreError::Unavailable("the database connection broke mid-conversation".into())
        }
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection worker stopped".into())
        }
        sqlx::Error::Configuration(_) => {
            StoreError::Database("the database connection settings are invalid".into())
        }
        sqlx::Error::RowNotFound => StoreError::Database("an expected row is missing".into()),
        sqlx::Error::ColumnDecode { index, .. } => {
            StoreError::Corrupt(format!("a stored value (column {index}) is malformed"))
        }
        other => StoreError::Database(format!("database driver error: {}", kind(&other))),
    }
}

/// The error of a failed audit write: `Unavailable` stays so (the database is gone), anything
/// else means the event itself was refused.
pub(crate) fn audit(e: sqlx::Error) -> StoreError {
    match db(e) {
        StoreError::Unavailable(m) => StoreError::Unavailable(m),
        other => StoreError::AuditFailed(other.to_string()),
    }
}

fn kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::TypeNotFound { .. } => "type not found",
        sqlx::Error::ColumnIndexOutOfBounds { .. } | sqlx::Error::ColumnNotFound(_) => "column",
        sqlx::Error::Decode(_) => "decode",
        sqlx::Error::Encode(_) => "encode",
        sqlx::Error::BeginFailed => "begin failed",
        _ => "other",
    }
}
