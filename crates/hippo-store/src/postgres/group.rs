//! Group commit for PostgreSQL: each instance runs concurrent operations of one audit log in
//! one transaction that takes the log's counter row once, numbers and integrates every event of
//! the batch, and commits once.
//!
//! The counter row is the sequencer across instances (see [`super::audit::append`]); holding
//! it serialises commits of one log, so the batch takes it last, after its operations ran, and
//! releases it with the commit: one lock hold and one commit per batch instead of one per
//! operation. Each operation runs in its own savepoint, so a failed one rolls back alone and
//! still records its event. A few workers per log pipeline batches: one runs its operations
//! while another holds the row to commit.

use super::audit;
use super::errors;
use crate::audit_log::LogCtx;
use crate::group_commit::{job_outcome, verdict, BatchFailure};
use crate::StoreError;
use hippo_core::AuditDraft;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most operations in one transaction. Each writing savepoint is a subtransaction; beyond 64
/// of them in one transaction PostgreSQL's per-backend cache overflows and every other
/// session's snapshot checks slow down, so a batch stays under that.
const MAX_JOBS: usize = 60;

/// Most records written by one batch (a batch ingest of 500 records weighs 500): bounds how
/// long one transaction runs, so a few large ingests do not hold small writes past their
/// timeout.
const MAX_WEIGHT: usize = 2_000;

type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A job's part once it ran: its events, whether its writes stay, and how to answer it.
struct Ran {
    keep: bool,
    events: Vec<AuditDraft>,
    /// Receives the sequence number of the job's first event, or the batch's failure.
    done: Box<dyn FnOnce(Result<i64, BatchFailure>) + Send>,
}

/// One operation: given the batch's connection (inside the job's savepoint), or `None` when
/// the batch failed before it could run.
type JobFn = Box<dyn for<'c> FnOnce(Option<&'c mut PgConnection>) -> BoxFut<'c, Ran> + Send>;

struct Job {
    /// Records the operation writes (at least 1), against [`MAX_WEIGHT`].
    weight: usize,
    run: JobFn,
}

fn job<F>(weight: usize, f: F) -> Job
where
    F: for<'c> FnOnce(Option<&'c mut PgConnection>) -> BoxFut<'c, Ran> + Send + 'static,
{
    Job {
        weight: weight.max(1),
        run: Box::new(f),
    }
}

/// What the workers of every log share.
struct Shared {
    pool: PgPool,
    /// Bounds one batch, so a database that stops answering frees its workers.
    timeout: Duration,
}

/// The group-commit queues of this instance, one per log, created on first use.
pub(super) struct Groups {
    shared: Arc<Shared>,
    workers: usize,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
}

