//! Authorization as policy: who may do what to which record (HIPAA 164.312(a)(1) access
//! control) and which fields they see (164.502(b) minimum necessary).
//!
//! Pure: [`PolicyEngine::decide`] reads only its [`PolicyInput`] (the clock included) and the
//! rules loaded at start; the only I/O is reading the policy files in [`PolicyEngine::load`].
//!
//! # Decision order
//!
//! The first step that denies decides; [`Decision::rule`] names it.
//!
//! 1. **Tenant isolation** (`tenant-isolation`): a principal never reaches another tenant's
//!    resources, whatever its role or emergency session.
//! 2. **Role** (`rbac`): [`hippo_core::policy::allows`] must permit the action.
//! 3. **Restricted label** (`restricted-label`): a resource labelled `restricted` may be read,
//!    listed or its history seen only inside an open emergency (break-glass) session whose
//!    `expires_at_ms` is after `now_ms`; then the decision is allowed with rule `break-glass`
//!    and `widened_by_emergency = true`. An expired session denies with `break-glass-expired`.
//!    Writes are not gated by the label (they disclose nothing; the role decides). An emergency
//!    widens nothing else: never another tenant, never an action the role lacks.
//! 4. **Tenant rules** (`tenant:<name>`, `policy-error`): if `<policy.dir>/<tenant>.rego`
//!    exists for the resource's tenant, it may deny or strip fields, never allow more.
//! 5. Otherwise allowed, rule `rbac` (or `break-glass` when widened in step 3).
//!
//! # Tenant Rego contract
//!
//! One file per tenant, named `<tenant-id>.rego`, in Rego v1 syntax, declaring
//! `package hippo.tenant`, and defining at least one of:
//!
//! * `deny`: a set of strings. Any member denies; the decision's rule is
//!   `tenant:<first member in sorted order>`. Members should be fixed rule names: one longer
//!   than 96 characters, with characters other than letters, digits and ` -_.:/`, or containing
//!   the request's subject id is reported as `tenant:unnamed-rule` instead.
//! * `remove_fields`: a set of RFC 6901 JSON pointers (`"/ssn"`, `"/contacts/0/phone"`), returned
//!   as [`Obligations::remove_fields`] for the caller to [`Obligations::apply`] to the response.
//!
//! An undefined set counts as empty. The input document is the serde form of [`PolicyInput`]:
//!
//! ```text
//! input.principal   {id, kind, tenant, role, attributes: {string: string}}
//! input.action      "record.read", "record.list", ... (hippo_core::Action's dotted names)
//! input.resource    {tenant, type, subject, labels: [string]}   type and subject may be null
//! input.context     {purpose, emergency, now_ms, source_addr}  purpose, emergency, source_addr may be null
//! input.context.emergency  {session_id, reason_len, expires_at_ms}
//! ```
//!
//! Example: readers may not see psychotherapy notes, and nobody but admins sees SSNs.
//!
//! ```rego
//! package hippo.tenant
//!
//! deny contains "psych-notes-need-writer" if {
//!     input.principal.role == "reader"
//!     input.resource.type == "PsychNote"
//! }
//!
//! remove_fields contains "/ssn" if input.principal.role != "admin"
//! ```
//!
//! # Failing closed
//!
//! At load every file is parsed once and evaluated against synthetic requests (every action
//! and role, with optional facts present and null); a misnamed file, a stray file or
//! directory, a syntax error, a wrong package, a rule that errors, or a result of the wrong
//! shape refuses the whole directory with a [`PolicyError`] naming the file (and line). At
//! decide time, an evaluation error, a malformed result or a rule running past 250 ms denies
//! with rule `policy-error`; the engine's message is dropped, since it may quote input values.

mod decision;
mod engine;
mod error;
mod facts;
mod samples;
mod tenant;

pub use decision::{Decision, Obligations};
pub use engine::{PolicyConfig, PolicyEngine};
pub use error::PolicyError;
pub use facts::{
    ContextFacts, EmergencyFacts, PolicyInput, PrincipalFacts, ResourceFacts, RESTRICTED_LABEL,
};

#[cfg(test)]
mod tests {
    use super::*;
    fn is_send_sync<T: Send + Sync>() {}
    #[test]
    fn engine_is_shareable() {
        is_send_sync::<PolicyEngine>();
    }
}
