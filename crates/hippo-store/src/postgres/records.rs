//! Records and their immutable versions in PostgreSQL. Every statement filters on the tenant
//! itself as well; row-level security is the second, independent line.

use super::errors;
use crate::idempotency::StoredKey;
use crate::record_rules::{self as rules, Head, RecordPage, StoredVersion};
use crate::sql::{Placeholders, SqlArg};
use crate::store::IntegrityScan;
use crate::StoreError;
use hippo_core::{Record, RecordFilter, RecordId, RecordInput, TenantId};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, PgConnection, Row};

const SELECT_VERSION: &str =
    "SELECT v.record_id, v.record_type, v.subject, v.labels, v.body, v.version,
        v.body_sha256, v.deleted, r.created_at_ms, r.created_by, v.written_at_ms, v.written_by
     FROM hippo.record_versions v
     JOIN hippo.records r ON r.tenant_id = v.tenant_id AND r.id = v.record_id";

/// The current state of a record, locked until the transaction ends so that two instances
/// updating it at once serialise and the later one sees a conflict.
async fn head(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
) -> Result<Option<Head>, StoreError> {
    let row = sqlx::query(
        "SELECT version, deleted FROM hippo.records WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .fetch_optional(c)
    .await
    .map_err(errors::db)?;
    row.map(|r| {
        Ok(Head {
            version: r.try_get(0).map_err(errors::db)?,
            deleted: r.try_get(1).map_err(errors::db)?,
        })
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
    let mut one = create_many(c, t, std::slice::from_ref(input), actor).await?;
    Ok(one.pop().expect("one record created"))
}

/// Inserts version 1 of each new record, with its search entry, in one statement (one round
/// trip however many records: batch ingest pays per batch, not per record).
pub async fn create_many(
    c: &mut PgConnection,
    t: &TenantId,
    inputs: &[RecordInput],
    actor: &str,
) -> Result<Vec<Record>, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    let ids: Vec<RecordId> = inputs.iter().map(|_| RecordId::new()).collect();
    let (mut id_col, mut types, mut subjects, mut labels) = (vec![], vec![], vec![], vec![]);
    let (mut bodies, mut shas, mut keys, mut texts) = (vec![], vec![], vec![], vec![]);
    for (id, input) in ids.iter().zip(inputs) {
        let (body, sha) = rules::stored_body(input);
        id_col.push(id.to_string());
        types.push(input.record_type.as_str());
        subjects.push(input.subject.as_deref());
        labels.push(rules::stored_labels(input));
        bodies.push(body);
        shas.push(sha);
        let st =
            hippo_search::searchable(hippo_search::settings(), &input.record_type, &input.body);
        keys.push(st.key);
        texts.push(st.text);
    }
    // The index is written in the same transaction: searchable once acknowledged.
    sqlx::query(
        "WITH new AS (
             SELECT * FROM UNNEST($4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[],
                 $9::TEXT[], $10::TEXT[], $11::TEXT[])
                 AS u(id, record_type, subject, labels, body, sha, key_text, text)),
         heads AS (
             INSERT INTO hippo.records (tenant_id, id, record_type, subject, version, deleted,
                 created_at_ms, created_by, updated_at_ms, updated_by)
             SELECT $1, id, record_type, subject, 1, false, $2, $3, $2, $3 FROM new),
         versions AS (
             INSERT INTO hippo.record_versions (tenant_id, record_id, version, record_type,
                 subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
             SELECT $1, id, 1, record_type, subject, labels, body, sha, false, $2, $3 FROM new)
         INSERT INTO hippo.record_search (tenant_id, record_id, key_text, text)
         SELECT $1, id, key_text, text FROM new",
    )
    .bind(t.as_str())
    .bind(now)
    .bind(actor)
    .bind(id_col)
    .bind(types)
    .bind(subjects)
    .bind(labels)
    .bind(bodies)
    .bind(shas)
    .bind(&keys)
    .bind(texts)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    super::search::learn_key_words(c, t, keys.iter().map(String::as_str)).await?;
    Ok(ids
        .into_iter()
        .zip(inputs)
        .map(|(id, input)| rules::written(id, 1, input, false, None, now, actor))
        .collect())
}

/// The request hash and record id stored under an idempotency key's hash, if any.
pub async fn stored_key(
    c: &mut PgConnection,
    t: &TenantId,
    key_hash: &str,
) -> Result<Option<(String, RecordId)>, StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT request_hash, record_id FROM hippo.idempotency_keys WHERE tenant_id = $1 AND key_hash = $2",
    )
    .bind(t.as_str())
    .bind(key_hash)
    .fetch_optional(&mut *c)
    .await
    .map_err(errors::db)?;
    row.map(|(request, id)| {
        let id = crate::record_rules::stored_id(&id)?;
        Ok((request, id))
    })
    .transpose()
}

