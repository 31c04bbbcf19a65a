//! One tenant's Rego rules: parsed and checked once at load, evaluated per decision on a clone.

use crate::decision::{parse_pointer, Obligations};
use crate::error::{split_regorus_error, PolicyError};
use crate::facts::PolicyInput;
use crate::samples::samples;
use hippo_core::TenantId;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The package every tenant file must declare (as regorus reports it).
const PACKAGE: &str = "data.hippo.tenant";
const DENY: &str = "data.hippo.tenant.deny";
const REMOVE_FIELDS: &str = "data.hippo.tenant.remove_fields";

/// A runaway rule must not hold a request (or the start) forever; past this it fails closed.
const EVAL_LIMIT: Duration = Duration::from_millis(250);

/// Deny names longer than this, or with other characters, are reported as `unnamed-rule`:
/// the name goes into audit events and responses, so it must look like a rule name, not data.
const MAX_DENY_NAME: usize = 96;
const UNNAMED: &str = "unnamed-rule";

/// What a tenant's rules say about one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Narrowing {
    /// Denied; the first deny entry in sorted order, made safe to show.
    Deny(String),
    Allow(Obligations),
}

/// Why evaluation failed. The detail may quote input values, so it is shown only at load,
/// where the input is synthetic.
#[derive(Debug)]
pub(crate) enum EvalFailure {
    Engine(String),
    Shape(String),
}

#[derive(Debug, Clone)]
pub(crate) struct TenantRules {
    file: PathBuf,
    /// Parsed and prepared once; each evaluation works on a clone so no state is shared
    /// between requests and nothing is parsed again.
    engine: regorus::Engine,
    has_deny: bool,
    has_remove_fields: bool,
}

impl TenantRules {
    /// Reads, parses and checks `path`, the rules of `tenant`.
    pub(crate) fn load(path: &Path, tenant: &TenantId) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let label = path.display().to_string();
        let mut engine = regorus::Engine::new();
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: EVAL_LIMIT,
            check_interval: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
        });
        let package = engine.add_policy(label.clone(), text).map_err(|e| {
            let (line, detail) = split_regorus_error(&e.to_string());
            PolicyError::Parse {
                path: path.to_owned(),
                line,
                detail,
            }
        })?;
        if package != PACKAGE {
            return Err(PolicyError::WrongPackage {
                path: path.to_owned(),
                found: package.strip_prefix("data.").unwrap_or(&package).to_owned(),
            });
        }
        let declared = |engine: &regorus::Engine, rule: &str| {
            engine
                .has_declared_rule_rooted_at(&label, rule)
                .map_err(|e| PolicyError::Parse {
                    path: path.to_owned(),
                    line: None,
                    detail: e.to_string(),
                })
        };
        let has_deny = declared(&engine, "deny")?;
        let has_remove_fields = declared(&engine, "remove_fields")?;
        if !has_deny && !has_remove_fields {
            return Err(PolicyError::NoRules {
                path: path.to_owned(),
            });
        }
        let mut rules = Self {
            file: path.to_owned(),
            engine,
            has_deny,
            has_remove_fields,
        };
        rules.check_samples(tenant)?;
        Ok(rules)
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Evaluates every sample request, which also prepares the engine (analysis, scheduling)
    /// once so per-decision clones start ready.
    fn check_samples(&mut self, tenant: &TenantId) -> Result<(), PolicyError> {
        for (sample, input) in samples(tenant) {
            let value = to_rego(&input).map_err(|detail| PolicyError::BadResult {
                path: self.file.clone(),
                sample: sample.clone(),
                detail,
            })?;
            match evaluate_on(
                &mut self.engine,
                self.has_deny,
                self.has_remove_fields,
                value,
                &input,
            ) {
                Ok(_) => {}
                Err(EvalFailure::Engine(e)) => {
                    let (line, detail) = split_regorus_error(&e);
                    return Err(PolicyError::Eval {
                        path: self.file.clone(),
                        line,
                        sample,
                        detail,
                    });
                }
                Err(EvalFailure::Shape(detail)) => {
                    return Err(PolicyError::BadResult {
                        path: self.file.clone(),
                        sample,
                        detail,
                    })
                }
            }
        }
        Ok(())
    }

    /// What the rules say about `input`. Pure: works on a clone of the prepared engine.
    pub(crate) fn evaluate(&self, input: &PolicyInput) -> Result<Narrowing, EvalFailure> {
        let value = to_rego(input).map_err(EvalFailure::Shape)?;
        let mut engine = self.engine.clone();
        evaluate_on(
            &mut engine,
            self.has_deny,
            self.has_remove_fields,
            value,
            input,
        )
    }
}

