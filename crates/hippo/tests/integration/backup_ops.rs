//! Backups as operators keep them: pruning by policy and lock, restore drills, S3 with KMS and
//! Object Lock beside a second destination, and restores that resume after an interruption.

use crate::backup::{
    backed_up_server, backup_run, copy_sink, embedded_only, failed, hippo, ok, restored_conn,
    shipped_history, tenant_files,
};
use crate::{create_id, patient, BIN};
use std::path::Path;
use std::time::Duration;

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
    let (s, sink, keyring) = shipped_history(4).await;
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
