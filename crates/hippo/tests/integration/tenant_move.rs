//! `hippo tenant export|import`: a tenant moved from the embedded store to PostgreSQL and back
//! as a sealed, signed archive; its records (every version, as stored) arrive unchanged and
//! searchable, its audit log verified on the way in; a damaged, foreign or mis-keyed archive is
//! refused before anything is written.

use crate::{create_id, get_json, patient, server, server_with};
use hippo_store::StoreKind;
use hippo_testkit::{pg, runs_on, Options, TestServer};
use serde_json::Value;

const PASS: &str = "archive passphrase for the move";

fn run(s: &TestServer, args: &[&str], pass: &str) -> std::process::Output {
    s.command()
        .args(args)
        .env("HIPPO_ARCHIVE_PASSPHRASE", pass)
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every record of the tenant with its whole history, as the API shows it.
async fn histories(s: &TestServer, key: &str, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        out.push(get_json(s, key, &format!("/v1/records/{id}/history")).await);
    }
    out
}

/// Exports `clinic-a` from `from` into a file; returns its path and the signer's fingerprint.
fn export(from: &TestServer, name: &str) -> (std::path::PathBuf, String) {
    let file = from.dir.path().join(name);
    let o = run(
        from,
        &[
            "tenant",
            "export",
            "--tenant",
            "clinic-a",
            "--out",
            file.to_str().unwrap(),
        ],
        PASS,
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let fp = t
        .split("signed by ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (file, fp)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_moves_to_postgres_and_back_unchanged() {
    if !runs_on(
        StoreKind::Sqlite,
        "moves a tenant from the embedded store to PostgreSQL and back",
    ) {
        return;
    }
    let Some(db) = pg::TestDatabase::create("tenant_move").await else {
        return;
    };
    let a = server();
    a.create_tenant("clinic-a");
    let key_a = a.create_key("clinic-a", "admin");
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut doc = patient(&format!("move-{i}"));
        doc["body"]["name"] = Value::from(format!("Wilhelmina Move{i}"));
        ids.push(create_id(&a, &key_a, doc).await);
    }
    let c = a.client();
    let r = c
        .put(a.url(&format!("/v1/records/{}", ids[0])))
        .bearer_auth(&key_a)
        .header("If-Match", "\"1\"")
        .json(&patient("move-0"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = c
        .delete(a.url(&format!("/v1/records/{}", ids[1])))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let before = histories(&a, &key_a, &ids).await;
    let (file, fingerprint) = export(&a, "clinic-a.archive");
    let raw = std::fs::read_to_string(&file).unwrap();
    assert!(!raw.contains("Wilhelmina"), "the archive is sealed");

    // Into PostgreSQL.
    let b = server_with(Options::default().postgres(&db.url));
    let wrong = run(
        &b,
        &["tenant", "import", file.to_str().unwrap()],
        "not the archive passphrase",
    );
    assert!(
        !wrong.status.success() && text(&wrong).contains("does not open"),
        "{}",
        text(&wrong)
    );
    let mis = run(
        &b,
        &[
            "tenant",
            "import",
            file.to_str().unwrap(),
            "--expect-key",
            "sha256:00",
        ],
        PASS,
    );
    assert!(
        !mis.status.success() && text(&mis).contains("not by the expected"),
        "{}",
        text(&mis)
    );
    let mut damaged: Value = serde_json::from_str(&raw).unwrap();
    let ct = damaged["sealed"]["ciphertext"].as_str().unwrap().to_owned();
    let first = if ct.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", ct.get(1..).unwrap());
    damaged["sealed"]["ciphertext"] = Value::from(flipped);
    let bad_file = a.dir.path().join("damaged.archive");
    std::fs::write(&bad_file, damaged.to_string()).unwrap();
    let bad = run(&b, &["tenant", "import", bad_file.to_str().unwrap()], PASS);
    assert!(
        !bad.status.success() && text(&bad).contains("signature does not verify"),
        "{}",
        text(&bad)
    );
    let tenants = text(&b.cli(&["tenant", "list"]));
    assert!(
        !tenants.contains("clinic-a"),
        "refused archives write nothing: {tenants}"
    );

    let ok = run(
        &b,
        &[
            "tenant",
            "import",
            file.to_str().unwrap(),
            "--expect-key",
            &fingerprint,
        ],
        PASS,
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let again = run(&b, &["tenant", "import", file.to_str().unwrap()], PASS);
    assert!(
        !again.status.success() && text(&again).contains("already exists"),
        "{}",
        text(&again)
    );
    let key_b = b.create_key("clinic-a", "admin");
    assert_eq!(
        histories(&b, &key_b, &ids).await,
        before,
        "versions, bodies, times and authors unchanged"
    );
    let found = get_json(&b, &key_b, "/v1/search?q=wilhelmina").await;
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        3,
        "searchable after the import (one moved on, one deleted): {found}"
    );
    let verified = b.cli(&["audit", "verify", "--tenant", "clinic-a"]);
    assert!(verified.status.success(), "{}", text(&verified));

    // And back to the embedded store.
    let (file2, _) = export(&b, "clinic-a-back.archive");
    let c2 = server();
    let back = run(&c2, &["tenant", "import", file2.to_str().unwrap()], PASS);
    assert!(back.status.success(), "{}", text(&back));
    let key_c = c2.create_key("clinic-a", "admin");
    assert_eq!(histories(&c2, &key_c, &ids).await, before);
}