fn to_rego(input: &PolicyInput) -> Result<regorus::Value, String> {
    let json = serde_json::to_value(input).map_err(|e| format!("input not serialisable: {e}"))?;
    serde_json::from_value(json).map_err(|e| format!("input not convertible: {e}"))
}

fn evaluate_on(
    engine: &mut regorus::Engine,
    has_deny: bool,
    has_remove_fields: bool,
    value: regorus::Value,
    input: &PolicyInput,
) -> Result<Narrowing, EvalFailure> {
    engine.set_input(value);
    let mut eval = |rule: &str| {
        engine
            .eval_rule(rule.to_owned())
            .map_err(|e| EvalFailure::Engine(e.to_string()))
    };
    let deny = if has_deny {
        members(&eval(DENY)?, "deny")?
    } else {
        Vec::new()
    };
    let remove = if has_remove_fields {
        members(&eval(REMOVE_FIELDS)?, "remove_fields")?
    } else {
        Vec::new()
    };
    // Checked even when a deny wins, so a malformed remove_fields is caught at load.
    let mut pointers = Vec::with_capacity(remove.len());
    for v in &remove {
        match v {
            regorus::Value::String(s)
                if parse_pointer(s).is_some_and(|tokens| !tokens.is_empty()) =>
            {
                pointers.push(s.to_string())
            }
            _ => {
                return Err(EvalFailure::Shape(
                    "data.hippo.tenant.remove_fields holds an entry that is not a JSON pointer to a field (a string like \"/ssn\"); fix the rule".into(),
                ))
            }
        }
    }
    if let Some(first) = deny.first() {
        return Ok(Narrowing::Deny(deny_name(first, input)));
    }
    pointers.sort();
    pointers.dedup();
    Ok(Narrowing::Allow(Obligations {
        remove_fields: pointers,
    }))
}

/// The entries of a rule's set (arrays accepted too), sorted; undefined means none.
fn members(v: &regorus::Value, rule: &str) -> Result<Vec<regorus::Value>, EvalFailure> {
    match v {
        regorus::Value::Undefined => Ok(Vec::new()),
        regorus::Value::Set(s) => Ok(s.iter_sorted().cloned().collect()),
        regorus::Value::Array(a) => {
            let mut items: Vec<_> = a.iter().cloned().collect();
            items.sort();
            Ok(items)
        }
        _ => Err(EvalFailure::Shape(format!(
            "data.hippo.tenant.{rule} must be a set of strings (write `{rule} contains \"...\" if {{ ... }}`)"
        ))),
    }
}

