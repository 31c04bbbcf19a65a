//! `GET /v1/search`: full-text search of the caller's tenant, through the same policy and
//! minimum-necessary redaction as reads. The query text is never logged; in the audit trail it
//! is a keyed hash and a length (the redactor's treatment of the key `q`), beside the ids of
//! the records the search revealed.

use super::records::{unreadable, visible};
use super::QueryParams;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use hippo_core::Action;
use hippo_core::Record;
use hippo_proto::{Problem, RecordView, SearchHit, SearchResults, SnippetFragment};
use hippo_store::search::{parse_cursor, SearchRequest, Visible};
use std::sync::Arc;
use tracing::Instrument;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;
const PARAMS: &[&str] = &[
    "q",
    "type",
    "subject",
    "label",
    "updated_from",
    "updated_to",
    "limit",
    "cursor",
    "snippet",
];

/// Words in a snippet: enough to read a match in context, short enough for a result list.
const SNIPPET_WORDS: usize = 24;

fn request(q: &QueryParams) -> Result<SearchRequest, ApiError> {
    let text = q.get("q").ok_or_else(|| {
        ApiError::BadParameter("q is required: terms, \"phrases\", prefix*, AND, OR, NOT".into())
    })?;
    let settings = hippo_search::settings();
    let query = hippo_search::parse(text, settings.limits()).map_err(ApiError::InvalidQuery)?;
    let after = q
        .get("cursor")
        .map(|c| {
            parse_cursor(c).ok_or_else(|| {
                ApiError::BadParameter(
                    "cursor is not one this server issued; start again without it".into(),
                )
            })
        })
        .transpose()?;
    Ok(SearchRequest {
        record_type: q.get("type").map(str::to_owned),
        subject: q.get("subject").map(str::to_owned),
        label: q.get("label").map(str::to_owned),
        updated_from_ms: q.time("updated_from")?,
        updated_to_ms: q.time("updated_to")?,
        after,
        ..SearchRequest::new(query, q.limit(DEFAULT_PAGE, MAX_PAGE)?)
    })
}

/// `snippet=true|false` (default false).
fn wants_snippet(q: &QueryParams) -> Result<bool, ApiError> {
    match q.get("snippet") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::BadParameter(
            "snippet must be true or false".into(),
        )),
    }
}

#[utoipa::path(get, path = "/v1/search", tag = "records",
    params(("q" = String, Query, description = "terms, \"phrases\", prefix*, AND, OR, NOT, parentheses; case and accents ignored"),
           ("type" = Option<String>, Query), ("subject" = Option<String>, Query), ("label" = Option<String>, Query),
           ("updated_from" = Option<String>, Query, description = "RFC 3339"), ("updated_to" = Option<String>, Query, description = "RFC 3339"),
           ("limit" = Option<usize>, Query, description = "1-100, default 20"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
           ("snippet" = Option<bool>, Query, description = "true: each hit carries the passage that matched, highlighted, from what the caller may see")),
    responses((status = 200, body = SearchResults), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn search(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResults>, ApiError> {
    let mut draft = caller.authorize(&s, Action::RecordSearch).await?;
    let parsed = QueryParams::parse(raw.as_deref(), PARAMS).and_then(|q| {
        let names = q.names();
        let text = q.get("q").map(str::to_owned);
        let snippet = wants_snippet(&q)?;
        request(&q).map(|r| (r, names, text, q.get("subject").map(str::to_owned), snippet))
    });
    let (request, names, text, subject, snippet) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    draft.detail("filters", names);
    // `q` is a free-text key: the store keeps only its keyed hash and length.
    draft.detail("q", text.unwrap_or_default());
    draft.subject_id = subject;
    let query = snippet.then(|| request.query.clone());
    // The policy decides inside the store, so withheld hits are not named in the audit event.
    let (state, who) = (s.clone(), caller.clone());
    let request = SearchRequest {
        visible: Visible(Arc::new(move |r: Record| {
            visible(&state, &who, Action::RecordSearch, r)
        })),
        ..request
    };
    let page = s
        .store
        .search_records(&caller.principal.tenant, request, draft)
        .instrument(crate::middleware::store_span("search_records"))
        .await?;
    let items = page
        .items
        .into_iter()
        // Each hit is already the record as redacted for this caller (see `Visible` above),
        // so a snippet never shows a removed field's words.
        .map(|(r, score)| SearchHit {
            score,
            snippet: query.as_ref().and_then(|q| snippet_of(q, &r.body)),
            record: RecordView::from(r),
        })
        .collect::<Vec<_>>();
    crate::middleware::note_records_returned(items.len());
    Ok(Json(SearchResults {
        items,
        unreadable: unreadable(page.unreadable),
        next_cursor: page.next_cursor,
    }))
}

fn snippet_of(
    query: &hippo_search::Query,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Option<Vec<SnippetFragment>> {
    let fragments = hippo_search::snippet(query, body, SNIPPET_WORDS)?;
    Some(
        fragments
            .into_iter()
            .map(|f| SnippetFragment {
                text: f.text,
                highlight: f.highlight,
            })
            .collect(),
    )
}
