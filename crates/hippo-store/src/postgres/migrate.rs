//! Embedded schema migrations, applied in one transaction under an advisory lock, so several
//! instances starting at once apply each migration exactly once (one applies, the others wait).

use crate::StoreError;
use sqlx::PgPool;

/// The migrations, in order; version = position + 1. Never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_ledger.sql"),
    include_str!("migrations/003_chunks.sql"),
    include_str!("migrations/004_people.sql"),
    include_str!("migrations/005_passkeys.sql"),
    include_str!("migrations/006_search.sql"),
    include_str!("migrations/007_search_key.sql"),
    include_str!("migrations/008_idempotency.sql"),
    include_str!("migrations/009_audit_browse.sql"),
];

/// Arbitrary, fixed key of the migration lock ("hippo" in ASCII).
const LOCK_KEY: i64 = 0x0068_6970_706f;

/// Brings the schema up to date; refuses a schema newer than this binary.
pub(crate) async fn apply(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(super::errors::db)?;
    // Held until commit: a second instance blocks here, then finds everything applied.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(super::errors::db)?;
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS hippo;
         CREATE TABLE IF NOT EXISTS hippo.schema_migrations (
             version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL);",
    )
    .execute(&mut *tx)
    .await
    .map_err(ddl)?;
    let current: i32 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM hippo.schema_migrations")
            .fetch_one(&mut *tx)
            .await
            .map_err(super::errors::db)?;
    if current as usize > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database schema is version {current}, newer than this hippo ({}); upgrade hippo",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Database(format!("migration {version} failed: {}", ddl(e))))?;
        sqlx::query("INSERT INTO hippo.schema_migrations (version, applied_at_ms) VALUES ($1, $2)")
            .bind(version)
            .bind(hippo_core::time_fmt::now_millis())
            .execute(&mut *tx)
            .await
            .map_err(super::errors::db)?;
    }
    tx.commit().await.map_err(super::errors::db)
}

/// Schema statements carry no data, so PostgreSQL's full message is safe and useful here.
fn ddl(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) => StoreError::Database(format!(
            "{} ({})",
            d.message(),
            d.code().unwrap_or_default()
        )),
        other => super::errors::db(other),
    }
}
