//! Records: versioned JSON documents holding PHI, and the input a client sends to write one.

use crate::ids::RecordId;
use serde::{Deserialize, Serialize};

/// A record type such as `Patient`, `Observation` or `ClinicalNote` (validated by [`crate::validate`]).
pub type RecordType = String;

/// What a client supplies when creating or replacing a record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInput {
    pub record_type: RecordType,
    /// The person the PHI is about (e.g. a patient id), if any.
    pub subject: Option<String>,
    pub labels: Vec<String>,
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// One immutable version of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub record_type: RecordType,
    pub subject: Option<String>,
    pub labels: Vec<String>,
    pub body: serde_json::Map<String, serde_json::Value>,
    pub version: i64,
    /// Hex SHA-256 of the canonical body (see [`crate::canonical`]).
    pub body_sha256: String,
    /// True for the tombstone version written by a delete.
    pub deleted: bool,
    pub created_at_ms: i64,
    pub created_by: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

impl Record {
    /// The version `version` of record `id` as written from `input`: `created` and `updated`
    /// are (time in ms, principal id). Both stores build the record they return this way.
    pub fn from_input(
        id: RecordId,
        version: i64,
        input: &RecordInput,
        deleted: bool,
        created: (i64, &str),
        updated: (i64, &str),
    ) -> Self {
        let body = serde_json::Value::Object(input.body.clone());
        Record {
            id,
            record_type: input.record_type.clone(),
            subject: input.subject.clone(),
            labels: input.labels.clone(),
            body_sha256: crate::canonical::sha256_hex(&body),
            body: input.body.clone(),
            version,
            deleted,
            created_at_ms: created.0,
            created_by: created.1.to_owned(),
            updated_at_ms: updated.0,
            updated_by: updated.1.to_owned(),
        }
    }

    /// Checks the stored body against its stored hash (integrity, 164.312(c)(1)).
    pub fn body_intact(&self) -> bool {
        crate::canonical::sha256_hex(&serde_json::Value::Object(self.body.clone()))
            == self.body_sha256
    }
}

/// A page of results and the cursor to continue after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Filters for listing records. Values here are PHI-adjacent: never log them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordFilter {
    pub record_type: Option<String>,
    pub subject: Option<String>,
    pub updated_since_ms: Option<i64>,
    pub include_deleted: bool,
}
