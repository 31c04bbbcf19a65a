//! Audit log identity: which tamper-evident log an event, a tree head or an export belongs to.
//!
//! There is one log per tenant and one system log (authentication failures, tenant and key
//! changes, events without a tenant). Every crate names a log through [`LogId`], and every
//! log has exactly one spelling: the tenant id, or [`LogId::SYSTEM`] (`.system`) for the system
//! log. The leading dot cannot start a tenant id, so the two can never collide, and the same
//! spelling is used in the database, in signed tree heads, in export object keys and on the
//! command line.

use crate::ids::TenantId;
use std::fmt;
use std::str::FromStr;

/// One audit log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogId {
    /// A tenant's own log (its record reads and changes, and reads of its log).
    Tenant(TenantId),
    /// The deployment's system log.
    System,
}

/// Why a string does not name a log. Never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a log is a tenant id (1-63 characters of a-z, 0-9 and '-', starting with a letter) or `.system`")]
pub struct LogIdError;

impl LogId {
    /// The one spelling of the system log.
    pub const SYSTEM: &'static str = ".system";

    /// Names under which releases before this one signed tree heads of this log. The embedded
    /// store signed the system log's heads as `catalog` (its database's name); those heads are
    /// signed and may be held by auditors, so they are accepted as they are rather than rewritten.
    /// Tenant logs always used the tenant id.
    pub const LEGACY_SYSTEM_NAMES: &'static [&'static str] = &["catalog"];

    /// The log of `tenant`, or the system log for `None`.
    pub fn of(tenant: Option<&TenantId>) -> Self {
        match tenant {
            Some(t) => LogId::Tenant(t.clone()),
            None => LogId::System,
        }
    }

    /// The spelling stored and signed.
    pub fn as_str(&self) -> &str {
        match self {
            LogId::Tenant(t) => t.as_str(),
            LogId::System => Self::SYSTEM,
        }
    }

    /// The tenant whose log this is, if any.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            LogId::Tenant(t) => Some(t),
            LogId::System => None,
        }
    }

    /// Every name a signed tree head of this log may carry: the current spelling first, then
    /// the legacy ones (see [`LogId::LEGACY_SYSTEM_NAMES`]).
    pub fn accepted_head_names(&self) -> Vec<String> {
        let mut names = vec![self.as_str().to_owned()];
        if *self == LogId::System {
            names.extend(Self::LEGACY_SYSTEM_NAMES.iter().map(|s| s.to_string()));
        }
        names
    }
}

impl FromStr for LogId {
    type Err = LogIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Self::SYSTEM {
            return Ok(LogId::System);
        }
        s.parse::<TenantId>()
            .map(LogId::Tenant)
            .map_err(|_| LogIdError)
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<TenantId> for LogId {
    fn from(t: TenantId) -> Self {
        LogId::Tenant(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_spelling_each_and_no_collision() {
        assert_eq!(LogId::System.as_str(), ".system");
        assert_eq!(".system".parse::<LogId>(), Ok(LogId::System));
        // Names that look like the system log are tenants or errors, never the system log.
        assert_eq!(
            "system".parse::<LogId>(),
            Ok(LogId::Tenant("system".parse().unwrap()))
        );
        assert_eq!(
            "catalog".parse::<LogId>(),
            Ok(LogId::Tenant("catalog".parse().unwrap()))
        );
        assert!("System".parse::<LogId>().is_err());
        assert!("..system".parse::<LogId>().is_err());
        assert!("".parse::<LogId>().is_err());
    }

    #[test]
    fn legacy_names_only_for_the_system_log() {
        assert_eq!(
            LogId::System.accepted_head_names(),
            vec![".system".to_owned(), "catalog".to_owned()]
        );
        let t = LogId::Tenant("clinic".parse().unwrap());
        assert_eq!(t.accepted_head_names(), vec!["clinic".to_owned()]);
    }

    proptest! {
        #[test]
        fn display_parses_back(slug in "[a-z][a-z0-9-]{0,62}", system in any::<bool>()) {
            let id = if system { LogId::System } else { LogId::Tenant(slug.parse().unwrap()) };
            prop_assert_eq!(id.to_string().parse::<LogId>().unwrap(), id);
        }
    }
}
