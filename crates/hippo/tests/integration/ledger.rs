//! The tamper-evident audit trail: signed tree heads, proofs an auditor checks independently,
//! tamper detection by `hippo audit verify` (the same tampering on either store, through
//! `TestServer::tamper`), and export to sealed files.

use super::*;
use hippo_audit::merkle;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use hippo_testkit::Tamper;
use reqwest::Method;

/// A server with some history: creates, reads, a search, then a signed head.
pub async fn server_with_history() -> (TestServer, String) {
    history(server()).await
}

/// Gives `s` some history: creates, reads, and an auditor key.
pub async fn history(s: TestServer) -> (TestServer, String) {
    let key = s.admin_key.clone();
    let c = s.client();
    for i in 0..6 {
        let id = create_id(&s, &key, patient(&format!("p-{i}"))).await;
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

/// Asks the server to sign a tree head of the auditor's log now.
pub async fn sign(s: &TestServer, auditor: &str) -> SignedTreeHead {
    let r = authed(
        &s.client(),
        Method::POST,
        s.url("/v1/audit/tree-heads"),
        auditor,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// The deployment's audit public key as the CLI publishes it (out of band, for auditors);
/// checks that its PEM and hex forms agree.
pub fn published_key(s: &TestServer) -> AuditPublicKey {
    let out = audit_cli(s, &["pubkey", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = AuditPublicKey::from_hex(info["public_key_hex"].as_str().unwrap()).unwrap();
    assert_eq!(
        AuditPublicKey::from_pem(info["pem"].as_str().unwrap()).unwrap(),
        key
    );
    key
}

/// A consistency proof between two tree sizes, from the server, checked against both roots.
pub async fn check_consistency(
    s: &TestServer,
    auditor: &str,
    from: &SignedTreeHead,
    to: &SignedTreeHead,
) {
    let url = s.url(&format!(
        "/v1/audit/proofs/consistency?from={}&to={}",
        from.head.tree_size, to.head.tree_size
    ));
    let p: Value = authed(&s.client(), Method::GET, url, auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    merkle::verify_consistency(
        from.head.tree_size,
        to.head.tree_size,
        &from.head.root_hash,
        &to.head.root_hash,
        &hashes(&p["proof"]),
    )
    .unwrap();
}

/// A JSON array of hex hashes.
fn hashes(v: &Value) -> Vec<merkle::Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::hash_from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn proofs_verify_independently_with_the_published_key() {
    let (s, auditor) = server_with_history().await;
    let c = s.client();
    let first = sign(&s, &auditor).await;
    create(&s, &s.admin_key, patient("later")).await;
    let second = sign(&s, &auditor).await;
    assert!(second.head.tree_size > first.head.tree_size);

    // The auditor's key comes from the CLI, out of band.
    let key = published_key(&s);
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
    let leaf = merkle::hash_from_hex(p["leaf_hash"].as_str().unwrap()).unwrap();
    merkle::verify_inclusion(
        &leaf,
        2,
        second.head.tree_size,
        &hashes(&p["proof"]),
        &second.head.root_hash,
    )
    .unwrap();
    check_consistency(&s, &auditor, &first, &second).await;

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

/// Signs the default tenant's log (by a clean stop), checks that it verifies, applies `tamper`
/// to it in storage, and returns what verify then says.
async fn tampered(tamper: Tamper) -> String {
    let (mut s, _) = server_with_history().await;
    s.stop(); // signs the final heads
    let (ok, report) = verify(&s);
    assert!(ok, "a clean log verifies: {report}");
    assert!(report.contains("OK"), "{report}");
    s.tamper(&default_log(), tamper).await;
    let (ok, report) = verify(&s);
    assert!(!ok, "tampering went unnoticed: {report}");
    report
}

#[tokio::test]
async fn altered_event_is_pinpointed() {
    let report = tampered(Tamper::AlterOutcome(4)).await;
    assert!(report.contains("event 4 was altered"), "{report}");
}

#[tokio::test]
async fn deleted_event_is_pinpointed() {
    let report = tampered(Tamper::Delete(5)).await;
    assert!(report.contains("event 5 is missing (deleted)"), "{report}");
}

#[tokio::test]
async fn inserted_event_is_detected() {
    let report = tampered(Tamper::DuplicateAtEnd(2)).await;
    assert!(
        report.contains("unexpected event 13") && report.contains("inserted"),
        "{report}"
    );
}

#[tokio::test]
async fn swapped_events_are_detected() {
    let report = tampered(Tamper::Swap(3, 6)).await;
    // The sequence number is part of each leaf, so moved events no longer match their place.
    assert!(
        report.contains("event 3 was altered") || report.contains("events 3 and 6"),
        "{report}"
    );
}

#[tokio::test]
async fn external_tree_heads_catch_a_rewritten_log() {
    let (mut s, auditor) = server_with_history().await;
    let head = sign(&s, &auditor).await;
    let kept = s.dir.path().join("kept-head.json");
    std::fs::write(&kept, head.to_json()).unwrap();
    s.stop();
    // Rewrite history consistently inside the database (events and their stored leaf hashes and
    // heads), as an insider with database access would: only the head kept outside can tell.
    s.tamper(&default_log(), Tamper::TruncateAfter(2)).await;
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

#[tokio::test]
async fn export_writes_sealed_batches_and_resumes() {
    use std::os::unix::fs::PermissionsExt;
    let (mut s, _) = server_with_history().await;
    s.stop();
    let sink = s.dir.path().join("sink");
    let export = || {
        let to = sink.to_str().unwrap();
        audit_cli(
            &s,
            &[
                "export",
                "--tenant",
                "default",
                "--to",
                to,
                "--batch-size",
                "5",
            ],
        )
    };
    let out = export();
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
    let again = export();
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 new batch"));
    let last_manifest = names
        .iter()
        .rev()
        .find(|n| n.ends_with("manifest.json"))
        .unwrap();
    std::fs::remove_file(dir.join(last_manifest)).unwrap();
    let resumed = export();
    assert!(
        String::from_utf8_lossy(&resumed.stderr).contains("1 new batch"),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(dir.join(last_manifest).exists());
}
