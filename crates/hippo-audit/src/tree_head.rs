//! Signed tree heads: the tree head type, its stable signing serialisation, Ed25519 signing and verification, its JSON form, and the audit public key with its fingerprint (what `hippo audit pubkey` prints).
//!
//! # Signing serialisation (version 1)
//!
//! The bytes an Ed25519 signature covers are, in order (integers big-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 16 | the ASCII domain tag `hippo-audit-sth` followed by one `0x00` byte |
//! | 1 | format version, `0x01` |
//! | 2 | length `L` of the log id in bytes, `1 <= L <= 1024` |
//! | L | the log id, UTF-8 (e.g. the tenant id) |
//! | 8 | tree size (number of leaves) |
//! | 8 | timestamp, milliseconds since the Unix epoch (UTC) |
//! | 32 | root hash (RFC 9162 MTH of the first `tree size` leaves) |
//!
//! An auditor can rebuild these bytes from the JSON form with any tool and check the
//! signature with e.g. `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in
//! sth.bin -sigfile sth.sig`, using the PEM from [`AuditPublicKey::to_pem`].
//!
//! # JSON form
//!
//! ```json
//! {"log_id":"tenant-a","tree_size":3,"root_hash":"<64 hex>","timestamp_ms":1700000000000,
//!  "key_fingerprint":"sha256:<64 hex>","signature":"<128 hex>"}
//! ```
//!
//! # Key fingerprint
//!
//! `sha256:` followed by the lower-case hex SHA-256 of the 32 raw public key bytes, so
//! `xxd -r -p <<< <public key hex> | sha256sum` reproduces it.
//!
//! Keys are made from 32 caller-provided random bytes (the Ed25519 seed); this crate
//! needs no random number generator. The module performs no I/O.

use crate::merkle::{hash_hex, Hash};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Domain tag at the start of the signing bytes (15 ASCII bytes and a NUL).
pub const SIGNING_DOMAIN: &[u8; 16] = b"hippo-audit-sth\0";
/// Version byte of the signing serialisation.
pub const SIGNING_FORMAT_VERSION: u8 = 1;
/// Longest log id accepted, in bytes.
pub const MAX_LOG_ID_LEN: usize = 1024;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's 32 bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Errors of tree heads and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeHeadError {
    /// The log id is empty or longer than [`MAX_LOG_ID_LEN`] bytes.
    #[error("log id must be 1 to {MAX_LOG_ID_LEN} bytes, got {0}")]
    BadLogId(usize),
    /// The tree head names another key than the one given to verify it.
    #[error("tree head was signed by key {signed_by}, not by {offered}")]
    KeyMismatch { signed_by: String, offered: String },
    /// The Ed25519 signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// Public key bytes are not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    BadPublicKey,
    /// Text could not be parsed (hex, PEM or fingerprint).
    #[error("cannot parse {what}: {reason}")]
    Parse { what: &'static str, reason: String },
}

/// A tree head: the state of one log (e.g. one tenant's audit trail) at one size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    /// Which log this is (e.g. the tenant id).
    pub log_id: String,
    /// Number of leaves (events) covered.
    pub tree_size: u64,
    /// RFC 9162 root of the first `tree_size` leaves.
    #[serde(with = "hash_hex")]
    pub root_hash: Hash,
    /// When the head was made, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

impl TreeHead {
    /// A tree head; fails on an empty or overlong log id.
    pub fn new(
        log_id: impl Into<String>,
        tree_size: u64,
        root_hash: Hash,
        timestamp_ms: u64,
    ) -> Result<Self, TreeHeadError> {
        let head = Self {
            log_id: log_id.into(),
            tree_size,
            root_hash,
            timestamp_ms,
        };
        head.check()?;
        Ok(head)
    }

    fn check(&self) -> Result<(), TreeHeadError> {
        let n = self.log_id.len();
        if n == 0 || n > MAX_LOG_ID_LEN {
            return Err(TreeHeadError::BadLogId(n));
        }
        Ok(())
    }

    /// The bytes a signature covers (see the module documentation).
    pub fn signing_bytes(&self) -> Result<Vec<u8>, TreeHeadError> {
        self.check()?;
        let id = self.log_id.as_bytes();
        let mut out = Vec::with_capacity(16 + 1 + 2 + id.len() + 8 + 8 + 32);
        out.extend_from_slice(SIGNING_DOMAIN);
        out.push(SIGNING_FORMAT_VERSION);
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(id);
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.root_hash);
        Ok(out)
    }
}

