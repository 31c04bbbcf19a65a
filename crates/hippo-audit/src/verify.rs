//! Whole-log verification: recompute the Merkle tree from the stored events, check every signed tree head against it, and report the first problem (deleted, inserted, reordered or altered event, wrong root, bad signature) by sequence number.
//!
//! The caller streams the events in the order it reads them (normally `ORDER BY seq`)
//! as [`EventRecord`]s and passes the signed tree heads and the trusted public keys;
//! [`verify_log`] returns a [`VerifyReport`] that a CLI prints with `Display` or as
//! JSON. Memory stays O(log n) plus a bounded look-ahead window, and the work is one
//! leaf hash and about one node hash per event.
//!
//! Sequence numbers are expected to run `first_seq, first_seq + 1, ...` with no holes;
//! the event with sequence number `s` is leaf `s - first_seq` of the tree.
//!
//! What is detected, and where:
//!
//! * a hole in the sequence: [`Problem::Deleted`] at the first missing number;
//! * a number seen twice or going backwards: [`Problem::Inserted`];
//! * a number that comes early while the expected one follows within
//!   [`VerifyOptions::lookahead`] events: [`Problem::OutOfOrder`];
//! * with a stored leaf hash per event (the hash the sequencer integrated), the first
//!   event whose recomputed leaf hash differs: [`Problem::Altered`], or
//!   [`Problem::Swapped`] when its content carries the stored hash of a later event and
//!   vice versa;
//! * without stored leaf hashes, an altered event shows as a [`Problem::RootMismatch`]
//!   at the first tree head after it, which bounds the event between the last matching
//!   head and that one;
//! * events missing at the end: [`Problem::TreeHeadBeyondLog`];
//! * a head whose signature or key is wrong, or which names another log:
//!   [`Problem::BadSignature`], [`Problem::WrongLog`].
//!
//! To pinpoint an altered event even when its row is rewritten consistently, the
//! canonical event bytes should include the sequence number itself. The module
//! performs no I/O.

use crate::merkle::{hash_hex, leaf_hash, CompactTree, Hash};
use crate::tree_head::{AuditPublicKey, SignedTreeHead};
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;

/// One stored audit event as the verifier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord<B> {
    /// Its sequence number.
    pub seq: u64,
    /// Its canonical bytes (what was hashed as the Merkle leaf).
    pub canonical: B,
    /// The leaf hash stored when it was integrated, if the store keeps one.
    pub stored_leaf_hash: Option<Hash>,
}

impl<B> EventRecord<B> {
    /// An event without a stored leaf hash.
    pub fn new(seq: u64, canonical: B) -> Self {
        Self {
            seq,
            canonical,
            stored_leaf_hash: None,
        }
    }

    /// An event with the leaf hash stored at integration.
    pub fn with_leaf_hash(seq: u64, canonical: B, stored_leaf_hash: Hash) -> Self {
        Self {
            seq,
            canonical,
            stored_leaf_hash: Some(stored_leaf_hash),
        }
    }
}

/// Settings of a verification run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Sequence number of leaf 0 (default 1, as a database sequence starts).
    pub first_seq: u64,
    /// When set, every tree head must name this log (or one of `log_id_aliases`).
    pub log_id: Option<String>,
    /// Other names accepted for `log_id` in tree heads: names an older release signed heads
    /// of this same log with. Signed heads cannot be renamed without re-signing them, which
    /// would defeat their purpose, so verification accepts the old name instead.
    pub log_id_aliases: Vec<String>,
    /// How many events to look ahead when a number comes early, to tell a reordering
    /// from a deletion (default 1024).
    pub lookahead: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            first_seq: 1,
            log_id: None,
            log_id_aliases: Vec::new(),
            lookahead: 1024,
        }
    }
}

