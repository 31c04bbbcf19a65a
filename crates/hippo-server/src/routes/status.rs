//! `GET /v1/status`: one screen for an operator (what `hippo status` prints): health, version,
//! store, the caller's audit log (last head, lag, last export and verification) and the alert
//! sinks with their delivery counts. Auditor or admin; ids, counts and times only.

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use hippo_core::time_fmt::rfc3339;
use hippo_core::Action;
use hippo_proto::ops::{AlertCount, AuditStatus, StatusReport};

#[utoipa::path(get, path = "/v1/status", tag = "ops", responses((status = 200, body = StatusReport)), security(("bearer" = [])))]
pub async fn status(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<StatusReport>, ApiError> {
    caller.authorize(&s, Action::AuditRead).await?;
    let log = caller.log();
    let (size, _) = s.store.tree_state(&log).await?;
    let heads = s.store.tree_heads(&log).await?;
    let now = hippo_core::time_fmt::now_millis();
    let last = heads.last();
    let lag = super::metrics::integration_lag_secs(&s, &log, size, now as u64).await?;
    let jobs = s.telemetry.jobs(&log);
    let when = |ms: i64| (ms > 0).then(|| rfc3339(ms));
    let t = &s.telemetry;
    Ok(Json(StatusReport {
        version: env!("CARGO_PKG_VERSION").into(),
        store: s.config.store.to_string(),
        instance: t.instance.clone(),
        started: rfc3339(t.started_ms),
        uptime_secs: ((now - t.started_ms).max(0) / 1000) as u64,
        checks: super::ops::readiness_checks(&s).await,
        audit: AuditStatus {
            log: log.to_string(),
            tree_size: size,
            last_head_size: last.map(|h| h.head.tree_size),
            last_head_time: last.map(|h| rfc3339(h.head.timestamp_ms as i64)),
            unsigned_events: size.saturating_sub(last.map(|h| h.head.tree_size).unwrap_or(0)),
            integration_lag_secs: lag,
            last_export: when(jobs.last_export_ms),
            last_verification: when(jobs.last_verification_ms),
            last_verification_ok: jobs.last_verification_ok,
        },
        alert_sinks: t.alerts().map(|a| a.sink_status()).unwrap_or_default(),
        alerts_raised: t
            .metrics
            .as_ref()
            .map(|m| {
                m.alerts_by_kind()
                    .into_iter()
                    .map(|(kind, count)| AlertCount { kind, count })
                    .collect()
            })
            .unwrap_or_default(),
        tracing: t.tracing_ratio,
    }))
}
