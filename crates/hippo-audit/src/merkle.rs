//! RFC 9162 Merkle tree hashing: leaf/node hashes, tree roots (MTH), the compact tree state a sequencer stores, and inclusion and consistency proofs (generation and verification).
//!
//! Everything here follows RFC 9162 section 2.1 (Certificate Transparency v2):
//!
//! * leaf hash `SHA-256(0x00 || data)`, interior node hash `SHA-256(0x01 || left || right)`;
//! * the root of an empty tree is `SHA-256("")`;
//! * a tree of `n > 1` leaves is split at `k`, the largest power of two smaller than `n`.
//!
//! The module performs no I/O. Leaf hashes for proof generation come either from a
//! slice or from a [`LeafSource`], which a store implements (and may speed up by
//! overriding [`LeafSource::subtree_root`] with cached interior nodes).

use sha2::{Digest, Sha256};
use std::convert::Infallible;

/// Length of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub type Hash = [u8; HASH_LEN];

/// Domain-separation prefix of leaf hashes (RFC 9162 section 2.1.1).
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix of interior node hashes (RFC 9162 section 2.1.1).
pub const NODE_PREFIX: u8 = 0x01;

/// Structural errors: asking for a proof or a state that cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The requested tree size exceeds the leaves available.
    #[error("tree size {size} exceeds the {available} leaves available")]
    SizeOutOfRange { size: u64, available: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesReversed { old_size: u64, new_size: u64 },
    /// A compact tree's peaks do not match its size (one peak per set bit).
    #[error("a compact tree of size {size} needs {expected} peaks, got {got}")]
    BadPeakCount {
        size: u64,
        expected: u32,
        got: usize,
    },
}

/// Error of proof generation through a [`LeafSource`]: structural, or the source's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The request itself is impossible.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// The leaf source failed to deliver a hash.
    #[error("leaf source failed: {0}")]
    Source(E),
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofVerifyError {
    /// Inclusion: the index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// Consistency: the old size is larger than the new size.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesReversed { old_size: u64, new_size: u64 },
    /// The proof has more hashes than the tree shape allows.
    #[error("proof is too long")]
    ProofTooLong,
    /// The proof has fewer hashes than the tree shape requires.
    #[error("proof is too short")]
    ProofTooShort,
    /// The recomputed root differs from the expected one.
    #[error("recomputed root does not match the expected root")]
    RootMismatch,
    /// Consistency: the recomputed old root differs from the expected old root.
    #[error("recomputed old root does not match the expected old root")]
    OldRootMismatch,
    /// Consistency: the recomputed new root differs from the expected new root.
    #[error("recomputed new root does not match the expected new root")]
    NewRootMismatch,
}

/// `SHA-256(0x00 || data)`: the hash of one leaf (one canonical audit event).
#[inline]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = NODE_PREFIX;
    buf[1..1 + HASH_LEN].copy_from_slice(left);
    buf[1 + HASH_LEN..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (`n >= 2`): RFC 9162's split point `k`.
#[inline]
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH over leaf hashes: the root of the tree whose leaves are `leaf_hashes`.
pub fn root_from_leaf_hashes(leaf_hashes: &[Hash]) -> Hash {
    let mut tree = CompactTree::new();
    for h in leaf_hashes {
        tree.push_leaf_hash(*h);
    }
    tree.root()
}

/// MTH over raw leaf data (hashes every item as a leaf first). O(log n) memory.
pub fn root_from_leaves<I>(leaves: I) -> Hash
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut tree = CompactTree::new();
    for leaf in leaves {
        tree.push_leaf(leaf.as_ref());
    }
    tree.root()
}

/// Compact (incremental) tree state: the size and the roots of the perfect subtrees
/// ("peaks") that make up the tree, largest (leftmost) first. There is one peak per set
/// bit of the size, so the state is at most 64 hashes however large the log grows.
///
/// This is what a sequencer persists: append leaf hashes in order with
/// [`push_leaf_hash`](Self::push_leaf_hash), read the root at the current size with
/// [`root`](Self::root) (clone the state first to keep roots of intermediate sizes).
/// Appending costs amortised two hash computations per leaf.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "CompactTreeRepr", into = "CompactTreeRepr")]
pub struct CompactTree {
    size: u64,
    peaks: Vec<Hash>,
}

