//! The tamper-evident ledger over the audit log: every event is a leaf of the signed tree, and
//! inclusion and consistency proofs over many chunks verify and reuse cached chunk roots.

use super::*;
use hippo_store::{ledger, proofs::CHUNK};

contract!(
    every_event_is_a_leaf_of_the_signed_tree,
    proofs_over_many_chunks_verify_and_cache_chunk_roots,
);

async fn every_event_is_a_leaf_of_the_signed_tree(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let empty = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap();
    assert_eq!(empty.head.tree_size, 0);
    for i in 0..5 {
        store
            .create_record(
                &t,
                input("Patient", &format!("p{i}"), json!({})),
                "w",
                draft(Some(&t), Action::RecordCreate),
            )
            .await
            .unwrap();
    }
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        leaves.iter().map(|l| l.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for l in &leaves {
        assert_eq!(
            merkle::leaf_hash(&l.canonical),
            l.leaf_hash,
            "event {}",
            l.seq
        );
    }
    let (size, root) = store.tree_state(&LogId::Tenant(t.clone())).await.unwrap();
    let hashes: Vec<_> = leaves.iter().map(|l| l.leaf_hash).collect();
    assert_eq!((size, root), (5, merkle::root_from_leaf_hashes(&hashes)));
    // Proofs read the hashes alone; a range past the log's end is an error, not a short answer.
    assert_eq!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 1, 5)
            .await
            .unwrap(),
        hashes
    );
    assert_eq!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 2, 3)
            .await
            .unwrap(),
        hashes[1..3].to_vec()
    );
    assert!(matches!(
        store
            .audit_leaf_hashes(&LogId::Tenant(t.clone()), 4, 6)
            .await,
        Err(StoreError::Corrupt(_))
    ));

    let head = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap();
    let key = store.audit_public_key().unwrap();
    head.verify(&key).unwrap();
    assert_eq!((head.head.tree_size, head.head.root_hash), (5, root));
    assert_eq!(head.head.log_id, t.as_str());
    // Signing again without growth reuses the head; every head is kept, smallest first.
    assert_eq!(
        store
            .sign_tree_head(&LogId::Tenant(t.clone()))
            .await
            .unwrap(),
        head
    );
    let heads = store.tree_heads(&LogId::Tenant(t.clone())).await.unwrap();
    assert_eq!(
        heads.iter().map(|h| h.head.tree_size).collect::<Vec<_>>(),
        vec![0, 5]
    );
    assert_eq!(
        store
            .audit_leaves(&LogId::Tenant(t.clone()), 3, 1)
            .await
            .unwrap()[0]
            .seq,
        4
    );
    // The system log is a tree of its own.
    let sys = store.sign_tree_head(&LogId::System).await.unwrap();
    sys.verify(&key).unwrap();
    assert!(sys.head.tree_size >= 1);
    // One spelling of the system log on every store, and its heads verify under that name.
    assert_eq!(sys.head.log_id, ".system");
    let report = ledger::verify(store.as_ref(), &LogId::System, vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");
    let report = ledger::verify(store.as_ref(), &LogId::Tenant(t.clone()), vec![])
        .await
        .unwrap();
    assert!(report.is_ok(), "{report}");
}

async fn proofs_over_many_chunks_verify_and_cache_chunk_roots(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let total = 3 * CHUNK + 37;
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        writers.push(tokio::spawn(async move {
            for _ in (w..total).step_by(8) {
                store
                    .append_audit(draft(Some(&t), Action::RecordRead))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mid = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap()
        .head;
    assert_eq!(mid.tree_size, total);
    assert!(store
        .audit_chunk_roots(&LogId::Tenant(t.clone()), 0, 10)
        .await
        .unwrap()
        .is_empty());
    let hex = |v: &[String]| -> Vec<merkle::Hash> {
        v.iter()
            .map(|h| merkle::hash_from_hex(h).unwrap())
            .collect()
    };
    for seq in [
        1,
        CHUNK as i64,
        CHUNK as i64 + 1,
        2 * CHUNK as i64 + 5,
        total as i64,
    ] {
        let p = ledger::inclusion(store.as_ref(), &LogId::Tenant(t.clone()), seq, None)
            .await
            .unwrap();
        merkle::verify_inclusion(
            &p.leaf_hash,
            p.leaf_index,
            total,
            &hex(&p.proof),
            &mid.root_hash,
        )
        .unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    // The first proofs cached the full chunks they needed, and later proofs use them.
    let cached = store
        .audit_chunk_roots(&LogId::Tenant(t.clone()), 0, 10)
        .await
        .unwrap();
    assert!(
        !cached.is_empty() && cached.iter().all(|(c, _)| *c < 3),
        "{cached:?}"
    );
    for _ in 0..CHUNK {
        store
            .append_audit(draft(Some(&t), Action::RecordRead))
            .await
            .unwrap();
    }
    let new = store
        .sign_tree_head(&LogId::Tenant(t.clone()))
        .await
        .unwrap()
        .head;
    for old in [1, CHUNK, mid.tree_size] {
        let old_root = if old == mid.tree_size {
            mid.root_hash
        } else {
            let leaves = store
                .audit_leaf_hashes(&LogId::Tenant(t.clone()), 1, old as i64)
                .await
                .unwrap();
            merkle::root_from_leaf_hashes(&leaves)
        };
        let c = ledger::consistency(store.as_ref(), &LogId::Tenant(t.clone()), old, None)
            .await
            .unwrap();
        merkle::verify_consistency(
            old,
            new.tree_size,
            &old_root,
            &new.root_hash,
            &hex(&c.proof),
        )
        .unwrap_or_else(|e| panic!("{old} -> {}: {e}", new.tree_size));
    }
}
