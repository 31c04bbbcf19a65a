//! Records and their immutable versions in a tenant's SQLite database.

use super::backup::Noted;
use crate::idempotency::StoredKey;
use crate::record_rules::{self as rules, Head, RecordPage, StoredVersion};
use crate::sql::{Placeholders, SqlArg};
use crate::store::IntegrityScan;
use crate::StoreError;
use hippo_core::{Record, RecordFilter, RecordId, RecordInput};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT_VERSION: &str =
    "SELECT v.record_id, v.record_type, v.subject, v.labels, v.body, v.version,
        v.body_sha256, v.deleted, r.created_at_ms, r.created_by, v.written_at_ms, v.written_by
     FROM record_versions v JOIN records r ON r.id = v.record_id";

/// The current state of a record, if it exists.
fn head(conn: &Connection, id: RecordId) -> Result<Option<Head>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version, deleted FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok(Head {
                version: r.get(0)?,
                deleted: r.get::<_, i64>(1)? != 0,
            })
        })
        .optional()?)
}

/// Inserts version 1 of a new record.
pub fn create(conn: &Connection, input: &RecordInput, actor: &str) -> Result<Record, StoreError> {
    let id = RecordId::new();
    let now = hippo_core::time_fmt::now_millis();
    conn.prepare_cached(
        "INSERT INTO records (id, record_type, subject, version, deleted, created_at_ms, created_by, updated_at_ms, updated_by)
         VALUES (?1, ?2, ?3, 1, 0, ?4, ?5, ?4, ?5)",
    )?
    .execute(params![id.to_string(), input.record_type, input.subject, now, actor])?;
    insert_version(conn, id, 1, input, false, now, actor)?;
    Ok(rules::written(id, 1, input, false, None, now, actor))
}

/// The request hash and record id stored under an idempotency key's hash, if any.
pub fn stored_key(
    conn: &Connection,
    key_hash: &str,
) -> Result<Option<(String, RecordId)>, StoreError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT request_hash, record_id FROM idempotency_keys WHERE key_hash = ?1")?
        .query_row([key_hash], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(request, id)| {
        let id = crate::record_rules::stored_id(&id)?;
        Ok((request, id))
    })
    .transpose()
}

/// Stores an idempotency key (as its hashes) for the record it just created.
pub fn store_key(conn: &Connection, key: &StoredKey, id: RecordId) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (key_hash, request_hash, record_id, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        key.key_hash,
        key.request_hash,
        id.to_string(),
        hippo_core::time_fmt::now_millis()
    ])?;
    super::backup::note(conn, Noted::Key, Some(&key.key_hash), None)
}

/// Writes version `expected + 1`, failing with a conflict if the record moved on.
pub fn update(
    conn: &Connection,
    id: RecordId,
    expected: i64,
    input: &RecordInput,
    actor: &str,
) -> Result<Record, StoreError> {
    let current = rules::check_update(head(conn, id)?, id, expected)?;
    let prior = stored_version(conn, id, current)?;
    rules::check_same_type(&prior, input)?;
    write_next(conn, id, current + 1, input, false, &prior, actor)
}

/// Writes a tombstone version; the history stays.
pub fn delete(
    conn: &Connection,
    id: RecordId,
    expected: Option<i64>,
    actor: &str,
) -> Result<Record, StoreError> {
    let current = rules::check_delete(head(conn, id)?, id, expected)?;
    let prior = stored_version(conn, id, current)?;
    let tombstone = rules::tombstone(&prior)?;
    write_next(conn, id, current + 1, &tombstone, true, &prior, actor)
}