/// JSON form of [`CompactTree`]: `{"size": n, "peaks": ["<hex>", ...]}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct CompactTreeRepr {
    size: u64,
    peaks: Vec<HexHash>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct HexHash(#[serde(with = "hash_hex")] Hash);

impl From<CompactTree> for CompactTreeRepr {
    fn from(t: CompactTree) -> Self {
        CompactTreeRepr {
            size: t.size,
            peaks: t.peaks.into_iter().map(HexHash).collect(),
        }
    }
}

impl TryFrom<CompactTreeRepr> for CompactTree {
    type Error = MerkleError;
    fn try_from(r: CompactTreeRepr) -> Result<Self, MerkleError> {
        CompactTree::from_parts(r.size, r.peaks.into_iter().map(|h| h.0).collect())
    }
}

impl CompactTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a state from its size and peaks (as returned by [`size`](Self::size)
    /// and [`peaks`](Self::peaks)); fails unless there is one peak per set bit of `size`.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones();
        if peaks.len() != expected as usize {
            return Err(MerkleError::BadPeakCount {
                size,
                expected,
                got: peaks.len(),
            });
        }
        Ok(Self { size, peaks })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the perfect subtrees, largest (leftmost) first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Appends one leaf given its leaf hash.
    #[inline]
    pub fn push_leaf_hash(&mut self, leaf_hash: Hash) {
        let mut carry = leaf_hash;
        let mut s = self.size;
        while s & 1 == 1 {
            // Invariant: one peak per set bit, so a set bit always has a peak to merge.
            let left = self.peaks.pop().expect("peak for every set bit");
            carry = node_hash(&left, &carry);
            s >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// Hashes `data` as a leaf, appends it and returns the leaf hash.
    #[inline]
    pub fn push_leaf(&mut self, data: &[u8]) -> Hash {
        let h = leaf_hash(data);
        self.push_leaf_hash(h);
        h
    }

    /// Root hash (MTH) at the current size.
    pub fn root(&self) -> Hash {
        match self.peaks.split_last() {
            None => empty_root(),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, peak| node_hash(peak, &acc)),
        }
    }
}

/// Where proof generation gets leaf hashes: a slice in memory, or a store.
pub trait LeafSource {
    /// The store's error.
    type Error;

    /// The leaf hash at `index` (0-based).
    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error>;

    /// MTH of the leaves `start..end` (`start < end`). The default recomputes it from
    /// the leaf hashes; a store with cached interior nodes may override it.
    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Self::Error> {
        let mut tree = CompactTree::new();
        for i in start..end {
            tree.push_leaf_hash(self.leaf_hash(i)?);
        }
        Ok(tree.root())
    }
}

impl LeafSource for [Hash] {
    type Error = Infallible;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Infallible> {
        Ok(self[index as usize])
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Infallible> {
        Ok(root_from_leaf_hashes(&self[start as usize..end as usize]))
    }
}

impl LeafSource for Vec<Hash> {
    type Error = Infallible;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Infallible> {
        self.as_slice().leaf_hash(index)
    }

    fn subtree_root(&self, start: u64, end: u64) -> Result<Hash, Infallible> {
        self.as_slice().subtree_root(start, end)
    }
}

fn inclusion_path_rec<S: LeafSource + ?Sized>(
    src: &S,
    index: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if index < k {
        inclusion_path_rec(src, index, start, k, out)?;
        out.push(src.subtree_root(start + k, start + n)?);
    } else {
        inclusion_path_rec(src, index - k, start + k, n - k, out)?;
        out.push(src.subtree_root(start, start + k)?);
    }
    Ok(())
}

/// Inclusion proof (RFC 9162 section 2.1.3.1, `PATH(m, D[n])`) of leaf `index` in the
/// tree of the first `size` leaves of `src`. Hashes are ordered from the leaf upwards.
pub fn inclusion_proof_from<S: LeafSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size }.into());
    }
    let mut out = Vec::with_capacity(64 - size.leading_zeros() as usize);
    inclusion_path_rec(src, index, 0, size, &mut out).map_err(ProofError::Source)?;
    Ok(out)
}

/// [`inclusion_proof_from`] over an in-memory slice of leaf hashes.
pub fn inclusion_proof(
    leaf_hashes: &[Hash],
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    check_available(leaf_hashes, size)?;
    inclusion_proof_from(leaf_hashes, index, size).map_err(unwrap_infallible)
}

fn check_available(leaf_hashes: &[Hash], size: u64) -> Result<(), MerkleError> {
    let available = leaf_hashes.len() as u64;
    if size > available {
        return Err(MerkleError::SizeOutOfRange { size, available });
    }
    Ok(())
}

fn unwrap_infallible(e: ProofError<Infallible>) -> MerkleError {
    match e {
        ProofError::Merkle(m) => m,
        ProofError::Source(never) => match never {},
    }
}