/// Stores an idempotency key (as its hashes) for the record it just created. A concurrent
/// transaction that stored the same key first makes this one fail as retryable: its retry
/// then finds the key and replays.
pub async fn store_key(
    c: &mut PgConnection,
    t: &TenantId,
    key: &StoredKey,
    id: RecordId,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO hippo.idempotency_keys (tenant_id, key_hash, request_hash, record_id, created_at_ms)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, key_hash) DO NOTHING",
    )
    .bind(t.as_str())
    .bind(&key.key_hash)
    .bind(&key.request_hash)
    .bind(id.to_string())
    .bind(hippo_core::time_fmt::now_millis())
    .execute(&mut *c)
    .await
    .map_err(errors::db)?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::Unavailable(
            "a concurrent batch used the same idempotency key; retry the batch".into(),
        ));
    }
    Ok(())
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
    let current = rules::check_update(head(c, t, id).await?, id, expected)?;
    let prior = stored_version(c, t, id, current).await?;
    rules::check_same_type(&prior, input)?;
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
    let current = rules::check_delete(head(c, t, id).await?, id, expected)?;
    let prior = stored_version(c, t, id, current).await?;
    let tombstone = rules::tombstone(&prior)?;
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
    prior: &StoredVersion,
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
    let (body, sha) = rules::stored_body(input);
    sqlx::query(
        "INSERT INTO hippo.record_versions (tenant_id, record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(version)
    .bind(&input.record_type)
    .bind(&input.subject)
    .bind(rules::stored_labels(input))
    .bind(body)
    .bind(sha)
    .bind(deleted)
    .bind(now)
    .bind(actor)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    // The index changes in the same transaction: searchable once acknowledged, gone with the
    // record.
    super::search::index(c, t, id, input, deleted).await
}

/// One stored version, unchecked (update and delete need only its metadata).
async fn stored_version(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    version: i64,
) -> Result<StoredVersion, StoreError> {
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
        .and_then(|r| row_to_stored(&r))
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
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(id.to_string())
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
        .ok_or(StoreError::RecordNotFound(id))?;
    Ok(row_to_stored(&row)?.verify()?)
}

/// One specific version of a record.
pub async fn get_version(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    version: i64,
) -> Result<Record, StoreError> {
    Ok(stored_version(c, t, id, version).await?.verify()?)
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
        .map(|r| Ok(row_to_stored(r)?.verify()?))
        .collect()
}

/// A page of current records in id (= creation) order, so pages stay stable under updates.
pub async fn list(
    c: &mut PgConnection,
    t: &TenantId,
    f: &RecordFilter,
    after: Option<RecordId>,
    limit: usize,
) -> Result<RecordPage, StoreError> {
    let base = format!("{SELECT_VERSION} WHERE r.tenant_id = $1");
    let tenant = vec![SqlArg::Text(t.as_str().to_owned())];
    let q = rules::list_query(&base, Placeholders::Numbered, tenant, f, after, limit);
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(q.sql), pg_args(q.args)?)
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    let rows = rows.iter().map(row_to_stored).collect::<Result<_, _>>()?;
    Ok(rules::record_page(rows, limit))
}

/// Checks every version of up to `limit` records after `after`.
/// Up to `limit` of the tenant's record ids after `after`, in id order: the pages of an
/// operator's scan.
pub(super) async fn ids_after(
    c: &mut PgConnection,
    t: &TenantId,
    after: Option<RecordId>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT id FROM hippo.records WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(t.as_str())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(limit as i64)
    .fetch_all(&mut *c)
    .await
    .map_err(errors::db)
}