/// A tree head with the Ed25519 signature of its [signing bytes](TreeHead::signing_bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTreeHead {
    /// The signed content.
    #[serde(flatten)]
    pub head: TreeHead,
    /// Fingerprint of the signing key, to pick the key when keys rotate.
    pub key_fingerprint: KeyFingerprint,
    /// Ed25519 signature (64 bytes, hex in JSON).
    #[serde(with = "sig_hex")]
    pub signature: [u8; 64],
}

impl SignedTreeHead {
    /// Checks that `key` signed this head: the fingerprint names `key` and the signature
    /// verifies (strict Ed25519 verification: no malleable or small-order encodings).
    pub fn verify(&self, key: &AuditPublicKey) -> Result<(), TreeHeadError> {
        let offered = key.fingerprint();
        if offered != self.key_fingerprint {
            return Err(TreeHeadError::KeyMismatch {
                signed_by: self.key_fingerprint.to_string(),
                offered: offered.to_string(),
            });
        }
        let msg = self.head.signing_bytes()?;
        let sig = Signature::from_bytes(&self.signature);
        key.0
            .verify_strict(&msg, &sig)
            .map_err(|_| TreeHeadError::BadSignature)
    }

    /// Verifies against whichever of `keys` the head names.
    pub fn verify_with_any(&self, keys: &[AuditPublicKey]) -> Result<(), TreeHeadError> {
        match keys
            .iter()
            .find(|k| k.fingerprint() == self.key_fingerprint)
        {
            Some(k) => self.verify(k),
            None => Err(TreeHeadError::KeyMismatch {
                signed_by: self.key_fingerprint.to_string(),
                offered: keys
                    .iter()
                    .map(|k| k.fingerprint().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The JSON form (see the module documentation).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("tree heads always serialise")
    }

    /// Parses the JSON form.
    pub fn from_json(s: &str) -> Result<Self, TreeHeadError> {
        serde_json::from_str(s).map_err(|e| TreeHeadError::Parse {
            what: "signed tree head JSON",
            reason: e.to_string(),
        })
    }
}

/// The secret Ed25519 key that signs tree heads. Its `Debug` shows only the fingerprint.
#[derive(Clone)]
pub struct AuditSigningKey(SigningKey);

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigningKey")
            .field("fingerprint", &self.public_key().fingerprint().to_string())
            .finish_non_exhaustive()
    }
}

impl AuditSigningKey {
    /// The key whose Ed25519 seed is `seed` (32 bytes from a cryptographic RNG, or from
    /// the keyring).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed, for storing in the keyring.
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey(self.0.verifying_key())
    }

    /// Signs another document of the ledger (e.g. a backup manifest) under `domain`, a tag
    /// that no tree head's signing bytes begin with, so a signature made for one kind of
    /// document can never be passed off as a signature of another.
    pub fn sign_document(&self, domain: &str, msg: &[u8]) -> [u8; 64] {
        self.0.sign(&document_bytes(domain, msg)).to_bytes()
    }

    /// Signs `head`.
    pub fn sign(&self, head: TreeHead) -> Result<SignedTreeHead, TreeHeadError> {
        let msg = head.signing_bytes()?;
        let signature = self.0.sign(&msg).to_bytes();
        Ok(SignedTreeHead {
            head,
            key_fingerprint: self.public_key().fingerprint(),
            signature,
        })
    }
}

/// The public key auditors use to check tree heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey(VerifyingKey);

/// What [`AuditSigningKey::sign_document`] signs: a domain tag (length-prefixed, after a
/// marker distinct from the tree-head domain) and the message.
fn document_bytes(domain: &str, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + domain.len() + msg.len());
    out.extend_from_slice(b"hippo-signed-document\0");
    out.extend_from_slice(&(domain.len() as u16).to_be_bytes());
    out.extend_from_slice(domain.as_bytes());
    out.extend_from_slice(msg);
    out
}

impl AuditPublicKey {
    /// Checks a signature made by [`AuditSigningKey::sign_document`] (strict verification).
    pub fn verify_document(&self, domain: &str, msg: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(
                &document_bytes(domain, msg),
                &Signature::from_bytes(signature),
            )
            .is_ok()
    }

