//! Continuous shipping: every few seconds, each database that changed ships what it committed
//! since its last object (a base snapshot first, then sealed journal batches; the catalog, which
//! has no journal, as a new snapshot) to every sink, manifest last; journal entries every sink
//! holds are then forgotten. Reading uses its own connections (WAL readers never block the
//! writer); the only write is that short journal delete, so acknowledged writes wait at most
//! for one delete of at most `batch_rows` entries.

use crate::manifest::{self, Manifest, ObjectKind};
use crate::seal::BatchKey;
use crate::sink::BackupSink;
use crate::BackupError;
use hippo_audit::tree_head::AuditSigningKey;
use hippo_core::time_fmt::now_millis;
use hippo_core::LogId;
use hippo_store::sqlite::backup::{self as db, DbSource};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How shipping runs (from `[backup]` in the configuration).
#[derive(Debug, Clone)]
pub struct ShipSettings {
    /// Tenant databases: how often changes are shipped (this bounds the RPO).
    pub interval: Duration,
    /// The catalog (people, keys, sessions): how often it is snapshotted when it changed.
    pub catalog_interval: Duration,
    /// A new generation (fresh base) after this long, so a restore replays at most this much.
    pub base_every: Duration,
    /// Most journal rows in one batch object.
    pub batch_rows: usize,
    /// Days each object stays locked (S3 Object Lock) and unpruned.
    pub retain_days: u32,
    /// Scratch space for snapshots before upload (inside the data directory: same disk, private).
    pub scratch: PathBuf,
    /// Forget journal entries once shipped. Only the server's shipper does: a one-off
    /// `backup create` beside it must not drop entries the server has yet to ship.
    pub prune_journal: bool,
}

/// Shipping figures for `/metrics` and `hippo status`; no content, only counts and times.
#[derive(Debug, Default)]
pub struct ShipStatus {
    pub objects_shipped: AtomicU64,
    pub bytes_shipped: AtomicU64,
    pub failures: AtomicU64,
    /// When the last round that shipped everything pending ended (ms since the epoch).
    pub last_success_ms: AtomicI64,
    /// The newest audit event in every sink (ms; 0: none yet): with the time of the newest
    /// acknowledged write, the recovery point actually achieved.
    pub newest_shipped_event_ms: AtomicI64,
    /// The oldest change not yet in every sink, as of the last round (ms; 0: none).
    pub oldest_unshipped_ms: AtomicI64,
}

struct Chain {
    generation: String,
    next_index: u64,
    prev: Option<Vec<u8>>,
    journal: i64,
    started_ms: i64,
    last_ms: i64,
    /// (mtime, size) of the database file and its WAL when last shipped: unchanged means
    /// nothing to ship, without opening the database.
    fingerprint: Option<(SystemTime, u64, SystemTime, u64)>,
    /// Journal entries through this id are deleted; when (ms).
    pruned: i64,
    pruned_ms: i64,
    /// Bytes of the generation's base, and of its batches since: a restore replays the batches,
    /// so once they outweigh the base (and 256 MiB) a fresh base is cheaper for the next restore.
    base_bytes: u64,
    batch_bytes: u64,
}

/// A new generation starts once batches since the base exceed both the base and this.
const REBASE_MIN_BYTES: u64 = 256 * 1024 * 1024;

/// Shipped journal entries are deleted once this many have gathered, or this long after the
/// last delete: each delete takes the database's write lock, so it is done in bulk, not per round.
const PRUNE_EVERY_ENTRIES: i64 = 100_000;
const PRUNE_EVERY_MS: i64 = 30_000;

pub struct Shipper {
    sinks: Vec<Box<dyn BackupSink>>,
    signer: AuditSigningKey,
    wrapped_catalog_key: Vec<u8>,
    settings: ShipSettings,
    chains: HashMap<LogId, Chain>,
    pub status: Arc<ShipStatus>,
}

