//! The tamper-evident audit trail on PostgreSQL: tampering done directly in the shared database
//! is pinpointed by `hippo audit verify`, several instances write one gap-free tree whose heads
//! all verify with one key, an instance with another keyring is refused, and no sensitive value
//! reaches the audit tables in plaintext. Skipped, with a note, without HIPPO_TEST_DATABASE_URL.

use super::ledger::{assert_no_plaintext, audit_cli, history, sensitive_request_mix, verify};
use super::*;
use hippo_audit::merkle;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use hippo_testkit::pg::TestDatabase;
use reqwest::Method;

async fn pg_server(test: &str) -> Option<(TestDatabase, TestServer)> {
    let db = TestDatabase::create(test).await?;
    let s = server_with(Options::default().postgres(&db.url));
    Some((db, s))
}

/// Signs the log's heads (by a clean stop), checks it verifies, runs `tamper` as the database
/// superuser with the immutability triggers off, and returns what verify then says.
async fn pg_tampered(test: &str, tamper: &str) -> Option<String> {
    let (db, s) = pg_server(test).await?;
    let (mut s, _) = history(s).await;
    s.stop();
    let (ok, report) = verify(&s);
    assert!(
        ok && report.contains("OK"),
        "a clean log verifies: {report}"
    );
    db.run(&format!("SET session_replication_role = replica; {tamper}"))
        .await;
    let (ok, report) = verify(&s);
    assert!(!ok, "tampering went unnoticed: {report}");
    Some(report)
}

#[tokio::test]
async fn pg_altered_event_is_pinpointed() {
    let Some(report) = pg_tampered(
        "pg_altered",
        "UPDATE hippo.audit_events SET outcome = 'denied' WHERE log_id = 'default' AND seq = 4;",
    )
    .await
    else {
        return;
    };
    assert!(report.contains("event 4 was altered"), "{report}");
}

#[tokio::test]
async fn pg_deleted_event_is_pinpointed() {
    let Some(report) = pg_tampered(
        "pg_deleted",
        "DELETE FROM hippo.audit_events WHERE log_id = 'default' AND seq = 5;",
    )
    .await
    else {
        return;
    };
    assert!(report.contains("event 5 is missing (deleted)"), "{report}");
}

#[tokio::test]
async fn pg_inserted_event_is_detected() {
    let Some(report) = pg_tampered(
        "pg_inserted",
        "INSERT INTO hippo.audit_events (log_id, seq, time_ms, tenant, actor_id, actor_kind, action,
             resource_type, resource_id, subject_id, outcome, request_id, source_addr, user_agent,
             details, labels, leaf_hash)
         SELECT log_id, (SELECT MAX(seq) + 1 FROM hippo.audit_events WHERE log_id = 'default'),
             time_ms, tenant, actor_id, actor_kind, action, resource_type, resource_id, subject_id,
             outcome, request_id, source_addr, user_agent, details, labels, leaf_hash
         FROM hippo.audit_events WHERE log_id = 'default' AND seq = 2;",
    )
    .await
    else {
        return;
    };
    assert!(
        report.contains("unexpected event") && report.contains("inserted"),
        "{report}"
    );
}

#[tokio::test]
async fn pg_swapped_events_are_detected() {
    let Some(report) = pg_tampered(
        "pg_swapped",
        "UPDATE hippo.audit_events SET seq = -1 WHERE log_id = 'default' AND seq = 3;
         UPDATE hippo.audit_events SET seq = 3 WHERE log_id = 'default' AND seq = 6;
         UPDATE hippo.audit_events SET seq = 6 WHERE log_id = 'default' AND seq = -1;",
    )
    .await
    else {
        return;
    };
    assert!(
        report.contains("event 3 was altered") || report.contains("events 3 and 6"),
        "{report}"
    );
}

