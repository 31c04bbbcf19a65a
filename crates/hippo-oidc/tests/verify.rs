//! End-to-end verification against the testkit's real OIDC issuer: HTTPS discovery and JWKS,
//! tokens signed with real keys, the clock injected through `now_ms`.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use hippo_core::Role;
use hippo_oidc::{OidcVerifier, TenantClaim};
use hippo_testkit::oidc_issuer::{b64_json, MintOptions};
use serde_json::{json, Value};

#[tokio::test]
async fn valid_tokens_of_each_algorithm_verify() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    assert_eq!(issuer.jwks_fetches(), 1, "one JWKS fetch at start");
    for kid in ["es256-1", "rs256-1", "eddsa-1"] {
        let token = issuer.mint(claims(&issuer, now), MintOptions::key(kid));
        let t = v
            .verify(&token, now)
            .await
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(t.user, "user-1");
        assert_eq!(t.tenant.as_str(), "acme");
        assert_eq!(t.role, Role::Writer);
        assert!(t.mfa);
        assert_eq!(t.expires_at_ms, (now / 1000 + 3600) * 1000);
        assert_eq!(t.issuer, issuer.url());
        assert_eq!(t.token_id.as_deref(), Some("token-1"));
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "known keys are served from the cache"
    );
}

#[tokio::test]
async fn expired_token_is_refused_by_the_injected_clock() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let exp = now / 1000 + 3600;
    let token = issuer.mint(claims(&issuer, now), MintOptions::default());
    // Default skew is 60 s: valid until exp + 60 s, refused from then on.
    v.verify(&token, exp * 1000 + 59_000).await.unwrap();
    assert_eq!(slug(&v, &token, exp * 1000 + 60_000).await, "token-expired");

    let old = issuer.mint(
        with(claims(&issuer, now), "exp", json!(now / 1000 - 120)),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &old, now).await, "token-expired");
    let no_exp = issuer.mint(without(claims(&issuer, now), "exp"), MintOptions::default());
    assert_eq!(slug(&v, &no_exp, now).await, "malformed-token");
}

#[tokio::test]
async fn not_yet_valid_token_is_refused_until_nbf() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let nbf = now / 1000 + 600;
    let token = issuer.mint(
        with(claims(&issuer, now), "nbf", json!(nbf)),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &token, now).await, "token-not-yet-valid");
    assert_eq!(
        slug(&v, &token, (nbf - 61) * 1000).await,
        "token-not-yet-valid"
    );
    v.verify(&token, (nbf - 60) * 1000).await.unwrap();

    let future_iat = issuer.mint(
        with(claims(&issuer, now), "iat", json!(now / 1000 + 600)),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &future_iat, now).await, "token-not-yet-valid");
}

