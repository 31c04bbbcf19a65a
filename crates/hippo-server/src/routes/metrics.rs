//! Prometheus metrics about the audit trail of the caller's tenant: tree size, events not yet
//! covered by a signed head, and the age of the newest head. Counts only: no PHI, no ids.

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use hippo_core::Action;
use std::fmt::Write;

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")), security(("bearer" = [])))]
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
    let mut out = String::new();
    let label = format!("log=\"{tenant}\"");
    let _ = writeln!(out, "# HELP hippo_audit_tree_size Events integrated into the audit Merkle tree.\n# TYPE hippo_audit_tree_size gauge\nhippo_audit_tree_size{{{label}}} {size}");
    let _ = writeln!(out, "# HELP hippo_audit_unsigned_events Integrated events not yet covered by a signed tree head.\n# TYPE hippo_audit_unsigned_events gauge\nhippo_audit_unsigned_events{{{label}}} {}", size.saturating_sub(signed));
    let _ = writeln!(out, "# HELP hippo_audit_tree_head_age_seconds Age of the newest signed tree head.\n# TYPE hippo_audit_tree_head_age_seconds gauge\nhippo_audit_tree_head_age_seconds{{{label}}} {age}");
    // Both stores integrate an event in the transaction that commits it, so a stored event
    // beyond the tree means integration broke (or someone inserted it): measured, not assumed.
    let lag = integration_lag_secs(&s, &log, size, now).await?;
    let _ = writeln!(out, "# HELP hippo_audit_integration_lag_seconds Age of the oldest stored event not yet integrated into the tree (0: none).\n# TYPE hippo_audit_integration_lag_seconds gauge\nhippo_audit_integration_lag_seconds{{{label}}} {lag}");
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
        let _ = writeln!(out, "# HELP hippo_backup_failures_total Backup shipping rounds that failed for some database.\n# TYPE hippo_backup_failures_total counter\nhippo_backup_failures_total {}", b.failures.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_objects_shipped_total Backup objects written to every sink.\n# TYPE hippo_backup_objects_shipped_total counter\nhippo_backup_objects_shipped_total {}", b.objects_shipped.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_bytes_shipped_total Bytes of backup objects written to every sink.\n# TYPE hippo_backup_bytes_shipped_total counter\nhippo_backup_bytes_shipped_total {}", b.bytes_shipped.load(Relaxed));
        let _ = writeln!(out, "# HELP hippo_backup_last_success_age_seconds Seconds since the last round that shipped everything pending.\n# TYPE hippo_backup_last_success_age_seconds gauge\nhippo_backup_last_success_age_seconds {age}");
        let _ = writeln!(out, "# HELP hippo_backup_unshipped_age_seconds Age of the oldest change not yet in every sink (0: none).\n# TYPE hippo_backup_unshipped_age_seconds gauge\nhippo_backup_unshipped_age_seconds {pending}");
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// Seconds since the oldest stored event beyond the tree was written; 0 if there is none.
async fn integration_lag_secs(
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
