//! Integration tests: the real `hippo` binary, on an ephemeral port, over real TLS, on the store
//! `HIPPO_TEST_STORE` selects (`sqlite`, the default, or `postgres`). Every scenario is written
//! once and runs on either store; the few that are about one store's mechanics say so and skip
//! themselves on the other (see `hippo_testkit::runs_on`). With the variable unset,
//! `every_store` runs the whole binary again on PostgreSQL, so `cargo test` covers both.

mod alerts;
mod audit;
mod backup;
mod backup_continuity;
mod backup_faults;
mod backup_ops;
mod batch;
mod benches;
mod breakglass;
mod connections;
mod crash;
mod disclosures;
mod documents;
mod documents_keys;
mod documents_kms;
mod documents_s3;
mod encryption;
mod errors;
mod every_store;
mod import;
mod init;
mod isolation;
mod ledger;
mod metrics;
mod moto;
mod numbers;
mod ops;
mod people;
mod people_sessions;
mod readme;
mod records;
mod s3_export;
mod search;
mod shared_database;
mod tenant_move;
mod tls;
mod traces;
mod verify_cli;

use hippo_core::LogId;
use hippo_testkit::{Options, TestServer};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_hippo");

pub fn server() -> TestServer {
    TestServer::start(BIN)
}

pub fn server_with(options: Options) -> TestServer {
    TestServer::start_with(BIN, options)
}

/// Sends a request with a bearer key.
pub fn authed(
    c: &Client,
    method: reqwest::Method,
    url: String,
    key: &str,
) -> reqwest::RequestBuilder {
    c.request(method, url).bearer_auth(key)
}

/// Creates a record and returns its id.
pub async fn create_id(s: &TestServer, key: &str, doc: Value) -> String {
    create(s, key, doc).await["id"]
        .as_str()
        .expect("a created record has an id")
        .to_owned()
}

pub async fn create(s: &TestServer, key: &str, doc: Value) -> Value {
    let r = authed(
        &s.client(),
        reqwest::Method::POST,
        s.url("/v1/records"),
        key,
    )
    .json(&doc)
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json().await.unwrap()
}

/// The log of the tenant every fresh deployment has.
pub fn default_log() -> LogId {
    LogId::Tenant("default".parse().expect("tenant id"))
}

pub fn patient(subject: &str) -> Value {
    json!({"type": "Patient", "subject": subject, "labels": ["intake"], "body": {"name": "Test Person", "birth_date": "1970-01-01"}})
}

/// Asserts a problem+json response with the given status and type slug; returns the problem.
/// A GET with a bearer key, its JSON body (the test fails on a transport or JSON error).
pub async fn get_json(s: &TestServer, key: &str, path: &str) -> Value {
    authed(&s.client(), reqwest::Method::GET, s.url(path), key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `field` of each error a problem response lists, in order.
pub fn problem_fields(p: &Value) -> Vec<&str> {
    p["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

pub async fn expect_problem(r: Response, status: u16, slug: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "wrong status");
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], format!("urn:hippo:problem:{slug}"), "{p}");
    assert_eq!(p["status"], status);
    assert!(
        p["title"].is_string() && p["detail"].is_string() && p["request_id"].is_string(),
        "{p}"
    );
    p
}

/// All audit events of the caller's tenant, following pagination.
pub async fn audit_events(s: &TestServer, auditor: &str, query: &str) -> Vec<Value> {
    let c = s.client();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("/v1/audit?limit=1000{query}");
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let r = authed(&c, reqwest::Method::GET, s.url(&url), auditor)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}
