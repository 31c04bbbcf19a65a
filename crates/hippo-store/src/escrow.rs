//! Escrow copies of the keyring: the keyring sealed to a recovery passphrase, so that a backup
//! can be restored after the machine (and the secret store) holding the keyring is gone.
//!
//! Format `hippo-keyring-escrow/1`: JSON with the KDF parameters, a random salt and nonce, and
//! the keyring JSON sealed with AES-256-GCM under a key derived by Argon2id (memory-hard: 64 MiB,
//! 3 passes), the parameters bound as associated data so they cannot be weakened in the file.
//! Written here rather than with the `age` tool's crate: Argon2id and AES-GCM are already in
//! the build, and `age`'s passphrase mode (scrypt) would add a second KDF and its dependency tree.

use crate::keyring::Keyring;
use crate::{random, StoreError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const FORMAT: &str = "hippo-keyring-escrow/1";
/// Shorter passphrases are refused: the escrow copy may sit in places many people can read.
pub const MIN_PASSPHRASE_CHARS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub alg: String,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    pub salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EscrowFile {
    pub format: String,
    pub kdf: KdfParams,
    pub nonce: String,
    pub ciphertext: String,
    /// Fingerprint of the audit signing key inside, to tell escrow copies apart unopened.
    pub audit_key_fingerprint: String,
}

fn bad(msg: &str) -> StoreError {
    StoreError::Crypto(format!("keyring escrow: {msg}"))
}

fn derive(passphrase: &str, kdf: &KdfParams) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    if kdf.alg != "argon2id" {
        return Err(bad("unsupported key derivation (expected argon2id)"));
    }
    // Refuse parameters weaker than what we write: a doctored file must not ease brute force.
    if kdf.m_kib < 19_456 || kdf.t < 2 || kdf.p == 0 {
        return Err(bad("key derivation parameters are weaker than allowed"));
    }
    let salt = STANDARD
        .decode(&kdf.salt)
        .map_err(|_| bad("malformed salt"))?;
    let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|_| bad("invalid key derivation parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &salt, key.as_mut())
        .map_err(|_| bad("key derivation failed"))?;
    Ok(key)
}

fn aad(format: &str, kdf: &KdfParams) -> Vec<u8> {
    format!(
        "{format}|{}|{}|{}|{}|{}",
        kdf.alg, kdf.m_kib, kdf.t, kdf.p, kdf.salt
    )
    .into_bytes()
}

/// Bytes sealed to a passphrase: the KDF parameters, nonce and ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sealed {
    pub kdf: KdfParams,
    pub nonce: String,
    pub ciphertext: String,
}

/// Seals `plain` to `passphrase`, bound to `format` (a file of one format never opens as another).
pub fn seal_bytes(format: &str, plain: &[u8], passphrase: &str) -> Result<Sealed, StoreError> {
    seal_bytes_with(format, plain, passphrase, 65_536, 3)
}

fn seal_bytes_with(
    format: &str,
    plain: &[u8],
    passphrase: &str,
    m_kib: u32,
    t: u32,
) -> Result<Sealed, StoreError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(bad(&format!(
            "the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    let salt: [u8; 16] = random::bytes()?;
    let kdf = KdfParams {
        alg: "argon2id".into(),
        m_kib,
        t,
        p: 1,
        salt: STANDARD.encode(salt),
    };
    let key = derive(passphrase, &kdf)?;
    let nonce: [u8; 12] = random::bytes()?;
    let ct = Aes256Gcm::new_from_slice(key.as_slice())
        .expect("32-byte key")
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad(format, &kdf),
            },
        )
        .map_err(|_| bad("sealing failed"))?;
    Ok(Sealed {
        kdf,
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ct),
    })
}

/// Opens what [`seal_bytes`] sealed; `source` names it in errors.
pub fn open_bytes(
    format: &str,
    sealed: &Sealed,
    passphrase: &str,
    source: &str,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let key = derive(passphrase, &sealed.kdf)?;
    let nonce = STANDARD
        .decode(&sealed.nonce)
        .map_err(|_| bad("malformed nonce"))?;
    if nonce.len() != 12 {
        return Err(bad("malformed nonce"));
    }
    let ct = STANDARD
        .decode(&sealed.ciphertext)
        .map_err(|_| bad("malformed ciphertext"))?;
    Aes256Gcm::new_from_slice(key.as_slice())
        .expect("32-byte key")
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &aad(format, &sealed.kdf),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            bad(&format!(
                "{source} does not open with this passphrase (wrong passphrase or a damaged file)"
            ))
        })
}

/// Seals `keyring` to `passphrase`.
pub fn seal(keyring: &Keyring, passphrase: &str) -> Result<EscrowFile, StoreError> {
    seal_with(keyring, passphrase, 65_536, 3)
}

fn seal_with(
    keyring: &Keyring,
    passphrase: &str,
    m_kib: u32,
    t: u32,
) -> Result<EscrowFile, StoreError> {
    let json = keyring.to_json();
    let sealed = seal_bytes_with(FORMAT, json.as_bytes(), passphrase, m_kib, t)?;
    Ok(EscrowFile {
        format: FORMAT.into(),
        kdf: sealed.kdf,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        audit_key_fingerprint: keyring
            .ledger_keys()?
            .signing
            .public_key()
            .fingerprint()
            .to_string(),
    })
}

/// Opens an escrow file (its JSON text) with `passphrase`; `source` names it in errors.
pub fn open(text: &str, passphrase: &str, source: &str) -> Result<Keyring, StoreError> {
    let file: EscrowFile = serde_json::from_str(text)
        .map_err(|_| bad(&format!("{source} is not a keyring escrow file")))?;
    if file.format != FORMAT {
        return Err(bad(&format!(
            "{source} has format {:?}, expected {FORMAT}",
            file.format
        )));
    }
    let sealed = Sealed {
        kdf: file.kdf,
        nonce: file.nonce,
        ciphertext: file.ciphertext,
    };
    let json = open_bytes(FORMAT, &sealed, passphrase, source)?;
    let text = std::str::from_utf8(&json).map_err(|_| bad("sealed content is not text"))?;
    Keyring::from_json(text, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::from_json(&Keyring::generate_json().unwrap(), "test").unwrap()
    }

    #[test]
    fn sealed_keyring_opens_only_with_its_passphrase_and_parameters() {
        let k = keyring();
        // Cheaper (but still allowed) parameters keep the test fast.
        let sealed = seal_with(&k, "correct horse battery staple", 19_456, 2).unwrap();
        let text = serde_json::to_string(&sealed).unwrap();
        let back = open(&text, "correct horse battery staple", "escrow.json").unwrap();
        assert_eq!(back.to_json().as_str(), k.to_json().as_str());
        assert!(open(&text, "wrong horse battery staple!", "escrow.json").is_err());
        let mut weakened = sealed.clone();
        weakened.kdf.t = 5;
        let err = open(
            &serde_json::to_string(&weakened).unwrap(),
            "correct horse battery staple",
            "e",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("does not open"), "{err}");
        let mut weak = sealed;
        weak.kdf.m_kib = 1024;
        assert!(open(
            &serde_json::to_string(&weak).unwrap(),
            "correct horse battery staple",
            "e"
        )
        .is_err());
        assert!(seal(&k, "short").is_err());
        assert!(!text.contains(&k.to_json().lines().nth(2).unwrap_or_default().to_string()));
    }
}
