//! The storage contract every backend implements, with identical behaviour.

use crate::record_rules::{IntegrityFailure, RecordPage};
use crate::StoreError;
use async_trait::async_trait;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use hippo_core::apikey::MintedKey;
use hippo_core::{
    AuditDraft, AuditEvent, LogId, Outcome, Page, Principal, Record, RecordFilter, RecordId,
    RecordInput, Role, TenantId,
};

/// A tenant as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInfo {
    pub id: TenantId,
    pub created_at_ms: i64,
}

/// What is needed to create an API key; the secret itself is never passed to the store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub tenant: TenantId,
    pub role: Role,
    pub name: String,
    pub minted: MintedKey,
    /// Who created it (principal id, or `operator` for the command line).
    pub created_by: String,
    /// When it stops working (`--expires-in`); `None` never expires.
    pub expires_at_ms: Option<i64>,
}

impl NewApiKey {
    /// The description of this key once stored for `principal_id` at `now` (both stores).
    pub fn info(&self, principal_id: String, now: i64) -> ApiKeyInfo {
        ApiKeyInfo {
            key_id: self.minted.key_id.clone(),
            principal_id,
            tenant: self.tenant.clone(),
            role: self.role,
            name: self.name.clone(),
            created_at_ms: now,
            created_by: self.created_by.clone(),
            revoked_at_ms: None,
            expires_at_ms: self.expires_at_ms,
            last_used_at_ms: None,
            replaced_by: None,
        }
    }
}

/// An API key's public description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub principal_id: String,
    pub tenant: TenantId,
    pub role: Role,
    pub name: String,
    pub created_at_ms: i64,
    pub created_by: String,
    pub revoked_at_ms: Option<i64>,
    pub expires_at_ms: Option<i64>,
    /// When it last authenticated a request, to the minute (see [`Store::note_api_key_use`]).
    pub last_used_at_ms: Option<i64>,
    /// The key that replaced it in a rotation.
    pub replaced_by: Option<String>,
}

/// Whether a stored key may authenticate at `now_ms` (both stores decide alike).
pub fn api_key_usable(
    revoked_at_ms: Option<i64>,
    principal_disabled: bool,
    expires_at_ms: Option<i64>,
    now_ms: i64,
) -> bool {
    revoked_at_ms.is_none() && !principal_disabled && expires_at_ms.is_none_or(|e| now_ms < e)
}

/// A key rotation: a new key for the same service account; the old one keeps working for
/// `overlap_ms` (so deployments can roll over) and then expires.
#[derive(Debug, Clone)]
pub struct KeyRotation {
    pub minted: MintedKey,
    pub overlap_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub now_ms: i64,
    pub created_by: String,
}

/// Filters for reading the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only for the system log: restrict to events about this tenant.
    pub tenant: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: usize,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub outcome: Option<Outcome>,
    pub resource_id: Option<String>,
    pub subject_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only events about records (reads and changes of PHI): an accounting of disclosures.
    pub record_access_only: bool,
    /// Only break-glass (emergency purpose) events.
    pub emergency_only: bool,
}

/// One page of an integrity scan of a tenant's records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrityScan {
    /// Records whose versions were checked.
    pub records_checked: usize,
    /// Versions checked.
    pub versions_checked: usize,
    /// Versions that failed, by id and version.
    pub failures: Vec<IntegrityFailure>,
    /// The last record of this page, to continue after; `None` when the scan is complete.
    pub next: Option<RecordId>,
}

/// One event as a verifier needs it: its canonical bytes and the leaf hash stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLeaf {
    pub seq: i64,
    pub canonical: Vec<u8>,
    pub leaf_hash: [u8; 32],
}

/// Proof that this process holds a deployment-wide job lock (see [`Store::try_exclusive`]);
/// the lock is released when the guard is dropped (or the process dies).
pub struct ExclusiveGuard {
    _held: Box<dyn Send + Sync>,
}

impl ExclusiveGuard {
    pub(crate) fn new(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for ExclusiveGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExclusiveGuard")
    }
}

