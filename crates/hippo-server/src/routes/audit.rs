//! The auditor's view of the audit trail: the tenant's log, or its access-change events.

use super::QueryParams;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use hippo_core::{Action, LogId, Outcome};
use hippo_proto::{AuditEventView, AuditPage, Problem};
use hippo_store::AuditQuery;

const PARAMS: &[&str] = &[
    "log",
    "after",
    "cursor",
    "limit",
    "action",
    "actor",
    "outcome",
    "resource",
    "subject",
    "from",
    "to",
    "emergency",
];

fn parse(q: &QueryParams) -> Result<(bool, AuditQuery), ApiError> {
    let access_log = match q.get("log") {
        None | Some("records") => false,
        Some("access") => true,
        Some(_) => {
            return Err(ApiError::BadParameter(
                "log must be 'records' (default) or 'access' (API key changes)".into(),
            ))
        }
    };
    let bad_cursor = || {
        ApiError::BadParameter(
            "cursor is not one this server issued; start again without it".into(),
        )
    };
    let after_seq = match q.get("cursor") {
        Some(c) => Some(
            hippo_core::cursor::decode(c)
                .ok()
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad_cursor)?,
        ),
        None => None,
    };
    let action = q
        .get("action")
        .map(|a| {
            Action::parse(a)
                .map(|a| a.as_str().to_owned())
                .ok_or_else(|| {
                    ApiError::BadParameter(
                        "unknown action; e.g. record.read, record.create, apikey.revoke".into(),
                    )
                })
        })
        .transpose()?;
    let outcome = q
        .get("outcome")
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| {
                ApiError::BadParameter("outcome must be success, denied or error".into())
            })
        })
        .transpose()?;
    Ok((
        access_log,
        AuditQuery {
            tenant: None,
            after_seq,
            limit: q.limit(100, 1000)?,
            action,
            actor_id: q.get("actor").map(str::to_owned),
            outcome,
            resource_id: q.get("resource").map(str::to_owned),
            subject_id: q.get("subject").map(str::to_owned),
            from_ms: q.time("from")?,
            to_ms: q.time("to")?,
            record_access_only: false,
            emergency_only: match q.get("emergency") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => {
                    return Err(ApiError::BadParameter(
                        "emergency must be true or false".into(),
                    ))
                }
            },
        },
    ))
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(("log" = Option<String>, Query, description = "records (default) or access"), ("cursor" = Option<String>, Query), ("limit" = Option<usize>, Query),
           ("action" = Option<String>, Query), ("actor" = Option<String>, Query), ("outcome" = Option<String>, Query),
           ("resource" = Option<String>, Query), ("subject" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query),
           ("emergency" = Option<bool>, Query, description = "only break-glass events")),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let mut draft = caller.authorize(&s, Action::AuditRead).await?;
    let parsed = QueryParams::parse(raw.as_deref(), PARAMS).and_then(|q| {
        let names = q.names();
        parse(&q).map(|p| (p, names))
    });
    let ((access_log, mut query), names) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    draft.detail("filters", names);
    let tenant = &caller.principal.tenant;
    let log = if access_log {
        // The access log is shared by all tenants; a tenant's auditor sees only its own events.
        query.tenant = Some(tenant.to_string());
        LogId::System
    } else {
        caller.log()
    };
    let page = s.store.list_audit(&log, query, draft).await?;
    Ok(Json(AuditPage {
        items: page.items.into_iter().map(AuditEventView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
