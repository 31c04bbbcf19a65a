//! Loading the configuration: defaults, `hippo.toml`, `HIPPO_*` variables and flags, merged
//! by figment, with figment's errors turned into ones that name the key and the fix.

use super::{Config, ConfigError, FlagOverrides, CONFIG_FILE};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use std::path::Path;

/// Environment variables with the `HIPPO_` prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "data_dir",
    "database_url",
    "test_database_url",
    "test_store",
    // The passphrase of a keyring escrow copy (`hippo keyring escrow`, `backup restore --escrow`).
    "escrow_passphrase",
    // The passphrase of a tenant archive (`hippo tenant export`, `hippo tenant import`).
    "archive_passphrase",
    "bin",
    "log",
    "keyring",
    // The webhook signing secret of [alerts] (alert_webhook_secret).
    "alert_webhook_secret",
];

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
            fig = fig.merge(("store", s.as_str()));
        }
        let config: Config = fig.extract().map_err(from_figment)?;
        config.validate()?;
        // Every store write of this process indexes by these fields (see hippo_search::fields).
        hippo_search::fields::configure(config.search.clone());
        Ok(config)
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
