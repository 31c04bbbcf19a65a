//! Wire types of the documents API (`/v1/records/{id}/documents`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One version of a document attached to a record (metadata only; the content is the body of
/// `GET /v1/records/{id}/documents/{doc}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DocumentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    #[schema(value_type = String, format = Uuid)]
    pub record_id: String,
    pub version: u32,
    /// Bytes of content.
    pub size: u64,
    /// Hex SHA-256 of the content, computed while it was uploaded.
    pub sha256: String,
    pub content_type: String,
    /// RFC 3339.
    pub created_at: String,
    pub created_by: String,
    /// True for the tombstone version written by a delete.
    pub deleted: bool,
}

/// A record's live documents (the newest version of each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DocumentList {
    pub items: Vec<DocumentView>,
}
