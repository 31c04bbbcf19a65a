//! The shared integration-test harness: runs the real `hippo` binary in a scratch data
//! directory on an ephemeral port, over real TLS, and hands tests a client that trusts its CA.
//! The server runs on the store `HIPPO_TEST_STORE` selects (see [`store`]): a test written
//! against default [`Options`] runs unchanged on SQLite and on PostgreSQL.

pub mod oidc_issuer;
pub mod pg;
pub mod raw;
pub mod raw_conn;
pub mod receiver;
pub mod relay;
pub mod store;
pub mod tls_probe;

pub use raw::Tamper;
pub use store::{runs_on, store_kind, StoreKind};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A canary: a string that must never appear in files, logs or audit details.
pub const CANARY: &str = "CANARY-7f3a9c-Zebediah-Quux";

/// How to start a server.
#[derive(Clone, Default)]
pub struct Options {
    /// Extra environment variables (e.g. `HIPPO_RATE_LIMIT__REQUESTS_PER_SECOND`).
    pub env: Vec<(String, String)>,
    /// Extra arguments after `serve`.
    pub args: Vec<String>,
    /// Run with `--store postgres` against this database URL (given as HIPPO_DATABASE_URL,
    /// to the server and to CLI commands alike). Unset: the selected store (see [`store`]),
    /// on PostgreSQL a fresh database of the server's own.
    pub postgres_url: Option<String>,
}

impl Options {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }
    /// Use PostgreSQL at `url` (e.g. a [`pg::TestDatabase`]'s) instead of the embedded store.
    pub fn postgres(mut self, url: &str) -> Self {
        self.postgres_url = Some(url.into());
        self
    }
}

pub struct TestServer {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub base_url: String,
    pub admin_key: String,
    options: Options,
    /// The database made for this server (shared with its other instances), dropped last.
    database: Option<Arc<pg::TestDatabase>>,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    log_path: PathBuf,
}

/// What a started process printed, until it said it was listening (or exited).
struct Started {
    child: Child,
    addr: Option<String>,
    stdout: Arc<Mutex<Vec<String>>>,
}

fn spawn(bin: &Path, data_dir: &Path, log_path: &Path, options: &Options) -> Started {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0");
    cmd.args(&options.args);
    cmd.env_remove("HIPPO_LISTEN");
    without_store_settings(&mut cmd);
    if let Some(url) = &options.postgres_url {
        cmd.args(["--store", "postgres"])
            .env("HIPPO_DATABASE_URL", url);
    }
    for (k, v) in &options.env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("the hippo binary starts");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let out_lines = stdout.clone();
    let out = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            out_lines.lock().unwrap().push(line);
        }
    });
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().expect("stderr piped");
    let log_path = log_path.to_owned();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            if line.contains("\"message\":\"listening\"") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let _ = tx.send(v["addr"].as_str().map(str::to_owned));
            }
        }
        let _ = tx.send(None);
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
    Started {
        child,
        addr,
        stdout,
    }
}

impl TestServer {
    /// Starts a fresh server (first run: initialises its data directory) and waits until it listens.
    pub fn start(bin: &str) -> Self {
        Self::start_with(bin, Options::default())
    }

    pub fn start_with(bin: &str, options: Options) -> Self {
        let mut s = Self::start_quiet(bin, options);
        // The admin key is printed before the server starts listening; its reader thread may lag.
        s.admin_key = (0..200)
            .find_map(|_| {
                let found = s.stdout().into_iter().find(|l| l.starts_with("hpk_"));
                if found.is_none() {
                    std::thread::sleep(Duration::from_millis(25));
                }
                found
            })
            .expect("first run prints the admin key alone on a line");
        s
    }

    /// Another instance against the same PostgreSQL database (its own data directory, TLS
    /// certificate and port), as a second task behind a load balancer would be: it shares this
    /// instance's keyring (as a deployment mounts one keyring secret into every task). It
    /// prints no admin key (the database already has one), so it shares this instance's.
    pub fn another_instance(&self) -> Self {
        let keyring = self.data_dir.join("keyring.json");
        let options = self
            .options
            .clone()
            .env("HIPPO_KEYRING_FILE", &keyring.display().to_string());
        self.another_instance_with(options)
    }

    /// Another instance against the same PostgreSQL database, started with `options`.
    pub fn another_instance_with(&self, options: Options) -> Self {
        assert!(
            options.postgres_url.is_some(),
            "only PostgreSQL-backed servers share a database"
        );
        let mut s = Self::start_quiet(&self.bin.display().to_string(), options);
        s.admin_key = self.admin_key.clone();
        s.database = self.database.clone();
        s
    }

    /// Starts a server expected to refuse to start; returns its exit status and log.
    pub fn start_failing(bin: &str, options: Options) -> (std::process::ExitStatus, String) {
        let (options, _database) = on_selected_store(options);
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("server.log");
        let mut started = spawn(
            Path::new(bin),
            &dir.path().join("data"),
            &log_path,
            &options,
        );
        assert!(
            started.addr.is_none(),
            "the server started, but should not have"
        );
        let status = started.child.wait().expect("wait");
        (
            status,
            std::fs::read_to_string(&log_path).unwrap_or_default(),
        )
    }

