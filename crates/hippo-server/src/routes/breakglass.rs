//! Break-glass review (164.312(a)(2)(ii)): the emergency elevations opened in the caller's
//! tenant with whether each was reviewed, and an auditor's recorded review of one.
//!
//! Openings are `breakglass.open` events (the system log, tenant-filtered, where the session
//! store writes them); a review is a `breakglass.review` event in the tenant's log naming the
//! session, the decision and a note (free text, kept redacted by the audit store). Reviews are
//! events, not mutable rows, so the review trail is as tamper-evident as what it reviews.

use super::read_json;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use hippo_core::{Action, AuditEvent, LogId};
use hippo_store::AuditQuery;
use serde::Deserialize;
use serde_json::{json, Value};

/// Pages of 1000 events read at most per kind (openings, reviews).
const MAX_PAGES: usize = 20;

async fn events(
    s: &AppState,
    caller: &Caller,
    log: &LogId,
    action: Action,
    tenant: Option<String>,
    mut draft: hippo_core::AuditDraft,
) -> Result<Vec<AuditEvent>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..MAX_PAGES {
        let query = AuditQuery {
            tenant: tenant.clone(),
            action: Some(action.as_str().to_owned()),
            after_seq: after,
            limit: 1000,
            ..AuditQuery::default()
        };
        let page = s.store.list_audit(log, query, draft).await?;
        draft = caller.draft(Action::AuditRead);
        draft.detail("view", "break-glass");
        after = page.items.last().map(|e| e.seq);
        out.extend(page.items);
        if page.next_cursor.is_none() {
            break;
        }
    }
    Ok(out)
}

fn session_of(e: &AuditEvent) -> Option<String> {
    e.details
        .get("session")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Openings (successful ones) and reviews of the caller's tenant.
async fn load(
    s: &AppState,
    caller: &Caller,
    draft: hippo_core::AuditDraft,
) -> Result<(Vec<AuditEvent>, Vec<AuditEvent>), ApiError> {
    let tenant = caller.principal.tenant.to_string();
    let opened = events(
        s,
        caller,
        &LogId::System,
        Action::BreakGlassOpen,
        Some(tenant),
        draft,
    )
    .await?
    .into_iter()
    .filter(|e| e.outcome == hippo_core::Outcome::Success)
    .collect();
    let mut d = caller.draft(Action::AuditRead);
    d.detail("view", "break-glass-reviews");
    let reviews = events(s, caller, &caller.log(), Action::BreakGlassReview, None, d).await?;
    Ok((opened, reviews))
}

#[utoipa::path(get, path = "/v1/audit/break-glass", tag = "audit",
    responses((status = 200, description = "Emergency elevations of the caller's tenant, newest first, each with its review (null while it awaits one)", body = Object)),
    security(("bearer" = [])))]
pub async fn break_glass_list(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let mut draft = caller.authorize(&s, Action::AuditRead).await?;
    draft.detail("view", "break-glass");
    let (opened, reviews) = load(&s, &caller, draft).await?;
    let items: Vec<Value> = opened
        .iter()
        .rev()
        .filter_map(|e| {
            let session = session_of(e)?;
            let review = reviews
                .iter()
                .find(|r| r.resource_id.as_deref() == Some(session.as_str()))
                .map(|r| {
                    json!({
                        "reviewed_by": r.actor_id,
                        "reviewed_at": hippo_core::time_fmt::rfc3339(r.time_ms),
                        "decision": r.details.get("decision").cloned().unwrap_or(Value::Null),
                    })
                });
            Some(json!({
                "session": session,
                "opened_by": e.actor_id,
                "opened_at": hippo_core::time_fmt::rfc3339(e.time_ms),
                "minutes": e.details.get("minutes").cloned().unwrap_or(Value::Null),
                "source_addr": e.source_addr,
                "review": review,
            }))
        })
        .collect();
    let pending = items.iter().filter(|i| i["review"].is_null()).count();
    Ok(Json(json!({ "pending": pending, "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    decision: String,
    #[serde(default)]
    note: String,
}

#[utoipa::path(post, path = "/v1/audit/break-glass/{session}/review", tag = "audit",
    params(("session" = String, Path, description = "The session id of the elevation")),
    responses((status = 200, description = "The review, recorded as a breakglass.review event", body = Object),
              (status = 400, body = hippo_proto::Problem), (status = 404, body = hippo_proto::Problem), (status = 409, body = hippo_proto::Problem),
              (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)),
    security(("bearer" = [])))]
pub async fn break_glass_review(
    State(s): State<AppState>,
    caller: Caller,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let mut draft = caller.authorize(&s, Action::BreakGlassReview).await?;
    let parsed = read_json(&headers, body, 4096).await.and_then(|v| {
        let r: Review = serde_json::from_value(v).map_err(|_| {
            ApiError::BadParameter(
                "expected {\"decision\": \"justified\" or \"not-justified\", \"note\": \"up to 500 characters\"}".into(),
            )
        })?;
        if !matches!(r.decision.as_str(), "justified" | "not-justified") {
            return Err(ApiError::BadParameter(
                "decision must be justified or not-justified".into(),
            ));
        }
        if r.note.chars().count() > 500 {
            return Err(ApiError::BadParameter("note is at most 500 characters".into()));
        }
        Ok(r)
    });
    let r = match parsed {
        Ok(r) => r,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let mut read = caller.draft(Action::AuditRead);
    read.detail("view", "break-glass");
    let (opened, reviews) = load(&s, &caller, read).await?;
    let Some(open) = opened
        .iter()
        .find(|e| session_of(e).as_deref() == Some(session.as_str()))
    else {
        let e = ApiError::NotFound("no emergency elevation of this tenant has that session id");
        return Err(caller.reject(&s, draft, e).await);
    };
    if reviews
        .iter()
        .any(|r| r.resource_id.as_deref() == Some(session.as_str()))
    {
        let e = ApiError::Conflict("this elevation has already been reviewed");
        return Err(caller.reject(&s, draft, e).await);
    }
    draft.resource_id = Some(session.clone());
    draft.detail("decision", r.decision.clone());
    draft.detail("opened_by", open.actor_id.clone());
    if !r.note.trim().is_empty() {
        // `note` is a free-text key: the audit store keeps it redacted (HMAC and length).
        draft.detail("note", r.note.trim().to_owned());
    }
    s.store.append_audit(draft).await?;
    Ok(Json(json!({
        "session": session,
        "decision": r.decision,
        "reviewed_by": caller.principal.id,
    })))
}
