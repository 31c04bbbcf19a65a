//! Backup manifests: what each shipped object is, where it sits in its chain, what it brings
//! the database to, signed with the deployment's ledger key. Pure: no I/O.
//!
//! A database's backup is a sequence of *generations*; each starts with a base (a consistent
//! snapshot of the file) and continues with batches of journal rows. Objects of a generation
//! are numbered densely from 0, and each manifest carries the SHA-256 of the one before, so a
//! missing, reordered or substituted object breaks the chain at a named place.

use hippo_audit::tree_head::{AuditPublicKey, AuditSigningKey};
use hippo_store::sqlite::backup::DbPosition;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: &str = "hippo-backup/1";
const SIGNING_DOMAIN: &str = "hippo-backup-manifest/1";
/// The folder of every backup object in a sink.
pub const ROOT: &str = "backup";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A snapshot of the whole database file (SQLCipher pages under the database's key).
    Base,
    /// Journal rows committed since the previous object, sealed.
    Batch,
}

impl ObjectKind {
    pub fn suffix(self) -> &'static str {
        match self {
            ObjectKind::Base => "base.db",
            ObjectKind::Batch => "batch.sealed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// Fingerprint of the public key that signed it: one per deployment (keyring).
    pub deployment: String,
    /// The database: its log id (`.system` for the catalog, else the tenant id).
    pub db: String,
    pub generation: String,
    pub index: u64,
    pub kind: ObjectKind,
    /// SHA-256 (hex) of the previous manifest's bytes in this generation; none for index 0.
    pub prev: Option<String>,
    pub object_sha256: String,
    pub object_bytes: u64,
    /// Journal rows `(journal_from, journal_to]` (a base: everything through `journal_to`).
    pub journal_from: i64,
    pub journal_to: i64,
    pub rows: u64,
    /// The database after this object.
    pub position: DbPosition,
    /// When the object's content was read from the database.
    pub taken_at_ms: i64,
    /// Not to be pruned before (the sink's Object Lock date, where it has one).
    pub retain_until_ms: i64,
    /// The catalog's data key wrapped by the keyring (catalog bases only: still wrapped).
    pub wrapped_catalog_key: Option<String>,
    /// Ed25519 signature (hex) of the manifest with this field empty.
    pub signature: String,
}

/// Errors found in a manifest; each names what is wrong, never content.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("not a backup manifest (unreadable JSON)")]
    Unreadable,
    #[error("unknown format {0:?} (this hippo reads {FORMAT})")]
    Format(String),
    #[error("signed by another deployment's key ({0}), not this keyring's")]
    Foreign(String),
    #[error("the signature does not verify (altered manifest)")]
    BadSignature,
    #[error("names {0}, but sits at {1}")]
    Misplaced(String, String),
    #[error("breaks the chain: {0}")]
    Chain(String),
    #[error("its object does not match (expected {expected} bytes with SHA-256 {sha}, got {got_bytes} bytes{detail})")]
    ObjectMismatch {
        expected: u64,
        sha: String,
        got_bytes: u64,
        detail: String,
    },
}

impl Manifest {
    /// Where this manifest's object and the manifest itself are stored in a sink.
    pub fn object_name(&self) -> String {
        object_name(&self.db, &self.generation, self.index, self.kind)
    }
    pub fn manifest_name(&self) -> String {
        manifest_name(&self.db, &self.generation, self.index)
    }

    fn unsigned_bytes(&self) -> Vec<u8> {
        let mut copy = self.clone();
        copy.signature.clear();
        serde_json::to_vec(&copy).expect("a manifest serialises")
    }

    /// Signs the manifest and returns its stored bytes.
    pub fn sign(mut self, key: &AuditSigningKey) -> (Self, Vec<u8>) {
        self.deployment = key.public_key().fingerprint().to_string();
        let sig = key.sign_document(SIGNING_DOMAIN, &self.unsigned_bytes());
        self.signature = hex::encode(sig);
        let bytes = serde_json::to_vec_pretty(&self).expect("a manifest serialises");
        (self, bytes)
    }

