//! The bookkeeping behind the connection limits: who may connect (total and per-IP caps),
//! how long a connection may stay (handshake and idle deadlines), how the accept loop backs off
//! when the process runs out of file descriptors, and warnings that cannot flood the log.

use crate::limits::ConnectionLimits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Counts open connections, in total and per source address, and refuses those over the caps.
pub struct ConnectionTracker {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TotalCap,
    PerIpCap,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TotalCap => "connections.max_connections",
            Refusal::PerIpCap => "connections.max_connections_per_ip",
        }
    }
}

/// One admitted connection; frees its slot when dropped.
pub struct Admitted {
    tracker: Arc<ConnectionTracker>,
    ip: IpAddr,
}

impl ConnectionTracker {
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            open: Mutex::new(Counts::default()),
        })
    }

    /// Admits a connection from `ip`, or says which cap it would exceed.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err(Refusal::TotalCap);
        }
        let from_ip = open.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIpCap);
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Admitted {
            tracker: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.tracker.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Exponential back-off for a failing `accept` (EMFILE, ENFILE, ENOBUFS): without it the loop
/// spins, retrying a call that fails until a descriptor frees, and floods the log.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u32,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl AcceptBackoff {
    /// The pause after one more consecutive failure: 5 ms, doubling, at most 1 s.
    pub fn next_delay(&mut self) -> Duration {
        let delay = BACKOFF_FIRST
            .saturating_mul(1u32 << self.failures.min(16))
            .min(BACKOFF_MAX);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// An accept succeeded: the next failure starts over at the shortest pause.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Lets one warning through per period and counts the ones held back, so an attacker who can
/// trigger a warning cannot fill the disk with it.
#[derive(Debug)]
pub struct WarnThrottle {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnThrottle {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(suppressed since the last line)` if a line may be logged now, else `None`.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.period => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// What a connection has done, shared between its request service and its watchdog.
pub struct Activity {
    origin: Instant,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds after `origin` when the connection last became idle.
    idle_since_ms: AtomicU64,
}

/// A request in flight; marks the connection idle again when the response is fully sent
/// (it travels with the response body, which hyper drops when done with it).
pub struct InFlight(Arc<Activity>);

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            accepted_at: self.origin,
            requests: self.requests.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            idle_since: self.origin
                + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst)),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = self.0.origin.elapsed().as_millis() as u64;
        // Idle time is stamped before the count drops, so a watchdog that sees no request in
        // flight also sees when the last one ended.
        self.0.idle_since_ms.fetch_max(ms, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection's activity at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub accepted_at: Instant,
    pub requests: u64,
    pub in_flight: usize,
    pub idle_since: Instant,
}

/// What the watchdog does with a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep serving; look again at this instant.
    Serve { recheck_at: Instant },
    /// Close now: no request was ever completed in time (silent or slow client).
    Abort,
    /// Nothing in flight and idle too long (or shutting down): close after a short linger.
    Retire,
    /// Shutting down with requests in flight: refuse new requests, let these finish.
    Drain,
}

/// Decides a connection's fate from its activity (pure, so the rules are unit-tested).
pub fn decide(
    now: Instant,
    s: Snapshot,
    shutting_down: bool,
    limits: &ConnectionLimits,
) -> Verdict {
    let first_request_by = s.accepted_at + limits.handshake_timeout();
    if s.requests == 0 && now >= first_request_by {
        return Verdict::Abort;
    }
    if s.in_flight > 0 {
        if shutting_down {
            return Verdict::Drain;
        }
        // The idle clock starts only when the last request ends; look again later.
        return Verdict::Serve {
            recheck_at: now + limits.idle_timeout(),
        };
    }
    if shutting_down {
        return Verdict::Retire;
    }
    let idle_until = s.idle_since + limits.idle_timeout();
    if now >= idle_until {
        return Verdict::Retire;
    }
    let recheck_at = if s.requests == 0 {
        idle_until.min(first_request_by)
    } else {
        idle_until
    };
    Verdict::Serve { recheck_at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 3,
            max_connections_per_ip: 2,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 60,
            ..Default::default()
        }
    }

    #[test]
    fn caps_apply_in_total_and_per_address_and_free_on_drop() {
        let t = ConnectionTracker::new(&limits());
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let a1 = t.admit(a).unwrap();
        let _a2 = t.admit(a).unwrap();
        assert_eq!(t.admit(a).err(), Some(Refusal::PerIpCap));
        let _b1 = t.admit(b).unwrap();
        assert_eq!(t.admit(b).err(), Some(Refusal::TotalCap));
        assert_eq!(t.open(), 3);
        drop(a1);
        assert_eq!(t.open(), 2);
        let _a3 = t.admit(a).unwrap();
    }

    #[test]
    fn backoff_doubles_to_one_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let ms: Vec<u128> = (0..12).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            ms,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
        for _ in 0..100 {
            assert_eq!(b.next_delay(), BACKOFF_MAX);
        }
        b.reset();
        assert_eq!(b.next_delay(), BACKOFF_FIRST);
    }

    #[test]
    fn throttle_lets_one_line_per_period_and_counts_the_rest() {
        let mut t = WarnThrottle::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(t.allow(t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(t.allow(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.allow(t0 + Duration::from_secs(5)), Some(1000));
        assert_eq!(t.allow(t0 + Duration::from_secs(6)), None);
    }

    #[test]
    fn silent_connections_are_aborted_after_the_handshake_timeout() {
        let l = limits();
        let t0 = Instant::now();
        let silent = Snapshot {
            accepted_at: t0,
            requests: 0,
            in_flight: 0,
            idle_since: t0,
        };
        assert_eq!(
            decide(t0, silent, false, &l),
            Verdict::Serve {
                recheck_at: t0 + Duration::from_secs(10)
            }
        );
        assert_eq!(
            decide(t0 + Duration::from_secs(10), silent, false, &l),
            Verdict::Abort
        );
    }

    #[test]
    fn idle_connections_retire_and_busy_ones_are_left_alone() {
        let l = limits();
        let t0 = Instant::now();
        let used = Snapshot {
            accepted_at: t0,
            requests: 3,
            in_flight: 0,
            idle_since: t0 + Duration::from_secs(30),
        };
        assert_eq!(
            decide(t0 + Duration::from_secs(40), used, false, &l),
            Verdict::Serve {
                recheck_at: t0 + Duration::from_secs(90)
            }
        );
        assert_eq!(
            decide(t0 + Duration::from_secs(90), used, false, &l),
            Verdict::Retire
        );
        let busy = Snapshot {
            in_flight: 1,
            ..used
        };
        let late = t0 + Duration::from_secs(500);
        assert!(matches!(
            decide(late, busy, false, &l),
            Verdict::Serve { .. }
        ));
    }

    #[test]
    fn shutdown_retires_idle_connections_at_once_and_drains_busy_ones() {
        let l = limits();
        let t0 = Instant::now();
        let idle = Snapshot {
            accepted_at: t0,
            requests: 1,
            in_flight: 0,
            idle_since: t0,
        };
        assert_eq!(decide(t0, idle, true, &l), Verdict::Retire);
        let busy = Snapshot {
            in_flight: 2,
            ..idle
        };
        assert_eq!(decide(t0, busy, true, &l), Verdict::Drain);
        let never_asked = Snapshot {
            requests: 0,
            ..idle
        };
        assert_eq!(decide(t0, never_asked, true, &l), Verdict::Retire);
    }

    #[test]
    fn in_flight_guard_marks_the_connection_idle_when_dropped() {
        let a = Activity::new();
        let g = a.begin();
        assert_eq!(a.snapshot().in_flight, 1);
        assert_eq!(a.snapshot().requests, 1);
        drop(g);
        let s = a.snapshot();
        assert_eq!(s.in_flight, 0);
        assert!(s.idle_since >= s.accepted_at);
    }
}
