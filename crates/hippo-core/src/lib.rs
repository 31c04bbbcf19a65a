//! Hippo's domain model: the types, validation rules and access policy every other crate builds on.
//!
//! This crate performs no I/O. Storage, HTTP and the command line depend on it; it depends on none of them.

pub mod apikey;
pub mod audit;
pub mod canonical;
pub mod cursor;
pub mod ids;
pub mod log_id;
pub mod policy;
pub mod principal;
pub mod record;
pub mod strict_json;
pub mod time_fmt;
pub mod validate;

pub use audit::{Action, AuditDraft, AuditEvent, Outcome};
pub use ids::{RecordId, TenantId};
pub use log_id::LogId;
pub use policy::Role;
pub use principal::{Actor, ActorKind, Principal};
pub use record::{Page, Record, RecordFilter, RecordInput, RecordType};
