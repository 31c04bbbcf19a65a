//! Document keys: `hippo keys rotate` beside a running server with readers hammering it (zero
//! failed reads, old versions retired once nothing refers to them, audited), and
//! crypto-shredding of one subject's and of a whole tenant's documents (keys destroyed, proven
//! not to open, even from a copy of the blob taken before, audited).

use super::documents::{download, pdf, upload_ok};
use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn cli_ok(s: &TestServer, args: &[&str]) -> String {
    let out = s.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "hippo {}: {stderr}", args.join(" "));
    assert!(!stderr.contains(hippo_testkit::CANARY));
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

#[tokio::test]
async fn rotation_under_concurrent_reads_fails_no_read_and_retires_old_versions() {
    let s = server_with(Options::default().env("HIPPO_DOCUMENTS__CHUNK_KIB", "1"));
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("rotation-subject")).await;
    let mut docs = Vec::new();
    for i in 0..12 {
        let data = pdf(3000 + i * 1000);
        let id = upload_ok(&s, &key, &rid, data.clone()).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        docs.push((id, data));
    }
    let docs = Arc::new(docs);
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut readers = Vec::new();
    for r in 0..3 {
        let (s_url, client, key, rid) = (s.base_url.clone(), s.client(), key.clone(), rid.clone());
        let (docs, stop, reads, failures) =
            (docs.clone(), stop.clone(), reads.clone(), failures.clone());
        readers.push(tokio::spawn(async move {
            let mut i = r;
            // Bounded: stops when the rotations are done, or after 20 000 reads at most.
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                let (doc, data) = &docs[i % docs.len()];
                let resp = client
                    .get(format!("{s_url}/v1/records/{rid}/documents/{doc}"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                let ok = resp.status() == 200
                    && resp
                        .bytes()
                        .await
                        .map(|b| b.as_ref() == data.as_slice())
                        .unwrap_or(false);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                reads.fetch_add(1, Ordering::Relaxed);
                i += 3;
            }
        }));
    }
    let status_before = cli_ok(&s, &["keys", "status", "--tenant", "default"]);
    assert!(
        status_before.contains("current\tdefault/v1"),
        "{status_before}"
    );
    for _ in 0..2 {
        let out = tokio::task::spawn_blocking({
            let cmd = s.command();
            move || {
                let mut cmd = cmd;
                cmd.args(["keys", "rotate", "--tenant", "default", "--quiet"])
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no read may fail during rotation"
    );
    let status = cli_ok(&s, &["keys", "status", "--tenant", "default"]);
    assert!(status.contains("current\tdefault/v3"), "{status}");
    assert!(
        status.contains("default/v3\t12 document version(s)"),
        "{status}"
    );
    assert!(
        !status.contains("default/v1\t") && !status.contains("default/v2\t"),
        "{status}"
    );
    // The retired versions' key material is gone from the key file.
    let keys: Value = serde_json::from_slice(
        &std::fs::read(s.data_dir.join("documents/keys/default.json")).unwrap(),
    )
    .unwrap();
    let versions: Vec<&String> = keys["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, vec!["3"], "{keys}");
    let auditor = s.create_key("default", "auditor");
    let events = audit_events(&s, &auditor, "&action=key.rotate").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().any(|e| e["details"]["retired"]
        .as_array()
        .is_some_and(|r| !r.is_empty())));
}

#[tokio::test]
async fn shredding_a_subject_then_a_tenant_destroys_keys_for_good() {
    let s = server_with(Options::default());
    let key = s.admin_key.clone();
    let a = create_id(&s, &key, patient("shred-me")).await;
    let b = create_id(&s, &key, patient("keep-me")).await;
    let a1 = upload_ok(&s, &key, &a, pdf(5000)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = upload_ok(&s, &key, &a, pdf(7000)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = pdf(6000);
    let b1 = upload_ok(&s, &key, &b, kept.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = |rid: &str, doc: &str| {
        s.data_dir
            .join(format!("documents/docs/default/{rid}/{doc}"))
    };
    let copy_a1 = std::fs::read(dir(&a, &a1).join("v1.blob")).unwrap();
    let meta_a1 = std::fs::read(dir(&a, &a1).join("v1.json")).unwrap();

    let refused = s.cli(&[
        "keys",
        "shred",
        "--tenant",
        "default",
        "--subject",
        "shred-me",
    ]);
    assert!(!refused.status.success(), "shredding needs --yes");
    let out = cli_ok(
        &s,
        &[
            "keys",
            "shred",
            "--tenant",
            "default",
            "--subject",
            "shred-me",
            "--yes",
        ],
    );
    assert!(out.contains("Shredded 2 document version(s)"), "{out}");
    for doc in [&a1, &a2] {
        expect_problem(download(&s, &key, &a, doc, None).await, 404, "not-found").await;
    }
    let r = download(&s, &key, &b, &b1, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), kept.as_slice());

    // Tenant shredding: even a copy of a blob taken before no longer opens.
    let copy_b1 = std::fs::read(dir(&b, &b1).join("v1.blob")).unwrap();
    let meta_b1 = std::fs::read(dir(&b, &b1).join("v1.json")).unwrap();
    let out = cli_ok(&s, &["keys", "shred", "--tenant", "default", "--yes"]);
    assert!(
        out.contains("Shredded 1 document version(s) of tenant default"),
        "{out}"
    );
    expect_problem(download(&s, &key, &b, &b1, None).await, 404, "not-found").await;
    std::fs::write(dir(&b, &b1).join("v1.blob"), &copy_b1).unwrap();
    std::fs::write(dir(&b, &b1).join("v1.json"), &meta_b1).unwrap();
    let p = expect_problem(
        download(&s, &key, &b, &b1, None).await,
        500,
        "document-key-refused",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("destroyed"), "{p}");
    // So does the pre-shred copy of the subject's blob (its tenant keys are gone too).
    std::fs::write(dir(&a, &a1).join("v1.blob"), &copy_a1).unwrap();
    std::fs::write(dir(&a, &a1).join("v1.json"), &meta_a1).unwrap();
    expect_problem(
        download(&s, &key, &a, &a1, None).await,
        500,
        "document-key-refused",
    )
    .await;

    let auditor = s.create_key("default", "auditor");
    let events = audit_events(&s, &auditor, "&action=document.shred").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["outcome"] == "success" && e["details"]["still_open"] == 0),
        "{events:?}"
    );
    // New documents after a tenant shred get fresh keys.
    let fresh = pdf(2000);
    let f = upload_ok(&s, &key, &b, fresh.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        download(&s, &key, &b, &f, None)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        fresh.as_slice()
    );
}
