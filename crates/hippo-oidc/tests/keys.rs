//! The issuer's keys over time, against the testkit's real OIDC issuer: unknown kids, rotation,
//! the refetch rate limit, and failing closed when discovery or the JWKS cannot be loaded.

mod common;

use common::*;
use hippo_oidc::{OidcError, OidcVerifier, REFETCH_INTERVAL_MS};
use hippo_testkit::oidc_issuer::{KeyAlg, MintOptions, TestIssuer};
use std::sync::Arc;

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refetch() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let kid = issuer.add_unpublished_key(KeyAlg::Es256);
    let token = issuer.mint(claims(&issuer, now), MintOptions::key(&kid));
    let later = now + REFETCH_INTERVAL_MS + 1_000;
    assert_eq!(slug(&v, &token, later).await, "unknown-key");
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "the unknown kid caused one refetch"
    );
}

#[tokio::test]
async fn rotated_key_is_accepted_after_refetch() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let old_token = issuer.mint(claims(&issuer, now), MintOptions::default());
    let new_kid = issuer.rotate(KeyAlg::Es256, false);
    let new_token = issuer.mint(claims(&issuer, now), MintOptions::default());
    assert!(new_token != old_token);
    // Within 30 s of the start-up fetch the new kid is not looked up again.
    assert_eq!(slug(&v, &new_token, now).await, "unknown-key");
    assert_eq!(issuer.jwks_fetches(), 1);
    let later = now + REFETCH_INTERVAL_MS;
    let t = v
        .verify(&new_token, later)
        .await
        .expect("new key accepted after refetch");
    assert_eq!(t.user, "user-1");
    assert_eq!(issuer.jwks_fetches(), 2);
    assert!(issuer.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kid"] != "es256-1"));
    assert!(issuer.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == new_kid));
    assert_eq!(
        slug(&v, &old_token, later).await,
        "unknown-key",
        "the retired key is gone"
    );

    // Rotation keeping the old key: both verify after the next refetch.
    let kept = issuer.current_kid();
    issuer.rotate(KeyAlg::EdDsa, true);
    let ed = issuer.mint(claims(&issuer, now), MintOptions::default());
    let later2 = later + REFETCH_INTERVAL_MS;
    v.verify(&ed, later2).await.unwrap();
    v.verify(
        &issuer.mint(claims(&issuer, now), MintOptions::key(&kept)),
        later2,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn refetches_for_unknown_kids_are_rate_limited() {
    let (issuer, v) = setup().await;
    let v = Arc::new(v);
    let now = now_ms();
    let kid = issuer.add_unpublished_key(KeyAlg::EdDsa);
    let token = issuer.mint(claims(&issuer, now), MintOptions::key(&kid));
    let t0 = now + REFETCH_INTERVAL_MS;
    assert_eq!(slug(&v, &token, t0).await, "unknown-key");
    assert_eq!(issuer.jwks_fetches(), 2);
    for i in 0..50 {
        assert_eq!(slug(&v, &token, t0 + i * 500).await, "unknown-key");
    }
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "no refetch within 30 s of the last"
    );
    // Many concurrent requests once the interval has passed: still a single fetch.
    let t1 = t0 + REFETCH_INTERVAL_MS;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { v.verify(&token, t1).await.unwrap_err().slug() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "unknown-key");
    }
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn start_fails_closed() {
    let issuer = TestIssuer::start().await;
    // The issuer's CA is not trusted without oidc.ca_file: TLS is really checked.
    let mut untrusted = config(&issuer);
    untrusted.ca_file = None;
    let e = OidcVerifier::new(untrusted).await.unwrap_err();
    assert_eq!(e.slug(), "issuer-unreachable", "{e}");

    let mut slash = config(&issuer);
    slash.issuer = format!("{}/", issuer.url());
    let e = OidcVerifier::new(slash).await.unwrap_err();
    assert!(
        matches!(
            e,
            OidcError::Config {
                key: "oidc.issuer",
                ..
            }
        ),
        "{e}"
    );

    issuer.set_jwks_down(true);
    assert_eq!(
        OidcVerifier::new(config(&issuer)).await.unwrap_err().slug(),
        "issuer-unreachable"
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("https://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut gone = config(&issuer);
    gone.issuer = closed;
    assert_eq!(
        OidcVerifier::new(gone).await.unwrap_err().slug(),
        "issuer-unreachable"
    );
}

#[tokio::test]
async fn expired_key_cache_fails_closed_when_the_issuer_is_down() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let token = issuer.mint(claims(&issuer, now), MintOptions::default());
    let stale = now + 600_000;
    issuer.set_jwks_down(true);
    assert_eq!(slug(&v, &token, stale).await, "issuer-unreachable");
    assert_eq!(slug(&v, &token, stale + 1_000).await, "issuer-unreachable");
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "failed refreshes are rate-limited too"
    );
    issuer.set_jwks_down(false);
    v.verify(&token, stale + REFETCH_INTERVAL_MS).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 3);
}
