//! Admin endpoints: a tenant admin creates, lists and revokes its tenant's API keys.

use super::read_json;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hippo_core::{apikey, time_fmt::rfc3339, Action, Role};
use hippo_proto::{ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyView, Problem};
use hippo_store::{ApiKeyInfo, NewApiKey};

/// Longest accepted key name.
const MAX_NAME: usize = 100;

pub fn view(k: ApiKeyInfo) -> ApiKeyView {
    ApiKeyView {
        key_id: k.key_id,
        principal_id: k.principal_id,
        tenant: k.tenant.to_string(),
        role: k.role.to_string(),
        name: k.name,
        created_at: rfc3339(k.created_at_ms),
        created_by: k.created_by,
        revoked_at: k.revoked_at_ms.map(rfc3339),
        expires_at: k.expires_at_ms.map(rfc3339),
        last_used_at: k.last_used_at_ms.map(rfc3339),
        replaced_by: k.replaced_by,
    }
}

/// Longest key lifetime accepted: ten years.
pub const MAX_KEY_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

fn parse_create(value: serde_json::Value) -> Result<(Role, String, Option<u64>), ApiError> {
    let req: ApiKeyCreate = serde_json::from_value(value)
        .map_err(|_| ApiError::BadParameter("expected {\"role\": \"admin|writer|reader|auditor\", \"name\": \"optional label\", \"expires_in_secs\": optional seconds} and no other fields".into()))?;
    if let Some(secs) = req.expires_in_secs {
        if !(60..=MAX_KEY_LIFETIME_SECS).contains(&secs) {
            return Err(ApiError::BadParameter(format!(
                "expires_in_secs must be from 60 to {MAX_KEY_LIFETIME_SECS} (ten years)"
            )));
        }
    }
    let role = req
        .role
        .parse::<Role>()
        .map_err(|e| ApiError::BadParameter(e.to_string()))?;
    let name = req.name.unwrap_or_default();
    if name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::BadParameter(format!(
            "name must be at most {MAX_NAME} bytes without control characters"
        )));
    }
    Ok((role, name, req.expires_in_secs))
}

#[utoipa::path(post, path = "/v1/admin/apikeys", tag = "admin", request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let draft = caller.authorize(&s, Action::ApiKeyCreate).await?;
    let parsed = match read_json(&headers, body, s.config.max_body_bytes).await {
        Ok(v) => parse_create(v),
        Err(e) => Err(e),
    };
    let (role, name, expires_in) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let random = hippo_store::random::bytes::<{ apikey::RANDOM_BYTES }>()?;
    let minted = apikey::mint(&random);
    let token = minted.token.clone();
    let key = NewApiKey {
        tenant: caller.principal.tenant.clone(),
        role,
        name,
        minted,
        created_by: caller.principal.id.clone(),
        expires_at_ms: expires_in.map(|secs| caller.now_ms + secs as i64 * 1000),
    };
    let info = s.store.create_api_key(key, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            token,
            key: view(info),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/admin/apikeys", tag = "admin",
    responses((status = 200, body = ApiKeyList)), security(("bearer" = [])))]
pub async fn list_keys(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<ApiKeyList>, ApiError> {
    let draft = caller.authorize(&s, Action::ApiKeyList).await?;
    let keys = s
        .store
        .list_api_keys(Some(&caller.principal.tenant), draft)
        .await?;
    Ok(Json(ApiKeyList {
        items: keys.into_iter().map(view).collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/admin/apikeys/{key_id}", tag = "admin", params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let draft = caller.authorize(&s, Action::ApiKeyRevoke).await?;
    let info = s
        .store
        .revoke_api_key(Some(&caller.principal.tenant), &key_id, draft)
        .await?;
    Ok(Json(view(info)))
}
