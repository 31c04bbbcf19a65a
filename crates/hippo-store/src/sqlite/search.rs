//! The embedded store's search index: FTS5 in the tenant database, written in the same
//! transaction as each record version, and queried with BM25 ranking (`fts5_rank`).

use super::fts5_rank;
use super::records;
use crate::record_rules::{self as rules};
use crate::search::{hits, input_of, ReindexPage, SearchPage, SearchRequest};
use crate::StoreError;
use hippo_core::{RecordId, RecordInput};
use hippo_search::rank::{self, Corpus, Phrase};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    let mut tokens = None;
    if !deleted {
        let t = hippo_search::searchable(hippo_search::settings(), &input.record_type, &input.body);
        conn.prepare_cached(
            "INSERT INTO record_search (rowid, key, text, record_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![rowid, t.key, t.text, key])?;
        learn_key_words(conn, &t.key)?;
        tokens = Some(indexed_tokens(conn, rowid)?);
    }
    conn.prepare_cached("UPDATE record_search_ids SET tokens = ?2 WHERE rowid = ?1")?
        .execute(params![rowid, tokens])?;
    Ok(())
}

/// The row's length in tokens as FTS5 itself counted it (its docsize record: one varint per
/// column), kept beside the record id for ranking (tenant migration 9).
fn indexed_tokens(conn: &Connection, rowid: i64) -> Result<i64, StoreError> {
    let sizes: Vec<u8> = conn
        .prepare_cached("SELECT sz FROM record_search_docsize WHERE id = ?1")?
        .query_row([rowid], |r| r.get(0))?;
    let (mut total, mut at) = (0u64, 0);
    while at < sizes.len() {
        let (n, len) = varint(&sizes[at..]).ok_or_else(|| {
            StoreError::Corrupt("the search index's size record does not parse".into())
        })?;
        total = total.saturating_add(n);
        at += len;
    }
    Ok(i64::try_from(total).unwrap_or(i64::MAX))
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

// Both statements fetch at most `?2` candidates, the newest matches (highest rowid: FTS5 walks
// its doclists backwards and stops there), so a word shared by a hundred thousand records
// costs a bounded scoring pass instead of one per match. Filters are bound, never inlined;
// `?n IS NULL OR …` keeps two prepared statements. Each candidate is scored by `hippo_bm25`
// (see `fts5_rank`) from the instances FTS5 holds; its record id and length come from the
// compact id map, not the FTS5 content and docsize tables: a search reads no indexed text.
const UNFILTERED: &str = "SELECT i.record_id, hippo_bm25(record_search, ?8, ?9, ?10, i.tokens)
     FROM record_search s JOIN record_search_ids i ON i.rowid = s.rowid
     WHERE record_search MATCH ?1
       AND ?3 IS NULL AND ?4 IS NULL AND ?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL
     ORDER BY s.rowid DESC LIMIT ?2";

const FILTERED: &str = "SELECT i.record_id, hippo_bm25(record_search, ?8, ?9, ?10, i.tokens)
     FROM record_search s
     JOIN record_search_ids i ON i.rowid = s.rowid
     JOIN records r ON r.id = i.record_id
     WHERE record_search MATCH ?1 AND r.deleted = 0
       AND (?3 IS NULL OR r.record_type = ?3)
       AND (?4 IS NULL OR r.subject = ?4)
       AND (?5 IS NULL OR r.updated_at_ms >= ?5)
       AND (?6 IS NULL OR r.updated_at_ms <= ?6)
       AND (?7 IS NULL OR EXISTS (SELECT 1 FROM record_versions v, json_each(v.labels) l
             WHERE v.record_id = r.id AND v.version = r.version AND l.value = ?7))
     ORDER BY s.rowid DESC LIMIT ?2";

/// Runs a search: matching live records with their score (BM25, higher is better, as on
/// PostgreSQL), filtered, in rank order after the cursor.
pub fn search(
    conn: &Connection,
    req: &SearchRequest,
    frequencies: &DocFrequencies,
) -> Result<SearchPage, StoreError> {
    let rows = ranked(conn, req, frequencies)?;
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

/// The candidates (record id, score), best first, equal scores in id order.
fn ranked(
    conn: &Connection,
    req: &SearchRequest,
    frequencies: &DocFrequencies,
) -> Result<Vec<(String, f64)>, StoreError> {
    let query = expand_fuzzy(conn, &req.query)?;
    let corpus = corpus(conn)?;
    let mut idfs = Vec::new();
    for p in rank::phrases(&query) {
        idfs.push(corpus.idf(frequencies.rows_with(conn, &p)?));
    }
    // Deleted records have no index entry, so an unfiltered search needs the index alone;
    // filters join the records table.
    let sql = if req.filtered() { FILTERED } else { UNFILTERED };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            hippo_search::compile::to_fts5(&query),
            req.rank_candidates as i64,
            req.record_type,
            req.subject,
            req.updated_from_ms,
            req.updated_to_ms,
            req.label,
            req.key_weight,
            corpus.average_length(),
            fts5_rank::idf_blob(idfs),
        ],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)),
    )?;
    let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}

