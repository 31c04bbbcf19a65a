//! Numbers and strict JSON (issue 10): full-precision numbers are stored exactly and stay
//! readable through every operation; numbers that cannot be, duplicate keys and other media
//! types are refused with a problem naming the place, never the value.

use super::*;
use reqwest::Method;

/// Full-precision numbers, as clients print them; each is exactly a double or a 64-bit integer.
fn full_precision_tokens() -> Vec<String> {
    let mut tokens: Vec<String> = [
        "3.128205159193269e+60", // the issue's example
        "0.30000000000000004",
        "1.7976931348623157e308",
        "5e-324",
        "2.2250738585072014e-308",
        "-1.2345678901234567e-89",
        "9007199254740993",
        "-9223372036854775808",
        "18446744073709551615",
        "1.50",
    ]
    .map(String::from)
    .to_vec();
    // Deterministic pseudo-random doubles (SplitMix64), printed as Rust prints them: the
    // shortest decimal that reads back to the same double, with all its digits.
    let mut state = 0x5eed_u64;
    while tokens.len() < 70 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let f = f64::from_bits(z ^ (z >> 31));
        if f.is_finite() {
            tokens.push(format!("{f:e}"));
        }
    }
    tokens
}

/// The source text of `body.x` in a record's JSON text (its value as the server wrote it).
fn echoed_x(text: &str) -> String {
    let start = text.find(r#""body":{"x":"#).expect("body.x present") + r#""body":{"x":"#.len();
    let len = text[start..].find(['}', ',']).unwrap();
    text[start..start + len].to_owned()
}

/// Asserts `echoed` is the same number as `token` (exact integers digit for digit, others as
/// the same double by Rust's correctly rounding parser).
fn assert_same_number(token: &str, echoed: &str) {
    match (token.parse::<i128>(), echoed.parse::<i128>()) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{token} came back as {echoed}"),
        _ => assert_eq!(
            token.parse::<f64>().unwrap().to_bits(),
            echoed.parse::<f64>().unwrap().to_bits(),
            "{token} came back as {echoed}"
        ),
    }
}

async fn send_json(req: reqwest::RequestBuilder, body: String) -> (u16, String) {
    let r = req
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn full_precision_numbers_are_stored_exactly_and_every_operation_works() {
    let mut s = server();
    let key = s.admin_key.clone();
    let mut ids = Vec::new();
    for token in full_precision_tokens() {
        let c = s.client();
        let doc = format!(r#"{{"type":"T","body":{{"x":{token}}}}}"#);
        let (status, text) = send_json(
            authed(&c, Method::POST, s.url("/v1/records"), &key),
            doc.clone(),
        )
        .await;
        assert_eq!(status, 201, "{token}: {text}");
        assert_same_number(&token, &echoed_x(&text));
        let id = serde_json::from_str::<Value>(&text).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let url = |p: &str| s.url(&format!("/v1/records/{id}{p}"));

        let r = authed(&c, Method::GET, url(""), &key).send().await.unwrap();
        assert_eq!(r.status(), 200, "{token}");
        assert_same_number(&token, &echoed_x(&r.text().await.unwrap()));
        let r = authed(&c, Method::GET, url("/history"), &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{token}");
        let (status, text) = send_json(
            authed(&c, Method::PUT, url(""), &key).header("If-Match", "\"1\""),
            doc,
        )
        .await;
        assert_eq!(status, 200, "{token}: {text}");
        assert_same_number(&token, &echoed_x(&text));
        ids.push((token, id));
    }
    let c = s.client();
    let r = authed(&c, Method::GET, s.url("/v1/records?limit=1000"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), ids.len());

    // After a restart every version still passes its integrity check, then deletes work.
    s.restart();
    let c = s.client();
    for (token, id) in &ids {
        let r = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}/versions/1")),
            &key,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "{token}");
        assert_same_number(token, &echoed_x(&r.text().await.unwrap()));
        let r = authed(
            &c,
            Method::DELETE,
            s.url(&format!("/v1/records/{id}")),
            &key,
        )
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "{token}");
    }
}

