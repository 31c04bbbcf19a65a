//! The people half of the storage contract: users, tenant memberships, second factors,
//! recovery codes and sessions, identical on both stores.
//!
//! The stores keep state and make each check-and-set atomic (a TOTP step used once, a recovery
//! code used once, a session revoked everywhere at once); what is allowed is decided by pure
//! rules in `hippo-identity` and `hippo-core`, never here.

use crate::StoreError;
use async_trait::async_trait;
use hippo_core::{AuditDraft, Role, TenantId};
use serde::Serialize;
use zeroize::Zeroizing;

/// One tenant a user belongs to, and their role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub tenant: TenantId,
    pub role: Role,
}

/// What is needed to create a user; the password arrives already hashed (Argon2id).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub memberships: Vec<Membership>,
    pub created_by: String,
}

/// A user's public description (never a hash or a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub memberships: Vec<Membership>,
    pub created_at_ms: i64,
    pub created_by: String,
    pub disabled_at_ms: Option<i64>,
    /// A confirmed TOTP factor is enrolled.
    pub totp_enrolled: bool,
    /// Unused recovery codes left.
    pub recovery_codes_left: u32,
    /// Passkeys (WebAuthn credentials) registered.
    pub passkeys: u32,
}

impl UserInfo {
    /// Whether the user has a second factor to present (a confirmed TOTP or a passkey).
    pub fn has_second_factor(&self) -> bool {
        self.totp_enrolled || self.passkeys > 0
    }
}

impl UserInfo {
    pub fn role_in(&self, tenant: &TenantId) -> Option<Role> {
        self.memberships
            .iter()
            .find(|m| &m.tenant == tenant)
            .map(|m| m.role)
    }
}

/// What sign-in needs about a user: the password hash and the (opened) TOTP secret.
pub struct LoginRecord {
    pub user: UserInfo,
    pub password_hash: String,
    /// The TOTP secret, confirmed or pending confirmation.
    pub totp_secret: Option<Zeroizing<Vec<u8>>>,
    pub totp_confirmed: bool,
}

/// An administrator's change to a user. Each one ends every session of the user at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserChange {
    Disable,
    Enable,
    /// Removes the TOTP factor, passkeys and recovery codes: the next sign-in enrols anew.
    ResetMfa,
    /// Ends every session and nothing else.
    RevokeSessions,
}

impl UserChange {
    pub fn as_str(self) -> &'static str {
        match self {
            UserChange::Disable => "disable",
            UserChange::Enable => "enable",
            UserChange::ResetMfa => "reset_mfa",
            UserChange::RevokeSessions => "revoke_sessions",
        }
    }
}

/// How far a sign-in has got. Only `Active` sessions reach anything but the sign-in endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// Password checked; the second factor is due.
    Mfa,
    /// Password checked; the user has no second factor yet and must enrol one.
    Enrol,
    Active,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Mfa => "mfa",
            SessionStage::Enrol => "enrol",
            SessionStage::Active => "active",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "mfa" => Ok(SessionStage::Mfa),
            "enrol" => Ok(SessionStage::Enrol),
            "active" => Ok(SessionStage::Active),
            _ => Err(StoreError::Corrupt(
                "a stored session stage is unknown".into(),
            )),
        }
    }
}

/// A session to store: only the hash of its token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: [u8; 32],
    pub user_id: String,
    pub tenant: TenantId,
    pub role: Role,
    pub stage: SessionStage,
    pub now_ms: i64,
}

/// The public handle of a session: the first 8 bytes of its token's hash, in hex. It names the
/// session in audit events and listings and cannot be turned back into the token.
pub fn session_id(token_hash: &[u8; 32]) -> String {
    hex::encode(&token_hash[..8])
}

/// An emergency (break-glass) elevation opened on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Emergency {
    pub opened_at_ms: i64,
    pub until_ms: i64,
    /// Length of the stated reason (the reason itself is in the audit event, redacted).
    pub reason_len: u32,
}

/// A stored session as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    pub tenant: TenantId,
    pub role: Role,
    pub stage: SessionStage,
    pub created_at_ms: i64,
    pub last_seen_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub user_disabled: bool,
    pub emergency: Option<Emergency>,
}

/// A stored passkey: the WebAuthn credential (public key and counter) as the server library
/// serialises it; the store keeps it opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// Enrolling the first second factor turns the enrolling session active and stores recovery
/// codes, in the same commit.
#[derive(Debug, Clone)]
pub struct Activation {
    pub session: [u8; 32],
    pub recovery_hashes: Vec<[u8; 32]>,
}

