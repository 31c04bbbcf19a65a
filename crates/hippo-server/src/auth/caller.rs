//! Who is calling: API keys, people's sessions (bearer or cookie with CSRF), and OIDC bearer
//! JWTs, each resolved to one [`Principal`]. Every refusal is audited before it is sent.

use crate::ctx::{bearer, refuse, Caller, Credential, RequestMeta};
use crate::middleware::set_principal;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use hippo_core::principal::ActorKind;
use hippo_core::{apikey, Action, Actor, AuditDraft, Outcome, Principal};
use hippo_identity::session::{self, SessionState};
use hippo_store::identity::SessionStage;
use subtle::ConstantTimeEq;

/// The session cookie set at sign-in (for the console): `Secure; HttpOnly; SameSite=Strict`.
pub const SESSION_COOKIE: &str = "hippo_session";
/// The header carrying the CSRF token on state-changing requests made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token in the request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
}

enum Presented<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
    Nothing(&'static str),
}

fn presented(headers: &HeaderMap) -> Presented<'_> {
    match bearer(headers) {
        Ok(token) => Presented::Bearer(token),
        Err(why) => match session_cookie(headers) {
            Some(token) if headers.get(header::AUTHORIZATION).is_none() => Presented::Cookie(token),
            _ => Presented::Nothing(why),
        },
    }
}

/// A JWT has three dot-separated base64url parts.
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("ey")
}

pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let meta = RequestMeta::from_parts(parts);
    let now_ms = state.now_ms();
    let mut draft = meta.draft(None, Actor::anonymous(), Action::AuthFailed);
    draft.detail("route", meta.route.clone());
    let presented = presented(&parts.headers);
    let token = match presented {
        Presented::Bearer(t) | Presented::Cookie(t) => Some(t),
        Presented::Nothing(_) => None,
    };
    let api_key = token.and_then(apikey::parse);
    let session_hash = token.and_then(session::parse);
    let limit_key = if let Some((key_id, _)) = &api_key {
        draft.detail("key_id", key_id.clone());
        format!("key:{key_id}")
    } else if let Some(h) = &session_hash {
        let sid = hippo_store::identity::session_id(h);
        draft.detail("session", sid.clone());
        format!("session:{sid}")
    } else {
        format!("addr:{}", meta.source_addr.as_deref().unwrap_or("-"))
    };
    if let Err(retry_after_secs) = state.limiter.check(&limit_key) {
        let err = ApiError::RateLimited { retry_after_secs };
        return Err(refuse(state, draft, Outcome::Denied, err).await);
    }
    let cookie = matches!(presented, Presented::Cookie(_));
    let result = match (presented, api_key, session_hash) {
        (Presented::Nothing(why), _, _) => Err(ApiError::MissingCredentials(why)),
        (Presented::Bearer(_), Some((key_id, hash)), _) => {
            by_api_key(state, &key_id, &hash, now_ms).await
        }
        (_, None, Some(hash)) => {
            let token = token.unwrap_or_default();
            by_session(state, parts, token, &hash, cookie, now_ms, &mut draft).await
        }
        (Presented::Bearer(t), None, None) if looks_like_jwt(t) => by_oidc(state, t, now_ms).await,
        _ => Err(ApiError::BadCredentials),
    };
    match result {
        Ok((principal, credential)) => {
            set_principal(&principal);
            Ok(Caller {
                principal,
                meta,
                credential,
                now_ms,
            })
        }
        Err(e @ (ApiError::Unavailable | ApiError::AuditUnavailable | ApiError::Internal)) => {
            Err(e)
        }
        Err(e) => Err(refuse(state, draft, Outcome::Denied, e).await),
    }
}

async fn by_api_key(
    state: &AppState,
    key_id: &str,
    hash: &[u8; 32],
    now_ms: i64,
) -> Result<(Principal, Credential), ApiError> {
    let principal = state
        .store
        .authenticate(key_id, hash, now_ms)
        .await?
        .ok_or(ApiError::BadCredentials)?;
    state.note_key_use(key_id, now_ms);
    Ok((principal, Credential::ApiKey))
}

async fn by_session(
    state: &AppState,
    parts: &Parts,
    token: &str,
    hash: &[u8; 32],
    cookie: bool,
    now_ms: i64,
    draft: &mut AuditDraft,
) -> Result<(Principal, Credential), ApiError> {
    let row = state
        .store
        .session(hash)
        .await?
        .ok_or(ApiError::BadCredentials)?;
    draft.actor = Actor {
        id: row.user_id.clone(),
        kind: ActorKind::User,
    };
    if row.user_disabled {
        return Err(ApiError::SessionEnded("the account is disabled"));
    }
    if row.stage != SessionStage::Active {
        return Err(ApiError::SignInStep(
            "this sign-in is not finished: present the second factor at POST /v1/auth/mfa (or enrol one) first",
        ));
    }
    let timeouts = state.config.auth.timeouts();
    match session::evaluate(
        row.created_at_ms,
        row.last_seen_ms,
        row.revoked_at_ms.is_some(),
        now_ms,
        timeouts,
    ) {
        SessionState::Revoked => return Err(ApiError::SessionEnded("signed out or revoked")),
        SessionState::IdleExpired => return Err(ApiError::SessionEnded("idle timeout")),
        SessionState::AbsoluteExpired => {
            return Err(ApiError::SessionEnded(
                "the session's maximum lifetime was reached",
            ))
        }
        SessionState::Active { touch, .. } => {
            if touch {
                state.store.touch_session(hash, now_ms).await?;
            }
        }
    }
    if cookie && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let expected = session::csrf_token(token);
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let ok: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
        if !ok {
            return Err(ApiError::CsrfFailed);
        }
    }
    let principal = Principal {
        id: row.user_id,
        tenant: row.tenant,
        kind: ActorKind::User,
        role: row.role,
        credential_id: Some(row.session_id),
    };
    Ok((
        principal,
        Credential::Session {
            token_hash: *hash,
            emergency: row.emergency,
        },
    ))
}

async fn by_oidc(
    state: &AppState,
    token: &str,
    now_ms: i64,
) -> Result<(Principal, Credential), ApiError> {
    let Some(verifier) = &state.oidc else {
        return Err(ApiError::BadToken {
            slug: "oidc-not-configured",
            message: "this server accepts no identity-provider tokens ([oidc] is not configured); use an API key or a session".into(),
        });
    };
    let v = verifier
        .verify(token, now_ms)
        .await
        .map_err(|e| ApiError::BadToken {
            slug: e.slug(),
            message: e.to_string(),
        })?;
    Ok((
        Principal {
            id: format!("oidc:{}", v.user),
            tenant: v.tenant,
            kind: ActorKind::User,
            role: v.role,
            credential_id: v.token_id,
        },
        Credential::Oidc,
    ))
}
