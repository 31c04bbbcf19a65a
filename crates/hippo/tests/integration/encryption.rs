//! Encryption at rest and PHI-free logs: a canary written in records never appears in any file
//! under the data directory, nor in any log line, even through error paths. (On PostgreSQL the
//! data directory holds no records; encrypting the database is the database service's job.)

use super::*;
use hippo_testkit::{contains_bytes, CANARY};
use reqwest::Method;

#[tokio::test]
async fn canary_never_reaches_disk_or_logs() {
    let mut s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let mut ids = Vec::new();
    for i in 0..20 {
        let doc = json!({"type": "ClinicalNote", "subject": format!("{CANARY}-{i}"),
                         "body": {"text": format!("{CANARY} note {i}"), "patient": {"name": CANARY}}});
        ids.push(create_id(&s, &key, doc).await);
    }
    // Reads, searches and failures that carry the canary in paths, queries and bodies.
    for id in &ids {
        authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
            .send()
            .await
            .unwrap();
    }
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records?subject={CANARY}-1")),
        &key,
    )
    .send()
    .await
    .unwrap();
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{CANARY}")),
        &key,
    )
    .send()
    .await
    .unwrap();
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records?{CANARY}=1")),
        &key,
    )
    .send()
    .await
    .unwrap();
    authed(&c, Method::POST, s.url("/v1/records"), &key)
        .header("content-type", "application/json")
        .body(format!("{{\"type\": \"{CANARY}\""))
        .send()
        .await
        .unwrap();
    authed(&c, Method::POST, s.url("/v1/records"), &key)
        .json(&json!({"type": "Note", "body": {}, CANARY: 1}))
        .send()
        .await
        .unwrap();
    authed(
        &c,
        Method::PUT,
        s.url(&format!("/v1/records/{}", ids[0])),
        &key,
    )
    .header("If-Match", "9")
    .json(&json!({"type": "ClinicalNote", "body": {"x": CANARY}}))
    .send()
    .await
    .unwrap();

    let check_files = |s: &TestServer, when: &str| {
        let files = s.data_files();
        if s.store() == hippo_testkit::StoreKind::Sqlite {
            assert!(files
                .iter()
                .any(|(p, _)| p.to_string_lossy().ends_with("default.db")));
        }
        for (path, bytes) in files {
            assert!(
                !contains_bytes(&bytes, CANARY.as_bytes()),
                "{when}: canary found in {}",
                path.display()
            );
            if path.extension().is_some_and(|e| e == "db") {
                assert!(
                    !bytes.starts_with(b"SQLite format 3"),
                    "{} is a plaintext SQLite file",
                    path.display()
                );
            }
        }
    };
    check_files(&s, "while running (WAL)");
    let logs = s.logs();
    assert!(
        logs.contains("\"route\":\"/v1/records/{id}\""),
        "access log uses route templates"
    );
    assert!(!logs.contains(CANARY), "canary found in logs");
    assert!(!logs.contains(&ids[0]), "record ids stay out of logs");

    assert!(s.stop().unwrap().success(), "SIGTERM exits cleanly");
    check_files(&s, "after shutdown");
    assert!(!s.logs().contains(CANARY));

    // The audit trail identifies the subject, but its details never carry PHI.
    s.restart();
    let auditor = s.create_key("default", "auditor");
    let events = audit_events(&s, &auditor, "").await;
    assert!(events.len() >= 46, "{}", events.len());
    for e in &events {
        assert!(
            !e["details"].to_string().contains(CANARY),
            "audit details hold PHI: {e}"
        );
    }
}
