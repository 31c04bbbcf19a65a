//! Hippo's operational telemetry: Prometheus metrics (`metrics`), OpenTelemetry trace export
//! (`otlp`), security-event detectors (`detect`) and the alert hub with its sinks (`alerts`,
//! `webhook`, `sns`). Labels, span fields and alerts carry ids, counts and route templates only.

pub mod alerts;
pub mod detect;
pub mod metrics;
pub mod otlp;
pub mod sns;
pub mod webhook;

pub use alerts::{AlertAuditor, AlertHub, AlertSink, Retry, SinkError};
pub use detect::{DetectorSettings, Signal};
pub use metrics::{Metrics, SignInOutcome};
pub use otlp::TracingSettings;
pub use sns::SnsSink;
pub use webhook::WebhookSink;
