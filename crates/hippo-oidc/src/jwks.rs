//! The issuer's published signing keys (a JWKS) and signature checks with them.
//!
//! Signatures are verified with `ring` directly rather than the `jsonwebtoken` crate: its current
//! release (12) needs either the aws-lc-rs backend (a C build) or the rust_crypto one, which adds
//! the `rsa` crate (open advisory RUSTSEC-2023-0071) and second major versions of sha2, p256 and
//! ed25519-dalek; and its claim validation reads the system clock, while `verify` takes the time
//! from the caller. `ring` is already in the build (rustls, rcgen) and does exactly these checks.

use crate::config::Alg;
use crate::error::OidcError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

/// One key's material, already checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point: 0x04 || x || y.
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// A usable signing key from the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: String,
    /// The JWK's own `alg`, if it pins one.
    alg: Option<String>,
    material: Material,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

fn b64(s: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.as_deref()?).ok()
}

fn strip_leading_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

impl Key {
    /// A signing key from one JWK, or `None` for keys this verifier cannot or must not use
    /// (encryption keys, other curves, no kid, bad encodings): IdPs publish those too.
    fn from_jwk(v: serde_json::Value) -> Option<Key> {
        let j: RawJwk = serde_json::from_value(v).ok()?;
        if j.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let kid = j.kid.clone().filter(|k| !k.is_empty())?;
        let material = match (j.kty.as_deref()?, j.crv.as_deref()) {
            ("RSA", _) => Material::Rsa {
                n: strip_leading_zeros(b64(&j.n)?),
                e: strip_leading_zeros(b64(&j.e)?),
            },
            ("EC", Some("P-256")) => {
                let (x, y) = (b64(&j.x)?, b64(&j.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                Material::P256(point)
            }
            ("OKP", Some("Ed25519")) => {
                let x = b64(&j.x)?;
                if x.len() != 32 {
                    return None;
                }
                Material::Ed25519(x)
            }
            _ => return None,
        };
        Some(Key {
            kid,
            alg: j.alg,
            material,
        })
    }

    /// True if `alg` is the algorithm this key is for: the key type must fit (so an RSA key is
    /// never used for ES256, nor any key for HMAC), and a JWK that pins `alg` must name it.
    pub fn fits(&self, alg: Alg) -> bool {
        let kind_fits = matches!(
            (&self.material, alg),
            (Material::Rsa { .. }, Alg::Rs256)
                | (Material::P256(_), Alg::Es256)
                | (Material::Ed25519(_), Alg::EdDsa)
        );
        kind_fits && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    /// Checks `signature` over `message` with this key under `alg` (which must [`fit`](Self::fits)).
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<(), OidcError> {
        if !self.fits(alg) {
            return Err(OidcError::AlgorithmNotAllowed(
                "alg does not match the type of the key named by kid",
            ));
        }
        let ok = match &self.material {
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Material::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok(),
        };
        ok.then_some(()).ok_or(OidcError::BadSignature)
    }
}

/// Parses a JWKS document, keeping the usable signing keys. Refuses a document with none.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Key>, OidcError> {
    let unreachable = |reason: &str| OidcError::IssuerUnreachable {
        what: "the JWKS",
        reason: reason.into(),
    };
    let raw: RawJwks = serde_json::from_slice(body)
        .map_err(|_| unreachable("it is not a JSON object with a keys array"))?;
    let keys: Vec<Key> = raw.keys.into_iter().filter_map(Key::from_jwk).collect();
    if keys.is_empty() {
        return Err(unreachable(
            "it has no usable signing key (RSA, EC P-256 or Ed25519 with a kid)",
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec_jwk(kid: &str, alg: Option<&str>) -> serde_json::Value {
        let c = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let mut v = json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": c, "y": c});
        if let Some(a) = alg {
            v["alg"] = json!(a);
        }
        v
    }

    #[test]
    fn unusable_keys_are_skipped_and_types_must_fit() {
        let body = json!({"keys": [
            ec_jwk("ec", None),
            ec_jwk("pinned", Some("ES384")),
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([1u8; 32])},
            "not an object"
        ]});
        let keys = parse_jwks(&serde_json::to_vec(&body).unwrap()).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["ec", "pinned"]);
        assert!(keys[0].fits(Alg::Es256));
        assert!(!keys[0].fits(Alg::Rs256));
        assert!(!keys[0].fits(Alg::EdDsa));
        assert!(
            !keys[1].fits(Alg::Es256),
            "a JWK pinned to another alg is not used"
        );
        assert_eq!(
            keys[0].verify(Alg::Rs256, b"m", b"s").unwrap_err().slug(),
            "algorithm-not-allowed"
        );
        assert_eq!(
            keys[0]
                .verify(Alg::Es256, b"m", &[0; 64])
                .unwrap_err()
                .slug(),
            "bad-signature"
        );
    }

    #[test]
    fn a_jwks_without_usable_keys_is_refused() {
        for body in [
            &b"{}"[..],
            b"{\"keys\": []}",
            b"[1]",
            b"{\"keys\": [{\"kty\": \"oct\", \"kid\": \"x\"}]}",
        ] {
            assert_eq!(parse_jwks(body).unwrap_err().slug(), "issuer-unreachable");
        }
    }
}
