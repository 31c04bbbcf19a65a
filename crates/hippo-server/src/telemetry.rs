//! The server's telemetry wiring: this process's metrics, the alert hub (whose alerts are
//! recorded in the audit trail before any sink sees them), and what the background audit jobs
//! last achieved per log, for `/metrics` and `GET /v1/status`.

use crate::config::{Config, ConfigError};
use async_trait::async_trait;
use hippo_core::{Action, Actor, AuditDraft, LogId, TenantId};
use hippo_proto::ops::SecurityAlert;
use hippo_store::Store;
use hippo_telemetry::{AlertAuditor, AlertHub, AlertSink, Metrics, Signal, WebhookSink};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What the background jobs last achieved for one log (Unix ms; 0: never).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogJobs {
    pub last_export_ms: i64,
    pub last_verification_ms: i64,
    pub last_verification_ok: Option<bool>,
}

pub struct Telemetry {
    /// `None` when `[metrics] enabled = false` (benchmarks only).
    pub metrics: Option<Metrics>,
    alerts: OnceLock<Arc<AlertHub>>,
    jobs: Mutex<HashMap<LogId, LogJobs>>,
    pub started_ms: i64,
    /// This host's name, in alerts and the status screen.
    pub instance: String,
    /// Whether traces are exported, and at which ratio.
    pub tracing_ratio: Option<f64>,
    pseudonym_key: [u8; 32],
}

impl Telemetry {
    pub fn new(config: &Config, store: &Arc<dyn Store>, now_ms: i64) -> Self {
        let metrics = config.metrics.enabled.then(|| {
            let pool_store = store.clone();
            Metrics::new(
                env!("CARGO_PKG_VERSION"),
                config.store,
                Arc::new(move || pool_store.pool_figures()),
            )
        });
        Self {
            metrics,
            alerts: OnceLock::new(),
            jobs: Mutex::new(HashMap::new()),
            started_ms: now_ms,
            instance: hostname(),
            tracing_ratio: config
                .tracing
                .otlp_endpoint
                .as_ref()
                .map(|_| config.tracing.sample_ratio),
            pseudonym_key: hippo_store::random::bytes::<32>().unwrap_or([7; 32]),
        }
    }

    /// Starts the alert hub with the configured sinks. Called once by `serve` (inside Tokio).
    pub fn start_alerts(&self, config: &Config, store: Arc<dyn Store>) -> Result<(), ConfigError> {
        let a = &config.alerts;
        let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
        if let Some(url) = &a.webhook_url {
            let ca = match &a.webhook_ca_file {
                Some(p) => Some(std::fs::read(p).map_err(|e| {
                    ConfigError::new(
                        "alerts.webhook_ca_file",
                        format!("cannot read {}: {e}", p.display()),
                        "point it at a readable PEM bundle, or unset it",
                    )
                })?),
                None => None,
            };
            let sink = WebhookSink::new(url, a.webhook_secret()?, ca.as_deref()).map_err(|e| {
                ConfigError::new(
                    "alerts.webhook_url",
                    e.to_string(),
                    "use an https:// URL (http:// only to 127.0.0.1) and a secret of at least 16 bytes",
                )
            })?;
            sinks.push(Box::new(sink));
        }
        if let Some(arn) = &a.sns_topic_arn {
            let sink = hippo_telemetry::SnsSink::new(arn, a.sns_endpoint.clone()).map_err(|e| {
                ConfigError::new(
                    "alerts.sns_topic_arn",
                    e.to_string(),
                    "name the alarm topic's ARN and provide AWS credentials in the environment",
                )
            })?;
            sinks.push(Box::new(sink));
        }
        let metrics = self.metrics.clone().unwrap_or_else(|| {
            // Alerts are counted even when request metrics are off.
            let pool_store = store.clone();
            Metrics::new(
                env!("CARGO_PKG_VERSION"),
                config.store,
                Arc::new(move || pool_store.pool_figures()),
            )
        });
        let hub = AlertHub::start(
            a.thresholds,
            sinks,
            a.retry(),
            Arc::new(StoreAuditor(store)),
            metrics,
            self.instance.clone(),
        );
        let _ = self.alerts.set(hub);
        Ok(())
    }

    pub fn alerts(&self) -> Option<&Arc<AlertHub>> {
        self.alerts.get()
    }

