//! Records and their immutable versions in a tenant's SQLite database.

use crate::StoreError;
use hippo_core::canonical;
use hippo_core::{Page, Record, RecordFilter, RecordId, RecordInput};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT_VERSION: &str =
    "SELECT v.record_id, v.record_type, v.subject, v.labels, v.body, v.version,
        v.body_sha256, v.deleted, r.created_at_ms, r.created_by, v.written_at_ms, v.written_by
     FROM record_versions v JOIN records r ON r.id = v.record_id";

/// The current state of a record (`version`, `deleted`), if it exists.
fn head(conn: &Connection, id: RecordId) -> Result<Option<(i64, bool)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version, deleted FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0))
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
    Ok(Record::from_input(
        id,
        1,
        input,
        false,
        (now, actor),
        (now, actor),
    ))
}

/// Writes version `expected + 1`, failing with a conflict if the record moved on.
pub fn update(
    conn: &Connection,
    id: RecordId,
    expected: i64,
    input: &RecordInput,
    actor: &str,
) -> Result<Record, StoreError> {
    let (current, deleted) = head(conn, id)?.ok_or(StoreError::RecordNotFound(id))?;
    if deleted {
        return Err(StoreError::RecordDeleted(id));
    }
    if current != expected {
        return Err(StoreError::VersionConflict { current });
    }
    let prior = get_version(conn, id, current)?;
    if prior.record_type != input.record_type {
        return Err(StoreError::TypeChange);
    }
    write_next(conn, id, current + 1, input, false, &prior, actor)
}

/// Writes a tombstone version; the history stays.
pub fn delete(
    conn: &Connection,
    id: RecordId,
    expected: Option<i64>,
    actor: &str,
) -> Result<Record, StoreError> {
    let (current, deleted) = head(conn, id)?.ok_or(StoreError::RecordNotFound(id))?;
    if deleted {
        return Err(StoreError::RecordDeleted(id));
    }
    if expected.is_some_and(|e| e != current) {
        return Err(StoreError::VersionConflict { current });
    }
    let prior = get_version(conn, id, current)?;
    let tombstone = RecordInput {
        record_type: prior.record_type.clone(),
        subject: prior.subject.clone(),
        labels: prior.labels.clone(),
        body: serde_json::Map::new(),
    };
    write_next(conn, id, current + 1, &tombstone, true, &prior, actor)
}

fn write_next(
    conn: &Connection,
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    prior: &Record,
    actor: &str,
) -> Result<Record, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    conn.prepare_cached(
        "UPDATE records SET subject = ?2, version = ?3, deleted = ?4, updated_at_ms = ?5, updated_by = ?6 WHERE id = ?1",
    )?
    .execute(params![id.to_string(), input.subject, version, deleted, now, actor])?;
    insert_version(conn, id, version, input, deleted, now, actor)?;
    Ok(Record::from_input(
        id,
        version,
        input,
        deleted,
        (prior.created_at_ms, &prior.created_by),
        (now, actor),
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
    let body = serde_json::Value::Object(input.body.clone());
    let bytes = canonical::to_canonical_bytes(&body);
    let sha = canonical::sha256_hex(&body);
    let labels = serde_json::to_string(&input.labels).expect("labels serialise");
    conn.prepare_cached(
        "INSERT INTO record_versions (record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id.to_string(),
        version,
        input.record_type,
        input.subject,
        labels,
        String::from_utf8(bytes).expect("JSON is UTF-8"),
        sha,
        deleted,
        now,
        actor
    ])?;
    Ok(())
}

/// The current version of a record (including a tombstone).
pub fn get_current(conn: &Connection, id: RecordId) -> Result<Record, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 AND v.version = r.version");
    conn.prepare_cached(&sql)?
        .query_row([id.to_string()], row_to_record)
        .optional()?
        .ok_or(StoreError::RecordNotFound(id))
        .and_then(verified)
}

/// One specific version of a record.
pub fn get_version(conn: &Connection, id: RecordId, version: i64) -> Result<Record, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 AND v.version = ?2");
    conn.prepare_cached(&sql)?
        .query_row(params![id.to_string(), version], row_to_record)
        .optional()?
        .ok_or(StoreError::VersionNotFound { id, version })
        .and_then(verified)
}

/// Every version of a record, oldest first.
pub fn history(conn: &Connection, id: RecordId) -> Result<Vec<Record>, StoreError> {
    let sql = format!("{SELECT_VERSION} WHERE v.record_id = ?1 ORDER BY v.version");
    let versions = conn
        .prepare_cached(&sql)?
        .query_map([id.to_string()], row_to_record)?
        .collect::<Result<Vec<_>, _>>()?;
    if versions.is_empty() {
        return Err(StoreError::RecordNotFound(id));
    }
    versions.into_iter().map(verified).collect()
}

/// A page of current records in id (= creation) order, so pages stay stable under updates.
pub fn list(
    conn: &Connection,
    f: &RecordFilter,
    after: Option<RecordId>,
    limit: usize,
) -> Result<Page<Record>, StoreError> {
    let mut sql = format!("{SELECT_VERSION} WHERE v.version = r.version");
    let mut args: Vec<SqlValue> = Vec::new();
    let mut filter = |clause: &str, v: Option<SqlValue>| {
        if let Some(v) = v {
            sql.push_str(clause);
            args.push(v);
        }
    };
    filter(
        " AND r.record_type = ?",
        f.record_type.clone().map(SqlValue::Text),
    );
    filter(" AND r.subject = ?", f.subject.clone().map(SqlValue::Text));
    filter(
        " AND r.updated_at_ms >= ?",
        f.updated_since_ms.map(SqlValue::Integer),
    );
    filter(
        " AND r.id > ?",
        after.map(|a| SqlValue::Text(a.to_string())),
    );
    if !f.include_deleted {
        sql.push_str(" AND r.deleted = 0");
    }
    sql.push_str(" ORDER BY r.id LIMIT ?");
    args.push(SqlValue::Integer(limit as i64 + 1));
    let mut items = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), row_to_record)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(verified)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|r| hippo_core::cursor::encode(&r.id.to_string()))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Fails closed on a body that no longer matches its hash (164.312(c)(1) integrity).
fn verified(r: Record) -> Result<Record, StoreError> {
    if r.body_intact() {
        Ok(r)
    } else {
        Err(StoreError::Corrupt(format!(
            "record {} version {} fails its integrity check",
            r.id, r.version
        )))
    }
}

fn row_to_record(r: &Row<'_>) -> rusqlite::Result<Record> {
    let bad = |i: usize| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            "malformed stored value".into(),
        )
    };
    let id: String = r.get(0)?;
    let labels: String = r.get(3)?;
    let body: String = r.get(4)?;
    Ok(Record {
        id: id.parse().map_err(|_| bad(0))?,
        record_type: r.get(1)?,
        subject: r.get(2)?,
        labels: serde_json::from_str(&labels).map_err(|_| bad(3))?,
        body: serde_json::from_str(&body).map_err(|_| bad(4))?,
        version: r.get(5)?,
        body_sha256: r.get(6)?,
        deleted: r.get::<_, i64>(7)? != 0,
        created_at_ms: r.get(8)?,
        created_by: r.get(9)?,
        updated_at_ms: r.get(10)?,
        updated_by: r.get(11)?,
    })
}
