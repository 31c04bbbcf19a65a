//! The policy engine: loads tenant rule files once and decides each request in a fixed order.

use crate::decision::{Decision, Obligations};
use crate::error::PolicyError;
use crate::facts::PolicyInput;
use crate::tenant::{Narrowing, TenantRules};
use hippo_core::policy::allows;
use hippo_core::{Action, TenantId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[policy]` section of the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
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
        Action::RecordRead | Action::RecordList | Action::RecordHistory
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
