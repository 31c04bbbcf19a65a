//! Group commit: one writer thread per database batches concurrent writes into one transaction.
//!
//! Each acknowledged write is durable (WAL with `synchronous=FULL` syncs the log on commit),
//! but one sync covers every write that arrived while the previous one ran, so durability does
//! not cost throughput under concurrency. Each job runs in its own savepoint: a job that fails
//! rolls back alone, without touching the others in its batch.

use crate::group_commit::{job_outcome, verdict, BatchFailure};
use crate::StoreError;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Most jobs committed together; bounds the latency a large batch adds to its first job.
const MAX_BATCH: usize = 512;

pub use crate::group_commit::JobResult;

type Completion = Box<dyn FnOnce(Result<(), BatchFailure>) + Send>;
/// A job receives the connection inside the batch's transaction, or `None` when the transaction
/// could not begin (then it does no work and only hands back its completion).
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

pub struct Writer {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    name: String,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` from now on.
    pub fn start(name: String, conn: Connection) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(format!("hippo-writer-{name}"))
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            name,
        })
    }

    /// Runs `f` inside the next group commit and waits until that commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> JobResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
                    Err(StoreError::Unavailable("a write job panicked".into()))
                }),
                None => Err(StoreError::Unavailable(
                    "the transaction could not begin".into(),
                )),
            };
            let keep = result.is_ok();
            let done: Completion = Box::new(move |commit| {
                let _ = tx.send(job_outcome(result, commit.as_ref().map(|_| ())));
            });
            (keep, done)
        });
        let sent = {
            let guard = self.sender.lock().expect("writer sender lock");
            match guard.as_ref() {
                Some(s) => s.send(job).is_ok(),
                None => false,
            }
        };
        if !sent {
            return Err(StoreError::Unavailable(format!(
                "the {} database is closed",
                self.name
            )));
        }
        rx.await
            .map_err(|_| StoreError::Unavailable(format!("the {} writer stopped", self.name)))?
    }

    /// Stops accepting jobs, commits those already queued, and waits for the thread to end.
    pub fn close(&self) {
        self.sender.lock().expect("writer sender lock").take();
        if let Some(t) = self.thread.lock().expect("writer thread lock").take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        let committed = commit_batch(&conn, batch);
        crate::stats::batch_committed(crate::StoreKind::Sqlite, jobs, started.elapsed(), committed);
    }
    // Fold the WAL back into the main file so a clean shutdown leaves one file per database.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

/// Runs one batch; true if it committed.
fn commit_batch(conn: &Connection, batch: Vec<Job>) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let failure = BatchFailure::begin(e);
        for job in batch {
            let (_, done) = job(None);
            done(Err(failure.clone()));
        }
        return false;
    }
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch {
        let savepoint_ok = conn.execute_batch("SAVEPOINT job").is_ok();
        let (keep, done) = job(Some(conn));
        let undo = !keep && savepoint_ok;
        let closed = if undo {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")
        } else {
            conn.execute_batch("RELEASE job")
        };
        completions.push((done, closed.err().map(BatchFailure::commit)));
    }
    let commit = conn.execute_batch("COMMIT").map_err(BatchFailure::commit);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let committed = commit.is_ok();
    for (done, savepoint) in completions {
        done(verdict(savepoint, &commit));
    }
    committed
}
