//! `hippo import FILE...`: sends records from NDJSON and CSV files to a running server through
//! `POST /v1/records:batch`, each with a deterministic idempotency key so that a rerun (after an
//! interruption, a lost answer, or a fix of rejected lines) skips what is already imported.

use crate::import_source::{self, Entry, Format, Item, Mapping, Rejection};
use anyhow::{bail, Context, Result};
use clap::Args;
use hippo_proto::{BatchCreated, Problem};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Attempts of one batch when the server is unreachable or answers 5xx/429 (a retry is safe:
/// the items' idempotency keys make a batch that was in fact written a replay).
const ATTEMPTS: u32 = 5;

#[derive(Args)]
#[command(after_long_help = "\
Examples:
  # NDJSON: one record envelope per line, as POST /v1/records takes it
  hippo import --key \"$KEY\" patients.ndjson notes.ndjson

  # CSV: every row becomes a Patient; body fields (dotted paths) from named columns
  hippo import --key \"$KEY\" --type Patient --subject-column mrn \\
      --map 'name.family=last_name,name.given=first_name,birthDate=dob,weightKg=weight:number' \\
      patients.csv

  # The same mapping kept in a file (one field=column per line, # for comments)
  hippo import --key \"$KEY\" --type Patient --subject-column mrn --map @patients.map patients.csv

Resuming: every record is sent with an idempotency key derived from the record itself and from
how many identical records precede it in its file, so running the same command again (after an
interruption, a network failure, or fixing rejected lines) imports only what is missing; records
already imported are counted as skipped. A line may also carry its own \"idempotency_key\".

Rejected lines (bad JSON, a CSV row that fails the mapping, an item the server refuses) are
reported on stderr as FILE:LINE with the field and kind of problem, never their content, and
left out of the batches. The import stops once more than --max-errors lines are rejected (lines
already read are still sent). The exit status is 0 only if no line was rejected.")]
pub struct ImportArgs {
    /// NDJSON (.ndjson, .jsonl) or CSV (.csv) files, imported in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Server base URL.
    #[arg(long, env = "HIPPO_URL", default_value = "https://127.0.0.1:8443")]
    pub url: String,
    /// CA certificate to trust [default: <data-dir>/tls/ca.pem].
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A writer (or admin) API key of the tenant to import into; prefer the environment
    /// variable, which stays out of the process list.
    #[arg(long, env = "HIPPO_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Input format, overriding the file extension.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV: the record type of every row (e.g. Patient, Observation).
    #[arg(long = "type", value_name = "TYPE")]
    pub record_type: Option<String>,
    /// CSV: body fields from columns, `field=column[:kind]` separated by commas (or `@FILE`
    /// with one per line). A field is a dotted path into the body (`name.family`); kind is
    /// string (default), number or bool. Empty cells leave their field out.
    #[arg(long, value_name = "MAPPING")]
    pub map: Option<String>,
    /// CSV: the column holding each record's subject (e.g. a patient id); an empty cell
    /// rejects the row.
    #[arg(long, value_name = "COLUMN")]
    pub subject_column: Option<String>,
    /// CSV: a label put on every record (repeat for more).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Records per request; the server's `batch_max_records` caps it (a larger batch is split
    /// and the import goes on in batches the server accepts).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// Rejected lines tolerated before the import stops (0: stop at the first). Rejected lines
    /// never stop silently and always make the exit status non-zero.
    #[arg(long, default_value_t = 0)]
    pub max_errors: u64,
    /// No progress bar (it is also hidden when stdout or stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Default)]
struct Tally {
    read: u64,
    imported: u64,
    skipped: u64,
    rejected: u64,
}

struct Importer {
    client: reqwest::Client,
    endpoint: String,
    auth: String,
    batch_size: usize,
    max_errors: u64,
    bar: ProgressBar,
    tally: Tally,
    /// The line of the latest rejection, where an import stopped by --max-errors stopped.
    last_rejected: u64,
}

pub async fn run(data_dir: &Path, args: ImportArgs) -> Result<()> {
    let key = args
        .key
        .clone()
        .context("an API key is required: pass --key or set HIPPO_API_KEY (a writer or admin key of the tenant to import into)")?;
    let plan = plan(&args)?;
    let ca = crate::https::ca_path(args.ca.as_deref(), data_dir);
    let started = Instant::now();
    let mut importer = Importer {
        client: crate::https::client(&ca, Some(Duration::from_secs(300)))?,
        endpoint: format!("{}/v1/records:batch", args.url.trim_end_matches('/')),
        auth: format!("Bearer {key}"),
        batch_size: args.batch_size as usize,
        max_errors: args.max_errors,
        bar: progress(&plan, args.quiet)?,
        tally: Tally::default(),
        last_rejected: 0,
    };
    let mut stopped = None;
    for (path, format) in &plan.files {
        if let Some(line) = importer.file(path, *format, plan.mapping.as_ref()).await? {
            stopped = Some((path.clone(), line));
            break;
        }
    }
    importer.bar.finish_and_clear();
    let t = &importer.tally;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "import: {} record(s) read, {} imported, {} skipped (already imported), {} rejected, in {secs:.1} s ({:.0} records/s)",
        t.read,
        t.imported,
        t.skipped,
        t.rejected,
        (t.imported + t.skipped) as f64 / secs.max(1e-3)
    );
    if let Some((path, line)) = stopped {
        bail!(
            "stopped at {}:{line}: more than --max-errors {} line(s) rejected; nothing after that line was read. Fix the lines listed above (or raise --max-errors) and run the same command again: records already imported are skipped",
            path.display(),
            args.max_errors
        );
    }
    if t.rejected > 0 {
        bail!("{} line(s) rejected (listed above with their line numbers); fix them and run the same command again: records already imported are skipped", t.rejected);
    }
    Ok(())
}

/// The files with their formats, and the CSV mapping if any file needs one, all checked before
/// anything is sent.
struct Plan {
    files: Vec<(PathBuf, Format)>,
    mapping: Option<Mapping>,
}

fn plan(args: &ImportArgs) -> Result<Plan> {
    let mut files = Vec::new();
    for path in &args.files {
        let format = match args.format.or_else(|| Format::of(path)) {
            Some(f) => f,
            None => bail!("cannot tell the format of {} from its extension; pass --format ndjson or --format csv", path.display()),
        };
        if !path.is_file() {
            bail!("{} is not a readable file", path.display());
        }
        files.push((path.clone(), format));
    }
    let csv = files.iter().any(|(_, f)| *f == Format::Csv);
    let mapping = match (&args.record_type, &args.map) {
        (Some(t), Some(m)) if csv => Some(Mapping::parse(
            t,
            m,
            args.subject_column.clone(),
            args.labels.clone(),
        )?),
        _ if csv => bail!("CSV files need --type and --map, e.g. --type Patient --map 'name.family=last_name,birthDate=dob' (see hippo import --help)"),
        (None, None) if args.subject_column.is_none() && args.labels.is_empty() => None,
        _ => bail!("--type, --map, --subject-column and --label apply to CSV files only; NDJSON lines carry their own envelope"),
    };
    Ok(Plan { files, mapping })
}

/// A bar over the records of all files (counted by lines beforehand), drawn on stderr only when
/// both stdout and stderr are terminals and --quiet is not given.
fn progress(plan: &Plan, quiet: bool) -> Result<ProgressBar> {
    if quiet || !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let mut total = 0u64;
    for (path, format) in &plan.files {
        let lines = std::io::BufReader::new(open(path)?).split(b'\n').count() as u64;
        total += lines.saturating_sub(u64::from(*format == Format::Csv));
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} records  {per_sec}  ETA {eta}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    Ok(bar)
}

fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))
}

