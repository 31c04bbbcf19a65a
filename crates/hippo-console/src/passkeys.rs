//! Passkeys in the console: adding one to a signed-in account, and signing in with one as the
//! second factor. The page's script runs the WebAuthn ceremony (`navigator.credentials`);
//! these JSON endpoints relay it to the API's `/v1/auth/passkeys/*` with the session's (or the
//! pending sign-in's) token, which the browser never sees. Each checks a CSRF token sent as
//! `X-CSRF-Token`: the session's, or before sign-in the double-submit token.

use crate::api::{cookie, Answer, Api, Auth, SESSION_COOKIE};
use crate::signed_in;
use crate::signin::{pending_token, pre_csrf_ok, PENDING};
use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use subtle::ConstantTimeEq;

fn json_answer(a: &Answer) -> Response {
    let mut resp = (a.status, a.body.clone()).into_response();
    let kind = a
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CONTENT_TYPE, kind);
    resp
}

fn refused(message: &str) -> Response {
    let body = serde_json::json!({ "title": "Forbidden", "status": 403, "detail": message });
    let mut resp = (StatusCode::FORBIDDEN, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

async fn json_body(body: Body) -> Option<serde_json::Value> {
    let bytes = http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&bytes).ok()
}

fn sent_csrf(parts: &Parts) -> &str {
    parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The signed-in session's token, after checking the request's CSRF header against it.
async fn session_token(api: &Api, parts: &Parts) -> Result<String, Response> {
    let s = signed_in(api, parts)
        .await
        .map_err(|_| refused("sign in first"))?;
    if !bool::from(sent_csrf(parts).as_bytes().ct_eq(s.csrf.as_bytes())) {
        return Err(refused(
            "the CSRF token is missing or wrong; reload the page",
        ));
    }
    cookie(&parts.headers, SESSION_COOKIE)
        .map(str::to_owned)
        .ok_or_else(|| refused("sign in first"))
}

/// `POST /console/passkeys/register/start`
pub async fn register_start(State(api): State<Api>, parts: Parts) -> Response {
    let token = match session_token(&api, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/passkeys/register/start",
            Auth::Bearer(&token),
            None,
        )
        .await;
    json_answer(&a)
}

/// `POST /console/passkeys/register/finish`
pub async fn register_finish(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let token = match session_token(&api, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(v) = json_body(body).await else {
        return refused("expected the credential as JSON");
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/passkeys/register/finish",
            Auth::Bearer(&token),
            Some(v),
        )
        .await;
    json_answer(&a)
}

fn pending(parts: &Parts) -> Result<String, Response> {
    if !pre_csrf_ok(parts, sent_csrf(parts)) {
        return Err(refused("this sign-in has expired; start again"));
    }
    pending_token(parts).ok_or_else(|| refused("this sign-in has expired; start again"))
}

/// `POST /console/signin/passkey/start`
pub async fn login_start(State(api): State<Api>, parts: Parts) -> Response {
    let token = match pending(&parts) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/passkeys/login/start",
            Auth::Bearer(&token),
            None,
        )
        .await;
    json_answer(&a)
}

/// `POST /console/signin/passkey/finish`: on success the session cookie is set.
pub async fn login_finish(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let token = match pending(&parts) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(v) = json_body(body).await else {
        return refused("expected the credential as JSON");
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/passkeys/login/finish",
            Auth::Bearer(&token),
            Some(v),
        )
        .await;
    if !a.ok() {
        return json_answer(&a);
    }
    let mut resp = (StatusCode::OK, "{\"signed_in\":true}").into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for v in a.headers.get_all(header::SET_COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{PENDING}=; Path=/console/signin; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
