//! Audit events in SQLite: sealed (see [`crate::audit_log`]), appended with a dense sequence
//! number, integrated into the log's Merkle tree in the same transaction, and read with keyset
//! pagination.

pub use crate::audit_log::LogCtx;
use crate::audit_log::{peaks_to_text, seal_run, tree_from_text};
use crate::sql::{audit_query, overfetched_page, Placeholders};
use crate::store::{AuditQuery, LogLeaf};
use crate::StoreError;
use hippo_audit::merkle::{CompactTree, Hash};
use hippo_audit::tree_head::{AuditSigningKey, SignedTreeHead, TreeHead};
use hippo_core::{Action, AuditDraft, AuditEvent, Outcome, Page};
use rusqlite::{params, Connection, Row};

/// A log as one embedded database keeps it: the context both stores share, plus whether this
/// database notes its events in a backup journal (tenant databases do; the catalog is backed up
/// whole).
pub struct DbLog {
    ctx: LogCtx,
    backup_journal: bool,
}

impl DbLog {
    pub(super) fn new(ctx: LogCtx, backup_journal: bool) -> Self {
        Self {
            ctx,
            backup_journal,
        }
    }
}

impl std::ops::Deref for DbLog {
    type Target = LogCtx;
    fn deref(&self) -> &LogCtx {
        &self.ctx
    }
}

fn audit_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::AuditFailed(e.to_string())
}

/// Appends `draft` as the next event of this database's log and returns its sequence number.
pub fn insert(conn: &Connection, log: &DbLog, draft: AuditDraft) -> Result<i64, StoreError> {
    insert_all(conn, log, vec![draft])
}

/// Appends `drafts` as the next events of this database's log, in order, reading and storing
/// the compact tree once for all of them (a batch writes one event per item); returns the
/// sequence number of the first.
pub fn insert_all(
    conn: &Connection,
    log: &DbLog,
    drafts: Vec<AuditDraft>,
) -> Result<i64, StoreError> {
    let time_ms = hippo_core::time_fmt::now_millis();
    // Writes to one database are serialised by its writer (and by SQLite's write lock across
    // processes), so MAX(seq)+1 yields a gap-free sequence.
    let first: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(audit_failed)?;
    let mut tree = load_tree(conn)?;
    let sealed = seal_run(log, &mut tree, first, drafts, time_ms)?;
    save_tree(conn, &tree)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit_events (seq, time_ms, tenant, actor_id, actor_kind, action, resource_type,
            resource_id, subject_id, outcome, request_id, source_addr, user_agent, details, labels, leaf_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .map_err(audit_failed)?;
    for (e, leaf) in sealed {
        stmt.execute(params![
            e.seq,
            e.time_ms,
            e.tenant,
            e.actor_id,
            e.actor_kind.as_str(),
            e.action.as_str(),
            e.resource_type,
            e.resource_id,
            e.subject_id,
            e.outcome.as_str(),
            e.request_id,
            e.source_addr,
            e.user_agent,
            e.details.to_string(),
            serde_json::to_string(&e.labels).expect("labels serialise"),
            leaf.as_slice(),
        ])
        .map_err(audit_failed)?;
        if log.backup_journal {
            super::backup::note(conn, super::backup::Noted::Event, None, Some(e.seq))
                .map_err(audit_failed)?;
        }
    }
    Ok(first)
}

/// Stores the compact tree the event just advanced.
pub(super) fn save_tree(conn: &Connection, tree: &CompactTree) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE audit_tree SET size = ?1, peaks = ?2 WHERE id = 1")
        .and_then(|mut s| s.execute(params![tree.size() as i64, peaks_to_text(tree)]))
        .map_err(audit_failed)?;
    Ok(())
}

pub fn load_tree(conn: &Connection) -> Result<CompactTree, StoreError> {
    let (size, peaks): (i64, String) = conn
        .prepare_cached("SELECT size, peaks FROM audit_tree WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(audit_failed)?;
    tree_from_text(size, &peaks)
}

/// Signs the current tree (unless the newest head already covers it) and stores the head.
pub fn sign_tree_head(
    conn: &Connection,
    log: &LogCtx,
    key: &AuditSigningKey,
) -> Result<SignedTreeHead, StoreError> {
    let tree = load_tree(conn)?;
    if let Some(latest) = tree_heads(conn)?.pop() {
        if latest.head.tree_size == tree.size() {
            return Ok(latest);
        }
    }
    let now = hippo_core::time_fmt::now_millis() as u64;
    let head = TreeHead::new(log.log_id.to_string(), tree.size(), tree.root(), now)
        .map_err(audit_failed)?;
    let sth = key.sign(head).map_err(audit_failed)?;
    conn.execute(
        "INSERT INTO tree_heads (tree_size, timestamp_ms, sth) VALUES (?1, ?2, ?3)",
        params![tree.size() as i64, now as i64, sth.to_json()],
    )?;
    Ok(sth)
}

/// Every stored tree head, smallest first.
pub fn tree_heads(conn: &Connection) -> Result<Vec<SignedTreeHead>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT sth FROM tree_heads ORDER BY tree_size")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| {
        let json = r?;
        SignedTreeHead::from_json(&json)
            .map_err(|e| StoreError::Corrupt(format!("a stored tree head is malformed: {e}")))
    })
    .collect()
}