/// A deny entry as a rule name safe for audit and responses: short, plain, and never
/// containing the request's subject id (a rule could interpolate it by mistake).
fn deny_name(v: &regorus::Value, input: &PolicyInput) -> String {
    let regorus::Value::String(s) = v else {
        return UNNAMED.to_owned();
    };
    let plain = !s.is_empty()
        && s.len() <= MAX_DENY_NAME
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | ':' | '/'));
    let names_subject = input
        .resource
        .subject
        .as_deref()
        .is_some_and(|subj| !subj.is_empty() && s.contains(subj));
    if plain && !names_subject {
        s.to_string()
    } else {
        UNNAMED.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::sample_input;
    use crate::{PolicyConfig, PolicyEngine, PolicyError};
    use hippo_core::policy::Role;
    use hippo_core::Action;
    use serde_json::json;
    use std::path::Path;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn load(dir: &Path) -> Result<PolicyEngine, PolicyError> {
        PolicyEngine::load(&PolicyConfig {
            dir: Some(dir.to_owned()),
        })
    }

    const PSYCH: &str = r#"package hippo.tenant

deny contains "psych-notes-need-writer" if {
    input.principal.role == "reader"
    input.resource.type == "PsychNote"
}
"#;

    #[test]
    fn a_tenant_rule_denies_readers_psych_notes_and_only_in_its_tenant() {
        let dir = dir_with(&[("acme.rego", PSYCH)]);
        let engine = load(dir.path()).unwrap();
        assert_eq!(engine.tenants_with_rules(), vec!["acme".parse().unwrap()]);
        assert_eq!(
            engine.rules_file(&"acme".parse().unwrap()),
            Some(dir.path().join("acme.rego").as_path())
        );

        let mut input = sample_input("acme", Role::Reader, Action::RecordRead);
        input.resource.record_type = Some("PsychNote".into());
        let d = engine.decide(&input);
        assert!(!d.allowed);
        assert_eq!(d.rule, "tenant:psych-notes-need-writer");
        assert!(d.obligations.is_empty());

        input.principal.role = Role::Writer;
        assert_eq!(engine.decide(&input).rule, "rbac");
        assert!(engine.decide(&input).allowed);

        input.principal.role = Role::Reader;
        input.resource.record_type = Some("Patient".into());
        assert!(engine.decide(&input).allowed);

        // Another tenant has no file, so the same request is decided by role alone.
        let mut other = sample_input("other", Role::Reader, Action::RecordRead);
        other.resource.record_type = Some("PsychNote".into());
        assert!(engine.decide(&other).allowed);
    }

    #[test]
    fn the_first_deny_in_sorted_order_names_the_rule() {
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\ndeny contains \"zeta\" if true\ndeny contains \"alpha\" if true\n",
        )]);
        let d = load(dir.path()).unwrap().decide(&sample_input(
            "acme",
            Role::Admin,
            Action::RecordRead,
        ));
        assert_eq!(d.rule, "tenant:alpha");
        assert!(d.reason.contains("alpha"));
    }

    #[test]
    fn a_deny_entry_quoting_the_subject_is_not_echoed() {
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\ndeny contains sprintf(\"blocked %s\", [input.resource.subject]) if input.resource.subject != null\n",
        )]);
        let d = load(dir.path()).unwrap().decide(&sample_input(
            "acme",
            Role::Reader,
            Action::RecordRead,
        ));
        assert!(!d.allowed);
        assert_eq!(d.rule, "tenant:unnamed-rule");
        assert!(!d.reason.contains("p-1"));
    }

    #[test]
    fn remove_fields_becomes_an_obligation_that_apply_honours() {
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\nremove_fields contains \"/ssn\" if input.principal.role == \"reader\"\n",
        )]);
        let engine = load(dir.path()).unwrap();
        let d = engine.decide(&sample_input("acme", Role::Reader, Action::RecordRead));
        assert!(d.allowed);
        assert_eq!(d.obligations.remove_fields, vec!["/ssn".to_owned()]);
        let mut body = json!({"name": "Test Person", "ssn": "000-00-0000"});
        d.obligations.apply(&mut body);
        assert_eq!(body, json!({"name": "Test Person"}));

        let d = engine.decide(&sample_input("acme", Role::Writer, Action::RecordRead));
        assert!(d.obligations.is_empty());
    }

    #[test]
    fn obligations_survive_a_break_glass_widening() {
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\nremove_fields contains \"/ssn\"\n",
        )]);
        let engine = load(dir.path()).unwrap();
        let mut input = sample_input("acme", Role::Reader, Action::RecordRead);
        input.resource.labels = vec!["restricted".into()];
        input.context.emergency = Some(crate::EmergencyFacts {
            session_id: "s".into(),
            reason_len: 10,
            expires_at_ms: input.context.now_ms + 10,
        });
        let d = engine.decide(&input);
        assert_eq!(
            (d.allowed, d.rule.as_str(), d.widened_by_emergency),
            (true, "break-glass", true)
        );
        assert_eq!(d.obligations.remove_fields, vec!["/ssn".to_owned()]);
    }

    #[test]
    fn a_syntax_error_is_refused_with_file_and_line() {
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\n\ndeny contains \"x\" if {\n    input.action ==\n}\n",
        )]);
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(err, PolicyError::Parse { line: Some(5), .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{}:5", dir.path().join("acme.rego").display())),
            "{msg}"
        );
    }

    #[test]
    fn a_policy_that_parses_but_cannot_evaluate_is_refused() {
        for (text, needle) in [
            ("package hippo.tenant\ndeny contains \"x\" if no_such_fn(input.action)\n", "no_such_fn"),
            ("package hippo.tenant\ndeny contains \"x\" if { n := input.principal.id / 2; n > 1 }\n", "div"),
            // Null-unsafe: list requests carry no record type.
            ("package hippo.tenant\ndeny contains \"x\" if startswith(input.resource.type, \"Psych\")\n", "startswith"),
        ] {
            let dir = dir_with(&[("acme.rego", text)]);
            let err = load(dir.path()).unwrap_err();
            assert!(matches!(err, PolicyError::Eval { line: Some(2), .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains("acme.rego:2") && msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn results_of_the_wrong_shape_are_refused() {
        for text in [
            "package hippo.tenant\ndeny := true\n",
            "package hippo.tenant\nremove_fields contains \"ssn\"\n",
            "package hippo.tenant\nremove_fields contains \"\"\n",
            "package hippo.tenant\nremove_fields contains 3\n",
        ] {
            let dir = dir_with(&[("acme.rego", text)]);
            let err = load(dir.path()).unwrap_err();
            assert!(
                matches!(err, PolicyError::BadResult { .. }),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains("acme.rego"));
        }
    }

    #[test]
    fn directory_contents_are_checked() {
        let ok = "package hippo.tenant\nremove_fields contains \"/ssn\"\n";
        type Expect = fn(&PolicyError) -> bool;
        let cases: [(&str, &str, Expect); 6] = [
            ("Acme.rego", ok, |e| matches!(e, PolicyError::BadTenantName { .. })),
            ("1acme.rego", ok, |e| matches!(e, PolicyError::BadTenantName { .. })),
            ("notes.txt", ok, |e| matches!(e, PolicyError::NotRego { .. })),
            ("acme.rego", "package other.pkg\ndeny contains \"x\" if true\n", |e| {
                matches!(e, PolicyError::WrongPackage { found, .. } if found == "other.pkg")
            }),
            ("acme.rego", "package hippo.tenant\nallow := true\n", |e| matches!(e, PolicyError::NoRules { .. })),
            ("acme.rego", "package hippo.tenant\ndeny contains \"x\" if true\nremove_fields contains \"/a\"\n", |_| false),
        ];
        for (name, text, expected) in cases {
            let dir = dir_with(&[(name, text)]);
            match load(dir.path()) {
                Ok(engine) => assert_eq!(
                    name,
                    "acme.rego",
                    "{name} accepted; {:?}",
                    engine.tenants_with_rules()
                ),
                Err(e) => {
                    assert!(expected(&e), "{name}: {e:?}");
                    assert!(e.to_string().contains(name), "{e}");
                }
            }
        }
        let dir = dir_with(&[]);
        std::fs::create_dir(dir.path().join("acme")).unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, PolicyError::Subdirectory { .. }), "{err:?}");
    }

    #[test]
    fn a_missing_dir_names_the_config_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = load(&missing).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("policy.dir") && msg.contains(&missing.display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn an_evaluation_error_at_decide_time_fails_closed_without_phi() {
        // Samples carry no `badge` attribute, so this loads; a non-numeric badge then errors.
        let dir = dir_with(&[(
            "acme.rego",
            "package hippo.tenant\ndeny contains \"badge\" if to_number(input.principal.attributes.badge) > 5\n",
        )]);
        let engine = load(dir.path()).unwrap();
        let mut input = sample_input("acme", Role::Reader, Action::RecordRead);
        input
            .principal
            .attributes
            .insert("badge".into(), "3".into());
        assert!(engine.decide(&input).allowed);
        input
            .principal
            .attributes
            .insert("badge".into(), "9".into());
        assert_eq!(engine.decide(&input).rule, "tenant:badge");
        input
            .principal
            .attributes
            .insert("badge".into(), "secret-value".into());
        let d = engine.decide(&input);
        assert_eq!((d.allowed, d.rule.as_str()), (false, "policy-error"));
        assert!(
            !d.reason.contains("secret-value") && !d.reason.contains("p-1"),
            "{}",
            d.reason
        );
        // The failure leaves nothing behind: the next request is decided afresh.
        input
            .principal
            .attributes
            .insert("badge".into(), "3".into());
        assert!(engine.decide(&input).allowed);
    }

    #[test]
    fn a_runaway_rule_is_cut_off_and_denies() {
        // Fast on the samples (n = 1); 25 million steps once a request sets n = 5000.
        let dir = dir_with(&[(
            "acme.rego",
            r#"package hippo.tenant
deny contains "never" if {
    n := to_number(object.get(input.principal.attributes, "n", "1"))
    some i in numbers.range(1, n)
    some j in numbers.range(1, n)
    i * j == -1
}
"#,
        )]);
        let engine = load(dir.path()).unwrap();
        let mut input = sample_input("acme", Role::Reader, Action::RecordRead);
        assert!(engine.decide(&input).allowed);
        input.principal.attributes.insert("n".into(), "5000".into());
        let started = std::time::Instant::now();
        let d = engine.decide(&input);
        assert_eq!((d.allowed, d.rule.as_str()), (false, "policy-error"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
