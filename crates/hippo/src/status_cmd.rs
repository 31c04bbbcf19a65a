//! `hippo status`: one screen for an operator, from the running server's `GET /v1/status`
//! (health, version, store, audit log state, alert sinks). Needs an auditor or admin key.

use anyhow::{bail, Context, Result};
use clap::Args;
use hippo_proto::ops::StatusReport;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct StatusArgs {
    /// Server base URL.
    #[arg(long, env = "HIPPO_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// CA certificate to trust [default: <data-dir>/tls/ca.pem].
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// An auditor or admin API key; prefer the environment variable, which stays out of the
    /// process list.
    #[arg(long, env = "HIPPO_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Print the report as JSON instead of the screen.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(data_dir: &Path, args: StatusArgs) -> Result<()> {
    let Some(key) = args.key else {
        bail!("an auditor or admin API key is needed: set HIPPO_API_KEY or pass --key");
    };
    let ca = crate::https::ca_path(args.ca.as_deref(), data_dir);
    let client = crate::https::client(&ca, Some(Duration::from_secs(10)))?;
    let url = format!("{}/v1/status", args.url.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", args.url))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<hippo_proto::Problem>(&body)
            .ok()
            .and_then(|p| p.detail.or(Some(p.title)))
            .unwrap_or_default();
        bail!("the server answered {status}: {detail}");
    }
    let report: StatusReport =
        serde_json::from_slice(&body).context("the server's status report is malformed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", screen(&report));
    }
    let healthy =
        report.checks.iter().all(|c| c.ok) && report.audit.last_verification_ok != Some(false);
    if !healthy {
        bail!("the server is not healthy (see above)");
    }
    Ok(())
}

/// The report as a screen of aligned lines.
pub fn screen(r: &StatusReport) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<22} {v}\n"));
    line(
        "hippo",
        format!("{} on {} (store: {})", r.version, r.instance, r.store),
    );
    line("up since", format!("{} ({}s)", r.started, r.uptime_secs));
    for c in &r.checks {
        let state = if c.ok { "ok" } else { "FAILING" };
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        line(&format!("check {}", c.name), format!("{state}{detail}"));
    }
    let a = &r.audit;
    line("audit log", format!("{} ({} events)", a.log, a.tree_size));
    line(
        "last tree head",
        match (&a.last_head_time, a.last_head_size) {
            (Some(t), Some(n)) => format!("{t} (size {n}; {} events unsigned)", a.unsigned_events),
            _ => format!("none yet ({} events unsigned)", a.unsigned_events),
        },
    );
    line("integration lag", format!("{:.1}s", a.integration_lag_secs));
    line(
        "last export",
        a.last_export
            .clone()
            .unwrap_or_else(|| "none since start".into()),
    );
    line(
        "last verification",
        match (&a.last_verification, a.last_verification_ok) {
            (_, Some(false)) => "FAILED: run `hippo audit verify`".into(),
            (Some(t), _) => format!("{t} (intact)"),
            (None, _) => "none since start".into(),
        },
    );
    line(
        "tracing",
        r.tracing
            .map(|ratio| format!("on, sampling {ratio}"))
            .unwrap_or_else(|| "off".into()),
    );
    if r.alert_sinks.is_empty() {
        line(
            "alert sinks",
            "none (alerts are logged and audited only)".into(),
        );
    }
    for s in &r.alert_sinks {
        line(
            &format!("alert sink {}", s.kind),
            format!(
                "{} ({} delivered, {} failed)",
                s.target, s.delivered, s.failed
            ),
        );
    }
    let raised: Vec<String> = r
        .alerts_raised
        .iter()
        .filter(|a| a.count > 0)
        .map(|a| format!("{} {}", a.kind.as_str(), a.count))
        .collect();
    line(
        "alerts raised",
        if raised.is_empty() {
            "none".into()
        } else {
            raised.join(", ")
        },
    );
    out
}
