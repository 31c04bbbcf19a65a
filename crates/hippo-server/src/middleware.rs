//! Per-request plumbing: request ids, security headers, and one PHI-free access log line per request.
//!
//! Every field of the log line is chosen by the server, never copied from the request: the
//! route *template* (`/v1/records/{id}`), never the raw path or query, so ids, subjects and
//! search values stay out of logs; the method only if it is a standard one (else `OTHER`); the
//! server's request id, the status, the latency and the authenticated principal's id.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::Instrument;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the access log needs to know about a request, filled in as it is handled.
#[derive(Debug, Default)]
pub struct RequestScope {
    pub request_id: String,
    pub principal: OnceLock<String>,
    /// The authenticated principal's tenant (for the detectors).
    pub tenant: OnceLock<String>,
    /// Records whose content this response carries (for the read-volume detector).
    pub records_returned: AtomicU64,
}

tokio::task_local! {
    static SCOPE: Arc<RequestScope>;
}

/// The current request's id, if called while handling a request.
pub fn current_request_id() -> Option<String> {
    SCOPE.try_with(|s| s.request_id.clone()).ok()
}

/// Records which principal the current request was authenticated as (for the access log).
pub fn set_principal(principal: &hippo_core::Principal) {
    let _ = SCOPE.try_with(|s| {
        let _ = s.principal.set(principal.id.clone());
        let _ = s.tenant.set(principal.tenant.as_str().to_owned());
    });
    tracing::Span::current().record("principal", principal.id.as_str());
}

/// A span around one store call: its operation name only (never its arguments).
pub fn store_span(op: &'static str) -> tracing::Span {
    tracing::info_span!(target: "hippo::store", "store", otel.name = %format!("store {op}"), store.operation = op)
}

/// Notes that the current response carries `n` records (read, listed or found).
pub fn note_records_returned(n: usize) {
    let _ = SCOPE.try_with(|s| s.records_returned.fetch_add(n as u64, Relaxed));
}

/// Settings for the response headers every response carries, and the telemetry every
/// request feeds.
#[derive(Clone)]
pub struct HeaderPolicy {
    pub hsts: bool,
    pub telemetry: Arc<crate::telemetry::Telemetry>,
}

/// Assigns a request id, runs the request inside its scope, adds security headers, logs the outcome.
pub async fn request_scope(
    axum::extract::State(policy): axum::extract::State<HeaderPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let scope = Arc::new(RequestScope {
        request_id: uuid::Uuid::now_v7().to_string(),
        ..RequestScope::default()
    });
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let method = method_for_log(req.method());
    let telemetry = policy.telemetry.clone();
    let in_flight = telemetry.metrics.as_ref().map(|m| m.request_started());
    // The request's span: the same fields as the access log line, nothing from the request
    // itself (the route is the template). Exported to OpenTelemetry when tracing is on.
    let span = tracing::info_span!(
        target: "hippo::http",
        "request",
        otel.name = %format!("{method} {route}"),
        http.request.method = method,
        http.route = %route,
        request_id = %scope.request_id,
        principal = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // Set by the connection layer (serve.rs) when the target or headers exceed the limits.
    let too_large = req.extensions().get::<crate::limits::TooLarge>().copied();
    let handle = async move {
        match too_large {
            Some(refusal) => crate::problem::ApiError::from(refusal).into_response(),
            None => next.run(req).await,
        }
    };
    let mut resp = SCOPE
        .scope(scope.clone(), handle.instrument(span.clone()))
        .await;
    span.record("http.response.status_code", resp.status().as_u16());
    drop(in_flight);
    observe(
        &telemetry,
        &scope,
        &route,
        method,
        resp.status().as_u16(),
        started,
    );
    if needs_problem_body(&resp) {
        resp = generic_problem(resp.status(), &scope.request_id);
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&scope.request_id) {
        headers.insert(X_REQUEST_ID.clone(), v);
    }
    if policy.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    tracing::info!(
        target: "hippo::access",
        request_id = %scope.request_id,
        method,
        route = %route,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        principal = scope.principal.get().map(String::as_str).unwrap_or("-"),
        "request"
    );
    resp
}

/// Feeds one finished request to the metrics and the detectors: denials and records read,
/// attributed to the principal's ids.
fn observe(
    telemetry: &crate::telemetry::Telemetry,
    scope: &RequestScope,
    route: &str,
    method: &'static str,
    status: u16,
    started: Instant,
) {
    if let Some(m) = &telemetry.metrics {
        m.request_finished(route, method, status, started.elapsed());
    }
    let Some(tenant) = scope.tenant.get() else {
        return;
    };
    let now = hippo_core::time_fmt::now_millis();
    if status == 403 {
        telemetry.signal(
            hippo_telemetry::Signal::Denied {
                tenant: tenant.clone(),
            },
            now,
        );
    }
    let records = scope.records_returned.load(Relaxed);
    if records > 0 {
        if let Some(principal) = scope.principal.get() {
            telemetry.signal(
                hippo_telemetry::Signal::RecordsRead {
                    tenant: tenant.clone(),
                    principal: principal.clone(),
                    records,
                },
                now,
            );
        }
    }
}

/// The method as the access log shows it: one of the standard methods, else `OTHER`, since an
/// extension method is arbitrary client text.
pub fn method_for_log(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map(Method::as_str)
        .unwrap_or("OTHER")
}

/// True for an error response that did not come from [`crate::problem::ApiError`] (e.g. a
/// framework rejection or 405): every error a client sees must be problem+json.
fn needs_problem_body(resp: &Response) -> bool {
    let is_problem = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(hippo_proto::PROBLEM_JSON.as_bytes())
    });
    // Console pages (issue 18) answer errors as HTML pages of their own.
    let is_page = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    (resp.status().is_client_error() || resp.status().is_server_error()) && !is_problem && !is_page
}

fn generic_problem(status: axum::http::StatusCode, request_id: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let problem = hippo_proto::Problem {
        problem_type: format!("urn:hippo:problem:http-{}", status.as_u16()),
        detail: Some(format!(
            "{title}; see /openapi.json for the routes, methods and parameters this server accepts"
        )),
        title,
        status: status.as_u16(),
        instance: Some(format!("urn:hippo:request:{request_id}")),
        request_id: Some(request_id.to_owned()),
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).expect("problem serialises");
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(hippo_proto::PROBLEM_JSON),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_are_logged_as_sent() {
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
        ] {
            assert_eq!(
                method_for_log(&Method::from_bytes(m.as_bytes()).unwrap()),
                m
            );
        }
        for m in [
            "anything-the-client-sends",
            "get",
            "PROPFIND",
            "CANARY-7f3a9c",
        ] {
            assert_eq!(
                method_for_log(&Method::from_bytes(m.as_bytes()).unwrap()),
                "OTHER"
            );
        }
    }
}
