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
    let sealed = create_id(
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
        ("Zebediah ze~", 9),
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
    // The restricted note the reader's searches matched but never saw is named in no search
    // event (only the reader searched): the accounting of disclosures lists what was disclosed.
    assert!(!text.contains(sealed.as_str()), "{text}");
}

async fn search_with(s: &TestServer, key: &str, params: &[(&str, &str)]) -> Response {
    s.client()
        .get(s.url("/v1/search"))
        .query(params)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn key_fields_rank_first_and_snippets_show_only_what_the_caller_may_read() {
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(
        policies.path().join("default.rego"),
        "package hippo.tenant\nremove_fields contains \"/private\"\n",
    )
    .unwrap();
    let s =
        server_with(Options::default().env("HIPPO_POLICY__DIR", policies.path().to_str().unwrap()));
    let key = s.admin_key.clone();
    // The note says the name three times, the patient once, in its key field: the patient
    // ranks first all the same.
    let note = create_id(
        &s,
        &key,
        json!({"type": "ClinicalNote", "subject": "p-1", "body": {
            "text": "Quimby reports chest pain since Monday. Quimby denies fever; Quimby to return",
            "private": "quimby family history withheld"}}),
    )
    .await;
    let patient = create_id(
        &s,
        &key,
        json!({"type": "Patient", "subject": "p-1", "body": {"name": "Ada Quimby", "gender": "female"}}),
    )
    .await;
    let reader = s.create_key("default", "reader");
    // Names spelled alike: a fuzzy term finds the patient (the name is its key text), not the
    // note that only mentions it.
    let v: Value = search(&s, &reader, "quinby~").await.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["items"][0]["record"]["id"], patient.as_str(), "{v}");
    let v: Value = search_with(&s, &reader, &[("q", "quimby"), ("snippet", "true")])
        .await
        .json()
        .await
        .unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["record"]["id"], patient.as_str(), "{v}");
    assert_eq!(items[1]["record"]["id"], note.as_str(), "{v}");
    assert_eq!(
        items[0]["snippet"],
        json!([{"text": "Ada "}, {"text": "Quimby", "highlight": true}])
    );
    let note_snippet = items[1]["snippet"].to_string();
    assert!(
        note_snippet.contains(r#"{"highlight":true,"text":"Quimby"}"#),
        "{note_snippet}"
    );
    assert!(note_snippet.contains("chest pain"), "{note_snippet}");
    // The removed field is in neither the record nor its snippet.
    assert!(!v.to_string().contains("withheld"), "{v}");
    // A search that matches only the removed field shows the record without a snippet.
    let v: Value = search_with(&s, &reader, &[("q", "withheld"), ("snippet", "true")])
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("snippet").is_none()),
        "{v}"
    );
    // No snippets unless asked for; a malformed switch is a 400.
    let v: Value = search(&s, &reader, "quimby").await.json().await.unwrap();
    assert!(v["items"][0].get("snippet").is_none(), "{v}");
    let p = expect_problem(
        search_with(&s, &reader, &[("q", "quimby"), ("snippet", "yes")]).await,
        400,
        "invalid-parameter",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("snippet"), "{p}");
}

#[test]
fn search_settings_out_of_range_stop_the_start_naming_the_key() {
    for (var, key) in [
        ("HIPPO_SEARCH__RANK_CANDIDATES", "search.rank_candidates"),
        ("HIPPO_SEARCH__MIN_PREFIX", "search.min_prefix"),
    ] {
        let (status, log) = TestServer::start_failing(BIN, Options::default().env(var, "0"));
        assert!(!status.success());
        assert!(log.contains(key), "{log}");
    }
}

#[tokio::test]
async fn the_configured_minimum_prefix_applies() {
    let s = server_with(Options::default().env("HIPPO_SEARCH__MIN_PREFIX", "4"));
    let p = expect_problem(search(&s, &s.admin_key, "qui*").await, 400, "invalid-query").await;
    assert_eq!(p["errors"][0]["code"], "position_0", "{p}");
    assert_eq!(search(&s, &s.admin_key, "quim*").await.status(), 200);
}

/// An operator changes which fields are key text; `hippo records reindex` applies it to the
/// records already stored, with a progress line, an audit event per page, and no PHI printed.
#[tokio::test]
async fn reindex_applies_changed_search_settings_to_stored_records() {
    let mut s = server();
    let key = s.admin_key.clone();
    let id = create_id(
        &s,
        &key,
        json!({"type": "Allergy", "subject": "p-3", "body": {"substance": format!("Peanut {CANARY}")}}),
    )
    .await;
    // `Allergy` has no key fields by default: a fuzzy (key text) term does not find it.
    let v: Value = search(&s, &key, "peanutt~").await.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().is_empty(), "{v}");
    s.stop();
    let config = s.data_dir.join("hippo.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap_or_default();
    toml.push_str("\n[search.types.Allergy]\nkey = [\"substance\"]\n");
    std::fs::write(&config, toml).unwrap();
    let out = s.cli(&["records", "reindex"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("tenant default: 1 record(s) re-indexed"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "{text}");
    s.restart();
    let v: Value = search(&s, &key, "peanutt~").await.json().await.unwrap();
    assert_eq!(v["items"][0]["record"]["id"], id.as_str(), "{v}");
    let auditor = s.create_key("default", "auditor");
    let events = audit_events(&s, &auditor, "&action=search.reindex").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["count"], 1);
}
