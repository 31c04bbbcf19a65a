//! PostgreSQL's search index: a `tsvector` of the folded searchable text with a GIN index,
//! written in the same transaction as each record version, ranked with `ts_rank`.

use super::errors;
use super::records;
use crate::record_rules as rules;
use crate::search::{hits, input_of, ReindexPage, SearchPage, SearchRequest};
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
    let st = hippo_search::searchable(hippo_search::settings(), &input.record_type, &input.body);
    sqlx::query(
        "INSERT INTO hippo.record_search (tenant_id, record_id, key_text, text)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, record_id)
         DO UPDATE SET key_text = excluded.key_text, text = excluded.text",
    )
    .bind(t.as_str())
    .bind(id.to_string())
    .bind(&st.key)
    .bind(st.text)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    learn_key_words(c, t, [st.key.as_str()]).await
}

/// Adds the new words of key texts to the tenant's vocabulary of fuzzy terms, in one
/// statement. Sorted, so two transactions adding the same new words take their row locks in
/// one order.
pub(super) async fn learn_key_words<'k>(
    c: &mut PgConnection,
    t: &TenantId,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<(), StoreError> {
    let mut words: Vec<&str> = keys
        .into_iter()
        .flat_map(|k| k.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Ok(());
    }
    words.sort_unstable();
    words.dedup();
    sqlx::query(
        "INSERT INTO hippo.search_key_terms (tenant_id, term)
         SELECT $1, w FROM unnest($2::text[]) AS w ORDER BY w
         ON CONFLICT DO NOTHING",
    )
    .bind(t.as_str())
    .bind(words)
    .execute(c)
    .await
    .map_err(errors::db)?;
    Ok(())
}

/// The query with its fuzzy terms expanded over the tenant's key-text vocabulary: `pg_trgm`'s
/// index finds candidates (at a lower threshold than the rule's, so none is missed), and
/// `hippo_search` decides which are similar, as on the embedded store.
async fn expand_fuzzy(
    c: &mut PgConnection,
    t: &TenantId,
    query: &hippo_search::Query,
) -> Result<hippo_search::Query, StoreError> {
    let words = hippo_search::fuzzy::fuzzy_words(query);
    if words.is_empty() {
        return Ok(query.clone());
    }
    sqlx::query("SELECT set_config('pg_trgm.similarity_threshold', '0.2', true)")
        .execute(&mut *c)
        .await
        .map_err(errors::db)?;
    let mut candidates = std::collections::HashMap::new();
    for w in words {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT term FROM hippo.search_key_terms WHERE tenant_id = $1 AND term % $2",
        )
        .bind(t.as_str())
        .bind(&w)
        .fetch_all(&mut *c)
        .await
        .map_err(errors::db)?;
        candidates.insert(w, found);
    }
    Ok(hippo_search::fuzzy::expand(query, &candidates))
}

// The candidates are the newest `$11` matches (by index row sequence, as the embedded store's
// rowid), ranked with the key text (weight A) `key_weight` times the rest (weight D); the
// keyset condition is applied on the exact score this query computed, so both stores page
// alike. Unfiltered searches read the index alone: deleted records have no index row.
/// A search statement around its candidate query (`c`, which must end with the ranking budget
/// `ORDER BY s.seq DESC LIMIT $11`): rank the candidates, apply the keyset, keep one page.
macro_rules! ranked_search {
    ($candidates:literal) => {
        concat!(
            "WITH q AS (SELECT to_tsquery('simple', $2) AS q),
                  c AS (",
            $candidates,
            "),
                  ranked AS (SELECT c.record_id, ts_rank($12::float4[], c.tsv, q.q)::float8 AS score
                             FROM c, q)
             SELECT record_id, score FROM ranked
             WHERE $8::float8 IS NULL OR score < $8 OR (score = $8 AND record_id > $9)
             ORDER BY score DESC, record_id
             LIMIT $10"
        )
    };
}

const UNFILTERED: &str = ranked_search!(
    "SELECT s.record_id, s.tsv FROM hippo.record_search s, q
     WHERE s.tenant_id = $1 AND s.tsv @@ q.q
       AND $3::text IS NULL AND $4::text IS NULL AND $5::bigint IS NULL
       AND $6::bigint IS NULL AND $7::text IS NULL
     ORDER BY s.seq DESC LIMIT $11"
);

const FILTERED: &str = ranked_search!(
    "SELECT s.record_id, s.tsv FROM hippo.record_search s
     CROSS JOIN q
     JOIN hippo.records r ON r.tenant_id = s.tenant_id AND r.id = s.record_id
     WHERE s.tenant_id = $1 AND s.tsv @@ q.q AND NOT r.deleted
       AND ($3::text IS NULL OR r.record_type = $3)
       AND ($4::text IS NULL OR r.subject = $4)
       AND ($5::bigint IS NULL OR r.updated_at_ms >= $5)
       AND ($6::bigint IS NULL OR r.updated_at_ms <= $6)
       AND ($7::text IS NULL OR EXISTS (
             SELECT 1 FROM hippo.record_versions v
             WHERE v.tenant_id = r.tenant_id AND v.record_id = r.id
               AND v.version = r.version AND v.labels::jsonb ? $7))
     ORDER BY s.seq DESC LIMIT $11"
);

/// Runs a search in the tenant's scope, best first after the cursor.
pub async fn search(
    c: &mut PgConnection,
    t: &TenantId,
    req: &SearchRequest,
) -> Result<SearchPage, StoreError> {
    let tsq = hippo_search::compile::to_tsquery(&expand_fuzzy(c, t, &req.query).await?);
    // ts_rank's weights are {D, C, B, A}, each at most 1: the rest gets 1/key_weight.
    let rest = (1.0 / req.key_weight) as f32;
    let weights: Vec<f32> = vec![rest, rest, rest, 1.0];
    let sql = if req.filtered() { FILTERED } else { UNFILTERED };
    let rows: Vec<(String, f64)> = sqlx::query_as(sql)
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
        .bind(req.rank_candidates as i64)
        .bind(weights)
        .fetch_all(&mut *c)
        .await
        .map_err(errors::db)?;
    let (hits, more) = hits(rows, req)?;
    let mut page = SearchPage::default();
    for (id, score) in &hits {
        page.add(
            records::get_current(c, t, *id).await.and_then(rules::live),
            *score,
            &req.visible,
        )?;
    }
    Ok(page.with_cursor(&hits, more))
}

/// Re-indexes up to `limit` of the tenant's records after `after` from their current versions
/// (a tombstone removes its entry), in the caller's transaction.
pub async fn reindex(
    c: &mut PgConnection,
    t: &TenantId,
    after: Option<RecordId>,
    limit: usize,
) -> Result<ReindexPage, StoreError> {
    let ids = records::ids_after(c, t, after, limit).await?;
    let mut page = ReindexPage::default();
    for id in &ids {
        let id = crate::record_rules::stored_id(id)?;
        if let Some(r) = page.take(records::get_current(c, t, id).await)? {
            index(c, t, id, &input_of(&r), r.deleted).await?;
        }
        page.next = (ids.len() == limit).then_some(id);
    }
    Ok(page)
}
