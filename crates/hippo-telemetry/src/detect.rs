//! Security-event detectors, pure: signals in (with the time), alerts out. Sliding windows per
//! (detector, key), deduplication of the same alert within a window, a global rate limit, and
//! a bound on the keys tracked, so a flood of distinct keys cannot exhaust memory.
//!
//! Hand-written rather than a rules engine: seven fixed detectors over counters are a few
//! dozen lines, and keeping them pure lets the tests drive time instead of sleeping.

use hippo_core::LogId;
use hippo_proto::ops::{AlertKind, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Thresholds of the detectors (`[alerts]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorSettings {
    /// Failed sign-ins against one account, or from one source address, that raise a
    /// brute-force alert within `brute_force_window_secs`.
    pub brute_force_failures: u64,
    pub brute_force_window_secs: u64,
    /// Records one principal may read within `read_volume_window_secs` before an
    /// unusual-volume alert (set it above your busiest legitimate integration).
    pub read_volume_records: u64,
    pub read_volume_window_secs: u64,
    /// Denied requests of one tenant within `denial_window_secs` that raise a denial spike.
    pub denials: u64,
    pub denial_window_secs: u64,
    /// A growing log with no signed tree head for this many seconds raises an alert.
    pub tree_head_stale_secs: u64,
    /// The same alert (detector and key) is not raised again within this many seconds.
    pub dedup_secs: u64,
    /// At most this many alerts per minute in all; the rest are counted as suppressed.
    pub max_per_minute: u32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            brute_force_failures: 10,
            brute_force_window_secs: 300,
            read_volume_records: 2000,
            read_volume_window_secs: 300,
            denials: 50,
            denial_window_secs: 60,
            tree_head_stale_secs: 900,
            dedup_secs: 900,
            max_per_minute: 30,
        }
    }
}

/// Something that happened, as the detectors see it: ids only.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A failed sign-in step. `account` identifies the account (its user id, or a keyed hash
    /// of the typed name when no such account exists); `source` the client address. Both are
    /// counted; crossing either threshold raises one alert (keyed by what crossed).
    SignInFailed {
        tenant: Option<String>,
        account: String,
        source: Option<String>,
    },
    BreakGlassOpened {
        tenant: String,
        user: String,
    },
    /// `records` records were returned to `principal`.
    RecordsRead {
        tenant: String,
        principal: String,
        records: u64,
    },
    Denied {
        tenant: String,
    },
    /// An export run to `sink` (its description: a directory or `s3://bucket/prefix`) failed.
    ExportFailed {
        sink: String,
    },
    VerificationFailed {
        log: LogId,
    },
    /// The newest head of `log` is `age_secs` old while the log has grown since.
    TreeHeadAge {
        log: LogId,
        age_secs: u64,
    },
}

/// What a detector decided to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    pub kind: AlertKind,
    pub severity: Severity,
    pub tenant: Option<String>,
    pub key: String,
    pub count: u64,
    pub window_secs: u64,
    pub summary: String,
}

/// The result of one observation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Quiet,
    Raise(Raised),
    /// The detector fired but the same alert was raised recently, or the rate limit is
    /// reached: counted, not sent.
    Suppressed(AlertKind),
}

/// Most (detector, key) windows tracked at once; the least recently touched go first.
const MAX_KEYS: usize = 10_000;

struct Window {
    /// (second, count) buckets inside the window, oldest first.
    buckets: VecDeque<(u64, u64)>,
    total: u64,
    touched_ms: i64,
}

impl Window {
    fn add(&mut self, now_s: u64, n: u64, window_secs: u64) -> u64 {
        while let Some(&(s, c)) = self.buckets.front() {
            if s + window_secs > now_s {
                break;
            }
            self.total -= c;
            self.buckets.pop_front();
        }
        match self.buckets.back_mut() {
            Some((s, c)) if *s == now_s => *c += n,
            _ => self.buckets.push_back((now_s, n)),
        }
        self.total += n;
        self.total
    }
}

pub struct Detector {
    settings: DetectorSettings,
    windows: HashMap<(AlertKind, String), Window>,
    last_raised: HashMap<(AlertKind, String), i64>,
    recent: VecDeque<i64>,
}

impl Detector {
    pub fn new(settings: DetectorSettings) -> Self {
        Self {
            settings,
            windows: HashMap::new(),
            last_raised: HashMap::new(),
            recent: VecDeque::new(),
        }
    }

    pub fn settings(&self) -> &DetectorSettings {
        &self.settings
    }

