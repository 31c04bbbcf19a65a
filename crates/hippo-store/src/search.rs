//! Full-text search, the part both stores decide alike: the request, the page, the ranking
//! order (score descending, then id) and its keyset cursor. Each backend keeps its index in the
//! same commit as the record write (SQLite FTS5 in the tenant's encrypted database; PostgreSQL
//! `tsvector` with a GIN index) and compiles the query with `hippo_search::compile`.

use crate::record_rules::IntegrityFailure;
use crate::StoreError;
use hippo_core::{AuditDraft, Record, RecordId};

/// The caller's view of a hit: the server's policy decision (with its field removals), made
/// once, inside the store, so that a withheld hit is neither returned, nor counted, nor named
/// in the search's audit event (an accounting of disclosures must list only what was
/// disclosed). `None` withholds the hit.
#[derive(Clone)]
pub struct Visible(pub std::sync::Arc<dyn Fn(Record) -> Option<Record> + Send + Sync>);

impl Visible {
    /// Every hit as stored (operators' tooling and store tests).
    pub fn all() -> Self {
        Self(std::sync::Arc::new(Some))
    }
}

impl std::fmt::Debug for Visible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Visible(..)")
    }
}

/// One search: a parsed query and the filters that narrow it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: hippo_search::Query,
    pub record_type: Option<String>,
    pub subject: Option<String>,
    pub label: Option<String>,
    pub updated_from_ms: Option<i64>,
    pub updated_to_ms: Option<i64>,
    /// Continue after this (score, id) of the previous page.
    pub after: Option<(f64, RecordId)>,
    pub limit: usize,
    /// Ranking budget: of more matches than this, the newest this many are ranked.
    pub rank_candidates: usize,
    /// How much more a match in the key text counts than one in the rest.
    pub key_weight: f64,
    /// The caller's view: hits it may not see are left out, and fields it may not see removed,
    /// before the page is described.
    pub visible: Visible,
}

impl SearchRequest {
    /// A search for `query` with no filters, the first page, and the configured ranking.
    pub fn new(query: hippo_search::Query, limit: usize) -> Self {
        let settings = hippo_search::settings();
        Self {
            query,
            record_type: None,
            subject: None,
            label: None,
            updated_from_ms: None,
            updated_to_ms: None,
            after: None,
            limit,
            rank_candidates: settings.rank_candidates,
            key_weight: settings.key_weight,
            visible: Visible::all(),
        }
    }

    /// True if any filter narrows the search beyond the query.
    pub fn filtered(&self) -> bool {
        self.record_type.is_some()
            || self.subject.is_some()
            || self.updated_from_ms.is_some()
            || self.updated_to_ms.is_some()
            || self.label.is_some()
    }
}

/// One page of results, best first.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub items: Vec<(Record, f64)>,
    pub unreadable: Vec<IntegrityFailure>,
    pub next_cursor: Option<String>,
}

/// Higher scores rank first; equal scores in id order. `true` if `(score, id)` comes after
/// `after` in that order (keyset pagination, identical on both stores).
pub fn comes_after(score: f64, id: &RecordId, after: &(f64, RecordId)) -> bool {
    score < after.0 || (score == after.0 && id.to_string() > after.1.to_string())
}

/// The opaque cursor of a result position.
pub fn cursor(score: f64, id: &RecordId) -> String {
    hippo_core::cursor::encode(&format!("{:016x}:{id}", score.to_bits()))
}

/// Reads a cursor this server issued.
pub fn parse_cursor(c: &str) -> Option<(f64, RecordId)> {
    let raw = hippo_core::cursor::decode(c).ok()?;
    let (bits, id) = raw.split_once(':')?;
    let score = f64::from_bits(u64::from_str_radix(bits, 16).ok()?);
    (score.is_finite()).then_some(())?;
    Some((score, id.parse().ok()?))
}

