//! Audit events in PostgreSQL: appended with a dense per-log sequence number, read with keyset
//! pagination. The log is a tenant id, or [`SYSTEM`] for events without a (known) tenant.

use super::errors;
use crate::store::AuditQuery;
use crate::StoreError;
use hippo_core::principal::ActorKind;
use hippo_core::{Action, AuditDraft, AuditEvent, Outcome, Page};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection, Row};

/// The system log's id and the catalog's row-level-security scope. Not a valid tenant id
/// (tenant ids cannot contain '.'), so no tenant can ever be bound to it.
pub const SYSTEM: &str = ".system";

/// Appends `draft` to `log` and returns its sequence number, in one statement: bumping the
/// log's counter row locks it until this transaction ends, so numbers follow commit order and
/// a rolled-back event gives its number back.
pub async fn insert(c: &mut PgConnection, log: &str, draft: AuditDraft) -> Result<i64, StoreError> {
    let time_ms = hippo_core::time_fmt::now_millis();
    let e = draft.into_event(0, time_ms);
    sqlx::query_scalar(
        "WITH next AS (
             INSERT INTO hippo.audit_logs AS l (log_id, last_seq) VALUES ($1, 1)
             ON CONFLICT (log_id) DO UPDATE SET last_seq = l.last_seq + 1
             RETURNING last_seq)
         INSERT INTO hippo.audit_events (log_id, seq, time_ms, tenant, actor_id, actor_kind, action,
             resource_type, resource_id, subject_id, outcome, request_id, source_addr, user_agent, details, labels)
         SELECT $1, next.last_seq, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM next
         RETURNING seq",
    )
    .bind(log)
    .bind(e.time_ms)
    .bind(e.tenant)
    .bind(e.actor_id)
    .bind(e.actor_kind.as_str())
    .bind(e.action.as_str())
    .bind(e.resource_type)
    .bind(e.resource_id)
    .bind(e.subject_id)
    .bind(e.outcome.as_str())
    .bind(e.request_id)
    .bind(e.source_addr)
    .bind(e.user_agent)
    .bind(e.details.to_string())
    .bind(serde_json::to_string(&e.labels).expect("labels serialise"))
    .fetch_one(c)
    .await
    .map_err(errors::audit)
}

/// Reads a page of `log` in sequence order.
pub async fn list(
    c: &mut PgConnection,
    log: &str,
    q: &AuditQuery,
) -> Result<Page<AuditEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, time_ms, tenant, actor_id, actor_kind, action, resource_type, resource_id,
                subject_id, outcome, request_id, source_addr, user_agent, details, labels
         FROM hippo.audit_events WHERE log_id = $1 AND seq > $2",
    );
    let mut args = PgArguments::default();
    let bind_err = |_| StoreError::Database("cannot bind an audit query parameter".into());
    args.add(log).map_err(bind_err)?;
    args.add(q.after_seq.unwrap_or(0)).map_err(bind_err)?;
    let mut n = 2;
    let mut text = |col: &str, v: Option<String>, args: &mut PgArguments| {
        if let Some(v) = v {
            n += 1;
            sql.push_str(&format!(" AND {col} = ${n}"));
            args.add(v).map_err(bind_err)?;
        }
        Ok::<_, StoreError>(())
    };
    text("tenant", q.tenant.clone(), &mut args)?;
    text("action", q.action.clone(), &mut args)?;
    text("actor_id", q.actor_id.clone(), &mut args)?;
    text(
        "outcome",
        q.outcome.map(|o| o.as_str().to_owned()),
        &mut args,
    )?;
    text("resource_id", q.resource_id.clone(), &mut args)?;
    text("subject_id", q.subject_id.clone(), &mut args)?;
    let mut time = |op: &str, v: Option<i64>, args: &mut PgArguments| {
        if let Some(v) = v {
            n += 1;
            sql.push_str(&format!(" AND time_ms {op} ${n}"));
            args.add(v).map_err(bind_err)?;
        }
        Ok::<_, StoreError>(())
    };
    time(">=", q.from_ms, &mut args)?;
    time("<", q.to_ms, &mut args)?;
    if q.record_access_only {
        sql.push_str(" AND resource_type = 'record'");
    }
    n += 1;
    sql.push_str(&format!(" ORDER BY seq LIMIT ${n}"));
    args.add(q.limit as i64 + 1).map_err(bind_err)?;
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    let mut items = rows
        .iter()
        .map(row_to_event)
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
