//! Cost of one decision: built-in policy only, and with one tenant Rego file (cloned engine).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hippo_core::policy::Role;
use hippo_core::{Action, ActorKind, TenantId};
use hippo_policy::{
    ContextFacts, PolicyConfig, PolicyEngine, PolicyInput, PrincipalFacts, ResourceFacts,
};
use std::collections::BTreeMap;

const RULES: &str = r#"package hippo.tenant

deny contains "psych-notes-need-writer" if {
    input.principal.role == "reader"
    input.resource.type == "PsychNote"
}

remove_fields contains "/ssn" if input.principal.role == "reader"
"#;

fn input() -> PolicyInput {
    let tenant: TenantId = "acme".parse().expect("tenant id");
    PolicyInput {
        principal: PrincipalFacts {
            id: "u-1".into(),
            kind: ActorKind::User,
            tenant: tenant.clone(),
            role: Role::Reader,
            attributes: BTreeMap::from([("department".into(), "cardiology".into())]),
        },
        action: Action::RecordRead,
        resource: ResourceFacts {
            tenant,
            record_type: Some("Patient".into()),
            subject: Some("p-1".into()),
            labels: vec!["intake".into()],
        },
        context: ContextFacts {
            purpose: Some("treatment".into()),
            emergency: None,
            now_ms: 1_700_000_000_000,
            source_addr: Some("192.0.2.1".into()),
        },
    }
}

fn decide(c: &mut Criterion) {
    let input = input();
    let builtin = PolicyEngine::builtin();
    c.bench_function("decide/builtin", |b| {
        b.iter(|| builtin.decide(black_box(&input)))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("acme.rego"), RULES).expect("write rules");
    let with_rules = PolicyEngine::load(&PolicyConfig {
        dir: Some(dir.path().to_owned()),
    })
    .expect("load rules");
    assert_eq!(
        with_rules.decide(&input).obligations.remove_fields,
        ["/ssn"]
    );
    c.bench_function("decide/one_tenant_rule_file", |b| {
        b.iter(|| with_rules.decide(black_box(&input)))
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
