//! Break-glass review and "verify now" over the wire (the console's audit pages call these):
//! an emergency elevation awaits review, an auditor records one review (a second is refused,
//! an unknown session is not found, a bad decision is a clear error), the review is an audit
//! event whose note stays redacted; and the audit log verifies on request. On both stores.

use super::people::{add_user, first_sign_in};
use super::*;
use hippo_testkit::CANARY;

async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Response {
    let mut r = authed(&s.client(), method, s.url(path), key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn an_emergency_elevation_awaits_review_and_is_reviewed_once() {
    let s = server();
    let auditor = s.create_key("default", "auditor");
    let reader = s.create_key("default", "reader");
    let writer_id = add_user(&s, "dr.quinn", "writer").await;
    let person = first_sign_in(&s, "dr.quinn").await;
    let r = s
        .client()
        .post(s.url("/v1/auth/break-glass"))
        .bearer_auth(&person.token)
        .json(&json!({"reason": "unconscious patient, no consent possible", "minutes": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let list: Value = send(
        &s,
        reqwest::Method::GET,
        "/v1/audit/break-glass",
        &auditor,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(list["pending"], 1, "{list}");
    assert_eq!(list["items"][0]["session"], session.as_str());
    assert_eq!(list["items"][0]["opened_by"], writer_id.as_str());
    assert!(list["items"][0]["review"].is_null());

    // Only reviewers may list or review.
    let r = send(
        &s,
        reqwest::Method::GET,
        "/v1/audit/break-glass",
        &reader,
        None,
    )
    .await;
    assert_eq!(r.status(), 403);
    let path = format!("/v1/audit/break-glass/{session}/review");
    let r = send(
        &s,
        reqwest::Method::POST,
        &path,
        &reader,
        Some(json!({"decision": "justified"})),
    )
    .await;
    assert_eq!(r.status(), 403);

    let r = send(
        &s,
        reqwest::Method::POST,
        &path,
        &auditor,
        Some(json!({"decision": "maybe"})),
    )
    .await;
    expect_problem(r, 400, "invalid-parameter").await;
    let r = send(
        &s,
        reqwest::Method::POST,
        "/v1/audit/break-glass/s-unknown/review",
        &auditor,
        Some(json!({"decision": "justified"})),
    )
    .await;
    expect_problem(r, 404, "not-found").await;

    let note = format!("called the ward {CANARY}");
    let r = send(
        &s,
        reqwest::Method::POST,
        &path,
        &auditor,
        Some(json!({"decision": "justified", "note": note})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send(
        &s,
        reqwest::Method::POST,
        &path,
        &auditor,
        Some(json!({"decision": "not-justified"})),
    )
    .await;
    expect_problem(r, 409, "conflict").await;

    let list: Value = send(
        &s,
        reqwest::Method::GET,
        "/v1/audit/break-glass",
        &auditor,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(list["pending"], 0, "{list}");
    assert_eq!(list["items"][0]["review"]["decision"], "justified");

    // The review is an event of the trail; its free-text note is kept redacted.
    let events = audit_events(&s, &auditor, "&action=breakglass.review").await;
    let ok: Vec<&Value> = events
        .iter()
        .filter(|e| e["outcome"] == "success")
        .collect();
    assert_eq!(ok.len(), 1, "{events:?}");
    assert_eq!(ok[0]["resource_id"], session.as_str());
    assert!(!serde_json::to_string(&events).unwrap().contains(CANARY));

    // Verify now: the log recomputes and checks against its signed heads.
    let r = send(
        &s,
        reqwest::Method::POST,
        "/v1/audit/tree-heads",
        &auditor,
        None,
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = send(
        &s,
        reqwest::Method::POST,
        "/v1/audit/verify",
        &auditor,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["report"]["events_checked"].as_u64().unwrap() > 0);
    assert!(v["text"].as_str().unwrap().starts_with("OK"));
    let r = send(&s, reqwest::Method::POST, "/v1/audit/verify", &reader, None).await;
    assert_eq!(r.status(), 403);
}