    /// From the 32 raw key bytes; fails if they are not a valid point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, TreeHeadError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| TreeHeadError::BadPublicKey)
    }

    /// The 32 raw key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Lower-case hex of the raw key.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, TreeHeadError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).map_err(|e| TreeHeadError::Parse {
            what: "public key hex",
            reason: e.to_string(),
        })?;
        Self::from_bytes(&b)
    }

    /// The key's fingerprint (see the module documentation).
    pub fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(Sha256::digest(self.to_bytes()).into())
    }

    /// PEM "PUBLIC KEY" (RFC 8410 SubjectPublicKeyInfo), as OpenSSL reads it.
    pub fn to_pem(&self) -> String {
        let mut der = Vec::with_capacity(44);
        der.extend_from_slice(&ED25519_SPKI_PREFIX);
        der.extend_from_slice(&self.to_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    /// Parses the PEM written by [`to_pem`](Self::to_pem).
    pub fn from_pem(pem: &str) -> Result<Self, TreeHeadError> {
        let err = |reason: &str| TreeHeadError::Parse {
            what: "public key PEM",
            reason: reason.to_string(),
        };
        let body = pem
            .trim()
            .strip_prefix("-----BEGIN PUBLIC KEY-----")
            .and_then(|s| s.strip_suffix("-----END PUBLIC KEY-----"))
            .ok_or_else(|| err("missing PUBLIC KEY armour"))?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| err(&e.to_string()))?;
        let key = der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .filter(|k| k.len() == 32)
            .ok_or_else(|| err("not an Ed25519 SubjectPublicKeyInfo"))?;
        let mut b = [0u8; 32];
        b.copy_from_slice(key);
        Self::from_bytes(&b)
    }

    /// Everything `hippo audit pubkey` prints, printable with `Display` or as JSON.
    pub fn info(&self) -> PublicKeyInfo {
        PublicKeyInfo {
            algorithm: "ed25519".to_string(),
            public_key_hex: self.to_hex(),
            fingerprint: self.fingerprint(),
            pem: self.to_pem(),
        }
    }
}

/// The public key in all the forms an auditor may want.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Raw key, hex.
    pub public_key_hex: String,
    /// `sha256:<hex>` fingerprint.
    pub fingerprint: KeyFingerprint,
    /// SubjectPublicKeyInfo PEM.
    pub pem: String,
}

impl fmt::Display for PublicKeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "algorithm:   {}", self.algorithm)?;
        writeln!(f, "public key:  {}", self.public_key_hex)?;
        writeln!(f, "fingerprint: {}", self.fingerprint)?;
        write!(f, "{}", self.pem)
    }
}

/// SHA-256 fingerprint of a public key; text form `sha256:<64 lower-case hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyFingerprint(pub [u8; 32]);

impl KeyFingerprint {
    /// Text prefix.
    pub const PREFIX: &'static str = "sha256:";
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, hex::encode(self.0))
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for KeyFingerprint {
    type Err = TreeHeadError;
    fn from_str(s: &str) -> Result<Self, TreeHeadError> {
        let hex_part = s.strip_prefix(Self::PREFIX).ok_or(TreeHeadError::Parse {
            what: "key fingerprint",
            reason: format!("must start with {}", Self::PREFIX),
        })?;
        let mut b = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut b).map_err(|e| TreeHeadError::Parse {
            what: "key fingerprint",
            reason: e.to_string(),
        })?;
        Ok(Self(b))
    }
}

