//! PostgreSQL's search index: a `tsvector` of the folded searchable text with a GIN index,
//! written in the same transaction as each record version, ranked with `ts_rank`.

use super::errors;
use super::records;
use crate::record_rules as rules;
use crate::search::{hits, SearchPage, SearchRequest};
use crate::StoreError;
use hippo_core::{RecordId, RecordInput, TenantId};
use sqlx::PgConnection;

/// Replaces the record's index entry with its new version's text (none for a tombstone).
pub async fn index(
    c: &mut PgConnection,
    t: &TenantId,
    id: RecordId,
    input: &RecordInput,
    deleted: bool,
) -> Result<(), StoreError> {
    if deleted {
        sqlx::query("DELETE FROM hippo.record_search WHERE tenant_id = $1 AND record_id = $2")
            .bind(t.as_str())
            .bind(id.to_string())
            .execute(c)
            .await
            .map_err(errors::db)?;
        return Ok(());
    }
    let text = hippo_search::searchable_text(&input.record_type, &input.body);
    sqlx::query(
        "INSERT INTO hippo.record_search (tenant_id, record_id, text) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, record_id) DO UPDATE SET text = excluded.text",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(text)
    .execute(c)
    .await
    .map_err(errors::db)?;
    Ok(())
}

/// Runs a search in the tenant's scope, best first after the cursor.
pub async fn search(
    c: &mut PgConnection,
    t: &TenantId,
    req: &SearchRequest,
) -> Result<SearchPage, StoreError> {
    let tsq = hippo_search::compile::to_tsquery(&req.query);
    // The cursor is applied in Rust (`comes_after`), on the exact score this query read, so
    // both stores page identically.
    let rows: Vec<(String, f64)> = sqlx::query_as(
        "SELECT s.record_id, ts_rank(s.tsv, q)::float8 AS score
         FROM hippo.record_search s
         CROSS JOIN to_tsquery('simple', $2) q
         JOIN hippo.records r ON r.tenant_id = s.tenant_id AND r.id = s.record_id
         WHERE s.tenant_id = $1 AND s.tsv @@ q AND NOT r.deleted
           AND ($3::text IS NULL OR r.record_type = $3)
           AND ($4::text IS NULL OR r.subject = $4)
           AND ($5::bigint IS NULL OR r.updated_at_ms >= $5)
           AND ($6::bigint IS NULL OR r.updated_at_ms <= $6)
           AND ($7::text IS NULL OR EXISTS (
                 SELECT 1 FROM hippo.record_versions v
                 WHERE v.tenant_id = r.tenant_id AND v.record_id = r.id AND v.version = r.version
                   AND v.labels::jsonb ? $7))
           AND ($8::float8 IS NULL OR ts_rank(s.tsv, q)::float8 < $8
                OR (ts_rank(s.tsv, q)::float8 = $8 AND s.record_id > $9))
         ORDER BY score DESC, s.record_id
         LIMIT $10",
    )
    .bind(t.as_str())
    .bind(&tsq)
    .bind(&req.record_type)
    .bind(&req.subject)
    .bind(req.updated_from_ms)
    .bind(req.updated_to_ms)
    .bind(&req.label)
    .bind(req.after.as_ref().map(|a| a.0))
    .bind(req.after.as_ref().map(|a| a.1.to_string()))
    .bind(req.limit as i64 + 1)
    .fetch_all(&mut *c)
    .await
    .map_err(errors::db)?;
    let (hits, more) = hits(rows, req)?;
    let mut page = SearchPage::default();
    for (id, score) in &hits {
        page.add(
            records::get_current(c, t, *id).await.and_then(rules::live),
            *score,
        )?;
    }
    Ok(page.with_cursor(&hits, more))
}
