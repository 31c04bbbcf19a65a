//! One contract, two stores: every behaviour the server relies on, written once against
//! `Arc<dyn Store>` and run against the embedded store (SQLite in a temporary directory) and
//! against PostgreSQL (a fresh database per test on `HIPPO_TEST_DATABASE_URL`; skipped, with a
//! note, when that is unset).

use hippo_audit::merkle;
use hippo_core::{
    Action, Actor, AuditDraft, LogId, Outcome, RecordFilter, RecordId, RecordInput, Role, TenantId,
};
use hippo_store::{
    ledger, AuditQuery, NewApiKey, PgSettings, PgStore, SqliteStore, Store, StoreError,
};
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

/// Runs each named contract test once per store.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = super::sqlite();
                    super::$name(h.store.clone()).await;
                    h.store.shutdown().await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(h) = super::postgres(stringify!($name)).await else { return };
                    super::$name(h.store.clone()).await;
                    h.store.shutdown().await;
                }
            )*
        }
    };
}

contract!(
    tenants_are_unique_and_listed,
    unknown_tenants_are_refused_before_anything_is_written,
    records_version_tombstone_and_history,
    stale_versions_and_type_changes_change_nothing,
    list_filters_and_keyset_pagination,
    tenants_cannot_see_each_others_records,
    every_call_writes_exactly_one_audit_event,
    events_without_a_tenant_go_to_the_system_log,
    audit_queries_filter_and_paginate,
    api_keys_authenticate_and_revoke,
    concurrent_writers_get_a_gap_free_audit_sequence,
    concurrent_updates_of_one_record_conflict_cleanly,
    every_event_is_a_leaf_of_the_signed_tree,
    subjects_and_sensitive_details_are_stored_as_keyed_hashes,
    job_locks_exclude_other_holders_until_released,
    proofs_over_many_chunks_verify_and_cache_chunk_roots,
);

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

async fn tenants_are_unique_and_listed(store: Arc<dyn Store>) {
    with_tenant(&store, "zeta").await;
    with_tenant(&store, "alpha").await;
    let again = store
        .create_tenant(&tenant("alpha"), draft(None, Action::TenantCreate))
        .await;
    assert!(
        matches!(again, Err(StoreError::TenantExists(_))),
        "{again:?}"
    );
    let names: Vec<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
}

