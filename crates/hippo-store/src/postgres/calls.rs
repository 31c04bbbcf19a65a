//! How `PgStore` runs a call: connecting and registering the ledger keys, transactions bound to
//! a log's scope as `hippo_app`, group commit of audited calls, timing, and job locks.

use super::*;

pub(super) type Tx = Transaction<'static, Postgres>;

/// The future of one operation on a connection (boxed: the operation borrows the connection,
/// which a plain generic future type cannot name).
pub(super) type OpFuture<'c, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Group-commit batches of one log in flight at once (each holds a pooled connection): one
/// runs its operations while another holds the log's counter row to commit. A quarter of the
/// pool, so that several busy logs (tenants) still leave connections for the rest.
pub(super) fn group_workers(s: &PgSettings) -> usize {
    (s.max_connections as usize / 4).clamp(1, 4)
}

/// Begins a transaction as `hippo_app`, bound to `scope` (a tenant id or [`SYSTEM_LOG`]),
/// with a savepoint `savepoint` that a failed operation rolls back to, keeping its audit event.
pub(super) async fn begin(pool: &PgPool, scope: &str, savepoint: &str) -> Result<Tx, StoreError> {
    // One simple-protocol message, so one round trip; the scope is inlined rather than
    // bound, which is safe because it is a validated tenant id or the constant — and
    // checked again here, since this string is SQL.
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    if !safe(scope) || !safe(savepoint) {
        return Err(StoreError::Database(
            "refusing an unsafe tenant scope".into(),
        ));
    }
    let sql = format!(
        "BEGIN; SET LOCAL ROLE {APP_ROLE}; SELECT set_config('hippo.tenant', '{scope}', true); SAVEPOINT {savepoint}"
    );
    pool.begin_with(sqlx::AssertSqlSafe(sql))
        .await
        .map_err(errors::db)
}

/// First key of hippo's job locks in PostgreSQL's two-key advisory lock space ("hj").
pub(super) const JOB_LOCK_SPACE: i32 = 0x686a;

/// A session-level advisory lock on a connection taken out of the pool for as long as the
/// lock is held: PostgreSQL releases it when that session ends, so a crashed holder (its socket
/// closed by the kernel) never leaves the lock behind.
pub(super) async fn job_lock(
    pool: &PgPool,
    name: &str,
) -> Result<Option<ExclusiveGuard>, StoreError> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let key = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut conn = pool.acquire().await.map_err(errors::db)?.detach();
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(JOB_LOCK_SPACE)
        .bind(key)
        .fetch_one(&mut conn)
        .await
        .map_err(errors::db)?;
    if held {
        Ok(Some(ExclusiveGuard::new(conn)))
    } else {
        let _ = sqlx::Connection::close(conn).await;
        Ok(None)
    }
}

impl PgStore {
    /// Connects (refusing a non-local database without verified TLS), applies migrations, and
    /// checks that `keys` are the deployment's ledger keys (registering them on first use).
    pub async fn connect(
        url: &str,
        settings: PgSettings,
        keys: LedgerKeys,
    ) -> Result<Self, StoreError> {
        let opts = connect::parse(url)?;
        let target = connect::describe(&opts);
        let pool = connect::pool(opts, &settings);
        migrate::apply(&pool).await.map_err(|e| match e {
            StoreError::Unavailable(m) => {
                StoreError::Unavailable(format!("cannot reach the database at {target}: {m}"))
            }
            other => other,
        })?;
        let store = Self {
            groups: group::Groups::new(
                pool.clone(),
                settings.call_timeout,
                group_workers(&settings),
            ),
            pool,
            settings,
            target,
            known: RwLock::new(HashSet::new()),
            seal: keys.credential_seal(),
            keys,
            logs: RwLock::new(HashMap::new()),
        };
        store.register_keys().await?;
        Ok(store)
    }

