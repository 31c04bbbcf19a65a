//! `hippo backup drill`: the disaster-recovery test HIPAA asks for (164.308(a)(7)(ii)(D)),
//! measured: restore the latest backup into a scratch directory, check it end to end, serve it
//! with this same binary and read a sample of records over HTTPS, then report the recovery time
//! (start to a verified copy answering reads) and recovery point (age of the newest restored write).

use crate::backup_cmd::{self, FromArgs, KeyArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use hippo_core::{Role, TenantId};
use hippo_store::{SqliteStore, Store};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DrillArgs {
    #[command(flatten)]
    from: FromArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Records read through the API per tenant.
    #[arg(long, default_value_t = 20)]
    sample: usize,
    /// Keep the scratch copy afterwards (its path is printed).
    #[arg(long)]
    keep: bool,
    #[arg(long)]
    json: bool,
}

/// Kills the drill's server however the drill ends.
struct ServerGuard(std::process::Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(data_dir: &Path, args: DrillArgs) -> Result<()> {
    let started = Instant::now();
    let started_ms = hippo_core::time_fmt::now_millis();
    let scratch =
        std::env::temp_dir().join(format!("hippo-drill-{}-{started_ms}", std::process::id()));
    let result = drill(data_dir, &args, &scratch, started, started_ms).await;
    if args.keep {
        eprintln!("scratch copy kept at {}", scratch.display());
    } else {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let outcome = result?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "rto_secs": outcome.rto_secs,
                "restore_secs": outcome.restore_secs,
                "rpo_secs": outcome.rpo_secs,
                "records_read": outcome.records_read,
                "restore": outcome.report,
            })
        );
    } else {
        backup_cmd::print_report(&outcome.report);
        println!(
            "drill passed: {} record(s) read back over HTTPS from the restored copy",
            outcome.records_read
        );
        println!(
            "RTO {:.1} s (restored {:.1} s, verified and serving {:.1} s later)",
            outcome.rto_secs,
            outcome.restore_secs,
            outcome.rto_secs - outcome.restore_secs
        );
        println!(
            "RPO {:.1} s (age of the newest restored write when the drill began)",
            outcome.rpo_secs
        );
    }
    Ok(())
}

struct Outcome {
    rto_secs: f64,
    restore_secs: f64,
    rpo_secs: f64,
    records_read: usize,
    report: hippo_backup::restore::RestoreReport,
}

async fn drill(
    data_dir: &Path,
    args: &DrillArgs,
    scratch: &Path,
    started: Instant,
    started_ms: i64,
) -> Result<Outcome> {
    let sink = backup_cmd::open_sink_for(&args.from, data_dir)?;
    let keyring = backup_cmd::keyring(&args.keys, data_dir)?;
    eprintln!(
        "restoring the latest backup from {} into {}",
        sink.describe(),
        scratch.display()
    );
    let report = backup_cmd::restore_to(sink.as_ref(), &keyring, scratch, i64::MAX, false).await?;
    let restore_secs = started.elapsed().as_secs_f64();
    let tenants: Vec<TenantId> = report
        .dbs
        .iter()
        .filter_map(|d| d.db.parse().ok())
        .collect();
    // Credentials for the sample reads, valid for an hour, in the scratch copy only.
    let mut keys = Vec::new();
    {
        let store = SqliteStore::open(scratch)?;
        for t in &tenants {
            let expires = hippo_core::time_fmt::now_millis() + 3_600_000;
            keys.push((
                t.clone(),
                hippo_server::init::create_key(
                    &store,
                    t,
                    Role::Admin,
                    "restore drill",
                    Some(expires),
                )
                .await?,
            ));
        }
        store.shutdown().await;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let exe = std::env::current_exe().context("locating this hippo binary")?;
    let log_path = scratch.with_extension("serve.log");
    let log = std::fs::File::create(&log_path)?;
    let child = std::process::Command::new(exe)
        .arg("--data-dir")
        .arg(scratch)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("HIPPO_LOG__LEVEL", "warn")
        .env_remove("HIPPO_BACKUP__TO")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting a server on the restored copy")?;
    let _server = ServerGuard(child);
    let base = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    // The server writes the restored copy's CA on its first start.
    let ca = scratch.join("tls").join("ca.pem");
    let mut client = None;
    loop {
        if client.is_none() && ca.exists() {
            client = crate::https::client(&ca, Some(Duration::from_secs(10))).ok();
        }
        if let Some(c) = &client {
            if let Ok(r) = c.get(format!("{base}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!(
                "the server on the restored copy did not become ready within 60 s; its log:\n{log}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = client.expect("ready implies a client");
    let mut records_read = 0;
    for (tenant, key) in &keys {
        let page: serde_json::Value = client
            .get(format!(
                "{base}/v1/records?limit={}",
                args.sample.clamp(1, 100)
            ))
            .bearer_auth(key)
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("listing records of tenant {tenant} on the restored copy"))?
            .json()
            .await?;
        let ids: Vec<String> = page["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            client
                .get(format!("{base}/v1/records/{id}"))
                .bearer_auth(key)
                .send()
                .await?
                .error_for_status()
                .with_context(|| {
                    format!("reading record {id} of tenant {tenant} on the restored copy")
                })?;
            records_read += 1;
        }
    }
    let rto_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&log_path);
    let newest = report.newest_event_ms();
    let rpo_secs = if newest == 0 {
        0.0
    } else {
        (started_ms - newest).max(0) as f64 / 1000.0
    };
    Ok(Outcome {
        rto_secs,
        restore_secs,
        rpo_secs,
        records_read,
        report,
    })
}
