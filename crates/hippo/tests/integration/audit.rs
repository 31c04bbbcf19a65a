//! Audit, first cut: every PHI access and access change writes one event with the required fields.

use super::*;
use reqwest::Method;

#[tokio::test]
async fn every_access_writes_one_complete_event() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let auditor = s.create_key("default", "auditor");
    let rec = create(&s, &key, patient("subject-42")).await;
    let id = rec["id"].as_str().unwrap().to_owned();
    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .header("user-agent", "audit-test/1.0")
        .send()
        .await
        .unwrap();
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    authed(
        &c,
        Method::GET,
        s.url("/v1/records?subject=subject-42"),
        &key,
    )
    .send()
    .await
    .unwrap();
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/history")),
        &key,
    )
    .send()
    .await
    .unwrap();

    let events = audit_events(&s, &auditor, "").await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "record.create",
            "record.read",
            "record.list",
            "record.history"
        ]
    );
    let read = &events[1];
    assert_eq!(read["request_id"], request_id.as_str());
    assert_eq!(read["resource_type"], "record");
    assert_eq!(read["resource_id"], id.as_str());
    let subject = read["subject_id"].as_str().unwrap();
    assert!(
        subject.starts_with("hmac:") && !subject.contains("subject-42"),
        "subjects are stored as keyed hashes: {subject}"
    );
    assert_eq!(read["outcome"], "success");
    assert_eq!(read["actor_kind"], "service_account");
    assert_eq!(read["actor_id"], rec["created_by"]);
    assert_eq!(read["tenant"], "default");
    assert_eq!(read["source_addr"], "127.0.0.1");
    assert_eq!(read["user_agent"], "audit-test/1.0");
    assert_eq!(read["details"]["version"], 1);
    assert_eq!(
        events[2]["details"]["filters"],
        json!(["subject"]),
        "filter names, never values"
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);

    // The auditor's own reads are audited too, and filters work.
    let reads = audit_events(&s, &auditor, "&action=record.read").await;
    assert_eq!(reads.len(), 1);
    let audit_reads = audit_events(&s, &auditor, "&action=audit.read").await;
    assert!(audit_reads.len() >= 2);

    // Key changes land in the access log, scoped to the tenant.
    let access = audit_events(&s, &auditor, "&log=access").await;
    assert!(
        access
            .iter()
            .any(|e| e["action"] == "apikey.create" && e["actor_kind"] == "operator"),
        "{access:?}"
    );
    let r = authed(&c, Method::GET, s.url("/v1/audit?outcome=maybe"), &auditor)
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-parameter").await;
}

#[tokio::test]
async fn failed_authentication_is_audited_in_the_system_log() {
    let s = server();
    let c = s.client();
    c.get(s.url("/v1/records")).send().await.unwrap();
    c.get(s.url("/v1/records"))
        .bearer_auth("hpk_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    let rows: Vec<Vec<Option<String>>> = s
        .audit_rows(&LogId::System, &["action", "outcome", "details"])
        .await
        .into_iter()
        .filter(|r| r[0].as_deref() == Some("auth.failed"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[1].as_deref() == Some("denied")));
    let details = rows[1][2].as_deref().unwrap();
    assert!(
        details.contains("0011223344556677"),
        "the presented key id is recorded"
    );
    assert!(!details.contains("AAAAAAAA"), "the secret is not");
}
