//! Operations on a tamper-evident audit log over any [`Store`]: verification, inclusion and
//! consistency proofs, and sealed exports. The Merkle mathematics lives in `hippo-audit`.

use crate::export::{batch_stem, DirSink, ExportError, ExportSink, ObjectKind};
use crate::proofs::{self, Recorder};
use crate::store::{LogLeaf, Store};
use crate::StoreError;
use hippo_audit::merkle::{self, Hash};
use hippo_audit::tree_head::SignedTreeHead;
use hippo_audit::verify::{verify_log, EventRecord, Problem, VerifyReport};
use hippo_core::LogId;
use serde::Serialize;

/// Events read per round trip while scanning a log.
const PAGE: usize = 10_000;

/// Every event of the log, in stored order.
pub async fn all_leaves(store: &dyn Store, log: &LogId) -> Result<Vec<LogLeaf>, StoreError> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map(|l: &LogLeaf| l.seq).unwrap_or(0);
        let page = store.audit_leaves(log, after, PAGE).await?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Recomputes the log from its stored events and checks every stored tree head, plus
/// `trusted_heads` an auditor kept outside the system, against this deployment's public key.
/// Also reports events present in the table but never integrated into the tree.
pub async fn verify(
    store: &dyn Store,
    log: &LogId,
    trusted_heads: Vec<SignedTreeHead>,
) -> Result<VerifyReport, StoreError> {
    let leaves = all_leaves(store, log).await?;
    let mut heads = store.tree_heads(log).await?;
    heads.extend(trusted_heads);
    let key = store.audit_public_key()?;
    let (integrated, _) = store.tree_state(log).await?;
    let opts = crate::audit_log::verify_options(log);
    // Events beyond what the store integrated were written around it, straight into the
    // table: verify the integrated prefix, then report the first extra event as inserted.
    let integrated_count = (integrated as usize).min(leaves.len());
    let events = leaves[..integrated_count]
        .iter()
        .map(|l| EventRecord::with_leaf_hash(l.seq as u64, l.canonical.as_slice(), l.leaf_hash));
    let mut report = verify_log(events, &heads, &[key], &opts);
    if report.problem.is_none() {
        if let Some(extra) = leaves.get(integrated_count) {
            report.problem = Some(Problem::Inserted {
                seq: extra.seq as u64,
                after_seq: leaves[..integrated_count].last().map(|l| l.seq as u64),
            });
        }
    }
    Ok(report)
}

/// An inclusion proof of one event in a signed tree head.
#[derive(Debug, Clone, Serialize)]
pub struct InclusionProof {
    pub seq: i64,
    pub leaf_index: u64,
    #[serde(with = "merkle::hash_hex")]
    pub leaf_hash: Hash,
    pub tree_size: u64,
    pub proof: Vec<String>,
    pub tree_head: SignedTreeHead,
}

/// A consistency proof between two signed tree heads.
#[derive(Debug, Clone, Serialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub proof: Vec<String>,
    pub old_head: Option<SignedTreeHead>,
    pub new_head: SignedTreeHead,
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Request(String),
}

fn head_at(heads: &[SignedTreeHead], size: u64) -> Option<SignedTreeHead> {
    heads.iter().find(|h| h.head.tree_size == size).cloned()
}

/// The newest signed head, or the one of `size` if given.
fn pick_head(heads: &[SignedTreeHead], size: Option<u64>) -> Result<SignedTreeHead, ProofError> {
    match size {
        Some(s) => head_at(heads, s).ok_or_else(|| {
            ProofError::Request(format!(
                "no signed tree head of size {s}; list them at /v1/audit/tree-heads"
            ))
        }),
        None => heads
            .last()
            .cloned()
            .ok_or_else(|| ProofError::Request("the log has no signed tree head yet".into())),
    }
}

/// A proof over prepared subtree roots failed: the plan and the proof disagree (a bug).
fn internal(e: merkle::ProofError<proofs::Unprepared>) -> ProofError {
    ProofError::Store(StoreError::Database(format!(
        "building the proof failed: {e}"
    )))
}

fn hex_all(hashes: Vec<Hash>) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// Proves event `seq` is in the tree head of `tree_size` (default: the newest head).
pub async fn inclusion(
    store: &dyn Store,
    log: &LogId,
    seq: i64,
    tree_size: Option<u64>,
) -> Result<InclusionProof, ProofError> {
    let heads = store.tree_heads(log).await?;
    let head = pick_head(&heads, tree_size)?;
    let size = head.head.tree_size;
    if seq < 1 || seq as u64 > size {
        return Err(ProofError::Request(format!(
            "event {seq} is not covered by the tree head of size {size}"
        )));
    }
    let index = seq as u64 - 1;
    let plan = Recorder::default();
    merkle::inclusion_proof_from(&plan, index, size)
        .map_err(|e| ProofError::Request(e.to_string()))?;
    let src = proofs::resolve(store, log, &plan.into_ranges()).await?;
    let proof = merkle::inclusion_proof_from(&src, index, size).map_err(internal)?;
    let leaf_hash = store.audit_leaf_hashes(log, seq, seq).await?[0];
    Ok(InclusionProof {
        seq,
        leaf_index: index,
        leaf_hash,
        tree_size: size,
        proof: hex_all(proof),
        tree_head: head,
    })
}

