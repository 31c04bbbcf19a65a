//! The typed configuration: defaults, then `hippo.toml` in the data directory, then `HIPPO_*`
//! environment variables, then command-line flags; validated at start with errors naming the key.
//! Loading lives in `load`, the checks in `validate`, and the secrets (database URL, keyring)
//! in `secrets`; this module holds the types and their defaults.

mod auth;
mod backup;
mod documents;
mod load;
mod secrets;
mod telemetry;
mod validate;

pub use auth::AuthConfig;
pub use backup::BackupConfig;
pub use documents::DocumentsConfig;
pub use hippo_store::StoreKind;
pub use secrets::KEYRING_ENV;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
pub use telemetry::{AlertsConfig, MetricsConfig, WEBHOOK_SECRET_ENV};

pub const CONFIG_FILE: &str = "hippo.toml";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTPS unless `insecure_http`).
    pub listen: String,
    /// Serve plain HTTP. Refused unless `listen` is a loopback address.
    pub insecure_http: bool,
    /// Storage backend: `sqlite` (embedded, encrypted with SQLCipher) or `postgres` (shared by
    /// several instances; the URL comes from HIPPO_DATABASE_URL or `database_url_file`).
    pub store: StoreKind,
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
    /// Most records in one `POST /v1/records:batch`.
    pub batch_max_records: usize,
    /// Largest `POST /v1/records:batch` body, in bytes.
    pub batch_max_bytes: usize,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    pub tls: TlsConfig,
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    /// Connection limits and timeouts (see `limits.rs` for the defaults' reasons).
    pub connections: crate::limits::ConnectionLimits,
    /// People: passwords, second factors, sessions, lockout, break-glass.
    pub auth: AuthConfig,
    /// Tenants' own authorization rules (Rego), one `<tenant>.rego` per tenant in `dir`.
    pub policy: PolicyConfig,
    /// Search: query bounds, the ranking budget, and per record type the key fields (ranked
    /// higher) and the fields indexed at all.
    pub search: hippo_search::SearchSettings,
    /// Tuning of the embedded store (`store = "sqlite"`).
    pub sqlite: hippo_store::SqliteSettings,
    /// Continuous backup of the embedded store.
    pub backup: BackupConfig,
    /// The `/metrics` counters.
    pub metrics: MetricsConfig,
    /// OpenTelemetry trace export (off unless `otlp_endpoint` is set).
    pub tracing: hippo_telemetry::TracingSettings,
    /// Security-event detectors and where their alerts go.
    pub alerts: AlertsConfig,
    /// Clinical documents: sealed blobs (data directory or S3) and their key provider.
    pub documents: DocumentsConfig,
    /// An external OpenID Connect identity provider whose bearer JWTs are accepted
    /// (production: Cognito, Okta, Keycloak, Entra ID). Unset: none are.
    #[serde(skip_serializing)]
    pub oidc: Option<hippo_oidc::OidcConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Directory of `<tenant>.rego` files that narrow the built-in role policy for their tenant
    /// (deny rules, fields to remove). Every file is parsed and evaluated at start: a broken
    /// one stops the start. Unset: the built-in policy only.
    pub dir: Option<PathBuf>,
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
    /// Seconds between background verifications of every audit log (recomputing each tree
    /// and checking it against the signed heads); a failure raises an alert. 0: never.
    pub verify_interval_secs: u64,
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
            verify_interval_secs: 3600,
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
    pub level: LogLevel,
    /// `json` (default) or `text`.
    pub format: LogFormat,
}

/// How much the server logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The name `tracing`'s filters understand.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable text.
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            insecure_http: false,
            store: StoreKind::Sqlite,
            database_url_file: None,
            keyring_file: None,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            tls: TlsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
            audit: AuditConfig::default(),
            connections: crate::limits::ConnectionLimits::default(),
            auth: AuthConfig::default(),
            batch_max_records: 1000,
            batch_max_bytes: 16 * 1024 * 1024,
            policy: PolicyConfig::default(),
            search: hippo_search::SearchSettings::default(),
            sqlite: hippo_store::SqliteSettings::default(),
            backup: BackupConfig::default(),
            metrics: MetricsConfig::default(),
            tracing: hippo_telemetry::TracingSettings::default(),
            alerts: AlertsConfig::default(),
            documents: DocumentsConfig::default(),
            oidc: None,
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
            level: LogLevel::Info,
            format: LogFormat::Json,
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
    pub store: Option<StoreKind>,
}

impl Config {
    /// The parsed listen address (validated by [`Config::validate`]).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().expect("validated listen address")
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

#[cfg(test)]
mod tests;
