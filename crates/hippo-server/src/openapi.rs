//! The OpenAPI 3.1 document, generated from the route annotations and wire types.
//!
//! Routes declare the statuses only they produce; [`ProblemResponses`] adds the ones every
//! authenticated route can answer (401 missing or bad key, 403 role, 429 rate limit, 503 store
//! or audit log unavailable) and 500, and declares every error as `application/problem+json`,
//! which is what [`crate::problem`] sends.

use crate::auth::{passkeys, signin, tenants, users};
use crate::routes::{
    admin, audit, batch, breakglass, documents, ledger, metrics, ops, records, search, status,
};
use hippo_proto::PROBLEM_JSON;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Hippo", description = "HIPAA-ready health data platform: encrypted, audited, versioned PHI records."),
    paths(
        records::create, records::get, records::update, records::delete, records::history, records::version, records::list, search::search, batch::create_batch,
        admin::create_key, admin::list_keys, admin::revoke_key, users::rotate_key,
        users::create_user, users::list_users, users::disable_user, users::enable_user, users::reset_mfa, users::revoke_sessions, users::explain,
        signin::login, signin::mfa, signin::enrol_totp, signin::confirm_totp, signin::logout, signin::current, signin::break_glass, tenants::my_tenants,
        passkeys::register_start, passkeys::register_finish, passkeys::login_start, passkeys::login_finish,
        audit::list, ledger::tree_heads, ledger::sign_tree_head, ledger::inclusion, ledger::consistency, ledger::pubkey, ledger::disclosures, ledger::verify_now, breakglass::break_glass_list, breakglass::break_glass_review,
        ops::healthz, ops::readyz, ops::version, metrics::metrics, status::status,
        documents::upload, documents::list, documents::download, documents::delete,
    ),
    modifiers(&BearerAuth, &ProblemResponses),
    tags((name = "records"), (name = "auth"), (name = "admin"), (name = "audit"), (name = "ops"), (name = "documents"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Declares errors as problem+json and adds the statuses every route can answer.
struct ProblemResponses;

/// Statuses any authenticated route can answer before or besides its own logic.
const AUTHENTICATED: &[(&str, &str)] = &[
    (
        "401",
        "No API key, or one that is invalid, expired or revoked",
    ),
    ("403", "The key's role does not allow this action"),
    (
        "429",
        "Too many requests from this key or address; see Retry-After",
    ),
    (
        "503",
        "The store or the audit log is unavailable; the request was not performed",
    ),
];

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                problem_statuses(op);
                unique_operation_id(op);
            }
        }
    }
}

/// utoipa names an operation after its handler, and handlers in different modules share names
/// (`records::list`, `audit::list`); OpenAPI requires unique ids (and tools that follow links
/// by id, such as schemathesis, pick the wrong operation otherwise), so the tag prefixes it.
fn unique_operation_id(op: &mut Operation) {
    let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
    if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
        *id = format!("{tag}_{id}");
    }
}

fn problem_statuses(op: &mut Operation) {
    let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let responses = &mut op.responses.responses;
    if authenticated {
        for (status, description) in AUTHENTICATED {
            responses
                .entry((*status).into())
                .or_insert_with(|| problem_response(status, description));
        }
    }
    responses
        .entry("500".into())
        .or_insert_with(|| problem_response("500", "Internal error; quote the request id"));
    // Route annotations say `body = Problem`, which utoipa declares as application/json.
    for response in responses.values_mut() {
        if let RefOr::T(r) = response {
            let is_problem = r.content.get("application/json").is_some_and(|c| {
                matches!(&c.schema, Some(RefOr::Ref(s)) if s.ref_location.ends_with("/Problem"))
            });
            if is_problem {
                let content = r.content.shift_remove("application/json").expect("checked");
                r.content.insert(PROBLEM_JSON.into(), content);
            }
        }
    }
}

fn problem_response(status: &str, description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content);
    let header = match status {
        "401" => Some(("WWW-Authenticate", "Bearer realm=\"hippo\"")),
        "429" => Some(("Retry-After", "Seconds to wait before retrying")),
        _ => None,
    };
    if let Some((name, description)) = header {
        response = response.header(
            name,
            HeaderBuilder::new().description(Some(description)).build(),
        );
    }
    RefOr::T(response.build())
}

/// The document as JSON text.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_openapi_3_1_with_every_route() {
        let doc: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for p in [
            "/v1/records",
            "/v1/records/{id}",
            "/v1/records/{id}/history",
            "/v1/audit",
            "/v1/admin/apikeys",
            "/readyz",
        ] {
            assert!(doc["paths"].get(p).is_some(), "{p} missing");
        }
    }

    /// Every operation's responses, as (path, method, status, response).
    fn responses(doc: &serde_json::Value) -> Vec<(String, String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    out.push((path.clone(), method.clone(), status.clone(), r.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ids.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
        assert!(ids.contains(&"records_list".to_owned()) && ids.contains(&"audit_list".to_owned()));
    }

    #[test]
    fn every_error_is_problem_json_and_authenticated_routes_declare_401() {
        let doc: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        let all = responses(&doc);
        for (path, method, status, r) in &all {
            // /readyz answers 503 with its readiness report, not a problem.
            if (status.starts_with('4') || status.starts_with('5')) && path != "/readyz" {
                let types: Vec<_> = r["content"].as_object().unwrap().keys().collect();
                assert_eq!(
                    types,
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let statuses = op["responses"].as_object().unwrap();
                if op.get("security").is_some() {
                    for s in ["401", "403", "429", "500", "503"] {
                        assert!(statuses.contains_key(s), "{method} {path} lacks {s}");
                    }
                }
            }
        }
        let create = &doc["paths"]["/v1/records"]["post"]["responses"];
        for s in ["400", "413", "415"] {
            assert!(create.get(s).is_some(), "create lacks {s}");
        }
        let update = &doc["paths"]["/v1/records/{id}"]["put"]["responses"];
        for s in ["409", "410", "412", "415", "428"] {
            assert!(update.get(s).is_some(), "update lacks {s}");
        }
    }
}
