//! What both stores do to an audit event before it is stored: redact it with the log's own key,
//! label it, and hash it into a Merkle leaf; plus the stored form of a log's compact tree.

use crate::StoreError;
use hippo_audit::merkle::{hash_from_hex, leaf_hash, CompactTree, Hash};
use hippo_audit::redact::Redactor;
use hippo_core::{AuditDraft, AuditEvent, LogId};
use hmac::{Hmac, Mac};

/// Label on events whose details carried user-supplied values (now redacted).
pub const SENSITIVE_CONTENT: &str = "sensitive_content";

/// One audit log's identity and redaction key.
pub struct LogCtx {
    pub log_id: LogId,
    pub redactor: Redactor,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl LogCtx {
    /// A log whose redaction key derives from its database's data key (the embedded store: one
    /// SQLCipher database, one data key, one log).
    pub fn new(log_id: &LogId, data_key: &[u8; 32]) -> Self {
        // A key separate from the data key: HMAC(data key, purpose).
        Self::with_key(log_id, &hmac(data_key, &[b"hippo audit redaction v1"]))
    }

    /// A log whose redaction key derives from a deployment-wide root and the log id (the
    /// scale-out store: every instance holds the same root, so equal values hash equally
    /// whichever instance wrote them, and each tenant's hashes differ from every other's).
    pub fn from_root(log_id: &LogId, root: &[u8; 32]) -> Self {
        Self::with_key(
            log_id,
            &hmac(
                root,
                &[
                    b"hippo audit log redaction v1\0",
                    log_id.as_str().as_bytes(),
                ],
            ),
        )
    }

    fn with_key(log_id: &LogId, key: &[u8; 32]) -> Self {
        let mut redactor = Redactor::new(key);
        redactor.add_key("subject").add_key("subject_id");
        Self {
            log_id: log_id.clone(),
            redactor,
        }
    }

    /// The stored form of a subject id: a keyed hash, so the audit store holds no identifier in
    /// plaintext yet equal subjects still match (queries hash the subject the same way).
    pub fn subject_token(&self, subject: &str) -> String {
        format!(
            "hmac:{}",
            self.redactor
                .hmac_hex(&serde_json::Value::String(subject.to_owned()))
        )
    }

    /// Turns a draft into the event as stored at `seq`: subject hashed, sensitive details
    /// replaced by keyed hashes and lengths, labelled if anything was redacted; with its leaf.
    pub fn seal(&self, draft: AuditDraft, seq: i64, time_ms: i64) -> (AuditEvent, Hash) {
        let mut e = draft.into_event(seq, time_ms);
        e.subject_id = e.subject_id.map(|s| self.subject_token(&s));
        if self.redactor.redact_in_place(&mut e.details).any() {
            e.labels.push(SENSITIVE_CONTENT.into());
        }
        let leaf = leaf_hash(&e.canonical_bytes());
        (e, leaf)
    }
}

/// Seals `drafts` as events `first_seq`, `first_seq + 1`, … (in order) and integrates each leaf
/// into `tree`: how both stores number and integrate a run of events under one lock.
pub fn seal_run(
    log: &LogCtx,
    tree: &mut CompactTree,
    first_seq: i64,
    drafts: Vec<AuditDraft>,
    time_ms: i64,
) -> Result<Vec<(AuditEvent, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(drafts.len());
    for (seq, draft) in (first_seq..).zip(drafts) {
        let (e, leaf) = log.seal(draft, seq, time_ms);
        integrate(tree, seq, leaf)?;
        out.push((e, leaf));
    }
    Ok(out)
}

/// Completes an operation's event from its result: `describe` says what a success was; a
/// failure is recorded with its reason (never its message, which may quote a value).
pub fn conclude<T>(
    draft: &mut AuditDraft,
    result: &Result<T, StoreError>,
    describe: impl FnOnce(&mut AuditDraft, &T),
) {
    match result {
        Ok(v) => describe(draft, v),
        Err(e) => draft.failed(hippo_core::Outcome::Error, e.reason()),
    }
}

/// Adds the leaf of event `seq` to `tree`, refusing if the tree is not exactly one behind:
/// an event must never be stored outside the tree, nor the tree skip one.
/// How a verifier checks `log`'s tree heads: they must name it (or a name an older release
/// signed its heads with).
pub fn verify_options(log: &LogId) -> hippo_audit::verify::VerifyOptions {
    let mut names = log.accepted_head_names();
    hippo_audit::verify::VerifyOptions {
        log_id: Some(names.remove(0)),
        log_id_aliases: names,
        ..hippo_audit::verify::VerifyOptions::default()
    }
}

pub fn integrate(tree: &mut CompactTree, seq: i64, leaf: Hash) -> Result<(), StoreError> {
    if tree.size() as i64 != seq - 1 {
        return Err(StoreError::AuditFailed(format!(
            "the audit tree holds {} events but the next event is number {seq}; run `hippo audit verify`",
            tree.size()
        )));
    }
    tree.push_leaf_hash(leaf);
    Ok(())
}

/// The stored text of a compact tree's peaks (a JSON array of hex hashes).
pub fn peaks_to_text(tree: &CompactTree) -> String {
    let peaks: Vec<String> = tree.peaks().iter().map(hex::encode).collect();
    serde_json::to_string(&peaks).expect("peaks serialise")
}

/// Rebuilds a compact tree from its stored size and peaks.
pub fn tree_from_text(size: i64, peaks: &str) -> Result<CompactTree, StoreError> {
    let bad = |e: &dyn std::fmt::Display| {
        StoreError::AuditFailed(format!("the stored audit tree is malformed: {e}"))
    };
    let peaks: Vec<String> = serde_json::from_str(peaks).map_err(|e| bad(&e))?;
    let peaks = peaks
        .iter()
        .map(|p| hash_from_hex(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    CompactTree::from_parts(size as u64, peaks).map_err(|e| bad(&e))
}

/// The leaf hash stored with event `seq`, which must be 32 bytes.
pub(crate) fn stored_leaf_hash(seq: i64, bytes: &[u8]) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("event {seq} has a malformed leaf hash")))
}