/// The first problem found. Sequence numbers are the events'; tree sizes count leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Events `first_missing_seq ..= next_present_seq - 1` are missing (deleted).
    Deleted {
        first_missing_seq: u64,
        missing_count: u64,
        next_present_seq: u64,
    },
    /// An event with number `seq` appeared after `after_seq` although that number was
    /// already used (inserted or duplicated event).
    Inserted { seq: u64, after_seq: Option<u64> },
    /// Event `found_seq` appears where `expected_seq` belongs, and `expected_seq` comes
    /// later (reordered events).
    OutOfOrder { expected_seq: u64, found_seq: u64 },
    /// The contents of events `seq` and `other_seq` are exchanged.
    Swapped { seq: u64, other_seq: u64 },
    /// Event `seq` no longer hashes to the leaf hash stored when it was integrated.
    Altered {
        seq: u64,
        #[serde(with = "hash_hex")]
        stored_leaf_hash: Hash,
        #[serde(with = "hash_hex")]
        recomputed_leaf_hash: Hash,
    },
    /// The signed root at `tree_size` differs from the recomputed one: some event in
    /// `first_suspect_seq ..= last_suspect_seq` was altered, inserted or removed.
    RootMismatch {
        tree_size: u64,
        #[serde(with = "hash_hex")]
        signed_root: Hash,
        #[serde(with = "hash_hex")]
        recomputed_root: Hash,
        first_suspect_seq: u64,
        last_suspect_seq: u64,
    },
    /// Two validly signed tree heads give different roots for the same size: the signer
    /// equivocated (key compromise or a forked log).
    ConflictingTreeHeads {
        tree_size: u64,
        #[serde(with = "hash_hex")]
        root: Hash,
        #[serde(with = "hash_hex")]
        other_root: Hash,
    },
    /// A tree head covers `tree_size` events but the log holds only `events_present`:
    /// events from `first_missing_seq` on are gone.
    TreeHeadBeyondLog {
        tree_size: u64,
        events_present: u64,
        first_missing_seq: u64,
    },
    /// The tree head at `tree_size` is not validly signed by a trusted key.
    BadSignature { tree_size: u64, reason: String },
    /// The tree head at `tree_size` belongs to another log.
    WrongLog {
        tree_size: u64,
        expected: String,
        found: String,
    },
}

impl Problem {
    /// A short machine-friendly word: `deleted`, `inserted`, `reordered`, `altered`,
    /// `root_mismatch`, `truncated`, `bad_signature` or `wrong_log`.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Deleted { .. } => "deleted",
            Problem::Inserted { .. } => "inserted",
            Problem::OutOfOrder { .. } | Problem::Swapped { .. } => "reordered",
            Problem::Altered { .. } => "altered",
            Problem::RootMismatch { .. } => "root_mismatch",
            Problem::ConflictingTreeHeads { .. } => "conflicting_tree_heads",
            Problem::TreeHeadBeyondLog { .. } => "truncated",
            Problem::BadSignature { .. } => "bad_signature",
            Problem::WrongLog { .. } => "wrong_log",
        }
    }

    /// The sequence number the problem points at, when it points at one event.
    pub fn seq(&self) -> Option<u64> {
        match *self {
            Problem::Deleted {
                first_missing_seq, ..
            } => Some(first_missing_seq),
            Problem::Inserted { seq, .. } => Some(seq),
            Problem::OutOfOrder { expected_seq, .. } => Some(expected_seq),
            Problem::Swapped { seq, .. } => Some(seq),
            Problem::Altered { seq, .. } => Some(seq),
            Problem::TreeHeadBeyondLog {
                first_missing_seq, ..
            } => Some(first_missing_seq),
            Problem::RootMismatch { .. }
            | Problem::ConflictingTreeHeads { .. }
            | Problem::BadSignature { .. }
            | Problem::WrongLog { .. } => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Deleted {
                first_missing_seq,
                missing_count,
                next_present_seq,
            } => {
                if *missing_count == 1 {
                    write!(f, "event {first_missing_seq} is missing (deleted)")
                } else {
                    write!(
                        f,
                        "events {first_missing_seq} to {} are missing ({missing_count} deleted)",
                        next_present_seq - 1
                    )
                }
            }
            Problem::Inserted { seq, after_seq } => match after_seq {
                Some(a) => write!(
                    f,
                    "unexpected event {seq} after event {a}: its number is already used (inserted or duplicated)"
                ),
                None => write!(f, "unexpected event {seq} before the first event"),
            },
            Problem::OutOfOrder {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "event {found_seq} appears where event {expected_seq} belongs (reordered)"
            ),
            Problem::Swapped { seq, other_seq } => write!(
                f,
                "events {seq} and {other_seq} have exchanged contents (reordered)"
            ),
            Problem::Altered {
                seq,
                stored_leaf_hash,
                recomputed_leaf_hash,
            } => write!(
                f,
                "event {seq} was altered: its leaf hash is {} but {} was integrated",
                hex::encode(recomputed_leaf_hash),
                hex::encode(stored_leaf_hash)
            ),
            Problem::RootMismatch {
                tree_size,
                signed_root,
                recomputed_root,
                first_suspect_seq,
                last_suspect_seq,
            } => write!(
                f,
                "tree head at size {tree_size} signs root {} but the events give {}: an event between {first_suspect_seq} and {last_suspect_seq} was altered",
                hex::encode(signed_root),
                hex::encode(recomputed_root)
            ),
            Problem::ConflictingTreeHeads {
                tree_size,
                root,
                other_root,
            } => write!(
                f,
                "two signed tree heads at size {tree_size} give different roots ({} and {}): the log was forked or the signing key misused",
                hex::encode(root),
                hex::encode(other_root)
            ),
            Problem::TreeHeadBeyondLog {
                tree_size,
                events_present,
                first_missing_seq,
            } => write!(
                f,
                "tree head covers {tree_size} events but only {events_present} are stored: events from {first_missing_seq} on are missing (deleted)"
            ),
            Problem::BadSignature { tree_size, reason } => {
                write!(f, "tree head at size {tree_size} has a bad signature: {reason}")
            }
            Problem::WrongLog {
                tree_size,
                expected,
                found,
            } => write!(
                f,
                "tree head at size {tree_size} is for log {found:?}, not {expected:?}"
            ),
        }
    }
}

