//! Bearer JWTs of an external identity provider (a real HTTPS issuer the test starts, signing
//! real tokens) reach records through the same policy as everyone else: mapped to tenant and
//! role, refused across tenants, refused without MFA, expired by the injected clock.

use super::*;
use hippo_testkit::oidc_issuer::{MintOptions, TestIssuer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_provider_tokens_pass_through_the_same_policy() {
    let issuer = TestIssuer::start().await;
    let mut cfg = hippo_oidc::OidcConfig::new(issuer.url(), vec!["hippo-api".into()]);
    cfg.ca_file = Some(issuer.ca_file().to_owned());
    cfg.claims
        .role_map
        .insert("clinicians".into(), Role::Reader);
    cfg.claims
        .role_map
        .insert("records-team".into(), Role::Writer);
    for w in worlds_with(
        "authz_oidc",
        hippo_policy::PolicyEngine::builtin,
        Some(cfg.clone()),
    )
    .await
    {
        let kind = w.kind();
        let a = w.tenant("clinic-a").await;
        let b = w.tenant("clinic-b").await;
        let mine = w.record(&a, "Patient", &[], json!({"mrn": "1"})).await;
        let theirs = w
            .record(&b, "Patient", &[], json!({"mrn": hippo_testkit::CANARY}))
            .await;
        let now_s = w.now() / 1000;
        let token = |groups: &[&str], amr: &[&str], exp: i64| {
            issuer.mint(
                json!({"iss": issuer.url(), "aud": "hippo-api", "sub": "okta-123", "jti": "t-1",
                       "iat": now_s, "exp": exp, "hippo_tenant": "clinic-a",
                       "hippo_role": groups, "amr": amr}),
                MintOptions::default(),
            )
        };
        let reader = token(&["clinicians"], &["pwd", "mfa"], now_s + 600);
        let (status, body) = w
            .call(Method::GET, &format!("/v1/records/{mine}"), &reader, None)
            .await;
        assert_eq!(status, 200, "{kind}: {body}");
        let (status, body) = w
            .call(Method::GET, &format!("/v1/records/{theirs}"), &reader, None)
            .await;
        assert_eq!(status, 404, "{kind}: another tenant's record is not found");
        assert!(!body.to_string().contains(hippo_testkit::CANARY));
        let (status, _) = w
            .call(
                Method::POST,
                "/v1/records",
                &reader,
                Some(json!({"type": "Patient", "body": {}})),
            )
            .await;
        assert_eq!(status, 403, "{kind}: a reader by mapping cannot write");
        let writer = token(&["records-team", "unmapped-group"], &["mfa"], now_s + 600);
        let (status, _) = w
            .call(
                Method::POST,
                "/v1/records",
                &writer,
                Some(json!({"type": "Patient", "body": {}})),
            )
            .await;
        assert_eq!(status, 201, "{kind}");
        let (status, p) = w
            .call(
                Method::GET,
                "/v1/records",
                &token(&["clinicians"], &["pwd"], now_s + 600),
                None,
            )
            .await;
        assert_eq!(
            (status, p["type"].as_str()),
            (401, Some("urn:hippo:problem:mfa-required")),
            "{kind}: {p}"
        );
        w.advance(700_000);
        let (status, p) = w.call(Method::GET, "/v1/records", &reader, None).await;
        assert_eq!(
            (status, p["type"].as_str()),
            (401, Some("urn:hippo:problem:token-expired")),
            "{kind}: {p}"
        );
        w.advance(-700_000);
        // The audit trail names the provider's user, never the token.
        let events = w.events(&a).await;
        assert!(events
            .iter()
            .any(|e| e.actor_id == "oidc:okta-123" && e.action == Action::RecordRead));
        assert!(!serde_json::to_string(&events).unwrap().contains(&reader));
    }
}
