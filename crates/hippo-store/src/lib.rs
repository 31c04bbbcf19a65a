//! Hippo's storage layer: the [`Store`] contract and its implementations.
//!
//! Every method that touches PHI or access takes an [`hippo_core::AuditDraft`] and writes the
//! audit event itself, in the same durable commit as the change (or, for reads, before it
//! returns), so no caller can forget to audit and no audit failure can be ignored.

pub mod audit_log;
pub mod aws;
pub mod continuity;
pub mod error;
pub mod escrow;
pub mod export;
pub mod group_commit;
pub mod idempotency;
pub mod identity;
pub mod keyring;
pub mod kind;
pub mod ledger;
pub mod postgres;
pub mod proofs;
pub mod random;
pub mod record_rules;
pub mod search;
pub mod sql;
pub mod sqlite;
pub mod stats;
pub mod store;
pub mod tenant_archive;

pub use error::StoreError;
pub use idempotency::{BatchItem, BatchOutcome};
pub use keyring::Keyring;
pub use kind::StoreKind;
pub use postgres::{PgSettings, PgStore};
pub use record_rules::{IntegrityFailure, RecordPage};
pub use sqlite::{SqliteSettings, SqliteStore};
pub use store::{
    api_key_usable, ApiKeyInfo, AuditQuery, ExclusiveGuard, IntegrityScan, KeyRotation, LogLeaf,
    NewApiKey, Store, TenantInfo,
};
