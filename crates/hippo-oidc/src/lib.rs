//! Verifies bearer JWTs from an external OpenID Connect issuer (Cognito, Okta, Keycloak, Entra ID)
//! and maps them to a Hippo user, tenant and role. Fails closed: no keys, no access.
//!
//! Keys come only from the issuer's JWKS (found through discovery at start), cached for
//! `oidc.jwks_cache_secs`. A token naming an unknown `kid` triggers at most one refetch per
//! [`REFETCH_INTERVAL_MS`], so forged `kid`s cannot make Hippo hammer the IdP.

mod claims;
pub mod config;
mod error;
mod fetch;
mod jwks;
mod jwt;

pub use config::{Alg, ClaimMapping, OidcConfig, TenantClaim, MFA_AMR};
pub use error::OidcError;
pub use jwt::MAX_TOKEN_BYTES;

use hippo_core::{Role, TenantId};
use jwks::Key;
use reqwest::Url;
use std::sync::{Arc, Mutex};

/// The shortest time between a JWKS fetch attempt (at start, on expiry, or for an unknown `kid`)
/// and a refetch for an unknown `kid`; also how long a failed refresh is not retried.
pub const REFETCH_INTERVAL_MS: i64 = 30_000;

/// A token that verified, as the principal it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user: String,
    pub tenant: TenantId,
    pub role: Role,
    /// Whether the token carried multi-factor evidence (`amr` or a configured `acr`).
    pub mfa: bool,
    pub expires_at_ms: i64,
    pub issuer: String,
    /// The token's `jti`, if any (for replay tracking and audit).
    pub token_id: Option<String>,
}

/// The cached key set and when it was fetched (times are the caller's clock, in ms).
struct KeyState {
    keys: Arc<Vec<Key>>,
    /// The last successful fetch.
    fetched_at_ms: i64,
    /// The last attempt, successful or not: the refetch rate limit counts from here.
    attempted_at_ms: i64,
}

