//! Time-based rules with the clock moved, not slept through: idle timeout (touched sessions live
//! on), absolute lifetime (however active), API key expiry, and revocation seen at once.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_idle_or_too_old_and_keys_when_they_expire() {
    for w in worlds("authz_clock", hippo_policy::PolicyEngine::builtin).await {
        let kind = w.kind();
        let a = w.tenant("clinic-a").await;
        let user = w.user("night.nurse", &a, Role::Reader).await;
        let idle = w.config.auth.session_idle_secs as i64 * 1000;
        let absolute = w.config.auth.session_absolute_secs as i64 * 1000;
        let me = "/v1/auth/session";

        // Idle: one request just before the idle limit keeps the session alive for another
        // idle period; silence past it ends the session.
        let token = w.session(&user, &a, Role::Reader).await;
        w.advance(idle - 1_000);
        assert_eq!(w.call(Method::GET, me, &token, None).await.0, 200, "{kind}");
        w.advance(idle - 1_000);
        assert_eq!(
            w.call(Method::GET, me, &token, None).await.0,
            200,
            "{kind}: touched"
        );
        w.advance(idle + 1);
        let (status, p) = w.call(Method::GET, me, &token, None).await;
        assert_eq!(status, 401, "{kind}");
        assert_eq!(p["type"], "urn:hippo:problem:session-ended");
        assert!(p["detail"].as_str().unwrap().contains("idle"), "{p}");

        // Absolute: a session used every few minutes still ends at its lifetime.
        let token = w.session(&user, &a, Role::Reader).await;
        let step = idle / 2;
        let mut elapsed = 0;
        while elapsed + step < absolute {
            w.advance(step);
            elapsed += step;
            assert_eq!(
                w.call(Method::GET, me, &token, None).await.0,
                200,
                "{kind} at {elapsed}"
            );
        }
        w.advance(absolute - elapsed);
        let (status, p) = w.call(Method::GET, me, &token, None).await;
        assert_eq!(status, 401, "{kind}");
        assert!(
            p["detail"].as_str().unwrap().contains("maximum lifetime"),
            "{p}"
        );

        // Logout ends the session at once.
        let token = w.session(&user, &a, Role::Reader).await;
        assert_eq!(
            w.call(Method::POST, "/v1/auth/logout", &token, None)
                .await
                .0,
            204
        );
        assert_eq!(w.call(Method::GET, me, &token, None).await.0, 401);

        // An API key created with an expiry stops at it.
        let minted = hippo_core::apikey::mint(&hippo_store::random::bytes::<40>().unwrap());
        let key = hippo_store::NewApiKey {
            tenant: a.clone(),
            role: Role::Reader,
            name: "expiring".into(),
            minted: minted.clone(),
            created_by: "operator".into(),
            expires_at_ms: Some(w.now() + 3_600_000),
        };
        w.store
            .create_api_key(key, op(Some(&a), Action::ApiKeyCreate))
            .await
            .unwrap();
        let list = "/v1/records?limit=1";
        assert_eq!(
            w.call(Method::GET, list, &minted.token, None).await.0,
            200,
            "{kind}"
        );
        w.advance(3_600_000);
        let (status, p) = w.call(Method::GET, list, &minted.token, None).await;
        assert_eq!(status, 401, "{kind}: expired key");
        assert_eq!(p["type"], "urn:hippo:problem:bad-credentials");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_passkey_challenge_is_refused_and_changes_nothing() {
    use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;
    for w in worlds("authz_challenge", hippo_policy::PolicyEngine::builtin).await {
        let kind = w.kind();
        let a = w.tenant("clinic-a").await;
        let user = w.user("slow.clicker", &a, Role::Reader).await;
        let token = w.session(&user, &a, Role::Reader).await;
        let (status, challenge) = w
            .call(
                Method::POST,
                "/v1/auth/passkeys/register/start",
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{kind}: {challenge}");
        let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
        let origin = w.config.auth.webauthn_origin.parse().unwrap();
        let cred = key
            .do_registration(origin, serde_json::from_value(challenge).unwrap())
            .unwrap();
        w.advance(hippo_server::auth::passkeys::CEREMONY_MS + 1);
        let body = serde_json::json!({"credential": cred});
        let (status, p) = w
            .call(
                Method::POST,
                "/v1/auth/passkeys/register/finish",
                &token,
                Some(body),
            )
            .await;
        assert_eq!(status, 401, "{kind}: {p}");
        assert_eq!(p["type"], "urn:hippo:problem:challenge-expired");
        assert!(w.store.passkeys(&user).await.unwrap().is_empty(), "{kind}");
        w.advance(-(hippo_server::auth::passkeys::CEREMONY_MS + 1));
    }
}
