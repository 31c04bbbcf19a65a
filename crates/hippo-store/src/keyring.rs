//! The keyring: the key-encryption key (KEK) that wraps every database's data key.
//!
//! The KEK lives in a file readable only by its owner (mode 0600) inside a data directory
//! readable only by its owner (0700). Data keys are random 256-bit keys, wrapped with
//! AES-256-GCM under the KEK, bound by associated data to what they protect, so a wrapped key
//! copied to another tenant does not unwrap. Destroying a tenant's wrapped key makes its
//! database unreadable everywhere (crypto-shredding).

use crate::{random, StoreError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hippo_audit::tree_head::AuditSigningKey;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

pub const KEYRING_FILE: &str = "keyring.json";
/// The `format` of a keyring sealed by KMS (opened by `hippo_docs::sealed_keyring`): such a
/// keyring is refused here, by name, rather than as malformed.
pub const SEALED_FORMAT: &str = "hippo-keyring-kms/v1";
const NONCE_LEN: usize = 12;

/// A 256-bit data key; wiped from memory when dropped.
pub type DataKey = Zeroizing<[u8; 32]>;

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    version: u32,
    /// Base64 of the 32-byte key-encryption key.
    kek: String,
    /// Base64 of a 32-byte seed for the audit tree-head signing key (used from issue 5 on).
    #[serde(default)]
    audit_signing_seed: Option<String>,
}

/// The keys of a deployment's audit ledger (see [`Keyring::ledger_keys`]).
pub struct LedgerKeys {
    pub signing: AuditSigningKey,
    pub redaction_root: DataKey,
}

impl LedgerKeys {
    /// A fingerprint of the redaction root that reveals nothing about it, so instances can
    /// check they share it without storing it.
    pub fn redaction_check(&self) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.redaction_root.as_slice())
            .expect("any key length");
        mac.update(b"hippo redaction root check");
        hex::encode(mac.finalize().into_bytes())
    }

    /// The key that seals people's second-factor secrets in either store (derived, never
    /// stored): a stolen database, or a backup of it, holds no usable TOTP secret.
    pub fn credential_seal(&self) -> CredentialSeal {
        CredentialSeal::derive(&self.redaction_root)
    }
}

/// AES-256-GCM sealing of small credential secrets, each bound by associated data to what it
/// belongs to (e.g. `totp:<user id>`), so a sealed secret copied to another user does not open.
#[derive(Clone)]
pub struct CredentialSeal(DataKey);

impl CredentialSeal {
    fn derive(redaction_root: &DataKey) -> Self {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(redaction_root.as_slice())
            .expect("any key length");
        mac.update(b"hippo credential seal v1");
        CredentialSeal(Zeroizing::new(mac.finalize().into_bytes().into()))
    }

    pub fn seal(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; NONCE_LEN] = random::bytes()?;
        let ct = Aes256Gcm::new_from_slice(self.0.as_slice())
            .expect("32-byte key")
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("sealing a credential failed".into()))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let fail = || {
            StoreError::Crypto(
                "a stored second-factor secret does not open with this keyring: wrong keyring or tampered row".into(),
            )
        };
        if sealed.len() <= NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        Aes256Gcm::new_from_slice(self.0.as_slice())
            .expect("32-byte key")
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: label.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| fail())
    }
}

pub struct Keyring {
    kek: Zeroizing<[u8; 32]>,
    audit_seed: Option<Zeroizing<[u8; 32]>>,
    path: PathBuf,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn decode_key(b64: &str, what: &str, path: &Path) -> Result<DataKey, StoreError> {
    let raw =
        Zeroizing::new(STANDARD.decode(b64.as_bytes()).map_err(|_| {
            StoreError::Crypto(format!("{}: {what} is not base64", path.display()))
        })?);
    let key: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Crypto(format!("{}: {what} must be 32 bytes", path.display())))?;
    Ok(Zeroizing::new(key))
}

/// Refuses a path that group or others can access, with the command that fixes it.
pub fn require_private(path: &Path, dir: bool) -> Result<(), StoreError> {
    let meta = fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let want = if dir { "700" } else { "600" };
        return Err(StoreError::Permissions {
            path: path.display().to_string(),
            reason: format!(
                "is accessible by group or others (mode {mode:03o}); it holds PHI or keys. Fix: chmod {want} {}",
                path.display()
            ),
        });
    }
    Ok(())
}

/// Creates `dir` (mode 0700) if it does not exist.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(())
}

/// Writes a new file readable only by its owner; never overwrites an existing one.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    f.write_all(contents).map_err(|e| StoreError::io(path, e))?;
    f.sync_all().map_err(|e| StoreError::io(path, e))
}

