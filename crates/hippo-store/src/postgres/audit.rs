//! Audit events in PostgreSQL: sealed (see [`crate::audit_log`]), appended with a dense per-log
//! sequence number, integrated into the log's Merkle tree in the same transaction, signed into
//! tree heads, and read with keyset pagination. The log is a tenant id, or [`SYSTEM`] for
//! events without a (known) tenant.

use super::errors;
use crate::audit_log::{peaks_to_text, seal_run, tree_from_text, LogCtx};
use crate::sql::{audit_query, overfetched_page, Placeholders, SqlArg};
use crate::store::{AuditQuery, LogLeaf};
use crate::StoreError;
use hippo_audit::merkle::{CompactTree, Hash};
use hippo_audit::tree_head::{AuditSigningKey, SignedTreeHead, TreeHead};
use hippo_core::principal::ActorKind;
use hippo_core::{Action, AuditDraft, AuditEvent, Outcome, Page};
use sqlx::{PgConnection, Row};

/// The system log's id and the catalog's row-level-security scope. Not a valid tenant id
/// (tenant ids cannot contain '.'), so no tenant can ever be bound to it.
pub const SYSTEM: &str = hippo_core::LogId::SYSTEM;

/// Appends `drafts` to `log` in order, sealed and integrated into the log's Merkle tree, and
/// returns the sequence number of the first. Taking the log's counter row (bumped by the whole
/// run at once) locks it until this transaction ends, so events are numbered and integrated in
/// commit order across every instance (the row lock is the sequencer), and a rolled-back
/// transaction gives its numbers back. Two statements, however many events.
pub async fn append(
    c: &mut PgConnection,
    log: &LogCtx,
    drafts: Vec<AuditDraft>,
) -> Result<i64, StoreError> {
    let n = drafts.len() as i64;
    let time_ms = hippo_core::time_fmt::now_millis();
    let (last, size, peaks): (i64, i64, String) = sqlx::query_as(
        "INSERT INTO hippo.audit_logs AS l (log_id, last_seq) VALUES ($1, $2)
         ON CONFLICT (log_id) DO UPDATE SET last_seq = l.last_seq + $2
         RETURNING last_seq, tree_size, peaks",
    )
    .bind(log.log_id.as_str())
    .bind(n)
    .fetch_one(&mut *c)
    .await
    .map_err(errors::audit)?;
    let first = last - n + 1;
    let mut tree = tree_from_text(size, &peaks)?;
    let sealed = seal_run(log, &mut tree, first, drafts, time_ms)?;
    let mut cols = Columns::default();
    for (e, leaf) in sealed {
        cols.push(e, leaf);
    }
    sqlx::query(
        "WITH tree AS (
             UPDATE hippo.audit_logs SET tree_size = $2, peaks = $3 WHERE log_id = $1)
         INSERT INTO hippo.audit_events (log_id, seq, time_ms, tenant, actor_id, actor_kind, action,
             resource_type, resource_id, subject_id, outcome, request_id, source_addr, user_agent,
             details, labels, leaf_hash)
         SELECT $1, * FROM UNNEST($4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[],
             $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
             $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::BYTEA[])",
    )
    .bind(log.log_id.as_str())
    .bind(tree.size() as i64)
    .bind(peaks_to_text(&tree))
    .bind(cols.seq)
    .bind(cols.time_ms)
    .bind(cols.tenant)
    .bind(cols.actor_id)
    .bind(cols.actor_kind)
    .bind(cols.action)
    .bind(cols.resource_type)
    .bind(cols.resource_id)
    .bind(cols.subject_id)
    .bind(cols.outcome)
    .bind(cols.request_id)
    .bind(cols.source_addr)
    .bind(cols.user_agent)
    .bind(cols.details)
    .bind(cols.labels)
    .bind(cols.leaf_hash)
    .execute(c)
    .await
    .map_err(errors::audit)?;
    Ok(first)
}

