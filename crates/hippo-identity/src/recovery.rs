//! Single-use recovery codes: ten per enrolment, 80 random bits each, shown once and stored
//! only as SHA-256 (random 80-bit codes cannot be brute-forced from their hashes, unlike
//! passwords, so Argon2's cost buys nothing here).

use sha2::{Digest, Sha256};

pub const COUNT: usize = 10;
pub const RANDOM_BYTES_EACH: usize = 10;
// 23 letters without i, l, o and 9 digits without 1: nothing to misread.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";

/// Formats 10 random bytes as `xxxx-xxxx-xxxx-xxxx` (16 symbols of 5 bits, no look-alikes).
pub fn format_code(random: &[u8; RANDOM_BYTES_EACH]) -> String {
    let mut bits: u128 = 0;
    for b in random {
        bits = (bits << 8) | u128::from(*b);
    }
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let sym = ((bits >> (75 - 5 * i)) & 31) as usize;
        out.push(ALPHABET[sym] as char);
    }
    out
}

/// The hash under which a code is stored and looked up; spaces, dashes and case are ignored
/// so a code read aloud or retyped still matches.
pub fn hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    Sha256::digest(normal.as_bytes()).into()
}

/// True if `code` has the shape of a recovery code (16 symbols), so a TOTP code or garbage is
/// told apart before any lookup.
pub fn looks_like_code(code: &str) -> bool {
    let symbols = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .count();
    symbols == 16
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_are_grouped_and_match_retyped() {
        let c = format_code(&[0xA5; RANDOM_BYTES_EACH]);
        assert_eq!(c.len(), 19);
        assert_eq!(c.matches('-').count(), 3);
        assert!(looks_like_code(&c));
        assert_eq!(hash(&c), hash(&c.to_uppercase().replace('-', " ")));
        assert!(!looks_like_code("123456"));
    }

    proptest! {
        #[test]
        fn distinct_randomness_gives_distinct_codes(a in proptest::array::uniform10(any::<u8>()), b in proptest::array::uniform10(any::<u8>())) {
            prop_assume!(a != b);
            prop_assert_ne!(format_code(&a), format_code(&b));
        }
    }
}
