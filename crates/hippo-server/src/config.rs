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
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTPS unless `insecure_http`).
    pub listen: String,
    /// Serve plain HTTP. Refused unless `listen` is a loopback address.
    pub insecure_http: bool,
    /// Storage backend: `sqlite` (embedded, encrypted with SQLCipher).
    pub store: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    pub tls: TlsConfig,
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
}

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
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            tls: TlsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
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
    fn new(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
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
        if self.store != "sqlite" {
            return Err(ConfigError::new("store", "unknown store", "use \"sqlite\""));
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
        if !["json", "text"].contains(&self.log.format.as_str()) {
            return Err(ConfigError::new(
                "log.format",
                "unknown format",
                "use json or text",
            ));
        }
        Ok(())
    }

    /// The commented configuration file written by `hippo init`.
    pub fn template() -> String {
        let body = toml::to_string_pretty(&Config::default()).expect("config serialises");
        format!(
            "# Hippo configuration. Every key can be overridden by an environment variable:\n\
             # HIPPO_<KEY> for top-level keys, HIPPO_<TABLE>__<KEY> for keys in a table\n\
             # (e.g. HIPPO_LISTEN, HIPPO_RATE_LIMIT__REQUESTS_PER_SECOND).\n\
             # tls.cert_file / tls.key_file: set both to use your own certificate.\n\n{body}"
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
