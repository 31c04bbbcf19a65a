//! Record endpoints: create, read, update (optimistic concurrency), soft delete, history, list.

use super::{read_json, QueryParams};
use crate::ctx::Caller;
use crate::middleware::{note_records_returned, store_span};
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_core::{validate, Action, AuditDraft, Record, RecordFilter, RecordId, RecordInput};
use hippo_proto::{Problem, RecordHistory, RecordPage, RecordView, RecordWrite, UnreadableRecord};
use tracing::Instrument;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// A record as JSON, with its version as the ETag.
fn record_response(status: StatusCode, record: Record) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", record.version))
        .expect("digits are a valid header");
    let location = (status == StatusCode::CREATED).then(|| {
        HeaderValue::from_str(&format!("/v1/records/{}", record.id))
            .expect("uuid is a valid header")
    });
    let mut resp = (status, Json(RecordView::from(record))).into_response();
    resp.headers_mut().insert(header::ETAG, etag);
    if let Some(l) = location {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    resp
}

/// Runs a fallible step of request parsing; a failure is audited on `draft` and returned.
pub(crate) async fn checked<T>(
    s: &AppState,
    caller: &Caller,
    draft: &AuditDraft,
    step: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match step {
        Ok(v) => Ok(v),
        Err(e) => Err(caller.reject(s, draft.clone(), e).await),
    }
}

/// What the policy engine is told about a stored record.
fn facts(caller: &Caller, r: &Record) -> hippo_policy::ResourceFacts {
    hippo_policy::ResourceFacts {
        tenant: caller.principal.tenant.clone(),
        record_type: Some(r.record_type.clone()),
        subject: r.subject.clone(),
        labels: r.labels.clone(),
    }
}

/// Removes the fields a decision's obligations name (minimum necessary, 164.502(b)).
fn apply(obligations: &hippo_policy::Obligations, r: &mut Record) {
    if obligations.is_empty() {
        return;
    }
    let mut body = serde_json::Value::Object(std::mem::take(&mut r.body));
    obligations.apply(&mut body);
    if let serde_json::Value::Object(map) = body {
        r.body = map;
    }
}

/// The per-record decision after a read (type and labels are known only then): a record the
/// policy withholds is refused with 403 and a `denied` event under the same request id as the
/// read's; fields it removes are removed.
pub(crate) async fn disclose(
    s: &AppState,
    caller: &Caller,
    action: Action,
    mut record: Record,
) -> Result<Record, ApiError> {
    let (_, decision) = caller.decide(s, action, facts(caller, &record)).await?;
    apply(&decision.obligations, &mut record);
    Ok(record)
}

/// The record as the caller may see it (obligations applied), or `None` if the policy
/// withholds it. Lists and searches use this: a withheld record is neither returned nor counted.
pub(crate) fn visible(
    s: &AppState,
    caller: &Caller,
    action: Action,
    mut r: Record,
) -> Option<Record> {
    let d = s
        .policy
        .decide(&caller.policy_input(action, facts(caller, &r)));
    d.allowed.then(|| {
        apply(&d.obligations, &mut r);
        r
    })
}

/// Records of a page that failed their integrity check, by id and version only.
pub(crate) fn unreadable(failures: Vec<hippo_store::IntegrityFailure>) -> Vec<UnreadableRecord> {
    failures
        .into_iter()
        .map(|f| UnreadableRecord {
            id: f.id.to_string(),
            version: f.version,
            problem: "integrity_failed".into(),
        })
        .collect()
}

pub(crate) fn parse_id(raw: &str) -> Result<RecordId, ApiError> {
    raw.parse().map_err(|_| ApiError::MalformedId("id"))
}

async fn parse_input(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<RecordInput, ApiError> {
    let value = read_json(headers, body, s.config.max_body_bytes).await?;
    validate::record_input(value).map_err(ApiError::Invalid)
}

/// Parses `If-Match: "N"` (or a bare `N`). Required for updates.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    inner
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadParameter(
                "If-Match must hold one version from the record's ETag, e.g. \"3\"".into(),
            )
        })
}

#[utoipa::path(post, path = "/v1/records", tag = "records", request_body = RecordWrite,
    responses((status = 201, description = "Created", body = RecordView), (status = 400, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let draft = caller.authorize(&s, Action::RecordCreate).await?;
    let input = checked(&s, &caller, &draft, parse_input(&s, &headers, body).await).await?;
    let p = &caller.principal;
    let record = s
        .store
        .create_record(&p.tenant, input, &p.id, draft)
        .await?;
    Ok(record_response(StatusCode::CREATED, record))
}

#[utoipa::path(get, path = "/v1/records/{id}", tag = "records", params(("id" = String, Path, format = Uuid, description = "Record id (UUID)")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let draft = caller.authorize(&s, Action::RecordRead).await?;
    let id = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let record = s
        .store
        .get_record(&caller.principal.tenant, id, draft)
        .instrument(store_span("get_record"))
        .await?;
    let record = disclose(&s, &caller, Action::RecordRead, record).await?;
    note_records_returned(1);
    Ok(record_response(StatusCode::OK, record))
}

