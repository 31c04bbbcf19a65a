//! Sign-in throttling: after a few free failures, each further failure locks the account (or
//! source address) for twice as long as the last, up to a ceiling; both stores keep the
//! counters, this decides the lock.

use serde::{Deserialize, Serialize};

/// From `[auth]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first lock.
    pub free_failures: u32,
    /// The first lock, in seconds; each further failure doubles it.
    pub first_lock_secs: u32,
    /// The longest lock, in seconds (a temporary lockout, never a permanent one: a permanent
    /// lock would let anyone lock a clinician out during a shift).
    pub max_lock_secs: u32,
    /// Failures from one source address (any accounts) allowed before it is locked too.
    pub free_failures_per_source: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_lock_secs: 2,
            max_lock_secs: 900,
            free_failures_per_source: 50,
        }
    }
}

/// Whose failures a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Account,
    Source,
}

impl ThrottlePolicy {
    /// How long to lock after the `failures`-th consecutive failure (0: not locked).
    pub fn lock_ms(&self, scope: ThrottleScope, failures: u32) -> i64 {
        let free = match scope {
            ThrottleScope::Account => self.free_failures,
            ThrottleScope::Source => self.free_failures_per_source,
        };
        if failures <= free {
            return 0;
        }
        let doublings = (failures - free - 1).min(30);
        let secs = u64::from(self.first_lock_secs).saturating_mul(1u64 << doublings);
        secs.min(u64::from(self.max_lock_secs)) as i64 * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_a_ceiling() {
        let p = ThrottlePolicy::default();
        let locks: Vec<i64> = (1..=16)
            .map(|n| p.lock_ms(ThrottleScope::Account, n))
            .collect();
        assert_eq!(&locks[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(&locks[5..10], &[2_000, 4_000, 8_000, 16_000, 32_000]);
        assert_eq!(locks[15], 900_000);
        assert_eq!(p.lock_ms(ThrottleScope::Account, u32::MAX), 900_000);
        assert_eq!(p.lock_ms(ThrottleScope::Source, 50), 0);
        assert_eq!(p.lock_ms(ThrottleScope::Source, 51), 2_000);
    }
}
