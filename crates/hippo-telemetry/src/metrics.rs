//! The metrics registry: HTTP requests by route template, method and status class with latency
//! histograms; sign-ins and sessions; alerts and their deliveries; build info; and, read at
//! scrape time, the store's group-commit and pool figures.
//!
//! Cardinality is bounded by construction: routes are the router's templates (`/v1/records/{id}`)
//! or `(unmatched)`, methods are the standard ones or `OTHER`, statuses are classes (`2xx`),
//! and every other label is an enum. No label ever carries a value from a request.

use hippo_proto::ops::AlertKind;
use hippo_store::stats::{self, BatchFigures, DbErrorClass, PoolFigures};
use hippo_store::StoreKind;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Request latency buckets, in seconds (1 ms to 10 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub sink: &'static str,
    pub outcome: &'static str,
}

/// How a sign-in step ended, as a bounded label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    Success,
    Failure,
    Throttled,
}

impl SignInOutcome {
    fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::Failure => "failure",
            SignInOutcome::Throttled => "throttled",
        }
    }
}

/// The status class label of an HTTP status code.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Every metric the server exposes; cheap to clone (handles to shared atomics).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    sign_ins: Family<OutcomeLabels, Counter>,
    sessions_issued: Counter,
    alerts: Family<KindLabels, Counter>,
    alerts_suppressed: Family<KindLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// A registry for one server process. `pool` reads the store's pool occupancy at scrape.
    pub fn new(
        version: &str,
        store: StoreKind,
        pool: Arc<dyn Fn() -> Option<PoolFigures> + Send + Sync>,
    ) -> Self {
        let mut r = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        r.register(
            "hippo_http_requests",
            "HTTP requests by route template, method and status class",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        r.register(
            "hippo_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route template and method",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        r.register(
            "hippo_http_requests_in_flight",
            "Requests being handled now",
            in_flight.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        r.register(
            "hippo_sign_ins",
            "Sign-in steps (password, second factor, passkey) by outcome",
            sign_ins.clone(),
        );
        let sessions_issued = Counter::default();
        r.register(
            "hippo_sessions_issued",
            "Sessions issued to people after a complete sign-in",
            sessions_issued.clone(),
        );
        let alerts = Family::<KindLabels, Counter>::default();
        r.register(
            "hippo_security_alerts",
            "Security alerts raised, by detector",
            alerts.clone(),
        );
        let alerts_suppressed = Family::<KindLabels, Counter>::default();
        r.register(
            "hippo_security_alerts_suppressed",
            "Alerts not sent again because the same alert was raised within the deduplication window, or the rate limit was reached",
            alerts_suppressed.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        r.register(
            "hippo_alert_deliveries",
            "Alert deliveries to sinks by outcome (a delivery that needed retries counts once)",
            deliveries.clone(),
        );
        r.register(
            "hippo_build",
            "The running build",
            Info::new(vec![
                ("version", version.to_owned()),
                ("store", store.as_str().to_owned()),
            ]),
        );
        // Pre-create the bounded label sets so dashboards see zeros rather than gaps.
        for o in [
            SignInOutcome::Success,
            SignInOutcome::Failure,
            SignInOutcome::Throttled,
        ] {
            let _ = sign_ins.get_or_create(&OutcomeLabels {
                outcome: o.as_str(),
            });
        }
        for k in AlertKind::ALL {
            let _ = alerts.get_or_create(&KindLabels { kind: k.as_str() });
            let _ = alerts_suppressed.get_or_create(&KindLabels { kind: k.as_str() });
        }
        for sink in ["webhook", "sns"] {
            for outcome in ["delivered", "failed"] {
                let _ = deliveries.get_or_create(&DeliveryLabels { sink, outcome });
            }
        }
        r.register_collector(Box::new(StoreCollector { kind: store, pool }));
        r.register_collector(Box::new(KeyCacheCollector));
        Self {
            registry: Arc::new(r),
            requests,
            latency,
            in_flight,
            sign_ins,
            sessions_issued,
            alerts,
            alerts_suppressed,
            deliveries,
        }
    }

    /// Marks a request as started; the returned guard ends it (and counts it) when dropped
    /// through [`InFlight::finish`].
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight {
            gauge: self.in_flight.clone(),
        }
    }

    /// Counts a finished request. `route` must be a router template, never a raw path.
    pub fn request_finished(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method,
                status: status_class(status),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method,
            })
            .observe(took.as_secs_f64());
    }

    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn session_issued(&self) {
        self.sessions_issued.inc();
    }

    pub fn alert_raised(&self, kind: AlertKind) {
        self.alerts
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    pub fn alert_suppressed(&self, kind: AlertKind) {
        self.alerts_suppressed
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    pub fn alert_delivery(&self, sink: &'static str, delivered: bool) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                sink,
                outcome: if delivered { "delivered" } else { "failed" },
            })
            .inc();
    }

    /// Alerts raised since start, by kind.
    pub fn alerts_by_kind(&self) -> Vec<(AlertKind, u64)> {
        AlertKind::ALL
            .into_iter()
            .map(|k| {
                let n = self
                    .alerts
                    .get_or_create(&KindLabels { kind: k.as_str() })
                    .get();
                (k, n)
            })
            .collect()
    }

    /// The exposition of every process-wide metric (text format, without `# EOF`, so the
    /// server can append the caller's per-log gauges before ending it).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Decrements the in-flight gauge when the request ends, however it ends.
pub struct InFlight {
    gauge: Gauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Reads the document data-key cache's figures at scrape time.
#[derive(Debug)]
struct KeyCacheCollector;

impl Collector for KeyCacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let f = hippo_docs::provider::cache_figures::snapshot();
        let mut m = encoder.encode_descriptor(
            "hippo_key_cache_lookups",
            "Lookups of unwrapped document data keys in the cache, by result (hit; miss: unwrapped by the key provider; expired: held past the time limit)",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [("hit", f.hits), ("miss", f.misses), ("expired", f.expired)] {
            m.encode_family(&[("result", result)])?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
        let mut m = encoder.encode_descriptor(
            "hippo_key_cache_entries",
            "Unwrapped document data keys held in memory now",
            None,
            MetricType::Gauge,
        )?;
        m.encode_family(&[("cache", "documents")])?
            .encode_gauge(&f.entries)?;
        Ok(())
    }
}

/// Reads the store's figures at scrape time.
struct StoreCollector {
    kind: StoreKind,
    pool: Arc<dyn Fn() -> Option<PoolFigures> + Send + Sync>,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector")
            .field("kind", &self.kind)
            .finish()
    }
}

/// Buckets as the encoder takes them: per-bucket (not cumulative) counts, the overflow last
/// under `f64::MAX` (written `+Inf`).
fn buckets(bounds: impl Iterator<Item = f64>, counts: &[u64], total: u64) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = bounds.zip(counts.iter().copied()).collect();
    let within: u64 = counts.iter().sum();
    out.push((f64::MAX, total.saturating_sub(within)));
    out
}

