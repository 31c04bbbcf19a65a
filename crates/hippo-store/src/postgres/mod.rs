//! The scale-out store: PostgreSQL shared by any number of stateless Hippo instances.
//!
//! Same behaviour as the embedded store (the contract tests run against both). Each call runs
//! in a transaction bound by row-level security to one tenant (or to the catalog) and run as
//! the non-superuser role `hippo_app`; the audit event is written in that same transaction.
//! Audited calls of one log are group-committed ([`group`]): concurrent calls share one
//! transaction, each in its own savepoint.
//! Encryption at rest is the database's (RDS with KMS in production): bodies are stored as
//! canonical JSON text and checked against their SHA-256 on every read.

mod audit;
mod calls;
mod catalog;
mod connect;
mod errors;
mod group;
mod identity;
mod migrate;
mod records;
mod search;

pub use audit::SYSTEM as SYSTEM_LOG;
pub use connect::{describe, parse as parse_url, PgSettings};

use crate::audit_log::LogCtx;
use crate::idempotency::{self, BatchItem, BatchOutcome, Decision, StoredKey};
use crate::keyring::LedgerKeys;
use crate::record_rules::{self as rules, describe_record, RecordPage};
use crate::store::{
    ApiKeyInfo, AuditQuery, ExclusiveGuard, IntegrityScan, KeyRotation, LogLeaf, NewApiKey, Store,
    TenantInfo,
};
use crate::StoreError;
use async_trait::async_trait;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use hippo_core::{
    AuditDraft, AuditEvent, LogId, Outcome, Page, Principal, Record, RecordFilter, RecordId,
    RecordInput, TenantId,
};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, RwLock};

use calls::{begin, commit, job_lock, OpFuture};

/// The role every transaction runs as (created by the migrations).
pub const APP_ROLE: &str = "hippo_app";

pub struct PgStore {
    pool: PgPool,
    settings: PgSettings,
    /// `host:port/database`, for messages: never the URL, which may hold a password.
    target: String,
    /// Tenants known to exist (tenants are never deleted), to skip the lookup on every call.
    known: RwLock<HashSet<TenantId>>,
    /// The ledger's signing key and redaction root: the same on every instance (checked at
    /// connect against the database's record of them).
    keys: LedgerKeys,
    /// Each log's redaction context, derived once.
    logs: RwLock<HashMap<String, Arc<LogCtx>>>,
    /// Seals second-factor secrets: the database never holds a usable one.
    seal: crate::keyring::CredentialSeal,
    /// Group commit of audited calls, one queue per log.
    groups: group::Groups,
}

#[async_trait]
impl Store for PgStore {
    async fn create_tenant(
        &self,
        id: &TenantId,
        mut audit: AuditDraft,
    ) -> Result<TenantInfo, StoreError> {
        self.timed(async {
            if self.tenant_known(id).await? {
                return Err(StoreError::TenantExists(id.to_string()));
            }
            let mut tx = self.begin(audit::SYSTEM).await?;
            audit.resource_id = Some(id.to_string());
            let result = catalog::insert_tenant(&mut tx, id).await;
            self.finish(tx, audit::SYSTEM, audit, result).await
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantInfo>, StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            catalog::list_tenants(&mut tx).await
        })
        .await
    }

