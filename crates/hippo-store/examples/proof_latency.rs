//! Measures how long an inclusion and a consistency proof take on an embedded store holding N
//! audit events, against the earlier way of building one (rebuilding every event of the log):
//! `cargo run --release -p hippo-store --example proof_latency -- 1000000`.

use hippo_core::{Action, Actor, AuditDraft, LogId, TenantId};
use hippo_store::{ledger, SqliteStore, Store};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::create(&dir.path().join("data")).expect("store"));
    let t: TenantId = "bench".parse().unwrap();
    let op = || AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "bench");
    store.create_tenant(&t, op()).await.expect("tenant");
    let started = Instant::now();
    // Concurrent appends, so the group commit batches them.
    let writers: Vec<_> = (0..32)
        .map(|w| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                for _ in (w..n).step_by(32) {
                    let d = AuditDraft::new(
                        Some(t.clone()),
                        Actor::operator(),
                        Action::RecordRead,
                        "b",
                    );
                    store.append_audit(d).await.expect("append");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let log = LogId::Tenant(t.clone());
    let head = store.sign_tree_head(&log).await.unwrap();
    eprintln!(
        "{} events written in {:.1?}",
        head.head.tree_size,
        started.elapsed()
    );
    let size = head.head.tree_size;

    let old = Instant::now();
    let leaves = ledger::all_leaves(store.as_ref(), &log).await.unwrap();
    let hashes: Vec<_> = leaves.iter().map(|l| l.leaf_hash).collect();
    let _ = hippo_audit::merkle::inclusion_proof(&hashes, size / 3, size).unwrap();
    let old = old.elapsed();

    let incl = Instant::now();
    let p = ledger::inclusion(store.as_ref(), &log, (size / 3) as i64, None)
        .await
        .unwrap();
    let incl = incl.elapsed();
    // Again, for another event: the chunk roots the first proof cached now serve it.
    let warm = Instant::now();
    ledger::inclusion(store.as_ref(), &log, (size / 7) as i64, None)
        .await
        .unwrap();
    let warm = warm.elapsed();
    let cons = Instant::now();
    let c = ledger::consistency(store.as_ref(), &log, size / 2 + 1, None)
        .await
        .unwrap();
    let cons = cons.elapsed();
    println!(
        "events {size}: inclusion proof ({} hashes) {incl:.1?} cold (chunk cache filled), {warm:.1?} warm; \
         consistency proof ({} hashes) {cons:.1?}; \
         the inclusion proof built from whole events (before) {old:.1?}",
        p.proof.len(),
        c.proof.len()
    );
    store.shutdown().await;
}