impl Keyring {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYRING_FILE)
    }

    /// A fresh keyring (new KEK and signing seed) as the JSON a keyring file holds: for a
    /// keyring shared by several instances through a secret store (`hippo keyring generate`).
    pub fn generate_json() -> Result<Zeroizing<String>, StoreError> {
        let kek: Zeroizing<[u8; 32]> = Zeroizing::new(random::bytes()?);
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(random::bytes()?);
        let mut file = KeyringFile {
            version: 1,
            kek: STANDARD.encode(kek.as_slice()),
            audit_signing_seed: Some(STANDARD.encode(seed.as_slice())),
        };
        let json = serde_json::to_string_pretty(&file).expect("keyring serialises");
        file.kek.zeroize();
        if let Some(s) = file.audit_signing_seed.as_mut() {
            s.zeroize();
        }
        Ok(Zeroizing::new(json))
    }

    /// Creates a keyring with a fresh KEK. Fails if one already exists.
    pub fn create(data_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path(data_dir);
        let json = Self::generate_json()?;
        write_private_file(&path, json.as_bytes())?;
        Self::parse(&json, &path.display().to_string(), path)
    }

    /// The keyring as the JSON a keyring file holds (for sealing it into an escrow copy).
    pub fn to_json(&self) -> Zeroizing<String> {
        let mut file = KeyringFile {
            version: 1,
            kek: STANDARD.encode(self.kek.as_slice()),
            audit_signing_seed: self
                .audit_seed
                .as_ref()
                .map(|s| STANDARD.encode(s.as_slice())),
        };
        let json = serde_json::to_string_pretty(&file).expect("keyring serialises");
        file.kek.zeroize();
        if let Some(s) = file.audit_signing_seed.as_mut() {
            s.zeroize();
        }
        Zeroizing::new(json)
    }

    /// Loads the keyring of a data directory, refusing a file or directory that others can read.
    pub fn load(data_dir: &Path) -> Result<Self, StoreError> {
        require_private(data_dir, true)?;
        Self::load_file(&Self::path(data_dir))
    }

    /// Loads a keyring file from anywhere (a keyring shared by several instances, mounted from
    /// a secret store), refusing one that group or others can read.
    pub fn load_file(path: &Path) -> Result<Self, StoreError> {
        let text = Self::read_file(path)?;
        Self::parse(&text, &path.display().to_string(), path.to_owned())
    }

    /// A keyring file's text, refusing one that group or others can read (for a caller that
    /// must open a KMS-sealed keyring before parsing it).
    pub fn read_file(path: &Path) -> Result<Zeroizing<String>, StoreError> {
        require_private(path, false)?;
        Ok(Zeroizing::new(
            fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?,
        ))
    }

    /// Reads a keyring given as JSON text (e.g. injected from a secret store into the
    /// environment); `source` names where it came from in errors.
    pub fn from_json(text: &str, source: &str) -> Result<Self, StoreError> {
        Self::parse(text, source, PathBuf::from(source))
    }

    fn parse(text: &str, source: &str, path: PathBuf) -> Result<Self, StoreError> {
        if text.contains(&format!("\"{SEALED_FORMAT}\"")) {
            return Err(StoreError::Crypto(format!(
                "{source} is a keyring sealed by KMS: load it through the deployment's configuration (hippo serve, or a command given --data-dir), which opens it with KMS"
            )));
        }
        // Not serde's message: it may quote part of the input, which is key material.
        let file: KeyringFile = serde_json::from_str(text).map_err(|e| {
            StoreError::Crypto(format!(
                "{source} is not a valid keyring (JSON error at line {} column {}); create one with `hippo keyring generate`",
                e.line(),
                e.column()
            ))
        })?;
        if file.version != 1 {
            return Err(StoreError::Crypto(format!(
                "{source} has keyring version {}, this hippo understands version 1",
                file.version
            )));
        }
        let kek = decode_key(&file.kek, "kek", &path)?;
        let audit_seed = file
            .audit_signing_seed
            .as_deref()
            .map(|s| decode_key(s, "audit_signing_seed", &path))
            .transpose()?;
        Ok(Self {
            kek,
            audit_seed,
            path,
        })
    }

    /// The audit ledger's keys: the tree-head signing key, and the root from which each log's
    /// redaction key is derived (HMAC of the KEK, so it is never stored on its own).
    pub fn ledger_keys(&self) -> Result<LedgerKeys, StoreError> {
        Ok(LedgerKeys {
            signing: AuditSigningKey::from_seed(&*self.audit_signing_seed()?),
            redaction_root: self.redaction_root(),
        })
    }

    fn redaction_root(&self) -> DataKey {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.kek.as_slice())
            .expect("any key length");
        mac.update(b"hippo audit redaction root v1");
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The root under which document key-encryption keys are wrapped (the local key provider
    /// of `hippo-docs`): derived from the KEK, so it is never stored on its own.
    pub fn documents_root(&self) -> DataKey {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.kek.as_slice())
            .expect("any key length");
        mac.update(b"hippo documents root v1");
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The credential seal, derived as [`LedgerKeys::credential_seal`] derives it (the same
    /// key on both stores for the same keyring).
    pub fn credential_seal(&self) -> CredentialSeal {
        CredentialSeal::derive(&self.redaction_root())
    }

    /// The seed of the Ed25519 key that signs audit tree heads.
    pub fn audit_signing_seed(&self) -> Result<DataKey, StoreError> {
        self.audit_seed.clone().ok_or_else(|| {
            StoreError::Crypto(format!("{} has no audit_signing_seed", self.path.display()))
        })
    }

    /// Draws a new random data key.
    pub fn new_data_key() -> Result<DataKey, StoreError> {
        Ok(Zeroizing::new(random::bytes()?))
    }

    /// Wraps `key` under the KEK, bound to `label` (e.g. `tenant:default`).
    pub fn wrap(&self, label: &str, key: &DataKey) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; NONCE_LEN] = random::bytes()?;
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.as_slice(),
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("wrapping a data key failed".into()))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    /// Unwraps a data key; fails if it was wrapped under another KEK or for another label.
    pub fn unwrap(&self, label: &str, wrapped: &[u8]) -> Result<DataKey, StoreError> {
        let fail = || {
            StoreError::Crypto(format!(
                "the data key for {label} does not unwrap with the keyring at {}: wrong keyring or tampered key",
                self.path.display()
            ))
        };
        if wrapped.len() <= NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = wrapped.split_at(NONCE_LEN);
        let pt = Zeroizing::new(
            self.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: label.as_bytes(),
                    },
                )
                .map_err(|_| fail())?,
        );
        let key: [u8; 32] = pt.as_slice().try_into().map_err(|_| fail())?;
        Ok(Zeroizing::new(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.kek.as_slice()).expect("KEK is 32 bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_tempdir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn wrapped_keys_unwrap_only_for_their_label() {
        let d = private_tempdir();
        let kr = Keyring::create(d.path()).unwrap();
        let dk = Keyring::new_data_key().unwrap();
        let w = kr.wrap("tenant:a", &dk).unwrap();
        assert_eq!(*kr.unwrap("tenant:a", &w).unwrap(), *dk);
        assert!(kr.unwrap("tenant:b", &w).is_err());
        let reloaded = Keyring::load(d.path()).unwrap();
        assert_eq!(*reloaded.unwrap("tenant:a", &w).unwrap(), *dk);
    }

    #[test]
    fn keyring_file_is_private_and_load_refuses_loose_permissions() {
        let d = private_tempdir();
        Keyring::create(d.path()).unwrap();
        let p = Keyring::path(d.path());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Keyring::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let err = Keyring::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 700"), "{err}");
    }

    #[test]
    fn a_generated_keyring_loads_from_text_and_bad_text_leaks_nothing() {
        let json = Keyring::generate_json().unwrap();
        let kr = Keyring::from_json(&json, "HIPPO_KEYRING").unwrap();
        let again = Keyring::from_json(&json, "HIPPO_KEYRING").unwrap();
        assert_eq!(
            kr.ledger_keys().unwrap().signing.public_key(),
            again.ledger_keys().unwrap().signing.public_key()
        );
        let other = Keyring::from_json(&Keyring::generate_json().unwrap(), "x").unwrap();
        assert_ne!(
            kr.ledger_keys().unwrap().redaction_check(),
            other.ledger_keys().unwrap().redaction_check()
        );
        let broken = json.replace("\"version\"", "\"vers1on\"").replace('}', "");
        let e = Keyring::from_json(&broken, "HIPPO_KEYRING")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("HIPPO_KEYRING") && e.contains("hippo keyring generate"),
            "{e}"
        );
        let kek = serde_json::from_str::<serde_json::Value>(&json).unwrap()["kek"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!e.contains(&kek), "{e}");
    }

    #[test]
    fn a_second_create_never_overwrites_the_kek() {
        let d = private_tempdir();
        Keyring::create(d.path()).unwrap();
        assert!(Keyring::create(d.path()).is_err());
    }
}