/// An event read back for verification: its canonical bytes and the leaf hash stored with it.
pub(crate) fn log_leaf(
    e: &AuditEvent,
    stored_hash: &[u8],
) -> Result<crate::store::LogLeaf, StoreError> {
    Ok(crate::store::LogLeaf {
        seq: e.seq,
        canonical: e.canonical_bytes(),
        leaf_hash: stored_leaf_hash(e.seq, stored_hash)?,
    })
}

/// Checks a range read of leaf hashes `first_seq..=last_seq` (stored as bytes): every event is
/// there and every hash is 32 bytes.
pub(crate) fn leaf_hash_range(
    rows: Vec<(i64, Vec<u8>)>,
    first_seq: i64,
    last_seq: i64,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let want = (last_seq - first_seq + 1).max(0) as usize;
    let mut out = Vec::with_capacity(want);
    for (expected, (seq, bytes)) in (first_seq..).zip(rows) {
        if seq != expected {
            return Err(StoreError::Corrupt(format!(
                "the audit log has no event {expected}; run `hippo audit verify`"
            )));
        }
        out.push(stored_leaf_hash(seq, &bytes)?);
    }
    if out.len() != want {
        return Err(StoreError::Corrupt(format!(
            "the audit log has no event {}; run `hippo audit verify`",
            first_seq + out.len() as i64
        )));
    }
    Ok(out)
}

/// Chunk roots read back from a store, checked to be 32 bytes each.
pub(crate) fn chunk_rows(rows: Vec<(i64, Vec<u8>)>) -> Result<Vec<(u64, Hash)>, StoreError> {
    rows.into_iter()
        .map(|(chunk, root)| {
            let root: Hash = root.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt(format!("audit chunk {chunk} has a malformed root"))
            })?;
            Ok((chunk as u64, root))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hippo_core::{Action, Actor};

    fn draft() -> AuditDraft {
        let mut d = AuditDraft::new(None, Actor::operator(), Action::RecordRead, "r1");
        d.subject_id = Some("MRN-42".into());
        d.detail("name", "Jane Roe");
        d
    }

    #[test]
    fn logs_from_one_root_hash_alike_per_log_and_differently_across_logs() {
        let root = [7u8; 32];
        let a1 = LogCtx::from_root(&"a".parse().unwrap(), &root);
        let a2 = LogCtx::from_root(&"a".parse().unwrap(), &root);
        let b = LogCtx::from_root(&"b".parse().unwrap(), &root);
        assert_eq!(a1.subject_token("x"), a2.subject_token("x"));
        assert_ne!(a1.subject_token("x"), b.subject_token("x"));
    }

    #[test]
    fn sealing_removes_plaintext_and_labels_the_event() {
        let (e, leaf) = LogCtx::from_root(&"a".parse().unwrap(), &[1; 32]).seal(draft(), 1, 5);
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert!(
            !text.contains("MRN-42") && !text.contains("Jane Roe"),
            "{text}"
        );
        assert!(e.labels.iter().any(|l| l == SENSITIVE_CONTENT));
        assert_eq!(leaf, leaf_hash(&e.canonical_bytes()));
    }

    #[test]
    fn leaves_and_redaction_use_the_same_canonical_form() {
        // Merkle leaves come from hippo-core's canonical form, redaction HMACs from
        // hippo-audit's; an auditor recomputing either must get the same bytes.
        let (e, _) = LogCtx::from_root(&"a".parse().unwrap(), &[1; 32]).seal(draft(), 1, 5);
        let value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            hippo_audit::canonical::to_canonical_vec(&value),
            e.canonical_bytes()
        );
    }

    #[test]
    fn integrate_refuses_a_gap_and_the_tree_round_trips_through_text() {
        let mut t = CompactTree::new();
        integrate(&mut t, 1, [1; 32]).unwrap();
        assert!(integrate(&mut t, 3, [3; 32]).is_err());
        integrate(&mut t, 2, [2; 32]).unwrap();
        let back = tree_from_text(t.size() as i64, &peaks_to_text(&t)).unwrap();
        assert_eq!(back.root(), t.root());
        assert!(tree_from_text(2, "[\"zz\"]").is_err());
    }
}