/// Proves the tree head of `old_size` is a prefix of the one of `new_size` (default: newest).
pub async fn consistency(
    store: &dyn Store,
    log: &LogId,
    old_size: u64,
    new_size: Option<u64>,
) -> Result<ConsistencyProof, ProofError> {
    let heads = store.tree_heads(log).await?;
    let new_head = pick_head(&heads, new_size)?;
    let n = new_head.head.tree_size;
    if old_size > n {
        return Err(ProofError::Request(format!(
            "old size {old_size} is larger than the new size {n}"
        )));
    }
    let plan = Recorder::default();
    merkle::consistency_proof_from(&plan, old_size, n)
        .map_err(|e| ProofError::Request(e.to_string()))?;
    let src = proofs::resolve(store, log, &plan.into_ranges()).await?;
    let proof = merkle::consistency_proof_from(&src, old_size, n).map_err(internal)?;
    Ok(ConsistencyProof {
        old_size,
        new_size: n,
        proof: hex_all(proof),
        old_head: head_at(&heads, old_size),
        new_head,
    })
}

/// What an export run wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportSummary {
    pub log_id: String,
    pub batches_written: usize,
    pub events_written: u64,
    pub exported_through_seq: u64,
}

/// A sealed batch's manifest: the range, the hash of its NDJSON file, and the signed tree head
/// that covers it (an auditor recomputes the root from batches 1..=last and checks the head).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BatchManifest {
    pub log_id: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub events_sha256: String,
    pub retain_until: String,
    pub tree_head: SignedTreeHead,
}

/// Exports the log's events, up to a freshly signed tree head, to `sink` as sealed batches of
/// at most `batch_size` events: for each batch its NDJSON object, then its manifest (the commit
/// point), both locked until now + `retention_days` where the sink can lock. Idempotent and
/// resumable: a batch counts as exported only once its manifest exists, and a rerun continues
/// after the last manifest in the sink (rewriting a data object a crash left without one).
pub async fn export(
    store: &dyn Store,
    log: &LogId,
    sink: &dyn ExportSink,
    batch_size: usize,
    retention_days: u32,
) -> Result<ExportSummary, ExportError> {
    if batch_size == 0 {
        return Err(ExportError::Config(
            "the batch size must be at least 1".into(),
        ));
    }
    let id = log.to_string();
    // One exporter per log in the whole deployment: two instances exporting at once would
    // each seal a batch from their own tree head, giving overlapping batches in the sink.
    let Some(_exclusive) = store.try_exclusive(&format!("audit-export-{id}")).await? else {
        return Err(ExportError::Busy(id));
    };
    let head = store.sign_tree_head(log).await?;
    let size = head.head.tree_size;
    let mut summary = ExportSummary {
        log_id: id.clone(),
        ..ExportSummary::default()
    };
    let mut next = sink.exported_through(&id).await? + 1;
    // Whole seconds: S3 Object Lock dates are compared at that precision.
    let now_secs = hippo_core::time_fmt::now_millis() / 1000;
    let retain_until =
        hippo_core::time_fmt::rfc3339((now_secs + i64::from(retention_days) * 86_400) * 1000);
    while next <= size {
        let want = batch_size.min((size - next + 1) as usize);
        let leaves = store.audit_leaves(log, next as i64 - 1, want).await?;
        if leaves.len() != want || leaves.first().map(|l| l.seq as u64) != Some(next) {
            return Err(StoreError::Corrupt(format!(
                "the audit log has a gap at event {next}; run `hippo audit verify`"
            ))
            .into());
        }
        let last = next + want as u64 - 1;
        let mut ndjson = Vec::new();
        for l in &leaves {
            ndjson.extend_from_slice(&l.canonical);
            ndjson.push(b'\n');
        }
        let stem = batch_stem(next, last);
        sink.put_sealed(
            &id,
            &format!("{stem}.ndjson"),
            ObjectKind::Events,
            &ndjson,
            &retain_until,
        )
        .await?;
        let manifest = BatchManifest {
            log_id: id.clone(),
            first_seq: next,
            last_seq: last,
            events_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&ndjson)),
            retain_until: retain_until.clone(),
            tree_head: head.clone(),
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        sink.put_sealed(
            &id,
            &format!("{stem}.manifest.json"),
            ObjectKind::Manifest,
            &json,
            &retain_until,
        )
        .await?;
        summary.batches_written += 1;
        summary.events_written += want as u64;
        next = last + 1;
    }
    summary.exported_through_seq = next - 1;
    Ok(summary)
}

/// [`export`] into `dir/<log id>/` as read-only files (the embedded default sink).
pub async fn export_to_dir(
    store: &dyn Store,
    log: &LogId,
    dir: &std::path::Path,
    batch_size: usize,
    retention_days: u32,
) -> Result<ExportSummary, StoreError> {
    export(store, log, &DirSink::new(dir), batch_size, retention_days)
        .await
        .map_err(ExportError::into_store_error)
}