/// The hits of a page from an engine's rows, already in rank order: ids parsed, the keyset
/// rule applied (both stores alike), cut to the page; `true` if another page follows (the
/// engines return one row more than the page for this).
pub(crate) fn hits(
    rows: Vec<(String, f64)>,
    req: &SearchRequest,
) -> Result<(Vec<(RecordId, f64)>, bool), StoreError> {
    let mut hits = Vec::with_capacity(rows.len());
    for (id, score) in rows {
        let id: RecordId = id
            .parse()
            .map_err(|_| StoreError::Corrupt("a search index entry names no record".into()))?;
        if req
            .after
            .as_ref()
            .is_none_or(|a| comes_after(score, &id, a))
        {
            hits.push((id, score));
        }
    }
    let more = hits.len() > req.limit;
    hits.truncate(req.limit);
    Ok((hits, more))
}

impl SearchPage {
    /// Adds one hit as read back if the caller may see it: a record failing its integrity
    /// check is reported by id and version, not returned, and does not fail the page.
    pub(crate) fn add(
        &mut self,
        read: Result<Record, StoreError>,
        score: f64,
        visible: &Visible,
    ) -> Result<(), StoreError> {
        match read {
            Ok(r) => self.items.extend((visible.0)(r).map(|r| (r, score))),
            Err(StoreError::IntegrityFailed { id, version }) => {
                self.unreadable.push(IntegrityFailure { id, version })
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Sets the cursor after the page's last hit when another page follows.
    pub(crate) fn with_cursor(mut self, hits: &[(RecordId, f64)], more: bool) -> Self {
        if more {
            self.next_cursor = hits.last().map(|(id, score)| cursor(*score, id));
        }
        self
    }
}

/// One page of a search index rebuild (`hippo search reindex`): records re-indexed from their
/// current version, those whose current version fails its integrity check (their index entry
/// is left as it was), and where to continue.
#[derive(Debug, Clone, Default)]
pub struct ReindexPage {
    pub records: usize,
    pub unreadable: Vec<IntegrityFailure>,
    pub next: Option<RecordId>,
}

impl ReindexPage {
    /// Accounts for one record read back for re-indexing: `Some(record)` to index, `None` if it
    /// failed its integrity check (reported by id and version).
    pub(crate) fn take(
        &mut self,
        read: Result<Record, StoreError>,
    ) -> Result<Option<Record>, StoreError> {
        self.records += 1;
        match read {
            Ok(r) => Ok(Some(r)),
            Err(StoreError::IntegrityFailed { id, version }) => {
                self.unreadable.push(IntegrityFailure { id, version });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The input a record's current version was written from, to index it again.
pub(crate) fn input_of(r: &Record) -> hippo_core::RecordInput {
    hippo_core::RecordInput {
        record_type: r.record_type.clone(),
        subject: r.subject.clone(),
        labels: r.labels.clone(),
        body: r.body.clone(),
    }
}

/// What the audit event of a reindex page says: how many records, never their content.
pub fn describe_reindex(a: &mut AuditDraft, page: &ReindexPage) {
    a.detail("count", page.records);
    a.detail("unreadable", page.unreadable.len());
}

/// What the audit event of a search says: how many results and which (ids only, so an
/// accounting of disclosures shows what a search revealed). The query text itself is put in
/// the draft by the caller under the free-text key `q`, which the store redacts.
pub fn describe(a: &mut AuditDraft, page: &SearchPage) {
    a.detail("count", page.items.len());
    let ids: Vec<String> = page.items.iter().map(|(r, _)| r.id.to_string()).collect();
    a.detail("result_ids", ids);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_order_is_score_then_id() {
        let id = RecordId::new();
        assert_eq!(parse_cursor(&cursor(1.25, &id)), Some((1.25, id)));
        assert_eq!(parse_cursor("garbage"), None);
        let a = RecordId::new();
        let b = RecordId::new();
        assert!(comes_after(1.0, &a, &(2.0, b)));
        assert!(!comes_after(3.0, &a, &(2.0, b)));
        assert!(comes_after(2.0, &b, &(2.0, a)), "ids are v7: b after a");
    }
}
