//! Connecting to PostgreSQL: the URL (never echoed: it may hold a password), the TLS rule, and
//! the bounded pool with per-connection timeouts.

use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::PgPool;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Most connections this instance opens (the database's limit is shared by all instances).
    pub max_connections: u32,
    /// Longest a call waits for a connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
    /// Server-side limit on one statement (`statement_timeout`).
    pub statement_timeout: Duration,
    /// Client-side limit on one whole store call, for a database that stops answering.
    pub call_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// The parts of a URL that are safe to show (`host:port/database`), for logs and errors.
pub fn describe(opts: &PgConnectOptions) -> String {
    let host = match opts.get_socket() {
        Some(s) => s.display().to_string(),
        None => opts.get_host().to_owned(),
    };
    format!(
        "{host}:{}/{}",
        opts.get_port(),
        opts.get_database().unwrap_or("(default database)")
    )
}

/// True for a host that never leaves the machine: loopback addresses and Unix sockets.
fn is_local(opts: &PgConnectOptions) -> bool {
    if opts.get_socket().is_some() {
        return true;
    }
    let host = opts
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host == "localhost"
        || host.starts_with('/')
        || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback())
}

/// Parses `url` and applies the transport rule: TLS with certificate verification
/// (`sslmode=verify-full`, or `verify-ca` with a CA bundle) unless the host is local.
pub fn parse(url: &str) -> Result<PgConnectOptions, StoreError> {
    // sqlx's parse errors can quote the URL, password included: replace them wholesale.
    let opts = PgConnectOptions::from_str(url).map_err(|_| {
        StoreError::Unavailable(
            "the database URL is not a valid postgres:// URL (e.g. postgres://hippo@db.example:5432/hippo?sslmode=verify-full)".into(),
        )
    })?;
    if is_local(&opts) {
        return Ok(opts);
    }
    let has_ca = url_has_param(url, &["sslrootcert", "ssl-root-cert", "ssl-ca"])
        || std::env::var_os("PGSSLROOTCERT").is_some();
    match opts.get_ssl_mode() {
        PgSslMode::VerifyFull => Ok(opts),
        PgSslMode::VerifyCa if has_ca => Ok(opts),
        PgSslMode::VerifyCa => Err(StoreError::Unavailable(format!(
            "the database at {} is not local and sslmode=verify-ca has no CA bundle. Fix: add sslrootcert=/path/to/ca.pem to the URL, or use sslmode=verify-full",
            describe(&opts)
        ))),
        _ => Err(StoreError::Unavailable(format!(
            "the database at {} is not local, so PHI must travel over verified TLS (164.312(e)(1)). Fix: add sslmode=verify-full (and sslrootcert=/path/to/ca.pem for a private CA such as RDS's) to the database URL",
            describe(&opts)
        ))),
    }
}

fn url_has_param(url: &str, names: &[&str]) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .any(|k| names.contains(&k))
}

/// A lazily connecting pool: calls made while the database is down fail after
/// `acquire_timeout` with `Unavailable`, and the pool reconnects by itself when it returns.
pub fn pool(opts: PgConnectOptions, s: &PgSettings) -> PgPool {
    let opts = opts.application_name("hippo").options([
        (
            "statement_timeout",
            format!("{}ms", s.statement_timeout.as_millis()),
        ),
        // A transaction left open by a stuck client must not hold row locks for long.
        ("idle_in_transaction_session_timeout", "30000ms".to_owned()),
    ]);
    PgPoolOptions::new()
        .max_connections(s.max_connections)
        .min_connections(0)
        .acquire_timeout(s.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        // Checks a pooled connection before use, so one broken by a database restart is
        // replaced rather than handed out.
        .test_before_acquire(true)
        .connect_lazy_with(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts_need_no_tls() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://u:p@localhost/db",
            "postgres://u@[::1]:5432/db",
            "postgres:///db?host=/var/run/postgresql",
        ] {
            assert!(parse(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn remote_hosts_need_verified_tls() {
        // hippo:ignore HIPPO-SECRET-003 reason="made-up password the test asserts is never echoed"
        let secret = "s3cr3t-Pa55";
        for url in [
            format!("postgres://hippo:{secret}@db.example.com/hippo"),
            format!("postgres://hippo:{secret}@10.0.0.5/hippo?sslmode=require"),
            format!("postgres://hippo:{secret}@db.example.com/hippo?sslmode=verify-ca"),
        ] {
            let e = parse(&url).unwrap_err().to_string();
            assert!(e.contains("Fix:"), "{e}");
            assert!(!e.contains(secret), "the password leaked: {e}");
        }
        assert!(parse("postgres://h:p@db.example.com/h?sslmode=verify-full").is_ok());
        assert!(
            parse("postgres://h:p@db.example.com/h?sslmode=verify-ca&sslrootcert=/ca.pem").is_ok()
        );
    }

    #[test]
    fn bad_urls_are_not_echoed() {
        // hippo:ignore HIPPO-SECRET-004 reason="malformed made-up URL the test asserts is never echoed"
        let e = parse("postgres://u:hunter2@@@:notaport/x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
