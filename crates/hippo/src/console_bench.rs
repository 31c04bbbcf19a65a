//! `hippo bench --console`: how fast the console's audit browser renders over a large log.
//! A scratch deployment's tenant log is filled with `--events` audit events (a realistic mix
//! of reads, changes, sign-ins, denials, errors and break-glass reads by 40 people about 5,000
//! subjects), a server from this binary is started on it, an auditor signs in (password and
//! TOTP, as a person would), and `/console/audit` is fetched in a closed loop with a fixed mix
//! of filters and pages: render time is the full HTTPS round trip of the page, p50/p95/p99.

use crate::bench::{drive, BenchArgs};
use crate::telemetry_bench::{prepare, spawn};
use anyhow::{bail, Context, Result};
use hippo_core::{Action, Actor, ActorKind, AuditDraft, Outcome, TenantId};
use hippo_identity::totp;
use hippo_store::Store;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PEOPLE: u64 = 40;
const SUBJECTS: u64 = 5_000;
/// A strong password for the bench's own auditor (the server checks strength).
const PASSWORD: &str = "violet tractor harbour 1987 quietly";

/// The `n`-th event of the seeded log: deterministic, so every run browses the same log.
fn event(tenant: &TenantId, n: u64) -> AuditDraft {
    let mix = n.wrapping_mul(2_654_435_761) % 1000;
    let (action, outcome, emergency) = match mix {
        0..=699 => (Action::RecordRead, Outcome::Success, false),
        700..=849 => (Action::RecordCreate, Outcome::Success, false),
        850..=899 => (Action::RecordUpdate, Outcome::Success, false),
        900..=949 => (Action::RecordList, Outcome::Success, false),
        950..=979 => (Action::RecordRead, Outcome::Denied, false),
        980..=989 => (Action::RecordUpdate, Outcome::Error, false),
        _ => (Action::RecordRead, Outcome::Success, true),
    };
    let actor = Actor {
        id: format!("u-{:03}", n.wrapping_mul(7919) % PEOPLE),
        kind: ActorKind::User,
    };
    let mut d = AuditDraft::new(Some(tenant.clone()), actor, action, &format!("bench-{n}"));
    d.resource_id = Some(format!("rec-{:06}", n.wrapping_mul(104_729) % 200_000));
    d.subject_id = Some(format!("MRN-{:05}", n.wrapping_mul(31) % SUBJECTS));
    d.source_addr = Some("10.0.0.7".into());
    if outcome != Outcome::Success {
        d.failed(outcome, "bench");
    }
    if emergency {
        d.detail("emergency", true);
    }
    d
}

/// Appends `events` events to the tenant's log from 64 writers (the store group-commits them).
async fn seed(store: Arc<dyn Store>, tenant: &TenantId, events: u64) -> Result<(i64, i64)> {
    let bar = ProgressBar::with_draw_target(Some(events), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} audit events  {per_sec}  ETA {eta}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    let next = Arc::new(AtomicU64::new(0));
    let started = hippo_core::time_fmt::now_millis();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (store, next, bar, tenant) = (store.clone(), next.clone(), bar.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    return Ok::<(), anyhow::Error>(());
                }
                store
                    .append_audit(event(&tenant, n))
                    .await
                    .context("appending a bench audit event")?;
                bar.inc(1);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    bar.finish();
    Ok((started, hippo_core::time_fmt::now_millis()))
}

/// Signs a new auditor in through the API (password, TOTP enrolment); returns the session token.
async fn auditor_session(client: &reqwest::Client, base: &str, admin_key: &str) -> Result<String> {
    let post = |path: &str, token: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    post(
        "/v1/admin/users",
        admin_key,
        json!({"username": "bench.auditor", "password": PASSWORD, "role": "auditor"}),
    )
    .await?
    .error_for_status()
    .context("creating the bench auditor")?;
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "bench.auditor", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let pending = login["token"].as_str().context("a pending token")?;
    let enrol: Value = post("/v1/auth/mfa/totp", pending, json!({}))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let secret = totp::decode_base32(enrol["secret_base32"].as_str().context("a TOTP key")?)
        .context("a base32 TOTP key")?;
    let step = (hippo_core::time_fmt::now_millis() / 1000) as u64 / totp::STEP_SECS;
    let code = totp::code_at_step(&secret, step)?;
    let active: Value = post("/v1/auth/mfa/totp/confirm", pending, json!({"code": code}))
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(active["token"]
        .as_str()
        .context("an active session")?
        .to_owned())
}

