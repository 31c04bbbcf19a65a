//! Backups that are damaged, foreign, interrupted or kept too long, and the keys that outlive a
//! disaster: every bad case is refused naming the first bad object, and nothing good is lost.

use crate::backup::{
    backed_up_server, backup_run, copy_sink, embedded_only, failed, files, hippo,
    hippo_with_passphrase, ok, restored_conn, shipped_history, tenant_files, PASS,
};
use crate::{create_id, patient, BIN};
use std::path::Path;
use std::time::{Duration, Instant};

fn verify_copy(sink: &Path, keyring: &Path, damage: impl FnOnce(&Path)) -> String {
    let copy = tempfile::tempdir().unwrap().keep();
    copy_sink(sink, &copy);
    damage(&copy);
    let scratch = tempfile::tempdir().unwrap();
    failed(&backup_run(scratch.path(), "verify", &copy, keyring, &[]))
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_reordered_and_foreign_backups_are_refused_naming_the_object() {
    if !embedded_only() {
        return;
    }
    let (_s, sink, keyring) = shipped_history(3).await;
    let scratch = tempfile::tempdir().unwrap();
    ok(&backup_run(scratch.path(), "verify", &sink, &keyring, &[]));
    let batches = tenant_files(&sink, "-batch.sealed");
    assert!(
        batches.len() >= 2,
        "several batches were shipped: {batches:?}"
    );
    let rel = |p: &Path| p.strip_prefix(&sink).unwrap().to_string_lossy().to_string();

    // Truncated.
    let victim = rel(&batches[0]);
    let err = verify_copy(&sink, &keyring, |c| {
        let p = c.join(&victim);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert!(err.contains(&victim) && err.contains("truncated"), "{err}");
    // One flipped byte in a base (SQLCipher pages).
    let base = rel(&tenant_files(&sink, "-base.db")[0]);
    let err = verify_copy(&sink, &keyring, |c| {
        let p = c.join(&base);
        let mut bytes = std::fs::read(&p).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
    });
    assert!(err.contains(&base) && err.contains("altered"), "{err}");
    // A missing object in the middle of the chain.
    let manifests = tenant_files(&sink, "-manifest.json");
    let middle = rel(&manifests[1]);
    let err = verify_copy(&sink, &keyring, |c| {
        std::fs::remove_file(c.join(&middle)).unwrap()
    });
    assert!(
        err.contains("missing") && err.contains("backup/default/"),
        "{err}"
    );
    // Two batches swapped (objects and manifests renamed into each other's places).
    let (a, b) = (rel(&manifests[1]), rel(&manifests[2]));
    let err = verify_copy(&sink, &keyring, |c| {
        std::fs::rename(c.join(&a), c.join("tmp")).unwrap();
        std::fs::rename(c.join(&b), c.join(&a)).unwrap();
        std::fs::rename(c.join("tmp"), c.join(&b)).unwrap();
    });
    assert!(err.contains("names") || err.contains("chain"), "{err}");
    // An altered manifest (its signature no longer verifies).
    let err = verify_copy(&sink, &keyring, |c| {
        let p = c.join(&a);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replacen("\"rows\": ", "\"rows\": 1", 1);
        std::fs::write(&p, text).unwrap();
    });
    assert!(err.contains(&a) && err.contains("signature"), "{err}");
    // Another deployment's keyring: refused before anything is read as data.
    let other = tempfile::tempdir().unwrap();
    let foreign = other.path().join("other-keyring.json");
    let out = std::process::Command::new(BIN)
        .args(["keyring", "generate"])
        .output()
        .unwrap();
    hippo_store::keyring::write_private_file(&foreign, &out.stdout).unwrap();
    let err = verify_copy(&sink, &foreign, |_| {});
    assert!(err.contains("another deployment"), "{err}");
    // The original is untouched by all of this.
    ok(&backup_run(scratch.path(), "verify", &sink, &keyring, &[]));
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_needs_an_empty_target_and_the_escrowed_keyring_opens_it() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    let id = create_id(&s, &s.admin_key.clone(), patient("escrowed")).await;
    let escrow = s.dir.path().join("escrow.json");
    let short = hippo_with_passphrase(
        &s.data_dir,
        &["keyring", "escrow", "--out", escrow.to_str().unwrap()],
        "too short",
    );
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 16"),
        "{short:?}"
    );
    ok(&hippo(
        &s.data_dir,
        &["keyring", "escrow", "--out", escrow.to_str().unwrap()],
    ));
    let text = std::fs::read_to_string(&escrow).unwrap();
    let kek_line = std::fs::read_to_string(s.data_dir.join("keyring.json")).unwrap();
    let kek = kek_line.split('"').nth(5).unwrap().to_owned();
    assert!(
        !text.contains(&kek),
        "the escrow copy does not hold the KEK in the clear"
    );
    s.stop();
    // The target exists and holds something: refused, untouched.
    let target = s.dir.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let err = failed(&hippo(
        &target,
        &[
            "backup",
            "restore",
            "--from",
            sink.to_str().unwrap(),
            "--escrow",
            escrow.to_str().unwrap(),
        ],
    ));
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("keep.txt")).unwrap(),
        "mine"
    );
    // A wrong passphrase opens nothing.
    let wrong = hippo_with_passphrase(
        &target,
        &[
            "backup",
            "restore",
            "--force",
            "--from",
            sink.to_str().unwrap(),
            "--escrow",
            escrow.to_str().unwrap(),
        ],
        "not the passphrase at all",
    );
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("does not open"),
        "{wrong:?}"
    );
    // Forced, with the escrow copy: restored; the old contents are moved aside, not lost.
    ok(&hippo(
        &target,
        &[
            "backup",
            "restore",
            "--force",
            "--from",
            sink.to_str().unwrap(),
            "--escrow",
            escrow.to_str().unwrap(),
        ],
    ));
    let c = restored_conn(&target, Some("default"));
    let n: i64 = c
        .query_row("SELECT count(*) FROM records WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
    let aside: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("target.replaced-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].path().join("keep.txt").exists());
    let _ = PASS;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_backup_and_restore_loses_nothing_and_the_next_run_completes() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    let key = s.admin_key.clone();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create_id(&s, &key, patient(&format!("k-{i}"))).await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Killed while writes (and so shipping) are under way.
    let writer = {
        let c = s.client();
        let url = s.url("/v1/records");
        let key = key.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let _ = c
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&patient(&format!("w-{i}")))
                    .send()
                    .await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.kill();
    let _ = writer.await;
    // What was shipped before the kill still verifies.
    let keyring = s.data_dir.join("keyring.json");
    let scratch = tempfile::tempdir().unwrap();
    ok(&backup_run(scratch.path(), "verify", &sink, &keyring, &[]));
    // The next run starts a new generation and ships everything, the pre-kill writes included.
    s.restart();
    let last = create_id(&s, &key, patient("after-restart")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let listed = ok(&hippo(
        &s.data_dir,
        &["backup", "list", "--from", sink.to_str().unwrap()],
    ));
    assert!(
        listed.matches("default ").count() >= 2,
        "a new generation after the restart:\n{listed}"
    );

    // A restore killed midway leaves no target; run again, it completes.
    let target = s.dir.path().join("restored");
    let mut caught = false;
    for delay_ms in [5u64, 20, 60, 150] {
        let mut child = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(&target)
            .args([
                "backup",
                "restore",
                "--from",
                sink.to_str().unwrap(),
                "--keyring",
                keyring.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            caught = true;
            assert!(
                !target.exists(),
                "an interrupted restore leaves no half-restored target"
            );
            break;
        }
        std::fs::remove_dir_all(&target).unwrap();
    }
    let started = Instant::now();
    ok(&backup_run(&target, "restore", &sink, &keyring, &[]));
    eprintln!(
        "restore after kill: caught midway = {caught}, rerun took {:?}",
        started.elapsed()
    );
    let c = restored_conn(&target, Some("default"));
    for id in ids.iter().chain([&last]) {
        let n: i64 = c
            .query_row("SELECT count(*) FROM records WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "record {id} restored");
    }
    ok(&hippo(&target, &["audit", "verify"]));
    s.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn shipping_failures_alert_and_count_but_writes_go_on() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    let key = s.admin_key.clone();
    // A canary name in a body: it must reach neither the logs nor any backup object in clear.
    let mut canary = patient("shipped");
    canary["body"]["name"] = serde_json::Value::from(hippo_testkit::CANARY);
    create_id(&s, &key, canary).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The destination disappears (a file where the folder was): rounds fail.
    std::fs::remove_dir_all(&sink).unwrap();
    std::fs::write(&sink, "not a folder").unwrap();
    for i in 0..5 {
        create_id(&s, &key, patient(&format!("unshipped-{i}"))).await;
    }
    let logs = s.logs_when(|l| l.contains("backup shipping failed"));
    assert!(
        logs.contains("\"alert\":true"),
        "an alert-level event: {logs}"
    );
    assert!(!logs.contains("unshipped-"), "no PHI in the event");
    assert!(
        !logs.contains(hippo_testkit::CANARY),
        "no PHI in any log line"
    );
    let metrics = s
        .client()
        .get(s.url("/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hippo_backup_failures_total "))
        .expect("the failure counter is exported")
        .parse()
        .unwrap();
    assert!(failures >= 1, "{metrics}");
    // The destination comes back: the queued changes ship and restore.
    std::fs::remove_file(&sink).unwrap();
    let last = create_id(&s, &key, patient("after-recovery")).await;
    s.stop();
    let target = s.dir.path().join("r");
    ok(&backup_run(
        &target,
        "restore",
        &sink,
        &s.data_dir.join("keyring.json"),
        &[],
    ));
    let c = restored_conn(&target, Some("default"));
    let n: i64 = c
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 7);
    let found: i64 = c
        .query_row("SELECT count(*) FROM records WHERE id = ?1", [&last], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(found, 1);
    for f in files(&sink, "") {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !hippo_testkit::contains_bytes(&bytes, hippo_testkit::CANARY.as_bytes()),
            "{} holds the canary in clear",
            f.display()
        );
    }
    assert!(!s.logs().contains(hippo_testkit::CANARY));
}
