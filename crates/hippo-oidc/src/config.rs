//! The `oidc` settings: which issuer and audiences to trust, which algorithms, and how claims
//! map to Hippo's user, tenant and role. `validate` refuses anything unsafe before start.

use crate::error::OidcError;
use hippo_core::{Role, TenantId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The most clock skew accepted: beyond five minutes, expired tokens stay usable too long.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// JWKS cache bounds: at least the refetch interval, at most a day (rotated-out keys must go).
pub const MIN_JWKS_CACHE_SECS: u64 = 30;
pub const MAX_JWKS_CACHE_SECS: u64 = 86_400;

/// Asymmetric JWS algorithms the verifier can check. `none` and the HMAC family have no variant,
/// so a configuration naming them does not even parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (keys of 2048 to 8192 bits).
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    /// The JOSE name, as in a token header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm a header's `alg` names, if it is one we implement.
    pub fn from_jose(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a token's tenant comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TenantClaim {
    /// The tenant id is in this claim (e.g. `{ claim = "custom:tenant" }`).
    Claim(String),
    /// Every user of this issuer belongs to this tenant (e.g. `{ fixed = "acme" }`).
    Fixed(TenantId),
}

/// How claims map to the principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    /// Claim holding the user id.
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_tenant")]
    pub tenant: TenantClaim,
    /// Claim holding role or group names (a string or an array of strings). A name not found at
    /// the top level is looked up as a dotted path (Keycloak's `realm_access.roles`).
    #[serde(default = "default_role")]
    pub role: String,
    /// IdP value -> Hippo role. Values not listed are ignored; a token with no mapped value is
    /// refused. Must not be empty: no IdP group grants access unless an operator says so.
    #[serde(default)]
    pub role_map: BTreeMap<String, Role>,
    /// Require multi-factor evidence: `amr` containing one of [`MFA_AMR`], or `acr` in `acr_values`.
    #[serde(default = "default_true")]
    pub require_mfa: bool,
    #[serde(default)]
    pub acr_values: Vec<String>,
}

/// `amr` values (RFC 8176) taken as evidence of multi-factor authentication.
pub const MFA_AMR: [&str; 6] = ["mfa", "otp", "hwk", "swk", "fido", "totp"];

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            user: default_user(),
            tenant: default_tenant(),
            role: default_role(),
            role_map: BTreeMap::new(),
            require_mfa: true,
            acr_values: Vec::new(),
        }
    }
}

/// The `oidc` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the IdP writes it in `iss` (https only). Discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Accepted `aud` values (at least one).
    pub audience: Vec<String>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Alg>,
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u64,
    #[serde(default = "default_cache")]
    pub jwks_cache_secs: u64,
    /// An extra root CA (PEM) for the issuer's TLS, besides the public web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub claims: ClaimMapping,
}

fn default_user() -> String {
    "sub".into()
}
fn default_tenant() -> TenantClaim {
    TenantClaim::Claim("hippo_tenant".into())
}
fn default_role() -> String {
    "hippo_role".into()
}
fn default_true() -> bool {
    true
}
fn default_algorithms() -> Vec<Alg> {
    Alg::ALL.to_vec()
}
fn default_skew() -> u64 {
    60
}
fn default_cache() -> u64 {
    600
}

