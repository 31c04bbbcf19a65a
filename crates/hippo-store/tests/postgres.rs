//! PostgreSQL-only guarantees: row-level security stops a query that forgot its tenant filter,
//! several instances share one gap-free audit log, integrity and audit failures fail closed,
//! and a lost database means quick `Unavailable` errors and automatic recovery.

use hippo_core::{Action, Actor, AuditDraft, LogId, RecordInput, TenantId};
use hippo_store::{AuditQuery, PgSettings, PgStore, Store, StoreError};
use hippo_testkit::pg::{with_database, TestDatabase};
use hippo_testkit::relay::Relay;
use serde_json::json;
use sqlx::{Connection, Row};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn draft(t: &TenantId, action: Action) -> AuditDraft {
    AuditDraft::new(Some(t.clone()), Actor::operator(), action, "pg-test")
}

fn input(subject: &str) -> RecordInput {
    RecordInput {
        record_type: "Patient".into(),
        subject: Some(subject.into()),
        labels: vec![],
        body: json!({"name": subject}).as_object().unwrap().clone(),
    }
}

async fn store(url: &str) -> PgStore {
    let settings = PgSettings {
        max_connections: 8,
        ..PgSettings::default()
    };
    PgStore::connect(url, settings, ledger_keys())
        .await
        .unwrap()
}

