//! `hippo bench`: a closed-loop load generator measuring durable creates/s and audited reads/s
//! with N concurrent keep-alive clients, over HTTPS against a running server, or directly
//! against the store (no HTTP, no TLS) for comparison.

use anyhow::{bail, Context, Result};
use clap::Args;
use hippo_core::{Action, Actor, AuditDraft, RecordId, RecordInput, TenantId};
use hippo_store::{SqliteStore, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Server base URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// CA certificate to trust [default: <data-dir>/tls/ca.pem].
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// A writer (or admin) API key.
    #[arg(long, env = "HIPPO_BENCH_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// A file of API keys, one per line (one per tenant): client `c` uses key `c % N`, and
    /// reads back what it created with the same key (multi-tenant load).
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    pub keys_file: Option<PathBuf>,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds per phase (create, then read).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Size of each record body in bytes.
    #[arg(long, default_value_t = 512)]
    pub body_bytes: usize,
    /// Benchmark the bare store in a scratch directory instead of a server.
    #[arg(long)]
    pub store_only: bool,
    /// Data directory (for the default CA path).
    #[arg(long, env = "HIPPO_DATA_DIR", default_value = "./hippo-data")]
    pub data_dir: PathBuf,
    /// Search benchmark instead: ingest --records generated records through
    /// `POST /v1/records:batch`, then run a fixed query mix at 1 client and at --clients.
    #[arg(long)]
    pub search: bool,
    /// Records of the generated corpus (search benchmark and --gen).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// Records per batch request when ingesting.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Corpus seed: the same seed gives the same records everywhere.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With --search: skip the ingest and search what the server already holds (a corpus
    /// ingested by an earlier run).
    #[arg(long)]
    pub no_ingest: bool,
    /// Backup benchmark instead (bare store): create throughput without the backup journal,
    /// with it, and while shipping every second (ratios in one run), the recovery point under
    /// that load, then the restore time of a backup holding --records more records.
    #[arg(long, conflicts_with = "search")]
    pub backup: bool,
    /// With --backup: the directory to ship to [default: beside the scratch data directory,
    /// on the same disk]; another disk or a tmpfs shows what the shared disk costs.
    #[arg(long, value_name = "DIR", requires = "backup")]
    pub backup_sink: Option<PathBuf>,
    /// Telemetry overhead instead: audited reads on a server with metrics off and no tracing
    /// against one with metrics on and traces sampled at --trace-ratio, in alternating rounds
    /// (both servers started from this binary on scratch data directories).
    #[arg(long, conflicts_with_all = ["search", "backup"])]
    pub telemetry: bool,
    /// With --telemetry: measured rounds (each measures both servers).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// With --telemetry: fraction of traces the instrumented server samples.
    #[arg(long, default_value_t = 0.01)]
    pub trace_ratio: f64,
    /// Console benchmark instead: render time of the audit browser (`/console/audit`, a fixed
    /// mix of filters and pages) over a tenant log of --events audit events, signed in as an
    /// auditor, on a scratch deployment started from this binary.
    #[arg(long, conflicts_with_all = ["search", "backup", "telemetry"])]
    pub console: bool,
    /// With --console: audit events in the browsed log.
    #[arg(long, default_value_t = 1_000_000, requires = "console")]
    pub events: u64,
    /// Documents benchmark instead (no server): sealed upload and download throughput against
    /// copying the same bytes unencrypted through the same sink, and memory per concurrent
    /// upload (--clients uploads at once).
    #[arg(long, conflicts_with_all = ["search", "backup"])]
    pub documents: bool,
    /// With --documents: a directory or s3://bucket/prefix [default: a scratch directory].
    #[arg(long, value_name = "DIR|S3_URL", requires = "documents")]
    pub documents_to: Option<String>,
    /// With --documents: size of each document in MiB.
    #[arg(long, default_value_t = 32, requires = "documents")]
    pub document_mib: usize,
    /// Write the generated corpus to this file as NDJSON (for `POST /v1/records:batch` or
    /// other tools) and exit.
    #[arg(long, value_name = "FILE")]
    pub gen: Option<PathBuf>,
}

