//! What both store backends decide alike about records, written once: version and tombstone
//! rules, the integrity check on read, page assembly from an over-fetch, list filters as SQL
//! (in either placeholder style) and the audit description of a record. Pure: no I/O. Each
//! backend keeps only the mechanics of reading and writing rows.

use crate::sql::{overfetched_page, Placeholders, SqlArg, SqlQuery};
use crate::StoreError;
use hippo_core::{AuditDraft, Record, RecordFilter, RecordId, RecordInput};
use sha2::{Digest, Sha256};

/// A record version's row as stored, before any check: the body is the canonical text that was
/// hashed when it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    pub id: RecordId,
    pub record_type: String,
    pub subject: Option<String>,
    /// JSON array text.
    pub labels: String,
    /// Canonical JSON text of the body.
    pub body: String,
    pub version: i64,
    pub body_sha256: String,
    pub deleted: bool,
    pub created_at_ms: i64,
    pub created_by: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// A record version whose stored body no longer matches its hash (or no longer parses): it is
/// reported by id and version, never with its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityFailure {
    pub id: RecordId,
    pub version: i64,
}

impl From<IntegrityFailure> for StoreError {
    fn from(f: IntegrityFailure) -> Self {
        StoreError::IntegrityFailed {
            id: f.id,
            version: f.version,
        }
    }
}

impl StoredVersion {
    /// The integrity check on read (164.312(c)(1)): the stored text itself is hashed, so a
    /// version is checked against exactly the bytes that were hashed when it was written,
    /// whatever a JSON parser of this or an earlier release makes of its numbers.
    pub fn verify(self) -> Result<Record, IntegrityFailure> {
        let failure = IntegrityFailure {
            id: self.id,
            version: self.version,
        };
        let actual = hex::encode(Sha256::digest(self.body.as_bytes()));
        if actual != self.body_sha256 {
            report(failure);
            return Err(failure);
        }
        let parsed = serde_json::from_str(&self.body)
            .ok()
            .zip(self.labels().ok());
        let Some((body, labels)) = parsed else {
            report(failure);
            return Err(failure);
        };
        Ok(Record {
            id: self.id,
            record_type: self.record_type,
            subject: self.subject,
            labels,
            body,
            version: self.version,
            body_sha256: self.body_sha256,
            deleted: self.deleted,
            created_at_ms: self.created_at_ms,
            created_by: self.created_by,
            updated_at_ms: self.updated_at_ms,
            updated_by: self.updated_by,
        })
    }

    /// The labels (metadata, outside the body hash).
    pub fn labels(&self) -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&self.labels)
            .map_err(|_| StoreError::Corrupt("a stored record's labels are malformed".into()))
    }
}

/// An alert for operators: a record failed its integrity check. Ids only, never content.
fn report(f: IntegrityFailure) {
    tracing::error!(
        alert = true,
        record_id = %f.id,
        version = f.version,
        "record fails its integrity check; find every such record with `hippo records verify`"
    );
}

/// A record's current state as the records table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub version: i64,
    pub deleted: bool,
}

/// Whether a record at `head` may get a new version replacing `expected`: returns the current
/// version, or why not.
pub fn check_update(head: Option<Head>, id: RecordId, expected: i64) -> Result<i64, StoreError> {
    check_delete(head, id, Some(expected))
}

/// Whether a record at `head` may be deleted (if `expected` is given, only at that version):
/// returns the current version, or why not.
pub fn check_delete(
    head: Option<Head>,
    id: RecordId,
    expected: Option<i64>,
) -> Result<i64, StoreError> {
    let head = head.ok_or(StoreError::RecordNotFound(id))?;
    if head.deleted {
        return Err(StoreError::RecordDeleted(id));
    }
    if expected.is_some_and(|e| e != head.version) {
        return Err(StoreError::VersionConflict {
            current: head.version,
        });
    }
    Ok(head.version)
}

/// A record id read back from storage; one the store did not write is corruption.
pub fn stored_id(id: &str) -> Result<RecordId, StoreError> {
    id.parse()
        .map_err(|_| StoreError::Corrupt("a stored record id is malformed".into()))
}

/// A read of a record's current state: a tombstone means the record is deleted.
pub fn live(current: Record) -> Result<Record, StoreError> {
    if current.deleted {
        Err(StoreError::RecordDeleted(current.id))
    } else {
        Ok(current)
    }
}

/// A new version keeps the record's type.
pub fn check_same_type(prior: &StoredVersion, input: &RecordInput) -> Result<(), StoreError> {
    if prior.record_type == input.record_type {
        Ok(())
    } else {
        Err(StoreError::TypeChange)
    }
}

