//! Principals: who acts. Service accounts today; human users (with MFA, sessions, OIDC) share the same model.

use crate::ids::TenantId;
use crate::policy::Role;
use serde::{Deserialize, Serialize};

/// What kind of identity a principal is. Credentials (API keys now; passwords, MFA and OIDC
/// links later) attach to a principal, so adding users needs no change to audit or policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    ServiceAccount,
    User,
    /// The operator acting through the `hippo` command line on the host.
    Operator,
    /// A caller that could not be authenticated.
    Anonymous,
    /// The server itself (e.g. a security alert its detectors raised).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ServiceAccount => "service_account",
            ActorKind::User => "user",
            ActorKind::Operator => "operator",
            ActorKind::Anonymous => "anonymous",
            ActorKind::System => "system",
        }
    }
}

/// An authenticated identity, bound to exactly one tenant and one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub id: String,
    pub tenant: TenantId,
    pub kind: ActorKind,
    pub role: Role,
    /// The credential used for this request (an API key id), for the audit trail.
    pub credential_id: Option<String>,
}

/// Who an audit event is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub kind: ActorKind,
}

impl Actor {
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".into(),
            kind: ActorKind::Anonymous,
        }
    }
    /// The server itself, for events no person or service caused directly.
    pub fn system() -> Self {
        Self {
            id: "hippo".into(),
            kind: ActorKind::System,
        }
    }
    pub fn operator() -> Self {
        Self {
            id: "operator".into(),
            kind: ActorKind::Operator,
        }
    }
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Self {
            id: p.id.clone(),
            kind: p.kind,
        }
    }
}
