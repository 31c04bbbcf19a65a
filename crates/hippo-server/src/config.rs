//! The typed configuration: defaults, then `hippo.toml` in the data directory, then `HIPPO_*`
//! environment variables, then command-line flags; validated at start with errors naming the key.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "hippo.toml";

/// Environment variables with the `HIPPO_` prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "data_dir",
    "database_url",
    "test_database_url",
    "bin",
    "log",
    "keyring",
];

/// The environment variable that may carry the keyring itself (JSON), as container platforms
/// inject secrets (ECS `secrets`, Kubernetes `secretKeyRef`).
pub const KEYRING_ENV: &str = "HIPPO_KEYRING";

fn keyring_from_env() -> Option<String> {
    std::env::var(KEYRING_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTPS unless `insecure_http`).
    pub listen: String,
    /// Serve plain HTTP. Refused unless `listen` is a loopback address.
    pub insecure_http: bool,
    /// Storage backend: `sqlite` (embedded, encrypted with SQLCipher) or `postgres` (shared by
    /// several instances; the URL comes from HIPPO_DATABASE_URL or `database_url_file`).
    pub store: String,
    /// With `store = "postgres"`: a file holding the database URL (never put the URL, which may
    /// carry a password, in this file or on the command line).
    pub database_url_file: Option<PathBuf>,
    /// The keyring (mode 600): unset, `<data_dir>/keyring.json`, created on first start. With
    /// `store = "postgres"` every instance must use the same keyring (it signs the shared audit
    /// log's tree heads and keys its redaction): point this at the deployment's keyring, e.g.
    /// mounted from a secret store. An instance with another keyring is refused at start.
    pub keyring_file: Option<PathBuf>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    pub tls: TlsConfig,
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    /// Connection limits and timeouts (see `limits.rs` for the defaults' reasons).
    pub connections: crate::limits::ConnectionLimits,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Seconds between signed tree heads of each audit log (a head is signed only if the log grew).
    pub tree_head_interval_secs: u64,
    /// Days exported audit batches are locked against deletion (164.316: six years = 2190).
    pub retention_days: u32,
    /// Allow `retention_days` below 2190. Using it is itself recorded in the audit log.
    pub allow_short_retention: bool,
    /// Directory the background exporter writes sealed batches to; unset: no background export.
    pub export_dir: Option<PathBuf>,
    /// Seconds between background export runs.
    pub export_interval_secs: u64,
    /// S3 destination of the background exporter, `s3://bucket/prefix` (production): objects
    /// are written with Object Lock in COMPLIANCE mode until now + `retention_days`. The bucket
    /// must have Object Lock enabled. Credentials come from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, never from this file. Unset: no S3 export.
    pub export_url: Option<String>,
    /// S3 endpoint override (MinIO, a VPC endpoint, a test server), e.g. `http://127.0.0.1:9000`;
    /// path-style requests. Unset: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS itself.
    pub s3_endpoint: Option<String>,
    /// S3 region. Unset: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1.
    pub s3_region: Option<String>,
    /// Server-side encryption of exported objects: "aws:kms", "AES256" or "none".
    pub s3_sse: String,
    /// With s3_sse = "aws:kms": the KMS key id or ARN (unset: the account's aws/s3 key).
    pub s3_kms_key_id: Option<String>,
}

impl AuditConfig {
    /// The S3 sink settings (used for `export_url` and for `hippo audit export --to s3://…`).
    pub fn s3_options(&self) -> hippo_store::export::S3Options {
        hippo_store::export::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            sse: self.s3_sse.parse().unwrap_or_default(),
            kms_key_id: self.s3_kms_key_id.clone(),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            tree_head_interval_secs: 60,
            retention_days: SIX_YEARS_DAYS,
            allow_short_retention: false,
            export_dir: None,
            export_interval_secs: 300,
            export_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_sse: "aws:kms".into(),
            s3_kms_key_id: None,
        }
    }
}

