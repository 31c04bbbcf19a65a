//! Integrity on read, on both stores: a record version altered in the database (behind the
//! store's back) is reported by id and version, never returned, and never makes the tenant's
//! other records unavailable; the operator's scan finds it; a new version repairs it; and a body
//! stored by the previous release (whose canonical text came from an inexact float parse)
//! still verifies.

use hippo_core::{Action, Actor, AuditDraft, LogId, RecordFilter, RecordInput, TenantId};
use hippo_store::{AuditQuery, PgSettings, PgStore, SqliteStore, Store, StoreError};
use hippo_testkit::pg::TestDatabase;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A store under test, and how to rewrite one stored version's body and hash behind its back.
enum Backend {
    Sqlite {
        store: Arc<SqliteStore>,
        _dir: tempfile::TempDir,
    },
    Postgres(Arc<PgStore>, TestDatabase),
}

impl Backend {
    fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite { store, .. } => store.clone(),
            Backend::Postgres(s, _) => s.clone(),
        }
    }

    /// Sets the stored body text (and, if given, its stored hash) of one version.
    async fn rewrite(&self, t: &TenantId, id: &str, version: i64, body: &str, sha: Option<&str>) {
        match self {
            Backend::Sqlite { store, .. } => {
                let c = store.raw_connection(Some(t)).unwrap();
                c.execute_batch("DROP TRIGGER IF EXISTS record_versions_no_update")
                    .unwrap();
                c.execute(
                    "UPDATE record_versions SET body = ?1, body_sha256 = COALESCE(?2, body_sha256) WHERE record_id = ?3 AND version = ?4",
                    rusqlite::params![body, sha, id, version],
                )
                .unwrap();
            }
            Backend::Postgres(_, db) => {
                let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
                let sha = sha.map(quote).unwrap_or_else(|| "body_sha256".into());
                db.run(&format!(
                    "ALTER TABLE hippo.record_versions DISABLE TRIGGER record_versions_immutable;
                     UPDATE hippo.record_versions SET body = {}, body_sha256 = {sha}
                       WHERE tenant_id = {} AND record_id = {} AND version = {version};
                     ALTER TABLE hippo.record_versions ENABLE TRIGGER record_versions_immutable;",
                    quote(body),
                    quote(t.as_str()),
                    quote(id),
                ))
                .await;
            }
        }
    }
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(&dir.path().join("data")).unwrap();
    Backend::Sqlite {
        store: Arc::new(store),
        _dir: dir,
    }
}

async fn postgres(test: &str) -> Option<Backend> {
    let db = TestDatabase::create(test).await?;
    let keys = hippo_store::keyring::LedgerKeys {
        signing: hippo_audit::tree_head::AuditSigningKey::from_seed(&[7; 32]),
        redaction_root: hippo_store::keyring::DataKey::new([9; 32]),
    };
    let store = PgStore::connect(&db.url, PgSettings::default(), keys)
        .await
        .unwrap();
    Some(Backend::Postgres(Arc::new(store), db))
}

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let b = super::sqlite();
                    super::$name(&b).await;
                    b.store().shutdown().await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(b) = super::postgres(stringify!($name)).await else { return };
                    super::$name(&b).await;
                    b.store().shutdown().await;
                }
            )*
        }
    };
}

both_stores!(
    a_corrupt_record_is_reported_and_leaves_the_rest_available,
    a_body_stored_by_the_previous_release_still_verifies,
);

fn draft(t: &TenantId, action: Action) -> AuditDraft {
    AuditDraft::new(Some(t.clone()), Actor::operator(), action, "integrity")
}

fn input(body: serde_json::Value) -> RecordInput {
    RecordInput {
        record_type: "Observation".into(),
        subject: Some("p-1".into()),
        labels: vec![],
        body: body.as_object().unwrap().clone(),
    }
}

async fn tenant(store: &Arc<dyn Store>) -> TenantId {
    let t: TenantId = "clinic".parse().unwrap();
    let d = AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "integrity");
    store.create_tenant(&t, d).await.unwrap();
    t
}