/// Verifies tokens of one issuer. `Send + Sync`: share one behind an `Arc`.
pub struct OidcVerifier {
    cfg: OidcConfig,
    client: reqwest::Client,
    jwks_uri: Url,
    state: Mutex<KeyState>,
    /// Serialises fetches, so concurrent requests with the same unknown `kid` cause one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.cfg.issuer)
            .field("jwks_uri", &self.jwks_uri.as_str())
            .finish_non_exhaustive()
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl OidcVerifier {
    /// Validates `cfg`, then fetches discovery and the JWKS. Any failure refuses start.
    pub async fn new(cfg: OidcConfig) -> Result<Self, OidcError> {
        cfg.validate()?;
        let client = fetch::client(&cfg)?;
        let jwks_uri = fetch::discover(&client, &cfg.issuer).await?;
        let keys = jwks::parse_jwks(&fetch::get(&client, &jwks_uri, "the JWKS").await?)?;
        let now = system_now_ms();
        tracing::info!(issuer = %cfg.issuer, keys = keys.len(), "loaded the OIDC issuer's signing keys");
        Ok(Self {
            cfg,
            client,
            jwks_uri,
            state: Mutex::new(KeyState {
                keys: Arc::new(keys),
                fetched_at_ms: now,
                attempted_at_ms: now,
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// Verifies `token` (the bearer credential, without `Bearer `) at time `now_ms` (Unix ms).
    pub async fn verify(&self, token: &str, now_ms: i64) -> Result<VerifiedToken, OidcError> {
        let parsed = jwt::parse(token, &self.cfg.algorithms)?;
        let key = self.key_for(&parsed.kid, parsed.alg, now_ms).await?;
        key.verify(parsed.alg, parsed.signing_input, &parsed.signature)?;
        let claims = jwt::claims(parsed.payload_b64)?;
        claims::check(&self.cfg, &claims, now_ms)
    }

    fn snapshot(&self) -> (Arc<Vec<Key>>, i64, i64) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (s.keys.clone(), s.fetched_at_ms, s.attempted_at_ms)
    }

    fn cache_ms(&self) -> i64 {
        (self.cfg.jwks_cache_secs * 1000) as i64
    }

    /// The key named `kid` that fits `alg`: from the cache, refreshed when stale, refetched
    /// (rate-limited) when `kid` is unknown.
    async fn key_for(&self, kid: &str, alg: Alg, now_ms: i64) -> Result<Key, OidcError> {
        let (_, fetched, _) = self.snapshot();
        if now_ms.saturating_sub(fetched) >= self.cache_ms() {
            // Stale keys may include revoked ones: fail closed if they cannot be refreshed.
            self.refresh(now_ms, |fetched, _| {
                now_ms.saturating_sub(fetched) >= self.cache_ms()
            })
            .await?;
        }
        if let Some(k) = pick(&self.snapshot().0, kid, alg)? {
            return Ok(k);
        }
        self.refresh(now_ms, |_, attempted| {
            now_ms.saturating_sub(attempted) >= REFETCH_INTERVAL_MS
        })
        .await
        .ok();
        pick(&self.snapshot().0, kid, alg)?.ok_or(OidcError::UnknownKey(
            "no key in the issuer's JWKS has the token's kid",
        ))
    }

    /// Fetches the JWKS if `needed(fetched_at, attempted_at)` still holds once this task holds
    /// the fetch lock (another task may just have fetched), and the last attempt was not within
    /// [`REFETCH_INTERVAL_MS`]. Errors if the keys are stale and cannot be refreshed.
    async fn refresh(
        &self,
        now_ms: i64,
        needed: impl Fn(i64, i64) -> bool,
    ) -> Result<(), OidcError> {
        let _guard = self.fetching.lock().await;
        let (_, fetched, attempted) = self.snapshot();
        let stale = || now_ms.saturating_sub(fetched) >= self.cache_ms();
        if !needed(fetched, attempted) {
            return Ok(());
        }
        if now_ms.saturating_sub(attempted) < REFETCH_INTERVAL_MS {
            return if stale() {
                Err(OidcError::IssuerUnreachable {
                    what: "the JWKS",
                    reason:
                        "the cached keys expired and the last refresh failed less than 30 s ago"
                            .into(),
                })
            } else {
                Ok(())
            };
        }
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .attempted_at_ms = now_ms;
        let result = match fetch::get(&self.client, &self.jwks_uri, "the JWKS").await {
            Ok(body) => jwks::parse_jwks(&body),
            Err(e) => Err(e),
        };
        match result {
            Ok(keys) => {
                tracing::info!(issuer = %self.cfg.issuer, keys = keys.len(), "refreshed the OIDC issuer's signing keys");
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                s.keys = Arc::new(keys);
                s.fetched_at_ms = now_ms;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(issuer = %self.cfg.issuer, error = %e, "cannot refresh the OIDC issuer's signing keys");
                if stale() {
                    Err(e)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The key named `kid` that fits `alg`; `Ok(None)` if no key has that kid; an error if keys
/// have it but none fits (an RSA key named by an ES256 token, say).
fn pick(keys: &[Key], kid: &str, alg: Alg) -> Result<Option<Key>, OidcError> {
    let mut named = keys.iter().filter(|k| k.kid == kid).peekable();
    if named.peek().is_none() {
        return Ok(None);
    }
    named
        .find(|k| k.fits(alg))
        .cloned()
        .map(Some)
        .ok_or(OidcError::AlgorithmNotAllowed(
            "alg does not match the type of the key named by kid",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<OidcVerifier>();
    }

    #[tokio::test]
    async fn an_invalid_config_refuses_before_any_fetch() {
        let cfg = OidcConfig::new("http://127.0.0.1:1", vec!["hippo".into()]);
        assert_eq!(OidcVerifier::new(cfg).await.unwrap_err().slug(), "config");
    }
}
