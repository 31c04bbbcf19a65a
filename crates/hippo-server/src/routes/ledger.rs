//! The auditor's verification endpoints: signed tree heads, inclusion and consistency proofs,
//! the public key, and the accounting of disclosures (164.528).

use super::QueryParams;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_core::Action;
use hippo_proto::Problem;
use hippo_store::ledger::{self, ProofError};
use hippo_store::AuditQuery;

impl From<ProofError> for ApiError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::Store(s) => s.into(),
            ProofError::Request(msg) => ApiError::BadParameter(msg),
        }
    }
}

/// Authorises an auditor request and parses its query; both failures are audited.
async fn begin(
    s: &AppState,
    caller: &Caller,
    raw: Option<&str>,
    allowed: &[&str],
    view: &str,
) -> Result<(hippo_core::AuditDraft, QueryParams), ApiError> {
    let mut draft = caller.authorize(s, Action::AuditRead).await?;
    draft.detail("view", view);
    match QueryParams::parse(raw, allowed) {
        Ok(q) => {
            draft.detail("filters", q.names());
            Ok((draft, q))
        }
        Err(e) => Err(caller.reject(s, draft, e).await),
    }
}

/// Records a successful auditor request (proof and head reads are accesses to the audit trail too).
async fn record(s: &AppState, draft: hippo_core::AuditDraft) -> Result<(), ApiError> {
    s.store
        .append_audit(draft)
        .await
        .map(|_| ())
        .map_err(|e| hippo_store::StoreError::AuditFailed(e.to_string()).into())
}

fn number(q: &QueryParams, key: &str) -> Result<Option<u64>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::BadParameter(format!("{key} must be a whole number")))
        })
        .transpose()
}

#[utoipa::path(get, path = "/v1/audit/tree-heads", tag = "audit", responses((status = 200, description = "Signed tree heads, smallest first", body = Object)), security(("bearer" = [])))]
pub async fn tree_heads(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (draft, _) = begin(&s, &caller, None, &[], "tree-heads").await?;
    let heads = s.store.tree_heads(&caller.log()).await?;
    record(&s, draft).await?;
    Ok(Json(serde_json::json!({ "items": heads })).into_response())
}

#[utoipa::path(post, path = "/v1/audit/tree-heads", tag = "audit", responses((status = 201, description = "A tree head signed now", body = Object)), security(("bearer" = [])))]
pub async fn sign_tree_head(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (draft, _) = begin(&s, &caller, None, &[], "sign-tree-head").await?;
    record(&s, draft).await?;
    let head = s.store.sign_tree_head(&caller.log()).await?;
    Ok((StatusCode::CREATED, Json(head)).into_response())
}

