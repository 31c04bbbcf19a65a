//! Audit events (164.312(b)): what happened, to what, by whom, with what outcome. Never PHI values.

use crate::ids::TenantId;
use crate::principal::{Actor, ActorKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every auditable action, with a stable dotted name used in storage and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "record.create")]
    RecordCreate,
    #[serde(rename = "record.read")]
    RecordRead,
    #[serde(rename = "record.update")]
    RecordUpdate,
    #[serde(rename = "record.delete")]
    RecordDelete,
    #[serde(rename = "record.list")]
    RecordList,
    #[serde(rename = "record.history")]
    RecordHistory,
    /// A full-text search of records: the query is kept redacted, the result ids in clear.
    #[serde(rename = "record.search")]
    RecordSearch,
    #[serde(rename = "apikey.create")]
    ApiKeyCreate,
    #[serde(rename = "apikey.list")]
    ApiKeyList,
    #[serde(rename = "apikey.revoke")]
    ApiKeyRevoke,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "tenant.create")]
    TenantCreate,
    #[serde(rename = "audit.retention_override")]
    AuditRetentionOverride,
    #[serde(rename = "auth.failed")]
    AuthFailed,
    /// An operator's integrity scan of a tenant's records (`hippo records verify`).
    #[serde(rename = "record.verify")]
    RecordVerify,
    /// A person's account created (or a membership added).
    #[serde(rename = "user.create")]
    UserCreate,
    #[serde(rename = "user.list")]
    UserList,
    /// An account disabled: its sessions end at once.
    #[serde(rename = "user.disable")]
    UserDisable,
    /// Every second factor of an account removed; the user enrols again at next sign-in.
    #[serde(rename = "user.reset_mfa")]
    UserResetMfa,
    /// A sign-in step (password, second factor) succeeded; a session is issued after the second.
    #[serde(rename = "auth.login")]
    AuthLogin,
    /// A second factor (TOTP, passkey, recovery codes) enrolled.
    #[serde(rename = "auth.mfa_enrol")]
    MfaEnrol,
    #[serde(rename = "auth.logout")]
    AuthLogout,
    /// An admin ended another user's sessions.
    #[serde(rename = "session.revoke")]
    SessionRevoke,
    /// An emergency (break-glass) elevation opened, with its reason.
    #[serde(rename = "breakglass.open")]
    BreakGlassOpen,
    /// An auditor reviewed an emergency elevation.
    #[serde(rename = "breakglass.review")]
    BreakGlassReview,
    /// An access decision explained without touching PHI.
    #[serde(rename = "policy.explain")]
    PolicyExplain,
    /// A key replaced by a new one, the old one kept for an overlap window.
    #[serde(rename = "apikey.rotate")]
    ApiKeyRotate,
    /// An operator rebuilt a tenant's search index from its records (`hippo search reindex`).
    #[serde(rename = "search.reindex")]
    SearchReindex,
    /// An operator exported a tenant's records and audit log as a sealed archive
    /// (`hippo tenant export`), one event per page of records read.
    #[serde(rename = "tenant.export")]
    TenantExport,
    /// An operator imported a tenant from a verified archive (`hippo tenant import`).
    #[serde(rename = "tenant.import")]
    TenantImport,
    /// A security alert raised by the server's detectors (brute force, break-glass, ...).
    #[serde(rename = "security.alert")]
    SecurityAlert,
    /// A document (letter, scan, PDF, image) attached to a record.
    #[serde(rename = "document.create")]
    DocumentCreate,
    /// A document's content read (whole or a range).
    #[serde(rename = "document.read")]
    DocumentRead,
    /// A record's documents listed (metadata only).
    #[serde(rename = "document.list")]
    DocumentList,
    /// A document deleted (a tombstone version; earlier versions remain).
    #[serde(rename = "document.delete")]
    DocumentDelete,
    /// An operator crypto-shredded documents (a tenant's or one subject's): keys destroyed.
    #[serde(rename = "document.shred")]
    DocumentShred,
    /// An operator rotated a tenant's document key-encryption key (`hippo keys rotate`).
    #[serde(rename = "key.rotate")]
    KeyRotate,
}

