//! Process-wide store figures for the metrics endpoint: group-commit batch sizes and durations
//! per store kind, and PostgreSQL errors by class. Counts only, never a value.
//!
//! Plain atomics rather than a metrics library: the store stays free of exposition concerns,
//! and the server's metrics registry reads a [`StoreFigures`] snapshot at scrape time.

use crate::StoreKind;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the batch-size buckets (jobs per group commit); the last is +Inf.
pub const BATCH_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/// Upper bounds of the commit-duration buckets, in seconds.
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Why a database call failed, as a bounded label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbErrorClass {
    /// The database is unreachable, overloaded or shut down (retry later).
    Unavailable,
    /// A statement was refused (constraint, syntax, permission).
    Refused,
}

impl DbErrorClass {
    pub const ALL: [DbErrorClass; 2] = [DbErrorClass::Unavailable, DbErrorClass::Refused];
    pub fn as_str(self) -> &'static str {
        match self {
            DbErrorClass::Unavailable => "unavailable",
            DbErrorClass::Refused => "refused",
        }
    }
}

struct KindStats {
    batches: AtomicU64,
    jobs: AtomicU64,
    size_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    commit_micros: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_SECONDS_BUCKETS.len()],
    failed_batches: AtomicU64,
}

impl KindStats {
    const fn new() -> Self {
        Self {
            batches: AtomicU64::new(0),
            jobs: AtomicU64::new(0),
            size_buckets: [const { AtomicU64::new(0) }; BATCH_BUCKETS.len()],
            commit_micros: AtomicU64::new(0),
            commit_buckets: [const { AtomicU64::new(0) }; COMMIT_SECONDS_BUCKETS.len()],
            failed_batches: AtomicU64::new(0),
        }
    }
}

static SQLITE: KindStats = KindStats::new();
static POSTGRES: KindStats = KindStats::new();
static PG_ERRORS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

fn of(kind: StoreKind) -> &'static KindStats {
    match kind {
        StoreKind::Sqlite => &SQLITE,
        StoreKind::Postgres => &POSTGRES,
    }
}

/// Notes one group commit of `jobs` operations that took `took` and ended `ok` or not.
pub fn batch_committed(kind: StoreKind, jobs: usize, took: Duration, ok: bool) {
    record(of(kind), jobs, took, ok);
}

fn record(s: &KindStats, jobs: usize, took: Duration, ok: bool) {
    s.batches.fetch_add(1, Relaxed);
    s.jobs.fetch_add(jobs as u64, Relaxed);
    if let Some(i) = BATCH_BUCKETS.iter().position(|b| jobs as u64 <= *b) {
        s.size_buckets[i].fetch_add(1, Relaxed);
    }
    let secs = took.as_secs_f64();
    s.commit_micros.fetch_add(took.as_micros() as u64, Relaxed);
    if let Some(i) = COMMIT_SECONDS_BUCKETS.iter().position(|b| secs <= *b) {
        s.commit_buckets[i].fetch_add(1, Relaxed);
    }
    if !ok {
        s.failed_batches.fetch_add(1, Relaxed);
    }
}

/// Notes one failed PostgreSQL call.
pub fn postgres_error(class: DbErrorClass) {
    PG_ERRORS[class as usize].fetch_add(1, Relaxed);
}

/// One store kind's group-commit figures, buckets not cumulative.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchFigures {
    pub batches: u64,
    pub jobs: u64,
    /// Batches per size bucket of [`BATCH_BUCKETS`] (larger batches are in `batches` only).
    pub size_buckets: Vec<u64>,
    pub commit_seconds_sum: f64,
    /// Batches per duration bucket of [`COMMIT_SECONDS_BUCKETS`].
    pub commit_buckets: Vec<u64>,
    pub failed_batches: u64,
}

/// A snapshot of every figure, read at scrape time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreFigures {
    pub sqlite: BatchFigures,
    pub postgres: BatchFigures,
    /// PostgreSQL errors by [`DbErrorClass`] (same order as `DbErrorClass::ALL`).
    pub postgres_errors: [u64; 2],
}

impl StoreFigures {
    pub fn batches(&self, kind: StoreKind) -> &BatchFigures {
        match kind {
            StoreKind::Sqlite => &self.sqlite,
            StoreKind::Postgres => &self.postgres,
        }
    }
}

fn read(s: &KindStats) -> BatchFigures {
    BatchFigures {
        batches: s.batches.load(Relaxed),
        jobs: s.jobs.load(Relaxed),
        size_buckets: s.size_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        commit_seconds_sum: s.commit_micros.load(Relaxed) as f64 / 1e6,
        commit_buckets: s.commit_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        failed_batches: s.failed_batches.load(Relaxed),
    }
}

pub fn snapshot() -> StoreFigures {
    StoreFigures {
        sqlite: read(&SQLITE),
        postgres: read(&POSTGRES),
        postgres_errors: [PG_ERRORS[0].load(Relaxed), PG_ERRORS[1].load(Relaxed)],
    }
}

/// Connection pool occupancy of a store that has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections open now.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_lands_in_the_smallest_bucket_that_holds_it() {
        let s = KindStats::new();
        record(&s, 3, Duration::from_millis(2), true);
        record(&s, 300, Duration::from_secs(2), false);
        let f = read(&s);
        assert_eq!((f.batches, f.jobs, f.failed_batches), (2, 303, 1));
        // 3 jobs: the "4" bucket; 300 jobs: beyond every bound (counted in `batches` only).
        assert_eq!(f.size_buckets, vec![0, 0, 1, 0, 0, 0, 0, 0, 0]);
        // 2 ms: the 0.0025 s bucket; 2 s: beyond every bound.
        assert_eq!(f.commit_buckets, vec![0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert!((f.commit_seconds_sum - 2.002).abs() < 1e-9);
    }
}
