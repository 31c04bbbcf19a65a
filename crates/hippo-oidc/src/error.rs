//! The verifier's errors: one variant per reason a token or a configuration is refused, each
//! with a stable problem slug. Messages name claims and settings, never their values or the token.

/// Why a token was refused, or why the verifier could not start.
#[derive(thiserror::Error, Debug)]
pub enum OidcError {
    /// A setting is missing or out of range. `key` is the setting's full name (e.g. `oidc.audience`).
    #[error("invalid OIDC setting {key}: {message}")]
    Config { key: &'static str, message: String },

    /// Discovery or JWKS could not be fetched or read; the verifier fails closed.
    #[error("cannot load {what} from the OIDC issuer: {reason}; check that the issuer is reachable over HTTPS and its certificate is trusted (oidc.ca_file)")]
    IssuerUnreachable { what: &'static str, reason: String },

    #[error("the bearer token is larger than {limit} bytes; refused before parsing")]
    TokenTooLarge { limit: usize },

    /// The token is not a compact JWS with base64url parts and JSON header and claims.
    #[error("the bearer token is malformed: {0}")]
    MalformedToken(&'static str),

    /// `alg` is `none`, HMAC, not in `oidc.algorithms`, or does not fit the signing key's type.
    #[error("the token's signing algorithm is not allowed: {0}")]
    AlgorithmNotAllowed(&'static str),

    /// No published key has the token's `kid`, even after refreshing the issuer's JWKS.
    #[error("the token was signed with a key the issuer does not publish: {0}")]
    UnknownKey(&'static str),

    #[error("the token's signature does not verify with the issuer's key")]
    BadSignature,

    #[error("the token has expired (exp, allowing oidc.clock_skew_secs)")]
    TokenExpired,

    #[error("the token is not valid yet ({0} is in the future, allowing oidc.clock_skew_secs)")]
    TokenNotYetValid(&'static str),

    #[error("the token's issuer (iss) is missing or is not the configured oidc.issuer")]
    WrongIssuer,

    #[error("the token's audience (aud) is missing or names none of oidc.audience")]
    WrongAudience,

    #[error("the token carries no multi-factor evidence (amr or acr) and oidc.claims.require_mfa is set")]
    MfaRequired,

    #[error("the token's role claim ({claim}) holds no value mapped in oidc.claims.role_map")]
    NoRole { claim: String },

    #[error("the token's role claim ({claim}) maps to more than one Hippo role; map each user's groups to one role in oidc.claims.role_map")]
    AmbiguousRole { claim: String },

    #[error("the token's tenant claim ({claim}) {problem}")]
    NoTenant {
        claim: String,
        problem: &'static str,
    },

    #[error("the token's user claim ({claim}) is missing, empty, too long or not a string")]
    NoUser { claim: String },
}

impl OidcError {
    /// A stable kebab-case slug for the problem type (RFC 9457 `type`), one per variant.
    pub fn slug(&self) -> &'static str {
        match self {
            OidcError::Config { .. } => "config",
            OidcError::IssuerUnreachable { .. } => "issuer-unreachable",
            OidcError::TokenTooLarge { .. } => "token-too-large",
            OidcError::MalformedToken(_) => "malformed-token",
            OidcError::AlgorithmNotAllowed(_) => "algorithm-not-allowed",
            OidcError::UnknownKey(_) => "unknown-key",
            OidcError::BadSignature => "bad-signature",
            // hippo:ignore HIPPO-SECRET-003 reason="an error code, not a credential"
            OidcError::TokenExpired => "token-expired",
            OidcError::TokenNotYetValid(_) => "token-not-yet-valid",
            OidcError::WrongIssuer => "wrong-issuer",
            OidcError::WrongAudience => "wrong-audience",
            OidcError::MfaRequired => "mfa-required",
            OidcError::NoRole { .. } => "no-role",
            OidcError::AmbiguousRole { .. } => "ambiguous-role",
            OidcError::NoTenant { .. } => "no-tenant",
            OidcError::NoUser { .. } => "no-user",
        }
    }

    pub(crate) fn config(key: &'static str, message: impl Into<String>) -> Self {
        OidcError::Config {
            key,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_kebab_case_and_distinct() {
        let all = [
            OidcError::config("oidc.issuer", "x"),
            OidcError::IssuerUnreachable {
                what: "JWKS",
                reason: "x".into(),
            },
            OidcError::TokenTooLarge { limit: 1 },
            OidcError::MalformedToken("x"),
            OidcError::AlgorithmNotAllowed("x"),
            OidcError::UnknownKey("x"),
            OidcError::BadSignature,
            OidcError::TokenExpired,
            OidcError::TokenNotYetValid("nbf"),
            OidcError::WrongIssuer,
            OidcError::WrongAudience,
            OidcError::MfaRequired,
            OidcError::NoRole { claim: "r".into() },
            OidcError::AmbiguousRole { claim: "r".into() },
            OidcError::NoTenant {
                claim: "t".into(),
                problem: "is missing",
            },
            OidcError::NoUser {
                claim: "sub".into(),
            },
        ];
        let mut slugs: Vec<_> = all.iter().map(OidcError::slug).collect();
        for s in &slugs {
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{s}");
        }
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), all.len());
    }
}
