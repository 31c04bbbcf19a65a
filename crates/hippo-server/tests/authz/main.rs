//! Authorization, decided in-process with an injectable clock, on both stores: the real router,
//! store and policy engine, driven through `tower` without a socket, so time can be moved
//! instead of slept through (session idle and absolute timeouts, key expiry) and every
//! endpoint x role x situation of the matrix runs in seconds. Over-the-wire behaviour (TLS,
//! cookies, the sign-in ceremony) is tested against the real binary in `crates/hippo/tests`.

mod clock;
mod matrix;
mod oidc;
mod rego;

use axum::body::Body;
use axum::http::{header, Method, Request};
use hippo_core::{Action, Actor, AuditDraft, RecordInput, Role, TenantId};
use hippo_server::config::Config;
use hippo_server::state::AppState;
use hippo_store::identity::{Membership, NewSession, NewUser, SessionStage};
use hippo_store::{PgSettings, PgStore, SqliteStore, Store};
use hippo_testkit::pg::TestDatabase;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

/// A store, a router over it, and the clock both see.
pub struct World {
    pub store: Arc<dyn Store>,
    pub app: axum::Router,
    pub clock: Arc<AtomicI64>,
    pub config: Config,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

/// Both stores: SQLite always; PostgreSQL when the test database server is reachable.
pub async fn worlds(test: &str, policy: impl Fn() -> hippo_policy::PolicyEngine) -> Vec<World> {
    worlds_with(test, policy, None).await
}

/// Both stores, accepting bearer JWTs of the issuer `oidc` configures.
pub async fn worlds_with(
    test: &str,
    policy: impl Fn() -> hippo_policy::PolicyEngine,
    oidc: Option<hippo_oidc::OidcConfig>,
) -> Vec<World> {
    let verifier = || async {
        match &oidc {
            Some(c) => Some(hippo_oidc::OidcVerifier::new(c.clone()).await.unwrap()),
            None => None,
        }
    };
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::create(&dir.path().join("data")).unwrap());
    out.push(World::new(
        sqlite,
        policy(),
        verifier().await,
        Some(dir),
        None,
    ));
    if let Some(db) = TestDatabase::create(test).await {
        let keys = hippo_store::keyring::LedgerKeys {
            signing: hippo_audit::tree_head::AuditSigningKey::from_seed(&[7; 32]),
            redaction_root: hippo_store::keyring::DataKey::new([9; 32]),
        };
        let pg = PgStore::connect(&db.url, PgSettings::default(), keys)
            .await
            .unwrap();
        out.push(World::new(
            Arc::new(pg),
            policy(),
            verifier().await,
            None,
            Some(db),
        ));
    } else {
        // CI always has PostgreSQL: there, a missing one is a failure, never a silent skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL is required under CI"
        );
    }
    out
}

impl World {
    fn new(
        store: Arc<dyn Store>,
        policy: hippo_policy::PolicyEngine,
        oidc: Option<hippo_oidc::OidcVerifier>,
        dir: Option<tempfile::TempDir>,
        db: Option<TestDatabase>,
    ) -> Self {
        let clock = Arc::new(AtomicI64::new(hippo_core::time_fmt::now_millis()));
        let mut config = Config::default();
        // Cheap hashing: these tests never hash a password.
        config.auth.argon2.memory_kib = 8 * 1024;
        config.auth.argon2.iterations = 1;
        let c = clock.clone();
        let state = AppState::new(store.clone(), config.clone(), policy, oidc)
            .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
        Self {
            app: hippo_server::routes::router(state, false),
            store,
            clock,
            config,
            _dir: dir,
            _db: db,
        }
    }

    pub fn kind(&self) -> &'static str {
        if self._db.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub async fn tenant(&self, name: &str) -> TenantId {
        let t: TenantId = name.parse().unwrap();
        self.store
            .create_tenant(&t, op(None, Action::TenantCreate))
            .await
            .unwrap();
        t
    }

    pub async fn user(&self, name: &str, tenant: &TenantId, role: Role) -> String {
        self.store
            .create_user(
                NewUser {
                    username: name.into(),
                    password_hash: "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
                    memberships: vec![Membership {
                        tenant: tenant.clone(),
                        role,
                    }],
                    created_by: "operator".into(),
                },
                op(Some(tenant), Action::UserCreate),
            )
            .await
            .unwrap()
            .id
    }

    /// An active session of `user`, as a completed sign-in leaves it; returns its bearer token.
    pub async fn session(&self, user: &str, tenant: &TenantId, role: Role) -> String {
        let random = hippo_store::random::bytes::<32>().unwrap();
        let minted = hippo_identity::session::mint(&random);
        self.store
            .create_session(
                NewSession {
                    token_hash: minted.token_hash,
                    user_id: user.into(),
                    tenant: tenant.clone(),
                    role,
                    stage: SessionStage::Active,
                    now_ms: self.now(),
                },
                op(Some(tenant), Action::AuthLogin),
            )
            .await
            .unwrap();
        minted.token
    }

    pub async fn record(
        &self,
        tenant: &TenantId,
        kind: &str,
        labels: &[&str],
        body: serde_json::Value,
    ) -> String {
        let input = RecordInput {
            record_type: kind.into(),
            subject: Some("subject-1".into()),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body: body.as_object().unwrap().clone(),
        };
        self.store
            .create_record(
                tenant,
                input,
                "operator",
                op(Some(tenant), Action::RecordCreate),
            )
            .await
            .unwrap()
            .id
            .to_string()
    }

    /// Every event of `tenant`'s audit log (read as the operator).
    pub async fn events(&self, tenant: &TenantId) -> Vec<hippo_core::AuditEvent> {
        let q = hippo_store::AuditQuery {
            limit: 10_000,
            ..Default::default()
        };
        self.store
            .list_audit(
                &hippo_core::LogId::Tenant(tenant.clone()),
                q,
                op(None, Action::AuditRead),
            )
            .await
            .unwrap()
            .items
    }

    /// Sends one request; returns the status and the parsed body (null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        if path.starts_with("/v1/records/") && method_needs_version(&req) {
            req = req.header(header::IF_MATCH, "\"1\"");
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, value)
    }
}

fn method_needs_version(req: &axum::http::request::Builder) -> bool {
    req.method_ref() == Some(&Method::PUT)
}

pub fn op(t: Option<&TenantId>, action: Action) -> AuditDraft {
    AuditDraft::new(t.cloned(), Actor::operator(), action, "authz-test")
}
