//! Sign-in throttling state, per instance: consecutive failures per account and per source
//! address, with the back-off of [`ThrottlePolicy`].
//!
//! Kept in memory, not in the store: a lock must be checked before any password work, on every
//! attempt, and losing it on restart only resets the back-off (never a permanent lock). With
//! several instances each keeps its own counters, so an attacker spread across N instances gets
//! at most N times the attempts: documented in docs/security.md. Account names are held only
//! as SHA-256 digests, so this map holds no names.

use hippo_identity::{ThrottlePolicy, ThrottleScope};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept at most; the oldest are dropped beyond it (a flood of made-up names must not
/// exhaust memory).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until_ms: i64,
    last_failure_ms: i64,
}

pub struct SignInThrottle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

fn key(scope: ThrottleScope, value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(match scope {
        ThrottleScope::Account => b"account\0".as_slice(),
        ThrottleScope::Source => b"source\0".as_slice(),
    });
    h.update(value.as_bytes());
    h.finalize().into()
}

impl SignInThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` while the account or the source is locked.
    pub fn check(&self, account: &str, source: &str, now_ms: i64) -> Result<(), u64> {
        let entries = self.entries.lock().expect("throttle lock");
        let until = [
            key(ThrottleScope::Account, account),
            key(ThrottleScope::Source, source),
        ]
        .iter()
        .filter_map(|k| entries.get(k))
        .map(|e| e.locked_until_ms)
        .max()
        .unwrap_or(0);
        if until > now_ms {
            Err(((until - now_ms) as u64).div_ceil(1000).max(1))
        } else {
            Ok(())
        }
    }

    /// Counts a failure against both the account and the source.
    pub fn failure(&self, account: &str, source: &str, now_ms: i64) {
        let mut entries = self.entries.lock().expect("throttle lock");
        // Counters forget after a quiet period twice the longest lock.
        let forget_ms = i64::from(self.policy.max_lock_secs) * 2000;
        for (scope, value) in [
            (ThrottleScope::Account, account),
            (ThrottleScope::Source, source),
        ] {
            let e = entries.entry(key(scope, value)).or_insert(Entry {
                failures: 0,
                locked_until_ms: 0,
                last_failure_ms: now_ms,
            });
            if now_ms - e.last_failure_ms > forget_ms {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last_failure_ms = now_ms;
            let lock = self.policy.lock_ms(scope, e.failures);
            if lock > 0 {
                e.locked_until_ms = now_ms + lock;
            }
        }
        if entries.len() > MAX_ENTRIES {
            entries.retain(|_, e| now_ms - e.last_failure_ms <= forget_ms);
        }
    }

    /// A successful sign-in clears the account's counter (not the source's: one right
    /// password must not wash out a spray of wrong ones against other accounts).
    pub fn success(&self, account: &str) {
        self.entries
            .lock()
            .expect("throttle lock")
            .remove(&key(ThrottleScope::Account, account));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_its_free_failures_and_backs_off() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        let now = 1_000_000;
        for i in 0..5 {
            assert!(t.check("alice", "10.0.0.1", now + i).is_ok());
            t.failure("alice", "10.0.0.1", now + i);
        }
        assert!(
            t.check("alice", "10.0.0.2", now + 5).is_ok(),
            "5 free failures"
        );
        t.failure("alice", "10.0.0.2", now + 5);
        assert_eq!(t.check("alice", "10.0.0.3", now + 6), Err(2));
        assert!(
            t.check("bob", "10.0.0.3", now + 6).is_ok(),
            "other accounts unaffected"
        );
        assert!(
            t.check("alice", "10.0.0.3", now + 2_006).is_ok(),
            "lock is temporary"
        );
        t.failure("alice", "10.0.0.3", now + 2_006);
        assert_eq!(t.check("alice", "10.0.0.3", now + 2_007), Err(4), "doubles");
        t.success("alice");
        assert!(t.check("alice", "10.0.0.9", now + 2_008).is_ok());
    }

    #[test]
    fn a_source_spraying_many_accounts_is_locked() {
        let t = SignInThrottle::new(ThrottlePolicy::default());
        for i in 0..51 {
            t.failure(&format!("user{i}"), "203.0.113.5", 1_000 + i);
        }
        assert!(t.check("someone-new", "203.0.113.5", 1_100).is_err());
        assert!(t.check("someone-new", "203.0.113.6", 1_100).is_ok());
    }
}
