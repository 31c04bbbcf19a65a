//! Group commit, decided once for both stores: what a batch failure is, and what each job of a
//! batch is told once its savepoint and the batch's commit have ended.
//!
//! Both stores run concurrent operations of one audit log in one transaction, each in its own
//! savepoint: a job that fails rolls back alone (its audit event is still written), and the
//! batch commits once, so one durable commit covers every operation that arrived meanwhile.

use crate::StoreError;

/// What a job reports: `Err` rolls the job back and reports that error; `Ok(inner)` keeps the
/// job's writes, whatever `inner` says (a rejected request still commits its audit event).
pub type JobResult<T> = Result<Result<T, StoreError>, StoreError>;

/// Why a batch (or a job's savepoint) did not end well; handed to every job it concerns, so it
/// is a copyable description of a [`StoreError`] rather than the error itself.
#[derive(Clone, Debug)]
pub enum BatchFailure {
    /// The database is gone or refused the transaction: retry later.
    Unavailable(String),
    /// The batch's audit events were refused: nothing of the batch was kept.
    Audit(String),
}

impl BatchFailure {
    /// A failed `COMMIT` (or savepoint command): nothing of the batch is known to be durable.
    pub fn commit(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("commit failed: {e}"))
    }

    /// The transaction could not begin: no job ran.
    pub fn begin(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("the transaction could not begin: {e}"))
    }

    /// The description of `e`, kept as precise as the error itself.
    pub fn of(e: &StoreError) -> Self {
        match e {
            StoreError::AuditFailed(m) => Self::Audit(m.clone()),
            StoreError::Unavailable(m) => Self::Unavailable(m.clone()),
            other => Self::Unavailable(other.to_string()),
        }
    }

    /// The error each job of the batch reports.
    pub fn error(&self) -> StoreError {
        match self {
            Self::Unavailable(m) => StoreError::Unavailable(m.clone()),
            Self::Audit(m) => StoreError::AuditFailed(m.clone()),
        }
    }
}

/// How one job's part of a batch ended: its own savepoint's failure wins (the job's writes are
/// in doubt), then the batch's commit.
pub fn verdict(
    savepoint: Option<BatchFailure>,
    commit: &Result<(), BatchFailure>,
) -> Result<(), BatchFailure> {
    match savepoint {
        Some(f) => Err(f),
        None => commit.clone(),
    }
}

/// What a job's caller receives: the job's own result once its part of the batch is durable,
/// otherwise the batch's failure. No data leaves before the commit that audits it.
pub fn job_outcome<T>(
    job: JobResult<T>,
    verdict: Result<(), &BatchFailure>,
) -> Result<T, StoreError> {
    match verdict {
        Ok(()) => job.and_then(|inner| inner),
        Err(f) => Err(f.error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_answered_only_after_a_clean_commit() {
        let ok: JobResult<u8> = Ok(Ok(7));
        assert_eq!(job_outcome(ok, Ok(())).unwrap(), 7);
        let rejected: JobResult<u8> =
            Ok(Err(StoreError::RecordNotFound(hippo_core::RecordId::new())));
        assert!(matches!(
            job_outcome(rejected, Ok(())),
            Err(StoreError::RecordNotFound(_))
        ));
        let f = BatchFailure::Audit("refused".into());
        assert!(matches!(
            job_outcome(Ok(Ok(7u8)), Err(&f)),
            Err(StoreError::AuditFailed(_))
        ));
        let sp = BatchFailure::commit("savepoint lost");
        let v = verdict(Some(sp), &Ok(()));
        assert!(matches!(v, Err(BatchFailure::Unavailable(m)) if m.contains("savepoint lost")));
        assert!(verdict(None, &Ok(())).is_ok());
    }
}