/// Sealed events as one array per column, for a single multi-row insert.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    time_ms: Vec<i64>,
    tenant: Vec<Option<String>>,
    actor_id: Vec<String>,
    actor_kind: Vec<&'static str>,
    action: Vec<&'static str>,
    resource_type: Vec<String>,
    resource_id: Vec<Option<String>>,
    subject_id: Vec<Option<String>>,
    outcome: Vec<&'static str>,
    request_id: Vec<String>,
    source_addr: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    details: Vec<String>,
    labels: Vec<String>,
    leaf_hash: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, e: AuditEvent, leaf: Hash) {
        self.seq.push(e.seq);
        self.time_ms.push(e.time_ms);
        self.tenant.push(e.tenant);
        self.actor_id.push(e.actor_id);
        self.actor_kind.push(e.actor_kind.as_str());
        self.action.push(e.action.as_str());
        self.resource_type.push(e.resource_type);
        self.resource_id.push(e.resource_id);
        self.subject_id.push(e.subject_id);
        self.outcome.push(e.outcome.as_str());
        self.request_id.push(e.request_id);
        self.source_addr.push(e.source_addr);
        self.user_agent.push(e.user_agent);
        self.details.push(e.details.to_string());
        self.labels
            .push(serde_json::to_string(&e.labels).expect("labels serialise"));
        self.leaf_hash.push(leaf.to_vec());
    }
}

/// The log's compact tree as last committed (empty if the log has no event yet).
pub async fn load_tree(c: &mut PgConnection, log: &str) -> Result<CompactTree, StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT tree_size, peaks FROM hippo.audit_logs WHERE log_id = $1")
            .bind(log)
            .fetch_optional(c)
            .await
            .map_err(errors::db)?;
    match row {
        Some((size, peaks)) => tree_from_text(size, &peaks),
        None => Ok(CompactTree::new()),
    }
}

/// Signs the current tree unless the newest head already covers it. Two instances signing the
/// same size at once store one head (the first); both return that stored head.
pub async fn sign_tree_head(
    c: &mut PgConnection,
    log: &str,
    key: &AuditSigningKey,
) -> Result<SignedTreeHead, StoreError> {
    let tree = load_tree(&mut *c, log).await?;
    if let Some(latest) = tree_heads(&mut *c, log).await?.pop() {
        if latest.head.tree_size == tree.size() {
            return Ok(latest);
        }
    }
    let now = hippo_core::time_fmt::now_millis() as u64;
    let head = TreeHead::new(log, tree.size(), tree.root(), now)
        .map_err(|e| StoreError::AuditFailed(e.to_string()))?;
    let sth = key
        .sign(head)
        .map_err(|e| StoreError::AuditFailed(e.to_string()))?;
    sqlx::query(
        "INSERT INTO hippo.tree_heads (log_id, tree_size, timestamp_ms, sth) VALUES ($1, $2, $3, $4)
         ON CONFLICT (log_id, tree_size) DO NOTHING",
    )
    .bind(log)
    .bind(tree.size() as i64)
    .bind(now as i64)
    .bind(sth.to_json())
    .execute(&mut *c)
    .await
    .map_err(errors::audit)?;
    let stored: String =
        sqlx::query_scalar("SELECT sth FROM hippo.tree_heads WHERE log_id = $1 AND tree_size = $2")
            .bind(log)
            .bind(tree.size() as i64)
            .fetch_one(c)
            .await
            .map_err(errors::db)?;
    parse_head(&stored)
}

fn parse_head(json: &str) -> Result<SignedTreeHead, StoreError> {
    SignedTreeHead::from_json(json)
        .map_err(|e| StoreError::Corrupt(format!("a stored tree head is malformed: {e}")))
}

/// Every stored tree head of `log`, smallest first.
pub async fn tree_heads(
    c: &mut PgConnection,
    log: &str,
) -> Result<Vec<SignedTreeHead>, StoreError> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT sth FROM hippo.tree_heads WHERE log_id = $1 ORDER BY tree_size")
            .bind(log)
            .fetch_all(c)
            .await
            .map_err(errors::db)?;
    rows.iter().map(|j| parse_head(j)).collect()
}

/// Events after `after_seq` in stored order, as the verifier sees them: canonical bytes
/// recomputed from the stored columns, and the stored leaf hash.
/// Leaf hashes of events `first_seq..=last_seq` (see [`crate::Store::audit_leaf_hashes`]).
pub async fn leaf_hashes(
    c: &mut PgConnection,
    log: &str,
    first_seq: i64,
    last_seq: i64,
) -> Result<Vec<Hash>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, leaf_hash FROM hippo.audit_events
         WHERE log_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
    )
    .bind(log)
    .bind(first_seq)
    .bind(last_seq)
    .fetch_all(c)
    .await
    .map_err(errors::db)?;
    crate::audit_log::leaf_hash_range(rows, first_seq, last_seq)
}

