//! The backup journal: which primary rows were appended since a point (tenant migration 6),
//! read with their contents for shipping, cut at whole jobs for a point in time, and applied to
//! a restored copy (idempotently, re-deriving what the journal does not carry).

use super::{has_journal, position, DbPosition};
use crate::sqlite::{audit, search};
use crate::StoreError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The tables whose appended rows the journal notes (tenant migration 6): how a journal entry
/// `j` names its row `t`, and the column that says when the row was written. Everything else
/// is derived.
type Journaled = (&'static str, &'static str, &'static str);
const JOURNALED: &[Journaled] = &[
    (
        "record_versions",
        "t.record_id = j.k_txt AND t.version = j.k_int",
        "written_at_ms",
    ),
    ("audit_events", "t.seq = j.k_int", "time_ms"),
    ("tree_heads", "t.tree_size = j.k_int", "timestamp_ms"),
    ("idempotency_keys", "t.key_hash = j.k_txt", "created_at_ms"),
];

/// A journaled table whose rows the inserting code notes itself (tenant migration 8 dropped
/// their triggers: a trigger made every insert open a statement journal, which made batches
/// quadratic). Tree heads, one a minute, keep their trigger.
#[derive(Clone, Copy)]
pub(crate) enum Noted {
    /// `record_versions`, keyed by record id and version.
    Version,
    /// `audit_events`, keyed by sequence number.
    Event,
    /// `idempotency_keys`, keyed by key hash.
    Key,
}

/// Notes an appended row of `table`, named by its text and integer key columns.
pub(crate) fn note(
    conn: &Connection,
    table: Noted,
    k_txt: Option<&str>,
    k_int: Option<i64>,
) -> Result<(), StoreError> {
    let tbl = match table {
        Noted::Version => "record_versions",
        Noted::Event => "audit_events",
        Noted::Key => "idempotency_keys",
    };
    conn.prepare_cached("INSERT INTO backup_journal (tbl, k_txt, k_int) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![tbl, k_txt, k_int])?;
    Ok(())
}

/// The key columns of each journaled table (a row already applied is recognised by them).
fn key_columns(table: &str) -> &'static [&'static str] {
    match table {
        "record_versions" => &["record_id", "version"],
        "audit_events" => &["seq"],
        "tree_heads" => &["tree_size"],
        _ => &["key_hash"],
    }
}

/// Whether the row `r` is already in the database (applied by an interrupted earlier run).
fn present(conn: &Connection, table: &str, r: &Map<String, Value>) -> Result<bool, StoreError> {
    let keys = key_columns(table);
    let filter: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ?{}", i + 1))
        .collect();
    let values = keys
        .iter()
        .map(|k| r.get(*k).map(from_json).unwrap_or(Ok(SqlValue::Null)))
        .collect::<Result<Vec<_>, _>>()?;
    let sql = format!("SELECT 1 FROM {table} WHERE {}", filter.join(" AND "));
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values.iter()), |_| Ok(()))
        .optional()?
        .is_some())
}

fn journaled(table: &str) -> Result<&'static Journaled, StoreError> {
    JOURNALED
        .iter()
        .find(|(t, _, _)| *t == table)
        .ok_or_else(|| StoreError::Corrupt(format!("backup row of unknown table {table:?}")))
}

/// One appended row, as shipped: its journal id, table and columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRow {
    pub id: i64,
    pub table: String,
    /// Column name to value; blobs as `{"b64": "..."}` (text columns are never objects).
    pub row: Map<String, Value>,
}

impl JournalRow {
    /// When the row was written (its table's time column).
    pub fn time_ms(&self) -> i64 {
        journaled(&self.table)
            .ok()
            .and_then(|(_, _, col)| self.row.get(*col))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// True for an audit event: the last row of every job (a job's changes come first).
    pub fn is_event(&self) -> bool {
        self.table == "audit_events"
    }
}

fn to_json(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => Value::from(f),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => serde_json::json!({ "b64": STANDARD.encode(b) }),
    }
}

fn from_json(v: &Value) -> Result<SqlValue, StoreError> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) => {
            match o.get("b64").and_then(Value::as_str) {
                Some(b) => SqlValue::Blob(STANDARD.decode(b).map_err(|_| {
                    StoreError::Corrupt("a backup row has a malformed blob".into())
                })?),
                None => {
                    return Err(StoreError::Corrupt(
                        "a backup row has an object value".into(),
                    ))
                }
            }
        }
        _ => {
            return Err(StoreError::Corrupt(
                "a backup row has an unsupported value".into(),
            ))
        }
    })
}

