//! Document endpoints: streamed upload, download (with `Range`), list and versioned delete of
//! the documents attached to a record, each audited like a read of that record; and the one
//! mapping of document errors to problem responses.
//!
//! Every access reads the parent record through the store, which writes the access's audit
//! event (action `document.*`, the record and its subject, the document id) before any
//! document byte is sent, and gives the policy the record's type and labels.

use super::records::{checked, disclose, parse_id};
use super::QueryParams;
use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_core::Action;
use hippo_docs::{ChunkReader, DocError, DocMeta, Documents, OpenDoc};
use hippo_proto::{DocumentList, DocumentView, Problem};
use http_body_util::BodyExt;
use std::sync::Arc;

/// Documents up to this many chunks are opened whole before the response starts, so any fault
/// is a precise problem response; larger ones are checked chunk by chunk as they stream (the
/// first before the response starts), and a fault later aborts the transfer.
const VERIFY_WHOLE_CHUNKS: u64 = 16;

pub fn status(e: &DocError) -> StatusCode {
    use DocError::*;
    match e {
        TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        TypeNotAllowed { .. } | TypeMismatch { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Empty => StatusCode::BAD_REQUEST,
        NotFound => StatusCode::NOT_FOUND,
        Deleted => StatusCode::GONE,
        Infected => StatusCode::UNPROCESSABLE_ENTITY,
        Frame(_) | Header(_) | BlobMissing | KeyVersion(_) | KeyState(_) | Random => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        KeyServiceUnavailable(_) | Sink(_) | ScanUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

pub fn slug(e: &DocError) -> &'static str {
    use DocError::*;
    match e {
        TooLarge { .. } => "payload-too-large",
        TypeNotAllowed { .. } => "document-type-not-allowed",
        TypeMismatch { .. } => "document-type-mismatch",
        Empty => "empty-document",
        NotFound => "not-found",
        Deleted => "document-deleted",
        Infected => "document-infected",
        Frame(_) | Header(_) | BlobMissing => "document-integrity-failed",
        KeyVersion(_) | KeyState(_) => "document-key-refused",
        KeyServiceUnavailable(_) => "key-service-unavailable",
        Sink(_) => "document-storage-unavailable",
        ScanUnavailable(_) => "scan-unavailable",
        Random => "internal",
    }
}

pub fn title(e: &DocError) -> &'static str {
    use DocError::*;
    match e {
        TooLarge { .. } => "Payload too large",
        TypeNotAllowed { .. } => "Document type not accepted",
        TypeMismatch { .. } => "Content does not match its type",
        Empty => "Empty document",
        NotFound => "Not found",
        Deleted => "Document deleted",
        Infected => "Malware scan refused the document",
        Frame(_) | Header(_) | BlobMissing => "Document fails its integrity check",
        KeyVersion(_) | KeyState(_) => "Document key refused",
        KeyServiceUnavailable(_) => "Key service unavailable",
        Sink(_) => "Document storage unavailable",
        ScanUnavailable(_) => "Malware scan unavailable",
        Random => "Internal error",
    }
}

/// What a client is told: integrity and key faults are named precisely (chunk numbers, key
/// versions: no content); storage and key-service faults say what failed without internal
/// paths or endpoints, which are logged instead.
pub fn public_detail(e: &DocError) -> String {
    match e {
        DocError::Sink(_) => "the document storage is unavailable; retry later".into(),
        DocError::KeyServiceUnavailable(_) => {
            "the key service is unavailable, so no document key can be wrapped or unwrapped (fail closed); retry later".into()
        }
        DocError::ScanUnavailable(_) => {
            "the malware scan could not run, so the document was not accepted (fail closed); retry later".into()
        }
        other => other.to_string(),
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        if status(&e).is_server_error() {
            // Ids, chunk numbers, key versions and paths only: DocError never holds content.
            tracing::error!(error = %e, kind = slug(&e), "document operation failed");
        }
        ApiError::Document(e)
    }
}

fn docs(s: &AppState) -> Result<Arc<Documents>, ApiError> {
    s.documents.clone().ok_or(ApiError::Unavailable)
}

fn view(m: DocMeta) -> DocumentView {
    DocumentView {
        id: m.id,
        record_id: m.record_id,
        version: m.version,
        size: m.size,
        sha256: m.sha256,
        content_type: m.content_type,
        created_at: hippo_core::time_fmt::rfc3339(m.created_at_ms),
        created_by: m.created_by,
        deleted: m.deleted,
    }
}

fn describe(draft: &mut hippo_core::AuditDraft, m: &DocMeta) {
    draft.detail("document", m.id.clone());
    draft.detail("document_version", m.version);
    draft.detail("size", m.size);
}

#[utoipa::path(post, path = "/v1/records/{id}/documents", tag = "documents",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)")),
    request_body(content = Vec<u8>, description = "The document's bytes; Content-Type must be an accepted type and match the content", content_type = "application/octet-stream"),
    responses((status = 201, body = DocumentView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
              (status = 410, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut draft = caller.authorize(&s, Action::DocumentCreate).await?;
    let rid = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let docs = checked(&s, &caller, &draft, docs(&s)).await?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let p = &caller.principal;
    let tenant = p.tenant.to_string();
    let started = docs
        .start_upload(
            &tenant,
            &rid.to_string(),
            declared,
            declared_len,
            &p.id,
            s.now_ms(),
        )
        .await
        .map_err(ApiError::from);
    let mut up = checked(&s, &caller, &draft, started).await?;
    // Streamed: one frame at a time, sealed chunk by chunk. Any error (over the limit, a
    // mismatched type, a client gone mid-upload) drops `up`, which removes the partial blob.
    let mut body = body;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(_)) => {
                let e = ApiError::BadParameter("the upload was interrupted before its end".into());
                return Err(caller.reject(&s, draft, e).await);
            }
        };
        if let Ok(data) = frame.into_data() {
            let pushed = up.push(&data).await.map_err(ApiError::from);
            checked(&s, &caller, &draft, pushed).await?;
        }
    }
    let staged = checked(
        &s,
        &caller,
        &draft,
        up.finish().await.map_err(ApiError::from),
    )
    .await?;
    describe(&mut draft, &staged.meta);
    draft.detail("content_type", staged.meta.content_type.clone());
    // The record must exist and the policy allow writing to it; reading it writes this
    // upload's audit event. Only then does the document become visible.
    let allowed = match s.store.get_record(&p.tenant, rid, draft.clone()).await {
        Ok(r) => disclose(&s, &caller, Action::DocumentCreate, r)
            .await
            .map(|_| ()),
        Err(e) => Err(ApiError::from(e)),
    };
    if let Err(e) = allowed {
        let _ = docs.discard(&tenant, staged).await;
        return Err(e);
    }
    if let Err(e) = docs.publish(&tenant, &staged).await {
        let _ = docs.discard(&tenant, staged).await;
        return Err(caller.reject(&s, draft, e.into()).await);
    }
    let location = format!("/v1/records/{rid}/documents/{}", staged.meta.id);
    let mut resp = (StatusCode::CREATED, Json(view(staged.meta))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/v1/records/{id}/documents", tag = "documents",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)")),
    responses((status = 200, body = DocumentList), (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DocumentList>, ApiError> {
    let mut draft = caller.authorize(&s, Action::DocumentList).await?;
    let rid = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let docs = checked(&s, &caller, &draft, docs(&s)).await?;
    let tenant = caller.principal.tenant.to_string();
    let listed = docs
        .list(&tenant, &rid.to_string())
        .await
        .map_err(ApiError::from);
    let items = checked(&s, &caller, &draft, listed).await?;
    draft.detail("count", items.len());
    let ids: Vec<String> = items.iter().map(|m| m.id.clone()).collect();
    draft.detail("documents", ids);
    let record = s
        .store
        .get_record(&caller.principal.tenant, rid, draft)
        .await?;
    disclose(&s, &caller, Action::DocumentList, record).await?;
    Ok(Json(DocumentList {
        items: items.into_iter().map(view).collect(),
    }))
}

/// A single byte range `bytes=a-b`, `bytes=a-` or `bytes=-n` of a document of `size` bytes,
/// as `(first, last)` inclusive. `None`: no usable Range header (the whole document is sent;
/// several ranges are answered whole too, as RFC 9110 allows).
pub fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec
        .split_once('-')
        .ok_or(ApiError::RangeNotSatisfiable { size })?;
    let (a, b) = (a.trim(), b.trim());
    let num = |t: &str| {
        t.parse::<u64>()
            .map_err(|_| ApiError::RangeNotSatisfiable { size })
    };
    let (first, last) = if a.is_empty() {
        let n = num(b)?;
        if n == 0 || size == 0 {
            return Err(ApiError::RangeNotSatisfiable { size });
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let first = num(a)?;
        let last = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            num(b)?.min(size.saturating_sub(1))
        };
        (first, last)
    };
    if first >= size || first > last {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    Ok(Some((first, last)))
}

/// The plaintext bytes `first..=last` held by `chunk`: the plaintext of one or more chunks
/// from chunk `i` on (which starts at `i * chunk_size`).
fn slice(chunk: impl Into<Bytes>, i: u64, chunk_size: u64, first: u64, last: u64) -> Bytes {
    let chunk: Bytes = chunk.into();
    let start = i * chunk_size;
    let from = (first.saturating_sub(start) as usize).min(chunk.len());
    let to = ((last + 1).saturating_sub(start) as usize).min(chunk.len());
    chunk.slice(from..to.max(from))
}

/// A batch of opened chunks as slices of their one buffer (no copy), cut to `first..=last`.
fn slices(plain: hippo_docs::Plain, chunk_size: u64, first: u64, last: u64) -> Vec<Bytes> {
    let i = plain.first;
    let (buf, pieces) = plain.into_parts();
    let buf = Bytes::from(buf);
    pieces
        .into_iter()
        .enumerate()
        .map(|(k, r)| slice(buf.slice(r), i + k as u64, chunk_size, first, last))
        .filter(|b| !b.is_empty())
        .collect()
}

#[utoipa::path(get, path = "/v1/records/{id}/documents/{doc}", tag = "documents",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)"), ("doc" = String, Path, format = Uuid, description = "Document id"),
           ("version" = Option<u32>, Query, minimum = 1, description = "A version, from 1 (default: the newest)"), ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1023")),
    responses((status = 200, description = "The document's content", content_type = "application/octet-stream"), (status = 206, description = "The requested range"),
              (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem), (status = 416, body = Problem), (status = 500, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn download(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut draft = caller.authorize(&s, Action::DocumentRead).await?;
    let rid = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let docs = checked(&s, &caller, &draft, docs(&s)).await?;
    let q = checked(
        &s,
        &caller,
        &draft,
        QueryParams::parse(raw.as_deref(), &["version"]),
    )
    .await?;
    let version = q
        .get("version")
        .map(|v| {
            v.parse::<u32>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                ApiError::BadParameter("version must be a whole number from 1".into())
            })
        })
        .transpose();
    let version = checked(&s, &caller, &draft, version).await?;
    let tenant = caller.principal.tenant.to_string();
    let meta = docs
        .meta(&tenant, &rid.to_string(), &doc, version)
        .await
        .map_err(ApiError::from);
    let meta = checked(&s, &caller, &draft, meta).await?;
    describe(&mut draft, &meta);
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = checked(&s, &caller, &draft, parse_range(range_header, meta.size)).await?;
    let opened = docs.open(&tenant, &meta).await.map_err(ApiError::from);
    let open = checked(&s, &caller, &draft, opened).await?;
    let (first, last) = range.unwrap_or((0, meta.size.saturating_sub(1)));
    let cs = open.chunk_size();
    let (c0, c1) = (first / cs, if meta.size == 0 { 0 } else { last / cs });
    // Check before anything is disclosed: all of a small range, the first chunk of a large one.
    let upto = if c1 - c0 < VERIFY_WHOLE_CHUNKS {
        c1
    } else {
        c0
    };
    let head = open
        .chunks_from(c0, upto - c0 + 1)
        .await
        .map_err(ApiError::from);
    let verified = vec![slice(
        checked(&s, &caller, &draft, head).await?,
        c0,
        cs,
        first,
        last,
    )];
    if let Some((a, b)) = range {
        draft.detail("range", format!("{a}-{b}"));
    }
    let record = s
        .store
        .get_record(&caller.principal.tenant, rid, draft)
        .await?;
    disclose(&s, &caller, Action::DocumentRead, record).await?;
    let len = if meta.size == 0 { 0 } else { last + 1 - first };
    let body = stream_body(open, verified, upto + 1, c1, first, last, meta.id.clone());
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&meta.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", meta.sha256)) {
        h.insert(header::ETAG, v);
    }
    if range.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{}", meta.size)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

/// The verified head, then chunks `next..=end` read and opened [`READ_CHUNKS`] at a time, the
/// next batch read while this one is opened ([`ChunkReader`]: two batches in memory at most). A chunk that fails mid-stream ends the transfer with an error,
/// so the client sees a cut response rather than unauthenticated bytes.
fn stream_body(
    open: OpenDoc,
    head: Vec<Bytes>,
    next: u64,
    end: u64,
    first: u64,
    last: u64,
    doc: String,
) -> Body {
    use futures_util::stream;
    let cs = open.chunk_size();
    let head = stream::iter(head.into_iter().map(Ok::<Bytes, std::io::Error>));
    let reader = (next <= end).then(|| ChunkReader::new(Arc::new(open), next, end));
    let batches = stream::unfold(reader, move |reader| {
        let doc = doc.clone();
        async move {
            let mut reader = reader?;
            match reader.next_batch().await? {
                Ok(plain) => Some((Ok(slices(plain, cs, first, last)), Some(reader))),
                Err(e) => {
                    tracing::error!(document = %doc, error = %e, "document download aborted");
                    Some((Err(std::io::Error::other("document chunk failed")), None))
                }
            }
        }
    });
    // Each batch's chunks go out as slices of its one buffer.
    let tail = futures_util::StreamExt::flat_map(batches, |batch| {
        let items: Vec<Result<Bytes, std::io::Error>> = match batch {
            Ok(parts) => parts.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        stream::iter(items)
    });
    Body::from_stream(futures_util::StreamExt::chain(head, tail))
}

#[utoipa::path(delete, path = "/v1/records/{id}/documents/{doc}", tag = "documents",
    params(("id" = String, Path, format = Uuid, description = "Record id (UUID)"), ("doc" = String, Path, format = Uuid, description = "Document id")),
    responses((status = 200, description = "The tombstone version", body = DocumentView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Json<DocumentView>, ApiError> {
    let mut draft = caller.authorize(&s, Action::DocumentDelete).await?;
    let rid = checked(&s, &caller, &draft, parse_id(&id)).await?;
    let docs = checked(&s, &caller, &draft, docs(&s)).await?;
    let tenant = caller.principal.tenant.to_string();
    let meta = docs
        .meta(&tenant, &rid.to_string(), &doc, None)
        .await
        .map_err(ApiError::from);
    let meta = checked(&s, &caller, &draft, meta).await?;
    describe(&mut draft, &meta);
    let failed = draft.clone();
    let record = s
        .store
        .get_record(&caller.principal.tenant, rid, draft)
        .await?;
    disclose(&s, &caller, Action::DocumentDelete, record).await?;
    let p = &caller.principal;
    match docs
        .delete(&tenant, &rid.to_string(), &doc, &p.id, s.now_ms())
        .await
    {
        Ok(tomb) => Ok(Json(view(tomb))),
        Err(e) => Err(caller.reject(&s, failed, e.into()).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=0-3"), 10).unwrap(), Some((0, 3)));
        assert_eq!(parse_range(Some("bytes=5-"), 10).unwrap(), Some((5, 9)));
        assert_eq!(parse_range(Some("bytes=-4"), 10).unwrap(), Some((6, 9)));
        assert_eq!(parse_range(Some("bytes=2-100"), 10).unwrap(), Some((2, 9)));
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10).unwrap(), None);
        for bad in ["bytes=10-", "bytes=5-2", "bytes=x-1", "bytes=-0"] {
            assert!(
                matches!(
                    parse_range(Some(bad), 10),
                    Err(ApiError::RangeNotSatisfiable { size: 10 })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn slices_cover_exactly_the_range() {
        let c = vec![0u8, 1, 2, 3];
        assert_eq!(&slice(c.clone(), 0, 4, 1, 2)[..], &[1, 2]);
        assert_eq!(&slice(c.clone(), 1, 4, 1, 5)[..], &[0, 1]);
        assert_eq!(&slice(c, 2, 4, 0, 100)[..], &[0, 1, 2, 3]);
    }
}