fn write_next(
    conn: &Connection,
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    prior: &StoredVersion,
    actor: &str,
) -> Result<Record, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    conn.prepare_cached(
        "UPDATE records SET subject = ?2, version = ?3, deleted = ?4, updated_at_ms = ?5, updated_by = ?6 WHERE id = ?1",
    )?
    .execute(params![id.to_string(), input.subject, version, deleted, now, actor])?;
    insert_version(conn, id, version, input, deleted, now, actor)?;
    Ok(rules::written(
        id,
        version,
        input,
        deleted,
        Some(prior),
        now,
        actor,
    ))
}

fn insert_version(
    conn: &Connection,
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    now: i64,
    actor: &str,
) -> Result<(), StoreError> {
    let (body, sha) = rules::stored_body(input);
    let id_text = id.to_string();
    conn.prepare_cached(
        "INSERT INTO record_versions (record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id_text,
        version,
        input.record_type,
        input.subject,
        rules::stored_labels(input),
        body,
        sha,
        deleted,
        now,
        actor
    ])?;
    super::backup::note(conn, Noted::Version, Some(&id_text), Some(version))?;
    // The index changes in the same transaction: searchable as soon as the write is
    // acknowledged, and gone with the record.
    super::search::index(conn, id, input, deleted)
}

/// One stored version, unchecked (update and delete need only its metadata).
fn stored_version(
    conn: &Connection,
    id: RecordId,
    version: i64,
) -> Result<StoredVersion, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 AND v.version = ?2");
    conn.prepare_cached(&sql)?
        .query_row(params![id.to_string(), version], row_to_stored)
        .optional()?
        .ok_or(StoreError::VersionNotFound { id, version })
}

/// The current version of a record (including a tombstone).
pub fn get_current(conn: &Connection, id: RecordId) -> Result<Record, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 AND v.version = r.version");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], row_to_stored)
        .optional()?
        .ok_or(StoreError::RecordNotFound(id))?;
    Ok(row.verify()?)
}

/// One specific version of a record.
pub fn get_version(conn: &Connection, id: RecordId, version: i64) -> Result<Record, StoreError> {
    Ok(stored_version(conn, id, version)?.verify()?)
}

/// Every version of a record, oldest first.
pub fn history(conn: &Connection, id: RecordId) -> Result<Vec<Record>, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 ORDER BY v.version");
    let versions = conn
        .prepare_cached(&sql)?
        .query_map([id.to_string()], row_to_stored)?
        .collect::<Result<Vec<_>, _>>()?;
    if versions.is_empty() {
        return Err(StoreError::RecordNotFound(id));
    }
    Ok(versions
        .into_iter()
        .map(StoredVersion::verify)
        .collect::<Result<_, _>>()?)
}

/// A page of current records in id (= creation) order, so pages stay stable under updates.
pub fn list(
    conn: &Connection,
    f: &RecordFilter,
    after: Option<RecordId>,
    limit: usize,
) -> Result<RecordPage, StoreError> {
    let base = format!("{SELECT_VERSION} WHERE 1 = 1");
    let q = rules::list_query(&base, Placeholders::Question, vec![], f, after, limit);
    let rows = conn
        .prepare_cached(&q.sql)?
        .query_map(params_from(&q.args), row_to_stored)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rules::record_page(rows, limit))
}

/// Checks every version of up to `limit` records after `after`.
pub fn verify_all(
    conn: &Connection,
    after: Option<RecordId>,
    limit: usize,
) -> Result<IntegrityScan, StoreError> {
    let ids = ids_after(conn, after, limit)?;
    let Some(last) = ids.last() else {
        return Ok(IntegrityScan::default());
    };
    let sql = format!("{SELECT_VERSION} WHERE v.record_id > ?1 AND v.record_id <= ?2");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![after.map(|a| a.to_string()).unwrap_or_default(), last],
            row_to_stored,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let last = crate::record_rules::stored_id(last)?;
    Ok(rules::scan(ids.len(), last, rows, limit))
}

