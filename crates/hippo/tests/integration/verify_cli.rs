//! `hippo audit verify` as a new user and an auditor run it: with no flags on a fresh
//! deployment, for the system log alone, for every log, on the store the suite runs on; a system-log event
//! altered in storage is pinpointed; and a data directory whose system-log heads were signed
//! under the old name (`catalog`, by the previous release) still verifies.

use super::ledger::audit_cli;
use super::*;
use hippo_testkit::raw::Tamper;
use hippo_testkit::{runs_on, StoreKind};
use reqwest::Method;

fn run(s: &TestServer, args: &[&str]) -> (bool, String) {
    let out = audit_cli(s, args);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// What a first session does: records, one request with a wrong key, a key created and revoked.
async fn first_session(s: &TestServer) {
    let key = s.admin_key.clone();
    for i in 0..3 {
        create(
            s,
            &key,
            json!({"type": "Patient", "subject": format!("p-{i}"), "body": {"n": i}}),
        )
        .await;
    }
    let wrong = authed(
        &s.client(),
        Method::GET,
        s.url("/v1/records"),
        "hpk_nosuchkey_0000000000000000000000000000000000000000000",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    s.create_key("default", "reader");
    let out = s.cli(&["apikey", "list", "--json"]);
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reader = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "reader")
        .unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(s.cli(&["apikey", "revoke", &reader]).status.success());
}

/// Every documented form of verify passes on a clean deployment, before and after the stop
/// that signs the final heads.
#[tokio::test]
async fn a_fresh_deployment_verifies_with_no_flags() {
    let mut s = server();
    first_session(&s).await;
    for stopped in [false, true] {
        if stopped {
            s.stop();
        }
        let (ok, report) = run(&s, &["verify"]);
        assert!(ok, "`hippo audit verify` on a fresh deployment: {report}");
        assert!(
            report.contains("log .system") && report.contains("log default"),
            "{report}"
        );
        let (ok, report) = run(&s, &["verify", "--system"]);
        assert!(ok && report.contains("log .system"), "{report}");
        let (ok, report) = run(&s, &["verify", "--tenant", "default"]);
        assert!(ok, "{report}");
        let (ok, report) = run(&s, &["verify", "--json"]);
        assert!(ok, "{report}");
        assert!(report.contains("\"log\":\".system\""), "{report}");
    }
    // The system log holds what an investigator needs first.
    let (ok, head) = run(&s, &["tree-head", "--system"]);
    assert!(ok, "{head}");
    assert!(head.contains("\".system\""), "{head}");
}

#[tokio::test]
async fn an_altered_system_log_event_is_pinpointed() {
    let mut s = server();
    first_session(&s).await;
    s.stop();
    assert!(run(&s, &["verify", "--system"]).0);
    let rows = s.audit_rows(&LogId::System, &["seq", "action"]).await;
    let seq: i64 = rows
        .iter()
        .find(|r| r[1].as_deref() == Some("apikey.revoke"))
        .and_then(|r| r[0].as_deref())
        .expect("the key revocation is in the system log")
        .parse()
        .unwrap();
    // The revocation succeeded; storage now says it was denied.
    s.tamper(&LogId::System, Tamper::AlterOutcome(seq)).await;
    let (ok, report) = run(&s, &["verify"]);
    assert!(!ok, "{report}");
    assert!(
        report.contains("log .system") && report.contains(&format!("event {seq} was altered")),
        "{report}"
    );
    // The tenant's own log is still reported intact.
    assert!(run(&s, &["verify", "--tenant", "default"]).0);
}

/// The previous release signed the embedded store's system-log heads as `catalog`. Such heads,
/// written here exactly as it wrote them (signed with the deployment's key), still verify, and
/// a head of that name is accepted for the system log only.
#[tokio::test]
async fn system_log_heads_signed_by_the_previous_release_still_verify() {
    use hippo_audit::tree_head::{AuditSigningKey, TreeHead};
    use hippo_store::Store;
    if !runs_on(
        StoreKind::Sqlite,
        "only the embedded store signed system-log heads as `catalog`",
    ) {
        return;
    }
    let mut s = server();
    first_session(&s).await;
    s.stop();
    let store = hippo_store::SqliteStore::open(&s.data_dir).unwrap();
    let (size, root) = store.tree_state(&hippo_core::LogId::System).await.unwrap();
    store.shutdown().await;
    let keyring = hippo_store::Keyring::load(&s.data_dir).unwrap();
    let key = AuditSigningKey::from_seed(&keyring.audit_signing_seed().unwrap());
    let db = s.raw_db(None);
    // The heads the server just signed are replaced by the old release's form of them.
    db.execute_batch("DROP TRIGGER IF EXISTS tree_heads_no_delete; DELETE FROM tree_heads;")
        .unwrap();
    let old = key
        .sign(TreeHead::new("catalog", size, root, 1_700_000_000_000).unwrap())
        .unwrap();
    db.execute(
        "INSERT INTO tree_heads (tree_size, timestamp_ms, sth) VALUES (?1, ?2, ?3)",
        rusqlite::params![size as i64, 1_700_000_000_000i64, old.to_json()],
    )
    .unwrap();
    drop(db);
    let (ok, report) = run(&s, &["verify", "--system"]);
    assert!(ok, "an upgraded data directory verifies: {report}");
    assert!(report.contains("OK"), "{report}");
    // The old name is an alias of the system log, not of any log: as a trusted head for a
    // tenant's log it is ignored (it names no tenant), and a tenant named `catalog` is another log.
    let (ok, report) = run(&s, &["verify"]);
    assert!(ok, "{report}");
    // New heads (once the log grows) are signed under the one spelling.
    s.restart();
    let wrong = authed(
        &s.client(),
        Method::GET,
        s.url("/v1/records"),
        "hpk_nosuchkey_0000000000000000000000000000000000000000000",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    s.stop();
    let (ok, head) = run(&s, &["tree-head", "--system"]);
    assert!(ok && head.contains("\".system\""), "{head}");
    assert!(run(&s, &["verify"]).0);
}

/// The operator's command finds a record whose stored body was altered behind the server's back,
/// names it by id and version only, and exits 1; the other records are reported as checked.
#[tokio::test]
async fn records_verify_finds_an_altered_record() {
    if !runs_on(
        StoreKind::Sqlite,
        "rewrites SQLite files; PostgreSQL is covered by hippo-store/tests/integrity.rs",
    ) {
        return;
    }
    let mut s = server();
    let key = s.admin_key.clone();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(create_id(&s, &key, json!({"type": "Patient", "body": {"n": i}})).await);
    }
    s.stop();
    let clean = s.cli(&["records", "verify"]);
    assert!(clean.status.success(), "{clean:?}");
    let db = s.raw_db(Some("default"));
    db.execute_batch("DROP TRIGGER record_versions_no_update")
        .unwrap();
    let forged = format!(r#"{{"n":"{}"}}"#, hippo_testkit::CANARY);
    db.execute(
        "UPDATE record_versions SET body = ?1 WHERE record_id = ?2",
        [forged.as_str(), ids[1].as_str()],
    )
    .unwrap();
    drop(db);
    let out = s.cli(&["records", "verify"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("FAILED record {} version 1", ids[1])),
        "{text}"
    );
    assert!(text.contains("3 record(s)"), "{text}");
    assert!(!text.contains(hippo_testkit::CANARY), "{text}");
}
