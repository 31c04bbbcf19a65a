//! Compact JWS parsing: size limit, three base64url parts, the protected header and its `alg`.
//! Claims are decoded only after the signature verifies (see `lib.rs`).

use crate::config::Alg;
use crate::error::OidcError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// Tokens above this size are refused before any decoding (bounds the work an attacker can cause).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The header fields the verifier reads. Others (`typ`, `cty`, ...) are ignored; key-bearing
/// headers (`jwk`, `jku`, `x5u`, `x5c`) are never used: keys come only from the issuer's JWKS.
#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// A token split and checked up to, not including, its signature.
#[derive(Debug)]
pub struct Parsed<'a> {
    pub alg: Alg,
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub payload_b64: &'a str,
    pub signature: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OidcError::MalformedToken(what))
}

/// Splits `token` and checks its header against `allowed`. Refuses `none`, HMAC and anything not
/// allowed before the signature is even decoded, so no key is ever tried with the wrong algorithm.
pub fn parse<'a>(token: &'a str, allowed: &[Alg]) -> Result<Parsed<'a>, OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TokenTooLarge {
            limit: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::MalformedToken(
            "expected three dot-separated parts (a signed JWT, not an encrypted one)",
        ));
    };
    if h.is_empty() || p.is_empty() {
        return Err(OidcError::MalformedToken("empty header or payload"));
    }
    let header: RawHeader = serde_json::from_slice(&b64(h, "header is not base64url")?)
        .map_err(|_| OidcError::MalformedToken("header is not a JSON object with a string alg"))?;
    if header.crit.is_some() {
        // RFC 7515 4.1.11: critical extensions we do not implement must make the token invalid.
        return Err(OidcError::MalformedToken(
            "header lists critical extensions (crit), none of which are supported",
        ));
    }
    let alg = match Alg::from_jose(&header.alg) {
        Some(a) if allowed.contains(&a) => a,
        Some(_) => {
            return Err(OidcError::AlgorithmNotAllowed(
                "alg is not in oidc.algorithms",
            ))
        }
        None if header.alg.eq_ignore_ascii_case("none") => {
            return Err(OidcError::AlgorithmNotAllowed(
                "unsigned tokens (alg none) are refused",
            ))
        }
        None if header.alg.starts_with("HS") => {
            return Err(OidcError::AlgorithmNotAllowed(
                "HMAC algorithms are refused (the issuer's keys are public)",
            ))
        }
        None => return Err(OidcError::AlgorithmNotAllowed("alg is not supported")),
    };
    let kid = match header.kid {
        Some(k) if !k.is_empty() => k,
        _ => return Err(OidcError::UnknownKey("the token header has no kid")),
    };
    let signature = b64(s, "signature is not base64url")?;
    if signature.is_empty() {
        return Err(OidcError::MalformedToken("empty signature"));
    }
    Ok(Parsed {
        alg,
        kid,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        payload_b64: p,
        signature,
    })
}

/// The claims object, decoded once the signature has verified.
pub fn claims(payload_b64: &str) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let bytes = b64(payload_b64, "payload is not base64url")?;
    serde_json::from_slice(&bytes)
        .map_err(|_| OidcError::MalformedToken("payload is not a JSON object"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn token(header: serde_json::Value) -> String {
        format!(
            "{}.{}.c2ln",
            enc(&header),
            enc(&serde_json::json!({"sub": "u"}))
        )
    }

    #[test]
    fn well_formed_header_parses() {
        let t = token(serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}));
        let p = parse(&t, &Alg::ALL).unwrap();
        assert_eq!(p.alg, Alg::Es256);
        assert_eq!(p.kid, "k1");
        assert_eq!(p.signature, b"sig");
        assert!(t.starts_with(std::str::from_utf8(p.signing_input).unwrap()));
        assert_eq!(claims(p.payload_b64).unwrap()["sub"], "u");
    }

    #[test]
    fn algorithm_refusals() {
        for (alg, allowed) in [
            ("none", &Alg::ALL[..]),
            ("None", &Alg::ALL[..]),
            ("HS256", &Alg::ALL[..]),
            ("PS256", &Alg::ALL[..]),
            ("RS256", &[Alg::Es256][..]),
        ] {
            let t = token(serde_json::json!({"alg": alg, "kid": "k"}));
            assert_eq!(
                parse(&t, allowed).unwrap_err().slug(),
                "algorithm-not-allowed",
                "{alg}"
            );
        }
    }

    #[test]
    fn structural_refusals() {
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            parse(&long, &Alg::ALL).unwrap_err().slug(),
            "token-too-large"
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d.e",
            "!!.e30.c2ln",
            "e30.e30.c2ln",
            "bnVsbA.e30.c2ln",
        ] {
            assert_eq!(
                parse(bad, &Alg::ALL).unwrap_err().slug(),
                "malformed-token",
                "{bad}"
            );
        }
        let crit = token(serde_json::json!({"alg": "ES256", "kid": "k", "crit": ["exp"]}));
        assert_eq!(
            parse(&crit, &Alg::ALL).unwrap_err().slug(),
            "malformed-token"
        );
        let no_kid = token(serde_json::json!({"alg": "ES256"}));
        assert_eq!(parse(&no_kid, &Alg::ALL).unwrap_err().slug(), "unknown-key");
    }

    proptest! {
        // Whatever arrives as a bearer token, parsing returns an error or a token; it never panics.
        #[test]
        fn parse_never_panics(s in "[A-Za-z0-9_.=+/-]{0,300}") {
            let _ = parse(&s, &Alg::ALL);
        }

        #[test]
        fn parse_never_panics_on_any_text(s in "\\PC{0,200}") {
            if let Ok(p) = parse(&s, &Alg::ALL) {
                let _ = claims(p.payload_b64);
            }
        }
    }
}
