//! Request rate limiting per credential (or per source address when none is presented).

use crate::config::RateLimitConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Limiter {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let rps = NonZeroU32::new(cfg.requests_per_second).expect("validated: rate > 0");
        let burst = NonZeroU32::new(cfg.burst).expect("validated: burst > 0");
        Self {
            inner: RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` if `key` may make a request now, else how many seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        // Keys are API key ids or addresses: never secrets or PHI.
        self.inner
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))
    }

    /// Drops state for idle keys so memory stays bounded.
    pub fn retain_recent(&self) {
        self.inner.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let l = Limiter::new(&RateLimitConfig {
            requests_per_second: 1,
            burst: 2,
        });
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
    }
}
