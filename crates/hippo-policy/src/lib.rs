//! Authorization as policy (164.312(a)(1) access control, 164.502(b) minimum necessary).
//!
//! TODO crate doc
mod decision;
mod engine;
mod error;
mod facts;
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
