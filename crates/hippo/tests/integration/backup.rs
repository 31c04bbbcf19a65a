//! Continuous backup of the embedded store, as an operator uses it: `hippo serve` with
//! `backup.to`, then `hippo backup list|verify|restore|prune|drill` and `hippo keyring escrow`
//! from the command line, with the restored copy compared table by table to the source.

use crate::{create_id, patient, server_with, BIN};
use hippo_store::StoreKind;
use hippo_testkit::{runs_on, Options, TestServer};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub const PASS: &str = "a long recovery passphrase 42";

pub fn embedded_only() -> bool {
    runs_on(
        StoreKind::Sqlite,
        "continuous backup ships the embedded store's files; PostgreSQL uses RDS snapshots",
    )
}

/// A server shipping to `<its dir>/sink` every second.
pub fn backed_up_server(extra: &[(&str, &str)]) -> (TestServer, PathBuf) {
    let sink_dir = tempfile::tempdir().unwrap().keep();
    let sink = sink_dir.join("sink");
    let mut options = Options::default()
        .env("HIPPO_BACKUP__TO", &format!("[\"{}\"]", sink.display()))
        .env("HIPPO_BACKUP__INTERVAL_SECS", "1")
        .env("HIPPO_BACKUP__CATALOG_INTERVAL_SECS", "1");
    for (k, v) in extra {
        options = options.env(k, v);
    }
    (server_with(options), sink)
}

/// A stopped server whose backup holds `rounds` shipping rounds of history (several batches),
/// with its sink and keyring.
pub async fn shipped_history(rounds: usize) -> (TestServer, PathBuf, PathBuf) {
    let (mut s, sink) = backed_up_server(&[]);
    for _ in 0..rounds {
        history(&s, &s.admin_key.clone(), 2).await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    s.stop();
    let keyring = s.data_dir.join("keyring.json");
    (s, sink, keyring)
}

pub fn hippo(data_dir: &Path, args: &[&str]) -> Output {
    hippo_with_passphrase(data_dir, args, PASS)
}

/// [`hippo`] with another escrow passphrase.
pub fn hippo_with_passphrase(data_dir: &Path, args: &[&str], passphrase: &str) -> Output {
    std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("HIPPO_STORE")
        .env_remove("HIPPO_DATABASE_URL")
        .env("HIPPO_ESCROW_PASSPHRASE", passphrase)
        .output()
        .expect("hippo runs")
}

/// `hippo --data-dir DIR backup VERB --from SINK --keyring KEYRING EXTRA...`.
pub fn backup_run(dir: &Path, verb: &str, sink: &Path, keyring: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "backup",
        verb,
        "--from",
        sink.to_str().unwrap(),
        "--keyring",
        keyring.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    hippo(dir, &args)
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every primary table of a database, row by row, in key order (what a restore must equal).
fn dump(conn: &rusqlite::Connection, tenant: bool) -> Vec<String> {
    let tables: &[&str] = if tenant {
        &[
            "records",
            "record_versions",
            "audit_events",
            "tree_heads",
            "idempotency_keys",
            "audit_tree",
        ]
    } else {
        &[
            "tenants",
            "principals",
            "api_keys",
            "audit_events",
            "tree_heads",
            "audit_tree",
        ]
    };
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let vals: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                Ok(format!("{t}: {}", vals.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

pub fn restored_conn(dir: &Path, tenant: Option<&str>) -> rusqlite::Connection {
    let store = hippo_store::SqliteStore::open(dir).unwrap();
    store
        .raw_connection(tenant.map(|t| t.parse().unwrap()).as_ref())
        .unwrap()
}

/// Writes some history into tenant `t`: creates, an update, a delete, a batch with a key.
pub async fn history(s: &TestServer, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(create_id(s, key, patient(&format!("p-{i}"))).await);
    }
    let c = s.client();
    let r = c
        .put(s.url(&format!("/v1/records/{}", ids[0])))
        .bearer_auth(key)
        .header("If-Match", "\"1\"")
        .json(
            &serde_json::json!({"type": "Patient", "subject": "p-0", "body": {"name": "Renamed"}}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "update: {}", r.status());
    let r = c
        .delete(s.url(&format!("/v1/records/{}", ids[1])))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "delete: {}", r.status());
    let r = c
        .post(s.url("/v1/records:batch"))
        .bearer_auth(key)
        .json(&serde_json::json!([
            {"type": "Patient", "subject": "p-b", "body": {"name": "Batch"}, "idempotency_key": "k-1"}
        ]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "batch: {}", r.status());
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_equals_the_source_with_several_tenants() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    s.create_tenant("clinic-b");
    let key_b = s.create_key("clinic-b", "admin");
    history(&s, &s.admin_key.clone(), 6).await;
    history(&s, &key_b, 3).await;
    let sign = s.cli(&["audit", "tree-head", "--tenant", "default"]);
    ok(&sign);
    history(&s, &s.admin_key.clone(), 2).await;
    // A clean stop ships everything in a final round.
    s.stop();
    let target = s.dir.path().join("restored");
    let out = ok(&backup_run(
        &target,
        "restore",
        &sink,
        &s.data_dir.join("keyring.json"),
        &[],
    ));
    assert!(out.contains("default") && out.contains("clinic-b"), "{out}");
    for tenant in [None, Some("default"), Some("clinic-b")] {
        let source = dump(&restored_conn(&s.data_dir, tenant), tenant.is_some());
        let restored = dump(&restored_conn(&target, tenant), tenant.is_some());
        assert!(source.len() > 3, "{tenant:?} has data");
        assert_eq!(
            source, restored,
            "restored {tenant:?} differs from the source"
        );
    }
    // The restored deployment verifies and serves, with the same keys.
    ok(&hippo(&target, &["audit", "verify"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn point_in_time_restore_lands_between_two_writes() {
    if !embedded_only() {
        return;
    }
    let (mut s, sink) = backed_up_server(&[]);
    let key = s.admin_key.clone();
    let first = create_id(&s, &key, patient("before")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let moment = hippo_core::time_fmt::rfc3339(hippo_core::time_fmt::now_millis());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = create_id(&s, &key, patient("after")).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    // Restored while the server still runs: continuous backup alone must hold both writes.
    let keyring = s.data_dir.join("keyring.json");
    let at = s.dir.path().join("at");
    ok(&hippo(
        &at,
        &[
            "backup",
            "restore",
            "--from",
            sink.to_str().unwrap(),
            "--at",
            &moment,
            "--keyring",
            keyring.to_str().unwrap(),
        ],
    ));
    let latest = s.dir.path().join("latest");
    ok(&backup_run(&latest, "restore", &sink, &keyring, &[]));
    let ids = |dir: &Path| -> Vec<String> {
        let c = restored_conn(dir, Some("default"));
        let mut st = c.prepare("SELECT id FROM records").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let at_ids = ids(&at);
    assert!(
        at_ids.contains(&first) && !at_ids.contains(&second),
        "{at_ids:?}"
    );
    let latest_ids = ids(&latest);
    assert!(
        latest_ids.contains(&first) && latest_ids.contains(&second),
        "{latest_ids:?}"
    );
    ok(&hippo(&at, &["audit", "verify"]));
    s.stop();
}

/// A copy of a sink directory (files are read-only: copies are made writable).
pub fn copy_sink(from: &Path, to: &Path) {
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

pub fn files(sink: &Path, suffix: &str) -> Vec<PathBuf> {
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

pub fn tenant_files(sink: &Path, suffix: &str) -> Vec<PathBuf> {
    files(&sink.join("backup").join("default"), suffix)
}