/// Outcome of [`verify_log`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events read and accepted before stopping.
    pub events_checked: u64,
    /// Sequence number of the last accepted event.
    pub last_seq: Option<u64>,
    /// Tree heads whose signature and root were checked and matched.
    pub tree_heads_verified: u64,
    /// Tree heads given.
    pub tree_heads_total: u64,
    /// Largest tree size whose signed root matched (0 if none).
    pub largest_verified_size: u64,
    /// Root of the accepted events.
    #[serde(with = "hash_hex")]
    pub recomputed_root: Hash,
    /// Accepted events that no verified tree head covers yet (not an error: the newest
    /// events are signed at the next head).
    pub unsigned_events: u64,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            None => writeln!(f, "OK: audit log verified")?,
            Some(p) => writeln!(f, "FAILED ({}): {p}", p.kind())?,
        }
        writeln!(f, "  events checked:        {}", self.events_checked)?;
        if let Some(s) = self.last_seq {
            writeln!(f, "  last sequence number:  {s}")?;
        }
        writeln!(
            f,
            "  tree heads verified:   {} of {}",
            self.tree_heads_verified, self.tree_heads_total
        )?;
        writeln!(f, "  largest verified size: {}", self.largest_verified_size)?;
        writeln!(
            f,
            "  recomputed root:       {}",
            hex::encode(self.recomputed_root)
        )?;
        write!(f, "  events not yet signed: {}", self.unsigned_events)
    }
}

/// Recomputes the tree from `events`, checks `heads` (any order) against it and against
/// `keys`, and reports the first problem in log order. A head is checked as soon as the
/// recomputed tree reaches its size; a head and an event problem at the same place are
/// reported head first only if the head's size is reached before the event is read.
pub fn verify_log<I, B>(
    events: I,
    heads: &[SignedTreeHead],
    keys: &[AuditPublicKey],
    opts: &VerifyOptions,
) -> VerifyReport
where
    I: IntoIterator<Item = EventRecord<B>>,
    B: AsRef<[u8]>,
{
    let mut run = Run {
        heads: {
            let mut v: Vec<&SignedTreeHead> = heads.iter().collect();
            v.sort_by_key(|h| h.head.tree_size);
            v
        },
        next_head: 0,
        keys,
        opts,
        tree: CompactTree::new(),
        verified: 0,
        largest_verified_size: 0,
        last_seq: None,
    };
    let problem = run.go(events.into_iter());
    let size = run.tree.size();
    VerifyReport {
        events_checked: size,
        last_seq: run.last_seq,
        tree_heads_verified: run.verified,
        tree_heads_total: heads.len() as u64,
        largest_verified_size: run.largest_verified_size,
        recomputed_root: run.tree.root(),
        unsigned_events: size - run.largest_verified_size.min(size),
        problem,
    }
}