impl OidcConfig {
    /// A configuration for `issuer` and `audience` with every other setting at its default.
    pub fn new(issuer: impl Into<String>, audience: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience,
            algorithms: default_algorithms(),
            clock_skew_secs: default_skew(),
            jwks_cache_secs: default_cache(),
            ca_file: None,
            claims: ClaimMapping::default(),
        }
    }

    /// Refuses settings that would make verification unsafe or impossible, naming the key and the fix.
    pub fn validate(&self) -> Result<(), OidcError> {
        crate::fetch::issuer_url(&self.issuer)?;
        if self.audience.is_empty() {
            return Err(OidcError::config(
                "oidc.audience",
                "is empty; list the client id or API identifier the IdP puts in `aud`",
            ));
        }
        if self.audience.iter().any(|a| a.trim().is_empty()) {
            return Err(OidcError::config(
                "oidc.audience",
                "contains an empty value; remove it",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(OidcError::config(
                "oidc.algorithms",
                "is empty; allow at least one of RS256, ES256, EdDSA (the IdP's signing algorithm)",
            ));
        }
        if self.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            return Err(OidcError::config(
                "oidc.clock_skew_secs",
                format!("is above {MAX_CLOCK_SKEW_SECS}; synchronise clocks (NTP) and lower it"),
            ));
        }
        if !(MIN_JWKS_CACHE_SECS..=MAX_JWKS_CACHE_SECS).contains(&self.jwks_cache_secs) {
            return Err(OidcError::config(
                "oidc.jwks_cache_secs",
                format!("must be between {MIN_JWKS_CACHE_SECS} and {MAX_JWKS_CACHE_SECS}"),
            ));
        }
        let c = &self.claims;
        if c.user.trim().is_empty() {
            return Err(OidcError::config(
                "oidc.claims.user",
                "is empty; name the claim holding the user id (usually `sub`)",
            ));
        }
        if let TenantClaim::Claim(name) = &c.tenant {
            if name.trim().is_empty() {
                return Err(OidcError::config(
                    "oidc.claims.tenant",
                    "names an empty claim; give the claim holding the tenant id, or { fixed = \"<tenant>\" }",
                ));
            }
        }
        if c.role.trim().is_empty() {
            return Err(OidcError::config(
                "oidc.claims.role",
                "is empty; name the claim holding the user's roles or groups",
            ));
        }
        if c.role_map.is_empty() {
            return Err(OidcError::config(
                "oidc.claims.role_map",
                "is empty; map at least one IdP role or group to a Hippo role (admin, writer, reader, auditor)",
            ));
        }
        if c.role_map.keys().any(|k| k.is_empty()) {
            return Err(OidcError::config(
                "oidc.claims.role_map",
                "has an empty IdP value; remove it",
            ));
        }
        if c.acr_values.iter().any(|a| a.is_empty()) {
            return Err(OidcError::config(
                "oidc.claims.acr_values",
                "contains an empty value; remove it",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> OidcConfig {
        let mut c = OidcConfig::new("https://idp.example.com/realms/hippo", vec!["hippo".into()]);
        c.claims.role_map.insert("clinicians".into(), Role::Writer);
        c
    }

    fn key_of(c: &OidcConfig) -> &'static str {
        match c.validate() {
            Err(OidcError::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_config_is_valid() {
        valid().validate().unwrap();
    }

    #[test]
    fn http_issuer_is_refused() {
        let mut c = valid();
        c.issuer = "http://idp.example.com".into();
        assert_eq!(key_of(&c), "oidc.issuer");
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("https"), "{msg}");
    }

    #[test]
    fn issuer_that_is_not_a_url_or_has_a_query_is_refused() {
        for bad in [
            "idp.example.com",
            "https://",
            "https://idp.example.com/?x=1",
            "https://u:p@idp.example.com",
        ] {
            let mut c = valid();
            c.issuer = bad.into();
            assert_eq!(key_of(&c), "oidc.issuer", "{bad}");
        }
    }

    #[test]
    fn empty_audience_is_refused() {
        let mut c = valid();
        c.audience.clear();
        assert_eq!(key_of(&c), "oidc.audience");
        c.audience = vec![" ".into()];
        assert_eq!(key_of(&c), "oidc.audience");
    }

    #[test]
    fn skew_above_300_is_refused() {
        let mut c = valid();
        c.clock_skew_secs = 300;
        c.validate().unwrap();
        c.clock_skew_secs = 301;
        assert_eq!(key_of(&c), "oidc.clock_skew_secs");
    }

    #[test]
    fn cache_bounds_and_empty_lists_are_refused() {
        let mut c = valid();
        c.jwks_cache_secs = 5;
        assert_eq!(key_of(&c), "oidc.jwks_cache_secs");
        let mut c = valid();
        c.algorithms.clear();
        assert_eq!(key_of(&c), "oidc.algorithms");
        let mut c = valid();
        c.claims.role_map.clear();
        assert_eq!(key_of(&c), "oidc.claims.role_map");
        let mut c = valid();
        c.claims.tenant = TenantClaim::Claim(String::new());
        assert_eq!(key_of(&c), "oidc.claims.tenant");
    }

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let c: OidcConfig = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example.com",
            "audience": ["hippo"],
            "claims": { "role_map": { "g": "reader" }, "tenant": { "fixed": "acme" } }
        }))
        .unwrap();
        assert_eq!(c.algorithms, Alg::ALL.to_vec());
        assert_eq!(c.clock_skew_secs, 60);
        assert_eq!(c.jwks_cache_secs, 600);
        assert!(c.claims.require_mfa);
        assert_eq!(c.claims.user, "sub");
        assert_eq!(c.claims.role, "hippo_role");
        assert_eq!(c.claims.tenant, TenantClaim::Fixed("acme".parse().unwrap()));
        c.validate().unwrap();

        let unknown = serde_json::from_value::<OidcConfig>(serde_json::json!({
            "issuer": "https://idp.example.com", "audience": ["hippo"], "audiences": ["x"]
        }));
        assert!(unknown.is_err());
    }

    #[test]
    fn none_and_hmac_algorithms_do_not_parse() {
        for alg in ["none", "HS256", "HS384", "HS512", "rs256"] {
            let r = serde_json::from_value::<Vec<Alg>>(serde_json::json!([alg]));
            assert!(r.is_err(), "{alg} parsed");
        }
        let ok: Vec<Alg> =
            serde_json::from_value(serde_json::json!(["RS256", "ES256", "EdDSA"])).unwrap();
        assert_eq!(ok, Alg::ALL.to_vec());
    }
}
