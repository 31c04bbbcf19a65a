//! Shared state handed to every handler.

use crate::auth::throttle::SignInThrottle;
use crate::config::Config;
use crate::ratelimit::Limiter;
use hippo_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The server's clock (Unix ms). Injectable so tests can move time instead of sleeping.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub limiter: Arc<Limiter>,
    /// The authorization policy: built-in roles plus tenants' Rego rules, loaded at start.
    pub policy: Arc<hippo_policy::PolicyEngine>,
    /// The external identity provider's token verifier, when `[oidc]` is configured.
    pub oidc: Option<Arc<hippo_oidc::OidcVerifier>>,
    pub throttle: Arc<SignInThrottle>,
    /// Decoy Argon2id hash checked for unknown accounts, so they take as long as known ones.
    pub decoy_hash: Arc<String>,
    /// The WebAuthn relying party (passkeys), from `[auth]`.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    /// Continuous backup's figures, when it runs (embedded store with `backup.to`).
    pub backup: Option<Arc<hippo_backup::ship::ShipStatus>>,
    /// Metrics, alerts and the background jobs' last outcomes.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// Documents attached to records (sealed blobs and their keys), when configured.
    pub documents: Option<Arc<hippo_docs::Documents>>,
    clock: Clock,
    /// When each API key's last use was last written by this instance.
    key_use: Arc<Mutex<HashMap<String, i64>>>,
}

/// How often an API key's last-use time is written (per key, per instance).
const KEY_USE_EVERY_MS: i64 = 60_000;

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        policy: hippo_policy::PolicyEngine,
        oidc: Option<hippo_oidc::OidcVerifier>,
    ) -> Self {
        let decoy = hippo_identity::password::decoy_hash(config.auth.argon2)
            .expect("validated: the Argon2id cost is usable");
        let webauthn = config
            .auth
            .webauthn()
            .expect("validated: the WebAuthn relying party is usable");
        let telemetry = Arc::new(crate::telemetry::Telemetry::new(
            &config,
            &store,
            hippo_core::time_fmt::now_millis(),
        ));
        Self {
            telemetry,
            webauthn: Arc::new(webauthn),
            limiter: Arc::new(Limiter::new(&config.rate_limit)),
            throttle: Arc::new(SignInThrottle::new(config.auth.throttle)),
            decoy_hash: Arc::new(decoy),
            config: Arc::new(config),
            store,
            policy: Arc::new(policy),
            oidc: oidc.map(Arc::new),
            backup: None,
            documents: None,
            clock: Arc::new(hippo_core::time_fmt::now_millis),
            key_use: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Records an API key's use, writing it to the store at most once a minute per key.
    pub fn note_key_use(&self, key_id: &str, now_ms: i64) {
        let due = {
            let mut seen = self.key_use.lock().expect("key use lock");
            match seen.get(key_id) {
                Some(last) if now_ms - last < KEY_USE_EVERY_MS => false,
                _ => {
                    seen.insert(key_id.to_owned(), now_ms);
                    true
                }
            }
        };
        if due {
            let (store, key) = (self.store.clone(), key_id.to_owned());
            tokio::spawn(async move {
                if let Err(e) = store.note_api_key_use(&key, now_ms).await {
                    tracing::warn!(error = %e, "could not record an API key's last use");
                }
            });
        }
    }
}