fn subproof_rec<S: LeafSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    if m == n {
        if !complete {
            out.push(src.subtree_root(start, start + n)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof_rec(src, m, start, k, complete, out)?;
        out.push(src.subtree_root(start + k, start + n)?);
    } else {
        subproof_rec(src, m - k, start + k, n - k, false, out)?;
        out.push(src.subtree_root(start, start + k)?);
    }
    Ok(())
}

/// Consistency proof (RFC 9162 section 2.1.4.1, `PROOF(m, D[n])`) between the trees of
/// the first `old_size` and the first `new_size` leaves of `src`. Empty when
/// `old_size == 0` or `old_size == new_size`.
pub fn consistency_proof_from<S: LeafSource + ?Sized>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if old_size > new_size {
        return Err(MerkleError::SizesReversed { old_size, new_size }.into());
    }
    let mut out = Vec::new();
    if old_size == 0 || old_size == new_size {
        return Ok(out);
    }
    subproof_rec(src, old_size, 0, new_size, true, &mut out).map_err(ProofError::Source)?;
    Ok(out)
}

/// [`consistency_proof_from`] over an in-memory slice of leaf hashes.
pub fn consistency_proof(
    leaf_hashes: &[Hash],
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    check_available(leaf_hashes, new_size)?;
    consistency_proof_from(leaf_hashes, old_size, new_size).map_err(unwrap_infallible)
}

/// Recomputes the root from a leaf hash and its inclusion proof (RFC 9162 section
/// 2.1.3.2, steps 1-4), checking the proof has exactly the length the shape requires.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofVerifyError> {
    if index >= size {
        return Err(ProofVerifyError::IndexOutOfRange { index, size });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(ProofVerifyError::ProofTooLong);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            // (Only runs when LSB(fn) was clear: shift until it is set or fn is 0.)
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofVerifyError::ProofTooShort);
    }
    Ok(r)
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofVerifyError> {
    if root_from_inclusion_proof(leaf_hash, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(ProofVerifyError::RootMismatch)
    }
}

/// Verifies a consistency proof (RFC 9162 section 2.1.4.2) that the tree of `new_size`
/// leaves with root `new_root` extends the tree of `old_size` leaves with root `old_root`.
///
/// Edge cases the RFC leaves to the caller: `old_size == new_size` needs an empty proof
/// and equal roots; `old_size == 0` needs an empty proof and `old_root` equal to
/// [`empty_root`] (every tree extends the empty one).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofVerifyError> {
    if old_size > new_size {
        return Err(ProofVerifyError::SizesReversed { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofVerifyError::ProofTooLong);
        }
        if old_size == 0 {
            return if *old_root == empty_root() {
                Ok(())
            } else {
                Err(ProofVerifyError::OldRootMismatch)
            };
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofVerifyError::NewRootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofVerifyError::ProofTooShort);
    }
    // Step 2: when the old tree is a perfect subtree its root is the first path element.
    let (first, rest): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *first;
    let mut s_r = *first;
    for c in rest {
        if s_n == 0 {
            return Err(ProofVerifyError::ProofTooLong);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            // (Only runs when LSB(fn) was clear: shift until it is set or fn is 0.)
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofVerifyError::ProofTooShort);
    }
    if f_r != *old_root {
        return Err(ProofVerifyError::OldRootMismatch);
    }
    if s_r != *new_root {
        return Err(ProofVerifyError::NewRootMismatch);
    }
    Ok(())
}

/// Lower-case hex encoding of a hash.
pub fn hash_to_hex(h: &Hash) -> String {
    hex::encode(h)
}

/// Parses a 64-character hex hash (either case).
pub fn hash_from_hex(s: &str) -> Result<Hash, hex::FromHexError> {
    let mut out = [0u8; HASH_LEN];
    hex::decode_to_slice(s, &mut out)?;
    Ok(out)
}

/// Serde helper: a [`Hash`](type@Hash) as a lower-case hex string (`#[serde(with = "hash_hex")]`).
pub mod hash_hex {
    use super::{hash_from_hex, Hash};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as lower-case hex.
    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    /// Parses 64 hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hash_from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Certificate Transparency reference data (RFC 6962 test vectors as used by the CT
    // and transparency-dev test suites): eight leaves and the root of every prefix.
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(s: &str) -> Hash {
        hash_from_hex(s).unwrap()
    }

    fn ct_leaf_hashes() -> Vec<Hash> {
        CT_LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect()
    }

    #[test]
    fn ct_roots_for_every_prefix() {
        let leaves = ct_leaf_hashes();
        for (n, want) in CT_ROOTS.iter().enumerate() {
            assert_eq!(
                hash_to_hex(&root_from_leaf_hashes(&leaves[..n])),
                *want,
                "size {n}"
            );
            let data: Vec<Vec<u8>> = CT_LEAVES[..n]
                .iter()
                .map(|l| hex::decode(l).unwrap())
                .collect();
            assert_eq!(hash_to_hex(&root_from_leaves(&data)), *want, "size {n}");
        }
    }

