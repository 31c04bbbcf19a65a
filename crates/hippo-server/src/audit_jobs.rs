//! Background audit work: signing tree heads periodically and exporting sealed batches.

use crate::state::AppState;
use hippo_core::LogId;
use hippo_store::export::{DirSink, ExportSink, S3Sink, S3Url};
use hippo_store::{ledger, Store};
use std::time::Duration;

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
pub async fn export_all(store: &dyn Store, sink: &dyn ExportSink, retention_days: u32) {
    let to = sink.describe();
    for log in logs(store).await {
        let id = &log;
        match ledger::export(store, &log, sink, 10_000, retention_days).await {
            Ok(s) if s.batches_written > 0 => {
                tracing::info!(log = %id, sink = %to, batches = s.batches_written, events = s.events_written, through = s.exported_through_seq, "audit batches exported")
            }
            Ok(_) => {}
            Err(hippo_store::export::ExportError::Busy(_)) => {
                tracing::debug!(log = %id, "another instance is exporting this log")
            }
            Err(e) => {
                tracing::error!(log = %id, sink = %to, error = %e, "audit export failed; it resumes on the next run")
            }
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
        let sinks = sinks(&cfg);
        loop {
            tokio::select! {
                _ = sign_tick.tick() => sign_all(state.store.as_ref()).await,
                _ = export_tick.tick() => {
                    for sink in &sinks {
                        match sink {
                            Ok(sink) => export_all(state.store.as_ref(), sink.as_ref(), cfg.retention_days).await,
                            Err(e) => tracing::error!(error = %e, "audit export sink unusable; fix the [audit] configuration"),
                        }
                    }
                }
            }
        }
    })
}
