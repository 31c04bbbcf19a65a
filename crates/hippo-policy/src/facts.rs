//! The facts a decision is made from: who asks, what for, about what, in which context.
//!
//! Their serde form is exactly the Rego `input` document tenant rules see, so what a rule
//! reads is what this file declares (no second mapping to keep in step).

use hippo_core::policy::Role;
use hippo_core::{Action, ActorKind, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label that makes a record readable only inside an open emergency (break-glass) session.
pub const RESTRICTED_LABEL: &str = "restricted";

/// Who is asking. Rego: `input.principal.{id,kind,tenant,role,attributes}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalFacts {
    pub id: String,
    pub kind: ActorKind,
    pub tenant: TenantId,
    pub role: Role,
    /// Deployment-defined facts about the principal (department, care team, ...), for tenant
    /// rules. Never credentials.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// What is asked about. Rego: `input.resource.{tenant,type,subject,labels}`.
///
/// Only envelope facts: a record's body never reaches policy, so a rule cannot leak it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceFacts {
    pub tenant: TenantId,
    /// The record type (e.g. `Patient`), when the request concerns one type.
    #[serde(rename = "type")]
    pub record_type: Option<String>,
    /// The record's subject id, when known. Never echoed in a decision's rule or reason.
    pub subject: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

impl ResourceFacts {
    pub fn is_restricted(&self) -> bool {
        self.labels.iter().any(|l| l == RESTRICTED_LABEL)
    }
}

/// An open emergency elevation. Rego: `input.context.emergency.{session_id,reason_len,expires_at_ms}`.
///
/// Only the reason's length is carried: the reason itself is free text and may hold PHI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyFacts {
    pub session_id: String,
    pub reason_len: usize,
    /// Unix milliseconds after which the elevation no longer widens anything.
    pub expires_at_ms: i64,
}

/// The request's context. Rego: `input.context.{purpose,emergency,now_ms,source_addr}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextFacts {
    /// The declared purpose of use (e.g. `treatment`), when the caller gave one.
    pub purpose: Option<String>,
    pub emergency: Option<EmergencyFacts>,
    /// The decision's clock, in Unix milliseconds; supplied by the caller so `decide` is pure.
    pub now_ms: i64,
    pub source_addr: Option<String>,
}

/// Everything one decision looks at. Serialises to the Rego `input` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInput {
    pub principal: PrincipalFacts,
    /// Serialised as its dotted name, e.g. `"record.read"`.
    pub action: Action,
    pub resource: ResourceFacts,
    pub context: ContextFacts,
}

/// A request by a `role` principal of `tenant` for `action` on a plain resource of the same
/// tenant; tests adjust the fields they are about.
#[cfg(test)]
pub(crate) fn sample_input(tenant: &str, role: Role, action: Action) -> PolicyInput {
    let tenant: TenantId = tenant.parse().expect("test tenant id");
    PolicyInput {
        principal: PrincipalFacts {
            id: "u-1".into(),
            kind: ActorKind::User,
            tenant: tenant.clone(),
            role,
            attributes: BTreeMap::new(),
        },
        action,
        resource: ResourceFacts {
            tenant,
            record_type: Some("Patient".into()),
            subject: Some("p-1".into()),
            labels: Vec::new(),
        },
        context: ContextFacts {
            purpose: None,
            emergency: None,
            now_ms: 1_000_000,
            source_addr: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_to_the_documented_rego_input_shape() {
        let input = PolicyInput {
            principal: PrincipalFacts {
                id: "u-1".into(),
                kind: ActorKind::User,
                tenant: "acme".parse().unwrap(),
                role: Role::Reader,
                attributes: BTreeMap::from([("dept".into(), "cardio".into())]),
            },
            action: Action::RecordRead,
            resource: ResourceFacts {
                tenant: "acme".parse().unwrap(),
                record_type: Some("Patient".into()),
                subject: None,
                labels: vec!["restricted".into()],
            },
            context: ContextFacts {
                purpose: Some("treatment".into()),
                emergency: Some(EmergencyFacts {
                    session_id: "s-1".into(),
                    reason_len: 12,
                    expires_at_ms: 20,
                }),
                now_ms: 10,
                source_addr: None,
            },
        };
        let v = serde_json::to_value(&input).unwrap();
        assert_eq!(
            v,
            json!({
                "principal": {"id": "u-1", "kind": "user", "tenant": "acme", "role": "reader",
                              "attributes": {"dept": "cardio"}},
                "action": "record.read",
                "resource": {"tenant": "acme", "type": "Patient", "subject": null, "labels": ["restricted"]},
                "context": {"purpose": "treatment", "now_ms": 10, "source_addr": null,
                            "emergency": {"session_id": "s-1", "reason_len": 12, "expires_at_ms": 20}}
            })
        );
        let back: PolicyInput = serde_json::from_value(v).unwrap();
        assert_eq!(back, input);
        assert!(input.resource.is_restricted());
    }
}