fn fingerprint(path: &std::path::Path) -> Option<(SystemTime, u64, SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    let wal = std::fs::metadata(format!("{}-wal", path.display())).ok();
    Some((
        m.modified().ok()?,
        m.len(),
        wal.as_ref()
            .and_then(|w| w.modified().ok())
            .unwrap_or(SystemTime::UNIX_EPOCH),
        wal.map(|w| w.len()).unwrap_or(0),
    ))
}

impl Shipper {
    pub fn new(
        sinks: Vec<Box<dyn BackupSink>>,
        signer: AuditSigningKey,
        wrapped_catalog_key: Vec<u8>,
        settings: ShipSettings,
    ) -> Self {
        Self {
            sinks,
            signer,
            wrapped_catalog_key,
            settings,
            chains: HashMap::new(),
            status: Arc::new(ShipStatus::default()),
        }
    }

    fn retain_until(&self, now: i64) -> i64 {
        now + i64::from(self.settings.retain_days) * 86_400_000
    }

    /// Ships every database that changed. `force` ships the catalog even if its interval has
    /// not passed, and starts new generations everywhere when `new_generation` (a `backup create`).
    pub async fn round(
        &mut self,
        sources: Vec<DbSource>,
        force: bool,
        new_generation: bool,
    ) -> Result<usize, BackupError> {
        let mut shipped = 0;
        let mut first_error = None;
        let mut oldest_unshipped = 0i64;
        for source in sources {
            match self.ship_one(source, force, new_generation).await {
                Ok(n) => shipped += n,
                Err((e, pending_since)) => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    if pending_since > 0
                        && (oldest_unshipped == 0 || pending_since < oldest_unshipped)
                    {
                        oldest_unshipped = pending_since;
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        self.status
            .oldest_unshipped_ms
            .store(oldest_unshipped, Ordering::Relaxed);
        match first_error {
            Some(e) => Err(e),
            None => {
                self.status
                    .last_success_ms
                    .store(now_millis(), Ordering::Relaxed);
                Ok(shipped)
            }
        }
    }

    /// Ships one database; on failure returns the error and since when its changes wait.
    async fn ship_one(
        &mut self,
        source: DbSource,
        force: bool,
        new_generation: bool,
    ) -> Result<usize, (BackupError, i64)> {
        let now = now_millis();
        let log = source.log.clone();
        let fp = fingerprint(&source.path);
        let catalog = log == LogId::System;
        let start_new = match self.chains.get(&log) {
            None => true,
            Some(c) => {
                new_generation
                    || now - c.started_ms >= self.settings.base_every.as_millis() as i64
                    || c.batch_bytes > c.base_bytes.max(REBASE_MIN_BYTES)
            }
        };
        if !start_new {
            let c = &self.chains[&log];
            if c.fingerprint == fp && fp.is_some() && !force {
                return Ok(0);
            }
            if catalog
                && !force
                && now - c.last_ms < self.settings.catalog_interval.as_millis() as i64
            {
                return Ok(0);
            }
        }
        let pending_since = self.chains.get(&log).map(|c| c.last_ms).unwrap_or(now);
        // A chain continues only where its last manifest still is in every sink (a prune, or
        // an operator, may have removed it): otherwise it starts again with a new generation.
        let mut start_new = start_new;
        if !start_new {
            let c = &self.chains[&log];
            let last = manifest::manifest_name(&log.to_string(), &c.generation, c.next_index - 1);
            for sink in &self.sinks {
                if !sink.exists(&last).await {
                    tracing::warn!(db = %log, sink = %sink.describe(), "the backup chain's last object is gone; starting a new generation");
                    start_new = true;
                    break;
                }
            }
        }
        let result = if start_new || catalog {
            self.ship_base(source, start_new, now).await
        } else {
            self.ship_batches(source).await
        };
        match result {
            Ok(n) => {
                if let Some(c) = self.chains.get_mut(&log) {
                    c.fingerprint = fp;
                    c.last_ms = now;
                }
                Ok(n)
            }
            Err(e) => {
                // What reached the sinks of this attempt is unknown: the next round starts a
                // new generation rather than risk a chain with a hole in it.
                self.chains.remove(&log);
                Err((e, pending_since))
            }
        }
    }

    async fn put_everywhere(
        &self,
        name: &str,
        bytes: &[u8],
        until: i64,
    ) -> Result<(), BackupError> {
        for sink in &self.sinks {
            sink.put(name, bytes, until)
                .await
                .map_err(|e| BackupError::Sink(format!("{}: {e}", sink.describe())))?;
        }
        self.status.objects_shipped.fetch_add(1, Ordering::Relaxed);
        self.status
            .bytes_shipped
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// A snapshot as the next object (index 0 of a new generation, or the catalog's next).
    async fn ship_base(
        &mut self,
        source: DbSource,
        new_generation: bool,
        now: i64,
    ) -> Result<usize, BackupError> {
        std::fs::create_dir_all(&self.settings.scratch)
            .map_err(|e| BackupError::Sink(format!("{}: {e}", self.settings.scratch.display())))?;
        let log = source.log.clone();
        let file = self.settings.scratch.join(format!("{log}.snapshot"));
        let source = Arc::new(source);
        let (src, f2) = (source.clone(), file.clone());
        let pos = tokio::task::spawn_blocking(move || db::snapshot(&src, &f2))
            .await
            .map_err(|_| BackupError::Sink("the snapshot task panicked".into()))??;
        let bytes = std::fs::read(&file)
            .map_err(|e| BackupError::Sink(format!("{}: {e}", file.display())))?;
        let _ = std::fs::remove_file(&file);
        if new_generation || !self.chains.contains_key(&log) {
            let generation = manifest::new_generation(now, hippo_store::random::bytes()?);
            self.chains.insert(
                log.clone(),
                Chain {
                    generation,
                    next_index: 0,
                    prev: None,
                    journal: 0,
                    started_ms: now,
                    last_ms: now,
                    fingerprint: None,
                    pruned: 0,
                    pruned_ms: 0,
                    base_bytes: 0,
                    batch_bytes: 0,
                },
            );
        }
        let from = self.chains[&log].journal;
        self.ship_object(&log, ObjectKind::Base, &bytes, from, pos, 0, now)
            .await?;
        if log != LogId::System {
            self.prune(&source, true).await?;
        }
        Ok(1)
    }

    #[allow(clippy::too_many_arguments)]
    async fn ship_object(
        &mut self,
        log: &LogId,
        kind: ObjectKind,
        bytes: &[u8],
        from: i64,
        position: db::DbPosition,
        rows: u64,
        now: i64,
    ) -> Result<(), BackupError> {
        let chain = &self.chains[log];
        let until = self.retain_until(now);
        let m = Manifest {
            format: manifest::FORMAT.into(),
            deployment: String::new(),
            db: log.to_string(),
            generation: chain.generation.clone(),
            index: chain.next_index,
            kind,
            prev: chain.prev.as_ref().map(|b| manifest::sha256_hex(b)),
            object_sha256: manifest::sha256_hex(bytes),
            object_bytes: bytes.len() as u64,
            journal_from: from,
            journal_to: position.journal,
            rows,
            position,
            taken_at_ms: now,
            retain_until_ms: until,
            wrapped_catalog_key: (*log == LogId::System && kind == ObjectKind::Base).then(|| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(&self.wrapped_catalog_key)
            }),
            signature: String::new(),
        };
        let (m, manifest_bytes) = m.sign(&self.signer);
        // Object first, manifest last: an object without its manifest does not count.
        self.put_everywhere(&m.object_name(), bytes, until).await?;
        self.put_everywhere(&m.manifest_name(), &manifest_bytes, until)
            .await?;
        self.status
            .newest_shipped_event_ms
            .fetch_max(m.position.newest_event_ms, Ordering::Relaxed);
        let chain = self.chains.get_mut(log).expect("chain exists");
        match kind {
            ObjectKind::Base => {
                chain.base_bytes = bytes.len() as u64;
                chain.batch_bytes = 0;
            }
            ObjectKind::Batch => chain.batch_bytes += bytes.len() as u64,
        }
        chain.next_index += 1;
        chain.prev = Some(manifest_bytes);
        chain.journal = m.journal_to;
        Ok(())
    }

    /// Ships the journal rows committed since the chain's last object, in batches.
    async fn ship_batches(&mut self, source: DbSource) -> Result<usize, BackupError> {
        let log = source.log.clone();
        let key = BatchKey::derive(source.key());
        let source = Arc::new(source);
        let mut shipped = 0;
        loop {
            let after = self.chains[&log].journal;
            let limit = self.settings.batch_rows;
            let src = source.clone();
            let (rows, pos) = tokio::task::spawn_blocking(move || {
                db::read_journal(&src.connect()?, after, limit)
            })
            .await
            .map_err(|_| BackupError::Sink("the journal read panicked".into()))??;
            let Some(last) = rows.last() else { break };
            if rows[0].id != after + 1 {
                // Entries this chain never shipped are gone (pruned by another shipper, or a
                // database restored underneath): continuity is lost, so start a new generation.
                tracing::warn!(db = %log, "backup journal has a gap; starting a new generation");
                let now = now_millis();
                drop(rows);
                let source = Arc::try_unwrap(source).unwrap_or_else(|a| {
                    DbSource::new(a.log.clone(), a.path.clone(), a.key().clone())
                });
                return self.ship_base(source, true, now).await.map(|n| shipped + n);
            }
            let now = now_millis();
            let chain = &self.chains[&log];
            let name = manifest::object_name(
                &log.to_string(),
                &chain.generation,
                chain.next_index,
                ObjectKind::Batch,
            );
            let sealed = key.seal(&name, &rows, hippo_store::random::bytes()?);
            let full = rows.len() == limit;
            // The position describes the end of this batch only when it took everything.
            let position = db::DbPosition {
                journal: last.id,
                ..if full { partial_position(&rows) } else { pos }
            };
            self.ship_object(
                &log,
                ObjectKind::Batch,
                &sealed,
                after,
                position,
                rows.len() as u64,
                now,
            )
            .await?;
            shipped += 1;
            self.prune(&source, false).await?;
            if !full {
                break;
            }
        }
        Ok(shipped)
    }

    /// Forgets journal entries every sink now holds.
    async fn prune(&mut self, source: &Arc<DbSource>, now_anyway: bool) -> Result<(), BackupError> {
        if !self.settings.prune_journal {
            return Ok(());
        }
        let chain = &self.chains[&source.log];
        let through = chain.journal;
        let now = now_millis();
        let due = now_anyway
            || through - chain.pruned >= PRUNE_EVERY_ENTRIES
            || (through > chain.pruned && now - chain.pruned_ms >= PRUNE_EVERY_MS);
        if !due {
            return Ok(());
        }
        let src = source.clone();
        tokio::task::spawn_blocking(move || db::prune_journal(&src.connect()?, through))
            .await
            .map_err(|_| BackupError::Sink("the journal prune panicked".into()))??;
        let chain = self.chains.get_mut(&source.log).expect("chain exists");
        chain.pruned = through;
        chain.pruned_ms = now;
        Ok(())
    }
}

/// The position a batch that did not reach the journal's end can vouch for: only its rows.
fn partial_position(rows: &[db::JournalRow]) -> db::DbPosition {
    db::DbPosition {
        journal: rows.last().map(|r| r.id).unwrap_or(0),
        audit_size: 0,
        audit_root: String::new(),
        newest_event_ms: rows
            .iter()
            .filter(|r| r.is_event())
            .map(|r| r.time_ms())
            .max()
            .unwrap_or(0),
        tree_head: None,
    }
}
