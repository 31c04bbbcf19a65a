//! The HTTP API: route table and the helpers handlers share.

pub mod admin;
pub mod audit;
pub mod batch;
pub mod breakglass;
pub mod documents;
pub mod ledger;
pub mod metrics;
pub mod ops;
pub mod records;
pub mod search;
pub mod status;

use crate::auth;
use crate::middleware::{request_scope, HeaderPolicy};
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use std::collections::HashMap;

/// Builds the application: every route, behind the request-scope middleware.
pub fn router(state: AppState, hsts: bool) -> Router {
    let telemetry = state.telemetry.clone();
    let api = api_routes(state);
    // The console (issue 18) calls the API in-process, so its pages are audited and authorised
    // by the same handlers as any API client.
    api.clone()
        .merge(hippo_console::router(api, |from, to| {
            if let Some(peer) = from.get::<crate::ctx::PeerAddr>() {
                to.insert(*peer);
            }
        }))
        .layer(axum::middleware::from_fn_with_state(
            HeaderPolicy { hsts, telemetry },
            request_scope,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}

/// The API's routes with their state, without the outer layers.
fn api_routes(state: AppState) -> Router {
    Router::new()
        .route("/v1/records", post(records::create).get(records::list))
        .route(
            "/v1/records/{id}",
            get(records::get)
                .put(records::update)
                .delete(records::delete),
        )
        .route("/v1/records/{id}/history", get(records::history))
        .route("/v1/search", get(search::search))
        // Documents attached to records (issue 20).
        .route(
            "/v1/records/{id}/documents",
            post(documents::upload).get(documents::list),
        )
        .route(
            "/v1/records/{id}/documents/{doc}",
            get(documents::download).delete(documents::delete),
        )
        .route("/v1/records:batch", post(batch::create_batch))
        .route("/v1/records/{id}/versions/{version}", get(records::version))
        .route(
            "/v1/admin/apikeys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route(
            "/v1/admin/apikeys/{key_id}",
            axum::routing::delete(admin::revoke_key),
        )
        .route("/v1/auth/login", post(auth::signin::login))
        .route("/v1/auth/mfa", post(auth::signin::mfa))
        .route("/v1/auth/mfa/totp", post(auth::signin::enrol_totp))
        .route(
            "/v1/auth/mfa/totp/confirm",
            post(auth::signin::confirm_totp),
        )
        .route(
            "/v1/auth/passkeys/register/start",
            post(auth::passkeys::register_start),
        )
        .route(
            "/v1/auth/passkeys/register/finish",
            post(auth::passkeys::register_finish),
        )
        .route(
            "/v1/auth/passkeys/login/start",
            post(auth::passkeys::login_start),
        )
        .route(
            "/v1/auth/passkeys/login/finish",
            post(auth::passkeys::login_finish),
        )
        .route("/v1/auth/logout", post(auth::signin::logout))
        .route("/v1/auth/session", get(auth::signin::current))
        .route("/v1/auth/tenants", get(auth::tenants::my_tenants))
        .route("/v1/auth/break-glass", post(auth::signin::break_glass))
        .route(
            "/v1/admin/users",
            post(auth::users::create_user).get(auth::users::list_users),
        )
        .route(
            "/v1/admin/users/{id}/disable",
            post(auth::users::disable_user),
        )
        .route(
            "/v1/admin/users/{id}/enable",
            post(auth::users::enable_user),
        )
        .route(
            "/v1/admin/users/{id}/reset-mfa",
            post(auth::users::reset_mfa),
        )
        .route(
            "/v1/admin/users/{id}/revoke-sessions",
            post(auth::users::revoke_sessions),
        )
        .route(
            "/v1/admin/apikeys/{key_id}/rotate",
            post(auth::users::rotate_key),
        )
        .route("/v1/admin/policy/explain", post(auth::users::explain))
        .route("/v1/audit", get(audit::list))
        .route(
            "/v1/audit/tree-heads",
            get(ledger::tree_heads).post(ledger::sign_tree_head),
        )
        .route("/v1/audit/proofs/inclusion", get(ledger::inclusion))
        .route("/v1/audit/proofs/consistency", get(ledger::consistency))
        .route("/v1/audit/pubkey", get(ledger::pubkey))
        .route("/v1/audit/verify", post(ledger::verify_now))
        .route("/v1/audit/break-glass", get(breakglass::break_glass_list))
        .route(
            "/v1/audit/break-glass/{session}/review",
            post(breakglass::break_glass_review),
        )
        .route("/v1/audit/disclosures", get(ledger::disclosures))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/status", get(status::status))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/version", get(ops::version))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .with_state(state)
}

/// A panic becomes a generic 500; its message (which could hold anything) is never sent or logged.
fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked; the panic message is withheld from logs");
    axum::response::IntoResponse::into_response(ApiError::Internal)
}

/// Reads a JSON request body, the one way every handler does: checks the media type,
/// enforces the size limit, and parses strictly (duplicate keys and numbers that cannot be
/// stored exactly are refused, see [`hippo_core::strict_json`]).
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<serde_json::Value, ApiError> {
    if !is_plain_json(headers.get(header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadParameter("the request body could not be read".into())
            }
        })?
        .to_bytes();
    Ok(hippo_core::strict_json::parse(&bytes)?)
}

/// True for `application/json`, with no parameter or only `charset=utf-8` (RFC 8259 JSON is
/// UTF-8). Other encodings and other `+json` types (merge patch, JSON-LD, ...) mean something
/// this API does not do, so they are refused rather than guessed at.
fn is_plain_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(text) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((name, value)) => {
            name.trim().eq_ignore_ascii_case("charset")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        // An empty parameter (`application/json;`) is allowed by RFC 9110's grammar.
        None => param.trim().is_empty(),
    })
}
/// Query parameters, checked against the names a route accepts.
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let key = key.into_owned();
            if !allowed.contains(&key.as_str()) {
                let shown = if key.len() <= 32
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    key
                } else {
                    "(unprintable)".into()
                };
                return Err(ApiError::BadParameter(format!(
                    "unknown query parameter '{shown}'; this route accepts: {}",
                    allowed.join(", ")
                )));
            }
            if map.insert(key.clone(), value.into_owned()).is_some() {
                return Err(ApiError::BadParameter(format!(
                    "query parameter '{key}' is given more than once"
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The names present (for audit details: names only, never values).
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.0.keys().cloned().collect();
        n.sort();
        n
    }

    /// `limit`, between 1 and `max` (default `default`).
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::BadParameter(format!("limit must be a whole number from 1 to {max}"))
                }),
        }
    }

    /// An RFC 3339 timestamp parameter, as Unix milliseconds.
    pub fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                hippo_core::time_fmt::parse_rfc3339(v).ok_or_else(|| {
                    ApiError::BadParameter(format!(
                        "{key} must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z"
                    ))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_utf8_json_is_accepted() {
        let ok = [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json;",
            "application/json; charset=\"utf-8\"",
        ];
        for ct in ok {
            assert!(is_plain_json(Some(&HeaderValue::from_static(ct))), "{ct}");
        }
        let refused = [
            "application/json; charset=utf-16",
            "application/merge-patch+json",
            "application/ld+json",
            "application/json; profile=x",
            "text/json",
            "",
        ];
        for ct in refused {
            assert!(!is_plain_json(Some(&HeaderValue::from_static(ct))), "{ct}");
        }
        assert!(!is_plain_json(None));
    }
}
