//! Search over the wire: results, malformed queries as positioned 400s that never echo the
//! query, results the policy withholds neither returned nor counted, and the query text kept
//! out of logs and held only as a keyed hash in the audit trail.

use super::*;
use hippo_testkit::CANARY;

async fn search(s: &TestServer, key: &str, query: &str) -> Response {
    s.client()
        .get(s.url("/v1/search"))
        .query(&[("q", query)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn search_finds_records_safely() {
    let s = server();
    let key = s.admin_key.clone();
    let id = create_id(
        &s,
        &key,
        json!({"type": "Patient", "subject": "p-9", "body": {"name": format!("Zoë {CANARY}")}}),
    )
    .await;
    create(
        &s,
        &key,
        json!({"type": "ClinicalNote", "subject": "p-9", "labels": ["restricted"], "body": {"text": format!("{CANARY} sealed note")}}),
    )
    .await;
    let reader = s.create_key("default", "reader");
    let r = search(&s, &reader, &format!("zoe {}", CANARY.to_lowercase())).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["record"]["id"], id.as_str());
    // The restricted note matches the canary but is withheld from a reader: not counted either.
    let v: Value = search(&s, &reader, CANARY).await.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");

    for (query, position) in [
        ("\"unclosed Zebediah", 0),
        ("Zebediah AND", 12),
        ("OR Zebediah", 0),
        ("Zebediah)", 8),
        ("z*", 0),
    ] {
        let p = expect_problem(search(&s, &reader, query).await, 400, "invalid-query").await;
        assert_eq!(
            p["errors"][0]["code"],
            format!("position_{position}"),
            "{query}: {p}"
        );
        assert!(!p.to_string().contains("Zebediah"), "{p}");
    }
    let p = expect_problem(
        s.client()
            .get(s.url("/v1/search"))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap(),
        400,
        "invalid-parameter",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("q is required"));

    // The query text reaches neither the logs nor, in plaintext, the audit trail; the
    // revealed record's id does.
    assert!(!s.logs().contains(CANARY));
    assert!(!s.logs().contains("Zebediah"));
    let auditor = s.create_key("default", "auditor");
    let events = audit_events(&s, &auditor, "&action=record.search").await;
    assert!(!events.is_empty());
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(CANARY) && !text.contains("Zebediah"),
        "{text}"
    );
    assert!(events.iter().any(|e| e["details"]["result_ids"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|i| i == id.as_str()))));
}
