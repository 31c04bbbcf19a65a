//! Tenants' Rego rules narrow the built-in policy: one that denies a record type to readers,
//! one that removes a field from every response (minimum necessary), and a denial that names
//! its rule.

use super::*;
use serde_json::json;

const RULES: &str = r#"package hippo.tenant

deny contains "psych-notes-need-writer" if {
    input.action == "record.read"
    input.resource.type == "PsychNote"
    input.principal.role == "reader"
}

remove_fields contains "/ssn" if {
    input.principal.role != "admin"
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_rule_denies_by_name_and_another_removes_a_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clinic-a.rego"), RULES).unwrap();
    let load = || {
        hippo_policy::PolicyEngine::load(&hippo_policy::PolicyConfig {
            dir: Some(dir.path().to_owned()),
        })
        .expect("the policy loads")
    };
    for w in worlds("authz_rego", load).await {
        let kind = w.kind();
        let a = w.tenant("clinic-a").await;
        let b = w.tenant("clinic-b").await;
        let reader = w.user("reader-a", &a, Role::Reader).await;
        let writer = w.user("writer-a", &a, Role::Writer).await;
        let reader_b = w.user("reader-b", &b, Role::Reader).await;
        let r = w.session(&reader, &a, Role::Reader).await;
        let wr = w.session(&writer, &a, Role::Writer).await;
        let rb = w.session(&reader_b, &b, Role::Reader).await;

        let psych = w.record(&a, "PsychNote", &[], json!({"text": "x"})).await;
        let (status, p) = w
            .call(Method::GET, &format!("/v1/records/{psych}"), &r, None)
            .await;
        assert_eq!(status, 403, "{kind}: {p}");
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("tenant:psych-notes-need-writer"),
            "{p}"
        );
        assert_eq!(
            w.call(Method::GET, &format!("/v1/records/{psych}"), &wr, None)
                .await
                .0,
            200
        );

        let patient = w
            .record(
                &a,
                "Patient",
                &[],
                json!({"ssn": "123-45-6789", "mrn": "7"}),
            )
            .await;
        let (status, body) = w
            .call(Method::GET, &format!("/v1/records/{patient}"), &wr, None)
            .await;
        assert_eq!(status, 200, "{kind}");
        assert_eq!(body["body"], json!({"mrn": "7"}), "{kind}: /ssn removed");
        let (_, page) = w
            .call(Method::GET, "/v1/records?type=Patient", &wr, None)
            .await;
        assert_eq!(
            page["items"][0]["body"],
            json!({"mrn": "7"}),
            "{kind}: lists too"
        );
        // Tenant B has no rules: its own records keep every field.
        let other = w.record(&b, "Patient", &[], json!({"ssn": "1"})).await;
        let (_, body) = w
            .call(Method::GET, &format!("/v1/records/{other}"), &rb, None)
            .await;
        assert_eq!(body["body"], json!({"ssn": "1"}), "{kind}");

        // The denial is in the audit trail with its rule.
        let events = w.events(&a).await;
        assert!(
            events
                .iter()
                .any(|e| e.outcome == hippo_core::Outcome::Denied
                    && e.details["rule"] == "tenant:psych-notes-need-writer"),
            "{kind}"
        );
    }
}