    /// Pins the ledger keys in the database on first start; refuses to run with other keys,
    /// which would sign heads no auditor's copy of the public key verifies and hash subjects
    /// so that they no longer match across instances.
    pub(super) async fn register_keys(&self) -> Result<(), StoreError> {
        let public = self.keys.signing.public_key().to_hex();
        let check = self.keys.redaction_check();
        let mut tx = self.begin(audit::SYSTEM).await?;
        sqlx::query(
            "INSERT INTO hippo.ledger_keys (id, public_key_hex, redaction_check, registered_at_ms)
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&public)
        .bind(&check)
        .bind(hippo_core::time_fmt::now_millis())
        .execute(&mut *tx)
        .await
        .map_err(errors::db)?;
        let (stored_public, stored_check): (String, String) = sqlx::query_as(
            "SELECT public_key_hex, redaction_check FROM hippo.ledger_keys WHERE id = 1",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(errors::db)?;
        commit(tx).await?;
        if stored_public != public || stored_check != check {
            return Err(StoreError::Crypto(format!(
                "this instance's keyring is not the one the database at {} was set up with \
                 (its audit tree heads are signed by public key {stored_public}, this keyring \
                 holds {public}); every instance must use the same keyring: give it the \
                 deployment's keyring through HIPPO_KEYRING (its JSON) or keyring_file \
                 (HIPPO_KEYRING_FILE)",
                self.target
            )));
        }
        Ok(())
    }

    /// The redaction context of the log stored as `log` (a [`LogId`] spelling: transactions
    /// carry it as their row-level-security scope, so it arrives here as text).
    pub(super) fn log_ctx(&self, log: &str) -> Result<Arc<LogCtx>, StoreError> {
        if let Some(c) = self.logs.read().expect("log map lock").get(log) {
            return Ok(c.clone());
        }
        let id: LogId = log
            .parse()
            .map_err(|_| StoreError::AuditFailed("an audit event names no valid log".into()))?;
        let ctx = Arc::new(LogCtx::from_root(&id, &self.keys.redaction_root));
        self.logs
            .write()
            .expect("log map lock")
            .insert(log.to_owned(), ctx.clone());
        Ok(ctx)
    }

    /// `host:port/database` of the database in use.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Bounds a whole call, so a database that stops answering yields `Unavailable`, not a hang.
    pub(super) async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.settings.call_timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database at {} did not answer within {} s",
                self.target,
                self.settings.call_timeout.as_secs()
            ))),
        }
    }

    /// Begins a transaction bound to `scope` with the savepoint `op` ([`begin`]).
    pub(super) async fn begin(&self, scope: &str) -> Result<Tx, StoreError> {
        begin(&self.pool, scope, "op").await
    }

    /// Ends an operation: rolls a failed one back to its savepoint, appends the audit event to
    /// `log`, and commits both together. Data is returned only once the commit succeeded.
    pub(super) async fn finish<T>(
        &self,
        mut tx: Tx,
        log: &str,
        mut draft: AuditDraft,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(e) = &result {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT op")
                .execute(&mut *tx)
                .await
                .map_err(errors::audit)?;
            draft.failed(Outcome::Error, e.reason());
        }
        audit::append(&mut tx, &*self.log_ctx(log)?, vec![draft]).await?;
        commit(tx).await?;
        result
    }

    /// One audited call in `tenant`'s scope, the shape of every record operation: checks the
    /// tenant, runs `op` in the tenant's next group commit, lets `describe` say in the event
    /// what a successful result was, and returns the result once it and its event committed.
    pub(super) async fn in_tenant<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        audit: AuditDraft,
        op: impl for<'c> FnOnce(&'c mut PgConnection) -> OpFuture<'c, T> + Send + 'static,
        describe: impl FnOnce(&mut AuditDraft, &T) + Send + 'static,
    ) -> Result<T, StoreError> {
        self.grouped(tenant, 1, op, move |result| {
            let mut audit = audit;
            crate::audit_log::conclude(&mut audit, result, describe);
            vec![audit]
        })
        .await
    }

    /// Runs `op` in `tenant`'s next group commit, with the events `events` makes of its result.
    pub(super) async fn grouped<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        weight: usize,
        op: impl for<'c> FnOnce(&'c mut PgConnection) -> OpFuture<'c, T> + Send + 'static,
        events: impl FnOnce(&Result<T, StoreError>) -> Vec<AuditDraft> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.timed(async {
            self.require_tenant(tenant).await?;
            let log = tenant.as_str();
            let (v, _) = self
                .groups
                .run(log, self.log_ctx(log)?, weight, op, events)
                .await?;
            Ok(v)
        })
        .await
    }

    /// Writes one audit event on its own (in the log's next group commit).
    pub(super) async fn write_audit(
        &self,
        log: &str,
        draft: AuditDraft,
    ) -> Result<i64, StoreError> {
        fn no_op(_: &mut PgConnection) -> OpFuture<'_, ()> {
            Box::pin(async { Ok(()) })
        }
        let (_, seq) = self
            .groups
            .run(log, self.log_ctx(log)?, 1, no_op, move |_| vec![draft])
            .await?;
        Ok(seq)
    }

    /// Whether `tenant` exists (cached once seen).
    pub(super) async fn tenant_known(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        if self.known.read().expect("tenant set lock").contains(tenant) {
            return Ok(true);
        }
        let mut tx = self.begin(tenant.as_str()).await?;
        let exists = catalog::tenant_exists(&mut tx, tenant).await?;
        drop(tx);
        if exists {
            self.known
                .write()
                .expect("tenant set lock")
                .insert(tenant.clone());
        }
        Ok(exists)
    }

    /// Fails like the embedded store does for a tenant that does not exist.
    pub(super) async fn require_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        if self.tenant_known(tenant).await? {
            Ok(())
        } else {
            Err(StoreError::TenantNotFound(tenant.to_string()))
        }
    }

    /// The stored spelling of `log` (which is also its row-level-security scope), once the
    /// tenant it belongs to is known to exist.
    pub(super) async fn log_of(&self, log: &LogId) -> Result<String, StoreError> {
        if let Some(t) = log.tenant() {
            self.require_tenant(t).await?;
        }
        Ok(log.as_str().to_owned())
    }
}

pub(super) async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit()
        .await
        .map_err(|e| StoreError::Unavailable(format!("commit failed: {}", errors::db(e))))
}
