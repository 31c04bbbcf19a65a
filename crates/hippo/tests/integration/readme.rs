//! The README's "Using it" commands, run as written by a new user: in a fresh directory, after
//! the first `hippo serve` (default data directory `./hippo-data`, default address
//! 127.0.0.1:8443), through bash with `hippo` on the PATH. Only the placeholder `<key-id>` is
//! filled in (with the default tenant's admin key, so the `curl` line that follows still has a
//! live key to use).

use super::BIN;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../../../README.md");

/// The first ```sh block after `heading`.
fn sh_block_after(text: &str, heading: &str) -> String {
    let rest = &text[text.find(heading).expect("README heading")..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let len = rest[start..].find("```").expect("closed block");
    rest[start..start + len].to_owned()
}

/// A new user's shell: none of the harness's `HIPPO_*` settings.
fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("HIPPO_") {
            cmd.env_remove(k);
        }
    }
}

#[test]
fn readme_commands_run_as_written_on_a_fresh_data_directory() {
    if std::net::TcpListener::bind("127.0.0.1:8443").is_err() {
        // The documented address is taken on this machine (another server runs there); the
        // commands cannot run as written, and the test says so rather than passing silently.
        panic!("127.0.0.1:8443 is in use; the README's commands need it free");
    }
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("hippo")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();

    // The first `hippo serve`: initialises ./hippo-data and prints the admin key.
    let mut server = Command::new(BIN);
    clean_env(&mut server);
    let mut server = server
        .arg("serve")
        .current_dir(&work)
        .env("PATH", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read stdout to its end on another thread: closing the pipe early would kill the server
    // on its next line of output.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("hpk_") {
                let _ = tx.send(line);
            }
        }
    });
    let admin_key = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the first start prints the admin key");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect("127.0.0.1:8443").is_err() {
        assert!(
            Instant::now() < deadline,
            "the server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let admin_key_id = admin_key.split('_').nth(1).unwrap().to_owned();
    let script = sh_block_after(README, "## Using it").replace("<key-id>", &admin_key_id);
    let mut bash = Command::new("bash");
    clean_env(&mut bash);
    let out = bash
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&work)
        .env("PATH", &path)
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's commands failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // What each command is documented to show.
    assert!(
        stdout.contains("log .system") && stdout.contains("OK"),
        "{stdout}"
    );
    assert!(stdout.contains("tenant clinic-b:"), "{stdout}");
    assert!(
        stdout.contains("\"items\""),
        "the curl line lists records: {stdout}"
    );
    assert!(stderr.contains("Revoked key"), "{stderr}");
    assert!(stderr.contains("Created user nurse.joy"), "{stderr}");
    assert!(stderr.contains("wrote 1000 records"), "{stderr}");
    assert!(
        stdout.contains("import: 1000 record(s) read, 1000 imported, 0 skipped")
            && stdout.contains("import: 1000 record(s) read, 0 imported, 1000 skipped"),
        "the import, then its rerun: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("corpus.ndjson"))
            .unwrap()
            .lines()
            .count(),
        1000
    );
    assert!(
        stdout.contains("nurse.joy") && stdout.contains("clinic-b:reader"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"allowed\": true"),
        "policy explain answers: {stdout}"
    );
    assert!(
        stdout.contains("backup verified: OK") && stdout.contains("drill passed"),
        "the backup is verified and drilled: {stdout}"
    );
    assert!(stdout.contains("RTO") && stdout.contains("RPO"), "{stdout}");
    let escrow = std::fs::read_to_string(work.join("keyring-escrow.json")).unwrap();
    assert!(escrow.contains("hippo-keyring-escrow/1"), "{escrow}");
}