/// Events after `after_seq` in stored order (by sequence number), as the verifier sees them:
/// their canonical bytes recomputed from the stored columns, and the stored leaf hash.
pub fn leaves(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<LogLeaf>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, leaf_hash FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
        let e = row_to_event(r)?;
        let stored: Vec<u8> = r.get(15)?;
        Ok((e, stored))
    })?;
    rows.map(|row| {
        let (e, stored) = row?;
        crate::audit_log::log_leaf(&e, &stored)
    })
    .collect()
}

/// Leaf hashes of events `first_seq..=last_seq` (see [`crate::Store::audit_leaf_hashes`]).
pub fn leaf_hashes(
    conn: &Connection,
    first_seq: i64,
    last_seq: i64,
) -> Result<Vec<Hash>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, leaf_hash FROM audit_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![first_seq, last_seq], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(i64, Vec<u8>)>, _>>()?;
    crate::audit_log::leaf_hash_range(rows, first_seq, last_seq)
}

/// Cached chunk roots `first..=last` (see [`crate::Store::audit_chunk_roots`]).
pub fn chunk_roots(
    conn: &Connection,
    first: u64,
    last: u64,
) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT chunk, root FROM audit_chunks WHERE chunk BETWEEN ?1 AND ?2 ORDER BY chunk",
    )?;
    let rows = stmt
        .query_map(params![first as i64, last as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<(i64, Vec<u8>)>, _>>()?;
    crate::audit_log::chunk_rows(rows)
}

/// Caches chunk roots; existing ones are kept.
pub fn put_chunk_roots(conn: &Connection, roots: &[(u64, Hash)]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO audit_chunks (chunk, root) VALUES (?1, ?2)")?;
    for (chunk, root) in roots {
        stmt.execute(params![*chunk as i64, root.as_slice()])?;
    }
    Ok(())
}

const COLUMNS: &str =
    "seq, time_ms, tenant, actor_id, actor_kind, action, resource_type, resource_id,
    subject_id, outcome, request_id, source_addr, user_agent, details, labels";

/// Reads a page of events in sequence order.
pub fn list(
    conn: &Connection,
    log: &LogCtx,
    q: &AuditQuery,
) -> Result<Page<AuditEvent>, StoreError> {
    let base = format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1");
    let emergency = "json_extract(details, '$.emergency') = 1";
    let token = |s: &str| log.subject_token(s);
    let q2 = audit_query(&base, Placeholders::Question, vec![], q, token, emergency);
    let items = conn
        .prepare_cached(&q2.sql)?
        .query_map(super::records::params_from(&q2.args), row_to_event)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(overfetched_page(items, q.limit, |e| e.seq.to_string()))
}

fn row_to_event(r: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            what.to_owned().into(),
        )
    };
    let actor_kind: String = r.get(4)?;
    let action: String = r.get(5)?;
    let outcome: String = r.get(9)?;
    let details: String = r.get(13)?;
    let labels: String = r.get(14)?;
    Ok(AuditEvent {
        seq: r.get(0)?,
        time_ms: r.get(1)?,
        tenant: r.get(2)?,
        actor_id: r.get(3)?,
        actor_kind: serde_json::from_value(serde_json::Value::String(actor_kind))
            .map_err(|_| bad(4, "unknown actor kind"))?,
        action: Action::parse(&action).ok_or_else(|| bad(5, "unknown action"))?,
        resource_type: r.get(6)?,
        resource_id: r.get(7)?,
        subject_id: r.get(8)?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| bad(9, "unknown outcome"))?,
        request_id: r.get(10)?,
        source_addr: r.get(11)?,
        user_agent: r.get(12)?,
        details: serde_json::from_str(&details).map_err(|_| bad(13, "details are not JSON"))?,
        labels: serde_json::from_str(&labels).map_err(|_| bad(14, "labels are not JSON"))?,
    })
}

/// Runs `op` in a savepoint and appends `draft` whatever it returns: the change and its audit
/// event commit together, and a rejected operation still leaves its event. Only a failure to
/// write the event itself (the outer `Err`) aborts the job.
pub fn audited<T>(
    conn: &Connection,
    log: &DbLog,
    mut draft: AuditDraft,
    op: impl FnOnce(&Connection, &mut AuditDraft) -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    conn.execute_batch("SAVEPOINT op").map_err(audit_failed)?;
    let result = op(conn, &mut draft);
    match &result {
        Ok(_) => conn.execute_batch("RELEASE op").map_err(audit_failed)?,
        Err(e) => {
            conn.execute_batch("ROLLBACK TO op; RELEASE op")
                .map_err(audit_failed)?;
            draft.failed(Outcome::Error, e.reason());
        }
    }
    insert(conn, log, draft)?;
    Ok(result)
}
