//! The policy engine: loads tenant rule files once and decides each request in a fixed order.

use crate::decision::{Decision, Obligations};
use crate::error::PolicyError;
use crate::facts::PolicyInput;
use crate::tenant::{Narrowing, TenantRules};
use hippo_core::policy::allows;
use hippo_core::{Action, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[policy]` section of the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A directory of `<tenant>.rego` files; `None` runs the built-in policy only.
    pub dir: Option<PathBuf>,
}

/// Decides requests. Immutable after load, so one instance is shared (in an `Arc`) by every
/// request; decisions never touch shared mutable state.
#[derive(Debug, Clone, Default)]
pub struct PolicyEngine {
    tenants: BTreeMap<TenantId, TenantRules>,
}

/// Actions that disclose record content, the only ones a `restricted` label gates.
fn discloses_records(action: Action) -> bool {
    matches!(
        action,
        Action::RecordRead
            | Action::RecordList
            | Action::RecordHistory
            | Action::RecordSearch
            | Action::DocumentRead
            | Action::DocumentList
    )
}

impl PolicyEngine {
    /// Tenant isolation, roles and restricted labels; no tenant rules.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// Loads `<dir>/<tenant>.rego` for every tenant with rules, refusing the whole directory
    /// if any file is misnamed, does not parse, or does not evaluate.
    pub fn load(cfg: &PolicyConfig) -> Result<Self, PolicyError> {
        let Some(dir) = &cfg.dir else {
            return Ok(Self::builtin());
        };
        if !dir.is_dir() {
            return Err(PolicyError::DirMissing { path: dir.clone() });
        }
        let read_dir_err = |source| PolicyError::ReadDir {
            path: dir.clone(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir_err)? {
            paths.push(entry.map_err(read_dir_err)?.path());
        }
        // Sorted, so the error reported for a directory with several problems is stable.
        paths.sort();
        let mut tenants = BTreeMap::new();
        for path in paths {
            if path.is_dir() {
                return Err(PolicyError::Subdirectory { path });
            }
            if path.extension().is_none_or(|e| e != "rego") {
                return Err(PolicyError::NotRego { path });
            }
            let tenant = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<TenantId>().ok());
            let Some(tenant) = tenant else {
                return Err(PolicyError::BadTenantName { path });
            };
            let rules = TenantRules::load(&path, &tenant)?;
            tenants.insert(tenant, rules);
        }
        Ok(Self { tenants })
    }

    /// Tenants that have a rule file, in order.
    pub fn tenants_with_rules(&self) -> Vec<TenantId> {
        self.tenants.keys().cloned().collect()
    }

    /// The rule file governing `tenant`, if any (for `policy explain` and start-up logs).
    pub fn rules_file(&self, tenant: &TenantId) -> Option<&std::path::Path> {
        self.tenants.get(tenant).map(TenantRules::file)
    }

    /// Decides one request. Pure and deterministic: the clock is `input.context.now_ms`.
    ///
    /// Order: tenant isolation, role, restricted label (where an emergency may widen reads),
    /// then the tenant's Rego rules, which may only narrow.
    pub fn decide(&self, input: &PolicyInput) -> Decision {
        let (principal, resource, ctx) = (&input.principal, &input.resource, &input.context);
        if principal.tenant != resource.tenant {
            return Decision::deny(
                "tenant-isolation",
                "the resource belongs to another tenant than the principal",
            );
        }
        if !allows(principal.role, input.action) {
            return Decision::deny(
                "rbac",
                format!(
                    "role {} may not perform {}",
                    principal.role,
                    input.action.as_str()
                ),
            );
        }
        let mut widened = false;
        if discloses_records(input.action) && resource.is_restricted() {
            match &ctx.emergency {
                None => {
                    return Decision::deny(
                        "restricted-label",
                        "the resource is labelled restricted; reading it needs an open emergency (break-glass) session",
                    )
                }
                Some(e) if e.expires_at_ms <= ctx.now_ms => {
                    return Decision::deny(
                        "break-glass-expired",
                        "the emergency (break-glass) session has expired; open a new one to read restricted resources",
                    )
                }
                Some(_) => widened = true,
            }
        }
        let obligations = match self.tenants.get(&resource.tenant) {
            None => Obligations::default(),
            Some(rules) => match rules.evaluate(input) {
                Ok(Narrowing::Allow(obligations)) => obligations,
                Ok(Narrowing::Deny(name)) => {
                    return Decision::deny(
                        format!("tenant:{name}"),
                        format!("the tenant's access rule {name} denies this request"),
                    )
                }
                // The engine's message may quote input values, so it is not passed on.
                Err(_) => {
                    return Decision::deny(
                        "policy-error",
                        "the tenant's access rules could not be evaluated for this request, so access is denied; the tenant's policy file needs fixing",
                    )
                }
            },
        };
        let (rule, reason) = if widened {
            (
                "break-glass",
                "allowed by an open emergency (break-glass) session; this access is flagged for review",
            )
        } else {
            ("rbac", "allowed by the principal's role")
        };
        Decision {
            allowed: true,
            rule: rule.to_owned(),
            reason: reason.to_owned(),
            obligations,
            widened_by_emergency: widened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{sample_input, EmergencyFacts};
    use hippo_core::policy::Role;
    use proptest::prelude::*;

    fn emergency(expires_at_ms: i64) -> Option<EmergencyFacts> {
        Some(EmergencyFacts {
            session_id: "s-1".into(),
            reason_len: 30,
            expires_at_ms,
        })
    }

    #[test]
    fn tenant_isolation_holds_even_with_an_open_emergency() {
        let engine = PolicyEngine::builtin();
        let mut input = sample_input("acme", Role::Admin, Action::RecordRead);
        input.resource.tenant = "other".parse().unwrap();
        input.resource.labels = vec!["restricted".into()];
        input.context.emergency = emergency(input.context.now_ms + 60_000);
        let d = engine.decide(&input);
        assert!(!d.allowed);
        assert_eq!(d.rule, "tenant-isolation");
        assert!(!d.widened_by_emergency);
        // Without the label too, and for every action.
        input.resource.labels.clear();
        for action in Action::ALL {
            input.action = action;
            assert_eq!(engine.decide(&input).rule, "tenant-isolation", "{action}");
        }
    }

    #[test]
    fn role_matrix_matches_core_policy_and_samples() {
        let engine = PolicyEngine::builtin();
        for role in Role::ALL {
            for action in Action::ALL {
                let d = engine.decide(&sample_input("acme", role, action));
                assert_eq!(d.allowed, allows(role, action), "{role} {action}");
                assert_eq!(d.rule, "rbac");
                assert!(!d.reason.contains("p-1"), "reason names the subject");
            }
        }
        let d = engine.decide(&sample_input("acme", Role::Reader, Action::RecordRead));
        assert!(d.allowed && d.obligations.is_empty() && !d.widened_by_emergency);
        let d = engine.decide(&sample_input("acme", Role::Auditor, Action::RecordRead));
        assert!(!d.allowed);
        assert_eq!(d.reason, "role auditor may not perform record.read");
        assert!(
            !engine
                .decide(&sample_input("acme", Role::Reader, Action::RecordCreate))
                .allowed
        );
        assert!(
            !engine
                .decide(&sample_input("acme", Role::Writer, Action::ApiKeyCreate))
                .allowed
        );
        assert!(
            engine
                .decide(&sample_input("acme", Role::Auditor, Action::AuditRead))
                .allowed
        );
        assert!(
            engine
                .decide(&sample_input("acme", Role::Admin, Action::ApiKeyRevoke))
                .allowed
        );
    }

    #[test]
    fn restricted_label_opens_only_to_a_live_emergency() {
        let engine = PolicyEngine::builtin();
        for action in [
            Action::RecordRead,
            Action::RecordList,
            Action::RecordHistory,
            Action::RecordSearch,
        ] {
            let mut input = sample_input("acme", Role::Reader, action);
            input.resource.labels = vec!["intake".into(), "restricted".into()];
            let d = engine.decide(&input);
            assert_eq!((d.allowed, d.rule.as_str()), (false, "restricted-label"));

            input.context.emergency = emergency(input.context.now_ms + 1);
            let d = engine.decide(&input);
            assert_eq!((d.allowed, d.rule.as_str()), (true, "break-glass"));
            assert!(d.widened_by_emergency);

            // Expiry is exclusive: at expires_at_ms the session no longer counts.
            input.context.emergency = emergency(input.context.now_ms);
            let d = engine.decide(&input);
            assert_eq!((d.allowed, d.rule.as_str()), (false, "break-glass-expired"));
            assert!(!d.widened_by_emergency);
        }
    }

    #[test]
    fn an_emergency_never_grants_a_missing_action() {
        let engine = PolicyEngine::builtin();
        let mut input = sample_input("acme", Role::Auditor, Action::RecordRead);
        input.resource.labels = vec!["restricted".into()];
        input.context.emergency = emergency(input.context.now_ms + 60_000);
        let d = engine.decide(&input);
        assert_eq!((d.allowed, d.rule.as_str()), (false, "rbac"));
        input.principal.role = Role::Reader;
        input.action = Action::RecordDelete;
        assert_eq!(engine.decide(&input).rule, "rbac");
    }

    #[test]
    fn an_emergency_without_a_restricted_label_widens_nothing() {
        let engine = PolicyEngine::builtin();
        let mut input = sample_input("acme", Role::Reader, Action::RecordRead);
        input.context.emergency = emergency(input.context.now_ms + 60_000);
        let d = engine.decide(&input);
        assert_eq!((d.allowed, d.rule.as_str()), (true, "rbac"));
        assert!(!d.widened_by_emergency);
    }

    #[test]
    fn restricted_label_gates_disclosure_not_writes() {
        // Writing (e.g. creating a restricted note) discloses nothing, so the role decides.
        let engine = PolicyEngine::builtin();
        let mut input = sample_input("acme", Role::Writer, Action::RecordCreate);
        input.resource.labels = vec!["restricted".into()];
        let d = engine.decide(&input);
        assert_eq!((d.allowed, d.rule.as_str()), (true, "rbac"));
    }

    #[test]
    fn load_without_a_dir_is_the_builtin_policy() {
        let engine = PolicyEngine::load(&PolicyConfig::default()).unwrap();
        assert!(engine.tenants_with_rules().is_empty());
    }

    #[test]
    fn config_refuses_unknown_keys() {
        let err = serde_json::from_str::<PolicyConfig>(r#"{"dir": "/x", "dirs": "/y"}"#);
        assert!(err.is_err());
        let ok: PolicyConfig = serde_json::from_str(r#"{"dir": "/x"}"#).unwrap();
        assert_eq!(ok.dir, Some(PathBuf::from("/x")));
    }

    fn any_action() -> impl Strategy<Value = Action> {
        (0..Action::ALL.len()).prop_map(|i| Action::ALL[i])
    }
    fn any_role() -> impl Strategy<Value = Role> {
        (0..Role::ALL.len()).prop_map(|i| Role::ALL[i])
    }

    proptest! {
        #[test]
        fn no_cross_tenant_request_is_ever_allowed(
            own in "[a-z][a-z0-9-]{0,10}",
            other in "[a-z][a-z0-9-]{0,10}",
            role in any_role(),
            action in any_action(),
            restricted in any::<bool>(),
            emergency_offset in proptest::option::of(-1_000i64..1_000),
            record_type in proptest::option::of("[A-Za-z]{1,12}"),
        ) {
            prop_assume!(own != other);
            // Rules for both tenants that only strip fields: present, but never a reason to deny.
            let dir = tempfile::tempdir().unwrap();
            for t in [&own, &other] {
                std::fs::write(
                    dir.path().join(format!("{t}.rego")),
                    "package hippo.tenant\nremove_fields contains \"/ssn\"\n",
                ).unwrap();
            }
            let engine = PolicyEngine::load(&PolicyConfig { dir: Some(dir.path().into()) }).unwrap();
            let mut input = sample_input(&own, role, action);
            input.resource.tenant = other.parse().unwrap();
            input.resource.record_type = record_type;
            if restricted {
                input.resource.labels.push("restricted".into());
            }
            input.context.emergency = emergency_offset.map(|o| EmergencyFacts {
                session_id: "s".into(),
                reason_len: 10,
                expires_at_ms: input.context.now_ms + o,
            });
            let d = engine.decide(&input);
            prop_assert!(!d.allowed);
            prop_assert_eq!(d.rule.as_str(), "tenant-isolation");
            prop_assert!(!d.widened_by_emergency);
        }
    }
}