#[utoipa::path(get, path = "/v1/audit/proofs/inclusion", tag = "audit",
    params(("seq" = u64, Query, description = "Event sequence number"), ("tree_size" = Option<u64>, Query, description = "Size of a signed tree head (default: newest)")),
    responses((status = 200, description = "RFC 9162 inclusion proof", body = Object), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn inclusion(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (draft, q) = begin(
        &s,
        &caller,
        raw.as_deref(),
        &["seq", "tree_size"],
        "inclusion-proof",
    )
    .await?;
    let (seq, size) = match required_and_optional(&q, "seq", "tree_size") {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let proof = ledger::inclusion(s.store.as_ref(), &caller.log(), seq as i64, size).await;
    answer(&s, &caller, draft, proof).await
}

#[utoipa::path(get, path = "/v1/audit/proofs/consistency", tag = "audit",
    params(("from" = u64, Query, description = "Older tree size"), ("to" = Option<u64>, Query, description = "Newer tree size (default: newest head)")),
    responses((status = 200, description = "RFC 9162 consistency proof", body = Object), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn consistency(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (draft, q) = begin(
        &s,
        &caller,
        raw.as_deref(),
        &["from", "to"],
        "consistency-proof",
    )
    .await?;
    let (from, to) = match required_and_optional(&q, "from", "to") {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let proof = ledger::consistency(s.store.as_ref(), &caller.log(), from, to).await;
    answer(&s, &caller, draft, proof).await
}

/// A required and an optional whole-number parameter (a proof's subject and its tree size).
fn required_and_optional(
    q: &QueryParams,
    required: &str,
    optional: &str,
) -> Result<(u64, Option<u64>), ApiError> {
    let value = number(q, required)?
        .ok_or_else(|| ApiError::BadParameter(format!("{required} is required")))?;
    Ok((value, number(q, optional)?))
}

/// Answers with a proof once its reading is audited, or rejects (audited) with its error.
async fn answer<T: serde::Serialize>(
    s: &AppState,
    caller: &Caller,
    draft: hippo_core::AuditDraft,
    proof: Result<T, ProofError>,
) -> Result<Response, ApiError> {
    match proof {
        Ok(p) => {
            record(s, draft).await?;
            Ok(Json(p).into_response())
        }
        Err(e) => Err(caller.reject(s, draft, e.into()).await),
    }
}

#[utoipa::path(get, path = "/v1/audit/pubkey", tag = "audit", responses((status = 200, description = "The Ed25519 key that signs tree heads", body = Object)), security(("bearer" = [])))]
pub async fn pubkey(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (draft, _) = begin(&s, &caller, None, &[], "pubkey").await?;
    let info = s.store.audit_public_key()?.info();
    record(&s, draft).await?;
    Ok(Json(info).into_response())
}

/// One line of an accounting of disclosures.
#[derive(serde::Serialize)]
struct Disclosure {
    time: String,
    action: String,
    actor_id: String,
    actor_kind: String,
    purpose: Option<String>,
    emergency: bool,
    record_id: Option<String>,
    outcome: String,
    source_addr: Option<String>,
    request_id: String,
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

#[utoipa::path(get, path = "/v1/audit/disclosures", tag = "audit",
    params(("subject" = String, Query, description = "The person's subject id"), ("from" = Option<String>, Query, description = "RFC 3339"), ("to" = Option<String>, Query, description = "RFC 3339"),
           ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "Who accessed or changed the person's records, when and why", content(
                  (Object = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn disclosures(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (mut draft, q) = begin(
        &s,
        &caller,
        raw.as_deref(),
        &["subject", "from", "to", "format"],
        "disclosures",
    )
    .await?;
    let parsed = (|| {
        let subject = q
            .get("subject")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::BadParameter("subject is required".into()))?
            .to_owned();
        let csv = match q.get("format") {
            None | Some("json") => false,
            Some("csv") => true,
            Some(_) => return Err(ApiError::BadParameter("format must be json or csv".into())),
        };
        Ok((subject, q.time("from")?, q.time("to")?, csv))
    })();
    let (subject, from_ms, to_ms, csv) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    draft.subject_id = Some(subject.clone());
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let query = AuditQuery {
            subject_id: Some(subject.clone()),
            from_ms,
            to_ms,
            after_seq: after,
            limit: 1000,
            record_access_only: true,
            ..AuditQuery::default()
        };
        // Reading pages of the log is itself recorded once, below, as this disclosure report.
        let page = s
            .store
            .list_audit(&caller.log(), query, caller.draft(Action::AuditRead))
            .await?;
        after = page.items.last().map(|e| e.seq);
        items.extend(page.items.into_iter().map(|e| {
            Disclosure {
                time: hippo_core::time_fmt::rfc3339(e.time_ms),
                action: e.action.as_str().into(),
                actor_id: e.actor_id,
                actor_kind: e.actor_kind.as_str().into(),
                purpose: e
                    .details
                    .get("purpose")
                    .and_then(|p| p.as_str())
                    .map(str::to_owned),
                emergency: e
                    .details
                    .get("emergency")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
                record_id: e.resource_id,
                outcome: e.outcome.as_str().into(),
                source_addr: e.source_addr,
                request_id: e.request_id,
            }
        }));
        if page.next_cursor.is_none() {
            break;
        }
    }
    draft.detail("count", items.len());
    record(&s, draft).await?;
    if csv {
        let mut out = String::from("time,action,actor_id,actor_kind,purpose,emergency,record_id,outcome,source_addr,request_id\n");
        for d in &items {
            let row = [
                d.time.as_str(),
                &d.action,
                &d.actor_id,
                &d.actor_kind,
                d.purpose.as_deref().unwrap_or(""),
                if d.emergency { "true" } else { "false" },
                d.record_id.as_deref().unwrap_or(""),
                &d.outcome,
                d.source_addr.as_deref().unwrap_or(""),
                &d.request_id,
            ];
            out.push_str(
                &row.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    Ok(
        Json(serde_json::json!({ "subject": subject, "count": items.len(), "items": items }))
            .into_response(),
    )
}

#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "The caller's audit log recomputed from its events and checked against every stored signed tree head: `ok`, the report, and its text", body = Object)),
    security(("bearer" = [])))]
pub async fn verify_now(State(s): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (mut draft, _) = begin(&s, &caller, None, &[], "verify").await?;
    let report = ledger::verify(s.store.as_ref(), &caller.log(), Vec::new()).await?;
    // The same bookkeeping and alert as the scheduled verification (audit_jobs::verify_all).
    let now = hippo_core::time_fmt::now_millis();
    s.telemetry
        .note_verification(&caller.log(), report.is_ok(), now);
    if !report.is_ok() {
        s.telemetry.signal(
            hippo_telemetry::Signal::VerificationFailed { log: caller.log() },
            now,
        );
    }
    draft.detail("ok", report.is_ok());
    draft.detail("events_checked", report.events_checked);
    record(&s, draft).await?;
    Ok(Json(serde_json::json!({
        "ok": report.is_ok(),
        "report": report,
        "text": report.to_string(),
    }))
    .into_response())
}
