//! Benchmarks of the audit Merkle tree: root recomputation from event bytes (the `hippo audit verify` hot loop), leaf hashing alone, and proof generation and verification.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hippo_audit::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_from_leaf_hashes, root_from_leaves,
    verify_consistency, verify_inclusion, CompactTree,
};
use hippo_audit::tree_head::{AuditSigningKey, TreeHead};
use hippo_audit::verify::{verify_log, EventRecord, VerifyOptions};

/// `n` synthetic events of about `len` bytes each, shaped like canonical audit JSON.
fn events(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut e = format!(
                r#"{{"action":"read","actor":"user-{}","outcome":"success","resource":"Observation/{}","seq":{},"tenant":"t1","ts":{}}}"#,
                i % 97,
                i,
                i + 1,
                1_700_000_000_000u64 + i as u64
            )
            .into_bytes();
            e.resize(len.max(e.len()), b' ');
            e
        })
        .collect()
}

fn recompute(c: &mut Criterion) {
    let mut g = c.benchmark_group("recompute_root");
    g.sample_size(10);
    for &(n, len) in &[(1_000_000usize, 128usize), (1_000_000, 256)] {
        let data = events(n, len);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("events_{len}B"), n),
            &data,
            |b, data| b.iter(|| root_from_leaves(black_box(data))),
        );
    }
    g.finish();
}

/// The whole `hippo audit verify` loop: sequence checks, leaf hashing, tree, heads.
fn verify_whole_log(c: &mut Criterion) {
    let n = 1_000_000usize;
    let data = events(n, 256);
    let key = AuditSigningKey::from_seed(&[1; 32]);
    let mut heads = Vec::new();
    let mut t = CompactTree::new();
    for (i, d) in data.iter().enumerate() {
        t.push_leaf(d);
        if (i + 1) % 100_000 == 0 {
            let head = TreeHead::new("t1", t.size(), t.root(), i as u64).unwrap();
            heads.push(key.sign(head).unwrap());
        }
    }
    let keys = [key.public_key()];
    let opts = VerifyOptions::default();
    let mut g = c.benchmark_group("verify_log");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("events_256B_10_heads/1000000", |b| {
        b.iter(|| {
            let evs = data
                .iter()
                .enumerate()
                .map(|(i, d)| EventRecord::new(i as u64 + 1, d.as_slice()));
            let r = verify_log(evs, &heads, &keys, &opts);
            assert!(r.is_ok());
            black_box(r)
        })
    });
    g.finish();
}

fn pieces(c: &mut Criterion) {
    let data = events(100_000, 256);
    let leaves: Vec<_> = data.iter().map(|d| leaf_hash(d)).collect();
    let mut g = c.benchmark_group("pieces");
    g.throughput(Throughput::Elements(leaves.len() as u64));
    g.bench_function("leaf_hash_256B_x100k", |b| {
        b.iter(|| {
            for d in &data {
                black_box(leaf_hash(black_box(d)));
            }
        })
    });
    g.bench_function("compact_tree_append_x100k", |b| {
        b.iter(|| {
            let mut t = CompactTree::new();
            for h in &leaves {
                t.push_leaf_hash(*h);
            }
            black_box(t.root())
        })
    });
    g.finish();

    let n = leaves.len() as u64;
    let root = root_from_leaf_hashes(&leaves);
    let old_root = root_from_leaf_hashes(&leaves[..60_000]);
    let inc = inclusion_proof(&leaves, 12_345, n).unwrap();
    let cons = consistency_proof(&leaves, 60_000, n).unwrap();
    c.bench_function("verify_inclusion_100k", |b| {
        b.iter(|| verify_inclusion(&leaves[12_345], 12_345, n, black_box(&inc), &root).unwrap())
    });
    c.bench_function("verify_consistency_60k_100k", |b| {
        b.iter(|| verify_consistency(60_000, n, &old_root, &root, black_box(&cons)).unwrap())
    });
}

criterion_group!(benches, recompute, verify_whole_log, pieces);
criterion_main!(benches);
