//! Records and their immutable versions in PostgreSQL. Every statement filters on the tenant
//! itself as well; row-level security is the second, independent line.

use super::errors;
use crate::StoreError;
use hippo_core::canonical;
use hippo_core::{Page, Record, RecordFilter, RecordId, RecordInput, TenantId};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, PgConnection, Row};

const SELECT_VERSION: &str =
    "SELECT v.record_id, v.record_type, v.subject, v.labels, v.body, v.version,
        v.body_sha256, v.deleted, r.created_at_ms, r.created_by, v.written_at_ms, v.written_by
     FROM hippo.record_versions v
     JOIN hippo.records r ON r.tenant_id = v.tenant_id AND r.id = v.record_id";

/// The current state of a record (`version`, `deleted`), locked until the transaction ends so
/// that two instances updating it at once serialise and the later one sees a conflict.
async fn head(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
) -> Result<Option<(i64, bool)>, StoreError> {
    let row = sqlx::query(
        "SELECT version, deleted FROM hippo.records WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .fetch_optional(c)
    .await
    .map_err(errors::db)?;
    row.map(|r| {
        Ok((
            r.try_get(0).map_err(errors::db)?,
            r.try_get(1).map_err(errors::db)?,
        ))
    })
    .transpose()
}

/// Inserts version 1 of a new record.
pub async fn create(
    c: &mut PgConnection,
    t: &TenantId,
    input: &RecordInput,
    actor: &str,
) -> Result<Record, StoreError> {
    let id = RecordId::new();
    let now = hippo_core::time_fmt::now_millis();
    sqlx::query(
        "INSERT INTO hippo.records (tenant_id, id, record_type, subject, version, deleted, created_at_ms, created_by, updated_at_ms, updated_by)
         VALUES ($1, $2, $3, $4, 1, false, $5, $6, $5, $6)",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(&input.record_type)
    .bind(&input.subject)
    .bind(now)
    .bind(actor)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    insert_version(c, t, id, 1, input, false, now, actor).await?;
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
pub async fn update(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    expected: i64,
    input: &RecordInput,
    actor: &str,
) -> Result<Record, StoreError> {
    let (current, deleted) = head(c, t, id)
        .await?
        .ok_or(StoreError::RecordNotFound(id))?;
    if deleted {
        return Err(StoreError::RecordDeleted(id));
    }
    if current != expected {
        return Err(StoreError::VersionConflict { current });
    }
    let prior = get_version(c, t, id, current).await?;
    if prior.record_type != input.record_type {
        return Err(StoreError::TypeChange);
    }
    write_next(c, t, id, current + 1, input, false, &prior, actor).await
}

/// Writes a tombstone version; the history stays.
pub async fn delete(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    expected: Option<i64>,
    actor: &str,
) -> Result<Record, StoreError> {
    let (current, deleted) = head(c, t, id)
        .await?
        .ok_or(StoreError::RecordNotFound(id))?;
    if deleted {
        return Err(StoreError::RecordDeleted(id));
    }
    if expected.is_some_and(|e| e != current) {
        return Err(StoreError::VersionConflict { current });
    }
    let prior = get_version(c, t, id, current).await?;
    let tombstone = RecordInput {
        record_type: prior.record_type.clone(),
        subject: prior.subject.clone(),
        labels: prior.labels.clone(),
        body: serde_json::Map::new(),
    };
    write_next(c, t, id, current + 1, &tombstone, true, &prior, actor).await
}

#[allow(clippy::too_many_arguments)]
async fn write_next(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    prior: &Record,
    actor: &str,
) -> Result<Record, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    sqlx::query(
        "UPDATE hippo.records SET subject = $3, version = $4, deleted = $5, updated_at_ms = $6, updated_by = $7
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(&input.subject)
    .bind(version)
    .bind(deleted)
    .bind(now)
    .bind(actor)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    insert_version(c, t, id, version, input, deleted, now, actor).await?;
    Ok(Record::from_input(
        id,
        version,
        input,
        deleted,
        (prior.created_at_ms, &prior.created_by),
        (now, actor),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    version: i64,
    input: &RecordInput,
    deleted: bool,
    now: i64,
    actor: &str,
) -> Result<(), StoreError> {
    let body = serde_json::Value::Object(input.body.clone());
    let bytes = canonical::to_canonical_bytes(&body);
    let labels = serde_json::to_string(&input.labels).expect("labels serialise");
    sqlx::query(
        "INSERT INTO hippo.record_versions (tenant_id, record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(version)
    .bind(&input.record_type)
    .bind(&input.subject)
    .bind(labels)
    .bind(String::from_utf8(bytes).expect("JSON is UTF-8"))
    .bind(canonical::sha256_hex(&body))
    .bind(deleted)
    .bind(now)
    .bind(actor)
    .execute(c)
    .await
    .map_err(errors::db)?;
    Ok(())
}

/// The current version of a record (including a tombstone).
pub async fn get_current(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
) -> Result<Record, StoreError> {
    let sql = format!(
        "{SELECT_VERSION} WHERE v.tenant_id = $1 AND v.record_id = $2 AND v.version = r.version"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(id.to_string())
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
        .ok_or(StoreError::RecordNotFound(id))
        .and_then(|r| row_to_record(&r))
        .and_then(verified)
}

/// One specific version of a record.
pub async fn get_version(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    version: i64,
) -> Result<Record, StoreError> {
    let sql =
        format!("{SELECT_VERSION} WHERE v.tenant_id = $1 AND v.record_id = $2 AND v.version = $3");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(id.to_string())
        .bind(version)
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
        .ok_or(StoreError::VersionNotFound { id, version })
        .and_then(|r| row_to_record(&r))
        .and_then(verified)
}

/// Every version of a record, oldest first.
pub async fn history(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
) -> Result<Vec<Record>, StoreError> {
    let sql =
        format!("{SELECT_VERSION} WHERE v.tenant_id = $1 AND v.record_id = $2 ORDER BY v.version");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(id.to_string())
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    if rows.is_empty() {
        return Err(StoreError::RecordNotFound(id));
    }
    rows.iter()
        .map(|r| row_to_record(r).and_then(verified))
        .collect()
}

/// A page of current records in id (= creation) order, so pages stay stable under updates.
pub async fn list(
    c: &mut PgConnection,
    t: &TenantId,
    f: &RecordFilter,
    after: Option<RecordId>,
    limit: usize,
) -> Result<Page<Record>, StoreError> {
    let mut sql = format!("{SELECT_VERSION} WHERE r.tenant_id = $1 AND v.version = r.version");
    let mut args = PgArguments::default();
    let bind_err = |_| StoreError::Database("cannot bind a list parameter".into());
    args.add(t.as_str().to_owned()).map_err(bind_err)?;
    let mut n = 1;
    if let Some(v) = &f.record_type {
        n += 1;
        sql.push_str(&format!(" AND r.record_type = ${n}"));
        args.add(v.clone()).map_err(bind_err)?;
    }
    if let Some(v) = &f.subject {
        n += 1;
        sql.push_str(&format!(" AND r.subject = ${n}"));
        args.add(v.clone()).map_err(bind_err)?;
    }
    if let Some(v) = f.updated_since_ms {
        n += 1;
        sql.push_str(&format!(" AND r.updated_at_ms >= ${n}"));
        args.add(v).map_err(bind_err)?;
    }
    if let Some(a) = after {
        n += 1;
        sql.push_str(&format!(" AND r.id > ${n}"));
        args.add(a.to_string()).map_err(bind_err)?;
    }
    if !f.include_deleted {
        sql.push_str(" AND NOT r.deleted");
    }
    n += 1;
    sql.push_str(&format!(" ORDER BY r.id LIMIT ${n}"));
    args.add(limit as i64 + 1).map_err(bind_err)?;
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    let mut items = rows
        .iter()
        .map(|r| row_to_record(r).and_then(verified))
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

fn row_to_record(r: &PgRow) -> Result<Record, StoreError> {
    let bad = |col: &str| StoreError::Corrupt(format!("a stored record's {col} is malformed"));
    let id: String = r.try_get(0).map_err(errors::db)?;
    let labels: String = r.try_get(3).map_err(errors::db)?;
    let body: String = r.try_get(4).map_err(errors::db)?;
    Ok(Record {
        id: id.parse().map_err(|_| bad("id"))?,
        record_type: r.try_get(1).map_err(errors::db)?,
        subject: r.try_get(2).map_err(errors::db)?,
        labels: serde_json::from_str(&labels).map_err(|_| bad("labels"))?,
        body: serde_json::from_str(&body).map_err(|_| bad("body"))?,
        version: r.try_get(5).map_err(errors::db)?,
        body_sha256: r.try_get(6).map_err(errors::db)?,
        deleted: r.try_get(7).map_err(errors::db)?,
        created_at_ms: r.try_get(8).map_err(errors::db)?,
        created_by: r.try_get(9).map_err(errors::db)?,
        updated_at_ms: r.try_get(10).map_err(errors::db)?,
        updated_by: r.try_get(11).map_err(errors::db)?,
    })
}