/// Cached chunk roots `first..=last` (see [`crate::Store::audit_chunk_roots`]).
pub async fn chunk_roots(
    c: &mut PgConnection,
    log: &str,
    first: u64,
    last: u64,
) -> Result<Vec<(u64, Hash)>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT chunk, root FROM hippo.audit_chunks
         WHERE log_id = $1 AND chunk BETWEEN $2 AND $3 ORDER BY chunk",
    )
    .bind(log)
    .bind(first as i64)
    .bind(last as i64)
    .fetch_all(c)
    .await
    .map_err(errors::db)?;
    crate::audit_log::chunk_rows(rows)
}

/// Caches chunk roots in one statement; existing ones are kept.
pub async fn put_chunk_roots(
    c: &mut PgConnection,
    log: &str,
    roots: &[(u64, Hash)],
) -> Result<(), StoreError> {
    let chunks: Vec<i64> = roots.iter().map(|(c, _)| *c as i64).collect();
    let hashes: Vec<Vec<u8>> = roots.iter().map(|(_, h)| h.to_vec()).collect();
    sqlx::query(
        "INSERT INTO hippo.audit_chunks (log_id, chunk, root)
         SELECT $1, c, r FROM UNNEST($2::BIGINT[], $3::BYTEA[]) AS t(c, r)
         ON CONFLICT (log_id, chunk) DO NOTHING",
    )
    .bind(log)
    .bind(chunks)
    .bind(hashes)
    .execute(c)
    .await
    .map_err(errors::db)?;
    Ok(())
}

pub async fn leaves(
    c: &mut PgConnection,
    log: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<LogLeaf>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, leaf_hash FROM hippo.audit_events
         WHERE log_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    )))
    .bind(log)
    .bind(after_seq)
    .bind(limit as i64)
    .fetch_all(c)
    .await
    .map_err(errors::db)?;
    rows.iter()
        .map(|r| {
            let e = row_to_event(r)?;
            let stored: Vec<u8> = r.try_get(15).map_err(errors::db)?;
            crate::audit_log::log_leaf(&e, &stored)
        })
        .collect()
}

const COLUMNS: &str = "seq, time_ms, tenant, actor_id, actor_kind, action, resource_type,
    resource_id, subject_id, outcome, request_id, source_addr, user_agent, details, labels";

/// Reads a page of `log` in sequence order.
pub async fn list(
    c: &mut PgConnection,
    log: &LogCtx,
    q: &AuditQuery,
) -> Result<Page<AuditEvent>, StoreError> {
    let base = format!("SELECT {COLUMNS} FROM hippo.audit_events WHERE log_id = $1");
    let bound = vec![SqlArg::Text(log.log_id.to_string())];
    let emergency = "details::jsonb -> 'emergency' = 'true'::jsonb";
    let token = |s: &str| log.subject_token(s);
    let q2 = audit_query(&base, Placeholders::Numbered, bound, q, token, emergency);
    let rows = sqlx::query_with(
        sqlx::AssertSqlSafe(q2.sql),
        super::records::pg_args(q2.args)?,
    )
    .fetch_all(c)
    .await
    .map_err(errors::db)?;
    let items = rows
        .iter()
        .map(row_to_event)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(overfetched_page(items, q.limit, |e| e.seq.to_string()))
}

fn row_to_event(r: &sqlx::postgres::PgRow) -> Result<AuditEvent, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("a stored audit event has {what}"));
    let get = |e: sqlx::Error| errors::db(e);
    let actor_kind: String = r.try_get(4).map_err(get)?;
    let action: String = r.try_get(5).map_err(get)?;
    let outcome: String = r.try_get(9).map_err(get)?;
    let details: String = r.try_get(13).map_err(get)?;
    let labels: String = r.try_get(14).map_err(get)?;
    Ok(AuditEvent {
        seq: r.try_get(0).map_err(get)?,
        time_ms: r.try_get(1).map_err(get)?,
        tenant: r.try_get(2).map_err(get)?,
        actor_id: r.try_get(3).map_err(get)?,
        actor_kind: serde_json::from_value(serde_json::Value::String(actor_kind))
            .unwrap_or(ActorKind::Anonymous),
        action: Action::parse(&action).ok_or_else(|| corrupt("an unknown action"))?,
        resource_type: r.try_get(6).map_err(get)?,
        resource_id: r.try_get(7).map_err(get)?,
        subject_id: r.try_get(8).map_err(get)?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("an unknown outcome"))?,
        request_id: r.try_get(10).map_err(get)?,
        source_addr: r.try_get(11).map_err(get)?,
        user_agent: r.try_get(12).map_err(get)?,
        details: serde_json::from_str(&details)
            .map_err(|_| corrupt("details that are not JSON"))?,
        labels: serde_json::from_str(&labels).map_err(|_| corrupt("labels that are not JSON"))?,
    })
}