impl Action {
    pub const ALL: [Action; 37] = [
        Action::RecordCreate,
        Action::RecordRead,
        Action::RecordUpdate,
        Action::RecordDelete,
        Action::RecordList,
        Action::RecordHistory,
        Action::RecordSearch,
        Action::ApiKeyCreate,
        Action::ApiKeyList,
        Action::ApiKeyRevoke,
        Action::AuditRead,
        Action::TenantCreate,
        Action::AuditRetentionOverride,
        Action::AuthFailed,
        Action::RecordVerify,
        Action::UserCreate,
        Action::UserList,
        Action::UserDisable,
        Action::UserResetMfa,
        Action::AuthLogin,
        Action::MfaEnrol,
        Action::AuthLogout,
        Action::SessionRevoke,
        Action::BreakGlassOpen,
        Action::BreakGlassReview,
        Action::PolicyExplain,
        Action::ApiKeyRotate,
        Action::SearchReindex,
        Action::TenantExport,
        Action::TenantImport,
        Action::SecurityAlert,
        Action::DocumentCreate,
        Action::DocumentRead,
        Action::DocumentList,
        Action::DocumentDelete,
        Action::DocumentShred,
        Action::KeyRotate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RecordCreate => "record.create",
            Action::RecordRead => "record.read",
            Action::RecordUpdate => "record.update",
            Action::RecordDelete => "record.delete",
            Action::RecordList => "record.list",
            Action::RecordSearch => "record.search",
            Action::RecordHistory => "record.history",
            Action::ApiKeyCreate => "apikey.create",
            Action::ApiKeyList => "apikey.list",
            Action::ApiKeyRevoke => "apikey.revoke",
            Action::AuditRead => "audit.read",
            Action::TenantCreate => "tenant.create",
            Action::AuditRetentionOverride => "audit.retention_override",
            Action::AuthFailed => "auth.failed",
            Action::RecordVerify => "record.verify",
            Action::UserCreate => "user.create",
            Action::UserList => "user.list",
            Action::UserDisable => "user.disable",
            Action::UserResetMfa => "user.reset_mfa",
            Action::AuthLogin => "auth.login",
            Action::MfaEnrol => "auth.mfa_enrol",
            Action::AuthLogout => "auth.logout",
            Action::SessionRevoke => "session.revoke",
            Action::BreakGlassOpen => "breakglass.open",
            Action::BreakGlassReview => "breakglass.review",
            Action::PolicyExplain => "policy.explain",
            Action::ApiKeyRotate => "apikey.rotate",
            Action::SearchReindex => "search.reindex",
            Action::TenantExport => "tenant.export",
            Action::TenantImport => "tenant.import",
            Action::SecurityAlert => "security.alert",
            Action::DocumentCreate => "document.create",
            Action::DocumentRead => "document.read",
            Action::DocumentList => "document.list",
            Action::DocumentDelete => "document.delete",
            Action::DocumentShred => "document.shred",
            Action::KeyRotate => "key.rotate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The resource type an action applies to, for the event's `resource_type`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Action::RecordCreate
            | Action::RecordRead
            | Action::RecordUpdate
            | Action::RecordDelete
            | Action::RecordList
            | Action::RecordHistory
            | Action::RecordSearch
            | Action::RecordVerify
            | Action::SearchReindex
            // A document is part of its record's PHI: its events name the record (resource id)
            // and its subject, so the accounting of disclosures lists document reads too.
            | Action::DocumentCreate
            | Action::DocumentRead
            | Action::DocumentList
            | Action::DocumentDelete
            | Action::DocumentShred => "record",
            Action::KeyRotate => "key",
            Action::ApiKeyCreate | Action::ApiKeyList | Action::ApiKeyRevoke => "apikey",
            Action::AuditRead => "audit",
            Action::TenantCreate | Action::TenantExport | Action::TenantImport => "tenant",
            Action::AuditRetentionOverride => "configuration",
            Action::AuthFailed => "credential",
            Action::UserCreate | Action::UserList | Action::UserDisable | Action::UserResetMfa => {
                "user"
            }
            Action::AuthLogin | Action::MfaEnrol => "credential",
            Action::AuthLogout | Action::SessionRevoke | Action::BreakGlassOpen => "session",
            Action::BreakGlassReview => "session",
            Action::PolicyExplain => "policy",
            Action::ApiKeyRotate => "apikey",
            Action::SecurityAlert => "alert",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Denied, Outcome::Error]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// An audit event before the store gives it a sequence number and a time.
///
/// `details` holds only non-PHI facts (counts, versions, reason codes, filter *names*);
/// record bodies and query values never go here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// `None` for events that cannot be tied to a tenant (e.g. an unknown API key).
    pub tenant: Option<TenantId>,
    pub actor: Actor,
    pub action: Action,
    pub resource_id: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: Outcome,
    pub request_id: String,
    pub source_addr: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Longest user agent kept; longer ones are cut (they are free text supplied by the client).
pub const MAX_USER_AGENT: usize = 256;

impl AuditDraft {
    pub fn new(tenant: Option<TenantId>, actor: Actor, action: Action, request_id: &str) -> Self {
        Self {
            tenant,
            actor,
            action,
            resource_id: None,
            subject_id: None,
            outcome: Outcome::Success,
            request_id: request_id.to_owned(),
            source_addr: None,
            user_agent: None,
            details: serde_json::Map::new(),
        }
    }

