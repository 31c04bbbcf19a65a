//! `hippo bench --backup`: what continuous backup costs and achieves, measured in one run on
//! the bare embedded store (no HTTP: the strictest ratio, since TLS and HTTP would hide part of
//! the cost). After a discarded warm-up, three create phases on three tenants, interleaved and
//! run twice: without the backup journal (its triggers dropped), with the journal while nothing
//! ships, and with the shipper running every second; the recovery point (newest acknowledged
//! write not yet in the backup) sampled every 50 ms while shipping; then `--records` records
//! loaded (shipped as they go) and the restore of the whole backup timed.

use crate::bench::{bench_draft as draft, bench_input as input, drive, BenchArgs};
use anyhow::Result;
use hippo_backup::ship::{ShipSettings, Shipper};
use hippo_core::{Action, TenantId};
use hippo_store::{BatchItem, Keyring, SqliteStore, Store};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Shared {
    store: Arc<SqliteStore>,
    tenant: TenantId,
    body_bytes: usize,
    last_ack_ms: AtomicI64,
}

/// A fresh tenant's load state.
async fn tenant(store: &Arc<SqliteStore>, name: &str, args: &BenchArgs) -> Result<Arc<Shared>> {
    let tenant: TenantId = name.parse().expect("valid tenant");
    store
        .create_tenant(&tenant, draft(&tenant, Action::TenantCreate))
        .await?;
    Ok(Arc::new(Shared {
        store: store.clone(),
        tenant,
        body_bytes: args.body_bytes,
        last_ack_ms: AtomicI64::new(0),
    }))
}

/// Creates records from `--clients` tasks for `--seconds`; returns creates per second.
async fn create_load(name: &'static str, args: &BenchArgs, shared: &Arc<Shared>) -> f64 {
    let mut phase = drive(
        name,
        args.clients,
        args.seconds,
        shared.clone(),
        |s: Arc<Shared>, c, i| async move {
            let ok = s
                .store
                .create_record(
                    &s.tenant,
                    input(s.body_bytes, c, i),
                    "bench",
                    draft(&s.tenant, Action::RecordCreate),
                )
                .await
                .is_ok();
            if ok {
                s.last_ack_ms
                    .fetch_max(hippo_core::time_fmt::now_millis(), Ordering::Relaxed);
            }
            ok
        },
    )
    .await;
    phase.print();
    phase.rate()
}

