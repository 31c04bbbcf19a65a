//! Calls into the HTTP API, in-process: every console page is a client of the same routes, so
//! authentication, authorization, minimum-necessary obligations and audit are the API's own,
//! not a second implementation that could drift.
//!
//! A call carries the browser's cookie (the session) and the request's extensions (peer
//! address, request scope), so the audit event names the same person, address and request id
//! as the page view. State-changing calls carry the form's CSRF token as `X-CSRF-Token`; the
//! API checks it against the session, as it does for any cookie-authenticated request.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

/// The session cookie's name (set by the API at sign-in).
pub const SESSION_COOKIE: &str = "hippo_session";

/// Copies the request extensions the API needs (e.g. the peer address) from a page's request
/// to the API call. Only those: axum keeps a route's path parameters in the extensions too, and
/// the page's must not reach the API's route.
pub type CopyExtensions = fn(&http::Extensions, &mut http::Extensions);

/// The API's router, without the outer middleware (the page's request scope already runs).
#[derive(Clone)]
pub struct Api {
    router: Router,
    copy: CopyExtensions,
}

/// How a call authenticates.
pub enum Auth<'a> {
    /// The browser's session cookie; for POST/PUT/DELETE with this CSRF token.
    Cookie(Option<&'a str>),
    /// A pending sign-in's bearer token.
    Bearer(&'a str),
    /// Nothing (sign-in).
    None,
}

/// An API answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The problem's detail (or title): PHI-free by the API's own rule.
    pub fn problem(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v["detail"]
            .as_str()
            .or(v["title"].as_str())
            .unwrap_or("the request could not be completed")
            .to_owned()
    }
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

impl Api {
    pub fn new(router: Router, copy: CopyExtensions) -> Self {
        Self { router, copy }
    }

    /// Calls `method path` (path with query) as the page's caller.
    pub async fn call(
        &self,
        page: &Parts,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(match &body {
                Some(v) => Body::from(serde_json::to_vec(v).unwrap_or_default()),
                None => Body::empty(),
            })
            .expect("a path built by the console is a valid URI");
        (self.copy)(&page.extensions, req.extensions_mut());
        let h = req.headers_mut();
        if let Some(ua) = page.headers.get(header::USER_AGENT) {
            h.insert(header::USER_AGENT, ua.clone());
        }
        if body.is_some() {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        match auth {
            Auth::Cookie(csrf) => {
                if let Some(token) = cookie(&page.headers, SESSION_COOKIE) {
                    if let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}")) {
                        h.insert(header::COOKIE, v);
                    }
                }
                if let Some(v) = csrf.and_then(|c| HeaderValue::from_str(c).ok()) {
                    h.insert("x-csrf-token", v);
                }
            }
            Auth::Bearer(token) => {
                if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    h.insert(header::AUTHORIZATION, v);
                }
            }
            Auth::None => {}
        }
        let resp = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}
