//! The tenants page: every tenant the signed-in person belongs to, their role in each, and a
//! switch (a new sign-in naming the tenant: a session and its second factor are bound to one
//! tenant). Administrators also see their current tenant's people and keys at a glance.
//! Tenants themselves are created by the operator on the host (`hippo tenant create`), never
//! over the web.

use crate::api::Api;
use crate::html::{esc, page};
use crate::{signed_in, Signed};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use hippo_proto::{ApiKeyList, MembershipList, UserList};

/// `GET /console/tenants`
pub async fn tenants(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let list: MembershipList = match s.get(&api, &parts, "/v1/auth/tenants").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let rows: String = list
        .items
        .iter()
        .map(|m| {
            let action = if m.current {
                "<strong>Current</strong>".to_owned()
            } else {
                format!(
                    "<a class=\"button\" href=\"/console/signin?tenant={t}\">Sign in to {t}</a>",
                    t = esc(&m.tenant)
                )
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(&m.tenant),
                esc(&m.role)
            )
        })
        .collect();
    let table = format!(
        "<table><caption>Your tenants</caption><thead><tr><th scope=\"col\">Tenant</th>\
<th scope=\"col\">Your role</th><th scope=\"col\">Session</th></tr></thead><tbody>{rows}</tbody></table>\
<p>A session works in one tenant. Switching signs you in again, with your second factor, in the \
other tenant; every sign-in is audited in the tenant it opens.</p>"
    );
    let overview = if s.view.role == "admin" {
        overview(&api, &parts, &s).await
    } else {
        String::new()
    };
    let main = format!(
        "{table}{overview}<p class=\"hint\">New tenants are created by the operator on the server \
host (<code>hippo tenant create NAME</code>); an administrator of a tenant then invites its people \
from the Users page.</p>"
    );
    page(
        StatusCode::OK,
        "Tenants",
        Some(&s.who()),
        "/console/tenants",
        &main,
    )
}

/// The current tenant's people and keys, for its administrators (two audited listings).
async fn overview(api: &Api, parts: &Parts, s: &Signed) -> String {
    let users = s.get::<UserList>(api, parts, "/v1/admin/users").await.ok();
    let keys = s
        .get::<ApiKeyList>(api, parts, "/v1/admin/apikeys")
        .await
        .ok();
    let (Some(users), Some(keys)) = (users, keys) else {
        return "<p class=\"error\" role=\"alert\">The tenant's users and keys could not be listed just now.</p>".into();
    };
    let active_users = users
        .items
        .iter()
        .filter(|u| u.disabled_at.is_none())
        .count();
    let without_mfa = users
        .items
        .iter()
        .filter(|u| u.disabled_at.is_none() && !u.totp_enrolled && u.passkeys == 0)
        .count();
    let live_keys = keys.items.iter().filter(|k| k.revoked_at.is_none()).count();
    let no_expiry = keys
        .items
        .iter()
        .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none())
        .count();
    format!(
        "<h2>Tenant {t}</h2><dl class=\"facts\">\
<dt>People</dt><dd>{active_users} active, {disabled} disabled, {without_mfa} still to enrol a second factor (<a href=\"/console/admin/users\">Users</a>)</dd>\
<dt>API keys</dt><dd>{live_keys} usable, {no_expiry} of them without an expiry (<a href=\"/console/admin/keys\">API keys</a>)</dd></dl>",
        t = esc(&s.view.tenant),
        disabled = users.items.len() - active_users,
    )
}