#[tokio::test]
async fn wrong_audience_and_wrong_issuer_are_refused() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let mint = |c| issuer.mint(c, MintOptions::default());
    assert_eq!(
        slug(
            &v,
            &mint(with(claims(&issuer, now), "aud", json!("someone-else"))),
            now
        )
        .await,
        "wrong-audience"
    );
    assert_eq!(
        slug(
            &v,
            &mint(with(claims(&issuer, now), "aud", json!(["a", "b"]))),
            now
        )
        .await,
        "wrong-audience"
    );
    assert_eq!(
        slug(&v, &mint(without(claims(&issuer, now), "aud")), now).await,
        "wrong-audience"
    );
    v.verify(
        &mint(with(claims(&issuer, now), "aud", json!(["a", AUD]))),
        now,
    )
    .await
    .unwrap();

    assert_eq!(
        slug(
            &v,
            &mint(with(
                claims(&issuer, now),
                "iss",
                json!("https://evil.example")
            )),
            now
        )
        .await,
        "wrong-issuer"
    );
    let slash = format!("{}/", issuer.url());
    assert_eq!(
        slug(
            &v,
            &mint(with(claims(&issuer, now), "iss", json!(slash))),
            now
        )
        .await,
        "wrong-issuer"
    );
    assert_eq!(
        slug(&v, &mint(without(claims(&issuer, now), "iss")), now).await,
        "wrong-issuer"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let body = b64_json(&claims(&issuer, now));
    for alg in ["none", "None", "NONE"] {
        let header = b64_json(&json!({"alg": alg, "typ": "JWT", "kid": "es256-1"}));
        assert_eq!(
            slug(&v, &format!("{header}.{body}."), now).await,
            "algorithm-not-allowed"
        );
        // Even with a real signature of the same key attached.
        let real = issuer.mint(claims(&issuer, now), MintOptions::default());
        let sig = real.rsplit('.').next().unwrap();
        assert_eq!(
            slug(&v, &format!("{header}.{body}.{sig}"), now).await,
            "algorithm-not-allowed"
        );
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused_before_any_key_is_used() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let fetches = issuer.jwks_fetches();
    let jwk_rsa = issuer.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "rs256-1")
        .cloned()
        .unwrap();
    // The classic confusion: a verifier that feeds "the key for kid" to HMAC would accept these.
    for (kid, secret) in [
        ("rs256-1", issuer.public_key_bytes("rs256-1")),
        ("rs256-1", serde_json::to_vec(&jwk_rsa).unwrap()),
        ("es256-1", issuer.public_key_bytes("es256-1")),
    ] {
        let input = format!(
            "{}.{}",
            b64_json(&json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
            b64_json(&claims(&issuer, now))
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(slug(&v, &token, now).await, "algorithm-not-allowed");
    }
    assert_eq!(
        issuer.jwks_fetches(),
        fetches,
        "refused before any key lookup"
    );
}

#[tokio::test]
async fn alg_must_match_the_key_type_and_the_allow_list() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    // Signed by the EC key, but the header claims RS256 and names the EC key.
    let lying = issuer.mint(
        claims(&issuer, now),
        MintOptions {
            header_alg: Some("RS256".into()),
            ..MintOptions::default()
        },
    );
    assert_eq!(slug(&v, &lying, now).await, "algorithm-not-allowed");
    // ES256 header naming the RSA key.
    let mismatched = issuer.mint(
        claims(&issuer, now),
        MintOptions {
            header_kid: Some("rs256-1".into()),
            ..MintOptions::default()
        },
    );
    assert_eq!(slug(&v, &mismatched, now).await, "algorithm-not-allowed");

    let mut cfg = config(&issuer);
    cfg.algorithms = vec![hippo_oidc::Alg::Es256];
    let es_only = OidcVerifier::new(cfg).await.unwrap();
    let rs = issuer.mint(claims(&issuer, now), MintOptions::key("rs256-1"));
    assert_eq!(slug(&es_only, &rs, now).await, "algorithm-not-allowed");
    es_only
        .verify(
            &issuer.mint(claims(&issuer, now), MintOptions::default()),
            now,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn tampered_tokens_fail_the_signature_check() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let token = issuer.mint(claims(&issuer, now), MintOptions::default());
    let parts: Vec<&str> = token.split('.').collect();
    let forged_body = b64_json(&with(
        claims(&issuer, now),
        "hippo_role",
        json!(["hippo-auditors"]),
    ));
    let forged = format!("{}.{forged_body}.{}", parts[0], parts[2]);
    assert_eq!(slug(&v, &forged, now).await, "bad-signature");
    // Another key's valid signature over the same input.
    let other = issuer.mint(claims(&issuer, now), MintOptions::key("eddsa-1"));
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        other.rsplit('.').next().unwrap()
    );
    assert_eq!(slug(&v, &swapped, now).await, "bad-signature");
}

#[tokio::test]
async fn oversized_and_malformed_tokens_are_refused() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let big = issuer.mint(
        with(claims(&issuer, now), "pad", json!("x".repeat(8 * 1024))),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &big, now).await, "token-too-large");
    assert_eq!(
        slug(&v, &"a".repeat(8 * 1024 + 1), now).await,
        "token-too-large"
    );

    let good = issuer.mint(claims(&issuer, now), MintOptions::default());
    let parts: Vec<&str> = good.split('.').collect();
    for bad in [
        String::new(),
        "not a token".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra.parts"),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}*", parts[0], parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode("{not json"),
            parts[1],
            parts[2]
        ),
        format!("{}.{}.", parts[0], parts[1]),
    ] {
        assert_eq!(slug(&v, &bad, now).await, "malformed-token", "{bad}");
    }
    // Correctly signed, but the payload is not a claims object.
    let not_object = issuer.mint(json!(["not", "an", "object"]), MintOptions::default());
    assert_eq!(slug(&v, &not_object, now).await, "malformed-token");
}

