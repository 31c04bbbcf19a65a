//! `hippo backup` and `hippo keyring escrow`: taking, listing, verifying, restoring and pruning
//! backups of the embedded store, and the sealed copy of the keyring a restore needs.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use hippo_backup::inventory::{self, Inventory};
use hippo_backup::restore::{self, RestoreReport};
use hippo_backup::retention::{self, Decision, Policy};
use hippo_backup::ship::Shipper;
use hippo_backup::BackupSink;
use hippo_server::config::FlagOverrides;
use hippo_store::{Keyring, SqliteStore};
use std::path::{Path, PathBuf};

/// Environment variable holding an escrow passphrase (never a command-line argument: argv is
/// visible to every user of the machine).
pub const PASSPHRASE_ENV: &str = "HIPPO_ESCROW_PASSPHRASE";

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a new generation now (a fresh snapshot of every database) into the configured
    /// destinations (`[backup] to`) or `--to`. Safe while `hippo serve` runs.
    Create {
        /// Destination (repeatable): a directory or s3://bucket/prefix [default: backup.to].
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        to: Vec<String>,
    },
    /// List the backups in a destination: per database, each generation with its time span.
    List {
        #[command(flatten)]
        from: FromArgs,
        #[arg(long)]
        json: bool,
    },
    /// Read a backup end to end without touching the data directory: every manifest's
    /// signature and chain, every object against its hash, then a scratch restore checked page
    /// by page, record by record and against the audit trees' signed heads. Exit 1 names the
    /// first bad object.
    Verify {
        #[command(flatten)]
        from: FromArgs,
        /// The moment to restore in the scratch check [default: the latest].
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        #[command(flatten)]
        keys: KeyArgs,
        /// Check this store's database instead of reading a backup: a PostgreSQL database
        /// restored from an RDS snapshot or to a point in time (connection as for `serve`),
        /// against the sealed audit batches and signed tree heads exported from it
        /// (--audit-export): no exported event missing or changed.
        #[arg(long, value_name = "sqlite|postgres", requires = "audit_export")]
        store: Option<hippo_store::StoreKind>,
        /// The audit export to check the database against (what `audit.export_url` or
        /// `hippo audit export --to` wrote).
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX", requires = "store")]
        audit_export: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Restore into a new data directory (`--data-dir`), as of the latest backup or `--at`.
    /// Refuses a non-empty directory unless --force. Interrupted, it leaves the target as it
    /// was; run it again.
    Restore {
        #[command(flatten)]
        from: FromArgs,
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        #[command(flatten)]
        keys: KeyArgs,
        /// Replace a non-empty target (the old contents are moved aside, not deleted).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete generations the retention policy (`backup.keep_daily`, `backup.keep_monthly`)
    /// no longer keeps; never the newest, never one still under Object Lock.
    Prune {
        #[command(flatten)]
        from: FromArgs,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Restore drill: restore the latest backup into a scratch directory, verify it, serve it
    /// and read a sample of records over HTTPS; prints the achieved RTO and RPO.
    Drill(crate::drill::DrillArgs),
}

#[derive(Args, Clone)]
pub struct FromArgs {
    /// The destination to read [default: the first of backup.to].
    #[arg(long = "from", value_name = "DIR|s3://BUCKET/PREFIX")]
    pub from: Option<String>,
}

#[derive(Args, Clone, Default)]
pub struct KeyArgs {
    /// The keyring to restore with [default: the data directory's, else its configuration's].
    #[arg(long, value_name = "FILE", conflicts_with = "escrow")]
    pub keyring: Option<PathBuf>,
    /// An escrow copy of the keyring (`hippo keyring escrow`); its passphrase comes from
    /// HIPPO_ESCROW_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    pub escrow: Option<PathBuf>,
}

/// The configuration of the data directory, if it has one (a restore target may not).
fn config(data_dir: &Path) -> hippo_server::Config {
    hippo_server::Config::load(data_dir, &FlagOverrides::default()).unwrap_or_default()
}

pub fn open_sink(target: &str, data_dir: &Path) -> Result<Box<dyn BackupSink>> {
    let cfg = config(data_dir);
    Ok(hippo_backup::sink::open(
        target,
        &cfg.backup.s3_options(&cfg.audit),
    )?)
}

pub fn open_sink_for(from: &FromArgs, data_dir: &Path) -> Result<Box<dyn BackupSink>> {
    let target = match &from.from {
        Some(t) => t.clone(),
        None => config(data_dir).backup.to.first().cloned().context(
            "no backup destination: pass --from DIR|s3://BUCKET/PREFIX, or set backup.to in hippo.toml",
        )?,
    };
    open_sink(&target, data_dir)
}

/// The keyring a restore or verify uses: `--keyring`, `--escrow` (+ passphrase), else the
/// data directory's own (or its configured shared keyring).
pub fn keyring(keys: &KeyArgs, data_dir: &Path) -> Result<Keyring> {
    if let Some(path) = &keys.keyring {
        return Ok(Keyring::load_file(path)?);
    }
    if let Some(path) = &keys.escrow {
        let pass = std::env::var(PASSPHRASE_ENV)
            .with_context(|| format!("{PASSPHRASE_ENV} must hold the escrow passphrase"))?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(hippo_store::escrow::open(
            &text,
            &pass,
            &path.display().to_string(),
        )?);
    }
    config(data_dir)
        .load_keyring(data_dir)
        .map_err(|e| anyhow::anyhow!("{e}. Fix: pass --keyring FILE or --escrow FILE"))
}

pub fn parse_at(at: &Option<String>) -> Result<i64> {
    match at {
        None => Ok(i64::MAX),
        Some(s) => hippo_core::time_fmt::parse_rfc3339(s).with_context(|| {
            format!("--at {s:?} is not an RFC 3339 time (e.g. 2026-12-02T10:15:00Z)")
        }),
    }
}

pub async fn run(data_dir: &Path, cmd: BackupCommand) -> Result<()> {
    match cmd {
        BackupCommand::Create { to } => create(data_dir, to).await,
        BackupCommand::List { from, json } => {
            let sink = open_sink_for(&from, data_dir)?;
            let key = keyring(&KeyArgs::default(), data_dir)?
                .ledger_keys()?
                .signing
                .public_key();
            let inv = Inventory::load(sink.as_ref(), &key).await?;
            list(&inv, json);
            Ok(())
        }
        BackupCommand::Verify {
            store: Some(kind),
            audit_export: Some(export),
            json,
            ..
        } => verify_database(data_dir, kind, &export, json).await,
        BackupCommand::Verify {
            from,
            at,
            keys,
            json,
            ..
        } => {
            let sink = open_sink_for(&from, data_dir)?;
            let keyring = keyring(&keys, data_dir)?;
            let scratch = scratch_dir(data_dir)?;
            let result = verify(sink.as_ref(), &keyring, &scratch, parse_at(&at)?).await;
            let _ = std::fs::remove_dir_all(&scratch);
            let (objects, report) = result?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"objects_checked": objects, "restore": report})
                );
            } else {
                println!("{objects} backup objects read and matched their signed manifests.");
                print_report(&report);
                println!("backup verified: OK");
            }
            Ok(())
        }
        BackupCommand::Restore {
            from,
            at,
            keys,
            force,
            json,
        } => {
            let sink = open_sink_for(&from, data_dir)?;
            let keyring = keyring(&keys, data_dir)?;
            let report =
                restore_to(sink.as_ref(), &keyring, data_dir, parse_at(&at)?, force).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_report(&report);
                println!(
                    "Restored into {}. Start it with: hippo --data-dir {} serve",
                    data_dir.display(),
                    data_dir.display()
                );
            }
            Ok(())
        }
        BackupCommand::Prune { from, dry_run } => prune(data_dir, &from, dry_run).await,
        BackupCommand::Drill(args) => crate::drill::run(data_dir, args).await,
    }
}

