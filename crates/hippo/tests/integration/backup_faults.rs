//! Backups that are damaged, foreign, interrupted or kept too long, and the keys that outlive a
//! disaster: every bad case is refused naming the first bad object, and nothing good is lost.

use crate::backup::{
    backed_up_server, backup_run, embedded_only, failed, hippo, history, ok, restored_conn, PASS,
};
use crate::{create_id, patient, BIN};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A copy of a sink directory (files are read-only: copies are made writable).
fn copy_sink(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_sink(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

fn files(sink: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![sink.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.path().to_string_lossy().ends_with(suffix) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn tenant_files(sink: &Path, suffix: &str) -> Vec<PathBuf> {
    files(&sink.join("backup").join("default"), suffix)
}

fn verify_copy(sink: &Path, keyring: &Path, damage: impl FnOnce(&Path)) -> String {
    let copy = tempfile::tempdir().unwrap().keep();
    copy_sink(sink, &copy);
    damage(&copy);
    let scratch = tempfile::tempdir().unwrap();
    failed(&backup_run(scratch.path(), "verify", &copy, &keyring, &[]))
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_reordered_and_foreign_backups_are_refused_naming_the_object() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    for _ in 0..3 {
        history(&s, &s.admin_key.clone(), 2).await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    s.stop();
    let keyring = s.data_dir.join("keyring.json");
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
    let short = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&s.data_dir)
        .args(["keyring", "escrow", "--out", escrow.to_str().unwrap()])
        .env("HIPPO_ESCROW_PASSPHRASE", "too short")
        .output()
        .unwrap();
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
    let wrong = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&target)
        .args([
            "backup",
            "restore",
            "--force",
            "--from",
            sink.to_str().unwrap(),
            "--escrow",
            escrow.to_str().unwrap(),
        ])
        .env("HIPPO_ESCROW_PASSPHRASE", "not the passphrase at all")
        .output()
        .unwrap();
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
    create_id(&s, &key, patient("shipped")).await;
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
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_the_policy_and_locks_and_a_drill_measures_rto_and_rpo() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[
        ("HIPPO_BACKUP__KEEP_DAILY", "1"),
        ("HIPPO_BACKUP__RETAIN_DAYS", "0"),
    ]);
    create_id(&s, &s.admin_key.clone(), patient("drilled")).await;
    // One generation under the default 35-day lock, before the policy below drops it.
    let to = sink.to_str().unwrap();
    ok(&hippo(&s.data_dir, &["backup", "create", "--to", to]));
    // The operator's commands read the policy from hippo.toml, as they would in production.
    let toml_path = s.data_dir.join("hippo.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    assert!(
        toml.contains("keep_daily = 7") && toml.contains("retain_days = 35"),
        "{toml}"
    );
    std::fs::write(
        &toml_path,
        toml.replace("keep_daily = 7", "keep_daily = 1")
            .replace("retain_days = 35", "retain_days = 0"),
    )
    .unwrap();
    ok(&hippo(&s.data_dir, &["backup", "create", "--to", to]));
    ok(&hippo(&s.data_dir, &["backup", "create", "--to", to]));
    // The server's generation is now the oldest: pruned below while the server runs, its
    // chain must restart rather than grow a hole.
    let listed = ok(&hippo(
        &s.data_dir,
        &["backup", "list", "--from", to, "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let gens = |v: &serde_json::Value, db: &str| {
        v["generations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["db"] == db)
            .count()
    };
    assert!(gens(&v, "default") >= 4, "{listed}");
    let dry = ok(&hippo(
        &s.data_dir,
        &["backup", "prune", "--from", to, "--dry-run"],
    ));
    assert!(dry.contains("would delete"), "{dry}");
    assert_eq!(
        ok(&hippo(
            &s.data_dir,
            &["backup", "list", "--from", to, "--json"]
        )),
        listed,
        "a dry run deletes nothing"
    );
    // One generation kept per day (the newest), and the locked one, whatever the policy.
    let pruned = ok(&hippo(&s.data_dir, &["backup", "prune", "--from", to]));
    assert!(pruned.contains("locked until"), "{pruned}");
    let after: serde_json::Value = serde_json::from_str(&ok(&hippo(
        &s.data_dir,
        &["backup", "list", "--from", to, "--json"],
    )))
    .unwrap();
    assert_eq!(gens(&after, "default"), 2, "{after}");
    create_id(&s, &s.admin_key.clone(), patient("after-prune")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let listed = ok(&hippo(&s.data_dir, &["backup", "list", "--from", to]));
    assert!(!listed.contains("DAMAGED"), "{listed}");
    let scratch = tempfile::tempdir().unwrap();
    ok(&hippo(
        scratch.path(),
        &[
            "backup",
            "verify",
            "--from",
            to,
            "--keyring",
            s.data_dir.join("keyring.json").to_str().unwrap(),
        ],
    ));
    let out = ok(&hippo(&s.data_dir, &["backup", "drill", "--from", to]));
    assert!(
        out.contains("drill passed") && out.contains("RTO") && out.contains("RPO"),
        "{out}"
    );
    assert!(out.contains("2 record(s) read back"), "{out}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn ships_to_s3_with_kms_and_object_lock_and_to_a_second_destination() {
    use crate::moto::{Moto, BUCKET, KEY_ID, SECRET};
    if !embedded_only() {
        return;
    }
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.create_locked_bucket();
    let second = tempfile::tempdir().unwrap();
    let targets = format!(
        "[\"s3://{BUCKET}/hippo-backups?region=us-east-1\", \"{}\"]",
        second.path().display()
    );
    let mut s = crate::server_with(
        hippo_testkit::Options::default()
            .env("HIPPO_BACKUP__TO", &targets)
            .env("HIPPO_BACKUP__INTERVAL_SECS", "1")
            .env("HIPPO_AUDIT__S3_ENDPOINT", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1"),
    );
    let key = s.admin_key.clone();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(create_id(&s, &key, patient(&format!("s3-{i}"))).await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.stop();
    let objects = moto.objects();
    let backups: Vec<_> = objects
        .iter()
        .filter(|o| {
            o["key"]
                .as_str()
                .unwrap()
                .starts_with("hippo-backups/backup/default/")
        })
        .collect();
    assert!(
        backups.len() >= 4,
        "base and batches with manifests: {objects:?}"
    );
    for o in &backups {
        assert_eq!(o["sse"], "aws:kms", "{o}");
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        let until = o["until"].as_f64().unwrap();
        let days = (until - hippo_core::time_fmt::now_millis() as f64 / 1000.0) / 86_400.0;
        assert!(
            (34.0..=35.1).contains(&days),
            "locked for backup.retain_days: {days}"
        );
        assert!(
            !o["text"].as_str().unwrap_or_default().contains("s3-0"),
            "no PHI in clear: {o}"
        );
    }
    // Both destinations restore the same records.
    let keyring = s.data_dir.join("keyring.json");
    for (i, from) in [
        format!("s3://{BUCKET}/hippo-backups"),
        second.path().display().to_string(),
    ]
    .iter()
    .enumerate()
    {
        let target = s.dir.path().join(format!("restored-{i}"));
        let out = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(&target)
            .args([
                "backup",
                "restore",
                "--from",
                from,
                "--keyring",
                keyring.to_str().unwrap(),
            ])
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("HIPPO_AUDIT__S3_ENDPOINT", &moto.endpoint)
            .output()
            .unwrap();
        ok(&out);
        let c = restored_conn(&target, Some("default"));
        for id in &ids {
            let n: i64 = c
                .query_row("SELECT count(*) FROM records WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(n, 1, "record {id} from {from}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_restore_resumes_where_it_stopped() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    for _ in 0..4 {
        history(&s, &s.admin_key.clone(), 2).await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    s.stop();
    let keyring = s.data_dir.join("keyring.json");
    let copy = tempfile::tempdir().unwrap().keep();
    copy_sink(&sink, &copy);
    let batches = tenant_files(&copy, "-batch.sealed");
    assert!(batches.len() >= 3, "{batches:?}");
    // The third batch is unreadable for now: the restore stops there, its progress kept.
    let victim = batches[2].clone();
    let good = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &good[..good.len() / 3]).unwrap();
    let target = s.dir.path().join("resumed");
    let from = [
        "backup",
        "restore",
        "--from",
        copy.to_str().unwrap(),
        "--keyring",
        keyring.to_str().unwrap(),
    ];
    let err = failed(&hippo(&target, &from));
    assert!(err.contains("-batch.sealed"), "{err}");
    assert!(!target.exists(), "nothing in place after a failed restore");
    // Repaired, the next run resumes at the batch that failed instead of starting over.
    std::fs::write(&victim, &good).unwrap();
    let out = hippo(&target, &from);
    ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("resuming the interrupted restore"), "{said}");
    assert!(
        said.contains("tenant default: resuming at object 3"),
        "{said}"
    );
    // The same as a restore in one go.
    let direct = s.dir.path().join("direct");
    ok(&backup_run(&direct, "restore", &sink, &keyring, &[]));
    let count = |dir: &Path, sql: &str| -> i64 {
        restored_conn(dir, Some("default"))
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    for sql in [
        "SELECT count(*) FROM record_versions",
        "SELECT count(*) FROM audit_events",
        "SELECT count(*) FROM records WHERE deleted = 1",
        "SELECT size FROM audit_tree",
    ] {
        assert_eq!(count(&target, sql), count(&direct, sql), "{sql}");
    }
    assert!(!target.join(".restore-progress.json").exists());
    ok(&hippo(&target, &["audit", "verify"]));
}
