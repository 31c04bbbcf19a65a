//! The embedded store: SQLCipher databases in a data directory, one catalog plus one per tenant.
//!
//! Each tenant's records and audit log live in their own database file with their own data key,
//! so a query bug cannot cross tenants, writes of different tenants do not contend, and
//! destroying a tenant's wrapped key makes its data unreadable (crypto-shredding).

mod audit;
pub mod backup;
mod catalog;
mod conn;
mod db;
mod fts5_rank;
mod identity;
mod migrations;
mod records;
mod search;
mod settings;
mod writer;

use crate::idempotency::{self, BatchItem, BatchOutcome, Decision, StoredKey};
use crate::keyring::{self, Keyring};
use crate::record_rules::{self as rules, describe_record, RecordPage};
use crate::store::{
    ApiKeyInfo, AuditQuery, ExclusiveGuard, IntegrityScan, KeyRotation, LogLeaf, NewApiKey, Store,
    TenantInfo,
};
use crate::StoreError;
use async_trait::async_trait;
use db::Db;
use hippo_audit::tree_head::{AuditPublicKey, AuditSigningKey, SignedTreeHead};
use hippo_core::{
    AuditDraft, AuditEvent, LogId, Page, Principal, Record, RecordFilter, RecordId, RecordInput,
    TenantId,
};
pub use settings::SqliteSettings;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

const LOCKS_DIR: &str = "locks";

/// The deployment-wide lock `name` of an embedded store: an advisory lock on a file of the data
/// directory, so the server and a `hippo` command run beside it exclude each other. The
/// operating system releases it when the holder exits, however it exits.
fn lock_file(data_dir: &Path, name: &str) -> Result<Option<ExclusiveGuard>, StoreError> {
    let dir = data_dir.join(LOCKS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{safe}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ExclusiveGuard::new(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&path, e)),
    }
}

const CATALOG_DB: &str = "catalog.db";
const CATALOG_KEY: &str = "catalog.key";
const CATALOG_LABEL: &str = "catalog";
const TENANTS_DIR: &str = "tenants";

pub struct SqliteStore {
    data_dir: PathBuf,
    settings: SqliteSettings,
    keyring: Keyring,
    catalog: Arc<Db>,
    tenants: RwLock<HashMap<TenantId, Arc<Db>>>,
    opening: tokio::sync::Mutex<()>,
    /// Seals second-factor secrets on top of the catalog's own encryption.
    seal: keyring::CredentialSeal,
}

impl SqliteStore {
    /// True if `data_dir` already holds an initialised store.
    pub fn exists(data_dir: &Path) -> bool {
        Keyring::path(data_dir).exists() && data_dir.join(CATALOG_KEY).exists()
    }

    /// Initialises a new store: keyring, catalog data key and catalog database.
    pub fn create(data_dir: &Path) -> Result<Self, StoreError> {
        Self::create_with(data_dir, SqliteSettings::default())
    }

    /// [`SqliteStore::create`] with `settings`.
    pub fn create_with(data_dir: &Path, settings: SqliteSettings) -> Result<Self, StoreError> {
        keyring::create_private_dir(data_dir)?;
        keyring::require_private(data_dir, true)?;
        let keyring = Keyring::create(data_dir)?;
        let dek = Keyring::new_data_key()?;
        keyring::write_private_file(
            &data_dir.join(CATALOG_KEY),
            &keyring.wrap(CATALOG_LABEL, &dek)?,
        )?;
        keyring::create_private_dir(&data_dir.join(TENANTS_DIR))?;
        Self::open_with(data_dir, keyring, true, settings)
    }