impl StoreCollector {
    fn batches(&self, encoder: &mut DescriptorEncoder, f: &BatchFigures) -> std::fmt::Result {
        let labels = [("store", self.kind.as_str())];
        let sizes = buckets(
            stats::BATCH_BUCKETS.iter().map(|b| *b as f64),
            &f.size_buckets,
            f.batches,
        );
        let mut m = encoder.encode_descriptor(
            "hippo_store_group_commit_operations",
            "Operations committed together per group commit (batch size)",
            None,
            MetricType::Histogram,
        )?;
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
            f.jobs as f64,
            f.batches,
            &sizes,
            None,
        )?;
        let durations = buckets(
            stats::COMMIT_SECONDS_BUCKETS.iter().copied(),
            &f.commit_buckets,
            f.batches,
        );
        let mut m = encoder.encode_descriptor(
            "hippo_store_group_commit_duration_seconds",
            "Time to run and commit one group commit",
            None,
            MetricType::Histogram,
        )?;
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
            f.commit_seconds_sum,
            f.batches,
            &durations,
            None,
        )?;
        let mut m = encoder.encode_descriptor(
            "hippo_store_group_commit_failures",
            "Group commits that did not commit (every operation in them was told so)",
            None,
            MetricType::Counter,
        )?;
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&f.failed_batches, None)
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let figures = stats::snapshot();
        self.batches(&mut encoder, figures.batches(self.kind))?;
        if self.kind == StoreKind::Postgres {
            let mut m = encoder.encode_descriptor(
                "hippo_postgres_errors",
                "Failed PostgreSQL calls by class (unavailable: retry later; refused: the statement was rejected)",
                None,
                MetricType::Counter,
            )?;
            for (class, n) in DbErrorClass::ALL.iter().zip(figures.postgres_errors) {
                m.encode_family(&[("class", class.as_str())])?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        if let Some(p) = (self.pool)() {
            let mut m = encoder.encode_descriptor(
                "hippo_store_pool_connections",
                "Database connections by state (open, idle) and the pool's maximum",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in [("open", p.open), ("idle", p.idle), ("max", p.max)] {
                m.encode_family(&[("state", state)])?
                    .encode_gauge(&(n as i64))?;
            }
        }
        Ok(())
    }
}
