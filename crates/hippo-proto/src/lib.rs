//! Hippo's wire types: the JSON bodies of the HTTP API, shared by the server, the CLI and tests.

pub mod documents;
pub mod ops;
pub mod people;
pub use documents::*;
pub use people::*;

use hippo_core::time_fmt::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error response (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A record envelope sent to create or replace a record. The constraints are those of
/// `hippo_core::validate` (which reports every violation as a 400 problem); no other fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWrite {
    /// Record type, e.g. `Patient`, `Observation`, `ClinicalNote`.
    #[serde(rename = "type")]
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
    pub record_type: String,
    /// The person the PHI is about (e.g. a patient id): 1-128 bytes of UTF-8, no control characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub subject: Option<String>,
    /// Up to 32 labels, each 1-64 characters of `a-z`, `0-9`, `_ - . : /`; sorted and
    /// de-duplicated on write.
    #[serde(default)]
    #[schema(max_items = 32, value_type = Vec<Label>)]
    pub labels: Vec<String>,
    /// Any JSON object (the PHI), up to the configured size. Numbers must be exactly
    /// representable: integers within 64 bits, others as a double's shortest decimal.
    #[schema(value_type = Object)]
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// A record label: 1-64 characters of `a-z`, `0-9`, `_ - . : /`.
/// Documents the label format in the OpenAPI schema only (labels travel as plain strings);
/// utoipa's derive cannot put a pattern on a newtype, hence the hand-written schema.
pub struct Label;

impl utoipa::PartialSchema for Label {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9_.:/-]{1,64}$"))
            .into()
    }
}

impl ToSchema for Label {}

/// One version of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub subject: Option<String>,
    pub labels: Vec<String>,
    #[schema(value_type = Object)]
    pub body: serde_json::Map<String, serde_json::Value>,
    pub version: i64,
    /// Hex SHA-256 of the canonical JSON of `body` (integrity, 164.312(c)).
    pub body_sha256: String,
    pub deleted: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl From<hippo_core::Record> for RecordView {
    fn from(r: hippo_core::Record) -> Self {
        Self {
            id: r.id.to_string(),
            record_type: r.record_type,
            subject: r.subject,
            labels: r.labels,
            body: r.body,
            version: r.version,
            body_sha256: r.body_sha256,
            deleted: r.deleted,
            created_at: rfc3339(r.created_at_ms),
            created_by: r.created_by,
            updated_at: rfc3339(r.updated_at_ms),
            updated_by: r.updated_by,
        }
    }
}

/// A page of records; pass `next_cursor` as `cursor` to get the next page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    pub items: Vec<RecordView>,
    /// Records of this page that fail their integrity check: listed by id and version only,
    /// their content withheld, so one damaged record never hides the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableRecord>,
    pub next_cursor: Option<String>,
}

/// A record version whose stored body no longer matches its integrity hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnreadableRecord {
    pub id: String,
    pub version: i64,
    /// Always `integrity_failed`.
    pub problem: String,
}

/// Every version of a record, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordHistory {
    pub id: String,
    pub versions: Vec<RecordView>,
}

/// Request to create an API key in the caller's tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// One of `admin`, `writer`, `reader`, `auditor`.
    #[schema(pattern = "^(admin|writer|reader|auditor)$")]
    pub role: String,
    /// A label for people: what the key is for (at most 100 bytes, no control characters).
    #[serde(default)]
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub name: Option<String>,
    /// Seconds until the key expires; unset: it never expires.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// An API key's public description (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    pub key_id: String,
    pub principal_id: String,
    pub tenant: String,
    pub role: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
    pub revoked_at: Option<String>,
    /// When the key stops working, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it last authenticated a request (to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// The key that replaced it in a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// A newly created key: `token` is shown this once and never again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    pub token: String,
    #[serde(flatten)]
    pub key: ApiKeyView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub time: String,
    pub tenant: Option<String>,
    pub actor_id: String,
    pub actor_kind: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub subject_id: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub source_addr: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<hippo_core::AuditEvent> for AuditEventView {
    fn from(e: hippo_core::AuditEvent) -> Self {
        Self {
            seq: e.seq,
            time: rfc3339(e.time_ms),
            tenant: e.tenant,
            actor_id: e.actor_id,
            actor_kind: e.actor_kind.as_str().to_owned(),
            action: e.action.as_str().to_owned(),
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            subject_id: e.subject_id,
            outcome: e.outcome.as_str().to_owned(),
            request_id: e.request_id,
            source_addr: e.source_addr,
            user_agent: e.user_agent,
            details: e.details,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    pub next_cursor: Option<String>,
}

/// An RFC 9457 problem. `type` is stable: clients branch on it, never on `detail`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field-level problems for invalid input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    pub checks: Vec<ReadinessCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadinessCheck {
    pub name: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub name: String,
    pub version: String,
    pub store: String,
}

/// One search result: the record (after minimum-necessary redaction) and its relevance score
/// (higher is better; comparable within one result list only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub score: f64,
    pub record: RecordView,
    /// With `snippet=true`: the passage of the record (as the caller may see it) that shows
    /// the most of the query's words, in pieces, the matched words marked `highlight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<Vec<SnippetFragment>>,
}

/// A piece of a search snippet: plain text, or a word the query matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnippetFragment {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub highlight: bool,
}

/// A page of search results, best first; pass `next_cursor` as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableRecord>,
    pub next_cursor: Option<String>,
}

/// A batch written: every record of it, in the order sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchCreated {
    /// Items in the batch (created and replayed).
    pub count: usize,
    /// The record of each item, in the order sent; for a replayed item, the record its
    /// idempotency key first created.
    pub ids: Vec<String>,
    /// Items written as new records by this request.
    #[serde(default)]
    pub created: usize,
    /// Indexes (from 0) of the items whose `idempotency_key` had already been used for the same
    /// record: nothing was written for them.
    #[serde(default)]
    pub replayed: Vec<usize>,
}

/// The envelope field of a batch item naming its idempotency key: 1 to
/// [`IDEMPOTENCY_KEY_MAX`] visible ASCII characters, unique per tenant. Sending an item again
/// with the same key and the same record is a replay (nothing is written; the first record's id
/// is returned); with a different record it refuses the batch.
pub const IDEMPOTENCY_KEY_FIELD: &str = "idempotency_key";

/// Longest idempotency key accepted, in characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 128;