/// HIPAA's documentation retention period (164.316(b)(2)(i)), in days.
pub const SIX_YEARS_DAYS: u32 = 2190;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; when unset, the self-signed one in `<data_dir>/tls/` is used.
    pub cert_file: Option<PathBuf>,
    /// PEM private key matching `cert_file`.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second allowed per credential (or per source address without one).
    pub requests_per_second: u32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// `json` (default) or `text`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            insecure_http: false,
            store: "sqlite".into(),
            database_url_file: None,
            keyring_file: None,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            tls: TlsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
            audit: AuditConfig::default(),
            connections: crate::limits::ConnectionLimits::default(),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 10_000,
            burst: 20_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "json".into(),
        }
    }
}

/// A configuration problem, naming the key, where it can be set, and the fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}` (set in {file} or {env}): {problem}. Fix: {fix}")]
pub struct ConfigError {
    pub key: String,
    pub env: String,
    pub file: String,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            env: format!("HIPPO_{}", key.to_uppercase().replace('.', "__")),
            file: CONFIG_FILE.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Overrides from command-line flags, applied last.
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub listen: Option<String>,
    pub insecure_http: bool,
    pub store: Option<String>,
}

impl Config {
    /// Loads and validates the configuration for `data_dir`.
    pub fn load(data_dir: &Path, flags: &FlagOverrides) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(data_dir.join(CONFIG_FILE)))
            .merge(Env::prefixed("HIPPO_").split("__").ignore(NON_CONFIG_ENV));
        if let Some(l) = &flags.listen {
            fig = fig.merge(("listen", l));
        }
        if flags.insecure_http {
            fig = fig.merge(("insecure_http", true));
        }
        if let Some(s) = &flags.store {
            fig = fig.merge(("store", s));
        }
        let config: Config = fig.extract().map_err(from_figment)?;
        config.validate()?;
        Ok(config)
    }

    /// The parsed listen address (validated by [`Config::validate`]).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().expect("validated listen address")
    }

    /// Checks every key's value and cross-key rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let addr: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                "is not an IP address and port",
                "use e.g. 127.0.0.1:8443 or 0.0.0.0:8443",
            )
        })?;
        if self.insecure_http && !addr.ip().is_loopback() {
            return Err(ConfigError::new(
                "insecure_http",
                "plain HTTP is only allowed on a loopback address (PHI must be encrypted in transit, 164.312(e)(1))",
                "remove --insecure-http, or listen on 127.0.0.1",
            ));
        }
        if !["sqlite", "postgres"].contains(&self.store.as_str()) {
            return Err(ConfigError::new(
                "store",
                "unknown store",
                "use \"sqlite\" (embedded) or \"postgres\" (scale-out)",
            ));
        }
        let shared_keyring = self.keyring_file.is_some() || keyring_from_env().is_some();
        if shared_keyring && self.store != "postgres" {
            return Err(ConfigError::new(
                "keyring_file",
                "a shared keyring (keyring_file or HIPPO_KEYRING) is only used with store = \"postgres\"; the embedded store keeps its keyring in the data directory",
                "unset keyring_file and HIPPO_KEYRING, or set store = \"postgres\"",
            ));
        }
        if self.keyring_file.is_some() && keyring_from_env().is_some() {
            return Err(ConfigError::new(
                "keyring_file",
                "both keyring_file and HIPPO_KEYRING are set; which keyring is meant is ambiguous",
                "keep one: HIPPO_KEYRING (the keyring JSON) or keyring_file (its path)",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::new(
                "max_body_bytes",
                "must be between 1024 and 67108864",
                "e.g. 1048576 (1 MiB)",
            ));
        }
        if self.rate_limit.requests_per_second == 0 || self.rate_limit.burst == 0 {
            return Err(ConfigError::new(
                "rate_limit.requests_per_second",
                "rate_limit.requests_per_second and rate_limit.burst must be at least 1",
                "set both to positive numbers, e.g. 10000 and 20000",
            ));
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls.cert_file",
                    "tls.cert_file and tls.key_file must be set together",
                    "set both, or neither to use the generated certificate",
                ))
            }
            (Some(c), Some(k)) => {
                for (key, p) in [("tls.cert_file", c), ("tls.key_file", k)] {
                    if !p.is_file() {
                        return Err(ConfigError::new(
                            key,
                            format!("{} does not exist", p.display()),
                            "point it at a PEM file",
                        ));
                    }
                }
            }
            (None, None) => {}
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(ConfigError::new(
                "log.level",
                "unknown level",
                "use error, warn, info, debug or trace",
            ));
        }
        if self.audit.tree_head_interval_secs == 0 || self.audit.export_interval_secs == 0 {
            return Err(ConfigError::new(
                "audit.tree_head_interval_secs",
                "audit intervals must be at least 1 second",
                "e.g. 60",
            ));
        }
        if self.audit.retention_days < SIX_YEARS_DAYS && !self.audit.allow_short_retention {
            return Err(ConfigError::new(
                "audit.retention_days",
                format!("{} days is shorter than the six years (2190 days) HIPAA requires for documentation (164.316)", self.audit.retention_days),
                "use 2190 or more, or set audit.allow_short_retention = true (that choice is recorded in the audit log)",
            ));
        }
        if let Some(url) = &self.audit.export_url {
            hippo_store::export::S3Url::parse(url).map_err(|e| {
                ConfigError::new(
                    "audit.export_url",
                    e.to_string(),
                    "use s3://bucket/prefix (for a local directory, set audit.export_dir)",
                )
            })?;
        }
        let sse = self
            .audit
            .s3_sse
            .parse::<hippo_store::export::ServerSideEncryption>()
            .map_err(|e| {
                ConfigError::new(
                    "audit.s3_sse",
                    e,
                    "use \"aws:kms\" (default), \"AES256\" or \"none\"",
                )
            })?;
        if self.audit.s3_kms_key_id.is_some()
            && sse != hippo_store::export::ServerSideEncryption::AwsKms
        {
            return Err(ConfigError::new(
                "audit.s3_kms_key_id",
                "a KMS key id needs audit.s3_sse = \"aws:kms\"",
                "set audit.s3_sse = \"aws:kms\", or remove audit.s3_kms_key_id",
            ));
        }
        if let Some(e) = &self.audit.s3_endpoint {
            if !(e.starts_with("https://") || e.starts_with("http://")) {
                return Err(ConfigError::new(
                    "audit.s3_endpoint",
                    "is not an http(s) URL",
                    "e.g. https://minio.internal:9000",
                ));
            }
        }
        if !["json", "text"].contains(&self.log.format.as_str()) {
            return Err(ConfigError::new(
                "log.format",
                "unknown format",
                "use json or text",
            ));
        }
        self.connections.validate()?;
        Ok(())
    }

    /// The PostgreSQL URL: `HIPPO_DATABASE_URL`, else the contents of `database_url_file`.
    /// Errors name where to put it, never the URL itself (it may carry a password).
    pub fn database_url(&self) -> Result<String, ConfigError> {
        if let Ok(url) = std::env::var("HIPPO_DATABASE_URL") {
            if !url.trim().is_empty() {
                return Ok(url.trim().to_owned());
            }
        }
        let Some(path) = &self.database_url_file else {
            return Err(ConfigError::new(
                "database_url_file",
                "store = \"postgres\" needs a database URL",
                "set HIPPO_DATABASE_URL, or database_url_file to a file (mode 600) holding postgres://user:password@host/db?sslmode=verify-full",
            ));
        };
        let unreadable = |why: String| {
            ConfigError::new(
                "database_url_file",
                format!("{}: {why}", path.display()),
                "point it at a readable file holding only the postgres:// URL",
            )
        };
        let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
        if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0 {
            return Err(ConfigError::new(
                "database_url_file",
                format!(
                    "{} is accessible by group or others; it holds a database password",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            ));
        }
        let url = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        match url.trim() {
            "" => Err(unreadable("is empty".into())),
            u => Ok(u.to_owned()),
        }
    }

    /// The keyring's path: `keyring_file`, else the data directory's own.
    pub fn keyring_path(&self, data_dir: &Path) -> PathBuf {
        self.keyring_file
            .clone()
            .unwrap_or_else(|| hippo_store::Keyring::path(data_dir))
    }

    /// Whether the keyring comes from outside the data directory (shared by instances).
    pub fn shared_keyring(&self) -> bool {
        self.keyring_file.is_some() || keyring_from_env().is_some()
    }

    /// Loads the keyring: `HIPPO_KEYRING` (the JSON itself), else `keyring_file`, else the data
    /// directory's; errors name the key to fix.
    pub fn load_keyring(&self, data_dir: &Path) -> Result<hippo_store::Keyring, ConfigError> {
        if let Some(json) = keyring_from_env().map(zeroize::Zeroizing::new) {
            return hippo_store::Keyring::from_json(&json, KEYRING_ENV).map_err(|e| {
                ConfigError::new(
                    "keyring_file",
                    e.to_string(),
                    "set HIPPO_KEYRING to the deployment's keyring JSON (from `hippo keyring generate`, kept in a secret store)",
                )
            });
        }
        let path = self.keyring_path(data_dir);
        hippo_store::Keyring::load_file(&path).map_err(|e| {
            ConfigError::new(
                "keyring_file",
                e.to_string(),
                "give every instance the deployment's keyring: HIPPO_KEYRING (its JSON) or keyring_file / HIPPO_KEYRING_FILE (a mode-600 file)",
            )
        })
    }

    /// The commented configuration file written by `hippo init`.
    pub fn template() -> String {
        let body = toml::to_string_pretty(&Config::default()).expect("config serialises");
        format!(
            "# Hippo configuration. Every key can be overridden by an environment variable:\n\
             # HIPPO_<KEY> for top-level keys, HIPPO_<TABLE>__<KEY> for keys in a table\n\
             # (e.g. HIPPO_LISTEN, HIPPO_RATE_LIMIT__REQUESTS_PER_SECOND).\n\
             # tls.cert_file / tls.key_file: set both to use your own certificate.\n\
             # store = \"postgres\": the database URL comes from HIPPO_DATABASE_URL, or from the\n\
             # file named by database_url_file (mode 600); never from this file or a flag.\n\
             # keyring_file: the keyring (mode 600) when not <data_dir>/keyring.json; every\n\
             # instance sharing one PostgreSQL database must use the same keyring.\n\
             # [audit] export: export_dir = \"/path\" writes read-only sealed batches to a\n\
             # directory; export_url = \"s3://bucket/prefix\" writes them to S3 under Object Lock\n\
             # (COMPLIANCE mode, retained retention_days), encrypted per s3_sse (\"aws:kms\",\n\
             # \"AES256\" or \"none\") with optional s3_kms_key_id; s3_endpoint / s3_region\n\
             # override the AWS defaults (e.g. MinIO). S3 credentials come only from\n\
             # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.\n\n{body}"
        )
    }
}

