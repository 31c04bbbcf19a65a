//! The web console at `/console`: server-rendered pages for the people who run and audit Hippo
//! (records, audit events, accounting of disclosures, users, API keys, policy), each page a
//! client of the HTTP API called in-process (see [`api`]), with embedded assets and a strict
//! Content-Security-Policy.
//!
//! Choice (issue 18): server-rendered HTML with a little progressive enhancement (one small
//! script for the session-timeout warning and confirmations; every page works without it),
//! rather than a single-page app: no npm build step, no client-side state holding PHI, and
//! every page view is one audited API call away from the same code the API runs.

// Handlers return `Result<_, Response>` where the error is the page to send instead (a
// redirect or an error page); a Response is what axum handlers return by value anyway.
#![allow(clippy::result_large_err)]

mod admin;
pub mod api;
pub mod assets;
mod audit;
mod breakglass;
pub mod diff;
pub mod html;
mod ledger;
mod passkeys;
mod records;
mod signin;
mod tenants;

use api::{cookie, Api, Auth, SESSION_COOKIE};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hippo_proto::SessionView;
use html::{error_page, see_other, Who};
use http_body_util::BodyExt;
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// The console's routes, calling `api` (the API router, with its state) in-process; `copy`
/// carries the request extensions the API reads (the peer address) to each call.
pub fn router(api: Router, copy: api::CopyExtensions) -> Router {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/assets/{name}", get(assets::serve))
        .route("/console/signin", get(signin::form).post(signin::submit))
        .route("/console/signin/mfa", post(signin::mfa))
        .route("/console/signin/enrol", post(signin::enrol))
        .route("/console/signout", post(signin::signout))
        .route("/console/signin/passkey/start", post(passkeys::login_start))
        .route(
            "/console/signin/passkey/finish",
            post(passkeys::login_finish),
        )
        .route(
            "/console/passkeys/register/start",
            post(passkeys::register_start),
        )
        .route(
            "/console/passkeys/register/finish",
            post(passkeys::register_finish),
        )
        .route("/console/tenants", get(tenants::tenants))
        .route("/console/audit", get(audit::events))
        .route("/console/audit/disclosures", get(audit::disclosures))
        .route(
            "/console/audit/disclosures.csv",
            get(audit::disclosures_csv),
        )
        .route(
            "/console/audit/disclosures/print",
            get(audit::disclosures_print),
        )
        .route("/console/audit/break-glass", get(breakglass::list))
        .route(
            "/console/audit/break-glass/{session}/review",
            post(breakglass::review),
        )
        .route("/console/audit/ledger", get(ledger::status))
        .route("/console/audit/ledger/verify", post(ledger::verify))
        .route("/console/audit/ledger/sign", post(ledger::sign))
        .route("/console/records", get(records::search_form))
        .route("/console/records/search", post(records::search))
        .route("/console/records/{id}", get(records::record))
        .route("/console/records/{id}/diff", get(records::changes))
        .route(
            "/console/admin/users",
            get(admin::users).post(admin::invite),
        )
        .route("/console/admin/users/{id}/{op}", post(admin::user_action))
        .route(
            "/console/admin/keys",
            get(admin::keys).post(admin::create_key),
        )
        .route("/console/admin/keys/{id}/revoke", post(admin::revoke_key))
        .route(
            "/console/admin/policy",
            get(admin::policy_form).post(admin::policy),
        )
        .with_state(Api::new(api, copy))
        .layer(axum::middleware::map_response(console_headers))
}

/// Every console response: the strict CSP, and never cached (pages may show PHI).
async fn console_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(html::CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A signed-in person, as the API's `GET /v1/auth/session` describes them.
pub(crate) struct Signed {
    pub view: SessionView,
    pub csrf: String,
}

impl Signed {
    pub fn who(&self) -> Who<'_> {
        Who {
            user_id: &self.view.user_id,
            tenant: &self.view.tenant,
            role: &self.view.role,
            idle_expires_at: &self.view.idle_expires_at,
            absolute_expires_at: &self.view.absolute_expires_at,
            emergency_until: self.view.emergency_until.as_deref(),
            csrf: &self.csrf,
        }
    }

    /// Checks a form's CSRF token against the session's (constant time).
    pub fn check_csrf(&self, form: &Form) -> Result<(), Response> {
        let sent = form.get("csrf").unwrap_or("");
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                Some(&self.who()),
                "This form has expired or did not come from this console. Reload the page and try again.",
            ))
        }
    }

    /// An error page for an API answer that was not a success.
    pub fn failed(&self, a: &api::Answer) -> Response {
        error_page(a.status, Some(&self.who()), &a.problem())
    }

    /// GETs an API path with the session cookie: its JSON answer, or the error page to send
    /// instead (the API's refusal, as a page).
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        api: &Api,
        parts: &Parts,
        path: &str,
    ) -> Result<T, Response> {
        let a = api
            .call(parts, Method::GET, path, Auth::Cookie(None), None)
            .await;
        a.json::<T>()
            .filter(|_| a.ok())
            .ok_or_else(|| self.failed(&a))
    }
}

