//! The authorization matrix: every endpoint x every role x {own tenant, other tenant, emergency
//! session, expired session, disabled user}, each expected outcome derived from one table, on
//! both stores. Zero cross-tenant reads: another tenant's record is always a 404 that carries
//! nothing of it.

use super::*;
use hippo_core::policy::allows;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Situation {
    OwnTenant,
    OtherTenant,
    Emergency,
    ExpiredSession,
    DisabledUser,
}

/// What an endpoint does: its action, and whether it names a record (so another tenant's
/// record id can be put in it).
struct Endpoint {
    method: Method,
    path: &'static str,
    action: Action,
    body: Option<fn() -> serde_json::Value>,
    names_record: bool,
    success: u16,
}

fn endpoints() -> Vec<Endpoint> {
    let ep = |method, path, action, body, names_record, success| Endpoint {
        method,
        path,
        action,
        body,
        names_record,
        success,
    };
    fn patient() -> serde_json::Value {
        json!({"type": "Patient", "subject": "s-9", "body": {"note": "matrix"}})
    }
    fn key() -> serde_json::Value {
        json!({"role": "reader", "name": "matrix"})
    }
    fn user() -> serde_json::Value {
        json!({"username": "made-by-matrix", "password": "correct horse battery staple 42", "role": "reader"})
    }
    fn batch() -> serde_json::Value {
        json!([{"type": "Patient", "subject": "s-8", "body": {"note": "batch"}}])
    }
    fn glass() -> serde_json::Value {
        json!({"reason": "unconscious patient, no consent", "minutes": 5})
    }
    fn nothing() -> serde_json::Value {
        json!({})
    }
    fn question() -> serde_json::Value {
        json!({"role": "reader", "action": "record.read"})
    }
    vec![
        ep(
            Method::GET,
            "/v1/records/{id}",
            Action::RecordRead,
            None,
            true,
            200,
        ),
        ep(
            Method::GET,
            "/v1/records/{id}/history",
            Action::RecordHistory,
            None,
            true,
            200,
        ),
        ep(
            Method::GET,
            "/v1/records/{id}/versions/1",
            Action::RecordRead,
            None,
            true,
            200,
        ),
        ep(
            Method::PUT,
            "/v1/records/{id}",
            Action::RecordUpdate,
            Some(patient),
            true,
            200,
        ),
        ep(
            Method::DELETE,
            "/v1/records/{id}",
            Action::RecordDelete,
            None,
            true,
            200,
        ),
        ep(
            Method::GET,
            "/v1/records?type=Patient",
            Action::RecordList,
            None,
            false,
            200,
        ),
        ep(
            Method::POST,
            "/v1/records",
            Action::RecordCreate,
            Some(patient),
            false,
            201,
        ),
        ep(
            Method::GET,
            "/v1/audit?limit=5",
            Action::AuditRead,
            None,
            false,
            200,
        ),
        ep(
            Method::GET,
            "/v1/admin/apikeys",
            Action::ApiKeyList,
            None,
            false,
            200,
        ),
        ep(
            Method::POST,
            "/v1/admin/apikeys",
            Action::ApiKeyCreate,
            Some(key),
            false,
            201,
        ),
        ep(
            Method::GET,
            "/v1/admin/users",
            Action::UserList,
            None,
            false,
            200,
        ),
        ep(
            Method::POST,
            "/v1/admin/users",
            Action::UserCreate,
            Some(user),
            false,
            201,
        ),
        ep(
            Method::POST,
            "/v1/admin/policy/explain",
            Action::PolicyExplain,
            Some(question),
            false,
            200,
        ),
        ep(
            Method::GET,
            "/v1/auth/session",
            Action::AuthLogin,
            None,
            false,
            200,
        ),
        ep(
            Method::POST,
            "/v1/records:batch",
            Action::RecordCreate,
            Some(batch),
            false,
            201,
        ),
        ep(
            Method::GET,
            "/v1/audit/tree-heads",
            Action::AuditRead,
            None,
            false,
            200,
        ),
        ep(
            Method::GET,
            "/v1/audit/pubkey",
            Action::AuditRead,
            None,
            false,
            200,
        ),
        ep(
            Method::GET,
            "/v1/audit/disclosures?subject=s-9",
            Action::AuditRead,
            None,
            false,
            200,
        ),
        ep(Method::GET, "/metrics", Action::AuditRead, None, false, 200),
        // Authorized, then not found: the key and the user do not exist.
        ep(
            Method::DELETE,
            "/v1/admin/apikeys/0000000000000000",
            Action::ApiKeyRevoke,
            None,
            false,
            404,
        ),
        ep(
            Method::POST,
            "/v1/admin/apikeys/0000000000000000/rotate",
            Action::ApiKeyRotate,
            Some(nothing),
            false,
            404,
        ),
        ep(
            Method::POST,
            "/v1/admin/users/u-none/disable",
            Action::UserDisable,
            None,
            false,
            404,
        ),
        ep(
            Method::POST,
            "/v1/admin/users/u-none/reset-mfa",
            Action::UserResetMfa,
            None,
            false,
            404,
        ),
        ep(
            Method::POST,
            "/v1/admin/users/u-none/revoke-sessions",
            Action::SessionRevoke,
            None,
            false,
            404,
        ),
        ep(
            Method::POST,
            "/v1/auth/break-glass",
            Action::BreakGlassOpen,
            Some(glass),
            false,
            200,
        ),
        ep(
            Method::POST,
            "/v1/auth/logout",
            Action::AuthLogout,
            None,
            false,
            204,
        ),
    ]
}

