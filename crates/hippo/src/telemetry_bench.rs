//! `hippo bench --telemetry`: what metrics and tracing cost audited reads, as a ratio in one
//! run. Two servers from this binary on scratch data directories: a baseline with metrics off
//! and no trace export, and an instrumented one with metrics on and traces sampled at
//! `--trace-ratio` (1% by default) exported to a local OTLP sink. Rounds alternate which is
//! measured first, so drift in the machine's load hits both alike; the ratio reported is the
//! median of the rounds' ratios (instrumented / baseline reads per second).

use crate::bench::{drive, BenchArgs, Phase};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) struct Running {
    child: Child,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) client_ca: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal OTLP/HTTP sink: reads each request and answers 200, counting bytes. Hand-written
/// (a few lines over a socket) because the bench only needs a collector that accepts.
async fn otlp_sink() -> Result<(String, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/traces", listener.local_addr()?);
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = bytes.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    // Head, then a body of Content-Length bytes.
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let split = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let text = String::from_utf8_lossy(&head[..split]).to_ascii_lowercase();
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut have = head.len() - split;
                    while have < len {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have += n,
                        }
                    }
                    counted.fetch_add(len as u64, Ordering::Relaxed);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if tcp.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, bytes))
}

async fn start(dir: &Path, env: &[(&str, String)]) -> Result<Running> {
    let (store, key) = prepare(dir).await?;
    store.shutdown().await;
    drop(store);
    spawn(dir, key, env).await
}

/// Initialises a scratch data directory; returns its store (open, for seeding) and the first
/// admin key.
pub(crate) async fn prepare(dir: &Path) -> Result<(Arc<dyn hippo_store::Store>, String)> {
    let done = hippo_server::init::ensure(dir, &Default::default())
        .await
        .with_context(|| format!("initialising {}", dir.display()))?;
    let key = done
        .admin_token
        .clone()
        .context("a fresh data directory yields an admin key")?;
    Ok((done.store, key))
}

/// Starts a server from this binary on a prepared data directory (its store closed) and waits
/// until it is ready.
pub(crate) async fn spawn(dir: &Path, key: String, env: &[(&str, String)]) -> Result<Running> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(dir.with_extension("serve.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("HIPPO_LOG__LEVEL", "warn")
        .env("HIPPO_RATE_LIMIT__REQUESTS_PER_SECOND", "1000000")
        .env("HIPPO_RATE_LIMIT__BURST", "1000000")
        .env_remove("HIPPO_BACKUP__TO")
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().context("starting a server")?;
    let running = Running {
        child,
        base: format!("https://127.0.0.1:{port}"),
        key,
        client_ca: dir.join("tls").join("ca.pem"),
    };
    let client = crate::https::client(&running.client_ca, Some(Duration::from_secs(5)))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", running.base)).send().await {
            if r.status().is_success() {
                return Ok(running);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "a bench server did not become ready within 60 s (log beside {})",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Target {
    clients: Vec<reqwest::Client>,
    base: String,
    auth: String,
    ids: Vec<String>,
}

async fn seed(r: &Running, clients: usize, records: usize) -> Result<Arc<Target>> {
    let mut all = Vec::new();
    for _ in 0..clients {
        all.push(crate::https::client(
            &r.client_ca,
            Some(Duration::from_secs(30)),
        )?);
    }
    let mut ids = Vec::new();
    for i in 0..records {
        let doc = serde_json::json!({"type": "Observation", "subject": format!("bench-{}", i % 50),
            "body": {"code": "8867-4", "value": 60 + (i % 40), "note": "x".repeat(400)}});
        let v: serde_json::Value = all[0]
            .post(format!("{}/v1/records", r.base))
            .bearer_auth(&r.key)
            .json(&doc)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(v["id"].as_str().context("created id")?.to_owned());
    }
    Ok(Arc::new(Target {
        clients: all,
        base: r.base.clone(),
        auth: format!("Bearer {}", r.key),
        ids,
    }))
}

async fn reads(t: &Arc<Target>, clients: usize, secs: u64, name: &'static str) -> Phase {
    drive(
        name,
        clients,
        secs,
        t.clone(),
        |t: Arc<Target>, c, i| async move {
            let id = &t.ids[(c * 7919 + i * 104_729) % t.ids.len()];
            match t.clients[c]
                .get(format!("{}/v1/records/{id}", t.base))
                .header("authorization", &t.auth)
                .send()
                .await
            {
                Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                _ => false,
            }
        },
    )
    .await
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    let root = std::env::temp_dir().join(format!("hippo-telemetry-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let result = bench(args, &root).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn bench(args: &BenchArgs, scratch: &Path) -> Result<()> {
    let (sink, exported) = otlp_sink().await?;
    println!(
        "hippo bench --telemetry: audited reads (GET /v1/records/{{id}}), {} clients, {} s per phase, {} rounds; instrumented: metrics on, traces sampled at {} to a local OTLP sink",
        args.clients, args.seconds, args.rounds, args.trace_ratio
    );
    let baseline = start(
        &scratch.join("baseline"),
        &[("HIPPO_METRICS__ENABLED", "false".into())],
    )
    .await?;
    let instrumented = start(
        &scratch.join("instrumented"),
        &[
            ("HIPPO_METRICS__ENABLED", "true".into()),
            ("HIPPO_TRACING__OTLP_ENDPOINT", sink.clone()),
            ("HIPPO_TRACING__SAMPLE_RATIO", args.trace_ratio.to_string()),
        ],
    )
    .await?;
    let b = seed(&baseline, args.clients, 200).await?;
    let t = seed(&instrumented, args.clients, 200).await?;
    // Warm both (connections, caches) before measuring.
    reads(&b, args.clients, 1, "warm").await;
    reads(&t, args.clients, 1, "warm").await;
    let mut ratios = Vec::new();
    // Reads of every round pooled per server: rounds differ by up to 15% from one another on
    // a shared 2-core machine, and the pooled ratio weighs each read once.
    let (mut reads_b, mut reads_t) = (0usize, 0usize);
    let (mut secs_b, mut secs_t) = (0f64, 0f64);
    for round in 0..args.rounds {
        let (mut pb, mut pt) = if round % 2 == 0 {
            let pb = reads(&b, args.clients, args.seconds, "baseline").await;
            (pb, reads(&t, args.clients, args.seconds, "instr.").await)
        } else {
            let pt = reads(&t, args.clients, args.seconds, "instr.").await;
            (reads(&b, args.clients, args.seconds, "baseline").await, pt)
        };
        println!("round {}:", round + 1);
        pb.print();
        pt.print();
        reads_b += pb.ops();
        reads_t += pt.ops();
        secs_b += pb.seconds();
        secs_t += pt.seconds();
        let ratio = pt.rate() / pb.rate().max(1e-9);
        println!("  ratio instrumented/baseline: {ratio:.3}");
        ratios.push(ratio);
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let median = ratios[ratios.len() / 2];
    let pooled = (reads_t as f64 / secs_t.max(1e-9)) / (reads_b as f64 / secs_b.max(1e-9));
    println!(
        "median ratio (instrumented / baseline reads per second): {median:.3}; pooled over all rounds: {pooled:.3} (target >= 0.95); {} bytes of spans exported",
        exported.load(Ordering::Relaxed)
    );
    drop(instrumented);
    drop(baseline);
    Ok(())
}