/// `backup verify --store S --audit-export DEST`: every log of the database against its export.
async fn verify_database(
    data_dir: &Path,
    kind: hippo_store::StoreKind,
    export: &str,
    json: bool,
) -> Result<()> {
    let flags = FlagOverrides {
        store: Some(kind),
        ..FlagOverrides::default()
    };
    let cfg = hippo_server::Config::load(data_dir, &flags)?;
    let store: std::sync::Arc<dyn hippo_store::Store> = match kind {
        hippo_store::StoreKind::Postgres => {
            std::sync::Arc::new(hippo_server::init::connect_postgres(data_dir, &cfg).await?)
        }
        hippo_store::StoreKind::Sqlite => {
            std::sync::Arc::new(hippo_server::init::open_sqlite(data_dir, &cfg)?)
        }
    };
    let sink = hippo_store::export::open_sink(export, &cfg.audit.s3_options())?;
    let mut logs = vec![hippo_core::LogId::System];
    logs.extend(
        store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| hippo_core::LogId::Tenant(t.id)),
    );
    let mut failed = None;
    for log in &logs {
        let c = hippo_store::continuity::check(store.as_ref(), log, sink.as_ref()).await?;
        if json {
            println!("{}", serde_json::to_string(&c)?);
        } else {
            println!(
                "log {}: {} batch(es), {} exported event(s) found unchanged, {} signed head(s) recomputed, {} event(s) since the export{}",
                c.log,
                c.batches_checked,
                c.events_checked,
                c.tree_heads_checked,
                c.events_after_export,
                c.problem.as_ref().map(|p| format!("\n  PROBLEM: {p}")).unwrap_or_default()
            );
        }
        if failed.is_none() {
            failed = c.problem.clone();
        }
    }
    store.shutdown().await;
    match failed {
        Some(p) => bail!("the database is not continuous with its audit export: {p}"),
        None => {
            if !json {
                println!("database verified against its audit export: OK");
            }
            Ok(())
        }
    }
}

