//! The OpenAPI 3.1 document, generated from the route annotations and wire types.

use crate::routes::{admin, audit, ledger, metrics, ops, records};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Hippo", description = "HIPAA-ready health data platform: encrypted, audited, versioned PHI records."),
    paths(
        records::create, records::get, records::update, records::delete, records::history, records::version, records::list,
        admin::create_key, admin::list_keys, admin::revoke_key,
        audit::list, ledger::tree_heads, ledger::sign_tree_head, ledger::inclusion, ledger::consistency, ledger::pubkey, ledger::disclosures,
        ops::healthz, ops::readyz, ops::version, metrics::metrics,
    ),
    modifiers(&BearerAuth),
    tags((name = "records"), (name = "admin"), (name = "audit"), (name = "ops"))
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
}
