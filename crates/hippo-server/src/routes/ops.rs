//! Operations endpoints: liveness, readiness, version, the OpenAPI document, and unknown routes.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_proto::{Health, Readiness, ReadinessCheck, VersionInfo};

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(s): State<AppState>) -> Response {
    let checks = readiness_checks(&s).await;
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ok { "ready" } else { "not ready" }.into(),
        checks,
    };
    (status, Json(body)).into_response()
}

/// The checks `/readyz` reports (and `GET /v1/status` shows).
pub async fn readiness_checks(s: &AppState) -> Vec<ReadinessCheck> {
    let store = s.store.ready().await;
    vec![
        ReadinessCheck {
            name: "keys".into(),
            ok: store.is_ok(),
            detail: None,
        },
        ReadinessCheck {
            name: "store".into(),
            ok: store.is_ok(),
            detail: store.as_ref().err().map(|e| e.reason().to_owned()),
        },
    ]
}

#[utoipa::path(get, path = "/version", tag = "ops", responses((status = 200, body = VersionInfo)))]
pub async fn version(State(s): State<AppState>) -> Json<VersionInfo> {
    Json(VersionInfo {
        name: "hippo".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        store: s.config.store.to_string(),
    })
}

pub async fn openapi() -> Response {
    let doc = crate::openapi::document();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc,
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}