#[utoipa::path(put, path = "/v1/records/{id}", tag = "records", request_body = RecordWrite,
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)"), ("If-Match" = String, Header, pattern = r#"^"?[1-9][0-9]{0,17}"?$"#, description = "The version being replaced, from the ETag")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 410, body = Problem), (status = 412, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
              (status = 428, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let draft = caller.authorize(&s, Action::RecordUpdate).await?;
    let id = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let expected = checked(
        &s,
        &caller,
        &draft,
        if_match(&headers).and_then(|v| v.ok_or(ApiError::PreconditionRequired)),
    )
    .await?;
    let input = checked(&s, &caller, &draft, parse_input(&s, &headers, body).await).await?;
    let p = &caller.principal;
    let record = s
        .store
        .update_record(&p.tenant, id, expected, input, &p.id, draft)
        .await?;
    Ok(record_response(StatusCode::OK, record))
}

#[utoipa::path(delete, path = "/v1/records/{id}", tag = "records",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)"), ("If-Match" = Option<String>, Header, pattern = r#"^"?[1-9][0-9]{0,17}"?$"#, description = "Optional: delete only if still at this version")),
    responses((status = 200, description = "The tombstone version", body = RecordView), (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 410, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let draft = caller.authorize(&s, Action::RecordDelete).await?;
    let id = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let expected = checked(&s, &caller, &draft, if_match(&headers)).await?;
    let p = &caller.principal;
    let record = s
        .store
        .delete_record(&p.tenant, id, expected, &p.id, draft)
        .await?;
    Ok(record_response(StatusCode::OK, record))
}

#[utoipa::path(get, path = "/v1/records/{id}/history", tag = "records", params(("id" = String, Path, format = Uuid, description = "Record id (UUID)")),
    responses((status = 200, body = RecordHistory), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RecordHistory>, ApiError> {
    let draft = caller.authorize(&s, Action::RecordHistory).await?;
    let id = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let versions = s
        .store
        .record_history(&caller.principal.tenant, id, draft)
        .instrument(store_span("record_history"))
        .await?;
    note_records_returned(1);
    // The newest version decides whether the record may be seen at all.
    if let Some(newest) = versions.last() {
        disclose(&s, &caller, Action::RecordHistory, newest.clone()).await?;
    }
    let versions: Vec<Record> = versions
        .into_iter()
        .filter_map(|r| visible(&s, &caller, Action::RecordHistory, r))
        .collect();
    Ok(Json(RecordHistory {
        id: id.to_string(),
        versions: versions.into_iter().map(RecordView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/records/{id}/versions/{version}", tag = "records",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)"), ("version" = i64, Path, minimum = 1, description = "Version number, from 1")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn version(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let draft = caller.authorize(&s, Action::RecordRead).await?;
    let id = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let bad_version = || ApiError::BadParameter("version must be a whole number from 1".into());
    let version = checked(
        &s,
        &caller,
        &draft,
        version
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(bad_version),
    )
    .await?;
    let record = s
        .store
        .get_record_version(&caller.principal.tenant, id, version, draft)
        .instrument(store_span("get_record_version"))
        .await?;
    let record = disclose(&s, &caller, Action::RecordRead, record).await?;
    note_records_returned(1);
    Ok(record_response(StatusCode::OK, record))
}

#[utoipa::path(get, path = "/v1/records", tag = "records",
    params(("type" = Option<String>, Query), ("subject" = Option<String>, Query), ("updated_since" = Option<String>, Query, description = "RFC 3339"),
           ("limit" = Option<usize>, Query, description = "1-1000, default 100"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = RecordPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<RecordPage>, ApiError> {
    let mut draft = caller.authorize(&s, Action::RecordList).await?;
    let q = checked(
        &s,
        &caller,
        &draft,
        QueryParams::parse(
            raw.as_deref(),
            &["type", "subject", "updated_since", "limit", "cursor"],
        ),
    )
    .await?;
    draft.detail("filters", q.names());
    let parsed = (|| {
        let filter = RecordFilter {
            record_type: q.get("type").map(str::to_owned),
            subject: q.get("subject").map(str::to_owned),
            updated_since_ms: q.time("updated_since")?,
            include_deleted: false,
        };
        let after = q
            .get("cursor")
            .map(|c| {
                hippo_core::cursor::decode(c)
                    .ok()
                    .and_then(|p| p.parse::<RecordId>().ok())
                    .ok_or_else(|| {
                        ApiError::BadParameter(
                            "cursor is not one this server issued; start again without it".into(),
                        )
                    })
            })
            .transpose()?;
        Ok((filter, after, q.limit(DEFAULT_PAGE, MAX_PAGE)?))
    })();
    let (filter, after, limit) = checked(&s, &caller, &draft, parsed).await?;
    // Filter values are user-supplied: the store's redactor replaces sensitive ones (subject)
    // with keyed hashes and labels the event, so investigators can correlate equal searches.
    let mut query = serde_json::Map::new();
    for key in ["type", "subject", "updated_since"] {
        if let Some(v) = q.get(key) {
            query.insert(key.into(), v.into());
        }
    }
    draft.detail("criteria", serde_json::Value::Object(query));
    let page = s
        .store
        .list_records(&caller.principal.tenant, filter, after, limit, draft)
        .instrument(store_span("list_records"))
        .await?;
    let items: Vec<RecordView> = page
        .items
        .into_iter()
        .filter_map(|r| visible(&s, &caller, Action::RecordList, r))
        .map(RecordView::from)
        .collect();
    note_records_returned(items.len());
    Ok(Json(RecordPage {
        items,
        unreadable: unreadable(page.unreadable),
        next_cursor: page.next_cursor,
    }))
}