impl Importer {
    /// Imports one file; `Some(line)` when rejections passed --max-errors at that line.
    async fn file(
        &mut self,
        path: &Path,
        format: Format,
        mapping: Option<&Mapping>,
    ) -> Result<Option<u64>> {
        let reader = std::io::BufReader::new(open(path)?);
        let entries: Box<dyn Iterator<Item = Result<Entry>>> = match format {
            Format::Ndjson => Box::new(import_source::ndjson(reader)),
            Format::Csv => Box::new(import_source::csv(
                reader,
                mapping.expect("CSV files have a mapping (checked by plan)"),
                path,
            )?),
        };
        let mut pending = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("{}", path.display()))?;
            self.tally.read += 1;
            match entry {
                Ok(item) => {
                    pending.push(item);
                    if pending.len() >= self.batch_size {
                        self.send(path, std::mem::take(&mut pending)).await?;
                    }
                }
                Err(rejection) => {
                    self.reject(path, &rejection, "");
                    self.bar.inc(1);
                }
            }
            if self.tally.rejected > self.max_errors {
                self.send(path, pending).await?;
                return Ok(Some(self.last_rejected));
            }
        }
        self.send(path, pending).await?;
        Ok(None)
    }

    fn reject(&mut self, path: &Path, r: &Rejection, by: &str) {
        self.tally.rejected += 1;
        self.last_rejected = r.line;
        let msg = format!("{}:{}: rejected{by}: {}", path.display(), r.line, r.problem);
        self.bar.suspend(|| eprintln!("{msg}"));
    }

    /// Sends items in batches the server accepts, leaving out the items it rejects.
    async fn send(&mut self, path: &Path, mut items: Vec<Item>) -> Result<()> {
        let mut queue = VecDeque::new();
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(self.batch_size));
            queue.push_back(std::mem::replace(&mut items, rest));
        }
        while let Some(mut chunk) = queue.pop_front() {
            match self.post(&chunk).await? {
                Answer::Written(done) => {
                    self.tally.imported += done.created as u64;
                    self.tally.skipped += done.replayed.len() as u64;
                    self.bar.inc(chunk.len() as u64);
                }
                Answer::Refused(problems) => {
                    // Highest index first, so removing an item keeps the others' indexes.
                    for (i, problem) in problems.into_iter().rev() {
                        let Some(item) = (i < chunk.len()).then(|| chunk.remove(i)) else {
                            bail!("the server named item {i} of a batch of {}; is the URL a Hippo server?", chunk.len());
                        };
                        let line = item.line;
                        self.reject(path, &Rejection { line, problem }, " by the server");
                        self.bar.inc(1);
                    }
                    if !chunk.is_empty() {
                        queue.push_front(chunk);
                    }
                }
                Answer::TooLarge(_) if chunk.len() == 1 => {
                    let line = chunk[0].line;
                    let problem =
                        "the record is larger than the server accepts in a batch (batch_max_bytes)"
                            .into();
                    self.reject(path, &Rejection { line, problem }, " by the server");
                    self.bar.inc(1);
                }
                Answer::TooLarge(limit) => {
                    let size = limit
                        .filter(|l| (1..chunk.len()).contains(l))
                        .unwrap_or(chunk.len() / 2);
                    let msg = match limit {
                        Some(l) => format!("the server accepts at most {l} records per batch (its batch_max_records); continuing with batches of {size} (pass --batch-size {size} to avoid this)"),
                        None => format!("the server refused a batch of {} records as too large (its batch_max_bytes); continuing with batches of {size}", chunk.len()),
                    };
                    self.bar.suspend(|| eprintln!("{msg}"));
                    self.batch_size = size;
                    let mut pieces = Vec::new();
                    while !chunk.is_empty() {
                        let rest = chunk.split_off(chunk.len().min(size));
                        pieces.push(std::mem::replace(&mut chunk, rest));
                    }
                    for piece in pieces.into_iter().rev() {
                        queue.push_front(piece);
                    }
                }
            }
        }
        Ok(())
    }

    /// One batch request, retried while the server is unreachable or overloaded.
    async fn post(&self, chunk: &[Item]) -> Result<Answer> {
        let mut body = Vec::new();
        for item in chunk {
            serde_json::to_writer(&mut body, &item.envelope)?;
            body.push(b'\n');
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .client
                .post(&self.endpoint)
                .header(reqwest::header::AUTHORIZATION, &self.auth)
                .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                .body(body.clone())
                .send()
                .await;
            let why = match sent {
                Err(e) => format!("cannot reach the server at {} ({e})", self.endpoint),
                Ok(r) => match r.status().as_u16() {
                    201 => {
                        return Ok(Answer::Written(
                            r.json().await.context("reading the server's answer")?,
                        ))
                    }
                    400 => {
                        let p = problem(r).await;
                        let items = item_problems(&p);
                        if items.is_empty() {
                            bail!("the server refused a batch: {}", describe(&p));
                        }
                        return Ok(Answer::Refused(items));
                    }
                    413 => return Ok(Answer::TooLarge(batch_limit(&problem(r).await))),
                    401 => bail!("the server did not accept the API key (401): check --key or HIPPO_API_KEY"),
                    403 => bail!("the API key may not create records (403): use a writer or admin key of the tenant to import into"),
                    429 | 500..=599 => {
                        let status = r.status();
                        format!("the server answered {status}: {}", describe(&problem(r).await))
                    }
                    _ => {
                        let status = r.status();
                        bail!("the server answered {status}: {}", describe(&problem(r).await))
                    }
                },
            };
            if attempt >= ATTEMPTS {
                bail!("{why}; gave up after {ATTEMPTS} attempts. Run the same command again to resume: records already imported are skipped");
            }
            self.bar.suspend(|| eprintln!("{why}; retrying"));
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
    }
}