fn settings(scratch: &std::path::Path) -> ShipSettings {
    ShipSettings {
        interval: Duration::from_secs(1),
        catalog_interval: Duration::from_secs(5),
        base_every: Duration::from_secs(24 * 3600),
        batch_rows: 20_000,
        retain_days: 0,
        scratch: scratch.to_path_buf(),
        prune_journal: true,
    }
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    let root = std::env::temp_dir().join(format!("hippo-backup-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let result = bench(args, &root).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn bench(args: &BenchArgs, root: &std::path::Path) -> Result<()> {
    println!(
        "hippo bench --backup: {} clients, {} s per phase, {}-byte bodies, bare store; restore of {} records",
        args.clients, args.seconds, args.body_bytes, args.records
    );
    let data = root.join("data");
    let sink_dir = match &args.backup_sink {
        Some(dir) => dir.join(format!("hippo-backup-bench-{}", std::process::id())),
        None => root.join("sink"),
    };
    let store = Arc::new(SqliteStore::create(&data)?);
    let keyring = Keyring::load(&data)?;

    // Three kinds of tenant: without the journal (its triggers dropped), with it (as every
    // deployment has) while nothing ships, and with it while the shipper runs every second.
    let plain = tenant(&store, "no-journal", args).await?;
    let conn = store.raw_connection(Some(&plain.tenant))?;
    for t in ["versions", "events", "heads", "keys"] {
        conn.execute_batch(&format!("DROP TRIGGER backup_journal_{t}"))?;
    }
    drop(conn);
    let journal = tenant(&store, "journal-only", args).await?;
    let shipped = tenant(&store, "shipping", args).await?;
    let sink =
        hippo_backup::sink::open(sink_dir.to_str().expect("utf-8 path"), &Default::default())?;
    let mut shipper = Shipper::new(
        vec![sink],
        keyring.ledger_keys()?.signing,
        store.catalog_wrapped_key()?,
        settings(&root.join("scratch")),
    );
    let status = shipper.status.clone();
    shipper.round(store.backup_sources()?, true, false).await?;
    // The shipper runs only during shipping phases (paused otherwise), so the journal-only
    // phases measure the journal alone.
    let (stop, shipping_now) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (st, stop2, on) = (store.clone(), stop.clone(), shipping_now.clone());
    let only = hippo_core::LogId::Tenant(shipped.tenant.clone());
    let ship_task = tokio::spawn(async move {
        while !stop2.load(Ordering::Relaxed) {
            let started = Instant::now();
            if on.load(Ordering::Relaxed) {
                // The shipping tenant's database (and the catalog): the others changed during
                // the other phases, and shipping them here would charge their cost to this one.
                let mut sources = st.backup_sources().unwrap_or_default();
                sources.retain(|s| s.log == only || s.log == hippo_core::LogId::System);
                if let Err(e) = shipper.round(sources, false, false).await {
                    eprintln!("shipping round failed: {e}");
                }
            }
            tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
        }
        shipper
    });
    // Sampled while shipping runs, from the first round of each shipping phase on (before it,
    // the lag is the pause between phases, an artefact of this benchmark).
    let resumed_ms = Arc::new(AtomicI64::new(i64::MAX));
    let (sh, st2, stop3, resumed) = (
        shipped.clone(),
        status.clone(),
        stop.clone(),
        resumed_ms.clone(),
    );
    let sampler = tokio::spawn(async move {
        let mut lags = Vec::new();
        while !stop3.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let acked = sh.last_ack_ms.load(Ordering::Relaxed);
            let shipped = st2.newest_shipped_event_ms.load(Ordering::Relaxed);
            if acked > 0 && shipped >= resumed.load(Ordering::Relaxed) {
                lags.push((acked - shipped).max(0));
            }
        }
        lags
    });
    // A warm-up (discarded), then the three phases twice, interleaved, so that neither the
    // machine's drift nor the order favours one of them.
    create_load(
        "warm-up (discarded)",
        args,
        &tenant(&store, "warm-up", args).await?,
    )
    .await;
    let (mut no_journal, mut journal_only, mut shipping) = (0.0, 0.0, 0.0);
    for _ in 0..2 {
        no_journal += create_load("create, no journal", args, &plain).await / 2.0;
        journal_only += create_load("create, journal", args, &journal).await / 2.0;
        shipping_now.store(true, Ordering::Relaxed);
        resumed_ms.store(hippo_core::time_fmt::now_millis(), Ordering::Relaxed);
        shipping += create_load("create, shipping", args, &shipped).await / 2.0;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        resumed_ms.store(i64::MAX, Ordering::Relaxed);
        shipping_now.store(false, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let mut lags = sampler.await?;
    let mut shipper = ship_task.await?;
    lags.sort_unstable();
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 * p) as usize).min(lags.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "RPO while shipping (newest acknowledged write not yet in the backup, {} samples): p50 {} ms, p99 {} ms, max {} ms",
        lags.len(),
        pct(0.5),
        pct(0.99),
        lags.last().copied().unwrap_or(0)
    );
    println!(
        "creates/s (mean of two phases each): no journal {no_journal:.0}, journal {journal_only:.0}, shipping {shipping:.0}"
    );
    println!(
        "throughput ratio: journal / no journal {:.3}; shipping / journal {:.3}; shipping / no journal {:.3}",
        journal_only / no_journal,
        shipping / journal_only,
        shipping / no_journal
    );

    // Restore time: --records more records (in batches of 1000), shipped, then all restored.
    let big: TenantId = "restore-size".parse().expect("valid");
    store
        .create_tenant(&big, draft(&big, Action::TenantCreate))
        .await?;
    let load_started = Instant::now();
    let mut loaded = 0u64;
    while loaded < args.records {
        let n = (args.records - loaded).min(1000) as usize;
        let items: Vec<BatchItem> = (0..n)
            .map(|i| input(args.body_bytes, 0, loaded as usize + i).into())
            .collect();
        store
            .create_records(&big, items, "bench", draft(&big, Action::RecordCreate))
            .await?;
        loaded += n as u64;
        if loaded.is_multiple_of(100_000) {
            shipper.round(store.backup_sources()?, false, false).await?;
        }
    }
    shipper.round(store.backup_sources()?, true, false).await?;
    println!(
        "loaded {loaded} records in {:.1} s (shipped as it went)",
        load_started.elapsed().as_secs_f64()
    );
    // The no-journal tenant's writes after its base are in no backup, by construction.
    let total: u64 = ["journal-only", "shipping", "warm-up", "restore-size"]
        .iter()
        .map(|t| {
            let c = store
                .raw_connection(Some(&t.parse().expect("valid")))
                .expect("db");
            c.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0) as u64
        })
        .sum();
    let sink =
        hippo_backup::sink::open(sink_dir.to_str().expect("utf-8 path"), &Default::default())?;
    let started = Instant::now();
    let target = root.join("restored");
    let report =
        crate::backup_cmd::restore_to(sink.as_ref(), &keyring, &target, i64::MAX, false).await?;
    let secs = started.elapsed().as_secs_f64();
    let restored: u64 = report
        .dbs
        .iter()
        .map(|d| d.check.records_checked as u64)
        .sum();
    println!(
        "restore of the whole backup: {restored} records ({total} in the source's journaled tenants) in {secs:.1} s, every page, record hash and audit tree checked ({} databases)",
        report.dbs.len()
    );
    store.shutdown().await;
    if args.backup_sink.is_some() {
        let _ = std::fs::remove_dir_all(&sink_dir);
    }
    Ok(())
}