    /// Parses stored bytes found at `name` and checks format, signer, signature and place.
    pub fn open(bytes: &[u8], name: &str, key: &AuditPublicKey) -> Result<Self, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|_| ManifestError::Unreadable)?;
        if m.format != FORMAT {
            return Err(ManifestError::Format(m.format));
        }
        let mine = key.fingerprint().to_string();
        if m.deployment != mine {
            return Err(ManifestError::Foreign(m.deployment));
        }
        let sig: [u8; 64] = hex::decode(&m.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(ManifestError::BadSignature)?;
        if !key.verify_document(SIGNING_DOMAIN, &m.unsigned_bytes(), &sig) {
            return Err(ManifestError::BadSignature);
        }
        if m.manifest_name() != name {
            return Err(ManifestError::Misplaced(m.manifest_name(), name.to_owned()));
        }
        Ok(m)
    }

    /// Checks an object's bytes against the manifest.
    pub fn check_object(&self, bytes: &[u8]) -> Result<(), ManifestError> {
        let sha = hex::encode(Sha256::digest(bytes));
        if bytes.len() as u64 != self.object_bytes || sha != self.object_sha256 {
            return Err(ManifestError::ObjectMismatch {
                expected: self.object_bytes,
                sha: self.object_sha256.clone(),
                got_bytes: bytes.len() as u64,
                detail: if bytes.len() as u64 == self.object_bytes {
                    ", altered".into()
                } else {
                    ", truncated or extended".into()
                },
            });
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `backup/<db>/<generation>/`
pub fn generation_prefix(db: &str, generation: &str) -> String {
    format!("{ROOT}/{db}/{generation}/")
}

pub fn object_name(db: &str, generation: &str, index: u64, kind: ObjectKind) -> String {
    format!(
        "{}{index:08}-{}",
        generation_prefix(db, generation),
        kind.suffix()
    )
}

pub fn manifest_name(db: &str, generation: &str, index: u64) -> String {
    format!(
        "{}{index:08}-manifest.json",
        generation_prefix(db, generation)
    )
}

/// `(db, generation, index)` of a manifest's name, if `name` is one.
pub fn parse_manifest_name(name: &str) -> Option<(String, String, u64)> {
    let rest = name.strip_prefix(ROOT)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (db, generation, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let index = file.strip_suffix("-manifest.json")?;
    if index.len() != 8 {
        return None;
    }
    Some((db.to_owned(), generation.to_owned(), index.parse().ok()?))
}

/// A new generation's name: UTC time to the millisecond, then randomness, so names sort in
/// the order generations began and two instances never collide.
pub fn new_generation(now_ms: i64, random: [u8; 4]) -> String {
    // Whole seconds through RFC 3339, then the milliseconds always as three digits (RFC 3339
    // text drops trailing zeros, which would break the sort order).
    let millis = now_ms.rem_euclid(1000);
    let t = hippo_core::time_fmt::rfc3339(now_ms - millis);
    let compact: String = t.chars().filter(|c| c.is_ascii_digit()).take(14).collect();
    format!("{compact}{millis:03}-{}", hex::encode(random))
}

/// Checks that `chain` (one generation's manifests in index order) is dense from 0 and that
/// each names the one before it by hash (`bytes[i]` are the stored bytes of `chain[i]`).
pub fn check_chain(chain: &[Manifest], bytes: &[Vec<u8>]) -> Result<(), (usize, ManifestError)> {
    for (i, m) in chain.iter().enumerate() {
        if m.index != i as u64 {
            return Err((
                i,
                ManifestError::Chain(format!("object {i} is missing (found {} next)", m.index)),
            ));
        }
        let expected = (i > 0).then(|| sha256_hex(&bytes[i - 1]));
        if m.prev != expected {
            return Err((
                i,
                ManifestError::Chain(
                    "it does not follow the previous object (reordered or substituted)".into(),
                ),
            ));
        }
        if i == 0 && m.kind != ObjectKind::Base {
            return Err((
                i,
                ManifestError::Chain("a generation must begin with a base".into()),
            ));
        }
        if i > 0 && m.kind == ObjectKind::Batch && m.journal_from != chain[i - 1].journal_to {
            return Err((
                i,
                ManifestError::Chain(format!(
                    "its rows start after journal entry {}, the previous object ends at {}",
                    m.journal_from,
                    chain[i - 1].journal_to
                )),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditSigningKey {
        AuditSigningKey::from_seed(&[3; 32])
    }

    fn manifest(
        index: u64,
        kind: ObjectKind,
        prev: Option<String>,
        from: i64,
        to: i64,
    ) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            deployment: String::new(),
            db: "default".into(),
            generation: "20261202-00000000".into(),
            index,
            kind,
            prev,
            object_sha256: sha256_hex(b"x"),
            object_bytes: 1,
            journal_from: from,
            journal_to: to,
            rows: (to - from) as u64,
            position: DbPosition {
                journal: to,
                audit_size: 0,
                audit_root: String::new(),
                newest_event_ms: 0,
                tree_head: None,
            },
            taken_at_ms: 1,
            retain_until_ms: 0,
            wrapped_catalog_key: None,
            signature: String::new(),
        }
    }

    #[test]
    fn signed_manifests_open_only_for_their_key_place_and_content() {
        let (m, bytes) = manifest(0, ObjectKind::Base, None, 0, 5).sign(&key());
        let name = m.manifest_name();
        assert_eq!(
            Manifest::open(&bytes, &name, &key().public_key()).unwrap(),
            m
        );
        let other = AuditSigningKey::from_seed(&[4; 32]).public_key();
        assert!(matches!(
            Manifest::open(&bytes, &name, &other),
            Err(ManifestError::Foreign(_))
        ));
        let altered = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"rows\": 5", "\"rows\": 6");
        assert_eq!(
            Manifest::open(altered.as_bytes(), &name, &key().public_key()),
            Err(ManifestError::BadSignature)
        );
        assert!(matches!(
            Manifest::open(
                &bytes,
                &manifest_name("default", "g", 0),
                &key().public_key()
            ),
            Err(ManifestError::Misplaced(..))
        ));
        assert!(m.check_object(b"x").is_ok());
        assert!(m.check_object(b"y").is_err());
        assert!(m.check_object(b"").is_err());
        assert_eq!(
            parse_manifest_name(&name),
            Some(("default".into(), "20261202-00000000".into(), 0))
        );
        assert_eq!(parse_manifest_name(&m.object_name()), None);
    }

    #[test]
    fn chains_must_be_dense_linked_and_contiguous() {
        let (m0, b0) = manifest(0, ObjectKind::Base, None, 0, 5).sign(&key());
        let (m1, b1) = manifest(1, ObjectKind::Batch, Some(sha256_hex(&b0)), 5, 9).sign(&key());
        let (m2, b2) = manifest(2, ObjectKind::Batch, Some(sha256_hex(&b1)), 9, 12).sign(&key());
        let chain = vec![m0.clone(), m1.clone(), m2.clone()];
        let bytes = vec![b0.clone(), b1.clone(), b2.clone()];
        assert!(check_chain(&chain, &bytes).is_ok());
        // A missing object.
        assert_eq!(
            check_chain(&[m0.clone(), m2.clone()], &[b0.clone(), b2.clone()])
                .unwrap_err()
                .0,
            1
        );
        // Reordered.
        assert!(check_chain(&[m0.clone(), m2, m1.clone()], &[b0.clone(), b2, b1.clone()]).is_err());
        // A batch that skips journal rows.
        let (gap, gb) = manifest(1, ObjectKind::Batch, Some(sha256_hex(&b0)), 6, 9).sign(&key());
        assert!(check_chain(&[m0, gap], &[b0, gb]).is_err());
        // A generation must start with a base.
        assert!(check_chain(&[m1], &[b1]).is_err());
    }

    #[test]
    fn generation_names_sort_by_time() {
        let times = [
            1_700_000_000_000,
            1_700_000_000_001,
            1_700_000_000_850,
            1_700_000_000_851,
            1_700_000_001_000,
        ];
        let names: Vec<String> = times
            .iter()
            .map(|t| new_generation(*t, [0xff; 4]))
            .collect();
        for pair in names.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
            assert_eq!(pair[0].len(), pair[1].len(), "{pair:?}");
        }
    }
}
