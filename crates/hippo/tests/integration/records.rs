//! Records API behaviour: create, read, optimistic update, soft delete, history, versions, list.

use super::*;
use reqwest::Method;

#[tokio::test]
async fn create_read_update_delete_with_history() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let rec = create(&s, &key, patient("p-1")).await;
    let id = rec["id"].as_str().unwrap().to_owned();
    assert_eq!(rec["version"], 1);
    assert_eq!(rec["type"], "Patient");
    assert_eq!(rec["labels"], json!(["intake"]));
    assert_eq!(rec["body_sha256"].as_str().unwrap().len(), 64);
    assert!(id.parse::<hippo_core::RecordId>().is_ok());

    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(
        r.json::<Value>().await.unwrap()["body"]["name"],
        "Test Person"
    );

    let mut doc = patient("p-1");
    doc["body"]["name"] = json!("Renamed Person");
    let r = authed(&c, Method::PUT, s.url(&format!("/v1/records/{id}")), &key)
        .header("If-Match", "\"1\"")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let v2: Value = r.json().await.unwrap();
    assert_eq!(v2["version"], 2);
    assert_ne!(v2["body_sha256"], rec["body_sha256"]);
    assert_eq!(v2["created_at"], rec["created_at"]);

    // A stale version is refused and changes nothing.
    let r = authed(&c, Method::PUT, s.url(&format!("/v1/records/{id}")), &key)
        .header("If-Match", "\"1\"")
        .json(&patient("p-1"))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 412, "stale-version").await;
    assert!(p["detail"].as_str().unwrap().contains("version 2"));

    // Old versions stay readable and immutable.
    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/versions/1")),
        &key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["body"]["name"],
        "Test Person"
    );

    let r = authed(
        &c,
        Method::DELETE,
        s.url(&format!("/v1/records/{id}")),
        &key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let tomb: Value = r.json().await.unwrap();
    assert_eq!(
        (tomb["version"].as_i64(), tomb["deleted"].as_bool()),
        (Some(3), Some(true))
    );

    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 410, "deleted").await;
    let r = authed(
        &c,
        Method::DELETE,
        s.url(&format!("/v1/records/{id}")),
        &key,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 410, "deleted").await;

    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/history")),
        &key,
    )
    .send()
    .await
    .unwrap();
    let h: Value = r.json().await.unwrap();
    let versions: Vec<i64> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(h["versions"][0]["body"]["name"], "Test Person");

    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/versions/9")),
        &key,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 404, "not-found").await;
}

#[tokio::test]
async fn update_requires_if_match_and_keeps_type() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = create_id(&s, &key, patient("p-2")).await;
    let url = s.url(&format!("/v1/records/{id}"));
    let r = authed(&c, Method::PUT, url.clone(), &key)
        .json(&patient("p-2"))
        .send()
        .await
        .unwrap();
    expect_problem(r, 428, "precondition-required").await;
    let r = authed(&c, Method::PUT, url.clone(), &key)
        .header("If-Match", "soon")
        .json(&patient("p-2"))
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-parameter").await;
    let mut other = patient("p-2");
    other["type"] = json!("Observation");
    let r = authed(&c, Method::PUT, url.clone(), &key)
        .header("If-Match", "1")
        .json(&other)
        .send()
        .await
        .unwrap();
    expect_problem(r, 409, "conflict").await;
    let r = authed(&c, Method::DELETE, url.clone(), &key)
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    expect_problem(r, 412, "stale-version").await;
    let r = authed(&c, Method::GET, url, &key).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["version"],
        1,
        "rejected writes changed nothing"
    );
}

#[tokio::test]
async fn list_filters_and_paginates_without_gaps_or_repeats() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let mut made = Vec::new();
    for i in 0..25 {
        let doc = if i % 5 == 0 {
            json!({"type": "Observation", "subject": "p-obs", "body": {"i": i}})
        } else {
            json!({"type": "Patient", "subject": format!("p-{i}"), "body": {"i": i}})
        };
        made.push(create_id(&s, &key, doc).await);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = s.url(&format!("/v1/records?type=Patient&limit=7{cursor}"));
        let page: Value = authed(&c, Method::GET, url, &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        seen.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = made
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 0)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(seen, expected);

    let page: Value = authed(&c, Method::GET, s.url("/v1/records?subject=p-obs"), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let future = "2999-01-01T00:00:00Z";
    let page: Value = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records?updated_since={future}")),
        &key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);

    for bad in [
        "limit=0",
        "limit=5000",
        "limit=x",
        "cursor=bm9wZQ",
        "updated_since=yesterday",
        "colour=red",
        "type=a&type=b",
    ] {
        let r = authed(&c, Method::GET, s.url(&format!("/v1/records?{bad}")), &key)
            .send()
            .await
            .unwrap();
        expect_problem(r, 400, "invalid-parameter").await;
    }
}

#[tokio::test]
async fn roles_limit_what_keys_can_do() {
    let s = server();
    let c = s.client();
    let reader = s.create_key("default", "reader");
    let auditor = s.create_key("default", "auditor");
    let writer = s.create_key("default", "writer");
    let id = create_id(&s, &writer, patient("p-9")).await;
    let r = authed(&c, Method::POST, s.url("/v1/records"), &reader)
        .json(&patient("p"))
        .send()
        .await
        .unwrap();
    expect_problem(r, 403, "forbidden").await;
    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}")),
        &reader,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}")),
        &auditor,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 403, "forbidden").await;
    let r = authed(&c, Method::GET, s.url("/v1/admin/apikeys"), &writer)
        .send()
        .await
        .unwrap();
    expect_problem(r, 403, "forbidden").await;
    let denied = audit_events(&s, &auditor, "&outcome=denied").await;
    assert_eq!(denied.len(), 3, "every refusal is audited: {denied:?}");
}
