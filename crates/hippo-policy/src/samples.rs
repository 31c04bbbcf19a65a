//! The synthetic requests a tenant's rules are checked against at load, before any real one.

use crate::facts::{ContextFacts, EmergencyFacts, PolicyInput, PrincipalFacts, ResourceFacts};
use hippo_core::policy::Role;
use hippo_core::{Action, ActorKind, TenantId};
use std::collections::BTreeMap;

/// Synthetic requests every tenant file must evaluate without error: every action and role,
/// once with every optional fact present and once with each absent (null), since list
/// requests and service accounts really do arrive without them.
pub(crate) fn samples(tenant: &TenantId) -> Vec<(String, PolicyInput)> {
    let mut out = Vec::with_capacity(Action::ALL.len() * Role::ALL.len() * 2);
    for action in Action::ALL {
        for role in Role::ALL {
            for full in [true, false] {
                let input = PolicyInput {
                    principal: PrincipalFacts {
                        id: "sample-principal".into(),
                        kind: if full {
                            ActorKind::User
                        } else {
                            ActorKind::ServiceAccount
                        },
                        tenant: tenant.clone(),
                        role,
                        attributes: if full {
                            BTreeMap::from([("department".into(), "sample".into())])
                        } else {
                            BTreeMap::new()
                        },
                    },
                    action,
                    resource: ResourceFacts {
                        tenant: tenant.clone(),
                        record_type: full.then(|| "Patient".into()),
                        subject: full.then(|| "sample-subject".into()),
                        labels: if full {
                            vec!["restricted".into(), "sample".into()]
                        } else {
                            Vec::new()
                        },
                    },
                    context: ContextFacts {
                        purpose: full.then(|| "treatment".into()),
                        emergency: full.then(|| EmergencyFacts {
                            session_id: "sample-session".into(),
                            reason_len: 20,
                            expires_at_ms: 1_700_000_600_000,
                        }),
                        now_ms: 1_700_000_000_000,
                        source_addr: full.then(|| "192.0.2.1".into()),
                    },
                };
                let sample = format!(
                    "action {action}, role {role}, optional facts {}",
                    if full { "present" } else { "null" }
                );
                out.push((sample, input));
            }
        }
    }
    out
}