/// Results of one phase.
pub(crate) struct Phase {
    name: &'static str,
    ops: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Phase {
    /// Successful operations.
    pub(crate) fn ops(&self) -> usize {
        self.ops
    }

    /// Length of the phase in seconds.
    pub(crate) fn seconds(&self) -> f64 {
        self.elapsed.as_secs_f64()
    }

    /// Successful operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn print(&mut self) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let l = &self.latencies_us;
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() as f64 * p) as usize).min(l.len() - 1)] as f64 / 1000.0
            }
        };
        println!(
            "{:<8} {:>9} ops {:>10.0} ops/s  p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms  max {:>7.2} ms  errors {}",
            self.name,
            self.ops,
            self.ops as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.95),
            pct(0.99),
            pct(0.999),
            pct(1.0),
            self.errors
        );
    }
}

fn body(bytes: usize, n: usize) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("seq".into(), n.into());
    m.insert("text".into(), "x".repeat(bytes.saturating_sub(32)).into());
    m
}

/// Runs `op` from `clients` tasks for `secs`, each task calling it in a closed loop.
pub(crate) async fn drive<S, F, Fut>(
    name: &'static str,
    clients: usize,
    secs: u64,
    shared: Arc<S>,
    op: F,
) -> Phase
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (op, shared) = (op.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                if op(shared.clone(), client, i).await {
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                } else {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut phase = Phase {
        name,
        ops: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("bench task");
        phase.ops += lat.len();
        phase.errors += errors;
        phase.latencies_us.extend(lat);
    }
    phase.elapsed = started.elapsed();
    phase
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.clients == 0 || args.seconds == 0 {
        bail!("--clients and --seconds must be at least 1");
    }
    if let Some(path) = &args.gen {
        return crate::search_bench::generate(path, args.records, args.seed);
    }
    if args.search {
        return crate::search_bench::run(&args, http_clients(&args)?).await;
    }
    if args.backup {
        return crate::backup_bench::run(&args).await;
    }
    if args.telemetry {
        if args.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        return crate::telemetry_bench::run(&args).await;
    }
    if args.console {
        return crate::console_bench::run(&args).await;
    }
    if args.documents {
        return crate::docs_bench::run(&args).await;
    }
    println!(
        "hippo bench: {} clients, {} s per phase, {}-byte bodies, target {}",
        args.clients,
        args.seconds,
        args.body_bytes,
        if args.store_only {
            "bare store (no HTTP, no TLS)".to_owned()
        } else {
            args.url.clone()
        }
    );
    if args.store_only {
        store_bench(&args).await
    } else {
        http_bench(&args).await
    }
}

struct HttpShared {
    clients: Vec<reqwest::Client>,
    base: String,
    /// One `Bearer` header per key (tenant); client `c` uses key `c % len`.
    auths: Vec<String>,
    body_bytes: usize,
    /// The records created with each key, read back with the same key.
    ids: Vec<std::sync::Mutex<Vec<String>>>,
}

impl HttpShared {
    fn key_of(&self, client: usize) -> usize {
        client % self.auths.len()
    }
}

async fn http_bench(args: &BenchArgs) -> Result<()> {
    let keys: Vec<String> = match &args.keys_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec![args.key.clone().context(
            "--key (or HIPPO_BENCH_KEY, or --keys-file) is required: a writer or admin API key",
        )?],
    };
    if keys.is_empty() {
        bail!("the keys file holds no key");
    }
    let clients = http_clients(args)?;
    let shared = Arc::new(HttpShared {
        clients,
        base: args.url.trim_end_matches('/').to_owned(),
        ids: keys
            .iter()
            .map(|_| std::sync::Mutex::new(Vec::new()))
            .collect(),
        auths: keys.iter().map(|k| format!("Bearer {k}")).collect(),
        body_bytes: args.body_bytes,
    });
    let mut create = drive("create", args.clients, args.seconds, shared.clone(), |s: Arc<HttpShared>, c, i| async move {
        let doc = serde_json::json!({"type": "Observation", "subject": format!("bench-{c}"), "body": body(s.body_bytes, i)});
        let k = s.key_of(c);
        let resp = s.clients[c].post(format!("{}/v1/records", s.base)).header("authorization", &s.auths[k]).json(&doc).send().await;
        match resp {
            Ok(r) if r.status() == 201 => match r.json::<serde_json::Value>().await {
                Ok(v) => {
                    if let Some(id) = v["id"].as_str() {
                        s.ids[k].lock().expect("ids").push(id.to_owned());
                    }
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }
    })
    .await;
    create.print();
    if shared
        .ids
        .iter()
        .any(|ids| ids.lock().expect("ids").is_empty())
    {
        bail!("a key created no record: check the URL, the keys (writer or admin) and the CA");
    }
    let mut read = drive(
        "read",
        args.clients,
        args.seconds,
        shared.clone(),
        |s: Arc<HttpShared>, c, i| async move {
            let k = s.key_of(c);
            let id = {
                let ids = s.ids[k].lock().expect("ids");
                ids[(c * 7919 + i * 104_729) % ids.len()].clone()
            };
            let resp = s.clients[c]
                .get(format!("{}/v1/records/{id}", s.base))
                .header("authorization", &s.auths[k])
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                _ => false,
            }
        },
    )
    .await;
    read.print();
    Ok(())
}

/// One HTTPS client per simulated user (its own HTTP/1.1 keep-alive connection), trusting the
/// deployment's CA.
fn http_clients(args: &BenchArgs) -> Result<Vec<reqwest::Client>> {
    let ca = crate::https::ca_path(args.ca.as_deref(), &args.data_dir);
    (0..args.clients)
        .map(|_| crate::https::client(&ca, None))
        .collect()
}

struct StoreShared {
    store: SqliteStore,
    tenant: TenantId,
    body_bytes: usize,
    ids: std::sync::Mutex<Vec<RecordId>>,
}

/// Record `i` of client `c`, as every store benchmark writes it.
pub(crate) fn bench_input(bytes: usize, c: usize, i: usize) -> RecordInput {
    RecordInput {
        record_type: "Observation".into(),
        subject: Some(format!("bench-{c}")),
        labels: Vec::new(),
        body: body(bytes, i),
    }
}

pub(crate) fn bench_draft(tenant: &TenantId, action: Action) -> AuditDraft {
    AuditDraft::new(Some(tenant.clone()), Actor::operator(), action, "bench")
}

async fn store_bench(args: &BenchArgs) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("hippo-bench-{}", std::process::id()));
    let store = SqliteStore::create(&scratch)?;
    let tenant: TenantId = "bench".parse().expect("valid tenant");
    store
        .create_tenant(&tenant, bench_draft(&tenant, Action::TenantCreate))
        .await?;
    let shared = Arc::new(StoreShared {
        store,
        tenant,
        body_bytes: args.body_bytes,
        ids: std::sync::Mutex::new(Vec::new()),
    });
    let mut create = drive(
        "create",
        args.clients,
        args.seconds,
        shared.clone(),
        |s: Arc<StoreShared>, c, i| async move {
            let input = bench_input(s.body_bytes, c, i);
            match s
                .store
                .create_record(
                    &s.tenant,
                    input,
                    "bench",
                    bench_draft(&s.tenant, Action::RecordCreate),
                )
                .await
            {
                Ok(r) => {
                    s.ids.lock().expect("ids").push(r.id);
                    true
                }
                Err(_) => false,
            }
        },
    )
    .await;
    create.print();
    let mut read = drive(
        "read",
        args.clients,
        args.seconds,
        shared.clone(),
        |s: Arc<StoreShared>, c, i| async move {
            let id = {
                let ids = s.ids.lock().expect("ids");
                ids[(c * 7919 + i * 104_729) % ids.len()]
            };
            s.store
                .get_record(&s.tenant, id, bench_draft(&s.tenant, Action::RecordRead))
                .await
                .is_ok()
        },
    )
    .await;
    read.print();
    shared.store.shutdown().await;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
