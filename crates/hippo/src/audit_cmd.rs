//! `hippo audit`: what an auditor runs against a deployment, with the same configuration as
//! `hippo serve` (`--data-dir`): print the signing key, verify the logs, sign a head, prove, export.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use hippo_audit::tree_head::SignedTreeHead;
use hippo_core::{LogId, TenantId};
use hippo_server::config::AuditConfig;
use hippo_store::export::open_sink;
use hippo_store::{ledger, Store};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the Ed25519 public key that verifies tree heads (give it to auditors).
    Pubkey {
        #[arg(long)]
        json: bool,
    },
    /// Recompute every log from its stored events and check every signed tree head; exits 1 and
    /// names the first altered, deleted, inserted or reordered event if the log was tampered with.
    Verify {
        #[command(flatten)]
        log: LogArgs,
        /// A tree head kept outside this deployment (repeatable): it must match too.
        #[arg(long = "from-tree-head", value_name = "FILE")]
        from_tree_head: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Sign the current tree head of a log now and print it (JSON).
    TreeHead {
        #[command(flatten)]
        log: LogArgs,
    },
    /// Print an inclusion proof of event SEQ in a signed tree head.
    Inclusion {
        #[command(flatten)]
        log: LogArgs,
        /// Sequence number of the event (1 is the log's first).
        #[arg(long)]
        seq: i64,
        /// Size of the tree head [default: newest].
        #[arg(long)]
        tree_size: Option<u64>,
    },
    /// Print a consistency proof between two signed tree heads.
    Consistency {
        #[command(flatten)]
        log: LogArgs,
        /// Size of the older tree (e.g. the head an auditor kept last time).
        #[arg(long)]
        from: u64,
        /// Size of the newer signed tree head [default: newest].
        #[arg(long)]
        to: Option<u64>,
    },
    /// Export sealed, signed batches (NDJSON + manifest with the tree head) to a directory
    /// (read-only files) or to S3 (`s3://bucket/prefix`: Object Lock in COMPLIANCE mode until
    /// now + audit.retention_days; endpoint, region and encryption from the [audit] s3_* keys,
    /// credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    /// Idempotent: a rerun continues where the last one stopped. One exporter per log at a
    /// time across the deployment: this waits (up to 5 minutes) while a server exports it.
    Export {
        #[command(flatten)]
        log: LogArgs,
        /// Destination: a local directory, or an S3 bucket and key prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        to: String,
        /// Events per sealed batch (the last batch of a run may be smaller).
        #[arg(long, default_value_t = 10_000)]
        batch_size: usize,
    },
}

#[derive(Args, Clone)]
pub struct LogArgs {
    /// A tenant's log [default: every log].
    #[arg(long, conflicts_with = "system", value_name = "TENANT")]
    tenant: Option<TenantId>,
    /// The system log (`.system`: authentication failures, key and tenant changes).
    #[arg(long)]
    system: bool,
}

impl LogArgs {
    /// The logs selected: one tenant, the system log, or all of them (the system log first).
    async fn logs(&self, store: &dyn Store) -> Result<Vec<LogId>> {
        if let Some(t) = &self.tenant {
            return Ok(vec![LogId::Tenant(t.clone())]);
        }
        if self.system {
            return Ok(vec![LogId::System]);
        }
        let mut all = vec![LogId::System];
        all.extend(
            store
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| LogId::Tenant(t.id)),
        );
        Ok(all)
    }

    fn one(&self) -> Result<LogId> {
        match (&self.tenant, self.system) {
            (Some(t), _) => Ok(LogId::Tenant(t.clone())),
            (None, true) => Ok(LogId::System),
            (None, false) => bail!("choose a log: --tenant NAME or --system"),
        }
    }
}

pub async fn run(store: &dyn Store, cmd: AuditCommand, audit: &AuditConfig) -> Result<()> {
    match cmd {
        AuditCommand::Pubkey { json } => {
            let info = store.audit_public_key()?.info();
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("{info}");
            }
        }
        AuditCommand::Verify {
            log,
            from_tree_head,
            json,
        } => {
            let mut trusted = Vec::new();
            for path in &from_tree_head {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                trusted
                    .push(SignedTreeHead::from_json(&text).with_context(|| {
                        format!("{} is not a signed tree head", path.display())
                    })?);
            }
            let mut failed = false;
            for l in log.logs(store).await? {
                let id = l.to_string();
                let names = l.accepted_head_names();
                let mine: Vec<SignedTreeHead> = trusted
                    .iter()
                    .filter(|h| names.contains(&h.head.log_id))
                    .cloned()
                    .collect();
                let report = ledger::verify(store, &l, mine).await?;
                failed |= !report.is_ok();
                if json {
                    println!("{}", serde_json::json!({ "log": id, "report": report }));
                } else {
                    println!("log {id}:\n{report}\n");
                }
            }
            if failed {
                bail!("audit verification FAILED: the log was altered (see the report above)");
            }
        }
        AuditCommand::TreeHead { log } => {
            let head = store.sign_tree_head(&log.one()?).await?;
            println!("{}", head.to_json());
        }
        AuditCommand::Inclusion {
            log,
            seq,
            tree_size,
        } => {
            let proof = ledger::inclusion(store, &log.one()?, seq, tree_size)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
        }
        AuditCommand::Consistency { log, from, to } => {
            let proof = ledger::consistency(store, &log.one()?, from, to)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
        }
        AuditCommand::Export {
            log,
            to,
            batch_size,
        } => {
            if batch_size == 0 {
                bail!("--batch-size must be at least 1");
            }
            let sink = open_sink(&to, &audit.s3_options())?;
            for l in log.logs(store).await? {
                let s =
                    export_when_free(store, &l, sink.as_ref(), batch_size, audit.retention_days)
                        .await?;
                eprintln!(
                    "log {}: {} new batch(es), {} event(s); exported through event {}",
                    s.log_id, s.batches_written, s.events_written, s.exported_through_seq
                );
            }
        }
    }
    Ok(())
}

/// How long `hippo audit export` waits for another exporter of the same log to finish.
const EXPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Exports one log, waiting (with a note on stderr) while a server's background exporter
/// holds that log's export lock.
async fn export_when_free(
    store: &dyn Store,
    log: &LogId,
    sink: &dyn hippo_store::export::ExportSink,
    batch_size: usize,
    retention_days: u32,
) -> Result<ledger::ExportSummary> {
    let deadline = std::time::Instant::now() + EXPORT_WAIT;
    let mut told = false;
    loop {
        match ledger::export(store, log, sink, batch_size, retention_days).await {
            Err(hippo_store::export::ExportError::Busy(id)) => {
                if std::time::Instant::now() > deadline {
                    bail!("log {id} is still being exported by another instance after {}s; run again later", EXPORT_WAIT.as_secs());
                }
                if !told {
                    eprintln!("log {id}: another exporter is running; waiting for it to finish");
                    told = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return Ok(other?),
        }
    }
}
