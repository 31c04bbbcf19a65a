//! Background audit work: signing tree heads periodically, exporting sealed batches,
//! verifying every log, and watching that heads keep being signed; failures raise alerts.

use crate::state::AppState;
use crate::telemetry::Telemetry;
use hippo_core::LogId;
use hippo_store::export::{DirSink, ExportSink, S3Sink, S3Url};
use hippo_store::{ledger, Store};
use hippo_telemetry::Signal;
use std::time::Duration;
use tracing::Instrument;

/// Every audit log: the system log and each tenant's.
async fn logs(store: &dyn Store) -> Vec<LogId> {
    let mut out = vec![LogId::System];
    match store.list_tenants().await {
        Ok(tenants) => out.extend(tenants.into_iter().map(|t| LogId::Tenant(t.id))),
        Err(e) => tracing::error!(error = %e, "cannot list tenants for audit signing"),
    }
    out
}

/// Signs a tree head for every log that grew since its last head.
pub async fn sign_all(store: &dyn Store) {
    for log in logs(store).await {
        let id = &log;
        match store.sign_tree_head(&log).await {
            Ok(h) => tracing::debug!(log = %id, tree_size = h.head.tree_size, "tree head signed"),
            Err(e) => tracing::error!(log = %id, error = %e, "signing the audit tree head failed"),
        }
    }
}

/// Exports every log to `sink`.
pub async fn export_all(
    store: &dyn Store,
    sink: &dyn ExportSink,
    retention_days: u32,
    telemetry: &Telemetry,
) {
    let to = sink.describe();
    for log in logs(store).await {
        let id = &log;
        let now = hippo_core::time_fmt::now_millis();
        match ledger::export(store, &log, sink, 10_000, retention_days).await {
            Ok(s) => {
                telemetry.note_export(&log, now);
                if s.batches_written > 0 {
                    tracing::info!(log = %id, sink = %to, batches = s.batches_written, events = s.events_written, through = s.exported_through_seq, "audit batches exported")
                }
            }
            Err(hippo_store::export::ExportError::Busy(_)) => {
                tracing::debug!(log = %id, "another instance is exporting this log")
            }
            Err(e) => {
                tracing::error!(log = %id, sink = %to, error = %e, "audit export failed; it resumes on the next run");
                telemetry.signal(Signal::ExportFailed { sink: to.clone() }, now);
            }
        }
    }
}

/// Verifies every log against its signed heads; a broken log (or a verification that cannot
/// run) raises an alert.
pub async fn verify_all(store: &dyn Store, telemetry: &Telemetry) {
    for log in logs(store).await {
        let now = hippo_core::time_fmt::now_millis();
        let ok = match ledger::verify(store, &log, Vec::new()).await {
            Ok(report) if report.is_ok() => true,
            Ok(report) => {
                tracing::error!(target: "security", log = %log, events_checked = report.events_checked, "audit log verification FAILED: run `hippo audit verify` for the report");
                false
            }
            Err(e) => {
                tracing::error!(log = %log, error = %e, "audit log verification could not run");
                false
            }
        };
        telemetry.note_verification(&log, ok, now);
        if !ok {
            telemetry.signal(Signal::VerificationFailed { log }, now);
        }
    }
}

/// Feeds the age of each growing log's newest head to the detector (signing stopped).
pub async fn watch_heads(store: &dyn Store, telemetry: &Telemetry) {
    for log in logs(store).await {
        let now = hippo_core::time_fmt::now_millis();
        let (Ok((size, _)), Ok(heads)) =
            (store.tree_state(&log).await, store.tree_heads(&log).await)
        else {
            continue;
        };
        let (signed, at) = heads
            .last()
            .map(|h| (h.head.tree_size, h.head.timestamp_ms as i64))
            .unwrap_or((0, telemetry.started_ms));
        if size > signed {
            let age_secs = (now - at).max(0) as u64 / 1000;
            telemetry.signal(Signal::TreeHeadAge { log, age_secs }, now);
        }
    }
}

/// The configured sinks: `export_dir` and/or `export_url`. A sink that cannot be set up (no
/// credentials) is reported on every run rather than silently skipped.
fn sinks(cfg: &crate::config::AuditConfig) -> Vec<Result<Box<dyn ExportSink>, String>> {
    let mut out: Vec<Result<Box<dyn ExportSink>, String>> = Vec::new();
    if let Some(dir) = &cfg.export_dir {
        out.push(Ok(Box::new(DirSink::new(dir))));
    }
    if let Some(url) = &cfg.export_url {
        out.push(
            S3Url::parse(url)
                .and_then(|u| S3Sink::new(u, cfg.s3_options()))
                .map(|s| Box::new(s) as Box<dyn ExportSink>)
                .map_err(|e| e.to_string()),
        );
    }
    out
}

/// Starts the periodic signer (and exporter, when configured).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let cfg = state.config.audit.clone();
        let mut sign_tick = tokio::time::interval(Duration::from_secs(cfg.tree_head_interval_secs));
        let mut export_tick = tokio::time::interval(Duration::from_secs(cfg.export_interval_secs));
        // 0 turns verification off: an interval that never fires.
        let verify_every = match cfg.verify_interval_secs {
            0 => Duration::from_secs(u32::MAX as u64),
            n => Duration::from_secs(n),
        };
        let mut verify_tick = tokio::time::interval(verify_every);
        // Often enough to notice a stale head well within the detector's limit.
        let stale = state.config.alerts.thresholds.tree_head_stale_secs;
        let mut watch_tick = tokio::time::interval(Duration::from_secs((stale / 4).clamp(1, 60)));
        let sinks = sinks(&cfg);
        let telemetry = state.telemetry.clone();
        loop {
            tokio::select! {
                _ = sign_tick.tick() => sign_all(state.store.as_ref())
                    .instrument(tracing::info_span!(target: "hippo::audit", "audit.sign")).await,
                _ = export_tick.tick() => {
                    for sink in &sinks {
                        match sink {
                            Ok(sink) => export_all(state.store.as_ref(), sink.as_ref(), cfg.retention_days, &telemetry)
                                .instrument(tracing::info_span!(target: "hippo::audit", "audit.export")).await,
                            Err(e) => {
                                tracing::error!(error = %e, "audit export sink unusable; fix the [audit] configuration");
                                telemetry.signal(Signal::ExportFailed { sink: "unusable sink".into() }, hippo_core::time_fmt::now_millis());
                            }
                        }
                    }
                }
                _ = verify_tick.tick() => verify_all(state.store.as_ref(), &telemetry)
                    .instrument(tracing::info_span!(target: "hippo::audit", "audit.verify")).await,
                _ = watch_tick.tick() => watch_heads(state.store.as_ref(), &telemetry).await,
            }
        }
    })
}
