//! `[metrics]`, `[tracing]` and `[alerts]`: what the server exposes to operators and whom it
//! tells when a detector fires. Secrets (the webhook's signing key) never live in this file.

use super::ConfigError;
use hippo_telemetry::{DetectorSettings, TracingSettings};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The environment variable that may hold the webhook signing secret (instead of
/// `alerts.webhook_secret_file`), e.g. injected from a secret store.
pub const WEBHOOK_SECRET_ENV: &str = "HIPPO_ALERT_WEBHOOK_SECRET";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Count requests, store commits, sign-ins and alerts for `/metrics`. Only benchmarks
    /// turn this off (to measure what it costs).
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// HTTPS endpoint that receives each security alert as signed JSON (plain http only to a
    /// loopback address). Unset: alerts are logged (target `security`) and audited only.
    pub webhook_url: Option<String>,
    /// File (mode 600) holding the webhook's HMAC-SHA256 signing secret (at least 16 bytes);
    /// or set HIPPO_ALERT_WEBHOOK_SECRET.
    pub webhook_secret_file: Option<PathBuf>,
    /// PEM bundle of CAs trusted for the webhook's certificate, besides none (unset: only
    /// publicly trusted roots through the platform's configuration).
    pub webhook_ca_file: Option<PathBuf>,
    /// SNS topic that receives each alert (e.g. the deployment's `security_alarms` topic,
    /// which pages the on-call subscriber); credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Unset: no SNS delivery.
    pub sns_topic_arn: Option<String>,
    /// SNS endpoint override (a VPC endpoint, a test server). Unset: AWS_ENDPOINT_URL_SNS,
    /// AWS_ENDPOINT_URL, else SNS in the topic's region.
    pub sns_endpoint: Option<String>,
    /// Delivery attempts per alert and sink before giving up (backoff doubles each time).
    pub retry_attempts: u32,
    /// The first backoff between attempts, in milliseconds.
    pub retry_backoff_ms: u64,
    /// Detector thresholds and windows.
    pub thresholds: DetectorSettings,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret_file: None,
            webhook_ca_file: None,
            sns_topic_arn: None,
            sns_endpoint: None,
            retry_attempts: 5,
            retry_backoff_ms: 500,
            thresholds: DetectorSettings::default(),
        }
    }
}

impl AlertsConfig {
    pub fn retry(&self) -> hippo_telemetry::Retry {
        hippo_telemetry::Retry {
            attempts: self.retry_attempts,
            first_backoff: std::time::Duration::from_millis(self.retry_backoff_ms),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.thresholds;
        let positive = [
            ("brute_force_failures", t.brute_force_failures),
            ("brute_force_window_secs", t.brute_force_window_secs),
            ("read_volume_records", t.read_volume_records),
            ("read_volume_window_secs", t.read_volume_window_secs),
            ("denials", t.denials),
            ("denial_window_secs", t.denial_window_secs),
            ("tree_head_stale_secs", t.tree_head_stale_secs),
            ("max_per_minute", t.max_per_minute as u64),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::new(
                &format!("alerts.thresholds.{key}"),
                "must be at least 1 (0 would make the detector fire on nothing or never)",
                "use the default or a positive number",
            ));
        }
        if !(1..=20).contains(&self.retry_attempts) {
            return Err(ConfigError::new(
                "alerts.retry_attempts",
                "must be between 1 and 20",
                "e.g. 5",
            ));
        }
        if self.webhook_url.is_some()
            && self.webhook_secret_file.is_none()
            && std::env::var_os(WEBHOOK_SECRET_ENV).is_none()
        {
            return Err(ConfigError::new(
                "alerts.webhook_secret_file",
                "alerts.webhook_url is set but no signing secret is configured, so receivers could not tell real alerts from forged ones",
                "write a secret of at least 16 bytes (e.g. `openssl rand -hex 32`) to a file of mode 600 and set alerts.webhook_secret_file, or set HIPPO_ALERT_WEBHOOK_SECRET",
            ));
        }
        Ok(())
    }

    /// The webhook's signing secret, from the environment or the file.
    pub fn webhook_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if let Ok(s) = std::env::var(WEBHOOK_SECRET_ENV) {
            return Ok(s.trim().as_bytes().to_vec());
        }
        let path = self.webhook_secret_file.as_ref().ok_or_else(|| {
            ConfigError::new(
                "alerts.webhook_secret_file",
                "no signing secret is configured",
                "set alerts.webhook_secret_file or HIPPO_ALERT_WEBHOOK_SECRET",
            )
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "alerts.webhook_secret_file",
                format!("cannot read {}: {e}", path.display()),
                "point it at a readable file holding the secret",
            )
        })?;
        Ok(text.trim().as_bytes().to_vec())
    }
}

pub(crate) fn validate_tracing(t: &TracingSettings) -> Result<(), ConfigError> {
    hippo_telemetry::otlp::validate(t).map_err(|e| {
        let key = match e {
            hippo_telemetry::otlp::TracingError::Ratio(_) => "tracing.sample_ratio",
            hippo_telemetry::otlp::TracingError::Endpoint(_) => "tracing.otlp_endpoint",
        };
        ConfigError::new(
            key,
            e.to_string(),
            "e.g. otlp_endpoint = \"http://127.0.0.1:4318/v1/traces\", sample_ratio = 0.01",
        )
    })
}