impl Groups {
    /// `workers` batches of one log may be in flight at once (each holds a pooled connection).
    pub fn new(pool: PgPool, timeout: Duration, workers: usize) -> Self {
        Self {
            shared: Arc::new(Shared { pool, timeout }),
            workers: workers.max(1),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `op` in the next batch of `log` (a tenant id or the system log, which is also the
    /// transaction's row-level-security scope) and appends the events `events` makes of its
    /// result. Returns the result and the sequence number of its first event, once committed.
    /// `weight` is how many records `op` writes.
    pub async fn run<T, Op, Ev>(
        &self,
        log: &str,
        ctx: Arc<LogCtx>,
        weight: usize,
        op: Op,
        events: Ev,
    ) -> Result<(T, i64), StoreError>
    where
        T: Send + 'static,
        Op: for<'c> FnOnce(&'c mut PgConnection) -> super::OpFuture<'c, T> + Send + 'static,
        Ev: FnOnce(&Result<T, StoreError>) -> Vec<AuditDraft> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = job(weight, move |conn| {
            Box::pin(async move {
                let Some(conn) = conn else {
                    return Ran {
                        keep: false,
                        events: Vec::new(),
                        done: Box::new(move |v| {
                            let _ = tx.send(Err(v.err().map(|f| f.error()).unwrap_or_else(|| {
                                StoreError::Unavailable("the operation did not run".into())
                            })));
                        }),
                    };
                };
                let result = op(conn).await;
                let events = events(&result);
                Ran {
                    keep: result.is_ok(),
                    events,
                    done: Box::new(move |v: Result<i64, BatchFailure>| {
                        let seq = *v.as_ref().unwrap_or(&0);
                        let out = job_outcome(Ok(result), v.as_ref().map(|_| ()));
                        let _ = tx.send(out.map(|t| (t, seq)));
                    }),
                }
            })
        });
        self.queue(log, ctx)?
            .send(job)
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        rx.await.map_err(|_| {
            StoreError::Unavailable("the database did not finish the transaction in time".into())
        })?
    }

    fn queue(&self, log: &str, ctx: Arc<LogCtx>) -> Result<mpsc::UnboundedSender<Job>, StoreError> {
        let mut queues = self.queues.lock().expect("group queue lock");
        if let Some(q) = queues.get(log) {
            return Ok(q.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.workers {
            tokio::spawn(worker(
                self.shared.clone(),
                log.to_owned(),
                ctx.clone(),
                rx.clone(),
            ));
        }
        queues.insert(log.to_owned(), tx.clone());
        Ok(tx)
    }

    /// Stops accepting operations; the workers commit what is queued, then end.
    pub fn close(&self) {
        self.queues.lock().expect("group queue lock").clear();
    }
}

async fn worker(
    shared: Arc<Shared>,
    scope: String,
    ctx: Arc<LogCtx>,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut weight = first.weight;
            let mut batch = vec![first];
            while batch.len() < MAX_JOBS && weight < MAX_WEIGHT {
                match rx.try_recv() {
                    Ok(j) => {
                        weight += j.weight;
                        batch.push(j);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let (shared2, scope2, ctx2) = (shared.clone(), scope.clone(), ctx.clone());
        // Its own task: a panicking operation drops the batch (rolled back, every caller told
        // the database did not finish) and leaves the worker running.
        let run = tokio::spawn(async move {
            let (jobs, started) = (batch.len(), std::time::Instant::now());
            let committed = tokio::time::timeout(
                shared2.timeout,
                commit_batch(&shared2, &scope2, &ctx2, batch),
            )
            .await
            .unwrap_or(false);
            crate::stats::batch_committed(
                crate::StoreKind::Postgres,
                jobs,
                started.elapsed(),
                committed,
            );
        });
        let _ = run.await;
    }
}

/// Runs one batch; true if it committed.
async fn commit_batch(shared: &Shared, scope: &str, ctx: &LogCtx, batch: Vec<Job>) -> bool {
    let mut tx = match super::begin(&shared.pool, scope, "job").await {
        Ok(tx) => tx,
        Err(e) => {
            fail_all(batch, BatchFailure::begin(e)).await;
            return false;
        }
    };
    let last = batch.len() - 1;
    let mut ran: Vec<Ran> = Vec::with_capacity(batch.len());
    let mut broken: Option<BatchFailure> = None;
    for (i, job) in batch.into_iter().enumerate() {
        if broken.is_some() {
            ran.push((job.run)(None).await);
            continue;
        }
        let r = (job.run)(Some(&mut tx)).await;
        // Close this job's savepoint and open the next one in one round trip; after the last
        // job only a failure needs undoing (COMMIT releases the rest).
        let close = match (r.keep, i == last) {
            (true, false) => Some("RELEASE SAVEPOINT job; SAVEPOINT job"),
            (false, false) => {
                Some("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job; SAVEPOINT job")
            }
            (false, true) => Some("ROLLBACK TO SAVEPOINT job"),
            (true, true) => None,
        };
        ran.push(r);
        if let Some(sql) = close {
            if let Err(e) = sqlx::raw_sql(sql).execute(&mut *tx).await {
                broken = Some(BatchFailure::commit(errors::db(e)));
            }
        }
    }
    if let Some(f) = broken {
        answer(ran, &Err(f), None);
        return false;
    }
    let mut events = Vec::new();
    let mut offsets = Vec::with_capacity(ran.len());
    for r in &mut ran {
        offsets.push(events.len() as i64);
        events.append(&mut r.events);
    }
    let first = if events.is_empty() {
        Ok(0)
    } else {
        audit::append(&mut tx, ctx, events)
            .await
            .map_err(|e| BatchFailure::of(&e))
    };
    let first = match first {
        Ok(f) => f,
        Err(f) => {
            answer(ran, &Err(f), None);
            return false;
        }
    };
    let commit = tx
        .commit()
        .await
        .map_err(|e| BatchFailure::commit(errors::db(e)));
    let committed = commit.is_ok();
    answer(ran, &commit, Some((first, offsets)));
    committed
}

/// Answers every job of a batch with its verdict (and its first event's number).
fn answer(ran: Vec<Ran>, commit: &Result<(), BatchFailure>, numbering: Option<(i64, Vec<i64>)>) {
    for (i, r) in ran.into_iter().enumerate() {
        let seq = numbering.as_ref().map(|(first, offs)| first + offs[i]);
        (r.done)(verdict(None, commit).map(|()| seq.unwrap_or(0)));
    }
}

async fn fail_all(batch: Vec<Job>, failure: BatchFailure) {
    for job in batch {
        ((job.run)(None).await.done)(Err(failure.clone()));
    }
}
