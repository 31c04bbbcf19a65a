//! The caller of a request: authentication (API keys), rate limiting, and the audit draft every
//! handler starts from. Failures here are audited before the request is refused.

use crate::middleware::{current_request_id, set_principal};
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use hippo_core::{apikey, policy, Action, Actor, AuditDraft, Outcome, Principal};
use std::net::SocketAddr;

/// The peer address of the connection a request arrived on (set by the server loop).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Facts about a request that go into its audit event.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_addr: Option<String>,
    pub user_agent: Option<String>,
    pub route: String,
    /// The purpose of use the client declared (`X-Hippo-Purpose`), for the accounting of disclosures.
    pub purpose: Option<String>,
}

/// Purposes of use a client may declare (HIPAA's treatment, payment, operations, and the
/// disclosures 164.528 asks to be accounted for).
pub const PURPOSES: &[&str] = &[
    "treatment",
    "payment",
    "operations",
    "research",
    "public-health",
    "legal",
    "patient-request",
    "emergency",
];

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        Self {
            request_id: current_request_id().unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            source_addr: parts
                .extensions
                .get::<PeerAddr>()
                .map(|p| p.0.ip().to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            purpose: parts
                .headers
                .get("x-hippo-purpose")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| PURPOSES.contains(&v.as_str())),
        }
    }

    /// A draft event for `action`, attributed to `actor`.
    pub fn draft(
        &self,
        tenant: Option<hippo_core::TenantId>,
        actor: Actor,
        action: Action,
    ) -> AuditDraft {
        let mut d = AuditDraft::new(tenant, actor, action, &self.request_id);
        d.source_addr = self.source_addr.clone();
        d.set_user_agent(self.user_agent.as_deref());
        if let Some(p) = &self.purpose {
            d.detail("purpose", p.clone());
            if p == "emergency" {
                // Break-glass access: flagged so auditors can review every use (164.312(a)(2)(ii)).
                d.detail("emergency", true);
            }
        }
        d
    }
}

/// Writes `draft` as a refused request and returns the error to send; if even the audit write
/// fails, the caller gets 503 instead (fail closed).
pub async fn refuse(
    state: &AppState,
    mut draft: AuditDraft,
    outcome: Outcome,
    err: ApiError,
) -> ApiError {
    draft.failed(outcome, err.slug());
    match state.store.append_audit(draft).await {
        Ok(_) => err,
        Err(e) => ApiError::from(hippo_store::StoreError::AuditFailed(e.to_string())),
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
}

impl Caller {
    /// The audit log of the caller's tenant.
    pub fn log(&self) -> hippo_core::LogId {
        hippo_core::LogId::Tenant(self.principal.tenant.clone())
    }

    pub fn draft(&self, action: Action) -> AuditDraft {
        self.meta.draft(
            Some(self.principal.tenant.clone()),
            Actor::from(&self.principal),
            action,
        )
    }

    /// The audit draft for `action` if the caller's role allows it; otherwise the refusal is
    /// audited as `denied` and 403 returned.
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
    ) -> Result<AuditDraft, ApiError> {
        let draft = self.draft(action);
        if policy::allows(self.principal.role, action) {
            Ok(draft)
        } else {
            Err(refuse(state, draft, Outcome::Denied, ApiError::Forbidden).await)
        }
    }

    /// Audits a request refused for bad input (outcome `error`) and returns the error to send.
    pub async fn reject(&self, state: &AppState, draft: AuditDraft, err: ApiError) -> ApiError {
        refuse(state, draft, Outcome::Error, err).await
    }
}

/// The bearer token, or why there is none.
fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("send an API key as 'Authorization: Bearer <key>'")?;
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not valid text")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("the Authorization header must be 'Bearer <key>'")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("only the Bearer scheme is supported: 'Authorization: Bearer <key>'");
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = RequestMeta::from_parts(parts);
        let token = bearer(&parts.headers);
        let parsed = token.ok().and_then(apikey::parse);
        let mut draft = meta.draft(None, Actor::anonymous(), Action::AuthFailed);
        draft.detail("route", meta.route.clone());
        if let Some((key_id, _)) = &parsed {
            draft.detail("key_id", key_id.clone());
        }
        let limit_key = match &parsed {
            Some((key_id, _)) => format!("key:{key_id}"),
            None => format!("addr:{}", meta.source_addr.as_deref().unwrap_or("-")),
        };
        if let Err(retry_after_secs) = state.limiter.check(&limit_key) {
            return Err(refuse(
                state,
                draft,
                Outcome::Denied,
                ApiError::RateLimited { retry_after_secs },
            )
            .await);
        }
        let (key_id, hash) = match (token, parsed) {
            (Err(why), _) => {
                return Err(refuse(
                    state,
                    draft,
                    Outcome::Denied,
                    ApiError::MissingCredentials(why),
                )
                .await)
            }
            (Ok(_), None) => {
                return Err(refuse(state, draft, Outcome::Denied, ApiError::BadCredentials).await)
            }
            (Ok(_), Some(p)) => p,
        };
        match state.store.authenticate(&key_id, &hash).await? {
            Some(principal) => {
                set_principal(&principal.id);
                Ok(Caller { principal, meta })
            }
            None => Err(refuse(state, draft, Outcome::Denied, ApiError::BadCredentials).await),
        }
    }
}
