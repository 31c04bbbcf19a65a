//! Storage mechanics of backup on the embedded store: consistent snapshots of a database file
//! (still SQLCipher pages under the database's own key), the journal of primary rows appended
//! since, applying shipped rows to a restored copy (re-deriving current records, the compact
//! audit tree and the search index), and checking a restored database end to end.
//!
//! What to ship, when, where and how it is sealed and signed is `hippo-backup`'s business;
//! this module only reads and writes SQLite.

mod check;
mod journal;

pub use check::{check, DbCheck};
pub use journal::{apply_rows, prune_journal, read_journal, reset_journal, whole_jobs, JournalRow};
pub(crate) use journal::{note, Noted};

use super::{audit, catalog, conn};
use crate::keyring::{DataKey, Keyring};
use crate::StoreError;
use hippo_core::{LogId, TenantId};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a data directory keeps its databases.
#[derive(Debug, Clone)]
pub struct Layout {
    pub data_dir: PathBuf,
}

impl Layout {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
        }
    }
    pub fn catalog_db(&self) -> PathBuf {
        self.data_dir.join(super::CATALOG_DB)
    }
    pub fn catalog_key(&self) -> PathBuf {
        self.data_dir.join(super::CATALOG_KEY)
    }
    pub fn tenants_dir(&self) -> PathBuf {
        self.data_dir.join(super::TENANTS_DIR)
    }
    pub fn tenant_db(&self, id: &TenantId) -> PathBuf {
        self.tenants_dir().join(format!("{id}.db"))
    }
    /// The database file of `log`.
    pub fn db(&self, log: &LogId) -> PathBuf {
        match log {
            LogId::System => self.catalog_db(),
            LogId::Tenant(t) => self.tenant_db(t),
        }
    }
}

/// One database of a data directory, with the key that opens it.
pub struct DbSource {
    pub log: LogId,
    pub path: PathBuf,
    key: DataKey,
}

impl DbSource {
    pub fn new(log: LogId, path: PathBuf, key: DataKey) -> Self {
        Self { log, path, key }
    }

    /// The database's data key (for sealing what is shipped from it: see `hippo-backup`).
    pub fn key(&self) -> &DataKey {
        &self.key
    }

    pub fn connect(&self) -> Result<Connection, StoreError> {
        conn::open(&self.path, &self.key, false)
    }

    /// Creates a new, empty file at `path` keyed like this database (for restoring into).
    pub fn create_at(&self, path: &Path) -> Result<Connection, StoreError> {
        conn::open(path, &self.key, true)
    }
}

/// The catalog's data key, from its wrapped form (the `catalog.key` file).
pub fn catalog_key(keyring: &Keyring, wrapped: &[u8]) -> Result<DataKey, StoreError> {
    keyring.unwrap(super::CATALOG_LABEL, wrapped)
}

/// Every tenant of a catalog with its data key.
pub fn tenant_keys(
    keyring: &Keyring,
    catalog_conn: &Connection,
) -> Result<Vec<(TenantId, DataKey)>, StoreError> {
    catalog::list_tenants(catalog_conn)?
        .into_iter()
        .map(|t| {
            let wrapped = catalog::wrapped_key(catalog_conn, &t.id)?;
            let key = keyring.unwrap(&super::SqliteStore::tenant_label(&t.id), &wrapped)?;
            Ok((t.id, key))
        })
        .collect()
}

/// Every database of the data directory at `layout`: the catalog first, then each tenant.
pub fn sources(layout: &Layout, keyring: &Keyring) -> Result<Vec<DbSource>, StoreError> {
    let wrapped = std::fs::read(layout.catalog_key())
        .map_err(|e| StoreError::io(&layout.catalog_key(), e))?;
    let catalog = DbSource::new(
        LogId::System,
        layout.catalog_db(),
        catalog_key(keyring, &wrapped)?,
    );
    let c = catalog.connect()?;
    let tenants = tenant_keys(keyring, &c)?;
    drop(c);
    let mut out = vec![catalog];
    for (id, key) in tenants {
        out.push(DbSource::new(
            LogId::Tenant(id.clone()),
            layout.tenant_db(&id),
            key,
        ));
    }
    Ok(out)
}

/// Where a database stands: what a snapshot or a batch brings it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbPosition {
    /// The highest journal id included (0 for a database without a journal: the catalog).
    pub journal: i64,
    /// The audit tree's size and root (hex) at this position.
    pub audit_size: u64,
    pub audit_root: String,
    /// The newest audit event's time (0 if none): the moment this position reflects.
    pub newest_event_ms: i64,
    /// The newest signed tree head (its JSON), if any.
    pub tree_head: Option<String>,
}

pub(super) fn has_journal(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'backup_journal'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The position of `conn`'s database (read in the caller's transaction, if any).
pub fn position(conn: &Connection) -> Result<DbPosition, StoreError> {
    let journal = if has_journal(conn)? {
        conn.query_row(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'backup_journal'), 0)",
            [],
            |r| r.get(0),
        )?
    } else {
        0
    };
    let tree = audit::load_tree(conn)?;
    let newest_event_ms = conn.query_row(
        "SELECT coalesce(max(time_ms), 0) FROM audit_events",
        [],
        |r| r.get(0),
    )?;
    let tree_head = audit::tree_heads(conn)?.pop().map(|h| h.to_json());
    Ok(DbPosition {
        journal,
        audit_size: tree.size(),
        audit_root: hex::encode(tree.root()),
        newest_event_ms,
        tree_head,
    })
}

/// Copies the database into a new file at `dest` (same key, so the copy is the same SQLCipher
/// pages a restore can use as they are) in one read transaction: a consistent state, taken
/// without blocking the writer (WAL readers do not block it). Returns the copy's position,
/// read from the copy itself so it describes exactly what was copied.
pub fn snapshot(source: &DbSource, dest: &Path) -> Result<DbPosition, StoreError> {
    let src = source.connect()?;
    if dest.exists() {
        std::fs::remove_file(dest).map_err(|e| StoreError::io(dest, e))?;
    }
    let mut dst = source.create_at(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // One step of every page: a single read transaction on the source, so a busy writer
        // cannot make the copy restart.
        backup.step(-1)?;
    }
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let pos = position(&dst)?;
    drop(dst);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dest.display()));
    }
    Ok(pos)
}