/// The tombstone a delete writes: the prior version's type, subject and labels, an empty body.
/// It reads only the prior version's metadata, so a version whose body fails its integrity
/// check can still be deleted (or replaced by an update).
pub fn tombstone(prior: &StoredVersion) -> Result<RecordInput, StoreError> {
    Ok(RecordInput {
        record_type: prior.record_type.clone(),
        subject: prior.subject.clone(),
        labels: prior.labels()?,
        body: serde_json::Map::new(),
    })
}

/// The record a write of version `version` returns, created when `prior` was (or now, for
/// version 1).
pub fn written(
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    prior: Option<&StoredVersion>,
    now: i64,
    actor: &str,
) -> Record {
    let created = prior.map_or((now, actor), |p| (p.created_at_ms, p.created_by.as_str()));
    Record::from_input(id, version, input, deleted, created, (now, actor))
}

/// The body of `input` as stored: its canonical text and that text's SHA-256 (hex).
pub fn stored_body(input: &RecordInput) -> (String, String) {
    let body = serde_json::Value::Object(input.body.clone());
    let text =
        String::from_utf8(hippo_core::canonical::to_canonical_bytes(&body)).expect("JSON is UTF-8");
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    (text, sha)
}

/// The labels of `input` as stored (a JSON array).
pub fn stored_labels(input: &RecordInput) -> String {
    serde_json::to_string(&input.labels).expect("labels serialise")
}

/// One page of a record list: the records that passed their integrity check, the ones that did
/// not (by id and version only), and the cursor after the page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordPage {
    pub items: Vec<Record>,
    pub unreadable: Vec<IntegrityFailure>,
    pub next_cursor: Option<String>,
}

/// Builds a page from rows fetched with `LIMIT limit + 1`: the extra row only says that
/// another page exists. A version failing its integrity check is reported, not returned, and
/// does not make the rest of the page unavailable.
pub fn record_page(rows: Vec<StoredVersion>, limit: usize) -> RecordPage {
    let page = overfetched_page(rows, limit, |r| r.id.to_string());
    let mut out = RecordPage {
        next_cursor: page.next_cursor,
        ..RecordPage::default()
    };
    for row in page.items {
        match row.verify() {
            Ok(r) => out.items.push(r),
            Err(f) => out.unreadable.push(f),
        }
    }
    out
}

/// One page of an integrity scan: `records` records (the last being `last`) whose versions are
/// `rows`; the scan continues after `last` if the page was full.
pub fn scan(
    records: usize,
    last: RecordId,
    rows: Vec<StoredVersion>,
    limit: usize,
) -> crate::store::IntegrityScan {
    let versions_checked = rows.len();
    let failures = rows.into_iter().filter_map(|r| r.verify().err()).collect();
    crate::store::IntegrityScan {
        records_checked: records,
        versions_checked,
        failures,
        next: (records >= limit).then_some(last),
    }
}

/// What the audit event of an operation on `r` says about it.
pub fn describe_record(a: &mut AuditDraft, r: &Record) {
    a.resource_id = Some(r.id.to_string());
    a.subject_id = r.subject.clone();
    a.detail("version", r.version);
}

/// What the audit event of a history read says: whose record it is and how many versions.
// `&Vec`, not a slice: this is the describe callback of a call whose result is a `Vec<Record>`.
#[allow(clippy::ptr_arg)]
pub fn describe_history(a: &mut AuditDraft, versions: &Vec<Record>) {
    a.subject_id = versions.last().and_then(|r| r.subject.clone());
    a.detail("versions", versions.len());
}

/// What the audit event of a list says: how many records were returned, and which failed
/// their integrity check (ids are not PHI).
pub fn describe_page(a: &mut AuditDraft, page: &RecordPage) {
    a.detail("count", page.items.len());
    if !page.unreadable.is_empty() {
        let failed: Vec<String> = page
            .unreadable
            .iter()
            .map(|f| format!("{}@{}", f.id, f.version))
            .collect();
        a.detail("integrity_failures", failed);
    }
}

/// What the audit event of an integrity scan says: how much was checked, and what failed.
pub fn describe_scan(a: &mut AuditDraft, scan: &crate::store::IntegrityScan) {
    a.detail("records", scan.records_checked);
    a.detail("versions", scan.versions_checked);
    a.detail("integrity_failures", scan.failures.len());
}

