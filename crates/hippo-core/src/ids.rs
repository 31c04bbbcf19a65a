//! Identifiers: record ids (UUIDv7) and tenant ids (short slugs), parsed strictly.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Why a string is not an acceptable identifier. Never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("record ids are UUIDs (e.g. 0190f1c4-8d2e-7c3a-9b1e-2f4a5c6d7e8f)")]
    MalformedRecordId,
    #[error("tenant ids are 1-63 characters of a-z, 0-9 and '-', starting with a letter")]
    MalformedTenantId,
}

/// A record's id: a UUIDv7, so ids sort by creation time and keyset pagination is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(Uuid);

impl RecordId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for RecordId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for RecordId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical hyphenated form: one spelling per id keeps lookups and audit joins exact.
        if s.len() != 36 {
            return Err(IdError::MalformedRecordId);
        }
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| IdError::MalformedRecordId)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A tenant's id: a DNS-label-like slug, safe to use in file names and URLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::MalformedTenantId)
        }
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> Self {
        t.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn record_ids_round_trip_and_sort_by_creation() {
        let a = RecordId::new();
        let b = RecordId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<RecordId>().unwrap(), a);
    }

    #[test]
    fn rejects_non_canonical_record_ids() {
        for bad in [
            "",
            "123",
            "0190f1c48d2e7c3a9b1e2f4a5c6d7e8f",
            "{0190f1c4-8d2e-7c3a-9b1e-2f4a5c6d7e8f}",
        ] {
            assert_eq!(
                bad.parse::<RecordId>(),
                Err(IdError::MalformedRecordId),
                "{bad}"
            );
        }
    }

    #[test]
    fn tenant_ids_are_slugs() {
        assert!("default".parse::<TenantId>().is_ok());
        assert!("clinic-42".parse::<TenantId>().is_ok());
        for bad in ["", "Default", "1abc", "a_b", "../x", &"a".repeat(64)] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn tenant_parser_never_accepts_path_characters(s in ".{0,80}") {
            if let Ok(t) = s.parse::<TenantId>() {
                prop_assert!(!t.as_str().contains(['/', '.', '\\']));
            }
        }

        #[test]
        fn record_id_parser_accepts_only_uuids(s in ".{0,40}") {
            if let Ok(id) = s.parse::<RecordId>() {
                prop_assert_eq!(id.to_string(), s.to_lowercase());
            }
        }
    }
}
