//! Point-in-time restore: the catalog's newest snapshot taken by the chosen moment, then each
//! of its tenants from the base of the generation reaching furthest toward that moment plus its
//! batches, cut to whole jobs written by then. Everything lands in a staging directory and is
//! checked there (pages, record hashes, audit trees against signed heads and against the
//! positions the manifests vouch for) before the caller moves it into place.

use crate::inventory::{fetch, Generation, Inventory};
use crate::manifest::{Manifest, ObjectKind};
use crate::seal::BatchKey;
use crate::sink::BackupSink;
use crate::BackupError;
use hippo_core::LogId;
use hippo_store::keyring::{self, Keyring};
use hippo_store::sqlite::backup::{self as db, DbCheck, DbSource, JournalRow, Layout};
use serde::Serialize;
use std::path::Path;

/// What was restored for one database.
#[derive(Debug, Clone, Serialize)]
pub struct DbRestore {
    pub db: String,
    pub generation: String,
    pub objects: usize,
    pub bytes: u64,
    pub rows_applied: usize,
    /// The newest audit event restored (ms; 0 if none).
    pub newest_event_ms: i64,
    pub check: DbCheck,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The moment restored to (ms since the epoch).
    pub until_ms: i64,
    pub dbs: Vec<DbRestore>,
}

impl RestoreReport {
    pub fn newest_event_ms(&self) -> i64 {
        self.dbs
            .iter()
            .map(|d| d.newest_event_ms)
            .max()
            .unwrap_or(0)
    }
}

/// Where a restore into a staging directory stands, so that a run after a kill resumes: per
/// database the generation being restored and the first batch not yet wholly applied. Names and
/// numbers only, never content. Applying is idempotent (rows already present are skipped), so a
/// progress file one batch behind is harmless.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Progress {
    until_ms: i64,
    dbs: std::collections::BTreeMap<String, (String, u64)>,
}

/// The progress file inside a staging directory (removed before it is moved into place).
pub const PROGRESS_FILE: &str = ".restore-progress.json";

impl Progress {
    fn load(staging: &Path, until_ms: i64) -> Self {
        std::fs::read(staging.join(PROGRESS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Progress>(&b).ok())
            .filter(|p| p.until_ms == until_ms)
            .unwrap_or(Progress {
                until_ms,
                ..Progress::default()
            })
    }

    fn save(&self, staging: &Path) -> Result<(), BackupError> {
        let path = staging.join(PROGRESS_FILE);
        let tmp = staging.join(format!("{PROGRESS_FILE}.tmp"));
        keyring::write_private_file(
            &tmp,
            &serde_json::to_vec(self).expect("progress serialises"),
        )?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| BackupError::Restore(format!("{}: {e}", path.display())))
    }
}

/// Whether `staging` holds an interrupted restore to the same moment (which a run resumes).
pub fn resumable(staging: &Path, until_ms: i64) -> bool {
    Progress::load(staging, until_ms)
        .dbs
        .values()
        .next()
        .is_some()
}

/// Writes `bytes` to `path` atomically (a killed run leaves the old file or none, never half).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let tmp = path.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    keyring::write_private_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
        .map_err(|e| BackupError::Restore(format!("{}: {e}", path.display())))
}

fn restore_err(msg: String) -> BackupError {
    BackupError::Restore(msg)
}

/// Restores every database as of `until_ms` into `staging` (an empty private directory).
pub async fn restore_into(
    sink: &dyn BackupSink,
    inventory: &Inventory,
    keyring: &Keyring,
    staging: &Path,
    until_ms: i64,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<RestoreReport, BackupError> {
    let key = keyring.ledger_keys()?.signing.public_key();
    let layout = Layout::new(staging);
    keyring::create_private_dir(staging)?;
    keyring::create_private_dir(&layout.tenants_dir())?;
    let system = LogId::System.to_string();
    let catalog_gen = inventory.pick(&system, until_ms)?.ok_or_else(|| {
        restore_err(format!(
            "no backup of the catalog reaches back to {} (see `hippo backup list`)",
            hippo_core::time_fmt::rfc3339(until_ms)
        ))
    })?;
    let snapshot = catalog_gen
        .manifests
        .iter()
        .rev()
        .find(|m| m.taken_at_ms <= until_ms && m.kind == ObjectKind::Base)
        .expect("a generation reaching the moment has a base by then");
    progress(&format!("catalog: snapshot {}", snapshot.object_name()));
    let bytes = fetch(sink, snapshot).await?;
    write_atomically(&layout.catalog_db(), &bytes)?;
    let wrapped = snapshot
        .wrapped_catalog_key
        .as_deref()
        .and_then(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(k).ok()
        })
        .ok_or_else(|| {
            BackupError::refused(
                snapshot.manifest_name(),
                "a catalog base without its wrapped key",
            )
        })?;
    let catalog_key = db::catalog_key(keyring, &wrapped)
        .map_err(|e| BackupError::refused(snapshot.manifest_name(), e))?;
    write_atomically(&layout.catalog_key(), &wrapped)?;
    let catalog = DbSource::new(LogId::System, layout.catalog_db(), catalog_key);
    let (tenants, check) = {
        let conn = catalog.connect()?;
        db::reset_journal(&conn)?;
        (
            db::tenant_keys(keyring, &conn)?,
            db::check(&conn, &LogId::System, &key)?,
        )
    };
    let mut report = RestoreReport {
        until_ms,
        dbs: vec![DbRestore {
            db: system,
            generation: catalog_gen.name.clone(),
            objects: 1,
            bytes: snapshot.object_bytes,
            rows_applied: 0,
            newest_event_ms: snapshot.position.newest_event_ms,
            check,
        }],
    };
    let mut state = Progress::load(staging, until_ms);
    for (tenant, data_key) in tenants {
        let name = tenant.to_string();
        let generation = inventory.pick(&name, until_ms)?.ok_or_else(|| {
            restore_err(format!(
                "tenant {name} is in the catalog but no backup of it reaches back to {}",
                hippo_core::time_fmt::rfc3339(until_ms)
            ))
        })?;
        progress(&format!("tenant {name}: generation {}", generation.name));
        let source = DbSource::new(
            LogId::Tenant(tenant.clone()),
            layout.tenant_db(&tenant),
            data_key,
        );
        report.dbs.push(
            restore_tenant(
                sink, generation, &source, until_ms, &key, progress, staging, &mut state,
            )
            .await?,
        );
    }
    let _ = std::fs::remove_file(staging.join(PROGRESS_FILE));
    for d in &report.dbs {
        if let Some(p) = &d.check.problem {
            return Err(restore_err(format!(
                "restored database {} failed its check: {p}",
                d.db
            )));
        }
    }
    Ok(report)
}