async fn sign(s: &TestServer, auditor: &str) -> SignedTreeHead {
    let r = authed(
        &s.client(),
        Method::POST,
        s.url("/v1/audit/tree-heads"),
        auditor,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

fn published_key(s: &TestServer) -> AuditPublicKey {
    let out = audit_cli(s, &["pubkey", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    AuditPublicKey::from_hex(info["public_key_hex"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn pg_two_instances_write_one_gap_free_tree() {
    let Some((_db, a)) = pg_server("pg_two_instance_tree").await else {
        return;
    };
    let b = a.another_instance();
    let auditor = a.create_key("default", "auditor");
    let first = sign(&a, &auditor).await;

    // Both instances write at once, as behind a load balancer.
    let mut tasks = Vec::new();
    for (n, s) in [&a, &b].into_iter().enumerate() {
        for w in 0..3 {
            let (c, url, key) = (s.client(), s.url("/v1/records"), s.admin_key.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    let r = authed(&c, Method::POST, url.clone(), &key)
                        .json(&patient(&format!("i{n}-w{w}-{i}")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let middle = sign(&b, &auditor).await;
    create(&a, &a.admin_key, patient("after")).await;
    let last = sign(&a, &auditor).await;

    // One key for the deployment, published the same by either instance's CLI.
    let key = published_key(&a);
    assert_eq!(published_key(&b), key);
    for h in [&first, &middle, &last] {
        h.verify(&key).unwrap();
    }
    assert!(first.head.tree_size < middle.head.tree_size);
    assert!(middle.head.tree_size < last.head.tree_size);

    // Every event, from whichever instance, is one leaf of one tree, numbered without gaps.
    let events = audit_events(&b, &auditor, "").await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let creates = events
        .iter()
        .filter(|e| e["action"] == "record.create")
        .count();
    assert_eq!(creates, 2 * 3 * 15 + 1);
    assert!(last.head.tree_size >= creates as u64);

    // A head signed on one instance is consistent with one signed on the other.
    let url = b.url(&format!(
        "/v1/audit/proofs/consistency?from={}&to={}",
        middle.head.tree_size, last.head.tree_size
    ));
    let p: Value = authed(&b.client(), Method::GET, url, &auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proof: Vec<merkle::Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    merkle::verify_consistency(
        middle.head.tree_size,
        last.head.tree_size,
        &middle.head.root_hash,
        &last.head.root_hash,
        &proof,
    )
    .unwrap();

    // The whole log recomputes and every stored head checks, from either side.
    for s in [&a, &b] {
        let (ok, report) = verify(s);
        assert!(ok && report.contains("OK"), "{report}");
    }
    let metrics = authed(&a.client(), Method::GET, a.url("/metrics"), &auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hippo_audit_integration_lag_seconds{log=\"default\"} 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn pg_instances_share_a_keyring_from_a_secret_and_another_is_refused() {
    let Some(db) = TestDatabase::create("pg_keyring_secret").await else {
        return;
    };
    // As a deployment does: one keyring, generated once, injected into every instance.
    let out = std::process::Command::new(BIN)
        .args(["keyring", "generate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let keyring = String::from_utf8(out.stdout).unwrap();
    let shared = Options::default()
        .postgres(&db.url)
        .env("HIPPO_KEYRING", &keyring);
    let a = server_with(shared.clone());
    assert!(
        !a.data_dir.join("keyring.json").exists(),
        "the secret is not copied to disk"
    );
    let b = a.another_instance_with(shared);
    let auditor = a.create_key("default", "auditor");
    create(&b, &b.admin_key, patient("via-b")).await;
    let head = sign(&b, &auditor).await;
    head.verify(&published_key(&a)).unwrap();

    // An instance with its own fresh keyring would sign heads no auditor's key verifies.
    let (status, log) = TestServer::start_failing(BIN, Options::default().postgres(&db.url));
    assert!(!status.success());
    assert!(
        log.contains("keyring") && log.contains("HIPPO_KEYRING"),
        "{log}"
    );
    // The deployment is untouched and keeps serving.
    create(&a, &a.admin_key, patient("still-here")).await;
    let (ok, report) = verify(&a);
    assert!(ok, "{report}");
}

#[tokio::test]
async fn pg_no_sensitive_value_reaches_the_audit_tables_in_plaintext() {
    let Some((db, s)) = pg_server("pg_redaction").await else {
        return;
    };
    sensitive_request_mix(&s).await;
    let rows: Vec<(Option<String>, String, String, String)> = db
        .text_rows("SELECT subject_id, details, labels, action FROM hippo.audit_events")
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone(),
                r[1].clone().unwrap(),
                r[2].clone().unwrap(),
                r[3].clone().unwrap(),
            )
        })
        .collect();
    assert_no_plaintext(&s, &rows).await;
}