/// The expected status, from the situation, the role's permissions and the endpoint.
fn expected(s: Situation, role: Role, e: &Endpoint) -> u16 {
    match s {
        Situation::ExpiredSession | Situation::DisabledUser => 401,
        _ if !allows(role, e.action) => 403,
        Situation::OtherTenant if e.names_record => 404,
        _ => e.success,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_role_and_situation_gets_its_expected_answer() {
    for w in worlds("authz_matrix", hippo_policy::PolicyEngine::builtin).await {
        let a = w.tenant("clinic-a").await;
        let b = w.tenant("clinic-b").await;
        let canary = hippo_testkit::CANARY;
        let mut failures = Vec::new();
        let mut cases = 0;
        let situations = [
            Situation::OwnTenant,
            Situation::OtherTenant,
            Situation::Emergency,
            Situation::ExpiredSession,
            Situation::DisabledUser,
        ];
        for (si, s) in situations.into_iter().enumerate() {
            for role in Role::ALL {
                let user = w.user(&format!("u{si}-{role}"), &a, role).await;
                for (ei, e) in endpoints().iter().enumerate() {
                    let token = w.session(&user, &a, role).await;
                    if s == Situation::Emergency {
                        let hash = hippo_identity::session::parse(&token).unwrap();
                        let em = hippo_store::identity::Emergency {
                            opened_at_ms: w.now(),
                            until_ms: w.now() + 600_000,
                            reason_len: 20,
                        };
                        w.store
                            .open_emergency(&hash, em, op(Some(&a), Action::BreakGlassOpen))
                            .await
                            .unwrap();
                    }
                    // A fresh record per case, so writes and deletes never depend on order.
                    let owner = if s == Situation::OtherTenant { &b } else { &a };
                    // Only the other tenant's records carry the canary.
                    let content = if owner == &b { canary } else { "own tenant" };
                    let id = w
                        .record(owner, "Patient", &["intake"], json!({"name": content}))
                        .await;
                    let path = e.path.replace("{id}", &id);
                    let body = e.body.map(|f| {
                        let mut v = f();
                        if e.action == Action::UserCreate {
                            // Usernames are unique: one per case.
                            v["username"] = json!(format!("m{si}-{role}-{ei}"));
                        }
                        v
                    });
                    if s == Situation::DisabledUser {
                        w.store
                            .change_user(
                                None,
                                &user,
                                hippo_store::identity::UserChange::Disable,
                                w.now(),
                                op(None, Action::UserDisable),
                            )
                            .await
                            .unwrap();
                    }
                    let idle = w.config.auth.session_idle_secs as i64 * 1000;
                    if s == Situation::ExpiredSession {
                        w.advance(idle + 1);
                    }
                    let (status, resp) = w.call(e.method.clone(), &path, &token, body).await;
                    if s == Situation::ExpiredSession {
                        w.advance(-(idle + 1));
                    }
                    if s == Situation::DisabledUser {
                        w.store
                            .change_user(
                                None,
                                &user,
                                hippo_store::identity::UserChange::Enable,
                                w.now(),
                                op(None, Action::UserDisable),
                            )
                            .await
                            .unwrap();
                    }
                    cases += 1;
                    let want = expected(s, role, e);
                    if status != want {
                        failures.push(format!(
                            "{} {:?} {role} {} {}: got {status}, want {want}: {resp}",
                            w.kind(),
                            s,
                            e.method,
                            e.path
                        ));
                    }
                    if s == Situation::OtherTenant && resp.to_string().contains(canary) {
                        failures.push(format!(
                            "{} cross-tenant read via {} {}",
                            w.kind(),
                            e.method,
                            e.path
                        ));
                    }
                }
            }
        }
        assert_eq!(cases, 5 * 4 * endpoints().len());
        assert!(
            endpoints().len() >= 26,
            "every endpoint family stays in the matrix"
        );
        assert!(
            failures.is_empty(),
            "{} of {cases} cases wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_session_reads_restricted_records_and_a_declared_purpose_does_not() {
    for w in worlds("authz_restricted", hippo_policy::PolicyEngine::builtin).await {
        let a = w.tenant("clinic-a").await;
        let user = w.user("er.doc", &a, Role::Reader).await;
        let id = w
            .record(
                &a,
                "ClinicalNote",
                &["restricted"],
                json!({"text": "sealed"}),
            )
            .await;
        let plain = w.session(&user, &a, Role::Reader).await;
        let (status, p) = w
            .call(Method::GET, &format!("/v1/records/{id}"), &plain, None)
            .await;
        assert_eq!(status, 403, "{}: {p}", w.kind());
        assert_eq!(p["type"], "urn:hippo:problem:forbidden");
        assert!(
            p["detail"].as_str().unwrap().contains("restricted-label"),
            "{p}"
        );
        // The request header alone widens nothing.
        let req = Request::builder()
            .uri(format!("/v1/records/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {plain}"))
            .header("x-hippo-purpose", "emergency")
            .body(Body::empty())
            .unwrap();
        assert_eq!(w.app.clone().oneshot(req).await.unwrap().status(), 403);
        // A break-glass elevation does, until it ends.
        let elevated = w.session(&user, &a, Role::Reader).await;
        let hash = hippo_identity::session::parse(&elevated).unwrap();
        let em = hippo_store::identity::Emergency {
            opened_at_ms: w.now(),
            until_ms: w.now() + 60_000,
            reason_len: 30,
        };
        w.store
            .open_emergency(&hash, em, op(Some(&a), Action::BreakGlassOpen))
            .await
            .unwrap();
        let (status, body) = w
            .call(Method::GET, &format!("/v1/records/{id}"), &elevated, None)
            .await;
        assert_eq!(status, 200, "{}: {body}", w.kind());
        w.advance(60_001);
        let (status, _) = w
            .call(Method::GET, &format!("/v1/records/{id}"), &elevated, None)
            .await;
        assert_eq!(status, 403, "the elevation has ended");
        w.advance(-60_001);
        // The read under the elevation is marked in the audit trail.
        let events = w.events(&a).await;
        let marked = events
            .iter()
            .filter(|e| e.action == Action::RecordRead && e.details["emergency"] == true)
            .count();
        assert!(marked >= 1, "{}: emergency reads are marked", w.kind());
        let header_only = events
            .iter()
            .filter(|e| e.details["purpose"] == "emergency" && e.details["emergency"] == true)
            .count();
        assert_eq!(
            header_only, 0,
            "a declared purpose is never marked as break-glass"
        );
    }
}