    /// Marks the event failed with a stable reason code (never a message with values in it).
    pub fn failed(&mut self, outcome: Outcome, reason: &str) {
        self.outcome = outcome;
        self.details
            .insert("reason".into(), serde_json::Value::from(reason));
    }

    pub fn detail(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.details.insert(key.into(), value.into());
    }

    pub fn set_user_agent(&mut self, ua: Option<&str>) {
        self.user_agent = ua.map(|u| u.chars().take(MAX_USER_AGENT).collect());
    }

    /// Seals the draft into an event once the store has assigned its place in the log.
    pub fn into_event(self, seq: i64, time_ms: i64) -> AuditEvent {
        AuditEvent {
            seq,
            time_ms,
            tenant: self.tenant.map(|t| t.to_string()),
            actor_id: self.actor.id,
            actor_kind: self.actor.kind,
            action: self.action,
            resource_type: self.action.resource_type().to_owned(),
            resource_id: self.resource_id,
            subject_id: self.subject_id,
            outcome: self.outcome,
            request_id: self.request_id,
            source_addr: self.source_addr,
            user_agent: self.user_agent,
            details: serde_json::Value::Object(self.details),
            labels: Vec::new(),
        }
    }
}

/// A stored audit event. `seq` is dense and increasing within one log (a tenant's, or the system log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub time_ms: i64,
    pub tenant: Option<String>,
    pub actor_id: String,
    pub actor_kind: ActorKind,
    pub action: Action,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: Outcome,
    pub request_id: String,
    pub source_addr: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    /// Labels such as `sensitive_content` (the event carried user-supplied values, now redacted).
    #[serde(default)]
    pub labels: Vec<String>,
}

impl AuditEvent {
    /// The event's canonical bytes: the Merkle leaf that makes the log tamper-evident.
    /// Every field is covered, including the sequence number, so moving an event is detectable.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("an audit event serialises");
        crate::canonical::to_canonical_bytes(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_stable_and_parse_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }

    #[test]
    fn failure_records_reason_code_only() {
        let mut d = AuditDraft::new(None, Actor::anonymous(), Action::AuthFailed, "r1");
        d.failed(Outcome::Denied, "unknown_key");
        let e = d.into_event(1, 0);
        assert_eq!(e.outcome, Outcome::Denied);
        assert_eq!(e.details["reason"], "unknown_key");
        assert_eq!(e.resource_type, "credential");
    }

    #[test]
    fn user_agent_is_bounded() {
        let mut d = AuditDraft::new(None, Actor::anonymous(), Action::AuthFailed, "r1");
        d.set_user_agent(Some(&"x".repeat(1000)));
        assert_eq!(d.user_agent.unwrap().len(), MAX_USER_AGENT);
    }
}