async fn create(data_dir: &Path, to: Vec<String>) -> Result<()> {
    if !SqliteStore::exists(data_dir) {
        bail!("{} holds no embedded store to back up (PostgreSQL deployments use RDS snapshots: docs/deploy.md)", data_dir.display());
    }
    let cfg = config(data_dir);
    let targets = if to.is_empty() {
        cfg.backup.to.clone()
    } else {
        to
    };
    if targets.is_empty() {
        bail!("no backup destination: pass --to DIR|s3://BUCKET/PREFIX, or set backup.to in hippo.toml");
    }
    let keyring = cfg.load_keyring(data_dir)?;
    let layout = hippo_store::sqlite::backup::Layout::new(data_dir);
    let sources = hippo_store::sqlite::backup::sources(&layout, &keyring)?;
    let mut sinks = Vec::new();
    for t in &targets {
        sinks.push(open_sink(t, data_dir)?);
    }
    let wrapped = std::fs::read(layout.catalog_key())?;
    let mut settings = cfg.backup.ship_settings(data_dir);
    settings.scratch = scratch_dir(data_dir)?;
    // The server (if running) owns the journal: a one-off generation must not forget entries
    // its chain has not shipped yet.
    settings.prune_journal = false;
    let mut shipper = Shipper::new(
        sinks,
        keyring.ledger_keys()?.signing,
        wrapped,
        settings.clone(),
    );
    let n = sources.len();
    let objects = shipper.round(sources, true, true).await?;
    let _ = std::fs::remove_dir_all(&settings.scratch);
    eprintln!(
        "New backup generation of {n} database(s): {objects} object(s) written to {}",
        targets.join(", ")
    );
    Ok(())
}