/// The page mix: what an auditor asks of the browser, by name and query.
fn mix(events: u64, from_ms: i64, to_ms: i64) -> Vec<(&'static str, String)> {
    let at = |frac: f64| {
        let ms = from_ms + ((to_ms - from_ms) as f64 * frac) as i64;
        hippo_core::time_fmt::rfc3339(ms)
    };
    vec![
        ("first page", String::new()),
        (
            "deep page",
            format!(
                "cursor={}",
                hippo_core::cursor::encode(&(events / 2).to_string())
            ),
        ),
        ("action", "action=record.update".into()),
        ("actor", "actor=u-017".into()),
        ("actor+action", "actor=u-023&action=record.create".into()),
        ("subject", "subject=MRN-01234".into()),
        ("record", "resource=rec-004242".into()),
        ("denied", "outcome=denied".into()),
        ("emergency", "emergency=true".into()),
        (
            "time window",
            format!(
                "from={}&to={}",
                at(0.60).replace(':', "%3A"),
                at(0.61).replace(':', "%3A")
            ),
        ),
    ]
}

struct Pages {
    clients: Vec<reqwest::Client>,
    base: String,
    cookie: String,
    mix: Vec<(&'static str, String)>,
}

async fn fetch(p: &Pages, client: usize, query: &str) -> bool {
    let url = format!("{}/console/audit?{query}", p.base);
    match p.clients[client]
        .get(url)
        .header("cookie", &p.cookie)
        .send()
        .await
    {
        Ok(r) if r.status() == 200 => match r.text().await {
            Ok(html) => html.contains("<table") || html.contains("No events match"),
            Err(_) => false,
        },
        _ => false,
    }
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let root = std::env::temp_dir().join(format!("hippo-console-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let result = bench(args, &root).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn bench(args: &BenchArgs, scratch: &std::path::Path) -> Result<()> {
    let dir = scratch.join("data");
    let (store, key) = prepare(&dir).await?;
    let tenant: TenantId = "default".parse().expect("a valid tenant id");
    println!(
        "hippo bench --console: seeding {} audit events into tenant {tenant}'s log",
        args.events
    );
    let t = std::time::Instant::now();
    let (from_ms, to_ms) = seed(store.clone(), &tenant, args.events).await?;
    println!(
        "seeded {} events in {:.1} s ({:.0} events/s)",
        args.events,
        t.elapsed().as_secs_f64(),
        args.events as f64 / t.elapsed().as_secs_f64()
    );
    store.shutdown().await;
    drop(store);
    let server = spawn(&dir, key, &[]).await?;
    let one = crate::https::client(&server.client_ca, Some(Duration::from_secs(60)))?;
    let token = auditor_session(&one, &server.base, &server.key).await?;
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        clients.push(crate::https::client(
            &server.client_ca,
            Some(Duration::from_secs(60)),
        )?);
    }
    let pages = Arc::new(Pages {
        clients,
        base: server.base.clone(),
        cookie: format!("hippo_session={token}"),
        mix: mix(args.events, from_ms, to_ms),
    });
    // Each page of the mix once, alone, so a slow filter is named.
    println!("page (alone, 5 fetches each: median ms)");
    for (name, query) in &pages.mix {
        let mut took = Vec::new();
        for _ in 0..5 {
            let t = std::time::Instant::now();
            if !fetch(&pages, 0, query).await {
                bail!("the audit browser did not render the '{name}' page");
            }
            took.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        took.sort_by(|a, b| a.total_cmp(b));
        println!("  {name:<14} {:>8.1}", took[2]);
    }
    let mut phase = drive(
        "render",
        args.clients,
        args.seconds,
        pages.clone(),
        |p: Arc<Pages>, c, i| async move {
            let (_, query) = &p.mix[(c + i) % p.mix.len()];
            fetch(&p, c, query).await
        },
    )
    .await;
    println!(
        "the mix, {} client(s), {} s, over {} events:",
        args.clients, args.seconds, args.events
    );
    phase.print();
    Ok(())
}