    async fn create_api_key(
        &self,
        key: NewApiKey,
        mut audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            audit.resource_id = Some(key.minted.key_id.clone());
            audit.detail("role", key.role.as_str());
            let result = catalog::insert_api_key(&mut tx, &key).await;
            self.finish(tx, audit::SYSTEM, audit, result).await
        })
        .await
    }

    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
        mut audit: AuditDraft,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            let result = catalog::list_api_keys(&mut tx, tenant).await;
            if let Ok(keys) = &result {
                audit.detail("count", keys.len());
            }
            self.finish(tx, audit::SYSTEM, audit, result).await
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        mut audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            audit.resource_id = Some(key_id.to_owned());
            let result = catalog::revoke_api_key(&mut tx, tenant, key_id).await;
            self.finish(tx, audit::SYSTEM, audit, result).await
        })
        .await
    }

    async fn authenticate(
        &self,
        key_id: &str,
        secret_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<Principal>, StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            catalog::authenticate(&mut tx, key_id, secret_hash, now_ms).await
        })
        .await
    }

    async fn note_api_key_use(&self, key_id: &str, now_ms: i64) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            catalog::note_api_key_use(&mut tx, key_id, now_ms).await?;
            commit(tx).await
        })
        .await
    }

    async fn rotate_api_key(
        &self,
        tenant: Option<&TenantId>,
        key_id: &str,
        rotation: KeyRotation,
        mut audit: AuditDraft,
    ) -> Result<ApiKeyInfo, StoreError> {
        audit.resource_id = Some(key_id.to_owned());
        audit.detail("new_key", rotation.minted.key_id.clone());
        audit.detail("overlap_s", rotation.overlap_ms / 1000);
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            let result = catalog::rotate_api_key(&mut tx, tenant, key_id, &rotation).await;
            self.finish(tx, audit::SYSTEM, audit, result).await
        })
        .await
    }

    async fn create_record(
        &self,
        tenant: &TenantId,
        input: RecordInput,
        actor: &str,
        mut audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        audit.subject_id = input.subject.clone();
        let (t, actor) = (tenant.clone(), actor.to_owned());
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::create(c, &t, &input, &actor).await }),
            describe_record,
        )
        .await
    }

    async fn create_records(
        &self,
        tenant: &TenantId,
        items: Vec<BatchItem>,
        actor: &str,
        mut audit: AuditDraft,
    ) -> Result<Vec<BatchOutcome>, StoreError> {
        audit.detail("batch", items.len());
        let ctx = self.log_ctx(tenant.as_str())?;
        let (t, actor) = (tenant.clone(), actor.to_owned());
        self.grouped(
            tenant,
            items.len(),
            move |c| {
                Box::pin(async move {
                    if let Some(item) = idempotency::first_repeat(&items) {
                        return Err(StoreError::IdempotencyKeyReused { item });
                    }
                    // Keyed items already written are replays; the rest are created together
                    // in one statement, then their keys stored.
                    let (mut replays, mut fresh, mut keys) = (Vec::new(), Vec::new(), Vec::new());
                    for (i, item) in items.iter().enumerate() {
                        let key = item
                            .idempotency_key
                            .as_deref()
                            .map(|k| StoredKey::new(&ctx, k, &item.input));
                        if let Some(key) = &key {
                            let stored = records::stored_key(c, &t, &key.key_hash).await?;
                            match idempotency::decide(key, stored) {
                                Decision::Create => {}
                                Decision::Replay(id) => {
                                    replays.push(Some(id));
                                    continue;
                                }
                                Decision::Reused => {
                                    return Err(StoreError::IdempotencyKeyReused { item: i })
                                }
                            }
                        }
                        replays.push(None);
                        fresh.push(item.input.clone());
                        keys.push(key);
                    }
                    let created = records::create_many(c, &t, &fresh, &actor).await?;
                    for (key, r) in keys.iter().zip(&created) {
                        if let Some(key) = key {
                            records::store_key(c, &t, key, r.id).await?;
                        }
                    }
                    let mut created = created.into_iter();
                    Ok(replays
                        .into_iter()
                        .map(|replay| match replay {
                            Some(id) => BatchOutcome::Replayed(id),
                            None => BatchOutcome::Created(
                                created.next().expect("one record per item created"),
                            ),
                        })
                        .collect::<Vec<_>>())
                })
            },
            // One event per record created, then the batch's own; a failed batch keeps none
            // of its records and only its own event, which says why.
            move |result| {
                let mut out = Vec::new();
                if let Ok(outcomes) = result {
                    out.reserve(outcomes.len() + 1);
                    for o in outcomes {
                        if let BatchOutcome::Created(r) = o {
                            let mut each = audit.clone();
                            describe_record(&mut each, r);
                            each.details.remove("batch");
                            out.push(each);
                        }
                    }
                }
                crate::audit_log::conclude(&mut audit, result, |batch, outcomes| {
                    idempotency::describe_batch(batch, outcomes)
                });
                out.push(audit);
                out
            },
        )
        .await
    }

    async fn get_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        mut audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        audit.resource_id = Some(id.to_string());
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { rules::live(records::get_current(c, &t, id).await?) }),
            describe_record,
        )
        .await
    }

    async fn get_record_version(
        &self,
        tenant: &TenantId,
        id: RecordId,
        version: i64,
        mut audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        audit.resource_id = Some(id.to_string());
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::get_version(c, &t, id, version).await }),
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
        mut audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        audit.resource_id = Some(id.to_string());
        audit.subject_id = input.subject.clone();
        let (t, actor) = (tenant.clone(), actor.to_owned());
        self.in_tenant(
            tenant,
            audit,
            move |c| {
                Box::pin(async move {
                    records::update(c, &t, id, expected_version, &input, &actor).await
                })
            },
            describe_record,
        )
        .await
    }

    async fn delete_record(
        &self,
        tenant: &TenantId,
        id: RecordId,
        expected_version: Option<i64>,
        actor: &str,
        mut audit: AuditDraft,
    ) -> Result<Record, StoreError> {
        audit.resource_id = Some(id.to_string());
        let (t, actor) = (tenant.clone(), actor.to_owned());
        self.in_tenant(
            tenant,
            audit,
            move |c| {
                Box::pin(async move { records::delete(c, &t, id, expected_version, &actor).await })
            },
            describe_record,
        )
        .await
    }

    async fn record_history(
        &self,
        tenant: &TenantId,
        id: RecordId,
        mut audit: AuditDraft,
    ) -> Result<Vec<Record>, StoreError> {
        audit.resource_id = Some(id.to_string());
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::history(c, &t, id).await }),
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
        mut audit: AuditDraft,
    ) -> Result<RecordPage, StoreError> {
        audit.subject_id = filter.subject.clone();
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::list(c, &t, &filter, after, limit).await }),
            rules::describe_page,
        )
        .await
    }

    async fn search_records(
        &self,
        tenant: &TenantId,
        request: crate::search::SearchRequest,
        audit: AuditDraft,
    ) -> Result<crate::search::SearchPage, StoreError> {
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { search::search(c, &t, &request).await }),
            crate::search::describe,
        )
        .await
    }

    async fn verify_records(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<IntegrityScan, StoreError> {
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::verify_all(c, &t, after, limit).await }),
            rules::describe_scan,
        )
        .await
    }

    async fn export_versions(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::tenant_archive::VersionPage, StoreError> {
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::versions_page(c, &t, after, limit).await }),
            crate::tenant_archive::describe_export,
        )
        .await
    }

    async fn import_versions(
        &self,
        tenant: &TenantId,
        versions: Vec<crate::tenant_archive::ArchivedVersion>,
        audit: AuditDraft,
    ) -> Result<usize, StoreError> {
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { records::import_versions(c, &t, &versions).await }),
            crate::tenant_archive::describe_import,
        )
        .await
    }

    async fn reindex_search(
        &self,
        tenant: &TenantId,
        after: Option<RecordId>,
        limit: usize,
        audit: AuditDraft,
    ) -> Result<crate::search::ReindexPage, StoreError> {
        let t = tenant.clone();
        self.in_tenant(
            tenant,
            audit,
            move |c| Box::pin(async move { search::reindex(c, &t, after, limit).await }),
            crate::search::describe_reindex,
        )
        .await
    }

    async fn append_audit(&self, audit: AuditDraft) -> Result<i64, StoreError> {
        self.timed(async {
            // An event for an unknown tenant belongs in the system log.
            let log = match &audit.tenant {
                Some(t) if self.tenant_known(t).await? => t.to_string(),
                _ => audit::SYSTEM.to_owned(),
            };
            self.write_audit(&log, audit).await
        })
        .await
    }

    async fn list_audit(
        &self,
        log: &LogId,
        query: AuditQuery,
        mut audit: AuditDraft,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let result = async {
                let mut tx = self.begin(&log).await?;
                audit::list(&mut tx, &*self.log_ctx(&log)?, &query).await
            }
            .await;
            // The read of a log is recorded in the reader's own log, which may be another one
            // (and so another row-level-security scope): a second transaction, committed
            // before anything is returned.
            let own = self.log_of(&LogId::of(audit.tenant.as_ref())).await?;
            match &result {
                Ok(page) => audit.detail("count", page.items.len()),
                Err(e) => audit.failed(Outcome::Error, e.reason()),
            }
            self.write_audit(&own, audit).await?;
            result
        })
        .await
    }

    async fn sign_tree_head(&self, log: &LogId) -> Result<SignedTreeHead, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            let head = audit::sign_tree_head(&mut tx, &log, &self.keys.signing).await?;
            commit(tx).await?;
            Ok(head)
        })
        .await
    }

    async fn tree_heads(&self, log: &LogId) -> Result<Vec<SignedTreeHead>, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            audit::tree_heads(&mut tx, &log).await
        })
        .await
    }

    async fn audit_leaves(
        &self,
        log: &LogId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogLeaf>, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            audit::leaves(&mut tx, &log, after_seq, limit).await
        })
        .await
    }

    async fn audit_leaf_hashes(
        &self,
        log: &LogId,
        first_seq: i64,
        last_seq: i64,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            audit::leaf_hashes(&mut tx, &log, first_seq, last_seq).await
        })
        .await
    }

    async fn audit_chunk_roots(
        &self,
        log: &LogId,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            audit::chunk_roots(&mut tx, &log, first, last).await
        })
        .await
    }

    async fn put_audit_chunk_roots(
        &self,
        log: &LogId,
        roots: Vec<(u64, [u8; 32])>,
    ) -> Result<(), StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            audit::put_chunk_roots(&mut tx, &log, &roots).await?;
            commit(tx).await
        })
        .await
    }

    async fn tree_state(&self, log: &LogId) -> Result<(u64, [u8; 32]), StoreError> {
        self.timed(async {
            let log = self.log_of(log).await?;
            let mut tx = self.begin(&log).await?;
            let tree = audit::load_tree(&mut tx, &log).await?;
            Ok((tree.size(), tree.root()))
        })
        .await
    }

    fn audit_public_key(&self) -> Result<AuditPublicKey, StoreError> {
        Ok(self.keys.signing.public_key())
    }

    async fn try_exclusive(&self, name: &str) -> Result<Option<ExclusiveGuard>, StoreError> {
        self.timed(job_lock(&self.pool, name)).await
    }

    fn pool_figures(&self) -> Option<crate::stats::PoolFigures> {
        Some(crate::stats::PoolFigures {
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        })
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin(audit::SYSTEM).await?;
            sqlx::query("SELECT count(*) FROM hippo.tenants")
                .execute(&mut *tx)
                .await
                .map_err(errors::db)?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                "the database at {} is unreachable: {m}",
                self.target
            )),
            other => other,
        })
    }

    async fn shutdown(&self) {
        self.groups.close();
        self.pool.close().await;
    }
}