/// What the server made of one batch.
enum Answer {
    Written(BatchCreated),
    /// Item problems, by index in the batch (ascending), one message per item.
    Refused(Vec<(usize, String)>),
    /// 413; with the server's record limit when it names one.
    TooLarge(Option<usize>),
}

async fn problem(r: reqwest::Response) -> Problem {
    let status = r.status().as_u16();
    r.json().await.unwrap_or(Problem {
        problem_type: String::new(),
        title: "an answer that is not a problem document".into(),
        status,
        detail: None,
        instance: None,
        request_id: None,
        errors: Vec::new(),
    })
}

fn describe(p: &Problem) -> String {
    match &p.detail {
        Some(d) => format!("{}: {d}", p.title),
        None => p.title.clone(),
    }
}

/// The per-item problems of a refused batch: fields are `/INDEX/FIELD`.
fn item_problems(p: &Problem) -> Vec<(usize, String)> {
    let mut by_item: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in &p.errors {
        let Some((index, field)) = e
            .field
            .strip_prefix('/')
            .and_then(|f| f.split_once('/').or(Some((f, ""))))
        else {
            continue;
        };
        let Ok(i) = index.parse::<usize>() else {
            continue;
        };
        by_item
            .entry(i)
            .or_default()
            .push(format!("field {field}: {} ({})", e.code, e.message));
    }
    by_item
        .into_iter()
        .map(|(i, v)| (i, v.join("; ")))
        .collect()
}

/// The record limit a 413 names ("at most N records"), if it names one.
fn batch_limit(p: &Problem) -> Option<usize> {
    let detail = p.detail.as_deref()?;
    let after = detail.split("at most ").nth(1)?;
    after.split(' ').next()?.parse().ok()
}
