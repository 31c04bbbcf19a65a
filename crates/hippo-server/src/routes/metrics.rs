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

#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format")), security(("bearer" = [])))]
pub async fn metrics(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.authorize(&s, Action::AuditRead).await?;
    let tenant = &caller.principal.tenant;
    let (size, _) = s.store.tree_state(Some(tenant)).await?;
    let heads = s.store.tree_heads(Some(tenant)).await?;
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
    // Events are integrated in the same transaction that commits them, so this lag is zero by
    // construction; it is exported so that dashboards and alerts need not special-case Hippo.
    let _ = writeln!(out, "# HELP hippo_audit_integration_lag_seconds Time from an event's commit to its integration into the tree.\n# TYPE hippo_audit_integration_lag_seconds gauge\nhippo_audit_integration_lag_seconds{{{label}}} 0");
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
