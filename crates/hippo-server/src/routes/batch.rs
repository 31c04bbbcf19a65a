//! `POST /v1/records:batch`: many records in one all-or-nothing commit (indexed and audited
//! like single creates). The body is a JSON array of record envelopes, or NDJSON (one envelope
//! per line, `application/x-ndjson`). Every invalid item is reported by its index (line
//! number - 1 for NDJSON) with the field problems, and then nothing is written. An item may
//! carry an `idempotency_key` beside its envelope fields: sent again (a retry whose answer was
//! lost, an import run twice), it is a replay that writes nothing and returns the first id.

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use hippo_core::validate::{FieldError, ValidationErrors};
use hippo_core::{validate, Action};
use hippo_proto::{BatchCreated, Problem, IDEMPOTENCY_KEY_FIELD, IDEMPOTENCY_KEY_MAX};
use hippo_store::{BatchItem, BatchOutcome, StoreError};
use http_body_util::BodyExt;

enum Format {
    Array,
    Ndjson,
}

fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Format::Array),
        "application/x-ndjson" => Ok(Format::Ndjson),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

async fn read(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    Ok(http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadParameter("the request body could not be read".into())
            }
        })?
        .to_bytes())
}

/// The items of the body, each parsed strictly; a syntax error names its item.
fn items(bytes: &[u8], format: Format) -> Result<Vec<serde_json::Value>, ApiError> {
    match format {
        Format::Array => match hippo_core::strict_json::parse(bytes)? {
            serde_json::Value::Array(items) => Ok(items),
            _ => Err(ApiError::BadParameter(
                "send a JSON array of record envelopes (or NDJSON as application/x-ndjson)".into(),
            )),
        },
        Format::Ndjson => bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(n, line)| {
                hippo_core::strict_json::parse(line).map_err(|e| {
                    ApiError::BadParameter(format!(
                        "line {} is not a valid JSON record envelope ({})",
                        n + 1,
                        ApiError::from(e)
                    ))
                })
            })
            .collect(),
    }
}

/// Takes an item's optional `idempotency_key` out of its envelope (the rest is the record
/// input); a malformed key is a field problem of its item.
fn take_key(v: &mut serde_json::Value, i: usize, problems: &mut Vec<FieldError>) -> Option<String> {
    let key = v.as_object_mut()?.remove(IDEMPOTENCY_KEY_FIELD)?;
    match key {
        serde_json::Value::String(k)
            if (1..=IDEMPOTENCY_KEY_MAX).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(k)
        }
        _ => {
            problems.push(FieldError {
                field: format!("/{i}/{IDEMPOTENCY_KEY_FIELD}"),
                code: "invalid",
                // IDEMPOTENCY_KEY_MAX, spelled out for a static message (checked below).
                message: "an idempotency key is a string of 1 to 128 visible ASCII characters",
            });
            None
        }
    }
}

const _: () = assert!(IDEMPOTENCY_KEY_MAX == 128);

/// Validates every item; all problems of all items, each field prefixed with its index.
fn validate_all(values: Vec<serde_json::Value>) -> Result<Vec<BatchItem>, ApiError> {
    let mut items = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (i, mut v) in values.into_iter().enumerate() {
        let idempotency_key = take_key(&mut v, i, &mut problems);
        match validate::record_input(v) {
            Ok(input) => items.push(BatchItem {
                input,
                idempotency_key,
            }),
            Err(ValidationErrors(errs)) => problems.extend(errs.into_iter().map(|e| FieldError {
                field: format!("/{i}/{}", e.field),
                ..e
            })),
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(ApiError::Invalid(ValidationErrors(problems)))
    }
}

/// A reused key is a field problem of the item that reused it (the key itself is not echoed).
fn reused(item: usize) -> ApiError {
    ApiError::Invalid(ValidationErrors(vec![FieldError {
        field: format!("/{item}/{IDEMPOTENCY_KEY_FIELD}"),
        code: "reused",
        message: "this idempotency key was already used for a different record (or by an earlier item of this batch); use a new key for a new record",
    }]))
}

#[utoipa::path(post, path = "/v1/records:batch", tag = "records", request_body = Vec<hippo_proto::RecordWrite>,
    responses((status = 201, body = BatchCreated), (status = 400, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_batch(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BatchCreated>), ApiError> {
    let draft = caller.authorize(&s, Action::RecordCreate).await?;
    let max = s.config.batch_max_records;
    let parsed = async {
        let format = format(&headers)?;
        let bytes = read(body, s.config.batch_max_bytes).await?;
        let values = items(&bytes, format)?;
        if values.is_empty() {
            return Err(ApiError::BadParameter("the batch is empty".into()));
        }
        if values.len() > max {
            return Err(ApiError::BatchTooLarge { limit: max });
        }
        validate_all(values)
    }
    .await;
    let inputs = match parsed {
        Ok(i) => i,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let p = &caller.principal;
    let outcomes = match s
        .store
        .create_records(&p.tenant, inputs, &p.id, draft)
        .await
    {
        Ok(o) => o,
        Err(StoreError::IdempotencyKeyReused { item }) => return Err(reused(item)),
        Err(e) => return Err(e.into()),
    };
    let replayed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, BatchOutcome::Replayed(_)))
        .map(|(i, _)| i)
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(BatchCreated {
            count: outcomes.len(),
            created: outcomes.len() - replayed.len(),
            ids: outcomes.iter().map(|o| o.id().to_string()).collect(),
            replayed,
        }),
    ))
}
