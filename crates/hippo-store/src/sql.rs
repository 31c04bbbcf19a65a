//! SQL that both backends build alike, written once: filters appended with their parameters in
//! either placeholder style, the audit trail's query, and pages assembled from an over-fetch.
//! Pure: no I/O; each backend binds the parameters its own way.

use crate::store::AuditQuery;
use hippo_core::Page;

/// How a backend writes bind parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?` (SQLite).
    Question,
    /// `$1`, `$2`, ... (PostgreSQL).
    Numbered,
}

/// A bind parameter of a built query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlArg {
    Text(String),
    Int(i64),
}

/// SQL text with its parameters, in one placeholder style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlQuery {
    pub sql: String,
    pub args: Vec<SqlArg>,
    style: Placeholders,
}

impl SqlQuery {
    /// Starts from `sql`, which already uses `bound` parameters.
    pub fn new(sql: impl Into<String>, style: Placeholders, bound: Vec<SqlArg>) -> Self {
        Self {
            sql: sql.into(),
            args: bound,
            style,
        }
    }

    /// Appends `clause`, in which `{}` stands for the next parameter, bound to `arg`.
    pub fn push(&mut self, clause: &str, arg: SqlArg) -> &mut Self {
        self.args.push(arg);
        let mark = match self.style {
            Placeholders::Question => "?".to_owned(),
            Placeholders::Numbered => format!("${}", self.args.len()),
        };
        self.sql.push_str(&clause.replacen("{}", &mark, 1));
        self
    }

    /// Appends `clause` with `arg` if there is one.
    pub fn push_opt(&mut self, clause: &str, arg: Option<SqlArg>) -> &mut Self {
        if let Some(a) = arg {
            self.push(clause, a);
        }
        self
    }

    /// Appends fixed SQL.
    pub fn raw(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }
}

/// Builds a page from rows fetched with `LIMIT limit + 1`: the extra row only says that another
/// page exists; the cursor is the position (`position`) of the page's last row.
pub fn overfetched_page<T>(
    mut rows: Vec<T>,
    limit: usize,
    position: impl Fn(&T) -> String,
) -> Page<T> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last()
            .map(|r| hippo_core::cursor::encode(&position(r)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// The audit trail's query: events of one log after `q.after_seq`, matching `q`'s filters, in
/// sequence order, over-fetching one row. `base` selects from the events table and may already
/// bind parameters (`bound`); `subject_token` hashes a subject as the log stores it;
/// `emergency` is the backend's SQL for "the event's details mark it as break-glass".
pub fn audit_query(
    base: &str,
    style: Placeholders,
    bound: Vec<SqlArg>,
    q: &AuditQuery,
    subject_token: impl Fn(&str) -> String,
    emergency: &str,
) -> SqlQuery {
    let mut s = SqlQuery::new(base, style, bound);
    s.push(" AND seq > {}", SqlArg::Int(q.after_seq.unwrap_or(0)))
        .push_opt(" AND tenant = {}", q.tenant.clone().map(SqlArg::Text))
        .push_opt(" AND action = {}", q.action.clone().map(SqlArg::Text))
        .push_opt(" AND actor_id = {}", q.actor_id.clone().map(SqlArg::Text))
        .push_opt(
            " AND outcome = {}",
            q.outcome.map(|o| SqlArg::Text(o.as_str().into())),
        )
        .push_opt(
            " AND resource_id = {}",
            q.resource_id.clone().map(SqlArg::Text),
        )
        .push_opt(
            " AND subject_id = {}",
            q.subject_id
                .as_deref()
                .map(|v| SqlArg::Text(subject_token(v))),
        )
        .push_opt(" AND time_ms >= {}", q.from_ms.map(SqlArg::Int))
        .push_opt(" AND time_ms < {}", q.to_ms.map(SqlArg::Int));
    if q.record_access_only {
        s.raw(" AND resource_type = 'record'");
    }
    if q.emergency_only {
        s.raw(" AND ").raw(emergency);
    }
    s.push(" ORDER BY seq LIMIT {}", SqlArg::Int(q.limit as i64 + 1));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use hippo_core::Outcome;

    #[test]
    fn audit_query_in_both_styles() {
        let q = AuditQuery {
            after_seq: Some(7),
            limit: 50,
            outcome: Some(Outcome::Denied),
            subject_id: Some("MRN-1".into()),
            emergency_only: true,
            ..AuditQuery::default()
        };
        let token = |s: &str| format!("hmac:{}", s.len());
        let a = audit_query(
            "SELECT e WHERE 1 = 1",
            Placeholders::Question,
            vec![],
            &q,
            token,
            "E",
        );
        assert_eq!(
            a.sql,
            "SELECT e WHERE 1 = 1 AND seq > ? AND outcome = ? AND subject_id = ? AND E ORDER BY seq LIMIT ?"
        );
        assert_eq!(
            a.args,
            vec![
                SqlArg::Int(7),
                SqlArg::Text("denied".into()),
                SqlArg::Text("hmac:5".into()),
                SqlArg::Int(51)
            ]
        );
        let b = audit_query(
            "SELECT e WHERE log_id = $1",
            Placeholders::Numbered,
            vec![SqlArg::Text("t".into())],
            &q,
            token,
            "E",
        );
        assert!(
            b.sql.ends_with(
                "seq > $2 AND outcome = $3 AND subject_id = $4 AND E ORDER BY seq LIMIT $5"
            ),
            "{}",
            b.sql
        );
    }

    #[test]
    fn overfetch_gives_a_cursor_only_when_more_exist() {
        let p = overfetched_page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_cursor, Some(hippo_core::cursor::encode("2")));
        let p = overfetched_page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((p.items.len(), p.next_cursor), (2, None));
    }
}