struct Run<'a> {
    heads: Vec<&'a SignedTreeHead>,
    next_head: usize,
    keys: &'a [AuditPublicKey],
    opts: &'a VerifyOptions,
    tree: CompactTree,
    verified: u64,
    largest_verified_size: u64,
    last_seq: Option<u64>,
}

impl Run<'_> {
    fn go<I, B>(&mut self, mut events: I) -> Option<Problem>
    where
        I: Iterator<Item = EventRecord<B>>,
        B: AsRef<[u8]>,
    {
        let first_seq = self.opts.first_seq;
        let mut window: VecDeque<EventRecord<B>> = VecDeque::new();
        if let Some(p) = self.check_heads() {
            return Some(p);
        }
        loop {
            let ev = match window.pop_front().or_else(|| events.next()) {
                Some(ev) => ev,
                None => break,
            };
            let expected = first_seq + self.tree.size();
            if ev.seq != expected {
                if ev.seq < expected {
                    return Some(Problem::Inserted {
                        seq: ev.seq,
                        after_seq: self.last_seq,
                    });
                }
                // A later number came early: reordered if the expected one follows soon.
                let found = fill_until(&mut window, &mut events, self.opts.lookahead, |e| {
                    e.seq == expected
                });
                return Some(if found {
                    Problem::OutOfOrder {
                        expected_seq: expected,
                        found_seq: ev.seq,
                    }
                } else {
                    Problem::Deleted {
                        first_missing_seq: expected,
                        missing_count: ev.seq - expected,
                        next_present_seq: ev.seq,
                    }
                });
            }
            let lh = leaf_hash(ev.canonical.as_ref());
            if let Some(stored) = ev.stored_leaf_hash {
                if stored != lh {
                    let _ = fill_until(&mut window, &mut events, self.opts.lookahead, |e| {
                        e.stored_leaf_hash == Some(lh)
                    });
                    let partner = window.iter().find(|e| {
                        e.stored_leaf_hash == Some(lh) && leaf_hash(e.canonical.as_ref()) == stored
                    });
                    return Some(match partner {
                        Some(other) => Problem::Swapped {
                            seq: ev.seq,
                            other_seq: other.seq,
                        },
                        None => Problem::Altered {
                            seq: ev.seq,
                            stored_leaf_hash: stored,
                            recomputed_leaf_hash: lh,
                        },
                    });
                }
            }
            self.tree.push_leaf_hash(lh);
            self.last_seq = Some(ev.seq);
            if let Some(p) = self.check_heads() {
                return Some(p);
            }
        }
        // Heads beyond the end of the stored events: the tail was removed.
        if let Some(h) = self.heads.get(self.next_head) {
            return Some(Problem::TreeHeadBeyondLog {
                tree_size: h.head.tree_size,
                events_present: self.tree.size(),
                first_missing_seq: first_seq + self.tree.size(),
            });
        }
        None
    }

    /// Checks every head whose size equals the current tree size.
    fn check_heads(&mut self) -> Option<Problem> {
        let size = self.tree.size();
        while let Some(h) = self.heads.get(self.next_head) {
            if h.head.tree_size != size {
                break;
            }
            self.next_head += 1;
            if let Some(want) = &self.opts.log_id {
                if *want != h.head.log_id && !self.opts.log_id_aliases.contains(&h.head.log_id) {
                    return Some(Problem::WrongLog {
                        tree_size: size,
                        expected: want.clone(),
                        found: h.head.log_id.clone(),
                    });
                }
            }
            if let Err(e) = h.verify_with_any(self.keys) {
                return Some(Problem::BadSignature {
                    tree_size: size,
                    reason: e.to_string(),
                });
            }
            let root = self.tree.root();
            if root != h.head.root_hash && self.verified > 0 && self.largest_verified_size == size {
                return Some(Problem::ConflictingTreeHeads {
                    tree_size: size,
                    root,
                    other_root: h.head.root_hash,
                });
            }
            if root != h.head.root_hash {
                return Some(Problem::RootMismatch {
                    tree_size: size,
                    signed_root: h.head.root_hash,
                    recomputed_root: root,
                    first_suspect_seq: self.opts.first_seq + self.largest_verified_size,
                    last_suspect_seq: self.opts.first_seq + size.saturating_sub(1),
                });
            }
            self.verified += 1;
            self.largest_verified_size = size;
        }
        None
    }
}