async fn unknown_tenants_are_refused_before_anything_is_written(store: Arc<dyn Store>) {
    let ghost = tenant("ghost");
    let r = store
        .create_record(
            &ghost,
            input("Patient", "p", json!({})),
            "a",
            draft(Some(&ghost), Action::RecordCreate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
    let r = store
        .get_record(
            &ghost,
            RecordId::new(),
            draft(Some(&ghost), Action::RecordRead),
        )
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
    let key = NewApiKey {
        tenant: ghost.clone(),
        role: Role::Admin,
        name: "x".into(),
        minted: hippo_core::apikey::mint(&[1u8; hippo_core::apikey::RANDOM_BYTES]),
        created_by: "operator".into(),
    };
    let r = store
        .create_api_key(key, draft(Some(&ghost), Action::ApiKeyCreate))
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
}

async fn records_version_tombstone_and_history(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let v1 = store
        .create_record(
            &t,
            input("Patient", "p-1", json!({"name": "Ann", "n": 1.5})),
            "writer-1",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v1.deleted), (1, false));
    assert!(v1.body_intact());
    let got = store
        .get_record(&t, v1.id, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(got, v1, "a read returns exactly what was written");

    let v2 = store
        .update_record(
            &t,
            v1.id,
            1,
            input("Patient", "p-1", json!({"name": "Bea"})),
            "writer-2",
            d(Action::RecordUpdate),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        (v2.created_at_ms, v2.created_by.as_str()),
        (v1.created_at_ms, "writer-1")
    );
    assert_eq!(v2.updated_by, "writer-2");

    let tomb = store
        .delete_record(&t, v1.id, Some(2), "writer-3", d(Action::RecordDelete))
        .await
        .unwrap();
    assert_eq!((tomb.version, tomb.deleted), (3, true));
    assert!(tomb.body.is_empty());
    let r = store.get_record(&t, v1.id, d(Action::RecordRead)).await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");
    let r = store
        .delete_record(&t, v1.id, None, "w", d(Action::RecordDelete))
        .await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");
    let r = store
        .update_record(
            &t,
            v1.id,
            3,
            input("Patient", "p-1", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");

    let history = store
        .record_history(&t, v1.id, d(Action::RecordHistory))
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(history[0], v1);
    let old = store
        .get_record_version(&t, v1.id, 1, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(old.body["name"], "Ann");
    let r = store
        .get_record_version(&t, v1.id, 9, d(Action::RecordRead))
        .await;
    assert!(
        matches!(r, Err(StoreError::VersionNotFound { version: 9, .. })),
        "{r:?}"
    );
    let missing = RecordId::new();
    for r in [
        store.get_record(&t, missing, d(Action::RecordRead)).await,
        store
            .delete_record(&t, missing, None, "w", d(Action::RecordDelete))
            .await,
    ] {
        assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    }
    let r = store
        .record_history(&t, missing, d(Action::RecordHistory))
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
}

async fn stale_versions_and_type_changes_change_nothing(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let r = store
        .create_record(
            &t,
            input("Patient", "p", json!({"a": 1})),
            "w",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    let stale = store
        .update_record(
            &t,
            r.id,
            7,
            input("Patient", "p", json!({"a": 2})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict { current: 1 })),
        "{stale:?}"
    );
    let retyped = store
        .update_record(
            &t,
            r.id,
            1,
            input("Observation", "p", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(
        matches!(retyped, Err(StoreError::TypeChange)),
        "{retyped:?}"
    );
    let del = store
        .delete_record(&t, r.id, Some(5), "w", d(Action::RecordDelete))
        .await;
    assert!(
        matches!(del, Err(StoreError::VersionConflict { current: 1 })),
        "{del:?}"
    );
    let now = store
        .get_record(&t, r.id, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(now, r, "refused writes left the record as it was");
}

async fn list_filters_and_keyset_pagination(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let mut made = Vec::new();
    for i in 0..23 {
        let (kind, subject) = if i % 4 == 0 {
            ("Observation", "p-obs".to_owned())
        } else {
            ("Patient", format!("p-{i}"))
        };
        made.push(
            store
                .create_record(
                    &t,
                    input(kind, &subject, json!({"i": i})),
                    "w",
                    d(Action::RecordCreate),
                )
                .await
                .unwrap(),
        );
    }
    store
        .delete_record(&t, made[1].id, None, "w", d(Action::RecordDelete))
        .await
        .unwrap();
    let patients = RecordFilter {
        record_type: Some("Patient".into()),
        ..RecordFilter::default()
    };
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list_records(&t, patients.clone(), after, 5, d(Action::RecordList))
            .await
            .unwrap();
        assert!(page.items.len() <= 5);
        seen.extend(page.items.iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => after = Some(hippo_core::cursor::decode(&c).unwrap().parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<RecordId> = made
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 0 && *i != 1)
        .map(|(_, r)| r.id)
        .collect();
    assert_eq!(
        seen, expected,
        "creation order, no gaps, no repeats, no tombstones"
    );

    let with_deleted = RecordFilter {
        include_deleted: true,
        ..patients.clone()
    };
    let page = store
        .list_records(&t, with_deleted, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert_eq!(page.items.len(), expected.len() + 1);
    assert!(page.next_cursor.is_none());
    let by_subject = RecordFilter {
        subject: Some("p-obs".into()),
        ..RecordFilter::default()
    };
    let page = store
        .list_records(&t, by_subject, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 6);
    let future = RecordFilter {
        updated_since_ms: Some(i64::MAX / 2),
        ..RecordFilter::default()
    };
    let page = store
        .list_records(&t, future, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

async fn tenants_cannot_see_each_others_records(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let rec_b = store
        .create_record(
            &b,
            input("Patient", "b-1", json!({"x": 1})),
            "w",
            draft(Some(&b), Action::RecordCreate),
        )
        .await
        .unwrap();
    let da = |act| draft(Some(&a), act);
    let r = store.get_record(&a, rec_b.id, da(Action::RecordRead)).await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let r = store
        .update_record(
            &a,
            rec_b.id,
            1,
            input("Patient", "x", json!({})),
            "w",
            da(Action::RecordUpdate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let r = store
        .record_history(&a, rec_b.id, da(Action::RecordHistory))
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let page = store
        .list_records(
            &a,
            RecordFilter::default(),
            None,
            100,
            da(Action::RecordList),
        )
        .await
        .unwrap();
    assert!(page.items.is_empty());
    let still = store
        .get_record(&b, rec_b.id, draft(Some(&b), Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(still, rec_b);
    // Each tenant's log holds only its own events.
    assert!(log(&store, Some(&a))
        .await
        .iter()
        .all(|e| e.tenant.as_deref() == Some("clinic-a")));
}

async fn every_call_writes_exactly_one_audit_event(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let r = store
        .create_record(
            &t,
            input("Patient", "subj-9", json!({"n": 1})),
            "w",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    store
        .get_record(&t, r.id, d(Action::RecordRead))
        .await
        .unwrap();
    let _ = store
        .update_record(
            &t,
            r.id,
            9,
            input("Patient", "subj-9", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    let _ = store
        .get_record(&t, RecordId::new(), d(Action::RecordRead))
        .await;
    store
        .list_records(&t, RecordFilter::default(), None, 10, d(Action::RecordList))
        .await
        .unwrap();
    store
        .record_history(&t, r.id, d(Action::RecordHistory))
        .await
        .unwrap();
    let events = log(&store, Some(&t)).await;
    let summary: Vec<(i64, &str, Outcome)> = events
        .iter()
        .map(|e| (e.seq, e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "record.create", Outcome::Success),
            (2, "record.read", Outcome::Success),
            (3, "record.update", Outcome::Error),
            (4, "record.read", Outcome::Error),
            (5, "record.list", Outcome::Success),
            (6, "record.history", Outcome::Success),
        ]
    );
    assert_eq!(
        events[1].resource_id.as_deref(),
        Some(r.id.to_string().as_str())
    );
    assert_eq!(events[1].details["version"], 1);
    assert_eq!(events[2].details["reason"], "version_conflict");
    assert_eq!(events[3].details["reason"], "not_found");
    assert_eq!(events[5].details["versions"], 1);
    assert_eq!(events[0].tenant.as_deref(), Some("clinic"));
}

async fn events_without_a_tenant_go_to_the_system_log(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let mut failed = AuditDraft::new(None, Actor::anonymous(), Action::AuthFailed, "r-1");
    failed.failed(Outcome::Denied, "unknown_key");
    store.append_audit(failed).await.unwrap();
    // An event naming a tenant that does not exist cannot go to that tenant's log.
    let ghost = AuditDraft::new(
        Some(tenant("ghost")),
        Actor::anonymous(),
        Action::AuthFailed,
        "r-2",
    );
    store.append_audit(ghost).await.unwrap();
    let tenant_event = AuditDraft::new(
        Some(t.clone()),
        Actor::anonymous(),
        Action::RecordRead,
        "r-3",
    );
    assert_eq!(store.append_audit(tenant_event).await.unwrap(), 1);
    let system = log(&store, None).await;
    let actions: Vec<&str> = system.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["tenant.create", "auth.failed", "auth.failed"]);
    assert_eq!(
        system.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(system[2].tenant.as_deref(), Some("ghost"));
    let own = log(&store, Some(&t)).await;
    assert_eq!(own.len(), 1);
}

async fn audit_queries_filter_and_paginate(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    for i in 0..7 {
        store
            .create_record(
                &t,
                input("Patient", &format!("s-{}", i % 2), json!({})),
                "w",
                d(Action::RecordCreate),
            )
            .await
            .unwrap();
    }
    let _ = store
        .get_record(&t, RecordId::new(), d(Action::RecordRead))
        .await;
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let auditor = || draft(Some(&t), Action::AuditRead);
    let page = store
        .list_audit(
            &LogId::Tenant(t.clone()),
            q(|q| q.outcome = Some(Outcome::Error)),
            auditor(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let page = store
        .list_audit(
            &LogId::Tenant(t.clone()),
            q(|q| q.action = Some("record.create".into())),
            auditor(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 7);
    // Pages of 3 over the whole log: dense, ordered, nothing repeated.
    let (mut seqs, mut after) = (Vec::new(), None);
    loop {
        let query = AuditQuery {
            limit: 3,
            after_seq: after,
            ..AuditQuery::default()
        };
        let page = store
            .list_audit(&LogId::Tenant(t.clone()), query, auditor())
            .await
            .unwrap();
        seqs.extend(page.items.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => after = Some(hippo_core::cursor::decode(&c).unwrap().parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert!(
        seqs.len() >= 10,
        "the audit reads themselves are in the log too"
    );
}

async fn api_keys_authenticate_and_revoke(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let minted = hippo_core::apikey::mint(&[7u8; hippo_core::apikey::RANDOM_BYTES]);
    let key = NewApiKey {
        tenant: a.clone(),
        role: Role::Writer,
        name: "etl".into(),
        minted: minted.clone(),
        created_by: "operator".into(),
    };
    let info = store
        .create_api_key(key, draft(Some(&a), Action::ApiKeyCreate))
        .await
        .unwrap();
    let p = store
        .authenticate(&minted.key_id, &minted.secret_hash)
        .await
        .unwrap()
        .expect("the key authenticates");
    assert_eq!(
        (p.tenant.clone(), p.role, p.id.clone()),
        (a.clone(), Role::Writer, info.principal_id.clone())
    );
    let mut wrong = minted.secret_hash;
    wrong[0] ^= 1;
    assert!(store
        .authenticate(&minted.key_id, &wrong)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .authenticate("0000000000000000", &minted.secret_hash)
        .await
        .unwrap()
        .is_none());

    let listed = store
        .list_api_keys(Some(&a), draft(Some(&a), Action::ApiKeyList))
        .await
        .unwrap();
    assert_eq!(listed, vec![info.clone()]);
    assert!(store
        .list_api_keys(Some(&b), draft(Some(&b), Action::ApiKeyList))
        .await
        .unwrap()
        .is_empty());
    let r = store
        .revoke_api_key(
            Some(&b),
            &minted.key_id,
            draft(Some(&b), Action::ApiKeyRevoke),
        )
        .await;
    assert!(matches!(r, Err(StoreError::ApiKeyNotFound(_))), "{r:?}");
    let revoked = store
        .revoke_api_key(None, &minted.key_id, draft(None, Action::ApiKeyRevoke))
        .await
        .unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert!(store
        .authenticate(&minted.key_id, &minted.secret_hash)
        .await
        .unwrap()
        .is_none());
    // Access changes are audited in the system log, tagged with their tenant.
    let system = log(&store, None).await;
    let actions: Vec<(&str, Option<&str>, Outcome)> = system
        .iter()
        .filter(|e| e.resource_type == "apikey")
        .map(|e| (e.action.as_str(), e.tenant.as_deref(), e.outcome))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("apikey.create", Some("clinic-a"), Outcome::Success),
            ("apikey.list", Some("clinic-a"), Outcome::Success),
            ("apikey.list", Some("clinic-b"), Outcome::Success),
            ("apikey.revoke", Some("clinic-b"), Outcome::Error),
            ("apikey.revoke", None, Outcome::Success),
        ]
    );
}

async fn concurrent_writers_get_a_gap_free_audit_sequence(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .create_record(
                        &t,
                        input("Observation", &format!("w{w}"), json!({"i": i})),
                        "w",
                        draft(Some(&t), Action::RecordCreate),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = log(&store, Some(&t)).await;
    assert_eq!(events.len(), 200);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    // However the commits interleaved, the tree holds every event once, in sequence order.
    let (size, root) = store.tree_state(&LogId::Tenant(t.clone())).await.unwrap();
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 10_000)
        .await
        .unwrap();
    assert_eq!(size as usize, leaves.len());
    let hashes: Vec<_> = leaves.iter().map(|l| l.leaf_hash).collect();
    assert_eq!(merkle::root_from_leaf_hashes(&hashes), root);
}

async fn every_event_is_a_leaf_of_the_signed_tree(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let empty = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap();
    assert_eq!(empty.head.tree_size, 0);
    for i in 0..5 {
        store
            .create_record(
                &t,
                input("Patient", &format!("p{i}"), json!({})),
                "w",
                draft(Some(&t), Action::RecordCreate),
            )
            .await
            .unwrap();
    }
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        leaves.iter().map(|l| l.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for l in &leaves {
        assert_eq!(
            merkle::leaf_hash(&l.canonical),
            l.leaf_hash,
            "event {}",
            l.seq
        );
    }
    let (size, root) = store.tree_state(&LogId::Tenant(t.clone())).await.unwrap();
    let hashes: Vec<_> = leaves.iter().map(|l| l.leaf_hash).collect();
    assert_eq!((size, root), (5, merkle::root_from_leaf_hashes(&hashes)));
    // Proofs read the hashes alone; a range past the log's end is an error, not a short answer.
    assert_eq!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 1, 5)
            .await
            .unwrap(),
        hashes
    );
    assert_eq!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 2, 3)
            .await
            .unwrap(),
        hashes[1..3].to_vec()
    );
    assert!(matches!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 4, 6)
            .await,
        Err(StoreError::Corrupt(_))
    ));

    let head = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap();
    let key = store.audit_public_key().unwrap();
    head.verify(&key).unwrap();
    assert_eq!((head.head.tree_size, head.head.root_hash), (5, root));
    assert_eq!(head.head.log_id, t.as_str());
    // Signing again without growth reuses the head; every head is kept, smallest first.
    assert_eq!(
        store
            .sign_tree_head(&LogId::Tenant(t.clone()))
            .await
            .unwrap(),
        head
    );
    let heads = store.tree_heads(&LogId::Tenant(t.clone())).await.unwrap();
    assert_eq!(
        heads.iter().map(|h| h.head.tree_size).collect::<Vec<_>>(),
        vec![0, 5]
    );
    assert_eq!(
        store
            .audit_leaves(&LogId::Tenant(t.clone()), 3, 1)
            .await
            .unwrap()[0]
            .seq,
        4
    );
    // The system log is a tree of its own.
    let sys = store.sign_tree_head(&LogId::System).await.unwrap();
    sys.verify(&key).unwrap();
    assert!(sys.head.tree_size >= 1);
    // One spelling of the system log on every store, and its heads verify under that name.
    assert_eq!(sys.head.log_id, ".system");
    let report = ledger::verify(store.as_ref(), &LogId::System, vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");
    let report = ledger::verify(store.as_ref(), &LogId::Tenant(t.clone()), vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");
}

async fn subjects_and_sensitive_details_are_stored_as_keyed_hashes(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let subject = "MRN-5550123";
    store
        .create_record(
            &t,
            input("Patient", subject, json!({})),
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    let mut search = draft(Some(&t), Action::RecordList);
    search.detail("query", "Jane Roe");
    store
        .list_records(
            &t,
            RecordFilter {
                subject: Some(subject.into()),
                ..RecordFilter::default()
            },
            None,
            10,
            search,
        )
        .await
        .unwrap();
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 100)
        .await
        .unwrap();
    for l in &leaves {
        let text = String::from_utf8_lossy(&l.canonical);
        assert!(
            !text.contains(subject) && !text.contains("Jane Roe"),
            "{text}"
        );
    }
    let events = log(&store, Some(&t)).await;
    let listed = events
        .iter()
        .find(|e| e.action == Action::RecordList)
        .unwrap();
    assert!(listed.labels.iter().any(|l| l == "sensitive_content"));
    assert!(listed.details["query"]["hmac"].is_string());
    // Queries by subject hash it the same way, so the accounting of disclosures still works.
    let q = AuditQuery {
        subject_id: Some(subject.into()),
        limit: 100,
        ..AuditQuery::default()
    };
    let found = store
        .list_audit(&LogId::Tenant(t.clone()), q, draft(None, Action::AuditRead))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 2, "the create and the search");
}

async fn concurrent_updates_of_one_record_conflict_cleanly(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let r = store
        .create_record(
            &t,
            input("Patient", "p", json!({})),
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            store
                .update_record(
                    &t,
                    r.id,
                    1,
                    input("Patient", "p", json!({"writer": i})),
                    "w",
                    draft(Some(&t), Action::RecordUpdate),
                )
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(rec) => {
                won += 1;
                assert_eq!(rec.version, 2);
            }
            Err(StoreError::VersionConflict { current: 2 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer of version 2");
}

/// The same ledger keys for every store a test opens, as instances sharing a keyring have.
async fn job_locks_exclude_other_holders_until_released(store: Arc<dyn Store>) {
    let held = store.try_exclusive("audit-export-default").await.unwrap();
    assert!(held.is_some(), "a free lock is taken");
    assert!(
        store
            .try_exclusive("audit-export-default")
            .await
            .unwrap()
            .is_none(),
        "a held lock is refused to a second holder"
    );
    let other = store.try_exclusive("audit-export-system").await.unwrap();
    assert!(other.is_some(), "locks of other names are independent");
    drop(held);
    let again = store.try_exclusive("audit-export-default").await.unwrap();
    assert!(again.is_some(), "a released lock can be taken again");
}

async fn proofs_over_many_chunks_verify_and_cache_chunk_roots(store: Arc<dyn Store>) {
    use hippo_store::{ledger, proofs::CHUNK};
    let t = with_tenant(&store, "clinic").await;
    let total = 3 * CHUNK + 37;
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        writers.push(tokio::spawn(async move {
            for _ in (w..total).step_by(8) {
                store
                    .append_audit(draft(Some(&t), Action::RecordRead))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mid = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap()
        .head;
    assert_eq!(mid.tree_size, total);
    assert!(store
        .audit_chunk_roots(&LogId::Tenant(t.clone()), 0, 10)
        .await
        .unwrap()
        .is_empty());
    let hex = |v: &[String]| -> Vec<merkle::Hash> {
        v.iter()
            .map(|h| merkle::hash_from_hex(h).unwrap())
            .collect()
    };
    for seq in [
        1,
        CHUNK as i64,
        CHUNK as i64 + 1,
        2 * CHUNK as i64 + 5,
        total as i64,
    ] {
        let p = ledger::inclusion(store.as_ref(), &LogId::Tenant(t.clone()), seq, None)
            .await
            .unwrap();
        merkle::verify_inclusion(
            &p.leaf_hash,
            p.leaf_index,
            total,
            &hex(&p.proof),
            &mid.root_hash,
        )
        .unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    // The first proofs cached the full chunks they needed, and later proofs use them.
    let cached = store
        .audit_chunk_roots(&LogId::Tenant(t.clone()), 0, 10)
        .await
        .unwrap();
    assert!(
        !cached.is_empty() && cached.iter().all(|(c, _)| *c < 3),
        "{cached:?}"
    );
    for _ in 0..CHUNK {
        store
            .append_audit(draft(Some(&t), Action::RecordRead))
            .await
            .unwrap();
    }
    let new = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap()
        .head;
    for old in [1, CHUNK, mid.tree_size] {
        let old_root = if old == mid.tree_size {
            mid.root_hash
        } else {
            let leaves = store
                .audit_leaf_hashes(&LogId::Tenant(t.clone()), 1, old as i64)
                .await
                .unwrap();
            merkle::root_from_leaf_hashes(&leaves)
        };
        let c = ledger::consistency(store.as_ref(), &LogId::Tenant(t.clone()), old, None)
            .await
            .unwrap();
        merkle::verify_consistency(
            old,
            new.tree_size,
            &old_root,
            &new.root_hash,
            &hex(&c.proof),
        )
        .unwrap_or_else(|e| panic!("{old} -> {}: {e}", new.tree_size));
    }
}

fn ledger_keys() -> hippo_store::keyring::LedgerKeys {
    hippo_store::keyring::LedgerKeys {
        signing: hippo_audit::tree_head::AuditSigningKey::from_seed(&[7; 32]),
        redaction_root: hippo_store::keyring::DataKey::new([9; 32]),
    }
}
