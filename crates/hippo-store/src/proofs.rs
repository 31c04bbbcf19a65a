//! Subtree roots for Merkle proofs over a stored log, read without loading the whole log.
//!
//! A proof (RFC 9162) is made of the roots of O(log n) subtrees. Each root is computed here from
//! cached roots of full chunks of [`CHUNK`] events (aligned perfect subtrees, cached in the store
//! the first time a proof needs them) and from at most a chunk's worth of leaf hashes at each
//! ragged edge. A proof thus reads about `size / CHUNK` hashes once, and far fewer afterwards,
//! instead of every event. The proof itself is still built by `hippo_audit::merkle`: this module
//! only answers its `subtree_root` questions, which it learns by a dry run.

use crate::store::Store;
use crate::StoreError;
use hippo_audit::merkle::{self, Hash, LeafSource};
use hippo_core::LogId;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;

/// Events per cached chunk root: a power of two, so chunks are perfect aligned subtrees.
pub const CHUNK: u64 = 256;

/// Leaf hashes read per round trip when filling the chunk cache.
const FILL_PAGE: u64 = 64 * CHUNK;

/// A leaf source that answers nothing real and records which subtree roots were asked for:
/// the shape of a proof depends only on the sizes and the index, never on hash values.
#[derive(Default)]
pub struct Recorder {
    asked: RefCell<Vec<(u64, u64)>>,
}

impl Recorder {
    pub fn into_ranges(self) -> Vec<(u64, u64)> {
        self.asked.into_inner()
    }
}

