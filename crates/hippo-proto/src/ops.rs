//! Operator wire types: the security alert delivered to alert sinks, and the status screen of
//! `GET /v1/status` (what `hippo status` prints). Ids, counts and times only, never PHI.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of security alert, each raised by one detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Many failed sign-ins against one account or from one source address.
    BruteForce,
    /// An emergency (break-glass) elevation was opened.
    BreakGlass,
    /// One principal read far more records than usual in a short time.
    UnusualReadVolume,
    /// Many requests of one tenant were denied in a short time.
    DenialSpike,
    /// A background audit export failed.
    ExportFailed,
    /// A verification of an audit log found it broken (or could not run).
    VerificationFailed,
    /// No tree head was signed for a growing log for longer than allowed.
    TreeHeadSigningStopped,
}

impl AlertKind {
    pub const ALL: [AlertKind; 7] = [
        AlertKind::BruteForce,
        AlertKind::BreakGlass,
        AlertKind::UnusualReadVolume,
        AlertKind::DenialSpike,
        AlertKind::ExportFailed,
        AlertKind::VerificationFailed,
        AlertKind::TreeHeadSigningStopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BruteForce => "brute_force",
            AlertKind::BreakGlass => "break_glass",
            AlertKind::UnusualReadVolume => "unusual_read_volume",
            AlertKind::DenialSpike => "denial_spike",
            AlertKind::ExportFailed => "export_failed",
            AlertKind::VerificationFailed => "verification_failed",
            AlertKind::TreeHeadSigningStopped => "tree_head_signing_stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

/// A security alert as sinks receive it (the webhook body, the SNS message). Signed by the
/// webhook sink: header `Hippo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SecurityAlert {
    /// Unique per alert (UUIDv7); a receiver seeing it twice (a retried delivery) keeps one.
    pub id: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// The tenant concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What the alert is about, as ids only: a principal id, a user id, a log id, or an
    /// HMAC of a source address. Never a name, a query or a body.
    pub key: String,
    /// How many signals the detector counted in its window.
    pub count: u64,
    /// The detector's window, in seconds (0 for alerts raised by a single event).
    pub window_secs: u64,
    /// When it was raised (RFC 3339).
    pub time: String,
    /// What to do, for the person on call.
    pub summary: String,
    /// Name of the instance (host) that raised it.
    pub instance: String,
}

/// `GET /v1/status`: one screen for an operator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusReport {
    pub version: String,
    pub store: String,
    pub instance: String,
    pub started: String,
    pub uptime_secs: u64,
    /// Readiness checks as `/readyz` reports them.
    pub checks: Vec<crate::ReadinessCheck>,
    /// The caller's tenant's audit log.
    pub audit: AuditStatus,
    /// Configured alert sinks (kinds and destinations' hosts only: no secrets).
    pub alert_sinks: Vec<AlertSinkStatus>,
    /// Alerts raised by this instance since it started, by kind.
    pub alerts_raised: Vec<AlertCount>,
    /// Whether OpenTelemetry trace export is on, and its sampling ratio.
    pub tracing: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertCount {
    pub kind: AlertKind,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditStatus {
    pub log: String,
    pub tree_size: u64,
    /// Latest signed tree head: its size and time.
    pub last_head_size: Option<u64>,
    pub last_head_time: Option<String>,
    /// Events integrated but not yet covered by a signed head.
    pub unsigned_events: u64,
    /// Seconds the oldest stored event waits for integration (0: none).
    pub integration_lag_secs: f64,
    /// Last successful background export and verification by this instance (RFC 3339).
    pub last_export: Option<String>,
    pub last_verification: Option<String>,
    pub last_verification_ok: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertSinkStatus {
    /// `webhook` or `sns`.
    pub kind: String,
    /// Where it delivers: the webhook's host, the SNS topic ARN.
    pub target: String,
    pub delivered: u64,
    pub failed: u64,
}
