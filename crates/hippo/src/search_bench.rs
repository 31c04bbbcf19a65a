//! `hippo bench --search`: ingest a generated corpus through the batch API (records/s), then
//! search it with a fixed query mix at one client and at `--clients` (p50/p95/p99); and
//! `hippo bench --gen FILE`: the corpus as NDJSON.

use crate::bench::{drive, BenchArgs};
use crate::corpus;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub fn generate(path: &Path, records: u64, seed: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for i in 0..records {
        serde_json::to_writer(&mut out, &corpus::record(seed, i))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "wrote {records} records (seed {seed}) to {}",
        path.display()
    );
    Ok(())
}

struct Shared {
    clients: Vec<reqwest::Client>,
    base: String,
    auth: String,
}

pub async fn run(args: &BenchArgs, clients: Vec<reqwest::Client>) -> Result<()> {
    let key = args
        .key
        .clone()
        .context("--key (or HIPPO_BENCH_KEY) is required: a writer or admin API key")?;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let shared = Arc::new(Shared {
        clients,
        base: args.url.trim_end_matches('/').to_owned(),
        auth: format!("Bearer {key}"),
    });
    println!(
        "hippo bench --search: {} records (seed {}) in batches of {}, {} clients, target {}",
        args.records, args.seed, args.batch, args.clients, args.url
    );
    if !args.no_ingest {
        ingest(args, &shared).await?;
    }
    for clients in [1, args.clients] {
        let name: &'static str = if clients == 1 { "search1" } else { "searchN" };
        let mut phase = drive(
            name,
            clients,
            args.seconds,
            shared.clone(),
            |s: Arc<Shared>, c, i| async move {
                let q = corpus::QUERY_MIX[(c + i) % corpus::QUERY_MIX.len()];
                s.clients[c]
                    .get(format!("{}/v1/search", s.base))
                    .query(&[("q", q), ("limit", "20")])
                    .header("authorization", &s.auth)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            },
        )
        .await;
        print!("({clients:>2} clients) ");
        phase.print();
    }
    Ok(())
}

/// Ingests the corpus: clients take the next batch until it is all in; prints records/s.
async fn ingest(args: &BenchArgs, shared: &Arc<Shared>) -> Result<()> {
    let batches = args.records.div_ceil(args.batch as u64);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (shared, next, done, failed) =
            (shared.clone(), next.clone(), done.clone(), failed.clone());
        let (records, batch, seed) = (args.records, args.batch as u64, args.seed);
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::SeqCst);
                if b >= batches {
                    break;
                }
                let mut body = Vec::new();
                for i in b * batch..((b + 1) * batch).min(records) {
                    serde_json::to_writer(&mut body, &corpus::record(seed, i)).expect("json");
                    body.push(b'\n');
                }
                let n = body.iter().filter(|&&x| x == b'\n').count();
                let ok = shared.clients[c]
                    .post(format!("{}/v1/records:batch", shared.base))
                    .header("authorization", &shared.auth)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 201);
                if ok {
                    done.fetch_add(n, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let progress = {
        let done = done.clone();
        let total = args.records;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                let d = done.load(Ordering::SeqCst) as f64;
                let rate = d / started.elapsed().as_secs_f64();
                let eta = (total as f64 - d) / rate.max(1.0);
                eprintln!("  ingested {d:.0}/{total} ({rate:.0} records/s, ETA {eta:.0} s)");
            }
        })
    };
    for t in tasks {
        t.await.context("ingest task")?;
    }
    progress.abort();
    let secs = started.elapsed().as_secs_f64();
    let ingested = done.load(Ordering::SeqCst);
    println!(
        "ingest   {ingested:>9} records in {secs:.1} s: {:.0} records/s through the batch API, {} failed batches",
        ingested as f64 / secs,
        failed.load(Ordering::SeqCst)
    );
    if ingested == 0 {
        bail!("nothing was ingested: check the URL, the key (writer or admin) and the CA");
    }
    Ok(())
}