async fn tenant(store: &PgStore, name: &str) -> TenantId {
    let t: TenantId = name.parse().unwrap();
    store
        .create_tenant(
            &t,
            AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "t"),
        )
        .await
        .unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_security_hides_other_tenants_from_an_unfiltered_query() {
    let Some(db) = TestDatabase::create("rls").await else {
        return;
    };
    let s = store(&db.url).await;
    let (a, b) = (tenant(&s, "clinic-a").await, tenant(&s, "clinic-b").await);
    for (t, n) in [(&a, 3), (&b, 2)] {
        for i in 0..n {
            s.create_record(
                t,
                input(&format!("{t}-{i}")),
                "w",
                draft(t, Action::RecordCreate),
            )
            .await
            .unwrap();
        }
    }
    let mut c = db.superuser().await;
    // Deliberately no tenant filter, in a transaction bound to tenant A, as the app role.
    let mut tx = c.begin().await.unwrap();
    sqlx::raw_sql("SET LOCAL ROLE hippo_app; SELECT set_config('hippo.tenant', 'clinic-a', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT tenant_id, subject FROM hippo.records")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let tenants: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(tenants, vec!["clinic-a"; 3], "only A's rows: {tenants:?}");
    for table in ["record_versions", "audit_events"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM hippo.{table} WHERE {} = 'clinic-b'",
            if table == "audit_events" {
                "log_id"
            } else {
                "tenant_id"
            }
        )))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(
            n, 0,
            "{table}: nothing of B, even when asked for it by name"
        );
    }
    // Writing a row for another tenant is refused too.
    let smuggled = sqlx::query(
        "INSERT INTO hippo.records (tenant_id, id, record_type, version, created_at_ms, created_by, updated_at_ms, updated_by)
         VALUES ('clinic-b', 'x', 'Patient', 1, 0, 'w', 0, 'w')",
    )
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(
        smuggled.to_string().contains("row-level security"),
        "{smuggled}"
    );
    tx.rollback().await.unwrap();

    // A transaction bound to no tenant at all sees no records, and the app role cannot
    // change or remove audit events or versions.
    let mut tx = c.begin().await.unwrap();
    sqlx::raw_sql("SET LOCAL ROLE hippo_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM hippo.records")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    tx.rollback().await.unwrap();
    for stmt in [
        "DELETE FROM hippo.audit_events",
        "UPDATE hippo.record_versions SET body = '{}'",
    ] {
        let mut tx = c.begin().await.unwrap();
        sqlx::raw_sql(
            "SET LOCAL ROLE hippo_app; SELECT set_config('hippo.tenant', 'clinic-a', true)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let e = sqlx::raw_sql(stmt).execute(&mut *tx).await.unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{stmt}: {e}");
    }
    // The role really is subject to row-level security.
    let bypass: (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'hippo_app'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(bypass, (false, false));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_gap_free_audit_log() {
    let Some(db) = TestDatabase::create("two_instances").await else {
        return;
    };
    // Both start at once on an empty database: the migration runs exactly once.
    let (one, two) = tokio::join!(store(&db.url), store(&db.url));
    let (one, two) = (Arc::new(one), Arc::new(two));
    let t = tenant(&one, "clinic").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = if w % 2 == 0 { one.clone() } else { two.clone() };
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let r = s
                    .create_record(
                        &t,
                        input(&format!("w{w}-{i}")),
                        "w",
                        draft(&t, Action::RecordCreate),
                    )
                    .await
                    .unwrap();
                s.get_record(&t, r.id, draft(&t, Action::RecordRead))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let q = AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    };
    let events = two
        .list_audit(&LogId::Tenant(t.clone()), q, draft(&t, Action::AuditRead))
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 320);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=320).collect::<Vec<_>>()
    );
    // Each migration applied once: versions 1..=n, no repeats, whatever n this build has.
    let versions: Vec<i32> =
        sqlx::query_scalar("SELECT version FROM hippo.schema_migrations ORDER BY version")
            .fetch_all(&mut db.superuser().await)
            .await
            .unwrap();
    assert!(!versions.is_empty());
    assert_eq!(versions, (1..=versions.len() as i32).collect::<Vec<_>>());
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_bodies_and_refused_audit_events_fail_closed() {
    let Some(db) = TestDatabase::create("fail_closed").await else {
        return;
    };
    let s = store(&db.url).await;
    let t = tenant(&s, "clinic").await;
    let r = s
        .create_record(&t, input("p-1"), "w", draft(&t, Action::RecordCreate))
        .await
        .unwrap();
    let mut c = db.superuser().await;
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE hippo.record_versions SET body = '{\"name\":\"forged\"}';
         SET session_replication_role = DEFAULT;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let e = s
        .get_record(&t, r.id, draft(&t, Action::RecordRead))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::IntegrityFailed { id, version: 1 } if id == r.id),
        "{e:?}"
    );

    // The audit table refuses inserts: the write is refused and leaves nothing behind.
    sqlx::raw_sql(
        "ALTER TABLE hippo.audit_events ADD CONSTRAINT injected_fault CHECK (action <> 'record.create') NOT VALID",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let e = s
        .create_record(&t, input("p-2"), "w", draft(&t, Action::RecordCreate))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AuditFailed(_)), "{e:?}");
    assert!(!e.to_string().contains("p-2"), "no values in errors: {e}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM hippo.records")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1, "the unaudited create was rolled back");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_fails_fast_and_recovers_by_itself() {
    let Some(db) = TestDatabase::create("unavailable").await else {
        return;
    };
    let opts = hippo_store::postgres::parse_url(&db.url).unwrap();
    let relay = Relay::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    let url = with_database(
        &db.url.replacen(
            &format!(":{}/", opts.get_port()),
            &format!(":{}/", relay.port),
            1,
        ),
        &db.name,
    );
    let settings = PgSettings {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(1),
        call_timeout: Duration::from_secs(3),
        ..PgSettings::default()
    };
    let s = PgStore::connect(&url, settings, ledger_keys())
        .await
        .unwrap();
    let t = tenant(&s, "clinic").await;
    let r = s
        .create_record(&t, input("p"), "w", draft(&t, Action::RecordCreate))
        .await
        .unwrap();
    s.ready().await.unwrap();

    relay.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let e = s
            .get_record(&t, r.id, draft(&t, Action::RecordRead))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
    }
    let e = s.ready().await.unwrap_err().to_string();
    assert!(
        e.contains("unreachable") && !e.contains("postgres://"),
        "{e}"
    );

    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match s.get_record(&t, r.id, draft(&t, Action::RecordRead)).await {
            Ok(back) => {
                assert_eq!(back.id, r.id);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("did not recover: {e:?}"),
        }
    }
    s.ready().await.unwrap();
    s.shutdown().await;
}

