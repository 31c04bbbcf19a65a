//! API key format: `hpk_<key id>_<secret>`. The key id is public (listed, audited); only a hash of the secret is stored.
//!
//! Secrets are 256 random bits, so a single SHA-256 is enough to make the stored hash useless
//! to an attacker (there is nothing to brute-force) while keeping per-request verification
//! cheap. Human passwords, which are guessable, will use Argon2id instead.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "hpk_";
const KEY_ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A freshly minted key: the full token (shown once) and what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedKey {
    pub key_id: String,
    pub token: String,
    pub secret_hash: [u8; 32],
}

/// Mints a key from caller-supplied randomness (the core does no I/O, so it cannot draw its own).
pub fn mint(random: &[u8; KEY_ID_BYTES + SECRET_BYTES]) -> MintedKey {
    let key_id = hex::encode(&random[..KEY_ID_BYTES]);
    let secret = URL_SAFE_NO_PAD.encode(&random[KEY_ID_BYTES..]);
    let token = format!("{PREFIX}{key_id}_{secret}");
    MintedKey {
        secret_hash: hash_secret(&secret),
        key_id,
        token,
    }
}

/// Number of random bytes [`mint`] needs.
pub const RANDOM_BYTES: usize = KEY_ID_BYTES + SECRET_BYTES;

/// Splits a presented token into its key id and the hash of its secret.
pub fn parse(token: &str) -> Option<(String, [u8; 32])> {
    let rest = token.strip_prefix(PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let id_ok = key_id.len() == KEY_ID_BYTES * 2 && key_id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then(|| (key_id.to_ascii_lowercase(), hash_secret(secret)))
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn minted_tokens_parse_to_the_stored_hash() {
        let k = mint(&[7u8; RANDOM_BYTES]);
        assert!(k.token.starts_with("hpk_0707070707070707_"));
        let (id, hash) = parse(&k.token).unwrap();
        assert_eq!(id, k.key_id);
        assert_eq!(hash, k.secret_hash);
    }

    #[test]
    fn a_changed_secret_changes_the_hash() {
        let k = mint(&[7u8; RANDOM_BYTES]);
        let mut t = k.token.clone();
        t.pop();
        t.push('Z');
        assert_ne!(parse(&t).unwrap().1, k.secret_hash);
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in ".{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn every_minted_key_parses(bytes in proptest::array::uniform32(any::<u8>()), id in proptest::array::uniform8(any::<u8>())) {
            let mut r = [0u8; RANDOM_BYTES];
            r[..8].copy_from_slice(&id);
            r[8..].copy_from_slice(&bytes);
            let k = mint(&r);
            prop_assert_eq!(parse(&k.token).map(|p| p.1), Some(k.secret_hash));
        }
    }
}
