//! `GET /metrics` (OpenMetrics text): this process's figures (requests by route template,
//! store commits and pool, sign-ins, alerts, build) and the caller's own audit log (tree size,
//! unsigned events, head age, integration lag, last export and verification). Counts only:
//! no PHI, and no other tenant's log id.

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use hippo_core::Action;
use std::fmt::Write;

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", body = String, content_type = "application/openmetrics-text")), security(("bearer" = [])))]
pub async fn metrics(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.authorize(&s, Action::AuditRead).await?;
    let tenant = &caller.principal.tenant;
    let log = caller.log();
    let (size, _) = s.store.tree_state(&log).await?;
    let heads = s.store.tree_heads(&log).await?;
    let now = hippo_core::time_fmt::now_millis() as u64;
    let (signed, age) = heads
        .last()
        .map(|h| {
            (
                h.head.tree_size,
                now.saturating_sub(h.head.timestamp_ms) as f64 / 1000.0,
            )
        })
        .unwrap_or((0, f64::NAN));
    let mut out = s
        .telemetry
        .metrics
        .as_ref()
        .map(|m| m.encode())
        .unwrap_or_default();
    let label = format!("log=\"{tenant}\"");
    let _ = writeln!(out, "# HELP hippo_audit_tree_size Events integrated into the audit Merkle tree.\n# TYPE hippo_audit_tree_size gauge\nhippo_audit_tree_size{{{label}}} {size}");
    let _ = writeln!(out, "# HELP hippo_audit_unsigned_events Integrated events not yet covered by a signed tree head.\n# TYPE hippo_audit_unsigned_events gauge\nhippo_audit_unsigned_events{{{label}}} {}", size.saturating_sub(signed));
    let _ = writeln!(out, "# HELP hippo_audit_tree_head_age_seconds Age of the newest signed tree head.\n# TYPE hippo_audit_tree_head_age_seconds gauge\nhippo_audit_tree_head_age_seconds{{{label}}} {age}");
    // Both stores integrate an event in the transaction that commits it, so a stored event
    // beyond the tree means integration broke (or someone inserted it): measured, not assumed.
    let lag = integration_lag_secs(&s, &log, size, now).await?;
    let _ = writeln!(out, "# HELP hippo_audit_integration_lag_seconds Age of the oldest stored event not yet integrated into the tree (0: none).\n# TYPE hippo_audit_integration_lag_seconds gauge\nhippo_audit_integration_lag_seconds{{{label}}} {lag}");
    let jobs = s.telemetry.jobs(&log);
    let secs = |ms: i64| {
        if ms == 0 {
            f64::NAN
        } else {
            ms as f64 / 1000.0
        }
    };
    let _ = writeln!(out, "# HELP hippo_audit_last_export_timestamp_seconds When this instance last exported the log successfully (NaN: not since start).\n# TYPE hippo_audit_last_export_timestamp_seconds gauge\nhippo_audit_last_export_timestamp_seconds{{{label}}} {}", secs(jobs.last_export_ms));
    let _ = writeln!(out, "# HELP hippo_audit_last_verification_timestamp_seconds When this instance last verified the log and found it intact (NaN: not since start).\n# TYPE hippo_audit_last_verification_timestamp_seconds gauge\nhippo_audit_last_verification_timestamp_seconds{{{label}}} {}", secs(jobs.last_verification_ms));
    let verified = match jobs.last_verification_ok {
        Some(true) => 1.0,
        Some(false) => 0.0,
        None => f64::NAN,
    };
    let _ = writeln!(out, "# HELP hippo_audit_verification_ok Whether the last verification found the log intact (1), broken (0), or has not run (NaN).\n# TYPE hippo_audit_verification_ok gauge\nhippo_audit_verification_ok{{{label}}} {verified}");
    if let Some(b) = &s.backup {
        use std::sync::atomic::Ordering::Relaxed;
        let last = b.last_success_ms.load(Relaxed);
        let age = if last == 0 {
            f64::NAN
        } else {
            now.saturating_sub(last as u64) as f64 / 1000.0
        };
        let oldest = b.oldest_unshipped_ms.load(Relaxed);
        let pending = if oldest == 0 {
            0.0
        } else {
            now.saturating_sub(oldest as u64) as f64 / 1000.0
        };
        let _ = writeln!(out, "# HELP hippo_backup_failures Backup shipping rounds that failed for some database.\n# TYPE hippo_backup_failures counter\nhippo_backup_failures_total {}", b.failures.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_objects_shipped Backup objects written to every sink.\n# TYPE hippo_backup_objects_shipped counter\nhippo_backup_objects_shipped_total {}", b.objects_shipped.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_bytes_shipped Bytes of backup objects written to every sink.\n# TYPE hippo_backup_bytes_shipped counter\nhippo_backup_bytes_shipped_total {}", b.bytes_shipped.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_last_success_age_seconds Seconds since the last round that shipped everything pending.\n# TYPE hippo_backup_last_success_age_seconds gauge\nhippo_backup_last_success_age_seconds {age}");
        let _ = writeln!(out, "# HELP hippo_backup_unshipped_age_seconds Age of the oldest change not yet in every sink (0: none).\n# TYPE hippo_backup_unshipped_age_seconds gauge\nhippo_backup_unshipped_age_seconds {pending}");
    }
    out.push_str("# EOF\n");
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

/// Seconds since the oldest stored event beyond the tree was written; 0 if there is none.
pub(crate) async fn integration_lag_secs(
    s: &AppState,
    log: &hippo_core::LogId,
    tree_size: u64,
    now_ms: u64,
) -> Result<f64, ApiError> {
    let pending = s.store.audit_leaves(log, tree_size as i64, 1).await?;
    let Some(oldest) = pending.first() else {
        return Ok(0.0);
    };
    let time_ms = serde_json::from_slice::<serde_json::Value>(&oldest.canonical)
        .ok()
        .and_then(|v| v["time_ms"].as_u64())
        .unwrap_or(0);
    Ok(now_ms.saturating_sub(time_ms) as f64 / 1000.0)
}
