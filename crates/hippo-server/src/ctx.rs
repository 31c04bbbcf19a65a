//! The caller of a request: authentication (API keys), rate limiting, and the audit draft every
//! handler starts from. Failures here are audited before the request is refused.

use crate::middleware::current_request_id;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use hippo_core::{Action, Actor, AuditDraft, Outcome, Principal};
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
            // A declared purpose is recorded, never trusted: `emergency` here widens nothing
            // and marks nothing as break-glass; only an emergency elevation of a session does.
            d.detail("purpose", p.clone());
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

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    ApiKey,
    /// A person's session: by bearer token, or by cookie (then CSRF-checked).
    Session {
        token_hash: [u8; 32],
        emergency: Option<hippo_store::identity::Emergency>,
    },
    /// A bearer JWT from the configured OpenID Connect issuer.
    Oidc,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
    pub credential: Credential,
    /// When the request was authenticated (Unix ms, from the server's clock).
    pub now_ms: i64,
}

impl Caller {
    /// The audit log of the caller's tenant.
    pub fn log(&self) -> hippo_core::LogId {
        hippo_core::LogId::Tenant(self.principal.tenant.clone())
    }

    /// The open emergency elevation of the caller's session, if any and not yet over.
    pub fn emergency(&self) -> Option<hippo_store::identity::Emergency> {
        match &self.credential {
            Credential::Session {
                emergency: Some(e), ..
            } if e.until_ms > self.now_ms => Some(*e),
            _ => None,
        }
    }

    pub fn draft(&self, action: Action) -> AuditDraft {
        let mut d = self.meta.draft(
            Some(self.principal.tenant.clone()),
            Actor::from(&self.principal),
            action,
        );
        if let Some(id) = &self.principal.credential_id {
            if matches!(self.credential, Credential::Session { .. }) {
                d.detail("session", id.clone());
            }
        }
        if self.emergency().is_some() {
            // Everything done under a break-glass elevation is marked, so the accounting of
            // disclosures and the break-glass review list it (164.312(a)(2)(ii)).
            d.detail("emergency", true);
        }
        d
    }

    /// What the policy engine is told about this caller and request.
    pub fn policy_input(
        &self,
        action: Action,
        resource: hippo_policy::ResourceFacts,
    ) -> hippo_policy::PolicyInput {
        hippo_policy::PolicyInput {
            principal: hippo_policy::PrincipalFacts {
                id: self.principal.id.clone(),
                kind: self.principal.kind,
                tenant: self.principal.tenant.clone(),
                role: self.principal.role,
                attributes: Default::default(),
            },
            action,
            resource,
            context: hippo_policy::ContextFacts {
                purpose: self.meta.purpose.clone(),
                emergency: self.emergency().map(|e| hippo_policy::EmergencyFacts {
                    session_id: self.principal.credential_id.clone().unwrap_or_default(),
                    reason_len: e.reason_len as usize,
                    expires_at_ms: e.until_ms,
                }),
                now_ms: self.now_ms,
                source_addr: self.meta.source_addr.clone(),
            },
        }
    }

    /// Facts about a resource of the caller's own tenant, before it is read.
    pub fn own_tenant(&self) -> hippo_policy::ResourceFacts {
        hippo_policy::ResourceFacts {
            tenant: self.principal.tenant.clone(),
            record_type: None,
            subject: None,
            labels: Vec::new(),
        }
    }

    /// The audit draft for `action` if policy allows it on the caller's own tenant; otherwise
    /// the refusal is audited as `denied` and 403 returned, naming the rule.
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
    ) -> Result<AuditDraft, ApiError> {
        self.decide(state, action, self.own_tenant())
            .await
            .map(|(draft, _)| draft)
    }

    /// One policy decision about `resource`; a denial is audited and returned as 403.
    pub async fn decide(
        &self,
        state: &AppState,
        action: Action,
        resource: hippo_policy::ResourceFacts,
    ) -> Result<(AuditDraft, hippo_policy::Decision), ApiError> {
        let mut draft = self.draft(action);
        let decision = {
            let _span = tracing::info_span!(target: "hippo::policy", "policy", otel.name = %format!("policy {}", action.as_str()), policy.action = action.as_str(), policy.allowed = tracing::field::Empty).entered();
            let d = state.policy.decide(&self.policy_input(action, resource));
            tracing::Span::current().record("policy.allowed", d.allowed);
            d
        };
        if decision.widened_by_emergency {
            draft.detail("widened_by", decision.rule.clone());
        }
        if decision.allowed {
            Ok((draft, decision))
        } else {
            draft.detail("rule", decision.rule.clone());
            let err = ApiError::Denied {
                rule: decision.rule,
                reason: decision.reason,
            };
            Err(refuse(state, draft, Outcome::Denied, err).await)
        }
    }

    /// Audits a request refused for bad input (outcome `error`) and returns the error to send.
    pub async fn reject(&self, state: &AppState, draft: AuditDraft, err: ApiError) -> ApiError {
        refuse(state, draft, Outcome::Error, err).await
    }
}

/// The bearer token, or why there is none.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("send an API key, session token or identity-provider token as 'Authorization: Bearer <token>'")?;
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not valid text")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("the Authorization header must be 'Bearer <token>'")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("only the Bearer scheme is supported: 'Authorization: Bearer <token>'");
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        crate::auth::caller::authenticate(parts, state).await
    }
}