async fn a_corrupt_record_is_reported_and_leaves_the_rest_available(b: &Backend) {
    let store = b.store();
    let t = tenant(&store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = store
            .create_record(
                &t,
                input(json!({"n": i})),
                "k",
                draft(&t, Action::RecordCreate),
            )
            .await
            .unwrap();
        ids.push(r.id);
    }
    let bad = ids[2];
    let forged = format!(r#"{{"n":"{}"}}"#, hippo_testkit::CANARY);
    b.rewrite(&t, &bad.to_string(), 1, &forged, None).await;

    // The list answers, with the four intact records and the damaged one reported by id only.
    let page = store
        .list_records(
            &t,
            RecordFilter::default(),
            None,
            100,
            draft(&t, Action::RecordList),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 4);
    assert!(page.items.iter().all(|r| r.id != bad));
    assert_eq!(page.unreadable.len(), 1);
    assert_eq!(
        (page.unreadable[0].id, page.unreadable[0].version),
        (bad, 1)
    );
    // Paging across the damaged record loses nothing.
    let first = store
        .list_records(
            &t,
            RecordFilter::default(),
            None,
            2,
            draft(&t, Action::RecordList),
        )
        .await
        .unwrap();
    let cursor = hippo_core::cursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
    let second = store
        .list_records(
            &t,
            RecordFilter::default(),
            Some(cursor.parse().unwrap()),
            2,
            draft(&t, Action::RecordList),
        )
        .await
        .unwrap();
    assert_eq!(second.items.len() + second.unreadable.len(), 2);
    assert_eq!(second.unreadable.len(), 1);

    // The others read as before; the damaged one is refused with its id, not its content.
    store
        .get_record(&t, ids[3], draft(&t, Action::RecordRead))
        .await
        .unwrap();
    let err = store
        .get_record(&t, bad, draft(&t, Action::RecordRead))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IntegrityFailed { id, version: 1 } if id == bad));
    assert!(!err.to_string().contains(hippo_testkit::CANARY));

    // The list's audit event names the failure; the failed read is audited as an error.
    let events = store
        .list_audit(
            &LogId::Tenant(t.clone()),
            AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            },
            draft(&t, Action::AuditRead),
        )
        .await
        .unwrap()
        .items;
    let list_event = events
        .iter()
        .find(|e| e.action == Action::RecordList)
        .unwrap();
    let failures = list_event.details["integrity_failures"].as_array().unwrap();
    assert_eq!(failures[0], json!(format!("{bad}@1")));
    assert!(events
        .iter()
        .any(|e| e.action == Action::RecordRead && e.details["reason"] == "integrity_failed"));

    // The operator's scan finds exactly that version, and is audited.
    let scan = store
        .verify_records(&t, None, 2, draft(&t, Action::RecordVerify))
        .await
        .unwrap();
    assert_eq!(scan.records_checked, 2);
    let mut failures = scan.failures;
    let mut after = scan.next;
    while let Some(a) = after {
        let s = store
            .verify_records(&t, Some(a), 2, draft(&t, Action::RecordVerify))
            .await
            .unwrap();
        failures.extend(s.failures);
        after = s.next;
    }
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0].id, failures[0].version), (bad, 1));

    // A new version repairs it: update reads only the damaged version's metadata.
    let fixed = store
        .update_record(
            &t,
            bad,
            1,
            input(json!({"n": 2})),
            "k",
            draft(&t, Action::RecordUpdate),
        )
        .await
        .unwrap();
    assert_eq!(fixed.version, 2);
    let page = store
        .list_records(
            &t,
            RecordFilter::default(),
            None,
            100,
            draft(&t, Action::RecordList),
        )
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.unreadable.len()), (5, 0));
}

/// The previous release parsed some floats inexactly and stored the canonical text printed from
/// the inexact value, hashing that text. Written here exactly as it did (text and hash), such a
/// version must still verify and read back unchanged.
async fn a_body_stored_by_the_previous_release_still_verifies(b: &Backend) {
    let store = b.store();
    let t = tenant(&store).await;
    let r = store
        .create_record(
            &t,
            input(json!({"x": 1})),
            "k",
            draft(&t, Action::RecordCreate),
        )
        .await
        .unwrap();
    // What the previous release stored for {"x":3.128205159193269e+60}.
    let old_text = r#"{"x":3.1282051591932688e+60}"#;
    let old_sha = hex::encode(Sha256::digest(old_text.as_bytes()));
    b.rewrite(&t, &r.id.to_string(), 1, old_text, Some(&old_sha))
        .await;
    let read = store
        .get_record(&t, r.id, draft(&t, Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(read.body_sha256, old_sha);
    assert_eq!(
        serde_json::to_string(&read.body).unwrap(),
        old_text,
        "the body reads back as it was stored"
    );
}
