//! Passwords: the acceptance policy (length, common and breached passwords) and Argon2id hashing.
//!
//! The denylist is zxcvbn's frequency lists (passwords seen in public breaches, common words and
//! names), shipped inside the binary, plus a few words every hospital's users reach for first.
//! A password is refused when it is short, or when zxcvbn scores it below 3 of 4 (guessable in
//! fewer than about 10^8 tries), which covers every listed password and its simple variants.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

/// Argon2id cost, from `[auth]` in the configuration. The defaults are OWASP's first
/// recommendation (19 MiB, 2 passes, 1 lane): about 30-50 ms per sign-in on this class of machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Cost {
    /// The parameters, or why they are unusable.
    pub fn params(&self) -> Result<Params, PasswordError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::BadCost(e.to_string()))
    }
}

/// Words a clinic's users try first; refused in any capitalisation, with digits or symbols around.
const LOCAL_DENYLIST: &[&str] = &[
    "hippo", "hospital", "clinic", "patient", "nurse", "doctor", "medical", "health", "welcome",
    "password", "changeme", "letmein",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is shorter than {min} characters")]
    TooShort { min: usize },
    #[error("the password is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the password is a common or breached password, or too easy to guess; use a longer passphrase of unrelated words")]
    TooWeak,
    #[error("the Argon2id cost in [auth] is invalid: {0}")]
    BadCost(String),
    #[error("the stored password hash is malformed")]
    BadHash,
}

/// Longest password accepted: Argon2 takes any length, but a megabyte "password" is a DoS.
pub const MAX_LENGTH: usize = 256;

/// Checks a new password against the policy. `context` holds words that must not carry the
/// password (the username), as zxcvbn penalises them.
pub fn check_policy(
    password: &str,
    min_length: usize,
    context: &[&str],
) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < min_length {
        return Err(PasswordError::TooShort { min: min_length });
    }
    if chars > MAX_LENGTH {
        return Err(PasswordError::TooLong { max: MAX_LENGTH });
    }
    let letters: String = password
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if LOCAL_DENYLIST.iter().any(|w| letters == *w) {
        return Err(PasswordError::TooWeak);
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    if (estimate.score() as u8) < 3 {
        return Err(PasswordError::TooWeak);
    }
    Ok(())
}

/// Hashes `password` with Argon2id at `cost`, salted with the caller's 16 random bytes
/// (this crate does no I/O, so it cannot draw them). Returns a PHC string.
pub fn hash(password: &str, cost: Argon2Cost, salt: &[u8; 16]) -> Result<String, PasswordError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()?);
    let salt = SaltString::encode_b64(salt).map_err(|_| PasswordError::BadHash)?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::BadHash)
}

/// True when `password` matches the stored PHC string (its own parameters are used, so hashes
/// made under an older cost keep verifying). The comparison is constant-time inside argon2.
pub fn verify(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::BadHash)?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when the account does not exist, so that an unknown name costs the
/// same time as a wrong password and the answer reveals nothing.
pub fn decoy_hash(cost: Argon2Cost) -> Result<String, PasswordError> {
    hash("decoy password never matches", cost, &[0x5a; 16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Cost {
        Argon2Cost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let h = hash("correct horse battery staple", cheap(), &[1; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(verify("correct horse battery staple", &h).unwrap());
        assert!(!verify("correct horse battery stapler", &h).unwrap());
        assert_eq!(verify("x", "not a phc string"), Err(PasswordError::BadHash));
    }

    #[test]
    fn policy_refuses_short_common_and_local_words() {
        assert_eq!(
            check_policy("short", 12, &[]),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert_eq!(
            check_policy("password1234", 12, &[]),
            Err(PasswordError::TooWeak)
        );
        assert_eq!(
            check_policy("Hospital2024!", 12, &[]),
            Err(PasswordError::TooWeak)
        );
        assert_eq!(
            check_policy("qwertyuiop123", 12, &[]),
            Err(PasswordError::TooWeak)
        );
        assert_eq!(
            check_policy(&"a".repeat(300), 12, &[]),
            Err(PasswordError::TooLong { max: MAX_LENGTH })
        );
        assert!(check_policy("violet-tractor-mosaic-41", 12, &[]).is_ok());
    }

    #[test]
    fn the_username_does_not_make_a_password() {
        assert_eq!(
            check_policy("dr.jane.smith.2", 12, &["dr.jane.smith"]),
            Err(PasswordError::TooWeak)
        );
    }

    #[test]
    fn a_bad_cost_is_named() {
        let bad = Argon2Cost {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        };
        assert!(matches!(bad.params(), Err(PasswordError::BadCost(_))));
    }

    #[test]
    fn the_decoy_never_matches_a_real_attempt() {
        let d = decoy_hash(cheap()).unwrap();
        assert!(!verify("hunter2", &d).unwrap());
    }
}