    #[test]
    fn ct_inclusion_vectors() {
        let leaves = ct_leaf_hashes();
        let cases: [(u64, u64, [&str; 3]); 2] = [
            (
                0,
                8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(inclusion_proof(&leaves, index, size).unwrap(), want);
            verify_inclusion(
                &leaves[index as usize],
                index,
                size,
                &want,
                &h(CT_ROOTS[size as usize]),
            )
            .unwrap();
        }
    }

    #[test]
    fn ct_consistency_vectors() {
        let leaves = ct_leaf_hashes();
        let cases: [(u64, u64, &[&str]); 2] = [
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(consistency_proof(&leaves, old, new).unwrap(), want);
            verify_consistency(
                old,
                new,
                &h(CT_ROOTS[old as usize]),
                &h(CT_ROOTS[new as usize]),
                &want,
            )
            .unwrap();
        }
    }

    #[test]
    fn leaf_and_node_prefixes() {
        assert_eq!(leaf_hash(b""), h(CT_ROOTS[1]));
        let l = ct_leaf_hashes();
        assert_eq!(node_hash(&l[0], &l[1]), h(CT_ROOTS[2]));
        assert_ne!(node_hash(&l[0], &l[1]), node_hash(&l[1], &l[0]));
        assert_eq!(empty_root(), h(CT_ROOTS[0]));
    }

    #[test]
    fn compact_tree_round_trips_through_json() {
        let mut t = CompactTree::new();
        for i in 0u32..13 {
            t.push_leaf(&i.to_be_bytes());
        }
        let json = serde_json::to_string(&t).unwrap();
        let back: CompactTree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.root(), t.root());
        assert_eq!(t.peaks().len(), 3);
        let again = CompactTree::from_parts(t.size(), t.peaks().to_vec()).unwrap();
        assert_eq!(again, t);
        assert!(CompactTree::from_parts(13, vec![[0; 32]; 2]).is_err());
        assert!(serde_json::from_str::<CompactTree>(r#"{"size":1,"peaks":[]}"#).is_err());
    }

    #[test]
    fn structural_errors() {
        let leaves = ct_leaf_hashes();
        assert_eq!(
            inclusion_proof(&leaves, 8, 8),
            Err(MerkleError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert_eq!(
            inclusion_proof(&leaves, 0, 9),
            Err(MerkleError::SizeOutOfRange {
                size: 9,
                available: 8
            })
        );
        assert_eq!(
            consistency_proof(&leaves, 5, 3),
            Err(MerkleError::SizesReversed {
                old_size: 5,
                new_size: 3
            })
        );
        assert!(consistency_proof(&leaves, 0, 8).unwrap().is_empty());
        assert!(consistency_proof(&leaves, 8, 8).unwrap().is_empty());
    }

    #[test]
    fn consistency_edge_cases() {
        let r = root_from_leaf_hashes(&ct_leaf_hashes());
        verify_consistency(0, 8, &empty_root(), &r, &[]).unwrap();
        assert!(verify_consistency(0, 8, &r, &r, &[]).is_err());
        verify_consistency(8, 8, &r, &r, &[]).unwrap();
        assert!(verify_consistency(8, 8, &r, &empty_root(), &[]).is_err());
        assert!(verify_consistency(8, 8, &r, &r, &[r]).is_err());
        assert!(verify_consistency(3, 8, &r, &r, &[]).is_err());
        assert!(verify_consistency(9, 8, &r, &r, &[]).is_err());
    }

    /// A store-like source that fails past a limit, to exercise `ProofError::Source`.
    struct Flaky(Vec<Hash>, u64);
    impl LeafSource for Flaky {
        type Error = String;
        fn leaf_hash(&self, index: u64) -> Result<Hash, String> {
            if index >= self.1 {
                Err(format!("row {index} unavailable"))
            } else {
                Ok(self.0[index as usize])
            }
        }
    }

    #[test]
    fn leaf_source_default_subtree_root_and_errors() {
        let leaves = ct_leaf_hashes();
        let ok = Flaky(leaves.clone(), 8);
        assert_eq!(
            inclusion_proof_from(&ok, 5, 8).unwrap(),
            inclusion_proof(&leaves, 5, 8).unwrap()
        );
        assert_eq!(
            consistency_proof_from(&ok, 3, 7).unwrap(),
            consistency_proof(&leaves, 3, 7).unwrap()
        );
        let bad = Flaky(leaves, 6);
        assert!(matches!(
            inclusion_proof_from(&bad, 1, 8),
            Err(ProofError::Source(_))
        ));
    }
}
