//! Ed25519 keys for signed evidence: reading a signing key (PKCS#8 PEM as `openssl genpkey
//! -algorithm ed25519` writes it, or a raw 32-byte seed), generating a fresh one, and
//! writing and reading public keys (SubjectPublicKeyInfo PEM, as OpenSSL reads it).

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::AttestError;

/// DER of a PKCS#8 Ed25519 private key up to its 32-byte seed (RFC 8410).
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an Ed25519 SubjectPublicKeyInfo up to its 32-byte key (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn bad_key(path: &Path, why: impl Into<String>) -> AttestError {
    AttestError::Key {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// The DER inside a PEM block with the given label.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.trim().strip_prefix(&begin)?.strip_suffix(&end)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Reads a signing key: a PKCS#8 PEM "PRIVATE KEY" holding an Ed25519 key, or a file of
/// exactly 32 bytes (the raw seed).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, AttestError> {
    let bytes = std::fs::read(path).map_err(|e| bad_key(path, e.to_string()))?;
    if let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(SigningKey::from_bytes(&seed));
    }
    let text = String::from_utf8_lossy(&bytes);
    let der = pem_body(&text, "PRIVATE KEY").ok_or_else(|| {
        bad_key(
            path,
            "neither a PKCS#8 PEM \"PRIVATE KEY\" nor a raw 32-byte Ed25519 seed",
        )
    })?;
    let seed = der
        .strip_prefix(&PKCS8_PREFIX[..])
        .and_then(|s| <[u8; 32]>::try_from(s).ok())
        .ok_or_else(|| bad_key(path, "the PEM private key is not an Ed25519 key"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey, AttestError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| AttestError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key as SubjectPublicKeyInfo PEM.
pub fn public_pem(key: &VerifyingKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// Reads a public key: SubjectPublicKeyInfo PEM, or 64 hex characters (the form the
/// evidence document records).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, AttestError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad_key(path, e.to_string()))?;
    parse_public_key(&text).map_err(|why| bad_key(path, why))
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let raw: [u8; 32] = if let Some(der) = pem_body(text, "PUBLIC KEY") {
        der.strip_prefix(&SPKI_PREFIX[..])
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or("the PEM public key is not an Ed25519 key")?
    } else {
        let mut b = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut b)
            .map_err(|_| "neither a PEM \"PUBLIC KEY\" nor 64 hex characters")?;
        b
    };
    VerifyingKey::from_bytes(&raw).map_err(|_| "not a valid Ed25519 public key".to_string())
}

/// Short, stable name of a public key: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("hippo-keys-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn raw_seed_and_pkcs8_pem_give_the_same_key() {
        let seed = [7u8; 32];
        let raw = temp("raw", &seed);
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let pem = format!(
            // hippo:ignore HIPPO-SECRET-002 reason="a key built from a fixed test seed for the key-format test"
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        let pem = temp("pem", pem.as_bytes());
        let a = read_signing_key(&raw).unwrap();
        let b = read_signing_key(&pem).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let bad = temp("bad", b"not a key");
        assert!(read_signing_key(&bad).is_err());
        for p in [raw, pem, bad] {
            let _ = std::fs::remove_file(p);
        }
    }

    /// A throw-away key made with `openssl genpkey -algorithm ed25519` and its public key
    /// from `openssl pkey -pubout`: OpenSSL's files are read as they are written.
    #[test]
    fn openssl_key_files_are_understood() {
        let private = temp(
            "openssl",
            // hippo:ignore HIPPO-SECRET-002 reason="a throw-away key in the format openssl writes, for the key-format test"
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINS2gAtguMNOr2WxPIICGk2jc499TlE8s+5ihjVjfFML\n-----END PRIVATE KEY-----\n",
        );
        let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEACKKxuyk8m1bKJftCFLKRhLairMXu3NZT9z2FgLCSH1s=\n-----END PUBLIC KEY-----\n";
        let key = read_signing_key(&private).unwrap();
        assert_eq!(parse_public_key(public).unwrap(), key.verifying_key());
        assert_eq!(public_pem(&key.verifying_key()), public);
        let _ = std::fs::remove_file(private);
    }

    #[test]
    fn public_keys_round_trip_as_pem_and_hex() {
        let k = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        assert_eq!(parse_public_key(&public_pem(&k)).unwrap(), k);
        assert_eq!(parse_public_key(&hex::encode(k.as_bytes())).unwrap(), k);
        assert!(parse_public_key("zz").is_err());
    }
}