#[tokio::test]
async fn mfa_is_required_unless_disabled() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let pwd_only = issuer.mint(
        with(claims(&issuer, now), "amr", json!(["pwd"])),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &pwd_only, now).await, "mfa-required");
    let no_amr = issuer.mint(without(claims(&issuer, now), "amr"), MintOptions::default());
    assert_eq!(slug(&v, &no_amr, now).await, "mfa-required");
    let hwk = issuer.mint(
        with(claims(&issuer, now), "amr", json!(["hwk", "pin"])),
        MintOptions::default(),
    );
    assert!(v.verify(&hwk, now).await.unwrap().mfa);

    let mut cfg = config(&issuer);
    cfg.claims.acr_values = vec!["urn:hippo:mfa".into()];
    let acr_v = OidcVerifier::new(cfg.clone()).await.unwrap();
    let acr = issuer.mint(
        with(
            with(claims(&issuer, now), "amr", json!(["pwd"])),
            "acr",
            json!("urn:hippo:mfa"),
        ),
        MintOptions::default(),
    );
    assert!(acr_v.verify(&acr, now).await.unwrap().mfa);

    cfg.claims.require_mfa = false;
    let lax = OidcVerifier::new(cfg).await.unwrap();
    assert!(!lax.verify(&pwd_only, now).await.unwrap().mfa);
}

#[tokio::test]
async fn roles_map_from_group_arrays_and_no_role_is_refused() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let mint = |groups: Value| {
        issuer.mint(
            with(claims(&issuer, now), "hippo_role", groups),
            MintOptions::default(),
        )
    };
    let t = v
        .verify(
            &mint(json!(["everyone", "hippo-auditors", "vpn-users"])),
            now,
        )
        .await
        .unwrap();
    assert_eq!(t.role, Role::Auditor);
    assert_eq!(
        v.verify(&mint(json!("hippo-writers")), now)
            .await
            .unwrap()
            .role,
        Role::Writer
    );
    assert_eq!(
        slug(&v, &mint(json!(["everyone", "vpn-users"])), now).await,
        "no-role"
    );
    assert_eq!(slug(&v, &mint(json!([])), now).await, "no-role");
    assert_eq!(
        slug(
            &v,
            &issuer.mint(
                without(claims(&issuer, now), "hippo_role"),
                MintOptions::default()
            ),
            now
        )
        .await,
        "no-role"
    );
    assert_eq!(
        slug(&v, &mint(json!(["hippo-writers", "hippo-auditors"])), now).await,
        "ambiguous-role"
    );

    // Cognito-style claim name.
    let mut cfg = config(&issuer);
    cfg.claims.role = "cognito:groups".into();
    let cognito = OidcVerifier::new(cfg).await.unwrap();
    let token = issuer.mint(
        with(
            claims(&issuer, now),
            "cognito:groups",
            json!(["hippo-writers"]),
        ),
        MintOptions::default(),
    );
    assert_eq!(
        cognito.verify(&token, now).await.unwrap().role,
        Role::Writer
    );
}

#[tokio::test]
async fn missing_tenant_claim_is_refused_unless_fixed() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let token = issuer.mint(
        without(claims(&issuer, now), "hippo_tenant"),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &token, now).await, "no-tenant");
    let bad = issuer.mint(
        with(claims(&issuer, now), "hippo_tenant", json!("ACME Corp")),
        MintOptions::default(),
    );
    assert_eq!(slug(&v, &bad, now).await, "no-tenant");
    let no_sub = issuer.mint(without(claims(&issuer, now), "sub"), MintOptions::default());
    assert_eq!(slug(&v, &no_sub, now).await, "no-user");

    let mut cfg = config(&issuer);
    cfg.claims.tenant = TenantClaim::Fixed("clinic".parse().unwrap());
    let fixed = OidcVerifier::new(cfg).await.unwrap();
    assert_eq!(
        fixed.verify(&token, now).await.unwrap().tenant.as_str(),
        "clinic"
    );
}

#[tokio::test]
async fn errors_carry_neither_the_token_nor_claim_values() {
    let (issuer, v) = setup().await;
    let now = now_ms();
    let canary = hippo_testkit::CANARY;
    for c in [
        with(claims(&issuer, now), "aud", json!(canary)),
        with(claims(&issuer, now), "hippo_tenant", json!(canary)),
        with(claims(&issuer, now), "hippo_role", json!([canary])),
        with(claims(&issuer, now), "iss", json!(canary)),
    ] {
        let token = issuer.mint(c, MintOptions::default());
        let e = v.verify(&token, now).await.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(canary) && !text.contains(&token[..40]),
            "{text}"
        );
    }
}
