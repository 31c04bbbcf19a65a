//! One encrypted database: a group-commit writer plus a small pool of reader connections.

use super::audit::{DbLog, LogCtx};
use super::conn;
use super::search::DocFrequencies;
use super::writer::{JobResult, Writer};
use crate::keyring::DataKey;
use crate::StoreError;
use hippo_core::LogId;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Idle reader connections kept open; more are opened on demand and closed when returned.
const IDLE_READERS: usize = 8;

pub struct Db {
    log: Arc<DbLog>,
    path: PathBuf,
    key: DataKey,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// Phrase row counts for search ranking, made on the first search (so only tenant
    /// databases have one: the catalog is never searched).
    doc_frequencies: OnceLock<Arc<DocFrequencies>>,
}

impl Db {
    /// Opens the database (creating it if `create`), applies `migrations`, and starts its writer.
    pub fn open(
        path: &Path,
        key: DataKey,
        create: bool,
        migrations: &[&str],
        log: &LogId,
        settings: &super::SqliteSettings,
    ) -> Result<Self, StoreError> {
        let writer_conn = conn::open(path, &key, create)?;
        super::migrations::apply(&writer_conn, migrations)?;
        // The writer keeps a large cache of decrypted pages: it is the one connection whose
        // cache survives commits (in WAL mode a reader drops its whole cache whenever another
        // connection has committed, and every audited call commits), so reads that run in the
        // writer, searches above all, find their pages already decrypted.
        // (A negative cache_size is in KiB.)
        let kib = i64::from(settings.writer_cache_mib) * 1024;
        writer_conn.execute_batch(&format!("PRAGMA cache_size = -{kib};"))?;
        let ctx = DbLog::new(
            LogCtx::new(log, &key),
            super::backup::has_journal(&writer_conn)?,
        );
        Ok(Self {
            log: Arc::new(ctx),
            path: path.to_owned(),
            writer: Writer::start(log.to_string(), writer_conn)?,
            key,
            readers: Mutex::new(Vec::new()),
            doc_frequencies: OnceLock::new(),
        })
    }

    /// The file and the data key of this database (for continuous backup's own connections).
    pub(super) fn file(&self) -> (&Path, &DataKey) {
        (&self.path, &self.key)
    }

    /// This database's cache of phrase row counts, for search ranking.
    pub fn doc_frequencies(&self) -> Arc<DocFrequencies> {
        self.doc_frequencies.get_or_init(Arc::default).clone()
    }

    /// The audit log context (log id, redactor) of this database.
    pub fn log(&self) -> Arc<DbLog> {
        self.log.clone()
    }

    /// Runs `f` in the next group commit; returns once it is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> JobResult<T> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Runs `f` on a reader connection, off the async threads.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db.checkout()?;
            let result = f(&conn);
            db.checkin(conn);
            result
        })
        .await
        .map_err(|_| StoreError::Unavailable("a read task panicked".into()))?
    }

    /// Runs a short indexed read on the calling thread. For lookups of a few microseconds on
    /// the hot path (authentication), a thread hop would cost more than the query itself.
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.checkout()?;
        let result = f(&conn);
        self.checkin(conn);
        result
    }

    fn checkout(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.readers.lock().expect("reader pool lock").pop() {
            return Ok(c);
        }
        conn::open(&self.path, &self.key, false)
    }

    fn checkin(&self, conn: Connection) {
        let mut pool = self.readers.lock().expect("reader pool lock");
        if pool.len() < IDLE_READERS {
            pool.push(conn);
        }
    }

    /// Commits queued writes and closes every connection.
    pub fn close(&self) {
        self.writer.close();
        self.readers.lock().expect("reader pool lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_keeps_the_configured_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let settings = super::super::SqliteSettings {
            writer_cache_mib: 3,
        };
        let db = Db::open(
            &dir.path().join("t.db"),
            crate::Keyring::new_data_key().unwrap(),
            true,
            super::super::migrations::TENANT,
            &"t".parse::<LogId>().unwrap(),
            &settings,
        )
        .unwrap();
        let size: i64 = db
            .write(|c| Ok(Ok(c.query_row("PRAGMA cache_size", [], |r| r.get(0))?)))
            .await
            .unwrap();
        assert_eq!(size, -3 * 1024, "a negative cache_size is in KiB");
        db.close();
    }
}