/// The store. Methods taking an `AuditDraft` write exactly one audit event, whatever the outcome:
/// in the same durable commit as a change, and before returning for a read. If the event cannot
/// be written the method fails with [`StoreError::AuditFailed`] or [`StoreError::Unavailable`]
/// and returns no data.
#[async_trait]
pub trait Store: crate::identity::IdentityStore + Send + Sync + 'static {
    // --- tenants and credentials -------------------------------------------------------------
    async fn create_tenant(
        &self,
        id: &TenantId,
        audit: AuditDraft,
    ) -> Result<TenantInfo, StoreError>;
    async fn list_tenants(&self) -> Result<Vec<TenantInfo>, StoreError>;
    async fn create_api_key(
        &self,
        key: NewApiKey,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError>;
    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
        audit: AuditDraft,
    ) -> Result<Vec<ApiKeyInfo>, StoreError>;
    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError>;
    /// Resolves a presented key (id and secret hash) to its principal at `now_ms`; `None` if
    /// unknown, wrong, revoked, expired, or its service account is disabled.
    async fn authenticate(
        &self,
        key_id: &str,
        secret_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<Principal>, StoreError>;
    /// Records that a key was used (callers write this at most once a minute per key).
    async fn note_api_key_use(&self, key_id: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Rotates a key of `tenant` (any tenant when `None`): returns the new key's description.
    async fn rotate_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        rotation: KeyRotation,
        audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError>;

    // --- records -----------------------------------------------------------------------------
    async fn create_record(
        &self,
        tenant: &TenantId,
        input: RecordInput,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError>;
    /// Creates every record of a batch or none, in one commit. Each created record gets its
    /// own event (a copy of `audit` describing it); the batch itself one more, with its size
    /// and how many items were replays. An item whose idempotency key was already used for the
    /// same input is a replay: nothing is written for it and its outcome names the record the
    /// key first created (keys are kept for good, so a replay works however late). A key used
    /// before for a different input, or twice in the batch, refuses the whole batch with
    /// [`StoreError::IdempotencyKeyReused`]. If any item fails, nothing is written but the
    /// batch's failed event.
    async fn create_records(
        &self,
        tenant: &TenantId,
        items: Vec<crate::BatchItem>,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Vec<crate::BatchOutcome>, StoreError>;
    async fn get_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        audit: AuditDraft,
    ) -> Result<Record, StoreError>;
    async fn get_record_version(
        &self,
        tenant: &TenantId,
        id: RecordId,
        version: i64,
        audit: AuditDraft,
    ) -> Result<Record, StoreError>;
    async fn update_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        expected_version: i64,
        input: RecordInput,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError>;
    async fn delete_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        expected_version: Option<i64>,
        actor: &str,
        audit: AuditDraft,
    ) -> Result<Record, StoreError>;
    async fn record_history(
        &self,
        tenant: &TenantId,
        id: RecordId,
        audit: AuditDraft,
    ) -> Result<Vec<Record>, StoreError>;
    async fn list_records(
        &self,
        tenant: &TenantId,
        filter: RecordFilter,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<RecordPage, StoreError>;
    /// Full-text search of a tenant's live records, best first; audited as one event that
    /// names the result ids.
    async fn search_records(
        &self,
        tenant: &TenantId,
        request: crate::search::SearchRequest,
        audit: AuditDraft,
    ) -> Result<crate::search::SearchPage, StoreError>;
    /// Checks the integrity of every stored version of up to `limit` records after `after`,
    /// in id order (an operator's scan: `hippo records verify`); audited as one event.
    async fn verify_records(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<IntegrityScan, StoreError>;

    /// Every version of up to `limit` records after `after`, in id order, exactly as stored:
    /// a page of an operator's tenant export (`hippo tenant export`); audited as one event.
    async fn export_versions(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::tenant_archive::VersionPage, StoreError>;

    /// Writes archived versions into `tenant` as they were (ids, versions, times, authors),
    /// in order, each checked against its hash, and indexes them for search; a record the
    /// tenant already holds refuses the whole call. Audited as one event.
    async fn import_versions(
        &self,
        tenant: &TenantId,
        versions: Vec<crate::tenant_archive::ArchivedVersion>,
        audit: AuditDraft,
    ) -> Result<usize, StoreError>;

    /// Re-indexes up to `limit` records after `after`, in id order, from their current
    /// versions under this process's search settings (after an upgrade that changed the index,
    /// or a change of `[search.types]`); audited as one event per page.
    async fn reindex_search(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::search::ReindexPage, StoreError>;

    // --- audit -------------------------------------------------------------------------------
    /// Writes an event for a request that failed before reaching a store operation (bad input,
    /// bad credentials, rate limit). Events without a tenant go to the system log.
    async fn append_audit(&self, audit: AuditDraft) -> Result<i64, StoreError>;
    /// Reads one audit log; the read itself is audited (in the reader's own log).
    async fn list_audit(
        &self,
        log: &LogId,
        query: AuditQuery,
        audit: AuditDraft,
    ) -> Result<Page<AuditEvent>, StoreError>;

    /// Signs the log's current Merkle tree head (reusing the newest head if the log has not grown).
    async fn sign_tree_head(&self, log: &LogId) -> Result<SignedTreeHead, StoreError>;
    /// Every signed tree head of the log, smallest first.
    async fn tree_heads(&self, log: &LogId) -> Result<Vec<SignedTreeHead>, StoreError>;
    /// Up to `limit` events after `after_seq`, in stored order, for verification and proofs.
    async fn audit_leaves(
        &self,
        log: &LogId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogLeaf>, StoreError>;
    /// The stored leaf hashes of events `first_seq..=last_seq`, in order, for proofs: only the
    /// hashes, so a proof over a large log does not rebuild every event. A missing event is
    /// [`StoreError::Corrupt`].
    async fn audit_leaf_hashes(
        &self,
        log: &LogId,
        first_seq: i64,
        last_seq: i64,
    ) -> Result<Vec<[u8; 32]>, StoreError>;
    /// The cached roots of full chunks (see [`crate::proofs::CHUNK`]) `first..=last` of the
    /// log's tree that are stored, by chunk index; missing ones are simply absent.
    async fn audit_chunk_roots(
        &self,
        log: &LogId,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError>;
    /// Caches roots of full chunks; a chunk already cached keeps its root.
    async fn put_audit_chunk_roots(
        &self,
        log: &LogId,
        roots: Vec<(u64, [u8; 32])>,
    ) -> Result<(), StoreError>;
    /// The log's current Merkle tree as integrated by the store: (size, root).
    async fn tree_state(&self, log: &LogId) -> Result<(u64, [u8; 32]), StoreError>;
    /// The public key that verifies this deployment's tree heads.
    fn audit_public_key(&self) -> Result<AuditPublicKey, StoreError>;

    /// The embedded store behind this one, if it is one (continuous backup ships its files;
    /// PostgreSQL deployments rely on RDS snapshots and point-in-time recovery instead).
    fn as_embedded(&self) -> Option<&crate::SqliteStore> {
        None
    }

    // --- coordination ------------------------------------------------------------------------
    /// Takes the lock `name` for the whole deployment (every instance and every `hippo` command
    /// pointed at it) if nobody holds it, else returns `None`. Background jobs that must run
    /// once per deployment, such as exporting a log, hold it while they run.
    async fn try_exclusive(&self, name: &str) -> Result<Option<ExclusiveGuard>, StoreError>;

    // --- operations --------------------------------------------------------------------------
    /// Checks that the store is open and its keys are loaded.
    async fn ready(&self) -> Result<(), StoreError>;
    /// The connection pool's occupancy, for a store that has one (PostgreSQL).
    fn pool_figures(&self) -> Option<crate::stats::PoolFigures> {
        None
    }
    /// Finishes pending commits and closes the databases.
    async fn shutdown(&self);
}