/// The signed-in person of this request, or the response to send instead (to the sign-in page).
pub(crate) async fn signed_in(api: &Api, parts: &Parts) -> Result<Signed, Response> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Err(see_other("/console/signin"));
    };
    let a = api
        .call(
            parts,
            Method::GET,
            "/v1/auth/session",
            Auth::Cookie(None),
            None,
        )
        .await;
    if a.status == StatusCode::UNAUTHORIZED {
        return Err(see_other("/console/signin?ended=1"));
    }
    let Some(view) = a.json::<SessionView>().filter(|_| a.ok()) else {
        return Err(error_page(a.status, None, &a.problem()));
    };
    Ok(Signed {
        view,
        csrf: hippo_identity::session::csrf_token(token),
    })
}

/// A submitted form (`application/x-www-form-urlencoded`), at most 64 KiB.
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    pub async fn read(body: Body) -> Result<Self, Response> {
        let bytes = http_body_util::Limited::new(body, 64 * 1024)
            .collect()
            .await
            .map_err(|_| {
                error_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "The form was too large (64 KiB at most).",
                )
            })?
            .to_bytes();
        Ok(Self(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    pub fn from_query(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// A field, trimmed; `None` when absent or blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// True for an id-like value (record, user, key or subject ids): safe in URLs and headers.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

async fn home(axum::extract::State(api): axum::extract::State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role = s.view.role.as_str();
    let mut tasks = String::new();
    if html::reads_phi(role) {
        tasks.push_str("<li><a href=\"/console/records\">Find a record</a>: search by name or phrase, open a record, compare its versions.</li>");
    }
    if matches!(role, "auditor" | "admin") {
        tasks.push_str("<li><a href=\"/console/audit\">Review audit events</a>: who did what, when, from where; filter by person, action, outcome, time, subject or emergency access.</li>");
        tasks.push_str("<li><a href=\"/console/audit/disclosures\">Account for disclosures</a> of one person's records, as CSV or a printable page.</li>");
        tasks.push_str("<li><a href=\"/console/audit/break-glass\">Review emergency (break-glass) access</a>: sessions awaiting review, with what was done.</li>");
        tasks.push_str("<li><a href=\"/console/audit/ledger\">Check tamper evidence</a>: signed tree heads, verify the log now.</li>");
    }
    if role == "admin" {
        tasks.push_str("<li><a href=\"/console/admin/users\">Manage users</a>: invite, disable, reset a second factor.</li>");
        tasks.push_str("<li><a href=\"/console/admin/keys\">Manage API keys</a>: create with an expiry, revoke, see last use.</li>");
        tasks.push_str("<li><a href=\"/console/admin/policy\">Ask the policy engine</a> what a role may do.</li>");
    }
    let main = format!(
        "<p>What would you like to do?</p><ul class=\"tasks\">{tasks}</ul>\
<section class=\"passkey\" hidden aria-labelledby=\"pk-h\"><h2 id=\"pk-h\">Passkeys</h2>\
<p>A passkey on this device can replace the authenticator app's code when you sign in.</p>\
<button type=\"button\" id=\"add-passkey\" data-csrf=\"{}\">Add a passkey</button>\
<p id=\"passkey-status\" role=\"status\"></p></section>",
        html::esc(&s.csrf)
    );
    html::page(
        StatusCode::OK,
        "Console home",
        Some(&s.who()),
        "/console",
        &main,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain() {
        assert!(is_id("0190f1c2-7a1b-7c3d-8e9f-0123456789ab"));
        assert!(is_id("hpk_abc"));
        assert!(!is_id("a/b"));
        assert!(!is_id("<x>"));
        assert!(!is_id(""));
        assert!(!is_id("a\r\nb"));
    }
}