#[tokio::test]
async fn the_url_is_checked_before_connecting() {
    let e = PgStore::connect(
        // hippo:ignore HIPPO-SECRET-004 reason="made-up password the test asserts is never echoed"
        "postgres://hippo:pw-Zebediah@db.example.com:5432/hippo?sslmode=prefer",
        PgSettings::default(),
        ledger_keys(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("sslmode=verify-full") && !e.contains("pw-Zebediah"),
        "{e}"
    );
}

/// The same ledger keys for every store a test opens, as instances sharing a keyring have.
fn ledger_keys() -> hippo_store::keyring::LedgerKeys {
    hippo_store::keyring::LedgerKeys {
        signing: hippo_audit::tree_head::AuditSigningKey::from_seed(&[7; 32]),
        redaction_root: hippo_store::keyring::DataKey::new([9; 32]),
    }
}

async fn create_n(s: &PgStore, t: &TenantId, n: usize, tag: &str) {
    for i in 0..n {
        let subject = format!("{tag}-{i}");
        s.create_record(t, input(&subject), "w", draft(t, Action::RecordCreate))
            .await
            .unwrap();
    }
}

/// A directory sink as slow as a remote object store, so that two exports overlap in time.
struct SlowSink(hippo_store::export::DirSink);

#[async_trait::async_trait]
impl hippo_store::export::ExportSink for SlowSink {
    fn describe(&self) -> String {
        self.0.describe()
    }
    async fn exported_through(&self, log: &str) -> Result<u64, hippo_store::export::ExportError> {
        self.0.exported_through(log).await
    }
    async fn put_sealed(
        &self,
        log: &str,
        name: &str,
        kind: hippo_store::export::ObjectKind,
        bytes: &[u8],
        until: &str,
    ) -> Result<(), hippo_store::export::ExportError> {
        tokio::time::sleep(Duration::from_millis(25)).await;
        self.0.put_sealed(log, name, kind, bytes, until).await
    }
    async fn names(&self, log: &str) -> Result<Vec<String>, hippo_store::export::ExportError> {
        self.0.names(log).await
    }
    async fn read(
        &self,
        log: &str,
        name: &str,
    ) -> Result<Vec<u8>, hippo_store::export::ExportError> {
        self.0.read(log, name).await
    }
}

/// Two instances exporting one log to one sink at the same time, while events keep arriving,
/// must leave contiguous, non-overlapping sealed batches: one exporter at a time, deployment-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_exporters_on_two_instances_leave_contiguous_batches() {
    use hippo_store::export::{DirSink, ExportError};
    use hippo_store::ledger::export;
    let Some(db) = TestDatabase::create("two_exporters").await else {
        return;
    };
    let (one, two) = (store(&db.url).await, store(&db.url).await);
    let t = tenant(&one, "clinic").await;
    let out = tempfile::tempdir().unwrap();
    let dir = DirSink::new(out.path());
    let sink = SlowSink(dir.clone());
    let (mut exported, mut busy) = (0, 0);
    let log = LogId::Tenant(t.clone());
    for round in 0..5 {
        create_n(&one, &t, 9 + round, "before").await;
        // The second instance starts exporting after more events arrived: without a
        // deployment-wide lock its tree head, and so its last batch, would differ.
        let (a, b) = tokio::join!(export(&one, &log, &sink, 7, 2190), async {
            create_n(&two, &t, 3, "during").await;
            export(&two, &log, &sink, 7, 2190).await
        });
        for r in [a, b] {
            match r {
                Ok(s) => exported += s.batches_written,
                Err(ExportError::Busy(_)) => busy += 1,
                Err(e) => panic!("export failed: {e}"),
            }
        }
    }
    assert!(exported > 0, "nothing exported ({busy} busy)");
    let mut ranges: Vec<(u64, u64)> = std::fs::read_dir(dir.log_dir("clinic"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name
                .strip_suffix(".manifest.json")?
                .strip_prefix("batch-")?;
            let (a, b) = stem.split_once('-')?;
            Some((a.parse().unwrap(), b.parse().unwrap()))
        })
        .collect();
    ranges.sort();
    assert_eq!(ranges.first().map(|r| r.0), Some(1));
    for w in ranges.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].1 + 1,
            "batches overlap or leave a gap: {ranges:?}"
        );
    }
    one.shutdown().await;
    two.shutdown().await;
}

fn tagged(t: &TenantId, action: Action, request_id: &str) -> AuditDraft {
    AuditDraft::new(Some(t.clone()), Actor::operator(), action, request_id)
}

