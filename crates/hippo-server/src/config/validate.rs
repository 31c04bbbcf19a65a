//! Checks of every key's value and of the rules between keys, each failure naming the key, where
//! it is set, and the fix.

use super::secrets::{database_url_from_env, keyring_from_env};
use super::{Config, ConfigError, StoreKind, SIX_YEARS_DAYS};
use std::net::SocketAddr;

impl Config {
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
        if self.store == StoreKind::Sqlite && database_url_from_env().is_some() {
            // Without this, PHI meant for the database would silently go to the embedded store.
            return Err(ConfigError::new(
                "store",
                "HIPPO_DATABASE_URL is set but the store is \"sqlite\", so the URL would be ignored and data kept in the data directory",
                "set store = \"postgres\" (hippo.toml, HIPPO_STORE or --store postgres) to use that database, or unset HIPPO_DATABASE_URL",
            ));
        }
        let shared_keyring = self.keyring_file.is_some() || keyring_from_env().is_some();
        if shared_keyring && self.store != StoreKind::Postgres {
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
        let cache = hippo_store::SqliteSettings::WRITER_CACHE_MIB;
        if !cache.contains(&self.sqlite.writer_cache_mib) {
            return Err(ConfigError::new(
                "sqlite.writer_cache_mib",
                format!(
                    "must be between {} and {} (MiB of decrypted pages per database writer)",
                    cache.start(),
                    cache.end()
                ),
                "e.g. 64; raise it towards a tenant database's size if searches are slow",
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
        self.backup.validate()?;
        self.alerts.validate()?;
        super::telemetry::validate_tracing(&self.tracing)?;
        self.documents.validate()?;
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
        self.connections.validate()?;
        self.auth.validate()?;
        if let Some((key, fix)) = self.search.problems().into_iter().next() {
            return Err(ConfigError::new(
                &format!("search.{key}"),
                "is not a value hippo can use",
                fix,
            ));
        }
        if !(1..=100_000).contains(&self.batch_max_records) {
            return Err(ConfigError::new(
                "batch_max_records",
                "must be between 1 and 100000",
                "e.g. 1000 (the default)",
            ));
        }
        if !(1024..=512 * 1024 * 1024).contains(&self.batch_max_bytes) {
            return Err(ConfigError::new(
                "batch_max_bytes",
                "must be between 1024 and 536870912",
                "e.g. 16777216 (16 MiB, the default)",
            ));
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate()
                .map_err(|e| ConfigError::new("oidc", e.to_string(), "fix the [oidc] section"))?;
        }
        Ok(())
    }
}