/// The journal rows after `after`, at most `limit`, with the database's position in the same
/// read transaction (so when fewer than `limit` rows come back, the position is exactly where
/// those rows bring a copy). One joined statement per table, not one lookup per entry.
pub fn read_journal(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<(Vec<JournalRow>, DbPosition), StoreError> {
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let through: Option<i64> = conn
            .prepare_cached(
                "SELECT max(id) FROM (SELECT id FROM backup_journal WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .query_row(rusqlite::params![after, limit as i64], |r| r.get(0))?;
        let Some(through) = through else {
            return Ok((Vec::new(), position(conn)?));
        };
        let mut rows = std::collections::BTreeMap::new();
        for (table, on, _) in JOURNALED {
            let sql = format!(
                "SELECT j.id, t.* FROM backup_journal j JOIN {table} t ON {on}
                 WHERE j.id > ?1 AND j.id <= ?2 AND j.tbl = '{table}'"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let names: Vec<String> = stmt
                .column_names()
                .iter()
                .skip(1)
                .map(|s| s.to_string())
                .collect();
            let found = stmt.query_map(rusqlite::params![after, through], |r| {
                let mut m = Map::new();
                for (i, n) in names.iter().enumerate() {
                    m.insert(n.clone(), to_json(r.get::<_, SqlValue>(i + 1)?));
                }
                Ok((r.get::<_, i64>(0)?, m))
            })?;
            for f in found {
                let (id, row) = f?;
                rows.insert(
                    id,
                    JournalRow {
                        id,
                        table: table.to_string(),
                        row,
                    },
                );
            }
        }
        let expected = (through - after) as usize;
        if rows.len() != expected {
            let entries: i64 = conn.query_row(
                "SELECT count(*) FROM backup_journal WHERE id > ?1 AND id <= ?2",
                rusqlite::params![after, through],
                |r| r.get(0),
            )?;
            if entries as usize != rows.len() {
                return Err(StoreError::Corrupt(format!(
                    "backup journal entries {}..={through} name {} row(s) that are missing",
                    after + 1,
                    entries as usize - rows.len().min(entries as usize)
                )));
            }
        }
        Ok((rows.into_values().collect(), position(conn)?))
    })();
    let _ = conn.execute_batch("COMMIT");
    result
}

/// Forgets journal entries up to `through` (every sink holds them).
pub fn prune_journal(conn: &Connection, through: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM backup_journal WHERE id <= ?1", [through])?)
}

/// How many leading rows of `rows` are whole jobs written by `until_ms` (`i64::MAX`: all whole
/// jobs). Rows are cut before the first one written after that moment, then back to the last
/// complete job: a job's changes precede its audit event, so rows after the last kept event
/// belong to a job whose event is not kept (or not yet shipped: a batch may end inside a
/// transaction). Tree heads are jobs of their own.
pub fn whole_jobs(rows: &[JournalRow], until_ms: i64) -> usize {
    let mut keep = rows
        .iter()
        .position(|r| r.time_ms() > until_ms)
        .unwrap_or(rows.len());
    while keep > 0 {
        let r = &rows[keep - 1];
        if r.is_event() || r.table == "tree_heads" {
            break;
        }
        keep -= 1;
    }
    keep
}

fn check_identifier(name: &str) -> Result<(), StoreError> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "a backup row names a bad column {name:?}"
        )))
    }
}