    /// Feeds a signal to the detectors (nothing happens before the hub has started).
    pub fn signal(&self, signal: Signal, now_ms: i64) {
        if let Some(hub) = self.alerts.get() {
            hub.signal(signal, now_ms);
        }
    }

    /// A failed sign-in step: counted, and fed to the brute-force detector twice, keyed by
    /// the account (its user id when known, else a keyed hash of the name typed, which is
    /// never shown) and by the source address.
    pub fn sign_in_failed(
        &self,
        draft: &AuditDraft,
        typed_name: &str,
        meta: &crate::ctx::RequestMeta,
        now_ms: i64,
    ) {
        if let Some(m) = &self.metrics {
            m.sign_in(hippo_telemetry::SignInOutcome::Failure);
        }
        self.brute_force_signal(draft, typed_name, meta, now_ms);
    }

    /// An attempt refused because the account or source is locked out: counted apart, and
    /// fed to the brute-force detector too (a locked-out attacker keeps trying).
    pub fn sign_in_throttled(
        &self,
        draft: &AuditDraft,
        typed_name: &str,
        meta: &crate::ctx::RequestMeta,
        now_ms: i64,
    ) {
        if let Some(m) = &self.metrics {
            m.sign_in(hippo_telemetry::SignInOutcome::Throttled);
        }
        self.brute_force_signal(draft, typed_name, meta, now_ms);
    }

    fn brute_force_signal(
        &self,
        draft: &AuditDraft,
        typed_name: &str,
        meta: &crate::ctx::RequestMeta,
        now_ms: i64,
    ) {
        let tenant = draft.tenant.as_ref().map(|t| t.as_str().to_owned());
        let account = if draft.actor.kind == hippo_core::ActorKind::User {
            format!("user:{}", draft.actor.id)
        } else {
            format!("name:{}", self.pseudonym(typed_name))
        };
        self.signal(
            Signal::SignInFailed {
                tenant,
                account,
                source: meta.source_addr.as_ref().map(|a| format!("source:{a}")),
            },
            now_ms,
        );
    }

    /// A complete sign-in: a session was issued.
    pub fn session_issued(&self) {
        if let Some(m) = &self.metrics {
            m.sign_in(hippo_telemetry::SignInOutcome::Success);
            m.session_issued();
        }
    }

    /// A stable, unreadable stand-in for a typed account name (HMAC under a key made at start).
    fn pseudonym(&self, name: &str) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.pseudonym_key)
            .expect("HMAC takes any key length");
        mac.update(name.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    pub fn note_export(&self, log: &LogId, now_ms: i64) {
        self.jobs
            .lock()
            .expect("jobs lock")
            .entry(log.clone())
            .or_default()
            .last_export_ms = now_ms;
    }

    pub fn note_verification(&self, log: &LogId, ok: bool, now_ms: i64) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let j = jobs.entry(log.clone()).or_default();
        j.last_verification_ok = Some(ok);
        if ok {
            j.last_verification_ms = now_ms;
        }
    }

    pub fn jobs(&self, log: &LogId) -> LogJobs {
        self.jobs
            .lock()
            .expect("jobs lock")
            .get(log)
            .copied()
            .unwrap_or_default()
    }
}

/// Records each alert as a `security.alert` event in its tenant's log (the system log when it
/// concerns no tenant), attributed to the server itself.
struct StoreAuditor(Arc<dyn Store>);

#[async_trait]
impl AlertAuditor for StoreAuditor {
    async fn record(&self, alert: &SecurityAlert) -> Result<(), String> {
        let tenant = alert
            .tenant
            .as_deref()
            .and_then(|t| t.parse::<TenantId>().ok());
        let mut draft = AuditDraft::new(
            tenant,
            Actor::system(),
            Action::SecurityAlert,
            &format!("alert-{}", alert.id),
        );
        draft.resource_id = Some(alert.id.clone());
        draft.detail("kind", alert.kind.as_str());
        draft.detail("key", alert.key.clone());
        draft.detail("count", alert.count);
        draft.detail("window_secs", alert.window_secs);
        draft.detail("instance", alert.instance.clone());
        self.0
            .append_audit(draft)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname NUL-terminates within it
    // or truncates, and we read up to the first NUL only.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