/// Reads events into `window` until one satisfies `pred` (true) or the window holds
/// `limit` events or the input ends (false).
fn fill_until<B, I: Iterator<Item = EventRecord<B>>>(
    window: &mut VecDeque<EventRecord<B>>,
    events: &mut I,
    limit: usize,
    pred: impl Fn(&EventRecord<B>) -> bool,
) -> bool {
    if window.iter().any(&pred) {
        return true;
    }
    while window.len() < limit {
        match events.next() {
            Some(e) => {
                let hit = pred(&e);
                window.push_back(e);
                if hit {
                    return true;
                }
            }
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree_head::{AuditSigningKey, TreeHead};

    const N: u64 = 40;

    fn event(seq: u64) -> Vec<u8> {
        format!(r#"{{"action":"read","seq":{seq}}}"#).into_bytes()
    }

    fn key() -> AuditSigningKey {
        AuditSigningKey::from_seed(&[3; 32])
    }

    /// Clean log of N events (seq 1..=N) with heads at 0, 10, 25, N.
    fn clean() -> (Vec<EventRecord<Vec<u8>>>, Vec<SignedTreeHead>) {
        let events: Vec<_> = (1..=N)
            .map(|s| EventRecord::with_leaf_hash(s, event(s), leaf_hash(&event(s))))
            .collect();
        let mut heads = Vec::new();
        for size in [0u64, 10, 25, N] {
            let mut t = CompactTree::new();
            for e in &events[..size as usize] {
                t.push_leaf(&e.canonical);
            }
            let th = TreeHead::new("tenant-a", size, t.root(), 1000 + size).unwrap();
            heads.push(key().sign(th).unwrap());
        }
        (events, heads)
    }

    fn run(events: Vec<EventRecord<Vec<u8>>>, heads: &[SignedTreeHead]) -> VerifyReport {
        let opts = VerifyOptions {
            log_id: Some("tenant-a".into()),
            ..VerifyOptions::default()
        };
        verify_log(events, heads, &[key().public_key()], &opts)
    }

    fn strip(events: Vec<EventRecord<Vec<u8>>>) -> Vec<EventRecord<Vec<u8>>> {
        events
            .into_iter()
            .map(|e| EventRecord::new(e.seq, e.canonical))
            .collect()
    }

    #[test]
    fn clean_log_verifies() {
        let (events, heads) = clean();
        let r = run(events.clone(), &heads);
        assert!(r.is_ok(), "{r}");
        assert_eq!(r.events_checked, N);
        assert_eq!(r.tree_heads_verified, 4);
        assert_eq!(r.largest_verified_size, N);
        assert_eq!(r.unsigned_events, 0);
        assert_eq!(r.last_seq, Some(N));
        assert!(r.to_string().starts_with("OK"));
        // Heads in any order; stored hashes optional.
        let mut rev = heads.clone();
        rev.reverse();
        assert!(run(strip(events), &rev).is_ok());
    }

    #[test]
    fn unsigned_tail_is_reported_not_failed() {
        let (mut events, heads) = clean();
        events.push(EventRecord::new(N + 1, event(N + 1)));
        let r = run(events, &heads);
        assert!(r.is_ok());
        assert_eq!(r.unsigned_events, 1);
    }

    #[test]
    fn deleted_event() {
        let (mut events, heads) = clean();
        events.remove(16); // seq 17
        let r = run(events, &heads);
        assert_eq!(
            r.problem,
            Some(Problem::Deleted {
                first_missing_seq: 17,
                missing_count: 1,
                next_present_seq: 18
            })
        );
        assert_eq!(r.problem.as_ref().unwrap().seq(), Some(17));
        assert_eq!(r.events_checked, 16);
        assert!(r.to_string().contains("event 17 is missing"));
    }

    #[test]
    fn deleted_tail() {
        let (mut events, heads) = clean();
        events.truncate(33);
        let r = run(events, &heads);
        assert_eq!(
            r.problem,
            Some(Problem::TreeHeadBeyondLog {
                tree_size: N,
                events_present: 33,
                first_missing_seq: 34
            })
        );
    }

    #[test]
    fn inserted_duplicate() {
        let (mut events, heads) = clean();
        events.insert(12, EventRecord::new(12, b"forged".to_vec()));
        let r = run(events, &heads);
        assert_eq!(
            r.problem,
            Some(Problem::Inserted {
                seq: 12,
                after_seq: Some(12)
            })
        );
    }

    #[test]
    fn inserted_with_renumbering_is_a_root_mismatch_without_stored_hashes() {
        let (events, heads) = clean();
        // Insert a forged event at 15 and shift the rest up, dropping the last.
        let mut bodies: Vec<Vec<u8>> = events.iter().map(|e| e.canonical.clone()).collect();
        bodies.insert(14, b"forged".to_vec());
        bodies.pop();
        let forged: Vec<_> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, b)| EventRecord::new(i as u64 + 1, b))
            .collect();
        let r = run(forged, &heads);
        match r.problem {
            Some(Problem::RootMismatch {
                tree_size,
                first_suspect_seq,
                last_suspect_seq,
                ..
            }) => {
                assert_eq!(
                    (tree_size, first_suspect_seq, last_suspect_seq),
                    (25, 11, 25)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn swapped_in_reading_order() {
        let (mut events, heads) = clean();
        events.swap(20, 21); // seq 22 read before 21
        let r = run(events.clone(), &heads);
        assert_eq!(
            r.problem,
            Some(Problem::OutOfOrder {
                expected_seq: 21,
                found_seq: 22
            })
        );
        events.swap(20, 21);
        events.swap(20, 30); // seq 31 read where 21 belongs
        assert_eq!(
            run(events, &heads).problem,
            Some(Problem::OutOfOrder {
                expected_seq: 21,
                found_seq: 31
            })
        );
    }

    #[test]
    fn swapped_contents_with_stored_hashes() {
        let (mut events, heads) = clean();
        let a = events[5].canonical.clone();
        events[5].canonical = events[8].canonical.clone();
        events[8].canonical = a;
        let r = run(events, &heads);
        assert_eq!(
            r.problem,
            Some(Problem::Swapped {
                seq: 6,
                other_seq: 9
            })
        );
    }

    #[test]
    fn altered_event_with_and_without_stored_hashes() {
        let (mut events, heads) = clean();
        events[27].canonical = br#"{"action":"delete","seq":28}"#.to_vec();
        let r = run(events.clone(), &heads);
        match &r.problem {
            Some(Problem::Altered { seq, .. }) => assert_eq!(*seq, 28),
            other => panic!("{other:?}"),
        }
        assert!(r.to_string().contains("event 28 was altered"));
        assert_eq!(r.events_checked, 27);

        let r = run(strip(events.clone()), &heads);
        match r.problem {
            Some(Problem::RootMismatch {
                tree_size,
                first_suspect_seq,
                last_suspect_seq,
                ..
            }) => assert_eq!((tree_size, first_suspect_seq, last_suspect_seq), (N, 26, N)),
            other => panic!("{other:?}"),
        }

        // An attacker who also rewrites the stored leaf hash is caught by the root.
        events[27].stored_leaf_hash = Some(leaf_hash(&events[27].canonical));
        assert_eq!(run(events, &heads).problem.unwrap().kind(), "root_mismatch");
    }

    #[test]
    fn bad_signature_wrong_key_and_wrong_log() {
        let (events, mut heads) = clean();
        heads[2].signature[0] ^= 1;
        let r = run(events.clone(), &heads);
        assert!(matches!(
            r.problem,
            Some(Problem::BadSignature { tree_size: 25, .. })
        ));
        assert_eq!(r.tree_heads_verified, 2);
        assert_eq!(r.largest_verified_size, 10);

        let (_, mut heads) = clean();
        let other = AuditSigningKey::from_seed(&[4; 32]);
        heads[1] = other.sign(heads[1].head.clone()).unwrap();
        assert!(matches!(
            run(events.clone(), &heads).problem,
            Some(Problem::BadSignature { tree_size: 10, .. })
        ));

        let (_, mut heads) = clean();
        let mut h = heads[3].head.clone();
        h.log_id = "tenant-b".into();
        heads[3] = key().sign(h).unwrap();
        assert!(matches!(
            run(events, &heads).problem,
            Some(Problem::WrongLog { tree_size: N, .. })
        ));
    }

    #[test]
    fn an_alias_is_accepted_for_the_log_but_nothing_else() {
        let (events, mut heads) = clean();
        let mut h = heads[1].head.clone();
        h.log_id = "old-name".into();
        heads[1] = key().sign(h).unwrap();
        let with_alias = VerifyOptions {
            log_id: Some("tenant-a".into()),
            log_id_aliases: vec!["old-name".into()],
            ..VerifyOptions::default()
        };
        let keys = [key().public_key()];
        let r = verify_log(events.clone(), &heads, &keys, &with_alias);
        assert!(r.is_ok(), "{r}");
        // Without the alias the same head is a head of another log.
        assert!(matches!(
            run(events.clone(), &heads).problem,
            Some(Problem::WrongLog { tree_size: 10, .. })
        ));
        // The alias does not admit any other name.
        let mut h = heads[2].head.clone();
        h.log_id = "tenant-b".into();
        heads[2] = key().sign(h).unwrap();
        assert!(matches!(
            verify_log(events, &heads, &keys, &with_alias).problem,
            Some(Problem::WrongLog { tree_size: 25, .. })
        ));
    }

    #[test]
    fn forged_head_with_valid_signature_but_wrong_root() {
        let (events, mut heads) = clean();
        let mut h = heads[1].head.clone();
        h.root_hash[3] ^= 0x10;
        heads[1] = key().sign(h).unwrap();
        let r = run(events, &heads);
        assert!(matches!(
            r.problem,
            Some(Problem::RootMismatch {
                tree_size: 10,
                first_suspect_seq: 1,
                last_suspect_seq: 10,
                ..
            })
        ));
    }

    #[test]
    fn equivocating_heads() {
        let (events, mut heads) = clean();
        let mut h = heads[2].head.clone();
        h.root_hash = [5; 32];
        heads.push(key().sign(h).unwrap());
        let r = run(events, &heads);
        assert!(matches!(
            r.problem,
            Some(Problem::ConflictingTreeHeads { tree_size: 25, .. })
        ));
        assert!(r.to_string().contains("conflicting_tree_heads"));
    }

    #[test]
    fn gap_at_start_and_first_seq_zero() {
        let (events, heads) = clean();
        let r = run(events[1..].to_vec(), &heads);
        assert_eq!(r.problem.unwrap().seq(), Some(1));

        let zero: Vec<_> = (0..5u64)
            .map(|s| EventRecord::new(s, event(s + 1)))
            .collect();
        let opts = VerifyOptions {
            first_seq: 0,
            ..VerifyOptions::default()
        };
        let r = verify_log(zero, &heads[..1], &[key().public_key()], &opts);
        assert!(r.is_ok(), "{r}");
    }

    #[test]
    fn report_serialises_for_json_output() {
        let (mut events, heads) = clean();
        events.remove(3);
        let v = serde_json::to_value(run(events, &heads)).unwrap();
        assert_eq!(v["problem"]["kind"], "deleted");
        assert_eq!(v["problem"]["first_missing_seq"], 4);
        assert_eq!(v["recomputed_root"].as_str().unwrap().len(), 64);
    }
}
