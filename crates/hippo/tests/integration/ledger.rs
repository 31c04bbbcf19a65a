//! The tamper-evident audit trail: signed tree heads, proofs an auditor checks independently,
//! tamper detection by `hippo audit verify`, redaction, export and the accounting of disclosures.

use super::*;
use hippo_audit::merkle;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use reqwest::Method;
use std::process::Command;

/// A server with some history: creates, reads, a search, then a signed head.
pub async fn server_with_history() -> (TestServer, String) {
    history(server()).await
}

/// Gives `s` some history: creates, reads, and an auditor key.
pub async fn history(s: TestServer) -> (TestServer, String) {
    let key = s.admin_key.clone();
    let c = s.client();
    for i in 0..6 {
        let id = create(&s, &key, patient(&format!("p-{i}"))).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
            .send()
            .await
            .unwrap();
    }
    let auditor = s.create_key("default", "auditor");
    (s, auditor)
}

pub fn audit_cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    let mut full = vec!["audit"];
    full.extend_from_slice(args);
    s.cli(&full)
}

pub fn verify(s: &TestServer) -> (bool, String) {
    let out = audit_cli(s, &["verify", "--tenant", "default"]);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn proofs_verify_independently_with_the_published_key() {
    let (s, auditor) = server_with_history().await;
    let c = s.client();
    let r = authed(&c, Method::POST, s.url("/v1/audit/tree-heads"), &auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first: SignedTreeHead = r.json().await.unwrap();
    create(&s, &s.admin_key, patient("later")).await;
    let second: SignedTreeHead = authed(&c, Method::POST, s.url("/v1/audit/tree-heads"), &auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(second.head.tree_size > first.head.tree_size);

    // The auditor's key comes from the CLI, out of band.
    let pem = String::from_utf8(audit_cli(&s, &["pubkey", "--json"]).stdout).unwrap();
    let info: Value = serde_json::from_str(&pem).unwrap();
    let key = AuditPublicKey::from_hex(info["public_key_hex"].as_str().unwrap()).unwrap();
    assert_eq!(
        AuditPublicKey::from_pem(info["pem"].as_str().unwrap()).unwrap(),
        key
    );
    first.verify(&key).unwrap();
    second.verify(&key).unwrap();

    let p: Value = authed(
        &c,
        Method::GET,
        s.url(&format!(
            "/v1/audit/proofs/inclusion?seq=3&tree_size={}",
            second.head.tree_size
        )),
        &auditor,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let proof: Vec<merkle::Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    let leaf = merkle::hash_from_hex(p["leaf_hash"].as_str().unwrap()).unwrap();
    merkle::verify_inclusion(
        &leaf,
        2,
        second.head.tree_size,
        &proof,
        &second.head.root_hash,
    )
    .unwrap();

    let url = s.url(&format!(
        "/v1/audit/proofs/consistency?from={}&to={}",
        first.head.tree_size, second.head.tree_size
    ));
    let p: Value = authed(&c, Method::GET, url, &auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proof: Vec<merkle::Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    merkle::verify_consistency(
        first.head.tree_size,
        second.head.tree_size,
        &first.head.root_hash,
        &second.head.root_hash,
        &proof,
    )
    .unwrap();

    let r = authed(
        &c,
        Method::GET,
        s.url("/v1/audit/proofs/inclusion?seq=99999"),
        &auditor,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 400, "invalid-parameter").await;
    let r = authed(
        &c,
        Method::GET,
        s.url("/v1/audit/tree-heads"),
        &s.create_key("default", "reader"),
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 403, "forbidden").await;
}

/// Runs `tamper` on the tenant database of a server whose log is signed, and returns what verify says.
async fn tampered(tamper: &str) -> String {
    let (mut s, _) = server_with_history().await;
    s.stop(); // signs the final heads
    let (ok, report) = verify(&s);
    assert!(ok, "a clean log verifies: {report}");
    assert!(report.contains("OK"), "{report}");
    let db = s.raw_db(Some("default"));
    db.execute_batch("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;")
        .unwrap();
    db.execute_batch(tamper).unwrap();
    drop(db);
    let (ok, report) = verify(&s);
    assert!(!ok, "tampering went unnoticed: {report}");
    report
}

#[tokio::test]
async fn altered_event_is_pinpointed() {
    let report = tampered("UPDATE audit_events SET outcome = 'denied' WHERE seq = 4;").await;
    assert!(report.contains("event 4 was altered"), "{report}");
}

#[tokio::test]
async fn deleted_event_is_pinpointed() {
    let report = tampered("DELETE FROM audit_events WHERE seq = 5;").await;
    assert!(report.contains("event 5 is missing (deleted)"), "{report}");
}

#[tokio::test]
async fn inserted_event_is_detected() {
    let report = tampered(
        "INSERT INTO audit_events SELECT (SELECT MAX(seq) FROM audit_events) + 1, time_ms, tenant, actor_id, actor_kind, action, resource_type, resource_id,
           subject_id, outcome, request_id, source_addr, user_agent, details, labels, leaf_hash FROM audit_events WHERE seq = 2;",
    )
    .await;
    assert!(
        report.contains("unexpected event 13") && report.contains("inserted"),
        "{report}"
    );
}

#[tokio::test]
async fn swapped_events_are_detected() {
    let report = tampered(
        "UPDATE audit_events SET seq = -1 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 6; UPDATE audit_events SET seq = 6 WHERE seq = -1;",
    )
    .await;
    // The sequence number is part of each leaf, so moved events no longer match their place.
    assert!(
        report.contains("event 3 was altered") || report.contains("events 3 and 6"),
        "{report}"
    );
}

#[tokio::test]
async fn external_tree_heads_catch_a_rewritten_log() {
    let (mut s, auditor) = server_with_history().await;
    let head: SignedTreeHead = authed(
        &s.client(),
        Method::POST,
        s.url("/v1/audit/tree-heads"),
        &auditor,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let kept = s.dir.path().join("kept-head.json");
    std::fs::write(&kept, head.to_json()).unwrap();
    s.stop();
    // Rewrite history consistently inside the database (events and their stored leaf hashes and
    // heads), as an insider with database access would: only the head kept outside can tell.
    let db = s.raw_db(Some("default"));
    db.execute_batch("DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq > 2; DELETE FROM tree_heads; UPDATE audit_tree SET size = 0, peaks = '[]';").unwrap();
    drop(db);
    let out = audit_cli(
        &s,
        &[
            "verify",
            "--tenant",
            "default",
            "--from-tree-head",
            kept.to_str().unwrap(),
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
}

/// Sensitive values a realistic request mix carries in subjects, bodies and searches.
pub const SENSITIVE: [&str; 5] = [
    "MRN-889-2231",
    "Jane Q. Public",
    "555-0100",
    "jane@example.org",
    "1970-02-03",
];

/// Creates, reads (with a purpose), searches and a rejected create, for each sensitive value.
pub async fn sensitive_request_mix(s: &TestServer) {
    let (c, key) = (s.client(), s.admin_key.clone());
    for v in SENSITIVE {
        let doc = json!({"type": "Patient", "subject": v, "body": {"name": v, "telecom": v, "note": format!("seen {v}")}});
        let id = create(s, &key, doc).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
            .header("x-hippo-purpose", "treatment")
            .send()
            .await
            .unwrap();
        authed(&c, Method::GET, s.url("/v1/records"), &key)
            .query(&[("subject", v), ("type", "Patient")])
            .send()
            .await
            .unwrap();
        authed(&c, Method::POST, s.url("/v1/records"), &key)
            .json(&json!({"type": "Patient", "subject": v, "body": v}))
            .send()
            .await
            .unwrap();
    }
}

/// Checks stored audit rows (subject id, details, labels, action) for plaintext, and that
/// searches are labelled and hashed; then that the auditor can still find a subject.
pub async fn assert_no_plaintext(
    s: &TestServer,
    rows: &[(Option<String>, String, String, String)],
) {
    assert!(rows.len() >= 20, "{} rows", rows.len());
    for (subject, details, _, _) in rows {
        for v in SENSITIVE {
            assert!(!details.contains(v), "plaintext in details: {details}");
            assert!(
                !subject.as_deref().unwrap_or("").contains(v),
                "plaintext subject: {subject:?}"
            );
        }
    }
    let searches: Vec<_> = rows.iter().filter(|r| r.3 == "record.list").collect();
    assert_eq!(searches.len(), SENSITIVE.len());
    assert!(
        searches
            .iter()
            .all(|r| r.2.contains("sensitive_content") && r.1.contains("\"hmac\"")),
        "{searches:?}"
    );
    // Equal values give equal keyed hashes: an investigator can still correlate.
    let auditor = s.create_key("default", "auditor");
    let by_subject = audit_events(s, &auditor, "&subject=MRN-889-2231").await;
    assert_eq!(
        by_subject
            .iter()
            .filter(|e| e["action"] == "record.read")
            .count(),
        1
    );
}

#[tokio::test]
async fn no_sensitive_value_reaches_the_audit_store_in_plaintext() {
    let s = server();
    sensitive_request_mix(&s).await;
    let db = s.raw_db(Some("default"));
    let mut stmt = db
        .prepare("SELECT subject_id, details, labels, action FROM audit_events")
        .unwrap();
    let rows: Vec<(Option<String>, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_no_plaintext(&s, &rows).await;
}

#[tokio::test]
async fn accounting_of_disclosures_in_json_and_csv() {
    let s = server();
    let c = s.client();
    let writer = s.create_key("default", "writer");
    let reader = s.create_key("default", "reader");
    let id = create(&s, &writer, patient("patient-7")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    create(&s, &writer, patient("someone-else")).await;
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}")),
        &reader,
    )
    .header("x-hippo-purpose", "treatment")
    .send()
    .await
    .unwrap();
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}")),
        &reader,
    )
    .header("x-hippo-purpose", "emergency")
    .send()
    .await
    .unwrap();
    let auditor = s.create_key("default", "auditor");
    let r: Value = authed(
        &c,
        Method::GET,
        s.url("/v1/audit/disclosures?subject=patient-7"),
        &auditor,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{r}");
    assert_eq!(items[0]["action"], "record.create");
    assert_eq!(items[1]["purpose"], "treatment");
    assert_eq!(
        (
            items[2]["purpose"].as_str(),
            items[2]["emergency"].as_bool()
        ),
        (Some("emergency"), Some(true))
    );
    let r = authed(
        &c,
        Method::GET,
        s.url("/v1/audit/disclosures?subject=patient-7&format=csv"),
        &auditor,
    )
    .send()
    .await
    .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("time,action,actor_id"));
    let r = authed(&c, Method::GET, s.url("/v1/audit/disclosures"), &auditor)
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-parameter").await;
}

#[tokio::test]
async fn export_writes_sealed_batches_and_resumes() {
    use std::os::unix::fs::PermissionsExt;
    let (mut s, _) = server_with_history().await;
    s.stop();
    let sink = s.dir.path().join("sink");
    let out = audit_cli(
        &s,
        &[
            "export",
            "--tenant",
            "default",
            "--to",
            sink.to_str().unwrap(),
            "--batch-size",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = sink.join("default");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() >= 4 && names.len().is_multiple_of(2),
        "{names:?}"
    );
    for n in &names {
        assert_eq!(
            std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o222,
            0,
            "{n} is writable"
        );
    }
    // The batches recompute to the signed root in their manifest.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            dir.join(
                names
                    .iter()
                    .rev()
                    .find(|n| n.ends_with("manifest.json"))
                    .unwrap(),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    let mut leaves = Vec::new();
    for n in names.iter().filter(|n| n.ends_with(".ndjson")) {
        for line in std::fs::read_to_string(dir.join(n)).unwrap().lines() {
            leaves.push(merkle::leaf_hash(line.as_bytes()));
        }
    }
    let head: SignedTreeHead = serde_json::from_value(manifest["tree_head"].clone()).unwrap();
    assert_eq!(merkle::root_from_leaf_hashes(&leaves), head.head.root_hash);
    assert!(manifest["retain_until"].as_str().unwrap() > "2032");

    // Idempotent, and resumable after a crash that lost the last manifest.
    let again = audit_cli(
        &s,
        &[
            "export",
            "--tenant",
            "default",
            "--to",
            sink.to_str().unwrap(),
            "--batch-size",
            "5",
        ],
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 new batch"));
    let last_manifest = names
        .iter()
        .rev()
        .find(|n| n.ends_with("manifest.json"))
        .unwrap();
    std::fs::remove_file(dir.join(last_manifest)).unwrap();
    let resumed = audit_cli(
        &s,
        &[
            "export",
            "--tenant",
            "default",
            "--to",
            sink.to_str().unwrap(),
            "--batch-size",
            "5",
        ],
    );
    assert!(
        String::from_utf8_lossy(&resumed.stderr).contains("1 new batch"),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(dir.join(last_manifest).exists());
    let _ = Command::new("true").status();
}
