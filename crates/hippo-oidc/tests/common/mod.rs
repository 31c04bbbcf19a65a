//! Shared by the integration tests: a verifier configured for the testkit's issuer, valid
//! claims to start from, and the slug of a refused token.
#![allow(dead_code)]

use hippo_core::Role;
use hippo_oidc::{OidcConfig, OidcVerifier};
use hippo_testkit::oidc_issuer::TestIssuer;
use serde_json::{json, Value};

pub const AUD: &str = "hippo-api";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn config(issuer: &TestIssuer) -> OidcConfig {
    let mut c = OidcConfig::new(issuer.url(), vec![AUD.into(), "other-client".into()]);
    c.ca_file = Some(issuer.ca_file().to_owned());
    c.claims
        .role_map
        .insert("hippo-writers".into(), Role::Writer);
    c.claims
        .role_map
        .insert("hippo-auditors".into(), Role::Auditor);
    c
}

/// Claims of a valid token issued at `now` (ms), valid for an hour.
pub fn claims(issuer: &TestIssuer, now: i64) -> Value {
    json!({
        "iss": issuer.url(), "aud": AUD, "sub": "user-1", "jti": "token-1",
        "iat": now / 1000, "exp": now / 1000 + 3600,
        "hippo_tenant": "acme", "hippo_role": ["hippo-writers"], "amr": ["pwd", "mfa"],
    })
}

pub fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

pub fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

pub async fn setup() -> (TestIssuer, OidcVerifier) {
    let issuer = TestIssuer::start().await;
    let verifier = OidcVerifier::new(config(&issuer))
        .await
        .expect("verifier starts");
    (issuer, verifier)
}

pub async fn slug(v: &OidcVerifier, token: &str, now: i64) -> &'static str {
    match v.verify(token, now).await {
        Ok(t) => panic!("token accepted: {t:?}"),
        Err(e) => e.slug(),
    }
}
