//! Property tests: the library's roots and proofs against a plain recursive reference of RFC 9162 section 2.1, written independently here from the RFC's definitions.

use hippo_audit::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_from_inclusion_proof,
    root_from_leaf_hashes, root_from_leaves, verify_consistency, verify_inclusion, CompactTree,
    Hash,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Reference definitions, straight from the RFC text, over raw leaf data.
mod reference {
    use super::*;

    fn sha(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// k: the largest power of two smaller than n.
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]).
    pub fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => sha(&[]),
            1 => sha(&[&[0u8], &d[0]]),
            n => {
                let k = k(n);
                sha(&[&[1u8], &mth(&d[..k]), &mth(&d[k..])])
            }
        }
    }

    /// PATH(m, D[n]).
    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// PROOF(m, D[n]) for 0 < m < n.
    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        subproof(m, d, true)
    }
}

fn data(n: usize, salt: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("event {i} salt {salt}").into_bytes())
        .collect()
}

fn flip(h: &mut Hash, bit: u8) {
    h[(bit / 8) as usize % 32] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn root_matches_reference(n in 0usize..3000, salt in any::<u64>()) {
        let d = data(n, salt);
        let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
        let want = reference::mth(&d);
        prop_assert_eq!(root_from_leaves(&d), want);
        prop_assert_eq!(root_from_leaf_hashes(&leaves), want);
        let mut t = CompactTree::new();
        for l in &leaves { t.push_leaf_hash(*l); }
        prop_assert_eq!(t.root(), want);
        prop_assert_eq!(t.peaks().len(), n.count_ones() as usize);
    }

    #[test]
    fn compact_tree_roots_at_every_prefix(n in 1usize..300, salt in any::<u64>()) {
        let d = data(n, salt);
        let mut t = CompactTree::new();
        for (i, x) in d.iter().enumerate() {
            t.push_leaf(x);
            prop_assert_eq!(t.root(), reference::mth(&d[..=i]));
        }
    }

    #[test]
    fn inclusion_matches_reference(n in 1usize..3000, m_seed in any::<usize>(), salt in any::<u64>(), bit in any::<u8>()) {
        let d = data(n, salt);
        let m = m_seed % n;
        let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
        let root = reference::mth(&d);
        let proof = inclusion_proof(&leaves, m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &reference::path(m, &d));
        prop_assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &proof, &root).is_ok());
        prop_assert_eq!(root_from_inclusion_proof(&leaves[m], m as u64, n as u64, &proof).unwrap(), root);

        // Wrong leaf, wrong index, altered / shortened / extended proof: rejected.
        let mut other = leaves[m];
        flip(&mut other, bit);
        prop_assert!(verify_inclusion(&other, m as u64, n as u64, &proof, &root).is_err());
        if n > 1 {
            let wrong = ((m + 1) % n) as u64;
            prop_assert!(verify_inclusion(&leaves[m], wrong, n as u64, &proof, &root).is_err());
        }
        prop_assert!(verify_inclusion(&leaves[m], n as u64, n as u64, &proof, &root).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = bit as usize % bad.len();
            flip(&mut bad[i], bit);
            prop_assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &bad, &root).is_err());
            prop_assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &proof[..proof.len() - 1], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push([7; 32]);
        prop_assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &longer, &root).is_err());
    }

    #[test]
    fn consistency_matches_reference(n in 1usize..3000, m_seed in any::<usize>(), salt in any::<u64>(), bit in any::<u8>()) {
        let d = data(n, salt);
        let m = 1 + m_seed % n; // 1..=n
        let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
        let old_root = reference::mth(&d[..m]);
        let new_root = reference::mth(&d);
        let proof = consistency_proof(&leaves, m as u64, n as u64).unwrap();
        if m < n {
            prop_assert_eq!(&proof, &reference::proof(m, &d));
        } else {
            prop_assert!(proof.is_empty());
        }
        prop_assert!(verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof).is_ok());

        // Wrong roots, altered / truncated / extended proofs: rejected. (A wrong size alone
        // can be accepted when the path shape coincides; the roots are what bind.)
        let mut bad_old = old_root;
        flip(&mut bad_old, bit);
        prop_assert!(verify_consistency(m as u64, n as u64, &bad_old, &new_root, &proof).is_err());
        let mut bad_new = new_root;
        flip(&mut bad_new, bit);
        prop_assert!(verify_consistency(m as u64, n as u64, &old_root, &bad_new, &proof).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = bit as usize % bad.len();
            flip(&mut bad[i], bit);
            prop_assert!(verify_consistency(m as u64, n as u64, &old_root, &new_root, &bad).is_err());
            prop_assert!(verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof[..proof.len() - 1]).is_err());
        }
        let mut longer = proof.clone();
        longer.push([9; 32]);
        prop_assert!(verify_consistency(m as u64, n as u64, &old_root, &new_root, &longer).is_err());
    }
}

/// Exhaustive over small trees: every index and every pair of sizes.
#[test]
fn exhaustive_small_trees() {
    let d = data(70, 1);
    let leaves: Vec<Hash> = d.iter().map(|x| leaf_hash(x)).collect();
    let roots: Vec<Hash> = (0..=d.len()).map(|n| reference::mth(&d[..n])).collect();
    for n in 1..=d.len() {
        for m in 0..n {
            let p = inclusion_proof(&leaves, m as u64, n as u64).unwrap();
            assert_eq!(p, reference::path(m, &d[..n]), "path {m} of {n}");
            verify_inclusion(&leaves[m], m as u64, n as u64, &p, &roots[n]).unwrap();
        }
        for m in 0..=n {
            let p = consistency_proof(&leaves, m as u64, n as u64).unwrap();
            if 0 < m && m < n {
                assert_eq!(p, reference::proof(m, &d[..n]), "proof {m} to {n}");
            }
            verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &p).unwrap();
        }
    }
}
