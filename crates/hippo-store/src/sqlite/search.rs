//! The embedded store's search index: FTS5 in the tenant database, written in the same
//! transaction as each record version, and queried with BM25 ranking.

use super::records;
use crate::record_rules::{self as rules};
use crate::search::{hits, input_of, ReindexPage, SearchPage, SearchRequest};
use crate::StoreError;
use hippo_core::{RecordId, RecordInput};
use rusqlite::{params, Connection};
use std::collections::HashMap;

/// Replaces the record's index entry with its new version's text (none for a tombstone).
pub fn index(
    conn: &Connection,
    id: RecordId,
    input: &RecordInput,
    deleted: bool,
) -> Result<(), StoreError> {
    let key = id.to_string();
    conn.prepare_cached("INSERT OR IGNORE INTO record_search_ids (record_id) VALUES (?1)")?
        .execute([&key])?;
    let rowid: i64 = conn
        .prepare_cached("SELECT rowid FROM record_search_ids WHERE record_id = ?1")?
        .query_row([&key], |r| r.get(0))?;
    conn.prepare_cached("DELETE FROM record_search WHERE rowid = ?1")?
        .execute([rowid])?;
    if !deleted {
        let t = hippo_search::searchable(hippo_search::settings(), &input.record_type, &input.body);
        conn.prepare_cached(
            "INSERT INTO record_search (rowid, key, text, record_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![rowid, t.key, t.text, key])?;
        learn_key_words(conn, &t.key)?;
    }
    Ok(())
}

/// Adds the key text's new words, with their trigrams, to the vocabulary of fuzzy terms.
fn learn_key_words(conn: &Connection, key: &str) -> Result<(), StoreError> {
    for word in key.split(' ').filter(|w| !w.is_empty()) {
        let added = conn
            .prepare_cached("INSERT OR IGNORE INTO search_key_terms (term) VALUES (?1)")?
            .execute([word])?;
        if added == 1 {
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO search_key_trigrams (trigram, term) VALUES (?1, ?2)",
            )?;
            for t in hippo_search::fuzzy::trigrams(word) {
                insert.execute([t.as_str(), word])?;
            }
        }
    }
    Ok(())
}

/// The query with its fuzzy terms expanded over this tenant's key-text vocabulary: candidate
/// words share enough trigrams to possibly reach the threshold; `hippo_search` decides.
fn expand_fuzzy(
    conn: &Connection,
    query: &hippo_search::Query,
) -> Result<hippo_search::Query, StoreError> {
    let words = hippo_search::fuzzy::fuzzy_words(query);
    if words.is_empty() {
        return Ok(query.clone());
    }
    let mut candidates = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT term FROM search_key_trigrams
         WHERE trigram IN (SELECT value FROM json_each(?1))
         GROUP BY term HAVING count(*) >= ?2",
    )?;
    for w in words {
        let grams: Vec<String> = hippo_search::fuzzy::trigrams(&w).into_iter().collect();
        let grams =
            serde_json::to_string(&grams).map_err(|e| StoreError::Database(e.to_string()))?;
        let found = stmt
            .query_map(
                params![grams, hippo_search::fuzzy::min_shared(&w) as i64],
                |r| r.get::<_, String>(0),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        candidates.insert(w, found);
    }
    Ok(hippo_search::fuzzy::expand(query, &candidates))
}

// Both statements rank at most `?10` candidates, the newest matches (highest rowid: FTS5 walks
// its doclists backwards and stops there), so a word shared by a hundred thousand records
// costs a bounded scoring pass instead of one per match. `?11` is the key column's weight.
// Filters are bound, never inlined; `?n IS NULL OR …` keeps two prepared statements. The
// keyset condition and the limit are applied inside SQLite, so only one page's rows (plus one,
// to tell whether another page exists) leave the top-N sort.
const UNFILTERED: &str = "SELECT record_id, score FROM (
       SELECT record_id, -bm25(record_search, ?11, 1.0) AS score FROM record_search
       WHERE record_search MATCH ?1
         AND ?2 IS NULL AND ?3 IS NULL AND ?4 IS NULL AND ?5 IS NULL AND ?6 IS NULL
       ORDER BY rowid DESC LIMIT ?10)
     WHERE ?7 IS NULL OR score < ?7 OR (score = ?7 AND record_id > ?8)
     ORDER BY score DESC, record_id
     LIMIT ?9";

const FILTERED: &str = "SELECT record_id, score FROM (
       SELECT s.record_id AS record_id, -bm25(record_search, ?11, 1.0) AS score
       FROM record_search s
       JOIN records r ON r.id = s.record_id
       WHERE record_search MATCH ?1 AND r.deleted = 0
         AND (?2 IS NULL OR r.record_type = ?2)
         AND (?3 IS NULL OR r.subject = ?3)
         AND (?4 IS NULL OR r.updated_at_ms >= ?4)
         AND (?5 IS NULL OR r.updated_at_ms <= ?5)
         AND (?6 IS NULL OR EXISTS (SELECT 1 FROM record_versions v, json_each(v.labels) l
               WHERE v.record_id = r.id AND v.version = r.version AND l.value = ?6))
       ORDER BY s.rowid DESC LIMIT ?10)
     WHERE ?7 IS NULL OR score < ?7 OR (score = ?7 AND record_id > ?8)
     ORDER BY score DESC, record_id
     LIMIT ?9";

/// Runs a search: matching live records with their score (BM25, negated so that higher is
/// better, as on PostgreSQL), filtered, in rank order after the cursor.
pub fn search(conn: &Connection, req: &SearchRequest) -> Result<SearchPage, StoreError> {
    let fts = hippo_search::compile::to_fts5(&expand_fuzzy(conn, &req.query)?);
    // Deleted records have no index entry, so an unfiltered search needs the index alone;
    // filters join the records table.
    let sql = if req.filtered() { FILTERED } else { UNFILTERED };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            fts,
            req.record_type,
            req.subject,
            req.updated_from_ms,
            req.updated_to_ms,
            req.label,
            req.after.as_ref().map(|a| a.0),
            req.after.as_ref().map(|a| a.1.to_string()),
            req.limit as i64 + 1,
            req.rank_candidates as i64,
            req.key_weight,
        ],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)),
    )?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    let (hits, more) = hits(rows, req)?;
    let mut page = SearchPage::default();
    for (id, score) in &hits {
        page.add(
            records::get_current(conn, *id).and_then(rules::live),
            *score,
            &req.visible,
        )?;
    }
    Ok(page.with_cursor(&hits, more))
}

/// Re-indexes one record from its current version (a restore re-derives the index this way).
pub fn reindex_one(conn: &Connection, id: RecordId) -> Result<(), StoreError> {
    let r = records::get_current(conn, id)?;
    index(conn, id, &input_of(&r), r.deleted)
}

/// Re-indexes up to `limit` records after `after` from their current versions (a tombstone
/// removes its entry), in the caller's write transaction.
pub fn reindex(
    conn: &Connection,
    after: Option<RecordId>,
    limit: usize,
) -> Result<ReindexPage, StoreError> {
    let ids = records::ids_after(conn, after, limit)?;
    let mut page = ReindexPage::default();
    for id in &ids {
        let id = crate::record_rules::stored_id(id)?;
        if let Some(r) = page.take(records::get_current(conn, id))? {
            index(conn, id, &input_of(&r), r.deleted)?;
        }
        page.next = (ids.len() == limit).then_some(id);
    }
    Ok(page)
}