    /// Feeds one signal at `now_ms`.
    pub fn observe(&mut self, signal: Signal, now_ms: i64) -> Verdict {
        let st = self.settings;
        let candidate = match signal {
            Signal::SignInFailed {
                tenant,
                account,
                source,
            } => {
                let summary = "failed sign-ins crossed the brute-force threshold; check the source and consider disabling the account";
                let by_account = self.count(
                    AlertKind::BruteForce,
                    tenant.clone(),
                    account.clone(),
                    1,
                    st.brute_force_failures,
                    st.brute_force_window_secs,
                    now_ms,
                    summary,
                );
                let by_source = source.and_then(|src| {
                    self.count(
                        AlertKind::BruteForce,
                        tenant,
                        src,
                        1,
                        st.brute_force_failures,
                        st.brute_force_window_secs,
                        now_ms,
                        summary,
                    )
                });
                // One attack, one alert: when both cross together, the account names it,
                // and the source's count starts afresh with it.
                match (by_account, by_source) {
                    (Some(a), Some(_)) => Some(a),
                    (a, b) => a.or(b),
                }
            }
            Signal::RecordsRead {
                tenant,
                principal,
                records,
            } => self.count(
                AlertKind::UnusualReadVolume,
                Some(tenant),
                principal,
                records,
                st.read_volume_records,
                st.read_volume_window_secs,
                now_ms,
                "one principal read an unusual number of records; review its access in the audit log",
            ),
            Signal::Denied { tenant } => self.count(
                AlertKind::DenialSpike,
                Some(tenant.clone()),
                tenant,
                1,
                st.denials,
                st.denial_window_secs,
                now_ms,
                "many requests of this tenant were denied; look for a probing client or a broken role assignment",
            ),
            Signal::BreakGlassOpened { tenant, user } => Some(Raised {
                kind: AlertKind::BreakGlass,
                severity: Severity::Warning,
                tenant: Some(tenant),
                key: user,
                count: 1,
                window_secs: 0,
                summary: "an emergency (break-glass) elevation was opened; review it (GET /v1/audit?action=breakglass.open)".into(),
            }),
            Signal::ExportFailed { sink } => Some(Raised {
                kind: AlertKind::ExportFailed,
                severity: Severity::Critical,
                tenant: None,
                key: sink,
                count: 1,
                window_secs: 0,
                summary: "the audit export failed; it is retried, but the immutable copy is falling behind".into(),
            }),
            Signal::VerificationFailed { log } => Some(single(
                AlertKind::VerificationFailed,
                log,
                "an audit log failed verification; run `hippo audit verify` and start incident response",
            )),
            Signal::TreeHeadAge { log, age_secs } => {
                (age_secs >= st.tree_head_stale_secs).then(|| Raised {
                    count: age_secs,
                    window_secs: st.tree_head_stale_secs,
                    ..single(
                        AlertKind::TreeHeadSigningStopped,
                        log,
                        "no tree head was signed for a growing audit log; check the signing job and the keyring",
                    )
                })
            }
        };
        let Some(raised) = candidate else {
            return Verdict::Quiet;
        };
        self.admit(raised, now_ms)
    }

    #[allow(clippy::too_many_arguments)]
    fn count(
        &mut self,
        kind: AlertKind,
        tenant: Option<String>,
        key: String,
        n: u64,
        threshold: u64,
        window_secs: u64,
        now_ms: i64,
        summary: &str,
    ) -> Option<Raised> {
        let id = (kind, key.clone());
        if !self.windows.contains_key(&id) && self.windows.len() >= MAX_KEYS {
            self.evict_oldest();
        }
        let w = self.windows.entry(id.clone()).or_insert(Window {
            buckets: VecDeque::new(),
            total: 0,
            touched_ms: now_ms,
        });
        w.touched_ms = now_ms;
        let total = w.add((now_ms.max(0) / 1000) as u64, n, window_secs.max(1));
        if total < threshold {
            return None;
        }
        // Fired: start counting afresh, so a continuing attack raises again only after
        // another full threshold (and the deduplication window).
        self.windows.remove(&id);
        Some(Raised {
            kind,
            severity: Severity::Critical,
            tenant,
            key,
            count: total,
            window_secs,
            summary: summary.into(),
        })
    }

    fn evict_oldest(&mut self) {
        if let Some(oldest) = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.touched_ms)
            .map(|(k, _)| k.clone())
        {
            self.windows.remove(&oldest);
        }
    }

    fn admit(&mut self, raised: Raised, now_ms: i64) -> Verdict {
        let id = (raised.kind, raised.key.clone());
        let dedup_ms = self.settings.dedup_secs as i64 * 1000;
        if let Some(last) = self.last_raised.get(&id) {
            if now_ms - last < dedup_ms {
                return Verdict::Suppressed(raised.kind);
            }
        }
        while self.recent.front().is_some_and(|t| now_ms - t >= 60_000) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.settings.max_per_minute as usize {
            return Verdict::Suppressed(raised.kind);
        }
        self.recent.push_back(now_ms);
        if self.last_raised.len() >= MAX_KEYS {
            self.last_raised.retain(|_, t| now_ms - *t < dedup_ms);
        }
        self.last_raised.insert(id, now_ms);
        Verdict::Raise(raised)
    }
}

