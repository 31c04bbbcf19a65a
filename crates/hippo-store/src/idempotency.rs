//! Idempotency keys of batch items: what both stores store for a key (keyed hashes, never the
//! key or the record), and how a stored key decides an item (create, replay, or refuse).

use crate::audit_log::LogCtx;
use hippo_core::{RecordId, RecordInput};
use serde_json::{json, Value};

/// One item of a batch: the record to create and, optionally, the client's idempotency key
/// (an opaque string that makes a retried item a replay instead of a second record).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub input: RecordInput,
    pub idempotency_key: Option<String>,
}

impl From<RecordInput> for BatchItem {
    fn from(input: RecordInput) -> Self {
        Self {
            input,
            idempotency_key: None,
        }
    }
}

/// What happened to one batch item.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// A new record was written.
    Created(hippo_core::Record),
    /// The item's key was already used for the same record input: nothing was written, and
    /// this is the record the key first created.
    Replayed(RecordId),
}

impl BatchOutcome {
    pub fn id(&self) -> RecordId {
        match self {
            BatchOutcome::Created(r) => r.id,
            BatchOutcome::Replayed(id) => *id,
        }
    }
}

/// The stored form of a key: a keyed hash of the key (under the tenant's log key, so equal keys
/// of different tenants differ) and of the record input it was first used with. Clients may
/// derive keys from record contents; storing only keyed hashes keeps them from being a
/// dictionary-searchable fingerprint of PHI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key_hash: String,
    pub request_hash: String,
}

impl StoredKey {
    pub fn new(log: &LogCtx, key: &str, input: &RecordInput) -> Self {
        let request = json!({
            "type": input.record_type,
            "subject": input.subject,
            "labels": input.labels,
            "body": Value::Object(input.body.clone()),
        });
        Self {
            key_hash: log
                .redactor
                .hmac_hex(&json!(["hippo idempotency key v1", key])),
            request_hash: log
                .redactor
                .hmac_hex(&json!(["hippo idempotency request v1", request])),
        }
    }
}

/// How a batch item with a key is handled, given what is stored under the key's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Create,
    Replay(RecordId),
    /// The key was first used with a different record input (or the item repeats a key of its
    /// own batch): the batch is refused.
    Reused,
}

/// `stored`: the request hash and record id already stored under the key's hash, if any.
pub fn decide(key: &StoredKey, stored: Option<(String, RecordId)>) -> Decision {
    match stored {
        None => Decision::Create,
        Some((request_hash, id)) if request_hash == key.request_hash => Decision::Replay(id),
        Some(_) => Decision::Reused,
    }
}

/// Notes on the batch's own audit event how many of its items were replays (none: no note).
pub fn describe_batch(batch: &mut hippo_core::AuditDraft, outcomes: &[BatchOutcome]) {
    let replayed = outcomes
        .iter()
        .filter(|o| matches!(o, BatchOutcome::Replayed(_)))
        .count();
    if replayed > 0 {
        batch.detail("replayed", replayed);
    }
}

/// Checks a batch's keys against each other: the index of the first item repeating an
/// earlier item's key, if any (a key names one record, so a batch may not use it twice).
pub fn first_repeat(items: &[BatchItem]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    items.iter().position(|i| match &i.idempotency_key {
        Some(k) => !seen.insert(k.as_str()),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hippo_core::LogId;

    fn input(note: &str) -> RecordInput {
        let mut body = serde_json::Map::new();
        body.insert("note".into(), note.into());
        RecordInput {
            record_type: "Patient".into(),
            subject: Some("p-1".into()),
            labels: vec![],
            body,
        }
    }

    fn log(seed: u8) -> LogCtx {
        LogCtx::new(&"tenant-a".parse::<LogId>().expect("log id"), &[seed; 32])
    }

    #[test]
    fn same_key_and_input_replay_different_input_is_refused() {
        let l = log(1);
        let a = StoredKey::new(&l, "k1", &input("x"));
        let id = RecordId::new();
        assert_eq!(decide(&a, None), Decision::Create);
        assert_eq!(
            decide(&a, Some((a.request_hash.clone(), id))),
            Decision::Replay(id)
        );
        let b = StoredKey::new(&l, "k1", &input("y"));
        assert_eq!(b.key_hash, a.key_hash);
        assert_eq!(
            decide(&b, Some((a.request_hash.clone(), id))),
            Decision::Reused
        );
    }

    #[test]
    fn hashes_are_keyed_and_hide_the_key() {
        let (a, b) = (
            StoredKey::new(&log(1), "k1", &input("x")),
            StoredKey::new(&log(2), "k1", &input("x")),
        );
        assert_ne!(a.key_hash, b.key_hash);
        assert_ne!(a.request_hash, b.request_hash);
        assert!(!a.key_hash.contains("k1"));
    }

    #[test]
    fn repeated_keys_in_a_batch_are_found() {
        let item = |k: Option<&str>| BatchItem {
            input: input("x"),
            idempotency_key: k.map(str::to_owned),
        };
        assert_eq!(
            first_repeat(&[item(Some("a")), item(None), item(None)]),
            None
        );
        assert_eq!(
            first_repeat(&[item(Some("a")), item(Some("b")), item(Some("a"))]),
            Some(2)
        );
    }
}