#[tokio::test]
async fn a_body_stored_by_the_previous_release_stays_readable() {
    if !hippo_testkit::runs_on(
        hippo_testkit::StoreKind::Sqlite,
        "rewrites SQLite files; PostgreSQL is covered by hippo-store/tests/integrity.rs",
    ) {
        return;
    }
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = create_id(&s, &key, json!({"type": "T", "body": {"x": 1}})).await;
    // What the previous release stored for the issue's example: the canonical text of the
    // double it parsed inexactly, and the hash of that text.
    let old_text = r#"{"x":3.1282051591932688e+60}"#;
    let old_hash = hippo_core::canonical::sha256_hex(&serde_json::from_str(old_text).unwrap());
    let db = s.raw_db(Some("default"));
    // Versions are immutable to the server; the test stands in for the previous release.
    db.execute_batch("DROP TRIGGER record_versions_no_update")
        .unwrap();
    let changed = db
        .execute(
            "UPDATE record_versions SET body = ?1, body_sha256 = ?2 WHERE record_id = ?3",
            [old_text, old_hash.as_str(), id.as_str()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(echoed_x(&text), "3.1282051591932688e+60");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["body_sha256"], old_hash);
}

#[tokio::test]
async fn numbers_that_cannot_be_stored_exactly_are_refused_naming_the_pointer() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    for (doc, pointer) in [
        // 25 significant digits.
        (
            r#"{"type":"T","body":{"x":1.234567890123456789012345}}"#,
            "/body/x",
        ),
        (r#"{"type":"T","body":{"a":[0,1e400]}}"#, "/body/a/1"),
        (
            r#"{"type":"T","body":{"n":18446744073709551616}}"#,
            "/body/n",
        ),
    ] {
        let r = authed(&c, Method::POST, s.url("/v1/records"), &key)
            .header("content-type", "application/json")
            .body(doc)
            .send()
            .await
            .unwrap();
        let p = expect_problem(r, 400, "inexact-number").await;
        assert_eq!(p["errors"][0]["field"], pointer, "{p}");
        assert_eq!(p["errors"][0]["code"], "inexact_number", "{p}");
        for value in ["234567890123456789012345", "1e400", "18446744073709551616"] {
            assert!(!p.to_string().contains(value), "{p}");
        }
    }
    let page: Value = authed(&c, Method::GET, s.url("/v1/records"), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn duplicate_keys_are_refused_naming_the_key() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = create_id(&s, &key, patient("p-1")).await;
    let cases = [
        (
            Method::POST,
            "/v1/records".to_owned(),
            r#"{"type":"A","type":"B","body":{}}"#,
            "/type",
        ),
        (
            Method::POST,
            "/v1/records".to_owned(),
            r#"{"type":"A","body":{"vitals":[{"pulse":"CANARY-1","pulse":"CANARY-2"}]}}"#,
            "/body/vitals/0/pulse",
        ),
        (
            Method::PUT,
            format!("/v1/records/{id}"),
            r#"{"type":"Patient","body":{},"body":{"a":1}}"#,
            "/body",
        ),
        (
            Method::POST,
            "/v1/admin/apikeys".to_owned(),
            r#"{"role":"reader","role":"admin"}"#,
            "/role",
        ),
    ];
    for (method, path, doc, pointer) in cases {
        let r = authed(&c, method, s.url(&path), &key)
            .header("content-type", "application/json")
            .header("If-Match", "\"1\"")
            .body(doc)
            .send()
            .await
            .unwrap();
        let p = expect_problem(r, 400, "duplicate-key").await;
        assert_eq!(p["errors"][0]["field"], pointer, "{p}");
        assert!(!p.to_string().contains("CANARY"), "{p}");
    }
    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"1\"", "the update was not applied");
}

#[tokio::test]
async fn only_plain_utf8_json_is_accepted() {
    let s = server();
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = create_id(&s, &key, patient("p-1")).await;
    let doc = patient("p-1").to_string();
    for ct in [
        "application/json; charset=utf-16",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/json; charset=latin1",
    ] {
        let r = authed(&c, Method::POST, s.url("/v1/records"), &key)
            .header("content-type", ct)
            .body(doc.clone())
            .send()
            .await
            .unwrap();
        expect_problem(r, 415, "unsupported-media-type").await;
        let r = authed(&c, Method::PUT, s.url(&format!("/v1/records/{id}")), &key)
            .header("content-type", ct)
            .header("If-Match", "\"1\"")
            .body(doc.clone())
            .send()
            .await
            .unwrap();
        expect_problem(r, 415, "unsupported-media-type").await;
    }
    for ct in ["application/json; charset=UTF-8", "Application/JSON"] {
        let r = authed(&c, Method::POST, s.url("/v1/records"), &key)
            .header("content-type", ct)
            .body(doc.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{ct}");
    }
}
