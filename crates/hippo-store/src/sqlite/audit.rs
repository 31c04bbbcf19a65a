//! Audit events in SQLite: appended with a dense sequence number, read with keyset pagination.

use crate::store::AuditQuery;
use crate::StoreError;
use hippo_core::principal::ActorKind;
use hippo_core::{Action, AuditDraft, AuditEvent, Outcome, Page};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, Row};

/// Appends `draft` as the next event of this database's log and returns its sequence number.
pub fn insert(conn: &Connection, draft: AuditDraft) -> Result<i64, StoreError> {
    let time_ms = hippo_core::time_fmt::now_millis();
    // Writes to one database are serialised by its writer (and by SQLite's write lock across
    // processes), so MAX(seq)+1 yields a gap-free sequence.
    let seq: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events",
            [],
            |r| r.get(0),
        )
        .map_err(audit_failed)?;
    let e = draft.into_event(seq, time_ms);
    conn.execute(
        "INSERT INTO audit_events (seq, time_ms, tenant, actor_id, actor_kind, action, resource_type,
            resource_id, subject_id, outcome, request_id, source_addr, user_agent, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
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
        ],
    )
    .map_err(audit_failed)?;
    Ok(seq)
}

fn audit_failed(e: rusqlite::Error) -> StoreError {
    StoreError::AuditFailed(e.to_string())
}

/// Reads a page of events in sequence order.
pub fn list(conn: &Connection, q: &AuditQuery) -> Result<Page<AuditEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, time_ms, tenant, actor_id, actor_kind, action, resource_type, resource_id,
                subject_id, outcome, request_id, source_addr, user_agent, details
         FROM audit_events WHERE seq > ?",
    );
    let mut args: Vec<SqlValue> = vec![SqlValue::Integer(q.after_seq.unwrap_or(0))];
    let mut filter = |clause: &str, v: Option<SqlValue>| {
        if let Some(v) = v {
            sql.push_str(clause);
            args.push(v);
        }
    };
    filter(" AND tenant = ?", q.tenant.clone().map(SqlValue::Text));
    filter(" AND action = ?", q.action.clone().map(SqlValue::Text));
    filter(" AND actor_id = ?", q.actor_id.clone().map(SqlValue::Text));
    filter(
        " AND outcome = ?",
        q.outcome.map(|o| SqlValue::Text(o.as_str().into())),
    );
    filter(
        " AND resource_id = ?",
        q.resource_id.clone().map(SqlValue::Text),
    );
    filter(
        " AND subject_id = ?",
        q.subject_id.clone().map(SqlValue::Text),
    );
    filter(" AND time_ms >= ?", q.from_ms.map(SqlValue::Integer));
    filter(" AND time_ms < ?", q.to_ms.map(SqlValue::Integer));
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(SqlValue::Integer(q.limit as i64 + 1));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut items = stmt
        .query_map(rusqlite::params_from_iter(args), row_to_event)?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > q.limit {
        items.truncate(q.limit);
        items
            .last()
            .map(|e| hippo_core::cursor::encode(&e.seq.to_string()))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
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
    Ok(AuditEvent {
        seq: r.get(0)?,
        time_ms: r.get(1)?,
        tenant: r.get(2)?,
        actor_id: r.get(3)?,
        actor_kind: serde_json::from_value(serde_json::Value::String(actor_kind))
            .unwrap_or(ActorKind::Anonymous),
        action: Action::parse(&action).ok_or_else(|| bad(5, "unknown action"))?,
        resource_type: r.get(6)?,
        resource_id: r.get(7)?,
        subject_id: r.get(8)?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| bad(9, "unknown outcome"))?,
        request_id: r.get(10)?,
        source_addr: r.get(11)?,
        user_agent: r.get(12)?,
        details: serde_json::from_str(&details).map_err(|_| bad(13, "details are not JSON"))?,
    })
}

/// Runs `op` in a savepoint and appends `draft` whatever it returns: the change and its audit
/// event commit together, and a rejected operation still leaves its event. Only a failure to
/// write the event itself (the outer `Err`) aborts the job.
pub fn audited<T>(
    conn: &Connection,
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
    insert(conn, draft)?;
    Ok(result)
}