    /// Starts a server and waits until it listens, without expecting an admin key.
    fn start_quiet(bin: &str, options: Options) -> Self {
        let (options, database) = on_selected_store(options);
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("server.log");
        let started = spawn(Path::new(bin), &data_dir, &log_path, &options);
        let addr = started.addr.unwrap_or_else(|| {
            panic!(
                "server did not start; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });
        Self {
            bin: bin.into(),
            base_url: format!("https://{addr}"),
            admin_key: String::new(),
            data_dir,
            log_path,
            options,
            database,
            child: Some(started.child),
            stdout: started.stdout,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("tls").join("ca.pem")).expect("CA certificate")
    }

    /// An HTTPS client that trusts only this server's generated CA.
    pub fn client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem()).expect("CA parses");
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .expect("client builds")
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The logs once `ready` holds for them, or as they are after five seconds. Lines such as
    /// the access log are written after the response leaves, so a test that has its answer may
    /// still be ahead of the line it wants to read.
    pub fn logs_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if ready(&logs) || std::time::Instant::now() >= deadline {
                return logs;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Everything the server printed on stdout.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The options this server was started with (on PostgreSQL, with its database's URL), for
    /// starting more instances like it.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The URL of this server's PostgreSQL database; `None` on the embedded store.
    pub fn database_url(&self) -> Option<&str> {
        self.options.postgres_url.as_deref()
    }

    /// The hippo binary as an operator would run it against this deployment: this server's
    /// data directory, its store and its keyring. Add the subcommand and arguments.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(&self.data_dir);
        without_store_settings(&mut cmd);
        if let Some(url) = &self.options.postgres_url {
            cmd.env("HIPPO_STORE", "postgres")
                .env("HIPPO_DATABASE_URL", url);
        }
        // The CLI opens the same deployment as the server, so it needs the same keyring (and
        // the same AWS, where KMS seals it).
        for (k, v) in &self.options.env {
            if k == "HIPPO_KEYRING_FILE" || k == "HIPPO_KEYRING" || k.starts_with("AWS_") {
                cmd.env(k, v);
            }
        }
        cmd
    }

    /// Runs the hippo CLI against this server's deployment (see [`TestServer::command`]).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().expect("hippo CLI runs")
    }

    /// Creates a tenant with the CLI.
    pub fn create_tenant(&self, name: &str) {
        let out = self.cli(&["tenant", "create", name]);
        assert!(
            out.status.success(),
            "tenant create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates an API key with the CLI and returns the token.
    pub fn create_key(&self, tenant: &str, role: &str) -> String {
        let out = self.cli(&[
            "apikey", "create", "--tenant", tenant, "--role", role, "--name", "test",
        ]);
        assert!(
            out.status.success(),
            "apikey create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().ok()
    }

    /// Starts the server again on the same data directory (a new port).
    pub fn restart(&mut self) {
        self.kill();
        let started = spawn(&self.bin, &self.data_dir, &self.log_path, &self.options);
        let addr = started.addr.expect("server restarts");
        self.base_url = format!("https://{addr}");
        self.child = Some(started.child);
        self.stdout = started.stdout;
    }

    /// Stops the server and starts it again on the same data directory with `extra`
    /// environment on top of its options, expecting it to refuse to start; returns its exit
    /// status and its log. The server stays stopped ([`TestServer::restart`] starts it again).
    pub fn restart_failing(
        &mut self,
        extra: &[(&str, &str)],
    ) -> (std::process::ExitStatus, String) {
        self.kill();
        let mut options = self.options.clone();
        for (k, v) in extra {
            options = options.env(k, v);
        }
        let mut started = spawn(&self.bin, &self.data_dir, &self.log_path, &options);
        assert!(
            started.addr.is_none(),
            "the server started, but should not have"
        );
        let status = started.child.wait().expect("wait");
        (
            status,
            std::fs::read_to_string(&self.log_path).unwrap_or_default(),
        )
    }

    /// Every file under the data directory, with its bytes.
    pub fn data_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir, &mut out);
        out
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Only the options choose the store, not whatever the developer's shell exports; and the
/// suite's own variable is not the server's (which refuses `HIPPO_*` settings it does not know).
fn without_store_settings(cmd: &mut Command) {
    cmd.env_remove("HIPPO_STORE")
        .env_remove("HIPPO_DATABASE_URL")
        .env_remove(crate::store::STORE_ENV);
}

/// `options` ready to start on the selected store: on PostgreSQL (unless the test named a
/// database itself) with a fresh database, returned to be kept as long as the server runs.
fn on_selected_store(mut options: Options) -> (Options, Option<Arc<pg::TestDatabase>>) {
    if options.postgres_url.is_some() || store_kind() != StoreKind::Postgres {
        return (options, None);
    }
    let database = pg::TestDatabase::create_for_suite(&store::current_test());
    options.postgres_url = Some(database.url.clone());
    (options, Some(Arc::new(database)))
}

/// True if `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
