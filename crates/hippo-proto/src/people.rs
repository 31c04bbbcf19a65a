//! Wire types of people: sign-in, second factors, sessions, break-glass, users, key rotation
//! and policy questions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// First step of signing in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The tenant to work in; needed only when the user belongs to several.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Where a sign-in stands, and the token to continue with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignInView {
    /// `mfa` (send a code to /v1/auth/mfa), `enrol` (enrol an authenticator at
    /// /v1/auth/mfa/totp first) or `active` (signed in).
    pub stage: String,
    /// Bearer token: a pending sign-in's until `stage` is `active`, then the session's.
    pub token: String,
    /// With `active`: send this as X-CSRF-Token on state-changing requests made with the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// RFC 3339 time at which this token stops working unless used.
    pub expires_at: String,
    /// With `active` after enrolment: single-use recovery codes, shown once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
}

/// A second factor: a 6-digit TOTP code, or a recovery code (xxxx-xxxx-xxxx-xxxx).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    pub code: String,
}

/// A new TOTP authenticator to add to an app, then confirm with a code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The otpauth:// provisioning URI (RFC 6238 parameters: SHA1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// The same URI as a QR code, SVG.
    pub qr_svg: String,
    /// The secret in base32, for typing in by hand.
    pub secret_base32: String,
}

/// The caller's own session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub user_id: String,
    pub tenant: String,
    pub role: String,
    /// RFC 3339 time at which the session ends if idle from now.
    pub idle_expires_at: String,
    /// RFC 3339 time at which the session ends regardless.
    pub absolute_expires_at: String,
    /// RFC 3339 end of an open emergency elevation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_until: Option<String>,
}

/// One tenant the signed-in person belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantMembership {
    pub tenant: String,
    pub role: String,
    /// The tenant of the session asking (a session works in one tenant; switching is a new
    /// sign-in naming the other).
    pub current: bool,
}

/// The tenants of the signed-in person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MembershipList {
    pub items: Vec<TenantMembership>,
}

/// Opens an emergency (break-glass) elevation on the caller's session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    /// Why (10 to 500 characters); kept in the audit trail (redacted: HMAC and length).
    pub reason: String,
    /// How long, in minutes (at most the server's `auth.break_glass_max_minutes`).
    pub minutes: u32,
}

/// Creates a user in the caller's tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub username: String,
    /// At least the configured minimum length; common and breached passwords are refused.
    pub password: String,
    /// One of `admin`, `writer`, `reader`, `auditor`.
    pub role: String,
}

/// A user's public description.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    /// `tenant:role` pairs.
    pub memberships: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    pub totp_enrolled: bool,
    /// Passkeys (WebAuthn credentials) registered.
    pub passkeys: u32,
    pub recovery_codes_left: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
}

/// Rotates an API key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRotate {
    /// Seconds the old key keeps working (default: the server's rotation overlap).
    #[serde(default)]
    pub overlap_secs: Option<u64>,
    /// Seconds until the new key expires; unset: never.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// "What can X see?": a question to the policy engine, answered without touching PHI.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuestion {
    /// The principal's role.
    pub role: String,
    /// The principal's tenant (default: the caller's).
    #[serde(default)]
    pub principal_tenant: Option<String>,
    /// An action name, e.g. `record.read`.
    pub action: String,
    /// The resource's tenant (default: the caller's).
    #[serde(default)]
    pub resource_tenant: Option<String>,
    #[serde(default)]
    pub record_type: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Ask as if an emergency elevation were open.
    #[serde(default)]
    pub emergency: bool,
}

/// The policy engine's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyAnswer {
    pub allowed: bool,
    pub rule: String,
    pub reason: String,
    /// JSON pointers the response would have removed (minimum necessary).
    pub remove_fields: Vec<String>,
    pub widened_by_emergency: bool,
}