impl Serialize for KeyFingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod sig_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(sig))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(s.as_ref(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditSigningKey {
        AuditSigningKey::from_seed(&[7u8; 32])
    }

    fn head() -> TreeHead {
        TreeHead::new("tenant-a", 3, [0xab; 32], 1_700_000_000_123).unwrap()
    }

    #[test]
    fn document_signatures_are_bound_to_their_domain_and_key() {
        let sig = key().sign_document("backup-manifest", b"{\"a\":1}");
        let public = key().public_key();
        assert!(public.verify_document("backup-manifest", b"{\"a\":1}", &sig));
        assert!(!public.verify_document("backup-manifest", b"{\"a\":2}", &sig));
        assert!(!public.verify_document("other", b"{\"a\":1}", &sig));
        let other = AuditSigningKey::from_seed(&[8u8; 32]).public_key();
        assert!(!other.verify_document("backup-manifest", b"{\"a\":1}", &sig));
        // A tree head's signature never verifies as a document, nor the reverse.
        let sth = key().sign(head()).unwrap();
        let msg = head().signing_bytes().unwrap();
        assert!(!public.verify_document("", &msg, &sth.signature));
    }

    #[test]
    fn rfc8032_test_1_key_and_signature() {
        // RFC 8032 section 7.1, TEST 1: empty message.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let k = AuditSigningKey::from_seed(&seed);
        assert_eq!(
            k.public_key().to_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(k.0.sign(b"").to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn signing_bytes_layout_is_stable() {
        let b = head().signing_bytes().unwrap();
        let mut want = b"hippo-audit-sth\0".to_vec();
        want.push(1);
        want.extend_from_slice(&[0, 8]);
        want.extend_from_slice(b"tenant-a");
        want.extend_from_slice(&3u64.to_be_bytes());
        want.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        want.extend_from_slice(&[0xab; 32]);
        assert_eq!(b, want);
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = key();
        let sth = k.sign(head()).unwrap();
        sth.verify(&k.public_key()).unwrap();
        sth.verify_with_any(&[
            AuditSigningKey::from_seed(&[1; 32]).public_key(),
            k.public_key(),
        ])
        .unwrap();

        let mut t = sth.clone();
        t.head.tree_size += 1;
        assert_eq!(t.verify(&k.public_key()), Err(TreeHeadError::BadSignature));
        let mut t = sth.clone();
        t.head.root_hash[0] ^= 1;
        assert_eq!(t.verify(&k.public_key()), Err(TreeHeadError::BadSignature));
        let mut t = sth.clone();
        t.head.log_id = "tenant-b".into();
        assert_eq!(t.verify(&k.public_key()), Err(TreeHeadError::BadSignature));
        let mut t = sth.clone();
        t.head.timestamp_ms += 1;
        assert_eq!(t.verify(&k.public_key()), Err(TreeHeadError::BadSignature));
        let mut t = sth.clone();
        t.signature[10] ^= 1;
        assert_eq!(t.verify(&k.public_key()), Err(TreeHeadError::BadSignature));

        let other = AuditSigningKey::from_seed(&[9; 32]).public_key();
        assert!(matches!(
            sth.verify(&other),
            Err(TreeHeadError::KeyMismatch { .. })
        ));
        assert!(matches!(
            sth.verify_with_any(&[other]),
            Err(TreeHeadError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn json_round_trip() {
        let sth = key().sign(head()).unwrap();
        let json = sth.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["log_id"], "tenant-a");
        assert_eq!(v["tree_size"], 3);
        assert_eq!(v["root_hash"], "ab".repeat(32));
        assert_eq!(v["timestamp_ms"], 1_700_000_000_123u64);
        assert!(v["key_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(v["signature"].as_str().unwrap().len(), 128);
        let back = SignedTreeHead::from_json(&json).unwrap();
        assert_eq!(back, sth);
        back.verify(&key().public_key()).unwrap();
        assert!(SignedTreeHead::from_json(&json.replace("sha256:", "md5:")).is_err());
    }

    #[test]
    fn log_id_limits() {
        assert_eq!(
            TreeHead::new("", 0, [0; 32], 0),
            Err(TreeHeadError::BadLogId(0))
        );
        assert!(TreeHead::new("x".repeat(MAX_LOG_ID_LEN), 0, [0; 32], 0).is_ok());
        assert!(TreeHead::new("x".repeat(MAX_LOG_ID_LEN + 1), 0, [0; 32], 0).is_err());
        let mut h = head();
        h.log_id.clear();
        assert!(key().sign(h).is_err());
    }

    #[test]
    fn public_key_forms() {
        let pk = key().public_key();
        assert_eq!(AuditPublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
        assert_eq!(AuditPublicKey::from_pem(&pk.to_pem()).unwrap(), pk);
        let fp = pk.fingerprint();
        assert_eq!(
            fp.to_string(),
            format!("sha256:{}", hex::encode(Sha256::digest(pk.to_bytes())))
        );
        assert_eq!(fp.to_string().parse::<KeyFingerprint>().unwrap(), fp);
        let info = pk.info();
        let text = info.to_string();
        assert!(text.contains(&pk.to_hex()) && text.contains("BEGIN PUBLIC KEY"));
        assert!(AuditPublicKey::from_pem("garbage").is_err());
        assert!(AuditPublicKey::from_hex("zz").is_err());
        assert_eq!(
            AuditSigningKey::from_seed(&key().to_seed()).public_key(),
            pk
        );
        assert!(!format!("{:?}", key()).contains(&hex::encode([7u8; 32])));
    }
}
