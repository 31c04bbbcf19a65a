//! Sessions of people: token format, the CSRF token bound to it, and the timeout rules
//! (idle and absolute, 164.312(a)(2)(iii) automatic logoff) that both stores apply alike.
//!
//! A session token is `hps_` and 256 random bits; only its SHA-256 is stored (like API keys:
//! nothing to brute-force, cheap to check on every request).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "hps_";
pub const RANDOM_BYTES: usize = 32;

/// A new session token (shown once, to its holder) and the hash the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedSession {
    pub token: String,
    pub token_hash: [u8; 32],
}

pub fn mint(random: &[u8; RANDOM_BYTES]) -> MintedSession {
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    MintedSession {
        token_hash: hash(&token),
        token,
    }
}

/// The stored hash of a presented token, if it has the session token's shape.
pub fn parse(token: &str) -> Option<[u8; 32]> {
    let secret = token.strip_prefix(PREFIX)?;
    let ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| hash(token))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The CSRF token of a session: derived from the session token, which a cross-site page cannot
/// read (the cookie is HttpOnly), so it cannot compute this either. Sent back in
/// `X-CSRF-Token` on every state-changing request made with the cookie.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hippo csrf v1\0");
    h.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Session lifetimes, from `[auth]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Timeouts {
    /// How stale `last_seen` may get before a request writes it again. Writing it on every
    /// request would make every read a write; a fifteenth of the idle timeout (at most a
    /// minute) bounds how much earlier than exact an idle session may end.
    pub fn touch_every_ms(&self) -> i64 {
        (self.idle_ms / 15).clamp(1_000, 60_000)
    }
}

/// What a request finds when it presents a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable; `touch` says `last_seen` should be written now.
    Active {
        touch: bool,
        idle_expires_at_ms: i64,
        absolute_expires_at_ms: i64,
    },
    IdleExpired,
    AbsoluteExpired,
    Revoked,
}

/// Decides a session's state at `now_ms` (an injected clock: tests need no sleeping).
pub fn evaluate(
    created_at_ms: i64,
    last_seen_ms: i64,
    revoked: bool,
    now_ms: i64,
    t: Timeouts,
) -> SessionState {
    let absolute = created_at_ms.saturating_add(t.absolute_ms);
    let idle = last_seen_ms.saturating_add(t.idle_ms);
    if revoked {
        SessionState::Revoked
    } else if now_ms >= absolute {
        SessionState::AbsoluteExpired
    } else if now_ms >= idle {
        SessionState::IdleExpired
    } else {
        SessionState::Active {
            touch: now_ms - last_seen_ms >= t.touch_every_ms(),
            idle_expires_at_ms: idle.min(absolute),
            absolute_expires_at_ms: absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: Timeouts = Timeouts {
        idle_ms: 15 * 60_000,
        absolute_ms: 12 * 3_600_000,
    };

    #[test]
    fn tokens_parse_to_their_hash_and_nothing_else_does() {
        let s = mint(&[9; RANDOM_BYTES]);
        assert_eq!(parse(&s.token), Some(s.token_hash));
        assert_eq!(parse("hpk_0011223344556677_abc"), None);
        assert_eq!(parse(&s.token[..s.token.len() - 1]), None);
        assert_ne!(csrf_token(&s.token), csrf_token(&mint(&[8; 32]).token));
    }

    #[test]
    fn idle_timeout_ends_a_quiet_session() {
        let t0 = 1_000_000;
        assert!(matches!(
            evaluate(t0, t0, false, t0 + 14 * 60_000, T),
            SessionState::Active { .. }
        ));
        assert_eq!(
            evaluate(t0, t0, false, t0 + 15 * 60_000, T),
            SessionState::IdleExpired
        );
    }

    #[test]
    fn absolute_timeout_ends_even_a_busy_session() {
        let t0 = 1_000_000;
        let now = t0 + 12 * 3_600_000;
        assert_eq!(
            evaluate(t0, now - 1, false, now, T),
            SessionState::AbsoluteExpired
        );
        assert!(matches!(
            evaluate(t0, now - 2, false, now - 1, T),
            SessionState::Active { .. }
        ));
    }

    #[test]
    fn revoked_wins_and_touch_is_rate_limited() {
        assert_eq!(evaluate(0, 0, true, 1, T), SessionState::Revoked);
        let SessionState::Active { touch, .. } = evaluate(0, 0, false, 59_999, T) else {
            panic!()
        };
        assert!(!touch);
        let SessionState::Active { touch, .. } = evaluate(0, 0, false, 60_000, T) else {
            panic!()
        };
        assert!(touch);
    }

    proptest! {
        #[test]
        fn an_active_session_never_outlives_either_limit(c in 0i64..1_000_000_000, seen in 0i64..100_000_000, now in 0i64..2_000_000_000) {
            let last = c + seen;
            if let SessionState::Active { idle_expires_at_ms, absolute_expires_at_ms, .. } = evaluate(c, last, false, now, T) {
                prop_assert!(now < absolute_expires_at_ms && now < idle_expires_at_ms);
                prop_assert!(absolute_expires_at_ms - c == T.absolute_ms);
            }
        }

        #[test]
        fn parse_never_panics(s in ".{0,60}") { let _ = parse(&s); }
    }
}
