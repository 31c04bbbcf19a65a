//! `POST /v1/records:batch`: all or nothing, searchable at once, each record audited; an
//! invalid item named by index with nothing written; oversized batches 413; wrong media 415.

use super::*;

async fn batch(s: &TestServer, key: &str, ct: &str, body: String) -> Response {
    s.client()
        .post(s.url("/v1/records:batch"))
        .bearer_auth(key)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn count(s: &TestServer, key: &str) -> usize {
    let v: Value = authed(
        &s.client(),
        reqwest::Method::GET,
        s.url("/v1/records?limit=1000"),
        key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    v["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn batches_are_all_or_nothing() {
    let s = server_with(Options::default().env("HIPPO_BATCH_MAX_RECORDS", "5"));
    let key = s.admin_key.clone();
    let array = json!([
        {"type": "Patient", "subject": "b-1", "body": {"name": "Ada Quimby"}},
        {"type": "Patient", "subject": "b-2", "body": {"name": "Bo Quimby"}},
        {"type": "ClinicalNote", "subject": "b-1", "body": {"text": "follow-up in two weeks"}}
    ]);
    let r = batch(&s, &key, "application/json", array.to_string()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["count"], 3);
    // Indexed in the same commit: searchable as soon as acknowledged.
    let found: Value = s
        .client()
        .get(s.url("/v1/search?q=quimby"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 2, "{found}");

    // NDJSON with one invalid item: named by index, nothing written.
    let ndjson = [
        json!({"type": "Patient", "subject": "b-3", "body": {}}).to_string(),
        json!({"subject": "b-4", "body": {}}).to_string(),
        json!({"type": "Patient", "subject": "b-5", "body": {}, "extra": 1}).to_string(),
    ]
    .join("\n");
    let p = expect_problem(
        batch(&s, &key, "application/x-ndjson", ndjson).await,
        400,
        "invalid-envelope",
    )
    .await;
    let fields = problem_fields(&p);
    assert!(fields.iter().any(|f| f.starts_with("/1/")), "{p}");
    assert!(fields.iter().any(|f| f.starts_with("/2/")), "{p}");
    assert_eq!(
        count(&s, &key).await,
        3,
        "nothing of the refused batch was written"
    );

    let p = expect_problem(
        batch(
            &s,
            &key,
            "application/x-ndjson",
            "{\"type\": \"Patient\"}\n{oops".into(),
        )
        .await,
        400,
        "invalid-parameter",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("line 2"), "{p}");
    let six: Vec<Value> = (0..6)
        .map(|i| json!({"type": "Patient", "subject": format!("x{i}"), "body": {}}))
        .collect();
    expect_problem(
        batch(&s, &key, "application/json", json!(six).to_string()).await,
        413,
        "batch-too-large",
    )
    .await;
    expect_problem(
        batch(&s, &key, "text/csv", "a,b".into()).await,
        415,
        "unsupported-media-type",
    )
    .await;
    assert_eq!(count(&s, &key).await, 3);

    // Each record of the batch has its own creation event, for the accounting of disclosures.
    let auditor = s.create_key("default", "auditor");
    let creates = audit_events(&s, &auditor, "&action=record.create")
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "success" && e["resource_id"].is_string())
        .count();
    assert_eq!(creates, 3);
}
