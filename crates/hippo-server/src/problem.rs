//! The one mapping from errors to RFC 9457 `application/problem+json` responses.
//!
//! Every `type` is a stable URN clients can branch on. `detail` names fields, limits and ids,
//! never submitted values, so a response (and any log of it) carries no PHI.

use crate::middleware::current_request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hippo_core::strict_json::StrictJsonError;
use hippo_core::validate::ValidationErrors;
use hippo_proto::{FieldProblem, Problem, PROBLEM_JSON};
use hippo_store::StoreError;

// Shared with the HTTP/1.1 layer's own refusals (`h1_errors.rs`), so a client sees one `type`
// for an oversized request whichever layer caught it.
pub(crate) const URI_TOO_LONG_SLUG: &str = "uri-too-long";
pub(crate) const URI_TOO_LONG_TITLE: &str = "URI too long";
pub(crate) const HEADERS_TOO_LARGE_SLUG: &str = "headers-too-large";
pub(crate) const HEADERS_TOO_LARGE_TITLE: &str = "Request headers too large";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON (line {line}, column {column})")]
    MalformedJson { line: usize, column: usize },
    #[error("the key at {pointer} appears more than once in its object; send each key once")]
    DuplicateKey { pointer: String },
    #[error("the number at {pointer} cannot be stored exactly; send integers within 64 bits and other numbers as the shortest decimal of an IEEE 754 double (at most 17 significant digits, magnitude from 2.2e-308 to 1.8e308)")]
    InexactNumber { pointer: String },
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("the request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("a batch holds at most {limit} records (batch_max_records); split it")]
    BatchTooLarge { limit: usize },
    #[error("the request target (path and query) exceeds the limit of {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the request header section exceeds the limit of {limit} bytes (each field counts its name, value and 32)")]
    HeadersTooLarge { limit: usize },
    #[error("the request has more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("the record envelope is invalid")]
    Invalid(ValidationErrors),
    #[error("{0}")]
    BadParameter(String),
    #[error("the search query is malformed: {0}")]
    InvalidQuery(hippo_search::QueryError),
    #[error("'{0}' is not a valid record id; record ids are UUIDs")]
    MalformedId(&'static str),
    #[error("{0}")]
    MissingCredentials(&'static str),
    #[error("the credentials are invalid, expired or revoked")]
    BadCredentials,
    #[error("denied by rule '{rule}': {reason}")]
    Denied { rule: String, reason: String },
    #[error("the username, password or code is wrong, or the account cannot sign in")]
    SignInFailed,
    #[error("too many failed sign-ins; retry after {retry_after_secs} second(s)")]
    SignInLocked { retry_after_secs: u64 },
    #[error("the session has ended ({0}); sign in again")]
    SessionEnded(&'static str),
    #[error("{0}")]
    SignInStep(&'static str),
    #[error("state-changing requests made with the session cookie must carry the X-CSRF-Token header returned at sign-in")]
    CsrfFailed,
    #[error("{0}")]
    WeakPassword(String),
    #[error("{message}")]
    BadToken { slug: &'static str, message: String },
    #[error("{message}")]
    Passkey { slug: &'static str, message: String },
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the record has been deleted; its history is still available")]
    Gone,
    #[error(
        "the record is at version {current}; fetch it again and retry with If-Match: \"{current}\""
    )]
    StaleVersion { current: i64 },
    #[error(
        "updates require an If-Match header holding the version you read, e.g. If-Match: \"3\""
    )]
    PreconditionRequired,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("too many requests; retry after {retry_after_secs} second(s)")]
    RateLimited { retry_after_secs: u64 },
    #[error("the request could not be recorded in the audit log, so it was not performed")]
    AuditUnavailable,
    #[error("the store is unavailable; retry later")]
    Unavailable,
    #[error("an internal error occurred; quote the request id to your administrator")]
    Internal,
    #[error("record {id} version {version} fails its integrity check, so its content is withheld; an administrator can list every such record with `hippo records verify`, and writing a new version (PUT) replaces it")]
    IntegrityFailed {
        id: hippo_core::RecordId,
        version: i64,
    },
    /// A document operation's failure (see `crate::routes::documents`).
    #[error("{}", crate::routes::documents::public_detail(.0))]
    Document(hippo_docs::DocError),
    #[error("the range is outside the document's {size} bytes")]
    RangeNotSatisfiable { size: u64 },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MalformedJson { .. }
            | DuplicateKey { .. }
            | InexactNumber { .. }
            | Invalid(_)
            | BadParameter(_)
            | InvalidQuery(_)
            | MalformedId(_) => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge { .. } | BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            HeadersTooLarge { .. } | TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            MissingCredentials(_)
            | BadCredentials
            | SignInFailed
            | SessionEnded(_)
            | SignInStep(_)
            | BadToken { .. }
            | Passkey { .. } => StatusCode::UNAUTHORIZED,
            Denied { .. } | CsrfFailed => StatusCode::FORBIDDEN,
            SignInLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            WeakPassword(_) => StatusCode::BAD_REQUEST,
            NotFound(_) => StatusCode::NOT_FOUND,
            Gone => StatusCode::GONE,
            StaleVersion { .. } => StatusCode::PRECONDITION_FAILED,
            PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Conflict(_) => StatusCode::CONFLICT,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuditUnavailable | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal | IntegrityFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Document(e) => crate::routes::documents::status(e),
            RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        }
    }

    /// The stable problem slug (the last part of `type`), also used as the audit reason.
    pub fn slug(&self) -> &'static str {
        use ApiError::*;
        match self {
            MalformedJson { .. } => "malformed-json",
            DuplicateKey { .. } => "duplicate-key",
            InexactNumber { .. } => "inexact-number",
            UnsupportedMediaType => "unsupported-media-type",
            PayloadTooLarge { .. } => "payload-too-large",
            BatchTooLarge { .. } => "batch-too-large",
            UriTooLong { .. } => URI_TOO_LONG_SLUG,
            HeadersTooLarge { .. } | TooManyHeaders { .. } => HEADERS_TOO_LARGE_SLUG,
            Invalid(_) => "invalid-envelope",
            BadParameter(_) => "invalid-parameter",
            InvalidQuery(_) => "invalid-query",
            MalformedId(_) => "malformed-id",
            MissingCredentials(_) => "missing-credentials",
            BadCredentials => "bad-credentials",
            Denied { .. } => "forbidden",
            SignInFailed => "sign-in-failed",
            SignInLocked { .. } => "sign-in-locked",
            SessionEnded(_) => "session-ended",
            SignInStep(_) => "sign-in-step",
            CsrfFailed => "csrf-failed",
            WeakPassword(_) => "weak-password",
            BadToken { slug, .. } | Passkey { slug, .. } => slug,
            NotFound(_) => "not-found",
            Gone => "deleted",
            StaleVersion { .. } => "stale-version",
            PreconditionRequired => "precondition-required",
            Conflict(_) => "conflict",
            RateLimited { .. } => "rate-limited",
            AuditUnavailable => "audit-unavailable",
            Unavailable => "unavailable",
            Internal => "internal",
            IntegrityFailed { .. } => "integrity-failed",
            Document(e) => crate::routes::documents::slug(e),
            RangeNotSatisfiable { .. } => "range-not-satisfiable",
        }
    }

    fn title(&self) -> &'static str {
        use ApiError::*;
        match self {
            MalformedJson { .. } => "Malformed JSON",
            DuplicateKey { .. } => "Duplicate key",
            InexactNumber { .. } => "Number cannot be stored exactly",
            UnsupportedMediaType => "Unsupported media type",
            PayloadTooLarge { .. } => "Payload too large",
            BatchTooLarge { .. } => "Batch too large",
            UriTooLong { .. } => URI_TOO_LONG_TITLE,
            HeadersTooLarge { .. } | TooManyHeaders { .. } => HEADERS_TOO_LARGE_TITLE,
            Invalid(_) => "Invalid record envelope",
            BadParameter(_) => "Invalid parameter",
            InvalidQuery(_) => "Invalid search query",
            MalformedId(_) => "Malformed id",
            MissingCredentials(_) => "Missing credentials",
            BadCredentials => "Bad credentials",
            Denied { .. } => "Forbidden",
            SignInFailed => "Sign-in failed",
            SignInLocked { .. } => "Sign-in locked",
            SessionEnded(_) => "Session ended",
            SignInStep(_) => "Sign-in step out of order",
            CsrfFailed => "CSRF token missing or wrong",
            WeakPassword(_) => "Password refused",
            BadToken { .. } => "Bearer token refused",
            Passkey { .. } => "Passkey ceremony failed",
            NotFound(_) => "Not found",
            Gone => "Record deleted",
            StaleVersion { .. } => "Stale version",
            PreconditionRequired => "Precondition required",
            Conflict(_) => "Conflict",
            RateLimited { .. } => "Too many requests",
            AuditUnavailable => "Audit unavailable",
            Unavailable => "Service unavailable",
            Internal => "Internal error",
            IntegrityFailed { .. } => "Record fails its integrity check",
            Document(e) => crate::routes::documents::title(e),
            RangeNotSatisfiable { .. } => "Range not satisfiable",
        }
    }

    pub fn to_problem(&self) -> Problem {
        let request_id = current_request_id();
        let errors = match self {
            ApiError::Invalid(v) => {
                v.0.iter()
                    .map(|f| FieldProblem {
                        field: f.field.clone(),
                        code: f.code.into(),
                        message: f.message.into(),
                    })
                    .collect()
            }
            // The pointer names keys and indices only (see hippo_core::strict_json), never values.
            ApiError::DuplicateKey { pointer } => vec![FieldProblem {
                field: pointer.clone(),
                code: "duplicate_key".into(),
                message: "this key appears more than once in its object".into(),
            }],
            ApiError::InexactNumber { pointer } => vec![FieldProblem {
                field: pointer.clone(),
                code: "inexact_number".into(),
                message: "this number has more precision or range than can be stored exactly"
                    .into(),
            }],
            // The position and the reason; never the query, which may hold a name.
            ApiError::InvalidQuery(e) => vec![FieldProblem {
                field: "q".into(),
                code: format!("position_{}", e.position),
                message: e.message.clone(),
            }],
            _ => Vec::new(),
        };
        Problem {
            problem_type: format!("urn:hippo:problem:{}", self.slug()),
            title: self.title().into(),
            status: self.status().as_u16(),
            detail: Some(self.to_string()),
            instance: request_id
                .as_ref()
                .map(|r| format!("urn:hippo:request:{r}")),
            request_id,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.to_problem()).expect("problem serialises");
        let mut resp = (self.status(), body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::MissingCredentials(_)
            | ApiError::BadCredentials
            | ApiError::SessionEnded(_)
            | ApiError::BadToken { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"hippo\""),
                );
            }
            ApiError::RangeNotSatisfiable { size } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            ApiError::RateLimited { retry_after_secs }
            | ApiError::SignInLocked { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}