/// The list query: current versions matching `f`, after `after`, in id order, over-fetching
/// one row (see [`record_page`]). `base` selects from `records r` joined with their versions
/// `v` and may already bind parameters (`bound`).
pub fn list_query(
    base: &str,
    style: Placeholders,
    bound: Vec<SqlArg>,
    f: &RecordFilter,
    after: Option<RecordId>,
    limit: usize,
) -> SqlQuery {
    let mut q = SqlQuery::new(base, style, bound);
    q.raw(" AND v.version = r.version")
        .push_opt(
            " AND r.record_type = {}",
            f.record_type.clone().map(SqlArg::Text),
        )
        .push_opt(" AND r.subject = {}", f.subject.clone().map(SqlArg::Text))
        .push_opt(
            " AND r.updated_at_ms >= {}",
            f.updated_since_ms.map(SqlArg::Int),
        )
        .push_opt(" AND r.id > {}", after.map(|a| SqlArg::Text(a.to_string())));
    if !f.include_deleted {
        q.raw(" AND NOT r.deleted");
    }
    q.push(" ORDER BY r.id LIMIT {}", SqlArg::Int(limit as i64 + 1));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(body: &str) -> StoredVersion {
        StoredVersion {
            id: RecordId::new(),
            record_type: "Patient".into(),
            subject: Some("p-1".into()),
            labels: "[\"a\"]".into(),
            body: body.into(),
            version: 2,
            body_sha256: hex::encode(Sha256::digest(body.as_bytes())),
            deleted: false,
            created_at_ms: 1,
            created_by: "k1".into(),
            updated_at_ms: 2,
            updated_by: "k2".into(),
        }
    }

    #[test]
    fn verify_hashes_the_stored_text_itself() {
        let ok = stored(r#"{"x":3.1282051591932688e+60}"#);
        let r = ok.clone().verify().unwrap();
        assert_eq!(r.labels, vec!["a".to_owned()]);
        let mut bad = ok;
        bad.body = r#"{"x":3.1282051591932687e+60}"#.into();
        let f = bad.clone().verify().unwrap_err();
        assert_eq!((f.id, f.version), (bad.id, 2));
        // A hash that matches but a body that does not parse is a failure too.
        assert!(stored("{not json").verify().is_err());
    }

    #[test]
    fn stored_body_matches_what_verify_checks() {
        let input = RecordInput {
            record_type: "Patient".into(),
            subject: None,
            labels: vec![],
            body: json!({"b": [1, 2.5], "a": "x"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let (text, sha) = stored_body(&input);
        assert_eq!(text, r#"{"a":"x","b":[1,2.5]}"#);
        let mut s = stored(&text);
        assert_eq!(s.body_sha256, sha);
        s.labels = stored_labels(&input);
        assert_eq!(s.verify().unwrap().body, input.body);
    }

    #[test]
    fn version_rules() {
        let id = RecordId::new();
        let live = Some(Head {
            version: 3,
            deleted: false,
        });
        let gone = Some(Head {
            version: 4,
            deleted: true,
        });
        assert_eq!(check_update(live, id, 3).unwrap(), 3);
        assert!(matches!(
            check_update(live, id, 2),
            Err(StoreError::VersionConflict { current: 3 })
        ));
        assert!(matches!(
            check_update(None, id, 1),
            Err(StoreError::RecordNotFound(_))
        ));
        assert!(matches!(
            check_update(gone, id, 4),
            Err(StoreError::RecordDeleted(_))
        ));
        assert_eq!(check_delete(live, id, None).unwrap(), 3);
        assert!(matches!(
            check_delete(gone, id, None),
            Err(StoreError::RecordDeleted(_))
        ));
    }

    #[test]
    fn a_corrupt_row_does_not_take_the_page_down() {
        let good = stored(r#"{"a":1}"#);
        let mut bad = stored(r#"{"a":2}"#);
        bad.body = r#"{"a":3}"#.into();
        let extra = stored(r#"{"a":4}"#);
        let page = record_page(vec![good.clone(), bad.clone(), extra], 2);
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, good.id);
        assert_eq!(
            page.unreadable,
            vec![IntegrityFailure {
                id: bad.id,
                version: 2
            }]
        );
        // The cursor continues after the last row of the page, readable or not.
        assert_eq!(
            page.next_cursor,
            Some(hippo_core::cursor::encode(&bad.id.to_string()))
        );
        let last = record_page(vec![good], 2);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn list_query_in_both_placeholder_styles() {
        let f = RecordFilter {
            record_type: Some("Patient".into()),
            updated_since_ms: Some(5),
            ..RecordFilter::default()
        };
        let q = list_query(
            "SELECT 1 WHERE x",
            Placeholders::Question,
            vec![],
            &f,
            None,
            10,
        );
        assert_eq!(
            q.sql,
            "SELECT 1 WHERE x AND v.version = r.version AND r.record_type = ? AND r.updated_at_ms >= ? AND NOT r.deleted ORDER BY r.id LIMIT ?"
        );
        assert_eq!(
            q.args,
            vec![
                SqlArg::Text("Patient".into()),
                SqlArg::Int(5),
                SqlArg::Int(11)
            ]
        );
        let q = list_query(
            "SELECT 1 WHERE r.tenant_id = $1",
            Placeholders::Numbered,
            vec![SqlArg::Text("t".into())],
            &f,
            None,
            10,
        );
        assert!(q.sql.ends_with(
            "r.record_type = $2 AND r.updated_at_ms >= $3 AND NOT r.deleted ORDER BY r.id LIMIT $4"
        ));
        assert_eq!(q.args.len(), 4);
    }
}
