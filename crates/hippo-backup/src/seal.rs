//! Sealing journal batches: the rows (PHI) leave the encrypted database only encrypted again,
//! under a key derived from that database's own data key, bound to the object's name, so a
//! batch copied to another place or another tenant does not open. Pure.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hippo_store::sqlite::backup::JournalRow;
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// The sealing key of one database's batches (derived; never stored).
pub struct BatchKey(Zeroizing<[u8; 32]>);

impl BatchKey {
    pub fn derive(data_key: &[u8; 32]) -> Self {
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(data_key).expect("any key length");
        mac.update(b"hippo backup batch v1");
        Self(Zeroizing::new(mac.finalize().into_bytes().into()))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.0.as_slice()).expect("32-byte key")
    }

    /// Seals `rows` as the object `name`.
    pub fn seal(&self, name: &str, rows: &[JournalRow], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        let plain = Zeroizing::new(serde_json::to_vec(rows).expect("rows serialise"));
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: name.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a bounded batch");
        [nonce.as_slice(), &ct].concat()
    }

    /// Opens the object `name`; `None` if it was sealed under another key, for another name,
    /// or altered.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Option<Vec<JournalRow>> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: name.as_bytes(),
                    },
                )
                .ok()?,
        );
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(n: usize) -> Vec<JournalRow> {
        (0..n)
            .map(|i| JournalRow {
                id: i as i64 + 1,
                table: "audit_events".into(),
                row: serde_json::json!({"seq": i + 1, "time_ms": 5})
                    .as_object()
                    .unwrap()
                    .clone(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_change_to_a_sealed_batch_is_refused(flip in 0usize..4096, bit in 0u8..8, n in 1usize..20) {
            let key = BatchKey::derive(&[9; 32]);
            let sealed = key.seal("backup/t/g/00000001-batch.sealed", &rows(n), [1; 12]);
            prop_assert_eq!(key.open("backup/t/g/00000001-batch.sealed", &sealed), Some(rows(n)));
            let mut bad = sealed.clone();
            let i = flip % bad.len();
            bad[i] ^= 1 << bit;
            prop_assert!(key.open("backup/t/g/00000001-batch.sealed", &bad).is_none());
            prop_assert!(key.open("backup/t/g/00000001-batch.sealed", &sealed[..sealed.len() - 1 - flip % (sealed.len() - 1)]).is_none());
            prop_assert!(key.open("backup/t/g/00000002-batch.sealed", &sealed).is_none());
            prop_assert!(BatchKey::derive(&[8; 32]).open("backup/t/g/00000001-batch.sealed", &sealed).is_none());
        }
    }
}
