//! Direct access to a test server's storage, past the server and its immutability triggers, for
//! the tests that must inspect, damage or break it: each operation is written once here for
//! both stores (an SQLite database per log, or the rows of the log in PostgreSQL), so a tamper
//! or fault-injection scenario reads the same on either.

use crate::{StoreKind, TestServer};
use hippo_core::LogId;
use hippo_store::{PgSettings, PgStore, SqliteStore, Store};
use std::sync::Arc;

/// A change to an audit log made directly in storage, as an insider with database access would.
#[derive(Clone, Copy, Debug)]
pub enum Tamper {
    /// Sets the outcome of event `seq` to `denied`.
    AlterOutcome(i64),
    /// Deletes event `seq`.
    Delete(i64),
    /// Appends a copy of event `seq` after the last event.
    DuplicateAtEnd(i64),
    /// Exchanges the sequence numbers of two events.
    Swap(i64, i64),
    /// Rewrites history consistently: removes every event after `seq`, every stored signed
    /// tree head, and resets the stored tree, so that only a head kept outside can tell.
    TruncateAfter(i64),
}

/// The columns of an audit event in both stores (PostgreSQL adds `log_id`), in table order.
const EVENT_COLUMNS: &str = "time_ms, tenant, actor_id, actor_kind, action, resource_type, \
    resource_id, subject_id, outcome, request_id, source_addr, user_agent, details, labels, leaf_hash";

impl Tamper {
    /// The statements for an SQLite log database (one log per database, so no log filter).
    fn sqlite(self) -> String {
        let triggers = "DROP TRIGGER IF EXISTS audit_events_no_update; \
                        DROP TRIGGER IF EXISTS audit_events_no_delete;";
        let change = match self {
            Tamper::AlterOutcome(seq) => {
                format!("UPDATE audit_events SET outcome = 'denied' WHERE seq = {seq};")
            }
            Tamper::Delete(seq) => format!("DELETE FROM audit_events WHERE seq = {seq};"),
            Tamper::DuplicateAtEnd(seq) => format!(
                "INSERT INTO audit_events (seq, {EVENT_COLUMNS}) \
                 SELECT (SELECT MAX(seq) FROM audit_events) + 1, {EVENT_COLUMNS} \
                 FROM audit_events WHERE seq = {seq};"
            ),
            Tamper::Swap(a, b) => format!(
                "UPDATE audit_events SET seq = -1 WHERE seq = {a}; \
                 UPDATE audit_events SET seq = {a} WHERE seq = {b}; \
                 UPDATE audit_events SET seq = {b} WHERE seq = -1;"
            ),
            Tamper::TruncateAfter(seq) => format!(
                "DELETE FROM audit_events WHERE seq > {seq}; DELETE FROM tree_heads; \
                 UPDATE audit_tree SET size = 0, peaks = '[]';"
            ),
        };
        format!("{triggers} {change}")
    }

    /// The statements for PostgreSQL, where every log shares the tables; run as the superuser
    /// with triggers off (`session_replication_role = replica`).
    fn postgres(self, log: &str) -> String {
        let this = format!("log_id = '{log}'");
        let change = match self {
            Tamper::AlterOutcome(seq) => format!(
                "UPDATE hippo.audit_events SET outcome = 'denied' WHERE {this} AND seq = {seq};"
            ),
            Tamper::Delete(seq) => {
                format!("DELETE FROM hippo.audit_events WHERE {this} AND seq = {seq};")
            }
            Tamper::DuplicateAtEnd(seq) => format!(
                "INSERT INTO hippo.audit_events (log_id, seq, {EVENT_COLUMNS}) \
                 SELECT log_id, (SELECT MAX(seq) + 1 FROM hippo.audit_events WHERE {this}), \
                 {EVENT_COLUMNS} FROM hippo.audit_events WHERE {this} AND seq = {seq};"
            ),
            Tamper::Swap(a, b) => format!(
                "UPDATE hippo.audit_events SET seq = -1 WHERE {this} AND seq = {a}; \
                 UPDATE hippo.audit_events SET seq = {a} WHERE {this} AND seq = {b}; \
                 UPDATE hippo.audit_events SET seq = {b} WHERE {this} AND seq = -1;"
            ),
            Tamper::TruncateAfter(seq) => format!(
                "DELETE FROM hippo.audit_events WHERE {this} AND seq > {seq}; \
                 DELETE FROM hippo.tree_heads WHERE {this}; \
                 UPDATE hippo.audit_logs SET tree_size = 0, peaks = '[]', last_seq = {seq} \
                 WHERE {this};"
            ),
        };
        format!("SET session_replication_role = replica; {change}")
    }
}

impl TestServer {
    /// The store this server runs on.
    pub fn store(&self) -> StoreKind {
        if self.options.postgres_url.is_some() {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        }
    }

    /// A raw connection to a tenant's encrypted database (`None`: the catalog), for tests that
    /// must inspect or damage the embedded store's files directly. SQLite servers only.
    pub fn raw_db(&self, tenant: Option<&str>) -> rusqlite::Connection {
        assert_eq!(
            self.store(),
            StoreKind::Sqlite,
            "raw_db opens the embedded store's files; this server runs on PostgreSQL"
        );
        let store = SqliteStore::open(&self.data_dir).expect("store opens");
        let t = tenant.map(|t| t.parse::<hippo_core::TenantId>().expect("tenant id"));
        store.raw_connection(t.as_ref()).expect("raw connection")
    }

