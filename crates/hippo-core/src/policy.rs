//! Access policy: which role may perform which action. The single place authorization is decided.

use crate::audit::Action;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A principal's role within its tenant (least privilege, 164.312(a)(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages the tenant's credentials; may also read and write records.
    Admin,
    /// Creates, updates and deletes records, and reads them.
    Writer,
    /// Reads records only.
    Reader,
    /// Reads the audit trail only; never record contents.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Writer, Role::Reader, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Writer => "writer",
            Role::Reader => "reader",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role; expected one of admin, writer, reader, auditor")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

/// Decides whether `role` may perform `action`. Deny by default: an action not listed is refused.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    match action {
        RecordRead | RecordList | RecordHistory | RecordSearch | DocumentRead | DocumentList => {
            matches!(role, Role::Admin | Role::Writer | Role::Reader)
        }
        RecordCreate | RecordUpdate | RecordDelete | DocumentCreate | DocumentDelete => {
            matches!(role, Role::Admin | Role::Writer)
        }
        ApiKeyCreate | ApiKeyList | ApiKeyRevoke => role == Role::Admin,
        AuditRead => matches!(role, Role::Auditor | Role::Admin),
        // Tenants are created by the operator on the host, never through a tenant's API.
        // So is an integrity scan of every record: an operator's job on the host.
        UserCreate | UserList | UserDisable | UserResetMfa | SessionRevoke | ApiKeyRotate => {
            role == Role::Admin
        }
        // Reviewing access is the auditor's (and privacy officer's) job; so is asking what a
        // principal could see.
        BreakGlassReview | PolicyExplain => matches!(role, Role::Auditor | Role::Admin),
        // Every signed-in person may sign out, enrol a factor, and open an emergency
        // elevation (what it widens is decided per request, see hippo-policy).
        AuthLogin | AuthLogout | MfaEnrol | BreakGlassOpen => true,
        TenantCreate
        | AuditRetentionOverride
        | AuthFailed
        | RecordVerify
        | SearchReindex
        | TenantExport
        | TenantImport
        | SecurityAlert
        | DocumentShred
        | KeyRotate => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditor_cannot_read_phi_and_reader_cannot_write() {
        assert!(!allows(Role::Auditor, Action::RecordRead));
        assert!(!allows(Role::Reader, Action::RecordCreate));
        assert!(allows(Role::Reader, Action::RecordRead));
        assert!(allows(Role::Writer, Action::RecordDelete));
        assert!(!allows(Role::Writer, Action::ApiKeyCreate));
        assert!(allows(Role::Admin, Action::ApiKeyRevoke));
        assert!(allows(Role::Auditor, Action::AuditRead));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
