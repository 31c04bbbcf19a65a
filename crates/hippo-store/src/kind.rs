//! The store kinds a deployment can run on: one typed name, parsed once, used by the
//! configuration, the command line, the server and the test harness alike.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which backend holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The embedded default: SQLCipher databases in the data directory.
    #[default]
    Sqlite,
    /// The scale-out store: one PostgreSQL database shared by every instance.
    Postgres,
}

impl StoreKind {
    pub const ALL: [StoreKind; 2] = [StoreKind::Sqlite, StoreKind::Postgres];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// Not a store kind. Names the accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown store; use \"sqlite\" (embedded) or \"postgres\" (scale-out)")]
pub struct UnknownStoreKind;

impl FromStr for StoreKind {
    type Err = UnknownStoreKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownStoreKind)
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_names_only() {
        for k in StoreKind::ALL {
            assert_eq!(k.to_string().parse::<StoreKind>(), Ok(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
        }
        assert!("Postgres".parse::<StoreKind>().is_err());
        assert!("mysql".parse::<StoreKind>().is_err());
        assert_eq!(StoreKind::default(), StoreKind::Sqlite);
    }
}
