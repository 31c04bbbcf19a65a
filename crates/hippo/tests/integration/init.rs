//! First run and second run: initialisation, reuse, permission checks, configuration errors, the CLI.

use super::*;
use hippo_testkit::StoreKind;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn first_run_initialises_and_second_run_reuses() {
    let mut s = server();
    let d = s.data_dir.clone();
    let mut files = vec![
        "hippo.toml",
        "keyring.json",
        "tls/ca.pem",
        "tls/server.pem",
        "tls/server.key",
    ];
    // The embedded store's databases; PostgreSQL keeps them in the database server.
    let databases = ["catalog.key", "tenants/default.db"];
    if s.store() == StoreKind::Sqlite {
        files.extend(databases);
    }
    for f in files {
        assert!(d.join(f).exists(), "{f} missing");
    }
    assert_eq!(mode(&d), 0o700);
    assert_eq!(mode(&d.join("keyring.json")), 0o600);
    if s.store() == StoreKind::Sqlite {
        assert_eq!(mode(&d.join("tenants/default.db")), 0o600);
    }
    let out = s.stdout().join("\n");
    assert!(
        out.contains("curl --cacert")
            && out.contains(&format!("Authorization: Bearer {}", s.admin_key)),
        "{out}"
    );
    let keyring = std::fs::read(d.join("keyring.json")).unwrap();
    let id = create(&s, &s.admin_key.clone(), patient("p")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    s.stop();
    s.restart();
    assert!(
        !s.stdout().iter().any(|l| l.starts_with("hpk_")),
        "no new admin key on the second run"
    );
    assert_eq!(
        std::fs::read(d.join("keyring.json")).unwrap(),
        keyring,
        "keyring reused"
    );
    let r = s
        .client()
        .get(s.url(&format!("/v1/records/{id}")))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "same key, same data after restart");
}

#[tokio::test]
async fn refuses_to_start_with_exposed_keys_or_bad_config() {
    let mut s = server();
    s.stop();
    let d = s.data_dir.clone();
    let serve = |env: &[(&str, &str)], listen: &str| {
        let mut cmd = s.command();
        cmd.args(["serve", "--listen", listen])
            .envs(env.iter().copied());
        refusal(cmd)
    };
    let run = || serve(&[], "127.0.0.1:0");

    std::fs::set_permissions(
        d.join("keyring.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = run();
    assert!(
        err.contains("keyring.json") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(
        d.join("keyring.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
    let err = run();
    assert!(err.contains("chmod 700"), "{err}");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();

    let cfg = d.join("hippo.toml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "max_body_bytes = \"lots\"\n{}",
            original.replace("max_body_bytes = 1048576\n", "")
        ),
    )
    .unwrap();
    let err = run();
    assert!(
        err.contains("`max_body_bytes`")
            && err.contains("HIPPO_MAX_BODY_BYTES")
            && err.contains("Fix:"),
        "{err}"
    );
    std::fs::write(&cfg, &original).unwrap();

    let err = serve(&[("HIPPO_RATE_LIMIT__BURST", "0")], "127.0.0.1:0");
    assert!(err.contains("rate_limit"), "{err}");
    let err = serve(&[], "nowhere");
    assert!(
        err.contains("`listen`") && err.contains("HIPPO_LISTEN"),
        "{err}"
    );

    // A lost keyring, replaced by another: the data (SQLite: its wrapped keys) or the signed
    // audit history (PostgreSQL: the pinned signing key) cannot be used: start fails closed.
    let other = Command::new(BIN)
        .args(["keyring", "generate"])
        .output()
        .unwrap();
    assert!(other.status.success());
    std::fs::write(d.join("keyring.json"), &other.stdout).unwrap();
    let err = run();
    match s.store() {
        StoreKind::Sqlite => assert!(err.contains("does not unwrap"), "{err}"),
        StoreKind::Postgres => assert!(
            err.contains("keyring") && err.contains("HIPPO_KEYRING"),
            "{err}"
        ),
    }
}

/// Runs `serve` expecting it to refuse to start, and returns what it printed on stderr. One that
/// starts anyway is killed and fails the test (rather than leaving the test waiting on it).
#[track_caller]
fn refusal(mut serve: Command) -> String {
    let mut child = serve
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the server started, but should have refused: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn apikey_cli_prints_only_the_key_on_stdout() {
    let s = server();
    let out = s.cli(&[
        "apikey",
        "create",
        "--tenant",
        "default",
        "--role",
        "reader",
        "--name",
        "dashboards",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let key = stdout.trim();
    assert!(key.starts_with("hpk_"));
    let r = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let list = String::from_utf8(s.cli(&["apikey", "list"]).stdout).unwrap();
    assert!(list.contains("dashboards") && list.contains("reader") && !list.contains(key));
    let kid = key.split('_').nth(1).unwrap();
    assert!(s.cli(&["apikey", "revoke", kid]).status.success());
    let r = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let bad = s.cli(&["apikey", "create", "--tenant", "nope", "--role", "reader"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("hippo tenant create nope"));
    let bad = s.cli(&["apikey", "create", "--tenant", "default", "--role", "root"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("admin, writer, reader, auditor"));
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(empty.path().join("x"))
        .args(["apikey", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("hippo init"));
}