/// Applies shipped rows to a restored tenant database in one transaction: inserts each row,
/// keeps the current record rows and the compact audit tree in step, and re-indexes the
/// records touched for search. An event out of sequence is refused (the chain has a gap). A row
/// already present (applied by an interrupted earlier run) is skipped, so a resumed restore
/// may apply a batch again.
pub fn apply_rows(conn: &Connection, rows: &[JournalRow]) -> Result<usize, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let mut tree = audit::load_tree(conn)?;
        let mut touched = BTreeSet::new();
        for r in rows {
            let (table, _, _) = journaled(&r.table)?;
            if present(conn, table, &r.row)? {
                continue;
            }
            if *table == "record_versions" {
                touch_record(conn, &r.row)?;
                if let Some(id) = r.row.get("record_id").and_then(Value::as_str) {
                    touched.insert(id.to_owned());
                }
            }
            if *table == "audit_events" {
                let seq = r.row.get("seq").and_then(Value::as_i64).unwrap_or(0);
                if seq as u64 != tree.size() + 1 {
                    return Err(StoreError::Corrupt(format!(
                        "backup rows skip audit events: event {seq} follows event {}",
                        tree.size()
                    )));
                }
                let leaf = match r.row.get("leaf_hash").map(from_json).transpose()? {
                    Some(SqlValue::Blob(b)) if b.len() == 32 => {
                        <[u8; 32]>::try_from(b.as_slice()).expect("32 bytes")
                    }
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "audit event {seq} has no leaf hash"
                        )))
                    }
                };
                tree.push_leaf_hash(leaf);
            }
            let names: Vec<&String> = r.row.keys().collect();
            for n in &names {
                check_identifier(n)?;
            }
            let values = r
                .row
                .values()
                .map(from_json)
                .collect::<Result<Vec<_>, _>>()?;
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                (1..=names.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            conn.prepare_cached(&sql)?
                .execute(params_from_iter(values.iter()))
                .map_err(|e| {
                    StoreError::Corrupt(format!(
                        "backup row {} of {table} does not apply: {e}",
                        r.id
                    ))
                })?;
        }
        audit::save_tree(conn, &tree)?;
        for id in touched {
            search::reindex_one(conn, crate::record_rules::stored_id(&id)?)?;
        }
        Ok(rows.len())
    })();
    match result {
        Ok(n) => {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The current-record row a version implies: created by version 1, updated by every version.
fn touch_record(conn: &Connection, v: &Map<String, Value>) -> Result<(), StoreError> {
    let get = |k: &str| {
        v.get(k)
            .map(from_json)
            .transpose()
            .map(|x| x.unwrap_or(SqlValue::Null))
    };
    conn.prepare_cached(
        "INSERT INTO records (id, record_type, subject, version, deleted, created_at_ms, created_by, updated_at_ms, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, version = excluded.version,
           deleted = excluded.deleted, updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by
         WHERE excluded.version > records.version",
    )?
    .execute(params_from_iter([
        get("record_id")?,
        get("record_type")?,
        get("subject")?,
        get("version")?,
        get("deleted")?,
        get("written_at_ms")?,
        get("written_by")?,
    ]))?;
    Ok(())
}

/// Empties the journal of a restored database: its entries describe the source's shipping.
pub fn reset_journal(conn: &Connection) -> Result<(), StoreError> {
    if has_journal(conn)? {
        conn.execute("DELETE FROM backup_journal", [])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, table: &str, time: i64) -> JournalRow {
        let (_, _, col) = journaled(table).unwrap();
        let mut m = Map::new();
        m.insert(col.to_string(), Value::from(time));
        JournalRow {
            id,
            table: table.into(),
            row: m,
        }
    }

    fn journal_entries(conn: &Connection) -> Vec<(String, Option<String>, Option<i64>)> {
        conn.prepare("SELECT tbl, k_txt, k_int FROM backup_journal ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn each_version_and_key_is_noted_once_and_no_trigger_forces_statement_journals() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrations::apply(&conn, crate::sqlite::migrations::TENANT).unwrap();
        // Triggers on the per-item tables made every batch item open a statement journal
        // (tenant migration 8): batch ingest fell from 7,600 to 1,900 records/s. The audit
        // event is noted by `audit::insert` (its log knows the database has a journal).
        let triggers: Vec<String> = conn
            .prepare(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%INSERT ON%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            triggers,
            ["tree_heads"],
            "only the one-a-minute table keeps a trigger"
        );
        let input = hippo_core::RecordInput {
            record_type: "Note".into(),
            subject: Some("s-1".into()),
            labels: vec![],
            body: serde_json::json!({"text": "x"})
                .as_object()
                .unwrap()
                .clone(),
        };
        conn.execute_batch("BEGIN").unwrap();
        let r = crate::sqlite::records::create(&conn, &input, "tester").unwrap();
        let key = crate::idempotency::StoredKey {
            key_hash: "kh".into(),
            request_hash: "rh".into(),
        };
        crate::sqlite::records::store_key(&conn, &key, r.id).unwrap();
        crate::sqlite::records::update(&conn, r.id, 1, &input, "tester").unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let id = r.id.to_string();
        assert_eq!(
            journal_entries(&conn),
            vec![
                ("record_versions".into(), Some(id.clone()), Some(1)),
                ("idempotency_keys".into(), Some("kh".into()), None),
                ("record_versions".into(), Some(id), Some(2)),
            ]
        );
    }

    #[test]
    fn cuts_keep_whole_jobs_written_by_the_moment() {
        let rows = vec![
            row(1, "record_versions", 10),
            row(2, "audit_events", 10),
            row(3, "record_versions", 20),
            row(4, "idempotency_keys", 20),
            row(5, "audit_events", 21),
            row(6, "tree_heads", 30),
        ];
        assert_eq!(whole_jobs(&rows, 5), 0);
        assert_eq!(whole_jobs(&rows, 10), 2);
        // The second job's changes are by 20, but its event is at 21: not yet committed.
        assert_eq!(whole_jobs(&rows, 20), 2);
        assert_eq!(whole_jobs(&rows, 21), 5);
        assert_eq!(whole_jobs(&rows, 29), 5);
        assert_eq!(whole_jobs(&rows, 30), 6);
        assert_eq!(whole_jobs(&rows, i64::MAX), 6);
        // A batch that ends inside a job keeps that job's rows for the next batch.
        assert_eq!(whole_jobs(&rows[..4], i64::MAX), 2);
    }

    #[test]
    fn values_round_trip_through_json() {
        for v in [
            SqlValue::Null,
            SqlValue::Integer(-5),
            SqlValue::Text("{\"b64\":\"x\"}".into()),
            SqlValue::Blob(vec![0, 1, 255]),
        ] {
            assert_eq!(from_json(&to_json(v.clone())).unwrap(), v);
        }
        assert!(from_json(&serde_json::json!({"x": 1})).is_err());
        assert!(check_identifier("record_id").is_ok());
        assert!(check_identifier("x; DROP TABLE records").is_err());
    }
}
