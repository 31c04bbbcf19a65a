//! The background backup of the embedded store: a shipping round every `backup.interval_secs`
//! (see `hippo-backup`), a final round at shutdown. A failed round is an alert-level event and
//! a metric; it never touches the request path, and the next round resumes where it stopped.

use crate::config::Config;
use hippo_backup::ship::{ShipStatus, Shipper};
use hippo_store::Store;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

pub struct BackupJob {
    pub status: Arc<ShipStatus>,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

/// Starts shipping when `[backup] to` names destinations. A destination that cannot be set
/// up stops the start: a deployment that believes it is backed up must be.
pub fn spawn(
    config: &Config,
    data_dir: &Path,
    store: Arc<dyn Store>,
) -> Result<Option<BackupJob>, String> {
    let cfg = &config.backup;
    let Some(embedded) = store.as_embedded() else {
        if !cfg.to.is_empty() {
            tracing::warn!("backup.to is ignored with store = \"postgres\": use RDS snapshots and point-in-time recovery (docs/deploy.md)");
        }
        return Ok(None);
    };
    if cfg.to.is_empty() {
        tracing::warn!("continuous backup is OFF: set backup.to (a directory or s3://bucket/prefix) so a lost disk does not lose PHI (164.308(a)(7))");
        spawn_journal_trimmer(store.clone());
        return Ok(None);
    }
    let s3 = cfg.s3_options(&config.audit);
    let mut sinks = Vec::new();
    for target in &cfg.to {
        sinks.push(
            hippo_backup::sink::open(target, &s3)
                .map_err(|e| format!("backup.to {target:?}: {e}"))?,
        );
    }
    let signer = embedded.signing_key().map_err(|e| e.to_string())?;
    let wrapped = embedded.catalog_wrapped_key().map_err(|e| e.to_string())?;
    let mut shipper = Shipper::new(sinks, signer, wrapped, cfg.ship_settings(data_dir));
    let status = shipper.status.clone();
    let interval = cfg.interval_secs;
    let (stop, mut stopped) = watch::channel(false);
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let last = *stopped.borrow();
            let sources = match store.as_embedded().map(|s| s.backup_sources()) {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    tracing::error!(alert = true, error = %e, "backup: cannot list the databases to ship");
                    Vec::new()
                }
                None => Vec::new(),
            };
            match shipper.round(sources, last, false).await {
                Ok(n) if n > 0 => tracing::debug!(objects = n, "backup shipped"),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(alert = true, error = %e, "backup shipping failed; changes stay queued and the next round retries")
                }
            }
            if last {
                return;
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => {}
            }
        }
    });
    Ok(Some(BackupJob {
        status,
        stop,
        handle,
    }))
}

/// Without continuous backup nobody ships the backup journal: empty it every minute so it
/// does not grow with every write (a later `backup.to` starts from a fresh base anyway).
fn spawn_journal_trimmer(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(Ok(sources)) = store.as_embedded().map(|s| s.backup_sources()) else {
                continue;
            };
            let _ = tokio::task::spawn_blocking(move || {
                for source in sources {
                    if source.log == hippo_core::LogId::System {
                        continue;
                    }
                    if let Err(e) = source.connect().and_then(|c| hippo_store::sqlite::backup::prune_journal(&c, i64::MAX)) {
                        tracing::warn!(db = %source.log, error = %e, "could not trim the backup journal");
                    }
                }
            })
            .await;
        }
    });
}

impl BackupJob {
    /// Ships what is left (a final round) and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}