// The staging directory and progress travel with the call: a struct for them would only rename them.
#[allow(clippy::too_many_arguments)]
async fn restore_tenant(
    sink: &dyn BackupSink,
    generation: &Generation,
    source: &DbSource,
    until_ms: i64,
    key: &hippo_audit::tree_head::AuditPublicKey,
    progress: &(dyn Fn(&str) + Sync),
    staging: &Path,
    state: &mut Progress,
) -> Result<DbRestore, BackupError> {
    let base = &generation.manifests[0];
    let resume_at = state
        .dbs
        .get(&generation.db)
        .filter(|(g, _)| *g == generation.name && source.path.exists())
        .map(|(_, next)| *next);
    let start = match resume_at {
        Some(next) => {
            progress(&format!(
                "tenant {}: resuming at object {next}",
                generation.db
            ));
            next
        }
        None => {
            let bytes = fetch(sink, base).await?;
            write_atomically(&source.path, &bytes)?;
            state
                .dbs
                .insert(generation.db.clone(), (generation.name.clone(), 1));
            state.save(staging)?;
            1
        }
    };
    let mut out = DbRestore {
        db: generation.db.clone(),
        generation: generation.name.clone(),
        objects: 1,
        bytes: base.object_bytes,
        rows_applied: 0,
        newest_event_ms: base.position.newest_event_ms,
        check: DbCheck::default(),
    };
    let conn = source.connect()?;
    let batch_key = BatchKey::derive(source.key());
    let mut pending: Vec<JournalRow> = Vec::new();
    // The batch the oldest pending row came from: where a resumed run must start again.
    let mut pending_from = start;
    let mut vouched: Option<&Manifest> = Some(base);
    for m in generation.manifests.iter().skip(start as usize) {
        let sealed = fetch(sink, m).await?;
        let rows = batch_key.open(&m.object_name(), &sealed).ok_or_else(|| {
            BackupError::refused(
                m.object_name(),
                "does not open with this database's key (foreign or altered)",
            )
        })?;
        if rows.len() as u64 != m.rows || rows.first().is_some_and(|r| r.id <= m.journal_from) {
            return Err(BackupError::refused(
                m.object_name(),
                "its rows do not match its manifest",
            ));
        }
        if pending.is_empty() {
            pending_from = m.index;
        }
        pending.extend(rows);
        let n = db::whole_jobs(&pending, until_ms);
        let reached_end = pending.iter().any(|r| r.time_ms() > until_ms);
        let applied: Vec<JournalRow> = pending.drain(..n).collect();
        if let Some(t) = applied
            .iter()
            .filter(|r| r.is_event())
            .map(|r| r.time_ms())
            .max()
        {
            out.newest_event_ms = out.newest_event_ms.max(t);
        }
        out.rows_applied += db::apply_rows(&conn, &applied)
            .map_err(|e| BackupError::refused(m.object_name(), e))?;
        out.objects += 1;
        out.bytes += m.object_bytes;
        let next = if pending.is_empty() {
            m.index + 1
        } else {
            pending_from
        };
        state
            .dbs
            .insert(generation.db.clone(), (generation.name.clone(), next));
        state.save(staging)?;
        vouched = (pending.is_empty() && !reached_end).then_some(m);
        if reached_end {
            break;
        }
        if out.objects.is_multiple_of(50) {
            progress(&format!(
                "tenant {}: {} objects, {} rows",
                out.db, out.objects, out.rows_applied
            ));
        }
    }
    // The restored tree must be where the last fully applied object said it would be.
    if let Some(m) = vouched.filter(|m| !m.position.audit_root.is_empty()) {
        let now = db::position(&conn)?;
        if now.audit_size != m.position.audit_size || now.audit_root != m.position.audit_root {
            return Err(BackupError::refused(
                m.manifest_name(),
                format!(
                    "the restored audit tree (size {}) differs from the one the manifest vouches for (size {})",
                    now.audit_size, m.position.audit_size
                ),
            ));
        }
    }
    db::reset_journal(&conn)?;
    out.check = db::check(&conn, &source.log, key)?;
    Ok(out)
}