fn scratch_dir(data_dir: &Path) -> Result<PathBuf> {
    let base = if data_dir.exists() {
        data_dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!(".backup-scratch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(dir)
}

fn list(inv: &Inventory, json: bool) {
    if json {
        let dbs: Vec<serde_json::Value> = inv
            .dbs
            .iter()
            .flat_map(|(db, gens)| {
                gens.iter().map(move |g| {
                    serde_json::json!({
                        "db": db, "generation": g.name, "objects": g.manifests.len(), "bytes": g.bytes(),
                        "from": hippo_core::time_fmt::rfc3339(g.started_ms()),
                        "to": hippo_core::time_fmt::rfc3339(g.last_ms()),
                    })
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"generations": dbs, "latest": hippo_core::time_fmt::rfc3339(inv.latest_ms())})
        );
        return;
    }
    if inv.dbs.is_empty() {
        println!("No backups here yet. Take one with `hippo backup create`, or set backup.to and run `hippo serve`.");
        return;
    }
    println!(
        "{:<24} {:<30} {:>7} {:>12}  restorable from .. to",
        "database", "generation", "objects", "bytes"
    );
    for (db, gens) in &inv.dbs {
        for g in gens {
            println!(
                "{:<24} {:<30} {:>7} {:>12}  {} .. {}",
                db,
                g.name,
                g.manifests.len(),
                g.bytes(),
                hippo_core::time_fmt::rfc3339(g.started_ms()),
                hippo_core::time_fmt::rfc3339(g.last_ms())
            );
        }
    }
    for g in inv.dbs.values().flatten() {
        if let Some((object, reason)) = &g.problem {
            println!(
                "DAMAGED {}/{}: usable up to the object before {object} ({reason})",
                g.db, g.name
            );
        }
    }
    if !inv.orphans.is_empty() {
        println!(
            "{} object(s) without a manifest (an interrupted upload; ignored).",
            inv.orphans.len()
        );
    }
}

/// Checks every object of every generation, then restores `until` into `scratch` and checks it.
pub async fn verify(
    sink: &dyn BackupSink,
    keyring: &Keyring,
    scratch: &Path,
    until: i64,
) -> Result<(usize, RestoreReport)> {
    let key = keyring.ledger_keys()?.signing.public_key();
    let inv = Inventory::load(sink, &key).await?;
    if let Some(problem) = inv.first_problem() {
        return Err(problem.into());
    }
    let mut objects = 0;
    for g in inv.dbs.values().flatten() {
        for m in &g.manifests {
            inventory::fetch(sink, m).await?;
            objects += 1;
        }
    }
    let report = restore::restore_into(sink, &inv, keyring, scratch, until, &|_| {}).await?;
    Ok((objects, report))
}

/// Restores into `target` through a staging directory beside it, moved into place at the end.
pub async fn restore_to(
    sink: &dyn BackupSink,
    keyring: &Keyring,
    target: &Path,
    until: i64,
    force: bool,
) -> Result<RestoreReport> {
    let non_empty = target.exists()
        && std::fs::read_dir(target)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if non_empty && !force {
        bail!(
            "{} is not empty; restore into a new directory, or pass --force to move its contents aside",
            target.display()
        );
    }
    let name = target
        .file_name()
        .context("the target needs a directory name")?
        .to_string_lossy();
    let staging = target.with_file_name(format!(".{name}.restoring"));
    // An interrupted earlier run to the same moment left its staging directory: resume it
    // (what it applied stays; the rest follows). Anything else there is started afresh.
    if hippo_backup::restore::resumable(&staging, until) {
        eprintln!("resuming the interrupted restore in {}", staging.display());
    } else {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let key = keyring.ledger_keys()?.signing.public_key();
    let inv = Inventory::load(sink, &key).await?;
    let report = restore::restore_into(sink, &inv, keyring, &staging, until, &|line| {
        eprintln!("{line}")
    })
    .await?;
    hippo_store::keyring::write_private_file(
        &Keyring::path(&staging),
        keyring.to_json().as_bytes(),
    )?;
    if non_empty {
        let aside = target.with_file_name(format!(
            "{name}.replaced-{}",
            hippo_core::time_fmt::now_millis()
        ));
        std::fs::rename(target, &aside)?;
        eprintln!(
            "The previous contents of {} are now in {}",
            target.display(),
            aside.display()
        );
    } else if target.exists() {
        std::fs::remove_dir(target)?;
    }
    std::fs::rename(&staging, target)?;
    Ok(report)
}

pub fn print_report(report: &RestoreReport) {
    let at = if report.until_ms == i64::MAX {
        "latest".to_owned()
    } else {
        hippo_core::time_fmt::rfc3339(report.until_ms)
    };
    println!(
        "restore point: {at}; newest restored event {}",
        hippo_core::time_fmt::rfc3339(report.newest_event_ms())
    );
    for d in &report.dbs {
        println!(
            "  {:<24} generation {} · {} object(s), {} bytes, {} row(s) replayed · checked {} pages, {} records / {} versions, {} audit events, {} signed heads",
            d.db, d.generation, d.objects, d.bytes, d.rows_applied, d.check.pages, d.check.records_checked,
            d.check.versions_checked, d.check.events_checked, d.check.tree_heads_verified
        );
    }
}

async fn prune(data_dir: &Path, from: &FromArgs, dry_run: bool) -> Result<()> {
    let cfg = config(data_dir);
    let sink = open_sink_for(from, data_dir)?;
    let key = keyring(&KeyArgs::default(), data_dir)?
        .ledger_keys()?
        .signing
        .public_key();
    let inv = Inventory::load(sink.as_ref(), &key).await?;
    let policy = Policy {
        daily: cfg.backup.keep_daily,
        monthly: cfg.backup.keep_monthly,
    };
    let now = hippo_core::time_fmt::now_millis();
    let (mut pruned, mut locked) = (0, 0);
    for gens in inv.dbs.values() {
        for (i, decision) in retention::decide(gens, policy, now) {
            let g = &gens[i];
            match decision {
                Decision::Keep => {}
                Decision::Locked(until) => {
                    locked += 1;
                    println!(
                        "keep {}/{}: locked until {}",
                        g.db,
                        g.name,
                        hippo_core::time_fmt::rfc3339(until)
                    );
                }
                Decision::Prune => {
                    pruned += 1;
                    println!(
                        "{} {}/{}",
                        if dry_run { "would delete" } else { "delete" },
                        g.db,
                        g.name
                    );
                    if !dry_run {
                        // Manifests newest first, then objects: what remains is always a valid
                        // chain prefix, so an interrupted prune never breaks a restore.
                        for m in g.manifests.iter().rev() {
                            sink.delete(&m.manifest_name()).await?;
                        }
                        for m in &g.manifests {
                            sink.delete(&m.object_name()).await?;
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{pruned} generation(s) {}, {locked} kept under Object Lock.",
        if dry_run { "to delete" } else { "deleted" }
    );
    Ok(())
}

/// `hippo keyring escrow --out FILE`: the keyring sealed to the passphrase in
/// HIPPO_ESCROW_PASSPHRASE (Argon2id + AES-256-GCM).
pub fn escrow(data_dir: &Path, out: &Path, keyring_file: Option<&Path>) -> Result<()> {
    let pass = std::env::var(PASSPHRASE_ENV).with_context(|| {
        format!(
            "set {PASSPHRASE_ENV} to the recovery passphrase (at least {} characters)",
            hippo_store::escrow::MIN_PASSPHRASE_CHARS
        )
    })?;
    let keyring = keyring(
        &KeyArgs {
            keyring: keyring_file.map(Path::to_path_buf),
            escrow: None,
        },
        data_dir,
    )?;
    let sealed = hippo_store::escrow::seal(&keyring, &pass)?;
    if out.exists() {
        bail!(
            "{} exists; choose a new file (an escrow copy is never overwritten)",
            out.display()
        );
    }
    hippo_store::keyring::write_private_file(
        out,
        serde_json::to_string_pretty(&sealed)?.as_bytes(),
    )?;
    eprintln!(
        "Keyring (audit key {}) sealed to {}. Keep it apart from the backups, e.g. in a Secrets Manager secret replicated to the recovery region; restore with `hippo backup restore --escrow {}`.",
        sealed.audit_key_fingerprint,
        out.display(),
        out.display()
    );
    Ok(())
}
