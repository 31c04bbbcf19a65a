//! Schema migrations, embedded in the binary and applied in order, tracked by `PRAGMA user_version`.

use crate::StoreError;
use rusqlite::Connection;

pub const CATALOG: &[&str] = &[
    include_str!("migrations/catalog_001_init.sql"),
    include_str!("migrations/catalog_002_chunks.sql"),
    include_str!("migrations/catalog_003_people.sql"),
    include_str!("migrations/catalog_004_passkeys.sql"),
    include_str!("migrations/catalog_005_audit_browse.sql"),
];
pub const TENANT: &[&str] = &[
    include_str!("migrations/tenant_001_init.sql"),
    include_str!("migrations/tenant_002_chunks.sql"),
    include_str!("migrations/tenant_003_search.sql"),
    include_str!("migrations/tenant_004_search_key.sql"),
    include_str!("migrations/tenant_005_idempotency.sql"),
    include_str!("migrations/tenant_006_backup_journal.sql"),
    include_str!("migrations/tenant_007_audit_browse.sql"),
    include_str!("migrations/tenant_008_journal_notes.sql"),
    include_str!("migrations/tenant_009_search_tokens.sql"),
];

/// Applies every migration newer than the database's `user_version`, each in its own
/// transaction. The version is read inside the write lock, so two processes opening the same
/// database at once apply each migration exactly once.
pub fn apply(conn: &Connection, migrations: &[&str]) -> Result<(), StoreError> {
    for (i, sql) in migrations.iter().enumerate() {
        let version = (i + 1) as i64;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let step = (|| {
            let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current > migrations.len() as i64 {
                return Err(StoreError::Database(format!(
                    "the database schema is version {current}, newer than this hippo ({}); upgrade hippo",
                    migrations.len()
                )));
            }
            if current < version {
                conn.execute_batch(sql).map_err(|e| {
                    StoreError::Database(format!("migration {version} failed: {e}"))
                })?;
                conn.execute_batch(&format!("PRAGMA user_version = {version}"))?;
            }
            Ok(())
        })();
        match step {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}