    /// The SQLite database holding `log`.
    fn log_db(&self, log: &LogId) -> rusqlite::Connection {
        self.raw_db(log.tenant().map(|t| t.as_str()))
    }

    /// Runs `sql` directly on this server's PostgreSQL database, as the superuser.
    async fn pg_run(&self, sql: &str) {
        let url = self
            .options
            .postgres_url
            .as_deref()
            .expect("a PostgreSQL server");
        crate::pg::run_on(url, sql).await;
    }

    /// Tampers with `log` directly in storage, past its immutability triggers.
    pub async fn tamper(&self, log: &LogId, tamper: Tamper) {
        match self.store() {
            StoreKind::Sqlite => self
                .log_db(log)
                .execute_batch(&tamper.sqlite())
                .unwrap_or_else(|e| panic!("{tamper:?}: {e}")),
            StoreKind::Postgres => self.pg_run(&tamper.postgres(log.as_str())).await,
        }
    }

    /// Makes every append to `log` fail in storage (as a full disk or a lost table would), until
    /// [`TestServer::restore_audit_writes`].
    pub async fn break_audit_writes(&self, log: &LogId) {
        match self.store() {
            StoreKind::Sqlite => self
                .log_db(log)
                .execute_batch(
                    "CREATE TRIGGER injected_fault BEFORE INSERT ON audit_events \
                     BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
                )
                .expect("fault injected"),
            StoreKind::Postgres => {
                self.pg_run(&format!(
                    "CREATE FUNCTION hippo.injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN RAISE EXCEPTION 'injected fault'; END $$;
                     CREATE TRIGGER injected_fault BEFORE INSERT ON hippo.audit_events
                     FOR EACH ROW WHEN (NEW.log_id = '{}')
                     EXECUTE FUNCTION hippo.injected_fault();",
                    log.as_str()
                ))
                .await
            }
        }
    }

    /// Undoes [`TestServer::break_audit_writes`].
    pub async fn restore_audit_writes(&self, log: &LogId) {
        match self.store() {
            StoreKind::Sqlite => self
                .log_db(log)
                .execute_batch("DROP TRIGGER injected_fault;")
                .expect("fault removed"),
            StoreKind::Postgres => {
                self.pg_run(
                    "DROP TRIGGER injected_fault ON hippo.audit_events; \
                     DROP FUNCTION hippo.injected_fault();",
                )
                .await
            }
        }
    }

    /// The stored rows of `log`, in sequence order: `columns` of each, as text (`None` for
    /// NULL; integers in decimal, blobs in hex), exactly as storage holds them.
    pub async fn audit_rows(&self, log: &LogId, columns: &[&str]) -> Vec<Vec<Option<String>>> {
        match self.store() {
            StoreKind::Sqlite => {
                let db = self.log_db(log);
                let sql = format!(
                    "SELECT {} FROM audit_events ORDER BY seq",
                    columns.join(", ")
                );
                let mut stmt = db.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let rows = stmt
                    .query_map([], |r| {
                        (0..columns.len()).map(|i| sqlite_text(r, i)).collect()
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.map(|r| r.expect("a row")).collect()
            }
            StoreKind::Postgres => {
                let cast: Vec<String> = columns.iter().map(|c| format!("{c}::text")).collect();
                let sql = format!(
                    "SELECT {} FROM hippo.audit_events WHERE log_id = '{}' ORDER BY seq",
                    cast.join(", "),
                    log.as_str()
                );
                let url = self.options.postgres_url.as_deref().expect("PostgreSQL");
                crate::pg::text_rows_on(url, &sql).await
            }
        }
    }

    /// Opens this server's store in the test process, as the CLI would (the server should be
    /// stopped first: the embedded store has one writer). Shut it down when done.
    pub async fn open_store(&self) -> Arc<dyn Store> {
        match &self.options.postgres_url {
            None => Arc::new(SqliteStore::open(&self.data_dir).expect("store opens")),
            Some(url) => {
                let keyring = self.keyring();
                let keys = keyring.ledger_keys().expect("ledger keys");
                Arc::new(
                    PgStore::connect(url, PgSettings::default(), keys)
                        .await
                        .expect("PostgreSQL store opens"),
                )
            }
        }
    }

    /// The keyring this server was started with: `HIPPO_KEYRING`, `HIPPO_KEYRING_FILE`, or
    /// its data directory's own.
    fn keyring(&self) -> hippo_store::Keyring {
        let given = |name: &str| {
            self.options
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(json) = given("HIPPO_KEYRING") {
            return hippo_store::Keyring::from_json(&json, "HIPPO_KEYRING").expect("keyring");
        }
        if let Some(path) = given("HIPPO_KEYRING_FILE") {
            return hippo_store::Keyring::load_file(std::path::Path::new(&path)).expect("keyring");
        }
        hippo_store::Keyring::load(&self.data_dir).expect("keyring")
    }
}

/// Column `i` of an SQLite row as text, whatever its storage class.
fn sqlite_text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
    })
}