impl From<StrictJsonError> for ApiError {
    fn from(e: StrictJsonError) -> Self {
        match e {
            StrictJsonError::Syntax { line, column } => ApiError::MalformedJson { line, column },
            StrictJsonError::DuplicateKey { pointer } => ApiError::DuplicateKey { pointer },
            StrictJsonError::UnrepresentableNumber { pointer } => {
                ApiError::InexactNumber { pointer }
            }
        }
    }
}

impl From<crate::limits::TooLarge> for ApiError {
    fn from(e: crate::limits::TooLarge) -> Self {
        use crate::limits::TooLarge;
        match e {
            TooLarge::Uri { limit } => ApiError::UriTooLong { limit },
            TooLarge::HeaderBytes { limit } => ApiError::HeadersTooLarge { limit },
            TooLarge::HeaderCount { limit } => ApiError::TooManyHeaders { limit },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Another tenant's record and a missing one look the same: tenants never learn of each other.
            StoreError::RecordNotFound(_) | StoreError::VersionNotFound { .. } => {
                ApiError::NotFound("record")
            }
            StoreError::ApiKeyNotFound(_) => ApiError::NotFound("API key"),
            StoreError::UserNotFound(_) => ApiError::NotFound("user"),
            StoreError::UserExists => {
                ApiError::Conflict("a user with that name already exists; choose another name")
            }
            StoreError::FactorState(why) => ApiError::Conflict(why),
            StoreError::TenantNotFound(_) => ApiError::NotFound("tenant"),
            StoreError::RecordDeleted(_) => ApiError::Gone,
            StoreError::VersionConflict { current } => ApiError::StaleVersion { current },
            StoreError::TypeChange => {
                ApiError::Conflict("a record's type cannot change; create a new record instead")
            }
            StoreError::TenantExists(_) => ApiError::Conflict("the tenant already exists"),
            // The store has already raised the alert (ids only).
            StoreError::IntegrityFailed { id, version } => {
                ApiError::IntegrityFailed { id, version }
            }
            StoreError::AuditFailed(msg) => {
                tracing::error!(error = %msg, "audit write failed; request refused");
                ApiError::AuditUnavailable
            }
            StoreError::Unavailable(msg) => {
                tracing::error!(error = %msg, "store unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, kind = other.reason(), "store error");
                ApiError::Internal
            }
        }
    }
}