impl LeafSource for Recorder {
    type Error = Infallible;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Infallible> {
        self.subtree_root(index, index + 1)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Infallible> {
        self.asked.borrow_mut().push((start, end));
        Ok([0; 32])
    }
}

/// The subtree roots a proof asked for, computed.
pub struct Resolved(HashMap<(u64, u64), Hash>);

/// A range a dry run did not ask for was requested: a bug in this module, not bad input.
#[derive(Debug, thiserror::Error)]
#[error("subtree {0}..{1} was not prepared for this proof")]
pub struct Unprepared(u64, u64);

impl LeafSource for Resolved {
    type Error = Unprepared;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Unprepared> {
        self.subtree_root(index, index + 1)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Unprepared> {
        self.0
            .get(&(start, end))
            .copied()
            .ok_or(Unprepared(start, end))
    }
}

/// What computing some subtree roots needs: chunk roots by index, and leaf ranges.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub chunks: BTreeSet<u64>,
    pub leaves: BTreeSet<(u64, u64)>,
}

/// How the root of `start..end` is obtained, following RFC 9162's definition of the hash.
enum Piece {
    /// A perfect aligned subtree of whole chunks: the root over their cached roots.
    Chunks(u64, u64),
    /// At most one chunk's worth of leaves: the root over their hashes.
    Leaves,
    /// Anything else: the node over the two halves split at this point.
    Split(u64),
}

fn piece(start: u64, end: u64) -> Piece {
    let n = end - start;
    if n >= CHUNK && n.is_power_of_two() && start.is_multiple_of(n) {
        Piece::Chunks(start / CHUNK, end / CHUNK)
    } else if n <= CHUNK {
        Piece::Leaves
    } else {
        Piece::Split(start + merkle::split_point(n))
    }
}

fn plan(start: u64, end: u64, needs: &mut Needs) {
    match piece(start, end) {
        Piece::Chunks(a, b) => needs.chunks.extend(a..b),
        Piece::Leaves => {
            needs.leaves.insert((start, end));
        }
        Piece::Split(mid) => {
            plan(start, mid, needs);
            plan(mid, end, needs);
        }
    }
}

/// What the roots of `ranges` need.
pub fn needs(ranges: &[(u64, u64)]) -> Needs {
    let mut out = Needs::default();
    for &(s, e) in ranges {
        plan(s, e, &mut out);
    }
    out
}

/// MTH of `start..end` from the chunk roots and leaf hashes that [`needs`] asked for.
pub fn root(
    start: u64,
    end: u64,
    chunks: &HashMap<u64, Hash>,
    leaves: &HashMap<u64, Hash>,
) -> Hash {
    match piece(start, end) {
        Piece::Chunks(a, b) => {
            let roots: Vec<Hash> = (a..b).map(|c| chunks[&c]).collect();
            merkle::root_from_leaf_hashes(&roots)
        }
        Piece::Leaves => {
            let hashes: Vec<Hash> = (start..end).map(|i| leaves[&i]).collect();
            merkle::root_from_leaf_hashes(&hashes)
        }
        Piece::Split(mid) => merkle::node_hash(
            &root(start, mid, chunks, leaves),
            &root(mid, end, chunks, leaves),
        ),
    }
}

/// Reads (and caches, where missing) what `ranges` need, and computes their roots.
pub async fn resolve(
    store: &dyn Store,
    log: &LogId,
    ranges: &[(u64, u64)],
) -> Result<Resolved, StoreError> {
    let needs = needs(ranges);
    let chunks = chunk_roots(store, log, &needs.chunks).await?;
    let mut leaves = HashMap::new();
    for &(s, e) in &needs.leaves {
        let hashes = store.audit_leaf_hashes(log, s as i64 + 1, e as i64).await?;
        leaves.extend((s..e).zip(hashes));
    }
    let roots = ranges
        .iter()
        .map(|&(s, e)| ((s, e), root(s, e, &chunks, &leaves)))
        .collect();
    Ok(Resolved(roots))
}

/// The roots of `wanted` chunks: cached ones from the store, the rest computed from their leaf
/// hashes (contiguous runs read together) and cached for the next proof.
async fn chunk_roots(
    store: &dyn Store,
    log: &LogId,
    wanted: &BTreeSet<u64>,
) -> Result<HashMap<u64, Hash>, StoreError> {
    let (Some(&first), Some(&last)) = (wanted.first(), wanted.last()) else {
        return Ok(HashMap::new());
    };
    let mut have: HashMap<u64, Hash> = store
        .audit_chunk_roots(log, first, last)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<u64> = wanted
        .iter()
        .copied()
        .filter(|c| !have.contains_key(c))
        .collect();
    for run in runs(&missing, FILL_PAGE / CHUNK) {
        let (a, b) = (run[0], run[run.len() - 1]);
        let hashes = store
            .audit_leaf_hashes(log, (a * CHUNK) as i64 + 1, ((b + 1) * CHUNK) as i64)
            .await?;
        let computed: Vec<(u64, Hash)> = run
            .iter()
            .zip(hashes.chunks(CHUNK as usize))
            .map(|(&c, leaves)| (c, merkle::root_from_leaf_hashes(leaves)))
            .collect();
        store.put_audit_chunk_roots(log, computed.clone()).await?;
        have.extend(computed);
    }
    Ok(have)
}

/// Splits sorted `items` into runs of consecutive values, each at most `max` long.
fn runs(items: &[u64], max: u64) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = Vec::new();
    for &i in items {
        match out.last_mut() {
            Some(run) if run[run.len() - 1] + 1 == i && (run.len() as u64) < max => run.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    /// Resolves `ranges` from an in-memory log, as the store path does.
    fn resolve_in_memory(all: &[Hash], ranges: &[(u64, u64)]) -> Resolved {
        let n = needs(ranges);
        let chunks = n
            .chunks
            .iter()
            .map(|&c| {
                let s = (c * CHUNK) as usize;
                (
                    c,
                    merkle::root_from_leaf_hashes(&all[s..s + CHUNK as usize]),
                )
            })
            .collect();
        let leaves = n
            .leaves
            .iter()
            .flat_map(|&(s, e)| (s..e).map(|i| (i, all[i as usize])))
            .collect();
        Resolved(
            ranges
                .iter()
                .map(|&(s, e)| ((s, e), root(s, e, &chunks, &leaves)))
                .collect(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn inclusion_proofs_match_the_in_memory_ones(size in 1u64..3000, pick in 0u64..u64::MAX) {
            let all = leaves(size);
            let index = pick % size;
            let rec = Recorder::default();
            merkle::inclusion_proof_from(&rec, index, size).unwrap();
            let src = resolve_in_memory(&all, &rec.into_ranges());
            prop_assert_eq!(
                merkle::inclusion_proof_from(&src, index, size).unwrap(),
                merkle::inclusion_proof(&all, index, size).unwrap()
            );
        }

        #[test]
        fn consistency_proofs_match_the_in_memory_ones(size in 1u64..3000, pick in 0u64..u64::MAX) {
            let all = leaves(size);
            let old = pick % (size + 1);
            let rec = Recorder::default();
            merkle::consistency_proof_from(&rec, old, size).unwrap();
            let src = resolve_in_memory(&all, &rec.into_ranges());
            prop_assert_eq!(
                merkle::consistency_proof_from(&src, old, size).unwrap(),
                merkle::consistency_proof(&all, old, size).unwrap()
            );
        }
    }

    #[test]
    fn a_large_proof_needs_chunks_not_leaves() {
        let size = 1_000_000;
        let rec = Recorder::default();
        merkle::inclusion_proof_from(&rec, 123_456, size).unwrap();
        let n = needs(&rec.into_ranges());
        let leaves: u64 = n.leaves.iter().map(|(s, e)| e - s).sum();
        assert!(leaves <= 2 * CHUNK * 20, "{leaves} leaves");
        assert!(
            (n.chunks.len() as u64) < size / CHUNK,
            "{} chunks",
            n.chunks.len()
        );
    }

    #[test]
    fn runs_split_at_gaps_and_length() {
        assert_eq!(
            runs(&[1, 2, 3, 5, 6, 9], 2),
            vec![vec![1, 2], vec![3], vec![5, 6], vec![9]]
        );
        assert!(runs(&[], 4).is_empty());
    }
}
