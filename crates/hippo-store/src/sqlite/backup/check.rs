//! Checking a restored database end to end: pages, record hashes, the audit log against its
//! signed heads.

use crate::sqlite::{audit, records};
use crate::StoreError;
use hippo_audit::tree_head::AuditPublicKey;
use hippo_audit::verify::{verify_log, EventRecord, VerifyReport};
use hippo_core::{LogId, RecordId};
use rusqlite::Connection;
use serde::Serialize;

/// What checking one restored database found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DbCheck {
    /// Pages whose SQLCipher HMAC and b-tree structure were checked.
    pub pages: i64,
    pub records_checked: usize,
    pub versions_checked: usize,
    pub events_checked: u64,
    pub tree_heads_verified: u64,
    /// The first problem found, if any.
    pub problem: Option<String>,
}

/// Checks a database end to end: every page decrypts and authenticates (SQLCipher's per-page
/// HMAC) and the b-trees are sound, every record version matches its hash, and the audit log
/// recomputes to every signed tree head it holds.
pub fn check(conn: &Connection, log: &LogId, key: &AuditPublicKey) -> Result<DbCheck, StoreError> {
    let mut out = DbCheck {
        pages: conn.query_row("PRAGMA page_count", [], |r| r.get(0))?,
        ..DbCheck::default()
    };
    let cipher: Vec<String> = conn
        .prepare("PRAGMA cipher_integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if let Some(first) = cipher.first() {
        out.problem = Some(format!("page authentication failed: {first}"));
        return Ok(out);
    }
    let quick: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if quick != "ok" {
        out.problem = Some(format!("database structure: {quick}"));
        return Ok(out);
    }
    if matches!(log, LogId::Tenant(_)) {
        let mut after: Option<RecordId> = None;
        loop {
            let scan = records::verify_all(conn, after, 1000)?;
            out.records_checked += scan.records_checked;
            out.versions_checked += scan.versions_checked;
            if let Some(f) = scan.failures.first() {
                out.problem = Some(format!(
                    "record {} version {} does not match its hash",
                    f.id, f.version
                ));
                return Ok(out);
            }
            match scan.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    let report = verify_audit(conn, log, key)?;
    out.events_checked = report.events_checked;
    out.tree_heads_verified = report.tree_heads_verified;
    if let Some(p) = &report.problem {
        out.problem = Some(format!("audit log: {p}"));
    }
    Ok(out)
}

fn verify_audit(
    conn: &Connection,
    log: &LogId,
    key: &AuditPublicKey,
) -> Result<VerifyReport, StoreError> {
    let mut leaves = Vec::new();
    let mut after = 0;
    loop {
        let page = audit::leaves(conn, after, 10_000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        leaves.extend(page);
    }
    let tree = audit::load_tree(conn)?;
    if tree.size() != leaves.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "the audit tree holds {} events but the log {}",
            tree.size(),
            leaves.len()
        )));
    }
    let heads = audit::tree_heads(conn)?;
    let opts = crate::audit_log::verify_options(log);
    let events = leaves
        .iter()
        .map(|l| EventRecord::with_leaf_hash(l.seq as u64, l.canonical.as_slice(), l.leaf_hash));
    Ok(verify_log(events, &heads, &[*key], &opts))
}