/// Operations of one log on two instances at once are group-committed (several operations per
/// transaction) and their events still form one dense, interleaved sequence and one tree that
/// verifies against its signed head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_from_two_instances_interleave_into_one_gap_free_tree() {
    let Some(db) = TestDatabase::create("group_two").await else {
        return;
    };
    let (one, two) = (
        Arc::new(store(&db.url).await),
        Arc::new(store(&db.url).await),
    );
    let t = tenant(&one, "clinic").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (s, name) = if w % 2 == 0 {
            (one.clone(), "one")
        } else {
            (two.clone(), "two")
        };
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let id = |what: &str| format!("{name}-{w}-{i}-{what}");
                let batch = (0..5)
                    .map(|k| input(&format!("b{w}-{i}-{k}")).into())
                    .collect();
                let d = tagged(&t, Action::RecordCreate, &id("batch"));
                s.create_records(&t, batch, "w", d).await.unwrap();
                let d = tagged(&t, Action::RecordCreate, &id("create"));
                let r = s.create_record(&t, input("single"), "w", d).await.unwrap();
                let d = tagged(&t, Action::RecordRead, &id("read"));
                s.get_record(&t, r.id, d).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // 8 workers x 10 rounds x (5 record events + the batch's own + create + read).
    let total = 8 * 10 * 8;
    let log = LogId::Tenant(t.clone());
    let leaves = hippo_store::ledger::all_leaves(two.as_ref(), &log)
        .await
        .unwrap();
    assert_eq!(
        leaves.iter().map(|l| l.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<i64>>()
    );
    assert_eq!(two.tree_state(&log).await.unwrap().0, total as u64);
    let head = one.sign_tree_head(&log).await.unwrap();
    assert_eq!(head.head.tree_size, total as u64);
    head.verify(&one.audit_public_key().unwrap()).unwrap();
    let report = hippo_store::ledger::verify(two.as_ref(), &log, vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");

    let mut c = db.superuser().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT request_id, xmin::text FROM hippo.audit_events WHERE log_id = $1 ORDER BY seq",
    )
    .bind(t.as_str())
    .fetch_all(&mut c)
    .await
    .unwrap();
    let instance: Vec<&str> = rows.iter().map(|(r, _)| &r[..3]).collect();
    let switches = instance.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches >= 2, "the instances' commits did not interleave");
    // Group commit: some transaction carries the events of more than one operation.
    let mut ops_by_tx: std::collections::HashMap<&str, std::collections::HashSet<&str>> =
        Default::default();
    for (request, tx) in &rows {
        ops_by_tx.entry(tx).or_default().insert(request);
    }
    assert!(
        ops_by_tx.values().any(|ops| ops.len() > 1),
        "every operation committed alone"
    );
    one.shutdown().await;
    two.shutdown().await;
}

/// A failing operation inside a batch rolls back alone (none of its writes stay), its event is
/// still recorded in that same transaction, and the other operations of the batch commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_operation_inside_a_batch_rolls_back_alone_and_still_records_its_event() {
    let Some(db) = TestDatabase::create("group_failure").await else {
        return;
    };
    let s = Arc::new(store(&db.url).await);
    let t = tenant(&s, "clinic").await;
    let mut c = db.superuser().await;
    // A version whose subject is "p-bad" is refused by the database, mid-statement.
    sqlx::raw_sql(
        "ALTER TABLE hippo.record_versions ADD CONSTRAINT no_bad_subject
         CHECK (subject IS DISTINCT FROM 'p-bad') NOT VALID",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let (mut shared, mut rounds) = (false, 0);
    while !shared && rounds < 30 {
        let round = rounds;
        rounds += 1;
        let mut good = Vec::new();
        for i in 0..12 {
            let (s, t) = (s.clone(), t.clone());
            good.push(tokio::spawn(async move {
                let d = tagged(&t, Action::RecordCreate, &format!("good-{round}-{i}"));
                s.create_record(&t, input(&format!("good-{round}-{i}")), "w", d)
                    .await
            }));
        }
        let batch = vec![
            input(&format!("fine-{round}")).into(),
            input("p-bad").into(),
        ];
        let d = tagged(&t, Action::RecordCreate, &format!("bad-{round}"));
        let e = s.create_records(&t, batch, "w", d).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Database(m) if m.contains("no_bad_subject")),
            "{e:?}"
        );
        assert!(!e.to_string().contains("p-bad"), "no values in errors: {e}");
        for g in good {
            g.await.unwrap().unwrap();
        }
        let (outcome, reason, mates): (String, String, i64) = sqlx::query_as(
            "SELECT b.outcome, b.details::jsonb ->> 'reason',
                 (SELECT count(*) FROM hippo.audit_events o
                  WHERE o.log_id = b.log_id AND o.xmin = b.xmin AND o.request_id LIKE 'good-%')
             FROM hippo.audit_events b WHERE b.log_id = $1 AND b.request_id = $2",
        )
        .bind(t.as_str())
        .bind(format!("bad-{round}"))
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert_eq!((outcome.as_str(), reason.as_str()), ("error", "database"));
        shared = mates > 0;
    }
    assert!(
        shared,
        "the failing operation never shared a batch in {rounds} rounds"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM hippo.records WHERE subject LIKE 'fine-%'"
        )
        .await,
        0,
        "the failed batch kept a record"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM hippo.records WHERE subject LIKE 'good-%'"
        )
        .await,
        12 * rounds as i64
    );
    // Only the failed batch's own event: none for the records it rolled back.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM hippo.audit_events WHERE request_id LIKE 'bad-%'"
        )
        .await,
        rounds as i64
    );
    let report = hippo_store::ledger::verify(s.as_ref(), &LogId::Tenant(t.clone()), vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");
    s.shutdown().await;
}

async fn count(c: &mut sqlx::PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(c).await.unwrap()
}
