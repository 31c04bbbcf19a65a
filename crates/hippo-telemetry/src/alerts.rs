//! The alert hub: feeds signals to the detectors, and hands each raised alert to the audit
//! trail and to every configured sink (in the background, with retries), logging it on the
//! `security` target. Signals cost a lock and a map update; delivery never blocks a request.

use crate::detect::{Detector, DetectorSettings, Raised, Signal, Verdict};
use crate::metrics::Metrics;
use async_trait::async_trait;
use hippo_proto::ops::{AlertSinkStatus, SecurityAlert};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Why a delivery attempt failed (no alert content: it is the same for every attempt).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error("the receiver could not be reached: {0}")]
    Transport(String),
}

/// A destination for alerts.
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// `webhook` or `sns`.
    fn kind(&self) -> &'static str;
    /// Where it delivers (a host, a topic ARN): no secret.
    fn target(&self) -> String;
    /// One attempt to deliver `alert`, whose JSON body is `body`.
    async fn deliver(&self, alert: &SecurityAlert, body: &[u8]) -> Result<(), SinkError>;
}

/// Records a raised alert in the audit trail (implemented by the server over its store).
#[async_trait]
pub trait AlertAuditor: Send + Sync {
    async fn record(&self, alert: &SecurityAlert) -> Result<(), String>;
}

/// Retry schedule of deliveries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
}

struct SinkSlot {
    sink: Box<dyn AlertSink>,
    delivered: AtomicU64,
    failed: AtomicU64,
}

pub struct AlertHub {
    detector: Mutex<Detector>,
    tx: mpsc::Sender<SecurityAlert>,
    metrics: Metrics,
    instance: String,
    sinks: Arc<Vec<SinkSlot>>,
}

/// Alerts waiting for delivery; beyond this, new alerts are logged and counted but dropped.
const QUEUE: usize = 1024;

impl AlertHub {
    /// Starts the delivery worker on the current Tokio runtime.
    pub fn start(
        settings: DetectorSettings,
        sinks: Vec<Box<dyn AlertSink>>,
        retry: Retry,
        auditor: Arc<dyn AlertAuditor>,
        metrics: Metrics,
        instance: String,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let sinks = Arc::new(
            sinks
                .into_iter()
                .map(|sink| SinkSlot {
                    sink,
                    delivered: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                })
                .collect::<Vec<_>>(),
        );
        tokio::spawn(deliver_all(
            rx,
            sinks.clone(),
            retry,
            auditor,
            metrics.clone(),
        ));
        Arc::new(Self {
            detector: Mutex::new(Detector::new(settings)),
            tx,
            metrics,
            instance,
            sinks,
        })
    }

    pub fn settings(&self) -> DetectorSettings {
        *self.detector.lock().expect("detector lock").settings()
    }

    /// Feeds one signal observed at `now_ms`; raises, suppresses or ignores it.
    pub fn signal(&self, signal: Signal, now_ms: i64) {
        let verdict = self
            .detector
            .lock()
            .expect("detector lock")
            .observe(signal, now_ms);
        match verdict {
            Verdict::Quiet => {}
            Verdict::Suppressed(kind) => self.metrics.alert_suppressed(kind),
            Verdict::Raise(r) => self.raise(r, now_ms),
        }
    }

    fn raise(&self, r: Raised, now_ms: i64) {
        let alert = SecurityAlert {
            id: uuid::Uuid::now_v7().to_string(),
            kind: r.kind,
            severity: r.severity,
            tenant: r.tenant,
            key: r.key,
            count: r.count,
            window_secs: r.window_secs,
            time: hippo_core::time_fmt::rfc3339(now_ms),
            summary: r.summary,
            instance: self.instance.clone(),
        };
        self.metrics.alert_raised(alert.kind);
        tracing::warn!(
            target: "security",
            alert = alert.kind.as_str(),
            alert_id = %alert.id,
            tenant = alert.tenant.as_deref().unwrap_or("-"),
            key = %alert.key,
            count = alert.count,
            window_secs = alert.window_secs,
            "{}",
            alert.summary
        );
        if self.tx.try_send(alert).is_err() {
            tracing::error!(target: "security", "the alert queue is full; an alert was logged but not delivered");
        }
    }

    /// The sinks and their delivery counts (for `GET /v1/status`).
    pub fn sink_status(&self) -> Vec<AlertSinkStatus> {
        self.sinks
            .iter()
            .map(|s| AlertSinkStatus {
                kind: s.sink.kind().into(),
                target: s.sink.target(),
                delivered: s.delivered.load(Relaxed),
                failed: s.failed.load(Relaxed),
            })
            .collect()
    }
}

async fn deliver_all(
    mut rx: mpsc::Receiver<SecurityAlert>,
    sinks: Arc<Vec<SinkSlot>>,
    retry: Retry,
    auditor: Arc<dyn AlertAuditor>,
    metrics: Metrics,
) {
    while let Some(alert) = rx.recv().await {
        // The audit record first: an alert that reached a person but not the trail would
        // leave the incident record incomplete. A failure to audit does not hold the alert
        // back, since telling someone matters more; it is logged loudly instead.
        if let Err(e) = auditor.record(&alert).await {
            tracing::error!(target: "security", alert_id = %alert.id, error = %e, "the alert could not be recorded in the audit trail");
        }
        let body: Arc<[u8]> = serde_json::to_vec(&alert)
            .expect("an alert serialises")
            .into();
        let alert = Arc::new(alert);
        for i in 0..sinks.len() {
            let (sinks, alert, body, metrics) =
                (sinks.clone(), alert.clone(), body.clone(), metrics.clone());
            tokio::spawn(async move {
                let slot = &sinks[i];
                let ok = deliver_one(slot.sink.as_ref(), &alert, &body, retry).await;
                if ok {
                    slot.delivered.fetch_add(1, Relaxed);
                } else {
                    slot.failed.fetch_add(1, Relaxed);
                }
                metrics.alert_delivery(slot.sink.kind(), ok);
            });
        }
    }
}

async fn deliver_one(sink: &dyn AlertSink, alert: &SecurityAlert, body: &[u8], r: Retry) -> bool {
    let mut backoff = r.first_backoff;
    for attempt in 1..=r.attempts.max(1) {
        match sink.deliver(alert, body).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(target: "security", sink = sink.kind(), alert_id = %alert.id, attempt, error = %e, "alert delivery failed");
                if attempt < r.attempts {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }
    tracing::error!(target: "security", sink = sink.kind(), alert_id = %alert.id, "alert not delivered after every retry");
    false
}