/// Rows indexed and their tokens, from the FTS5 table's averages record (`_data` row 1: a
/// varint row count, then one varint token total per column), which FTS5 updates with every
/// write; reading it is one lookup where `count(*)` would read every row.
fn corpus(conn: &Connection) -> Result<Corpus, StoreError> {
    let block: Option<Vec<u8>> = conn
        .prepare_cached("SELECT block FROM record_search_data WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    // A table never written to has no averages record, or an empty one.
    let block = block.unwrap_or_default();
    if block.is_empty() {
        return Ok(Corpus { rows: 0, tokens: 0 });
    }
    let bad = || StoreError::Corrupt("the search index's averages record does not parse".into());
    let (rows, mut at) = varint(&block).ok_or_else(bad)?;
    let mut total = 0u64;
    while at < block.len() {
        let (n, len) = varint(&block[at..]).ok_or_else(bad)?;
        total = total.saturating_add(n);
        at += len;
    }
    Ok(Corpus {
        rows,
        tokens: total,
    })
}

/// SQLite's variable-length integer (FTS5 uses the record format's): big-endian groups of
/// seven bits, the high bit set on all but the last, and a ninth byte of eight bits.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// How many indexed rows hold each phrase, counted once and kept for [`FREQUENCY_MAX_AGE`]:
/// BM25's IDF needs it, and counting walks the phrase's whole doclist (for a common word, tens
/// of thousands of entries). A figure at most a minute old moves scores by a fraction of a
/// percent. Entries are keyed by a keyed hash of the phrase, so no query text is kept.
pub struct DocFrequencies {
    keys: RandomState,
    entries: Mutex<HashMap<u64, (u64, Instant)>>,
}

/// How long a phrase's row count is trusted.
const FREQUENCY_MAX_AGE: Duration = Duration::from_secs(60);
/// Phrases remembered per tenant database.
const FREQUENCY_CAPACITY: usize = 4096;

impl Default for DocFrequencies {
    fn default() -> Self {
        Self {
            keys: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl DocFrequencies {
    fn rows_with(&self, conn: &Connection, phrase: &Phrase) -> Result<u64, StoreError> {
        let expr = phrase.to_fts5();
        let key = self.keys.hash_one(&expr);
        if let Some((n, at)) = self.lock().get(&key) {
            if at.elapsed() < FREQUENCY_MAX_AGE {
                return Ok(*n);
            }
        }
        let n: i64 = conn
            .prepare_cached("SELECT count(*) FROM record_search WHERE record_search MATCH ?1")?
            .query_row([&expr], |r| r.get(0))?;
        let n = n.max(0) as u64;
        let mut entries = self.lock();
        if entries.len() >= FREQUENCY_CAPACITY {
            entries.retain(|_, (_, at)| at.elapsed() < FREQUENCY_MAX_AGE);
            if entries.len() >= FREQUENCY_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (n, Instant::now()));
        Ok(n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, Instant)>> {
        // A panic while holding the map cannot leave it inconsistent (plain inserts).
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "smith", "smyth", "chest", "pain", "painful", "garcia", "martin", "martinez", "mart",
        "diabetes", "insulin", "note",
    ];

    fn table(docs: &[(Vec<usize>, Vec<usize>)]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrations::apply(&conn, crate::sqlite::migrations::TENANT).unwrap();
        fts5_rank::register(&conn).unwrap();
        let text = |ws: &[usize]| ws.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" ");
        for (i, (key, rest)) in docs.iter().enumerate() {
            let (rowid, id) = (i as i64 + 1, format!("r{i:04}"));
            conn.execute(
                "INSERT INTO record_search (rowid, key, text, record_id) VALUES (?1, ?2, ?3, ?4)",
                params![rowid, text(key), text(rest), id],
            )
            .unwrap();
            // Half the rows carry their length (as `index` stores it), half leave it to FTS5.
            let tokens = (i % 2 == 0).then(|| indexed_tokens(&conn, rowid).unwrap());
            conn.execute(
                "INSERT INTO record_search_ids (rowid, record_id, tokens) VALUES (?1, ?2, ?3)",
                params![rowid, id, tokens],
            )
            .unwrap();
        }
        conn
    }

    /// What FTS5's own `bm25()` says, ordered as `ranked` orders.
    fn fts5_bm25(conn: &Connection, q: &hippo_search::Query) -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> = conn
            .prepare(
                "SELECT record_id, -bm25(record_search, 4.0, 1.0) FROM record_search
                 WHERE record_search MATCH ?1",
            )
            .unwrap()
            .query_map([hippo_search::compile::to_fts5(q)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows
    }

    fn item() -> impl Strategy<Value = String> {
        let w = 0..WORDS.len();
        prop_oneof![
            w.clone().prop_map(|i| WORDS[i].to_string()),
            w.clone().prop_map(|i| format!("{}*", &WORDS[i][..3])),
            (w.clone(), w).prop_map(|(a, b)| format!("\"{} {}\"", WORDS[a], WORDS[b])),
        ]
    }

    /// Items joined by AND (with perhaps one NOT) or by OR: the shapes whose negated phrases
    /// never occur in a matching row.
    fn query() -> impl Strategy<Value = String> {
        prop_oneof![
            (
                proptest::collection::vec(item(), 1..4),
                proptest::option::of(item())
            )
                .prop_map(|(items, not)| {
                    let mut q = items.join(" ");
                    if let Some(n) = not {
                        q.push_str(&format!(" NOT {n}"));
                    }
                    q
                }),
            proptest::collection::vec(item(), 2..4).prop_map(|items| items.join(" OR ")),
        ]
    }

    fn doc() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        let words = |n| proptest::collection::vec(0..WORDS.len(), n);
        (words(0..4), words(0..24))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn scores_are_fts5s_own_bm25(docs in proptest::collection::vec(doc(), 1..40), q in query()) {
            let conn = table(&docs);
            let parsed = hippo_search::parse(&q, hippo_search::Limits::default()).unwrap();
            let req = SearchRequest {
                key_weight: 4.0,
                ..SearchRequest::new(parsed.clone(), 20)
            };
            let ours = ranked(&conn, &req, &DocFrequencies::default()).unwrap();
            let theirs = fts5_bm25(&conn, &parsed);
            prop_assert_eq!(ours.len(), theirs.len());
            for ((a, x), (b, y)) in ours.iter().zip(&theirs) {
                prop_assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{q}: {a} {x} vs {b} {y}");
            }
        }
    }

    #[test]
    fn indexing_keeps_fts5s_own_length_beside_the_id_and_a_tombstone_clears_it() {
        let conn = table(&[]);
        let id = RecordId::new();
        let mut body = serde_json::Map::new();
        body.insert("text".into(), "Chest pain, since Tuesday (3 days).".into());
        let input = RecordInput {
            record_type: "ClinicalNote".into(),
            subject: None,
            labels: Vec::new(),
            body,
        };
        let tokens = |conn: &Connection| -> Option<i64> {
            conn.query_row(
                "SELECT tokens FROM record_search_ids WHERE record_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .unwrap()
        };
        index(&conn, id, &input, false).unwrap();
        let rowid: i64 = conn
            .query_row("SELECT rowid FROM record_search", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tokens(&conn), Some(indexed_tokens(&conn, rowid).unwrap()));
        assert!(
            tokens(&conn).unwrap() >= 6,
            "every word of the note counted"
        );
        index(&conn, id, &input, true).unwrap();
        assert_eq!(
            tokens(&conn),
            None,
            "a deleted record has no indexed length"
        );
    }

    #[test]
    fn the_averages_record_gives_rows_and_tokens() {
        let empty = table(&[]);
        assert_eq!(corpus(&empty).unwrap(), Corpus { rows: 0, tokens: 0 });
        let f = DocFrequencies::default();
        let q = hippo_search::parse("quim*", Default::default()).unwrap();
        assert!(ranked(&empty, &SearchRequest::new(q, 20), &f)
            .unwrap()
            .is_empty());
        let conn = table(&[(vec![0], vec![1, 2]), (vec![], vec![3])]);
        assert_eq!(corpus(&conn).unwrap(), Corpus { rows: 2, tokens: 4 });
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x80]), None);
    }

    #[test]
    fn row_counts_are_kept_by_a_keyed_hash_and_refreshed_after_their_age() {
        let conn = table(&[(vec![0], vec![]), (vec![], vec![0])]);
        let f = DocFrequencies::default();
        let smith = &rank::phrases(&hippo_search::parse("smith", Default::default()).unwrap())[0];
        assert_eq!(f.rows_with(&conn, smith).unwrap(), 2);
        conn.execute(
            "INSERT INTO record_search (rowid, key, text, record_id) VALUES (9, 'smith', '', 'r9')",
            [],
        )
        .unwrap();
        assert_eq!(f.rows_with(&conn, smith).unwrap(), 2, "cached");
        for (_, at) in f.lock().values_mut() {
            *at -= FREQUENCY_MAX_AGE;
        }
        assert_eq!(
            f.rows_with(&conn, smith).unwrap(),
            3,
            "counted again once stale"
        );
    }
}