/// The outcome of presenting a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorUse {
    Accepted,
    /// The code was valid but already used (a replay), or no longer usable.
    Replayed,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    // --- users (audited: the caller's draft is written with the change) -----------------------
    async fn create_user(&self, user: NewUser, audit: AuditDraft) -> Result<UserInfo, StoreError>;
    /// Users who belong to `tenant` (every user when `None`: the operator's command line).
    async fn list_users(
        &self,
        tenant: Option<&TenantId>,
        audit: AuditDraft,
    ) -> Result<Vec<UserInfo>, StoreError>;
    /// Applies `change` to a user of `tenant` (any tenant when `None`) and ends all of the
    /// user's sessions in the same commit.
    async fn change_user(
        &self,
        tenant: Option<&TenantId>,
        user_id: &str,
        change: UserChange,
        now_ms: i64,
        audit: AuditDraft,
    ) -> Result<UserInfo, StoreError>;
    /// Finds a user by sign-in name, for sign-in only (not audited here: the caller audits the
    /// attempt's outcome, and the answer never reaches the client).
    async fn user_for_login(&self, username: &str) -> Result<Option<LoginRecord>, StoreError>;

    // --- second factors -----------------------------------------------------------------------
    /// Stores a new, unconfirmed TOTP secret for a user without a confirmed one (replacing an
    /// earlier unconfirmed secret).
    async fn begin_totp(&self, user_id: &str, secret: &[u8]) -> Result<(), StoreError>;
    /// Confirms the pending secret with the step of a valid code, stores the recovery codes'
    /// hashes, and turns the enrolling session active: one commit, with the audit event.
    async fn confirm_totp(
        &self,
        user_id: &str,
        step: u64,
        recovery_hashes: Vec<[u8; 32]>,
        session: &[u8; 32],
        now_ms: i64,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Records `step` as used if it is newer than every step used before (replays refused).
    async fn use_totp_step(&self, user_id: &str, step: u64) -> Result<FactorUse, StoreError>;
    /// Marks an unused recovery code used.
    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<FactorUse, StoreError>;

    /// Registers a passkey; with `activation`, also turns the enrolling session active and
    /// stores recovery codes (one commit, with the audit event).
    async fn add_passkey(
        &self,
        user_id: &str,
        passkey: StoredPasskey,
        activation: Option<Activation>,
        now_ms: i64,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    async fn passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError>;
    /// Stores a passkey's new state after a sign-in (its signature counter).
    async fn update_passkey(
        &self,
        credential_id: &str,
        passkey: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Keeps the state of a WebAuthn ceremony on a session until `expires_at_ms`.
    async fn put_ceremony(
        &self,
        token_hash: &[u8; 32],
        state: String,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Takes (and clears) a session's ceremony state: a challenge is answered at most once.
    async fn take_ceremony(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(String, i64)>, StoreError>;

    // --- sessions -----------------------------------------------------------------------------
    async fn create_session(
        &self,
        session: NewSession,
        audit: AuditDraft,
    ) -> Result<SessionRow, StoreError>;
    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError>;
    /// Writes `last_seen` (the caller decides when it is due).
    async fn touch_session(&self, token_hash: &[u8; 32], now_ms: i64) -> Result<(), StoreError>;
    /// Ends one session (logout); audited.
    async fn revoke_session(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Opens an emergency elevation on an active session; audited.
    async fn open_emergency(
        &self,
        token_hash: &[u8; 32],
        emergency: Emergency,
        audit: AuditDraft,
    ) -> Result<SessionRow, StoreError>;
}

/// The associated data a user's TOTP secret is sealed under: a sealed secret copied to another
/// user's row does not open. Both stores seal and open with it.
pub fn totp_label(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// A stored identity row that cannot be read back (both stores report it alike).
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("a stored {what} is malformed"))
}

/// Normalises a sign-in name: trimmed and lowercased, 1 to 64 characters of `[a-z0-9._@-]`.
/// Parsed once here so both stores and every caller agree on what names the same user.
pub fn normalize_username(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err("a username has 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b))
    {
        return Err("a username may hold only letters, digits, '.', '_', '@' and '-'");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_normalise_and_refuse_odd_characters() {
        assert_eq!(
            normalize_username("  Nurse.Joy@Clinic ").unwrap(),
            "nurse.joy@clinic"
        );
        assert!(normalize_username("").is_err());
        assert!(normalize_username("a b").is_err());
        assert!(normalize_username("x'; drop").is_err());
        assert!(normalize_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn session_ids_are_short_and_stable() {
        let h = [7u8; 32];
        assert_eq!(session_id(&h), "0707070707070707");
    }
}