fn from_figment(e: figment::Error) -> ConfigError {
    // figment's path already ends with the offending key, unknown keys included.
    let key = match (&e.kind, e.path.is_empty()) {
        (figment::error::Kind::UnknownField(f, _), true) => f.clone(),
        (_, true) => "(file)".into(),
        (_, false) => e.path.join("."),
    };
    let fix = match &e.kind {
        figment::error::Kind::UnknownField(_, expected) => {
            format!("remove it; known keys here are: {}", expected.join(", "))
        }
        _ => "correct the value's type (see the comments in hippo.toml)".into(),
    };
    ConfigError::new(&key, e.kind.to_string(), fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_template_round_trips() {
        Config::default().validate().unwrap();
        let parsed: Config = toml::from_str(&Config::template()).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn insecure_http_requires_loopback() {
        let c = Config {
            insecure_http: true,
            listen: "0.0.0.0:80".into(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("`insecure_http`") && e.contains("Fix:"), "{e}");
    }

    #[test]
    fn errors_name_the_key_and_env_var() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CONFIG_FILE), "max_body_bytes = \"big\"\n").unwrap();
        let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
        assert_eq!(e.key, "max_body_bytes");
        assert_eq!(e.env, "HIPPO_MAX_BODY_BYTES");
        std::fs::write(d.path().join(CONFIG_FILE), "[rate_limit]\nrps = 1\n").unwrap();
        let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
        assert_eq!(e.key, "rate_limit.rps", "{e}");
        assert!(e.to_string().contains("requests_per_second"), "{e}");
    }

    #[test]
    fn s3_export_keys_are_validated() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(CONFIG_FILE),
            "[audit]\nexport_url = \"s3://audit-bucket/hippo\"\ns3_endpoint = \"http://127.0.0.1:9000\"\ns3_sse = \"AES256\"\n",
        )
        .unwrap();
        let c = Config::load(d.path(), &FlagOverrides::default()).unwrap();
        let opts = c.audit.s3_options();
        assert_eq!(opts.sse, hippo_store::export::ServerSideEncryption::Aes256);
        assert_eq!(opts.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let bad = |audit: AuditConfig| {
            Config {
                audit,
                ..Config::default()
            }
            .validate()
            .unwrap_err()
            .key
        };
        let url = |u: &str| AuditConfig {
            export_url: Some(u.into()),
            ..AuditConfig::default()
        };
        assert_eq!(bad(url("/var/audit")), "audit.export_url");
        assert_eq!(bad(url("s3://No_Such")), "audit.export_url");
        let sse = AuditConfig {
            s3_sse: "rot13".into(),
            ..AuditConfig::default()
        };
        assert_eq!(bad(sse), "audit.s3_sse");
        let kms = AuditConfig {
            s3_sse: "none".into(),
            s3_kms_key_id: Some("k".into()),
            ..AuditConfig::default()
        };
        assert_eq!(bad(kms), "audit.s3_kms_key_id");
    }

    #[test]
    fn a_shared_keyring_file_is_for_postgres_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        if std::env::var_os(KEYRING_ENV).is_some() {
            return; // the environment's keyring wins by design
        }
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("shared-keyring.json");
        std::fs::write(
            &file,
            hippo_store::Keyring::generate_json().unwrap().as_bytes(),
        )
        .unwrap();
        let sqlite = Config {
            keyring_file: Some(file.clone()),
            ..Config::default()
        };
        let e = sqlite.validate().unwrap_err();
        assert_eq!(e.key, "keyring_file");
        let pg = Config {
            store: "postgres".into(),
            keyring_file: Some(file.clone()),
            ..Config::default()
        };
        pg.validate().unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = pg.load_keyring(d.path()).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        pg.load_keyring(d.path()).unwrap().ledger_keys().unwrap();
    }

    #[test]
    fn database_url_comes_from_a_private_file_and_is_never_echoed() {
        if std::env::var_os("HIPPO_DATABASE_URL").is_some() {
            return; // the environment wins by design; nothing to test here
        }
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("db-url");
        let url = "postgres://hippo:Pw-Zebediah@db.example.com/hippo?sslmode=verify-full";
        std::fs::write(&file, format!("{url}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = Config {
            store: "postgres".into(),
            database_url_file: Some(file.clone()),
            ..Config::default()
        };
        c.validate().unwrap();
        let e = c.database_url().unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("Pw-Zebediah"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.database_url().unwrap(), url);
        let none = Config {
            store: "postgres".into(),
            ..Config::default()
        };
        assert!(none
            .database_url()
            .unwrap_err()
            .to_string()
            .contains("HIPPO_DATABASE_URL"));
        let bad = Config {
            store: "mysql".into(),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn flags_override_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CONFIG_FILE), "listen = \"127.0.0.1:9000\"\n").unwrap();
        let c = Config::load(
            d.path(),
            &FlagOverrides {
                listen: Some("127.0.0.1:0".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
    }
}