fn single(kind: AlertKind, log: LogId, summary: &str) -> Raised {
    Raised {
        kind,
        severity: Severity::Critical,
        tenant: log.tenant().map(|t| t.as_str().to_owned()),
        key: log.as_str().to_owned(),
        count: 1,
        window_secs: 0,
        summary: summary.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DetectorSettings {
        DetectorSettings {
            brute_force_failures: 5,
            brute_force_window_secs: 60,
            read_volume_records: 100,
            read_volume_window_secs: 60,
            denials: 3,
            denial_window_secs: 10,
            tree_head_stale_secs: 300,
            dedup_secs: 600,
            max_per_minute: 2,
        }
    }

    fn failed(key: &str) -> Signal {
        Signal::SignInFailed {
            tenant: Some("t1".into()),
            account: key.into(),
            source: None,
        }
    }

    #[test]
    fn one_account_from_one_source_raises_one_alert_and_spraying_is_seen_by_source() {
        let mut d = Detector::new(settings());
        let from = |account: &str| Signal::SignInFailed {
            tenant: None,
            account: account.into(),
            source: Some("source:10.0.0.9".into()),
        };
        let raised: Vec<_> = (0..5)
            .map(|i| d.observe(from("user:u1"), i))
            .filter(|v| matches!(v, Verdict::Raise(_)))
            .collect();
        assert_eq!(
            raised.len(),
            1,
            "both windows cross at the fifth failure: one alert"
        );
        let mut d = Detector::new(settings());
        let mut keys = Vec::new();
        for i in 0..5 {
            if let Verdict::Raise(r) = d.observe(from(&format!("user:u{i}")), i) {
                keys.push(r.key);
            }
        }
        assert_eq!(keys, vec!["source:10.0.0.9".to_owned()]);
    }

    #[test]
    fn brute_force_fires_at_the_threshold_once_then_deduplicates() {
        let mut d = Detector::new(settings());
        for i in 0..4 {
            assert_eq!(d.observe(failed("u1"), i * 1000), Verdict::Quiet);
        }
        let Verdict::Raise(r) = d.observe(failed("u1"), 4000) else {
            panic!("the fifth failure must raise");
        };
        assert_eq!(
            (r.kind, r.count, r.key.as_str()),
            (AlertKind::BruteForce, 5, "u1")
        );
        for i in 0..5 {
            let v = d.observe(failed("u1"), 5000 + i * 1000);
            assert!(matches!(v, Verdict::Quiet | Verdict::Suppressed(_)));
        }
        // After the deduplication window, a new burst raises again.
        for i in 0..4 {
            assert_eq!(d.observe(failed("u1"), 700_000 + i), Verdict::Quiet);
        }
        assert!(matches!(
            d.observe(failed("u1"), 700_010),
            Verdict::Raise(_)
        ));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_fire() {
        let mut d = Detector::new(settings());
        for i in 0..50 {
            // One failure every 20 s: at most 3 in any 60 s window.
            assert_eq!(d.observe(failed("u1"), i * 20_000), Verdict::Quiet);
        }
    }

    #[test]
    fn each_key_counts_alone() {
        let mut d = Detector::new(settings());
        for i in 0..40 {
            let key = format!("u{}", i % 10);
            assert_eq!(d.observe(failed(&key), i * 10), Verdict::Quiet);
        }
    }

    #[test]
    fn read_volume_counts_records_not_requests() {
        let mut d = Detector::new(settings());
        let read = |n| Signal::RecordsRead {
            tenant: "t1".into(),
            principal: "key-1".into(),
            records: n,
        };
        assert_eq!(d.observe(read(60), 0), Verdict::Quiet);
        assert!(matches!(d.observe(read(40), 1000), Verdict::Raise(r) if r.count == 100));
    }

    #[test]
    fn the_rate_limit_caps_alerts_per_minute() {
        let mut d = Detector::new(settings());
        let bg = |u: &str| Signal::BreakGlassOpened {
            tenant: "t1".into(),
            user: u.into(),
        };
        assert!(matches!(d.observe(bg("a"), 0), Verdict::Raise(_)));
        assert!(matches!(d.observe(bg("b"), 1), Verdict::Raise(_)));
        assert_eq!(
            d.observe(bg("c"), 2),
            Verdict::Suppressed(AlertKind::BreakGlass)
        );
        assert!(matches!(d.observe(bg("d"), 60_010), Verdict::Raise(_)));
    }

    #[test]
    fn tree_head_age_fires_only_past_the_limit() {
        let mut d = Detector::new(settings());
        let log: LogId = "t1".parse().expect("a tenant log");
        let age = |s| Signal::TreeHeadAge {
            log: log.clone(),
            age_secs: s,
        };
        assert_eq!(d.observe(age(299), 0), Verdict::Quiet);
        let Verdict::Raise(r) = d.observe(age(301), 1) else {
            panic!("a stale head must raise");
        };
        assert_eq!(r.tenant.as_deref(), Some("t1"));
    }

    #[test]
    fn tracked_keys_stay_bounded() {
        let mut d = Detector::new(DetectorSettings {
            brute_force_failures: u64::MAX,
            ..settings()
        });
        for i in 0..(MAX_KEYS as i64 + 500) {
            d.observe(failed(&format!("k{i}")), i);
        }
        assert!(d.windows.len() <= MAX_KEYS);
    }
}