    /// Opens an existing store, failing closed if its keys are missing, exposed or wrong.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let keyring = Keyring::load(data_dir)?;
        Self::open_with(data_dir, keyring, false, SqliteSettings::default())
    }

    /// Opens an existing store with a keyring already loaded (e.g. one that KMS had to open
    /// first), failing closed as [`SqliteStore::open`] does.
    pub fn open_with_keyring(
        data_dir: &Path,
        keyring: Keyring,
        settings: SqliteSettings,
    ) -> Result<Self, StoreError> {
        keyring::require_private(data_dir, true)?;
        Self::open_with(data_dir, keyring, false, settings)
    }

    fn open_with(
        data_dir: &Path,
        keyring: Keyring,
        create: bool,
        settings: SqliteSettings,
    ) -> Result<Self, StoreError> {
        let key_path = data_dir.join(CATALOG_KEY);
        keyring::require_private(&key_path, false)?;
        let wrapped = std::fs::read(&key_path).map_err(|e| StoreError::io(&key_path, e))?;
        let dek = keyring.unwrap(CATALOG_LABEL, &wrapped)?;
        let catalog = Db::open(
            &data_dir.join(CATALOG_DB),
            dek,
            create,
            migrations::CATALOG,
            &LogId::System,
            &settings,
        )?;
        let seal = keyring.credential_seal();
        Ok(Self {
            data_dir: data_dir.to_owned(),
            settings,
            keyring,
            catalog: Arc::new(catalog),
            tenants: RwLock::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
            seal,
        })
    }

    fn tenant_path(&self, id: &TenantId) -> PathBuf {
        // TenantId admits only [a-z0-9-], so it is safe as a file name.
        self.data_dir.join(TENANTS_DIR).join(format!("{id}.db"))
    }

    fn tenant_label(id: &TenantId) -> String {
        format!("tenant:{id}")
    }

    /// The open database of `tenant`, opening it on first use.
    async fn tenant_db(&self, tenant: &TenantId) -> Result<Arc<Db>, StoreError> {
        if let Some(db) = self.tenants.read().expect("tenant map lock").get(tenant) {
            return Ok(db.clone());
        }
        let _guard = self.opening.lock().await;
        if let Some(db) = self.tenants.read().expect("tenant map lock").get(tenant) {
            return Ok(db.clone());
        }
        let t = tenant.clone();
        let wrapped = self
            .catalog
            .read(move |c| catalog::wrapped_key(c, &t))
            .await?;
        let dek = self.keyring.unwrap(&Self::tenant_label(tenant), &wrapped)?;
        let path = self.tenant_path(tenant);
        let db = Arc::new(Db::open(
            &path,
            dek,
            false,
            migrations::TENANT,
            &LogId::Tenant(tenant.clone()),
            &self.settings,
        )?);
        self.tenants
            .write()
            .expect("tenant map lock")
            .insert(tenant.clone(), db.clone());
        Ok(db)
    }

    /// Opens a raw connection to the catalog (`None`) or a tenant's database, for operators'
    /// tooling and tests that must inspect or damage storage directly (e.g. tamper tests).
    pub fn raw_connection(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<rusqlite::Connection, StoreError> {
        match tenant {
            None => {
                let wrapped = std::fs::read(self.data_dir.join(CATALOG_KEY))
                    .map_err(|e| StoreError::io(&self.data_dir.join(CATALOG_KEY), e))?;
                let dek = self.keyring.unwrap(CATALOG_LABEL, &wrapped)?;
                conn::open(&self.data_dir.join(CATALOG_DB), &dek, false)
            }
            Some(t) => {
                let c = conn::open(&self.data_dir.join(CATALOG_DB), &self.catalog_key()?, false)?;
                let wrapped = catalog::wrapped_key(&c, t)?;
                let dek = self.keyring.unwrap(&Self::tenant_label(t), &wrapped)?;
                conn::open(&self.tenant_path(t), &dek, false)
            }
        }
    }

    /// Every database of this store with its key, for continuous backup (the catalog first).
    /// Called every shipping round: the catalog's open database and a pooled reader answer it,
    /// rather than reading and unwrapping the catalog key and opening the catalog each time.
    pub fn backup_sources(&self) -> Result<Vec<backup::DbSource>, StoreError> {
        let layout = backup::Layout::new(&self.data_dir);
        let (path, key) = self.catalog.file();
        let tenants = self
            .catalog
            .read_now(|c| backup::tenant_keys(&self.keyring, c))?;
        let mut out = vec![backup::DbSource::new(
            LogId::System,
            path.to_owned(),
            key.clone(),
        )];
        for (id, key) in tenants {
            out.push(backup::DbSource::new(
                LogId::Tenant(id.clone()),
                layout.tenant_db(&id),
                key,
            ));
        }
        Ok(out)
    }

    /// The wrapped catalog key (the `catalog.key` file): a backup carries it, still wrapped.
    pub fn catalog_wrapped_key(&self) -> Result<Vec<u8>, StoreError> {
        let path = self.data_dir.join(CATALOG_KEY);
        std::fs::read(&path).map_err(|e| StoreError::io(&path, e))
    }

    /// The key that signs tree heads, which also signs backup manifests.
    pub fn signing_key(&self) -> Result<AuditSigningKey, StoreError> {
        Ok(self.keyring.ledger_keys()?.signing)
    }

    fn catalog_key(&self) -> Result<keyring::DataKey, StoreError> {
        let path = self.data_dir.join(CATALOG_KEY);
        let wrapped = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        self.keyring.unwrap(CATALOG_LABEL, &wrapped)
    }

    /// Writes an audit event for a completed read, then hands back the read's result.
    /// The event is durable before any data is returned; if it cannot be written, no data is.
    async fn after_read<T: Send + 'static>(
        db: &Db,
        mut draft: AuditDraft,
        result: Result<T, StoreError>,
        describe: impl FnOnce(&mut AuditDraft, &T),
    ) -> Result<T, StoreError> {
        crate::audit_log::conclude(&mut draft, &result, describe);
        let log = db.log();
        db.write(move |c| Ok(Ok(audit::insert(c, &log, draft)?)))
            .await?;
        result
    }

    /// Runs a read and writes its audit event in the same group-commit job: one round trip, and
    /// the data is handed back only once the event is durable. A failed event returns no data.
    async fn read_audited<T, R, D>(
        db: &Db,
        mut draft: AuditDraft,
        read: R,
        describe: D,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        R: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(&mut AuditDraft, &T) + Send + 'static,
    {
        let log = db.log();
        db.write(move |c| {
            let result = read(c);
            crate::audit_log::conclude(&mut draft, &result, describe);
            audit::insert(c, &log, draft)?;
            Ok(result)
        })
        .await
    }

    /// The database holding `log`: a tenant's own, or the catalog for the system log.
    async fn log_db(&self, log: &LogId) -> Result<Arc<Db>, StoreError> {
        match log {
            LogId::Tenant(t) => self.tenant_db(t).await,
            LogId::System => Ok(self.catalog.clone()),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(
        &self,
        id: &TenantId,
        audit: AuditDraft,
    ) -> Result<TenantInfo, StoreError> {
        let t = id.clone();
        if self
            .catalog
            .read(move |c| catalog::wrapped_key(c, &t))
            .await
            .is_ok()
        {
            return Err(StoreError::TenantExists(id.to_string()));
        }
        let path = self.tenant_path(id);
        // A file without a catalog entry is left over from a crash mid-creation: nothing
        // references its key any more, so it is unreadable and safe to replace.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let dek = Keyring::new_data_key()?;
        let wrapped = self.keyring.wrap(&Self::tenant_label(id), &dek)?;
        Db::open(
            &path,
            dek,
            true,
            migrations::TENANT,
            &LogId::Tenant(id.clone()),
            &self.settings,
        )?
        .close();
        let t = id.clone();
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, audit, |c, a| {
                    a.resource_id = Some(t.to_string());
                    catalog::insert_tenant(c, &t, &wrapped)
                })
            })
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantInfo>, StoreError> {
        self.catalog.read(catalog::list_tenants).await
    }

    async fn create_api_key(
        &self,
        key: NewApiKey,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, audit, |c, a| {
                    a.resource_id = Some(key.minted.key_id.clone());
                    a.detail("role", key.role.as_str());
                    catalog::insert_api_key(c, &key)
                })
            })
            .await
    }

    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
        audit: AuditDraft,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let t = tenant.cloned();
        let result = self
            .catalog
            .read(move |c| catalog::list_api_keys(c, t.as_ref()))
            .await;
        Self::after_read(&self.catalog, audit, result, |a, keys| {
            a.detail("count", keys.len())
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        let (t, k) = (tenant.cloned(), key_id.to_owned());
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, audit, |c, a| {
                    a.resource_id = Some(k.clone());
                    catalog::revoke_api_key(c, t.as_ref(), &k)
                })
            })
            .await
    }

    async fn authenticate(
        &self,
        key_id: &str,
        secret_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<Principal>, StoreError> {
        self.catalog
            .read_now(|c| catalog::authenticate(c, key_id, secret_hash, now_ms))
    }

    async fn note_api_key_use(&self, key_id: &str, now_ms: i64) -> Result<(), StoreError> {
        let k = key_id.to_owned();
        self.catalog
            .write(move |c| Ok(catalog::note_api_key_use(c, &k, now_ms)))
            .await
    }

    async fn rotate_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        rotation: KeyRotation,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        let (t, k) = (tenant.cloned(), key_id.to_owned());
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, audit, |c, a| {
                    a.resource_id = Some(k.clone());
                    a.detail("new_key", rotation.minted.key_id.clone());
                    a.detail("overlap_s", rotation.overlap_ms / 1000);
                    catalog::rotate_api_key(c, t.as_ref(), &k, &rotation)
                })
            })
            .await
    }

    async fn create_record(
        &self,
        tenant: &TenantId,
        input: RecordInput,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let actor = actor.to_owned();
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                a.subject_id = input.subject.clone();
                let r = records::create(c, &input, &actor)?;
                describe_record(a, &r);
                Ok(r)
            })
        })
        .await
    }

    async fn create_records(
        &self,
        tenant: &TenantId,
        items: Vec<BatchItem>,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Vec<BatchOutcome>, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let actor = actor.to_owned();
        let log = db.log();
        let template = audit.clone();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, batch| {
                batch.detail("batch", items.len());
                if let Some(item) = idempotency::first_repeat(&items) {
                    return Err(StoreError::IdempotencyKeyReused { item });
                }
                let mut out = Vec::with_capacity(items.len());
                let mut events = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let key = item
                        .idempotency_key
                        .as_deref()
                        .map(|k| StoredKey::new(&log, k, &item.input));
                    if let Some(key) = &key {
                        match idempotency::decide(key, records::stored_key(c, &key.key_hash)?) {
                            Decision::Create => {}
                            Decision::Replay(id) => {
                                out.push(BatchOutcome::Replayed(id));
                                continue;
                            }
                            Decision::Reused => {
                                return Err(StoreError::IdempotencyKeyReused { item: i })
                            }
                        }
                    }
                    let r = records::create(c, &item.input, &actor)?;
                    if let Some(key) = &key {
                        records::store_key(c, key, r.id)?;
                    }
                    let mut each = template.clone();
                    describe_record(&mut each, &r);
                    events.push(each);
                    out.push(BatchOutcome::Created(r));
                }
                audit::insert_all(c, &log, events)?;
                idempotency::describe_batch(batch, &out);
                Ok(out)
            })
        })
        .await
    }

    async fn get_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let mut audit = audit;
        audit.resource_id = Some(id.to_string());
        let read = move |c: &rusqlite::Connection| rules::live(records::get_current(c, id)?);
        Self::read_audited(&db, audit, read, describe_record).await
    }

    async fn get_record_version(
        &self,
        tenant: &TenantId,
        id: RecordId,
        version: i64,
        audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let mut audit = audit;
        audit.resource_id = Some(id.to_string());
        Self::read_audited(
            &db,
            audit,
            move |c| records::get_version(c, id, version),
            describe_record,
        )
        .await
    }

    async fn update_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        expected_version: i64,
        input: RecordInput,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let actor = actor.to_owned();
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                a.resource_id = Some(id.to_string());
                a.subject_id = input.subject.clone();
                let r = records::update(c, id, expected_version, &input, &actor)?;
                describe_record(a, &r);
                Ok(r)
            })
        })
        .await
    }

    async fn delete_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        expected_version: Option<i64>,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let actor = actor.to_owned();
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                a.resource_id = Some(id.to_string());
                let r = records::delete(c, id, expected_version, &actor)?;
                describe_record(a, &r);
                Ok(r)
            })
        })
        .await
    }

    async fn record_history(
        &self,
        tenant: &TenantId,
        id: RecordId,
        audit: AuditDraft,
    ) -> Result<Vec<Record>, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let mut audit = audit;
        audit.resource_id = Some(id.to_string());
        Self::read_audited(
            &db,
            audit,
            move |c| records::history(c, id),
            rules::describe_history,
        )
        .await
    }

    async fn list_records(
        &self,
        tenant: &TenantId,
        filter: RecordFilter,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<RecordPage, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let mut audit = audit;
        audit.subject_id = filter.subject.clone();
        let read = move |c: &rusqlite::Connection| records::list(c, &filter, after, limit);
        Self::read_audited(&db, audit, read, rules::describe_page).await
    }

    async fn search_records(
        &self,
        tenant: &TenantId,
        request: crate::search::SearchRequest,
        audit: AuditDraft,
    ) -> Result<crate::search::SearchPage, StoreError> {
        let db = self.tenant_db(tenant).await?;
        // In the group-commit writer, with its event in the same job, not on a reader
        // connection: a reader's page cache is emptied by every commit (WAL mode), and each
        // audited call commits, so a reader decrypted every page of every search afresh
        // (11 ms a search at 1,000,000 records); the writer's cache stays warm (4 ms). The
        // price is that a search holds up the writes queued behind it for that long.
        let frequencies = db.doc_frequencies();
        let read = move |c: &rusqlite::Connection| search::search(c, &request, &frequencies);
        Self::read_audited(&db, audit, read, crate::search::describe).await
    }

    async fn verify_records(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<IntegrityScan, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let read = move |c: &rusqlite::Connection| records::verify_all(c, after, limit);
        Self::read_audited(&db, audit, read, rules::describe_scan).await
    }

    async fn reindex_search(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::search::ReindexPage, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                let page = search::reindex(c, after, limit)?;
                crate::search::describe_reindex(a, &page);
                Ok(page)
            })
        })
        .await
    }

    async fn export_versions(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::tenant_archive::VersionPage, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                let page = records::versions_page(c, after, limit)?;
                crate::tenant_archive::describe_export(a, &page);
                Ok(page)
            })
        })
        .await
    }

    async fn import_versions(
        &self,
        tenant: &TenantId,
        versions: Vec<crate::tenant_archive::ArchivedVersion>,
        audit: AuditDraft,
    ) -> Result<usize, StoreError> {
        let db = self.tenant_db(tenant).await?;
        let log = db.log();
        db.write(move |c| {
            audit::audited(c, &log, audit, |c, a| {
                let n = records::import_versions(c, &versions)?;
                crate::tenant_archive::describe_import(a, &n);
                Ok(n)
            })
        })
        .await
    }

    async fn append_audit(&self, audit: AuditDraft) -> Result<i64, StoreError> {
        // An event for an unknown tenant belongs in the system log, not in a database we cannot open.
        let db = match &audit.tenant {
            Some(t) => self
                .tenant_db(t)
                .await
                .unwrap_or_else(|_| self.catalog.clone()),
            None => self.catalog.clone(),
        };
        let log = db.log();
        db.write(move |c| Ok(Ok(audit::insert(c, &log, audit)?)))
            .await
    }

    async fn list_audit(
        &self,
        log: &LogId,
        query: AuditQuery,
        audit: AuditDraft,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let db = self.log_db(log).await?;
        let log = db.log();
        let result = db.read(move |c| audit::list(c, &log, &query)).await;
        // The read of a tenant's log is recorded in that same log.
        let own = self.log_db(&LogId::of(audit.tenant.as_ref())).await?;
        Self::after_read(&own, audit, result, |a, page| {
            a.detail("count", page.items.len())
        })
        .await
    }

    async fn sign_tree_head(&self, log: &LogId) -> Result<SignedTreeHead, StoreError> {
        let db = self.log_db(log).await?;
        let key = AuditSigningKey::from_seed(&*self.keyring.audit_signing_seed()?);
        let ctx = db.log();
        db.write(move |c| Ok(Ok(audit::sign_tree_head(c, &ctx, &key)?)))
            .await
    }

    async fn tree_heads(&self, log: &LogId) -> Result<Vec<SignedTreeHead>, StoreError> {
        self.log_db(log).await?.read(audit::tree_heads).await
    }

    async fn audit_leaves(
        &self,
        log: &LogId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        self.log_db(log)
            .await?
            .read(move |c| audit::leaves(c, after_seq, limit))
            .await
    }

    async fn audit_leaf_hashes(
        &self,
        log: &LogId,
        first_seq: i64,
        last_seq: i64,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.log_db(log)
            .await?
            .read(move |c| audit::leaf_hashes(c, first_seq, last_seq))
            .await
    }

    async fn audit_chunk_roots(
        &self,
        log: &LogId,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        self.log_db(log)
            .await?
            .read(move |c| audit::chunk_roots(c, first, last))
            .await
    }

    async fn put_audit_chunk_roots(
        &self,
        log: &LogId,
        roots: Vec<(u64, [u8; 32])>,
    ) -> Result<(), StoreError> {
        self.log_db(log)
            .await?
            .write(move |c| Ok(Ok(audit::put_chunk_roots(c, &roots)?)))
            .await
    }

    async fn tree_state(&self, log: &LogId) -> Result<(u64, [u8; 32]), StoreError> {
        self.log_db(log)
            .await?
            .read(|c| audit::load_tree(c).map(|t| (t.size(), t.root())))
            .await
    }

    fn audit_public_key(&self) -> Result<AuditPublicKey, StoreError> {
        Ok(AuditSigningKey::from_seed(&*self.keyring.audit_signing_seed()?).public_key())
    }

    fn as_embedded(&self) -> Option<&SqliteStore> {
        Some(self)
    }

    async fn try_exclusive(&self, name: &str) -> Result<Option<ExclusiveGuard>, StoreError> {
        lock_file(&self.data_dir, name)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.catalog
            .read(|c| Ok(c.query_row("SELECT count(*) FROM tenants", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }

    async fn shutdown(&self) {
        let tenants: Vec<Arc<Db>> = self
            .tenants
            .read()
            .expect("tenant map lock")
            .values()
            .cloned()
            .collect();
        for db in tenants {
            db.close();
        }
        self.catalog.close();
    }
}
