//! One contract, two stores: every behaviour the server relies on, written once against
//! `Arc<dyn Store>` and run against the embedded store (SQLite in a temporary directory) and
//! against PostgreSQL (a fresh database per test on `HIPPO_TEST_DATABASE_URL` or the local
//! server; skipped, with a note, when there is none). This file holds the two-store runner and
//! the shared helpers; each area's behaviours are in their own module.

use hippo_audit::merkle;
use hippo_core::{
    Action, Actor, AuditDraft, LogId, Outcome, RecordFilter, RecordId, RecordInput, Role, TenantId,
};
use hippo_store::{AuditQuery, NewApiKey, PgSettings, PgStore, SqliteStore, Store, StoreError};
use hippo_testkit::pg::TestDatabase;
use serde_json::json;
use std::sync::Arc;

/// A store under test and whatever must live as long as it.
struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

fn sqlite() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Harness {
        store: Arc::new(SqliteStore::create(&data).unwrap()),
        _dir: Some(dir),
        _db: None,
    }
}

async fn postgres(test: &str) -> Option<Harness> {
    let db = TestDatabase::create(test).await?;
    let settings = PgSettings {
        max_connections: 8,
        ..PgSettings::default()
    };
    let store = PgStore::connect(&db.url, settings, ledger_keys())
        .await
        .unwrap();
    Some(Harness {
        store: Arc::new(store),
        _dir: None,
        _db: Some(db),
    })
}

/// Runs each named contract test of the calling module once per store, as
/// `<module>::sqlite_store::<name>` and `<module>::postgres_store::<name>`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = crate::sqlite();
                    super::$name(h.store.clone()).await;
                    h.store.shutdown().await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(h) = crate::postgres(stringify!($name)).await else { return };
                    super::$name(h.store.clone()).await;
                    h.store.shutdown().await;
                }
            )*
        }
    };
}

mod audit;
mod batches;
mod identity;
mod keys;
mod ledger;
mod records;
mod search;

fn now() -> i64 {
    hippo_core::time_fmt::now_millis()
}

fn tenant(s: &str) -> TenantId {
    s.parse().unwrap()
}

fn draft(t: Option<&TenantId>, action: Action) -> AuditDraft {
    AuditDraft::new(t.cloned(), Actor::operator(), action, "contract")
}

fn input(kind: &str, subject: &str, body: serde_json::Value) -> RecordInput {
    RecordInput {
        record_type: kind.into(),
        subject: Some(subject.into()),
        labels: vec!["intake".into()],
        body: body.as_object().unwrap().clone(),
    }
}

async fn with_tenant(store: &Arc<dyn Store>, name: &str) -> TenantId {
    let t = tenant(name);
    store
        .create_tenant(&t, draft(None, Action::TenantCreate))
        .await
        .unwrap();
    t
}

async fn log(store: &Arc<dyn Store>, t: Option<&TenantId>) -> Vec<hippo_core::AuditEvent> {
    let q = AuditQuery {
        limit: 10_000,
        ..AuditQuery::default()
    };
    // Read as the operator of the system log, so the read's own event lands elsewhere.
    store
        .list_audit(&LogId::of(t), q, draft(None, Action::AuditRead))
        .await
        .unwrap()
        .items
}

/// The same ledger keys for every store a test opens, as instances sharing a keyring have.
fn ledger_keys() -> hippo_store::keyring::LedgerKeys {
    hippo_store::keyring::LedgerKeys {
        signing: hippo_audit::tree_head::AuditSigningKey::from_seed(&[7; 32]),
        redaction_root: hippo_store::keyring::DataKey::new([9; 32]),
    }
}