/// Every version of up to `limit` records after `after`, in id and version order, unchecked.
pub async fn versions_page(
    c: &mut PgConnection,
    t: &TenantId,
    after: Option<RecordId>,
    limit: usize,
) -> Result<crate::tenant_archive::VersionPage, StoreError> {
    let ids = ids_after(c, t, after, limit).await?;
    let Some(last) = ids.last() else {
        return Ok(Default::default());
    };
    let sql = format!(
        "{SELECT_VERSION} WHERE v.tenant_id = $1 AND v.record_id > $2 AND v.record_id <= $3 ORDER BY v.record_id, v.version"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(last)
        .fetch_all(&mut *c)
        .await
        .map_err(errors::db)?;
    let versions = rows
        .iter()
        .map(|r| row_to_stored(r).map(Into::into))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if ids.len() == limit {
        Some(crate::record_rules::stored_id(last)?)
    } else {
        None
    };
    Ok(crate::tenant_archive::VersionPage { versions, next })
}

/// Writes archived versions as they were (see [`crate::Store::import_versions`]).
pub async fn import_versions(
    c: &mut PgConnection,
    t: &TenantId,
    versions: &[crate::tenant_archive::ArchivedVersion],
) -> Result<usize, StoreError> {
    for v in versions {
        v.check()?;
        let id = v.id()?;
        if v.version == 1 {
            if head(c, t, id).await?.is_some() {
                return Err(StoreError::Corrupt(format!(
                    "record {id} is already in this tenant"
                )));
            }
            sqlx::query(
                "INSERT INTO hippo.records (tenant_id, id, record_type, subject, version, deleted, created_at_ms, created_by, updated_at_ms, updated_by)
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9)",
            )
            .bind(t.as_str())
            .bind(&v.record_id)
            .bind(&v.record_type)
            .bind(&v.subject)
            .bind(v.deleted)
            .bind(v.created_at_ms)
            .bind(&v.created_by)
            .bind(v.written_at_ms)
            .bind(&v.written_by)
            .execute(&mut *c)
            .await
            .map_err(errors::db)?;
        } else {
            let moved = sqlx::query(
                "UPDATE hippo.records SET subject = $3, version = $4, deleted = $5, updated_at_ms = $6, updated_by = $7
                 WHERE tenant_id = $1 AND id = $2 AND version = $4 - 1",
            )
            .bind(t.as_str())
            .bind(&v.record_id)
            .bind(&v.subject)
            .bind(v.version)
            .bind(v.deleted)
            .bind(v.written_at_ms)
            .bind(&v.written_by)
            .execute(&mut *c)
            .await
            .map_err(errors::db)?;
            if moved.rows_affected() != 1 {
                return Err(StoreError::Corrupt(format!(
                    "record {id} version {} does not follow its previous version",
                    v.version
                )));
            }
        }
        sqlx::query(
            "INSERT INTO hippo.record_versions (tenant_id, record_id, version, record_type, subject, labels, body, body_sha256, deleted, written_at_ms, written_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(t.as_str())
        .bind(&v.record_id)
        .bind(v.version)
        .bind(&v.record_type)
        .bind(&v.subject)
        .bind(&v.labels)
        .bind(&v.body)
        .bind(&v.body_sha256)
        .bind(v.deleted)
        .bind(v.written_at_ms)
        .bind(&v.written_by)
        .execute(&mut *c)
        .await
        .map_err(errors::db)?;
        super::search::index(c, t, id, &v.input()?, v.deleted).await?;
    }
    Ok(versions.len())
}

pub async fn verify_all(
    c: &mut PgConnection,
    t: &TenantId,
    after: Option<RecordId>,
    limit: usize,
) -> Result<IntegrityScan, StoreError> {
    let ids = ids_after(c, t, after, limit).await?;
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    let Some(last) = ids.last() else {
        return Ok(IntegrityScan::default());
    };
    let sql = format!(
        "{SELECT_VERSION} WHERE v.tenant_id = $1 AND v.record_id > $2 AND v.record_id <= $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t.as_str())
        .bind(&after)
        .bind(last)
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    let rows = rows.iter().map(row_to_stored).collect::<Result<_, _>>()?;
    let last = crate::record_rules::stored_id(last)?;
    Ok(rules::scan(ids.len(), last, rows, limit))
}

/// Binds a built query's parameters.
pub(super) fn pg_args(args: Vec<SqlArg>) -> Result<PgArguments, StoreError> {
    let bind_err = |_| StoreError::Database("cannot bind a list parameter".into());
    let mut out = PgArguments::default();
    for a in args {
        match a {
            SqlArg::Text(t) => out.add(t).map_err(bind_err)?,
            SqlArg::Int(i) => out.add(i).map_err(bind_err)?,
        }
    }
    Ok(out)
}

fn row_to_stored(r: &PgRow) -> Result<StoredVersion, StoreError> {
    let id: String = r.try_get(0).map_err(errors::db)?;
    Ok(StoredVersion {
        id: crate::record_rules::stored_id(&id)?,
        record_type: r.try_get(1).map_err(errors::db)?,
        subject: r.try_get(2).map_err(errors::db)?,
        labels: r.try_get(3).map_err(errors::db)?,
        body: r.try_get(4).map_err(errors::db)?,
        version: r.try_get(5).map_err(errors::db)?,
        body_sha256: r.try_get(6).map_err(errors::db)?,
        deleted: r.try_get(7).map_err(errors::db)?,
        created_at_ms: r.try_get(8).map_err(errors::db)?,
        created_by: r.try_get(9).map_err(errors::db)?,
        updated_at_ms: r.try_get(10).map_err(errors::db)?,
        updated_by: r.try_get(11).map_err(errors::db)?,
    })
}
