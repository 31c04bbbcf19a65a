//! Bad input gets a precise RFC 9457 problem, and loses nothing: rejected requests write only their audit event.

use super::*;
use hippo_testkit::CANARY;
use reqwest::Method;

async fn record_count(s: &TestServer, key: &str) -> usize {
    let page: Value = authed(
        &s.client(),
        Method::GET,
        s.url("/v1/records?limit=1000"),
        key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_refused_precisely() {
    let s = server_with(Options::default().env("HIPPO_MAX_BODY_BYTES", "4096"));
    let (c, key) = (s.client(), s.admin_key.clone());
    create(&s, &key, patient("p-1")).await;
    let post = || authed(&c, Method::POST, s.url("/v1/records"), &key);

    let r = post()
        .header("content-type", "application/json")
        .body(format!(
            "{{\"type\": \"Patient\", \"body\": {{\"n\": \"{CANARY}\""
        ))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 400, "malformed-json").await;
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    assert!(!p.to_string().contains(hippo_testkit::CANARY));

    let r = post()
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(r, 415, "unsupported-media-type").await;
    let r = post().body("{}").send().await.unwrap();
    expect_problem(r, 415, "unsupported-media-type").await;

    let big = json!({"type": "Patient", "body": {"blob": "x".repeat(5000)}});
    let r = post().json(&big).send().await.unwrap();
    let p = expect_problem(r, 413, "payload-too-large").await;
    assert!(p["detail"].as_str().unwrap().contains("4096"));

    let r = post()
        .json(&json!({"type": "Patient", "body": {}, "colour": "red"}))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 400, "invalid-envelope").await;
    assert_eq!(p["errors"][0]["field"], "colour");
    assert_eq!(p["errors"][0]["code"], "unknown_field");

    let r = post()
        .json(&json!({"subject": CANARY}))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 400, "invalid-envelope").await;
    let fields = problem_fields(&p);
    assert_eq!(fields, vec!["type", "body"]);

    let r = post()
        .json(&json!({"type": "Patient", "body": [1, 2]}))
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-envelope").await;

    assert_eq!(
        record_count(&s, &key).await,
        1,
        "no rejected request stored anything"
    );
    let auditor = s.create_key("default", "auditor");
    let errors = audit_events(&s, &auditor, "&action=record.create&outcome=error").await;
    assert_eq!(
        errors.len(),
        7,
        "each rejected create wrote exactly one audit event"
    );
    let reasons: Vec<&str> = errors
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"malformed-json") && reasons.contains(&"payload-too-large"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn ids_credentials_and_routes() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let r = authed(&c, Method::GET, s.url("/v1/records/not-a-uuid"), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "malformed-id").await;
    let r = authed(
        &c,
        Method::GET,
        s.url("/v1/records/0190f1c4-8d2e-7c3a-9b1e-2f4a5c6d7e8f"),
        &key,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 404, "not-found").await;

    let r = c.get(s.url("/v1/records")).send().await.unwrap();
    let p = expect_problem(r, 401, "missing-credentials").await;
    assert!(p["detail"].as_str().unwrap().contains("Bearer"));
    let r = c
        .get(s.url("/v1/records"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_problem(r, 401, "missing-credentials").await;
    let r = authed(&c, Method::GET, s.url("/v1/records"), "not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"hippo\"");
    expect_problem(r, 401, "bad-credentials").await;
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('A') { 'B' } else { 'A' });
    let r = authed(&c, Method::GET, s.url("/v1/records"), &forged)
        .send()
        .await
        .unwrap();
    expect_problem(r, 401, "bad-credentials").await;

    let r = authed(&c, Method::GET, s.url("/v2/nothing"), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 404, "not-found").await;
    let r = authed(&c, Method::PATCH, s.url("/v1/records"), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 405, "http-405").await;
}

#[tokio::test]
async fn revoked_keys_stop_working_immediately() {
    let s = server();
    let c = s.client();
    let r = authed(&c, Method::POST, s.url("/v1/admin/apikeys"), &s.admin_key)
        .json(&json!({"role": "writer", "name": "etl"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    assert_eq!(made["role"], "writer");
    create(&s, &token, patient("p")).await;
    let list: Value = authed(&c, Method::GET, s.url("/v1/admin/apikeys"), &s.admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains(&token),
        "secrets are never listed"
    );
    let kid = made["key_id"].as_str().unwrap();
    let r = authed(
        &c,
        Method::DELETE,
        s.url(&format!("/v1/admin/apikeys/{kid}")),
        &s.admin_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = authed(&c, Method::GET, s.url("/v1/records"), &token)
        .send()
        .await
        .unwrap();
    expect_problem(r, 401, "bad-credentials").await;
    let r = authed(&c, Method::POST, s.url("/v1/admin/apikeys"), &s.admin_key)
        .json(&json!({"role": "root"}))
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-parameter").await;
}

#[tokio::test]
async fn requests_over_the_rate_limit_get_429() {
    let s = server_with(
        Options::default()
            .env("HIPPO_RATE_LIMIT__REQUESTS_PER_SECOND", "1")
            .env("HIPPO_RATE_LIMIT__BURST", "3"),
    );
    let c = s.client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            authed(&c, Method::GET, s.url("/v1/records"), &s.admin_key)
                .send()
                .await
                .unwrap(),
        );
    }
    assert!(statuses.iter().take(3).all(|r| r.status() == 200));
    let limited = statuses.pop().unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    expect_problem(limited, 429, "rate-limited").await;
}

#[tokio::test]
async fn audit_failure_fails_the_request_closed() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = create_id(&s, &key, patient("p-1")).await;
    // Inject a fault: the tenant's audit log refuses appends.
    s.break_audit_writes(&default_log()).await;

    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 503, "audit-unavailable").await;
    assert!(p.get("body").is_none(), "no record data is returned");
    let r = authed(&c, Method::POST, s.url("/v1/records"), &key)
        .json(&patient("p-2"))
        .send()
        .await
        .unwrap();
    expect_problem(r, 503, "audit-unavailable").await;
    let mut doc = patient("p-1");
    doc["body"]["name"] = json!("changed");
    let r = authed(&c, Method::PUT, s.url(&format!("/v1/records/{id}")), &key)
        .header("If-Match", "1")
        .json(&doc)
        .send()
        .await
        .unwrap();
    expect_problem(r, 503, "audit-unavailable").await;

    s.restore_audit_writes(&default_log()).await;
    assert_eq!(
        record_count(&s, &key).await,
        1,
        "the unaudited create was rolled back"
    );
    let r: Value = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["version"].as_i64(), r["body"]["name"].as_str()),
        (Some(1), Some("Test Person")),
        "the unaudited update was rolled back"
    );
}