/// Every version of up to `limit` records after `after`, in id and version order, unchecked
/// (an export carries them as stored; the importer checks each).
pub fn versions_page(
    conn: &Connection,
    after: Option<RecordId>,
    limit: usize,
) -> Result<crate::tenant_archive::VersionPage, StoreError> {
    let ids = ids_after(conn, after, limit)?;
    let Some(last) = ids.last() else {
        return Ok(Default::default());
    };
    let sql = format!(
        "{SELECT_VERSION} WHERE v.record_id > ?1 AND v.record_id <= ?2 ORDER BY v.record_id, v.version"
    );
    let versions = conn
        .prepare_cached(&sql)?
        .query_map(
            params![after.map(|a| a.to_string()).unwrap_or_default(), last],
            row_to_stored,
        )?
        .map(|r| r.map(Into::into))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if ids.len() == limit {
        Some(crate::record_rules::stored_id(last)?)
    } else {
        None
    };
    Ok(crate::tenant_archive::VersionPage { versions, next })
}

/// Writes archived versions as they were (see [`crate::Store::import_versions`]).
pub fn import_versions(
    conn: &Connection,
    versions: &[crate::tenant_archive::ArchivedVersion],
) -> Result<usize, StoreError> {
    for v in versions {
        v.check()?;
        let id = v.id()?;
        if v.version == 1 {
            if head(conn, id)?.is_some() {
                return Err(StoreError::Corrupt(format!(
                    "record {id} is already in this tenant"
                )));
            }
            conn.prepare_cached(
                "INSERT INTO records (id, record_type, subject, version, deleted, created_at_ms, created_by, updated_at_ms, updated_by)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![v.record_id, v.record_type, v.subject, v.deleted, v.created_at_ms, v.created_by, v.written_at_ms, v.written_by])?;
        } else {
            let moved = conn
                .prepare_cached(
                    "UPDATE records SET subject = ?2, version = ?3, deleted = ?4, updated_at_ms = ?5, updated_by = ?6 WHERE id = ?1 AND version = ?3 - 1",
                )?
                .execute(params![v.record_id, v.subject, v.version, v.deleted, v.written_at_ms, v.written_by])?;
            if moved != 1 {
                return Err(StoreError::Corrupt(format!(
                    "record {id} version {} does not follow its previous version",
                    v.version
                )));
            }
        }
        conn.prepare_cached(
            "INSERT INTO record_versions (record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![v.record_id, v.version, v.record_type, v.subject, v.labels, v.body, v.body_sha256, v.deleted, v.written_at_ms, v.written_by])?;
        super::backup::note(conn, Noted::Version, Some(&v.record_id), Some(v.version))?;
        super::search::index(conn, id, &v.input()?, v.deleted)?;
    }
    Ok(versions.len())
}

/// Up to `limit` record ids after `after`, in id order: the pages of an operator's scan.
pub(super) fn ids_after(
    conn: &Connection,
    after: Option<RecordId>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM records WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(
            params![
                after.map(|a| a.to_string()).unwrap_or_default(),
                limit as i64
            ],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?)
}

/// Binds a built query's parameters.
pub(super) fn params_from(args: &[SqlArg]) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(args.iter().map(|a| match a {
        SqlArg::Text(t) => SqlValue::Text(t.clone()),
        SqlArg::Int(i) => SqlValue::Integer(*i),
    }))
}

fn row_to_stored(r: &Row<'_>) -> rusqlite::Result<StoredVersion> {
    let id: String = r.get(0)?;
    Ok(StoredVersion {
        id: id.parse().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                "malformed stored record id".into(),
            )
        })?,
        record_type: r.get(1)?,
        subject: r.get(2)?,
        labels: r.get(3)?,
        body: r.get(4)?,
        version: r.get(5)?,
        body_sha256: r.get(6)?,
        deleted: r.get::<_, i64>(7)? != 0,
        created_at_ms: r.get(8)?,
        created_by: r.get(9)?,
        updated_at_ms: r.get(10)?,
        updated_by: r.get(11)?,
    })
}
