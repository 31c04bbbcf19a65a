//! Continuity of a database's audit logs against what was exported from them: after a restore
//! (an RDS snapshot or point-in-time recovery on PostgreSQL, or any restored copy), every event
//! in the sealed export batches must be in the database, unchanged, and the database's log must
//! recompute to every signed tree head those batches carry. Written against the `Store` trait,
//! so it checks either store.

use crate::export::{manifest_last_seq, ExportError, ExportSink};
use crate::ledger::{self, BatchManifest};
use crate::Store;
use hippo_core::LogId;
use serde::Serialize;

/// What checking one log found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Continuity {
    pub log: String,
    pub batches_checked: usize,
    pub events_checked: u64,
    /// Exported tree heads verified against the database's recomputed log.
    pub tree_heads_checked: usize,
    /// Events in the database after the last exported one (written since the export).
    pub events_after_export: u64,
    /// The first problem, naming the object or event.
    pub problem: Option<String>,
}

/// Checks `log` in `store` against the batches `sink` holds for it.
pub async fn check(
    store: &dyn Store,
    log: &LogId,
    sink: &dyn ExportSink,
) -> Result<Continuity, ExportError> {
    let id = log.to_string();
    let mut out = Continuity {
        log: id.clone(),
        ..Continuity::default()
    };
    let key = store.audit_public_key()?;
    let mut manifests: Vec<(u64, String)> = sink
        .names(&id)
        .await?
        .into_iter()
        .filter_map(|n| manifest_last_seq(&n).map(|last| (last, n)))
        .collect();
    manifests.sort();
    let mut next = 1u64;
    let mut heads = Vec::new();
    for (_, name) in &manifests {
        let object = format!("{id}/{name}");
        let m: BatchManifest = match serde_json::from_slice(&sink.read(&id, name).await?) {
            Ok(m) => m,
            Err(_) => {
                out.problem = Some(format!("{object}: not a batch manifest"));
                return Ok(out);
            }
        };
        if m.tree_head.verify(&key).is_err() {
            out.problem = Some(format!(
                "{object}: its tree head is not signed by this deployment's key"
            ));
            return Ok(out);
        }
        if m.first_seq != next {
            out.problem = Some(format!(
                "{object}: starts at event {}, expected {next} (a batch is missing)",
                m.first_seq
            ));
            return Ok(out);
        }
        let data_name = name.replace(".manifest.json", ".ndjson");
        let data = sink.read(&id, &data_name).await?;
        if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)) != m.events_sha256 {
            out.problem = Some(format!(
                "{id}/{data_name}: does not match its manifest (altered export)"
            ));
            return Ok(out);
        }
        let lines: Vec<&[u8]> = data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let want = (m.last_seq - m.first_seq + 1) as usize;
        let leaves = store
            .audit_leaves(log, m.first_seq as i64 - 1, want)
            .await?;
        for (i, exported) in lines.iter().enumerate() {
            let seq = m.first_seq + i as u64;
            match leaves.get(i) {
                Some(l) if l.seq as u64 == seq && l.canonical.as_slice() == *exported => {}
                Some(l) if l.seq as u64 == seq => {
                    out.problem = Some(format!(
                        "event {seq} of log {id} differs from its export in {data_name}"
                    ));
                    return Ok(out);
                }
                _ => {
                    out.problem = Some(format!("event {seq} of log {id} is exported in {data_name} but missing from the database"));
                    return Ok(out);
                }
            }
            out.events_checked += 1;
        }
        heads.push(m.tree_head);
        out.batches_checked += 1;
        next = m.last_seq + 1;
    }
    heads.dedup_by(|a, b| a.head.tree_size == b.head.tree_size);
    out.tree_heads_checked = heads.len();
    let report = ledger::verify(store, log, heads).await?;
    if let Some(p) = report.problem {
        out.problem = Some(format!(
            "log {id} does not recompute to the exported tree heads: {p}"
        ));
        return Ok(out);
    }
    let (size, _) = store.tree_state(log).await?;
    out.events_after_export = size.saturating_sub(next - 1);
    Ok(out)
}
