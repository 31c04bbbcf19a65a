//! `[auth]`: how people sign in (password cost and policy, second factor, sessions, lockout,
//! break-glass), validated at start with errors naming the key.

use super::ConfigError;
use hippo_core::{Role, TenantId};
use hippo_identity::{Argon2Cost, ThrottlePolicy, Timeouts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Seconds without a request after which a session ends (164.312(a)(2)(iii) automatic logoff).
    pub session_idle_secs: u64,
    /// Seconds after sign-in at which a session ends however active it is.
    pub session_absolute_secs: u64,
    /// Seconds a half-finished sign-in (password checked, second factor due) stays open.
    pub sign_in_window_secs: u64,
    /// Shortest password accepted.
    pub password_min_length: usize,
    /// Argon2id cost of stored passwords.
    pub argon2: Argon2Cost,
    /// Back-off and temporary lockout after failed sign-ins.
    pub throttle: ThrottlePolicy,
    /// Roles for which a tenant allows sign-in without a second factor, by tenant. MFA is
    /// mandatory for everyone else; `admin` and `auditor` can never be listed.
    pub mfa_optional: BTreeMap<String, Vec<Role>>,
    /// Longest emergency (break-glass) elevation, in minutes.
    pub break_glass_max_minutes: u32,
    /// Seconds an old API key keeps working after a rotation, unless the request says otherwise.
    pub api_key_rotation_overlap_secs: u64,
    /// WebAuthn relying party id: the domain people reach the console at (passkeys are bound
    /// to it).
    pub webauthn_rp_id: String,
    /// The exact origin browsers report (scheme, host, port), within `webauthn_rp_id`.
    pub webauthn_origin: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 15 * 60,
            session_absolute_secs: 12 * 3600,
            sign_in_window_secs: 5 * 60,
            password_min_length: 12,
            argon2: Argon2Cost::default(),
            throttle: ThrottlePolicy::default(),
            mfa_optional: BTreeMap::new(),
            break_glass_max_minutes: 60,
            api_key_rotation_overlap_secs: 24 * 3600,
            webauthn_rp_id: "localhost".into(),
            webauthn_origin: "https://localhost:8443".into(),
        }
    }
}

impl AuthConfig {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            idle_ms: self.session_idle_secs as i64 * 1000,
            absolute_ms: self.session_absolute_secs as i64 * 1000,
        }
    }

    /// Whether `role` in `tenant` may sign in without a second factor.
    pub fn mfa_optional_for(&self, tenant: &TenantId, role: Role) -> bool {
        self.mfa_optional
            .get(tenant.as_str())
            .is_some_and(|roles| roles.contains(&role))
    }

    /// The WebAuthn relying party, or why the settings cannot make one.
    pub fn webauthn(&self) -> Result<webauthn_rs::Webauthn, ConfigError> {
        let origin = webauthn_rs::prelude::Url::parse(&self.webauthn_origin).map_err(|_| {
            ConfigError::new(
                "auth.webauthn_origin",
                "is not a URL",
                "use the console's origin, e.g. https://hippo.example.org",
            )
        })?;
        webauthn_rs::WebauthnBuilder::new(&self.webauthn_rp_id, &origin)
            .and_then(|b| b.rp_name("Hippo").build())
            .map_err(|e| {
                ConfigError::new(
                    "auth.webauthn_rp_id",
                    format!("does not fit auth.webauthn_origin: {e}"),
                    "use the origin's host or a parent domain of it, e.g. example.org for https://hippo.example.org",
                )
            })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.webauthn()?;
        if !(60..=24 * 3600).contains(&self.session_idle_secs) {
            return Err(ConfigError::new(
                "auth.session_idle_secs",
                "must be between 60 and 86400",
                "e.g. 900 (15 minutes, the default)",
            ));
        }
        if self.session_absolute_secs < self.session_idle_secs
            || self.session_absolute_secs > 7 * 24 * 3600
        {
            return Err(ConfigError::new(
                "auth.session_absolute_secs",
                "must be at least auth.session_idle_secs and at most 604800 (7 days)",
                "e.g. 43200 (12 hours, the default)",
            ));
        }
        if !(30..=3600).contains(&self.sign_in_window_secs) {
            return Err(ConfigError::new(
                "auth.sign_in_window_secs",
                "must be between 30 and 3600",
                "e.g. 300",
            ));
        }
        if !(8..=128).contains(&self.password_min_length) {
            return Err(ConfigError::new(
                "auth.password_min_length",
                "must be between 8 and 128 (NIST SP 800-63B asks for at least 8)",
                "e.g. 12 (the default)",
            ));
        }
        self.argon2.params().map_err(|e| {
            ConfigError::new(
                "auth.argon2",
                e.to_string(),
                "use memory_kib >= 8192, iterations >= 1, parallelism >= 1 (default 19456, 2, 1)",
            )
        })?;
        if self.argon2.memory_kib < 8 * 1024 {
            return Err(ConfigError::new(
                "auth.argon2.memory_kib",
                "is below 8192 KiB, too cheap to slow down guessing of stolen hashes",
                "use at least 8192 (the default is 19456)",
            ));
        }
        let t = &self.throttle;
        if t.free_failures == 0 || t.first_lock_secs == 0 || t.max_lock_secs < t.first_lock_secs {
            return Err(ConfigError::new(
                "auth.throttle",
                "free_failures and first_lock_secs must be at least 1, and max_lock_secs at least first_lock_secs",
                "e.g. free_failures = 5, first_lock_secs = 2, max_lock_secs = 900",
            ));
        }
        for (tenant, roles) in &self.mfa_optional {
            if tenant.parse::<TenantId>().is_err() {
                return Err(ConfigError::new(
                    "auth.mfa_optional",
                    "names something that is not a tenant id",
                    "use tenant ids as keys, e.g. [auth.mfa_optional] clinic-a = [\"reader\"]",
                ));
            }
            if roles
                .iter()
                .any(|r| matches!(r, Role::Admin | Role::Auditor))
            {
                return Err(ConfigError::new(
                    "auth.mfa_optional",
                    "lists admin or auditor: a second factor is mandatory for those roles",
                    "list only writer or reader",
                ));
            }
        }
        if !(1..=24 * 60).contains(&self.break_glass_max_minutes) {
            return Err(ConfigError::new(
                "auth.break_glass_max_minutes",
                "must be between 1 and 1440",
                "e.g. 60",
            ));
        }
        Ok(())
    }
}
