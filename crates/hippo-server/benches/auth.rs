//! Cost of who is calling: audited reads authenticated by an API key, a person's session and an
//! identity provider's JWT, in the same run (so their ratio is what matters), through the real
//! router, policy engine and embedded store (no socket: TLS costs the same for all three and is
//! measured by `hippo bench`). Then sign-in latency at the default Argon2id cost (p50/p99 of
//! full password logins).
//!
//! Run: `cargo bench -p hippo-server --bench auth`.

use axum::body::Body;
use axum::http::{header, Request};
use criterion::{criterion_group, Criterion};
use hippo_core::{Action, Actor, AuditDraft, RecordInput, Role, TenantId};
use hippo_server::config::Config;
use hippo_server::state::AppState;
use hippo_store::identity::{Membership, NewSession, NewUser, SessionStage};
use hippo_store::{NewApiKey, SqliteStore, Store};
use hippo_testkit::oidc_issuer::{MintOptions, TestIssuer};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

struct Setup {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    path: String,
    api_key: String,
    session: String,
    jwt: String,
    _issuer: TestIssuer,
    _dir: tempfile::TempDir,
}

fn op(t: &TenantId, action: Action) -> AuditDraft {
    AuditDraft::new(Some(t.clone()), Actor::operator(), action, "bench")
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (app, path, api_key, session, jwt, issuer) = rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::create(&dir.path().join("d")).unwrap());
        let t: TenantId = "default".parse().unwrap();
        store
            .create_tenant(&t, op(&t, Action::TenantCreate))
            .await
            .unwrap();
        let input = RecordInput {
            record_type: "Observation".into(),
            subject: Some("p-1".into()),
            labels: vec![],
            body: json!({"code": "8867-4", "value": 72, "note": "x".repeat(400)})
                .as_object()
                .unwrap()
                .clone(),
        };
        let id = store
            .create_record(&t, input, "bench", op(&t, Action::RecordCreate))
            .await
            .unwrap()
            .id;
        let minted = hippo_core::apikey::mint(&hippo_store::random::bytes::<40>().unwrap());
        store
            .create_api_key(
                NewApiKey {
                    tenant: t.clone(),
                    role: Role::Reader,
                    name: "bench".into(),
                    minted: minted.clone(),
                    created_by: "bench".into(),
                    expires_at_ms: None,
                },
                op(&t, Action::ApiKeyCreate),
            )
            .await
            .unwrap();
        let mut config = Config::default();
        config.rate_limit.requests_per_second = 1_000_000;
        config.rate_limit.burst = 1_000_000;
        let salt = hippo_store::random::bytes::<16>().unwrap();
        let hash = hippo_identity::password::hash(PASSWORD, config.auth.argon2, &salt).unwrap();
        let user = store
            .create_user(
                NewUser {
                    username: "bench.user".into(),
                    password_hash: hash,
                    memberships: vec![Membership {
                        tenant: t.clone(),
                        role: Role::Reader,
                    }],
                    created_by: "bench".into(),
                },
                op(&t, Action::UserCreate),
            )
            .await
            .unwrap();
        let s = hippo_identity::session::mint(&hippo_store::random::bytes::<32>().unwrap());
        store
            .create_session(
                NewSession {
                    token_hash: s.token_hash,
                    user_id: user.id,
                    tenant: t.clone(),
                    role: Role::Reader,
                    stage: SessionStage::Active,
                    now_ms: hippo_core::time_fmt::now_millis(),
                },
                op(&t, Action::AuthLogin),
            )
            .await
            .unwrap();
        let issuer = TestIssuer::start().await;
        let mut oidc = hippo_oidc::OidcConfig::new(issuer.url(), vec!["hippo-api".into()]);
        oidc.ca_file = Some(issuer.ca_file().to_owned());
        oidc.claims
            .role_map
            .insert("clinicians".into(), Role::Reader);
        let now = hippo_core::time_fmt::now_millis() / 1000;
        let jwt = issuer.mint(
            json!({"iss": issuer.url(), "aud": "hippo-api", "sub": "idp-user", "iat": now,
                   "exp": now + 3600, "hippo_tenant": "default", "hippo_role": ["clinicians"],
                   "amr": ["mfa"]}),
            MintOptions::default(),
        );
        // The mfa-optional rule lets the login benchmark measure the password step alone
        // (the Argon2id cost), which is what the configured cost governs.
        config
            .auth
            .mfa_optional
            .insert("default".into(), vec![Role::Reader]);
        let verifier = hippo_oidc::OidcVerifier::new(oidc).await.unwrap();
        let state = AppState::new(
            store,
            config,
            hippo_policy::PolicyEngine::builtin(),
            Some(verifier),
        );
        let app = hippo_server::routes::router(state, false);
        (
            app,
            format!("/v1/records/{id}"),
            minted.token,
            s.token,
            jwt,
            issuer,
        )
    });
    Setup {
        rt,
        app,
        path,
        api_key,
        session,
        jwt,
        _issuer: issuer,
        _dir: dir,
    }
}

const PASSWORD: &str = "violet tractor harbour 1987 quietly";

async fn read(app: &axum::Router, path: &str, token: &str) {
    let req = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
}

async fn login(app: &axum::Router) {
    let body = json!({"username": "bench.user", "password": PASSWORD}).to_string();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
}

fn reads(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("audited_read");
    g.measurement_time(Duration::from_secs(8));
    for (name, token) in [
        ("api_key", &s.api_key),
        ("session", &s.session),
        ("oidc_jwt", &s.jwt),
    ] {
        g.bench_function(name, |b| {
            b.to_async(&s.rt).iter(|| read(&s.app, &s.path, token))
        });
    }
    g.finish();
    // Login latency distribution at the default cost (Argon2id 19 MiB, 2 passes).
    let mut times: Vec<Duration> = (0..60)
        .map(|_| {
            let t = Instant::now();
            s.rt.block_on(login(&s.app));
            t.elapsed()
        })
        .collect();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).min(times.len()) - 1];
    println!(
        "login (password step, default Argon2id cost), 60 sequential sign-ins: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3
    );
}

criterion_group!(benches, reads);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
