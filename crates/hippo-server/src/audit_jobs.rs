//! Background audit work: signing tree heads periodically and exporting sealed batches.

use crate::state::AppState;
use hippo_core::TenantId;
use hippo_store::{ledger, Store};
use std::time::Duration;

/// Every audit log: the system log (`None`) and each tenant's.
async fn logs(store: &dyn Store) -> Vec<Option<TenantId>> {
    let mut out = vec![None];
    match store.list_tenants().await {
        Ok(tenants) => out.extend(tenants.into_iter().map(|t| Some(t.id))),
        Err(e) => tracing::error!(error = %e, "cannot list tenants for audit signing"),
    }
    out
}

/// Signs a tree head for every log that grew since its last head.
pub async fn sign_all(store: &dyn Store) {
    for log in logs(store).await {
        let id = ledger::log_id(log.as_ref());
        match store.sign_tree_head(log.as_ref()).await {
            Ok(h) => tracing::debug!(log = %id, tree_size = h.head.tree_size, "tree head signed"),
            Err(e) => tracing::error!(log = %id, error = %e, "signing the audit tree head failed"),
        }
    }
}

/// Exports every log to `dir`.
pub async fn export_all(store: &dyn Store, dir: &std::path::Path, retention_days: u32) {
    for log in logs(store).await {
        let id = ledger::log_id(log.as_ref());
        match ledger::export_to_dir(store, log.as_ref(), dir, 10_000, retention_days).await {
            Ok(s) if s.batches_written > 0 => {
                tracing::info!(log = %id, batches = s.batches_written, events = s.events_written, through = s.exported_through_seq, "audit batches exported")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(log = %id, error = %e, "audit export failed; it resumes on the next run")
            }
        }
    }
}

/// Starts the periodic signer (and exporter, when configured).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let cfg = state.config.audit.clone();
        let mut sign_tick = tokio::time::interval(Duration::from_secs(cfg.tree_head_interval_secs));
        let mut export_tick = tokio::time::interval(Duration::from_secs(cfg.export_interval_secs));
        loop {
            tokio::select! {
                _ = sign_tick.tick() => sign_all(state.store.as_ref()).await,
                _ = export_tick.tick() => {
                    if let Some(dir) = &cfg.export_dir {
                        export_all(state.store.as_ref(), dir, cfg.retention_days).await;
                    }
                }
            }
        }
    })
}
