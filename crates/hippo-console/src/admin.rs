//! Administration pages (admin role; the API refuses anyone else, and the page shows that
//! refusal): users (invite, disable, enable, reset second factor, end sessions), API keys
//! (create with an expiry, revoke, last use) and the policy engine's answer to "may this role
//! do this action on this kind of record?".

use crate::api::{Answer, Api, Auth};
use crate::html::{alert, csrf_field, esc, page, see_other};
use crate::{is_id, signed_in, Form, Signed};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use hippo_proto::{ApiKeyCreated, ApiKeyList, UserList};
use serde_json::json;

const ROLES: [&str; 4] = ["reader", "writer", "auditor", "admin"];

fn role_select(id: &str) -> String {
    let opts: String = ROLES
        .iter()
        .map(|r| format!("<option value=\"{r}\">{r}</option>"))
        .collect();
    format!("<label for=\"{id}\">Role</label><select id=\"{id}\" name=\"role\">{opts}</select>")
}

async fn begin_post(api: &Api, parts: &Parts, body: Body) -> Result<(Signed, Form), Response> {
    let s = signed_in(api, parts).await?;
    let form = Form::read(body).await?;
    s.check_csrf(&form)?;
    Ok((s, form))
}

/// `GET /console/admin/users`
pub async fn users(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    users_page(&api, &parts, &s, None, StatusCode::OK).await
}

async fn users_page(
    api: &Api,
    parts: &Parts,
    s: &Signed,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let list: UserList = match s.get(api, parts, "/v1/admin/users").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let rows: String = list
        .items
        .iter()
        .map(|u| {
            let state = if u.disabled_at.is_some() { "disabled" } else { "active" };
            let toggle = if u.disabled_at.is_some() { ("enable", "Enable") } else { ("disable", "Disable") };
            let button = |op: &str, label: &str| {
                format!(
                    "<form method=\"post\" action=\"/console/admin/users/{id}/{op}\" class=\"inline\" data-confirm=\"{label} {name}?\">{csrf}\
<button type=\"submit\">{label}</button></form>",
                    id = esc(&u.id),
                    name = esc(&u.username),
                    csrf = csrf_field(&s.csrf),
                )
            };
            format!(
                "<tr><td>{name}</td><td>{m}</td><td>{state}</td><td>{mfa}</td><td><time>{c}</time></td><td>{b1}{b2}{b3}</td></tr>",
                name = esc(&u.username),
                m = esc(&u.memberships.join(", ")),
                mfa = if u.totp_enrolled || u.passkeys > 0 {
                    format!("authenticator app: {}, passkeys: {}", if u.totp_enrolled { "yes" } else { "no" }, u.passkeys)
                } else {
                    "not enrolled".to_owned()
                },
                c = esc(&u.created_at),
                b1 = button(toggle.0, toggle.1),
                b2 = button("reset-mfa", "Reset second factor"),
                b3 = button("revoke-sessions", "Sign out everywhere"),
            )
        })
        .collect();
    let table = if list.items.is_empty() {
        "<p class=\"empty\">No users yet. Invite the first one below.</p>".to_owned()
    } else {
        format!("<table><caption>Users of this tenant</caption><thead><tr><th scope=\"col\">User name</th><th scope=\"col\">Memberships</th>\
<th scope=\"col\">State</th><th scope=\"col\">Second factor</th><th scope=\"col\">Created (UTC)</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>")
    };
    let main = format!(
        "{err}{table}<h2>Invite a user</h2><form method=\"post\" action=\"/console/admin/users\" class=\"stack\">{csrf}\
<label for=\"u-name\">User name</label><input id=\"u-name\" name=\"username\" required autocomplete=\"off\">\
<label for=\"u-pass\">Temporary password <span class=\"hint\">(hand it over privately; a second factor is enrolled at first sign-in)</span></label>\
<input id=\"u-pass\" name=\"password\" type=\"password\" required autocomplete=\"new-password\">{roles}\
<button type=\"submit\">Invite</button></form>",
        err = alert(message),
        csrf = csrf_field(&s.csrf),
        roles = role_select("u-role"),
    );
    page(
        status,
        "Users",
        Some(&s.who()),
        "/console/admin/users",
        &main,
    )
}

/// `POST /console/admin/users`: invite.
pub async fn invite(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (s, f) = match begin_post(&api, &parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req = json!({
        "username": f.get("username").unwrap_or(""),
        "password": f.0.get("password").map(String::as_str).unwrap_or(""),
        "role": f.get("role").unwrap_or(""),
    });
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/admin/users",
            Auth::Cookie(Some(&s.csrf)),
            Some(req),
        )
        .await;
    done(&api, &parts, &s, &a, "/console/admin/users").await
}

async fn done(api: &Api, parts: &Parts, s: &Signed, a: &Answer, back: &str) -> Response {
    if a.ok() {
        return see_other(back);
    }
    if matches!(a.status.as_u16(), 400 | 409 | 422) && back.ends_with("users") {
        return users_page(api, parts, s, Some(&a.problem()), a.status).await;
    }
    s.failed(a)
}

/// `POST /console/admin/users/{id}/{op}`
pub async fn user_action(
    State(api): State<Api>,
    parts: Parts,
    Path((id, op)): Path<(String, String)>,
    body: Body,
) -> Response {
    let (s, _) = match begin_post(&api, &parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !is_id(&id)
        || !matches!(
            op.as_str(),
            "disable" | "enable" | "reset-mfa" | "revoke-sessions"
        )
    {
        return crate::html::error_page(
            StatusCode::NOT_FOUND,
            Some(&s.who()),
            "No such user action.",
        );
    }
    let a = api
        .call(
            &parts,
            Method::POST,
            &format!("/v1/admin/users/{id}/{op}"),
            Auth::Cookie(Some(&s.csrf)),
            None,
        )
        .await;
    done(&api, &parts, &s, &a, "/console/admin/users").await
}

/// `GET /console/admin/keys`
pub async fn keys(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    keys_page(&api, &parts, &s, "", StatusCode::OK).await
}

async fn keys_page(
    api: &Api,
    parts: &Parts,
    s: &Signed,
    banner: &str,
    status: StatusCode,
) -> Response {
    let list: ApiKeyList = match s.get(api, parts, "/v1/admin/apikeys").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let rows: String = list
        .items
        .iter()
        .map(|k| {
            let state = match (&k.revoked_at, &k.expires_at) {
                (Some(r), _) => format!("revoked <time>{}</time>", esc(r)),
                (None, Some(e)) => format!("expires <time>{}</time>", esc(e)),
                (None, None) => "no expiry".to_owned(),
            };
            let action = if k.revoked_at.is_none() {
                format!(
                    "<form method=\"post\" action=\"/console/admin/keys/{id}/revoke\" class=\"inline\" data-confirm=\"Revoke key {id}? Clients using it stop working at once.\">{csrf}\
<button type=\"submit\" aria-label=\"Revoke key {id}\">Revoke</button></form>",
                    id = esc(&k.key_id),
                    csrf = csrf_field(&s.csrf)
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td><code>{id}</code></td><td>{name}</td><td>{role}</td><td>{state}</td><td>{used}</td><td>{action}</td></tr>",
                id = esc(&k.key_id),
                name = esc(&k.name),
                role = esc(&k.role),
                used = k.last_used_at.as_deref().map(esc).unwrap_or_else(|| "never".into()),
            )
        })
        .collect();
    let table = if list.items.is_empty() {
        "<p class=\"empty\">No API keys. Create one below for a service that calls Hippo.</p>"
            .to_owned()
    } else {
        format!("<table><caption>API keys of this tenant</caption><thead><tr><th scope=\"col\">Key id</th><th scope=\"col\">Name</th>\
<th scope=\"col\">Role</th><th scope=\"col\">State</th><th scope=\"col\">Last used (UTC)</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table>")
    };
    let main = format!(
        "{banner}{table}<h2>Create a key</h2><form method=\"post\" action=\"/console/admin/keys\" class=\"stack\">{csrf}\
<label for=\"k-name\">Name <span class=\"hint\">(what uses it)</span></label><input id=\"k-name\" name=\"name\" required>{roles}\
<label for=\"k-days\">Expires after (days)</label><input id=\"k-days\" name=\"days\" type=\"number\" min=\"1\" max=\"3650\" value=\"90\" required>\
<button type=\"submit\">Create key</button></form>",
        csrf = csrf_field(&s.csrf),
        roles = role_select("k-role"),
    );
    page(
        status,
        "API keys",
        Some(&s.who()),
        "/console/admin/keys",
        &main,
    )
}

/// `POST /console/admin/keys`: shows the new key's secret once.
pub async fn create_key(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (s, f) = match begin_post(&api, &parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(days) = f
        .get("days")
        .and_then(|d| d.parse::<u64>().ok())
        .filter(|d| (1..=3650).contains(d))
    else {
        let banner = alert(Some(
            "Expiry must be a whole number of days from 1 to 3650.",
        ));
        return keys_page(&api, &parts, &s, &banner, StatusCode::BAD_REQUEST).await;
    };
    let req = json!({
        "role": f.get("role").unwrap_or(""),
        "name": f.get("name").unwrap_or(""),
        "expires_in_secs": days * 86_400,
    });
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/admin/apikeys",
            Auth::Cookie(Some(&s.csrf)),
            Some(req),
        )
        .await;
    let Some(created) = a.json::<ApiKeyCreated>().filter(|_| a.ok()) else {
        let banner = alert(Some(&a.problem()));
        return keys_page(&api, &parts, &s, &banner, a.status).await;
    };
    let banner = format!(
        "<div class=\"ok\" role=\"status\"><p>Key <code>{}</code> created. Copy its secret now: it is not shown again.</p>\
<p><code class=\"secret\" id=\"new-key\">{}</code></p></div>",
        esc(&created.key.key_id),
        esc(&created.token)
    );
    keys_page(&api, &parts, &s, &banner, StatusCode::CREATED).await
}

/// `POST /console/admin/keys/{id}/revoke`
pub async fn revoke_key(
    State(api): State<Api>,
    parts: Parts,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (s, _) = match begin_post(&api, &parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !is_id(&id) {
        return crate::html::error_page(StatusCode::NOT_FOUND, Some(&s.who()), "No such key.");
    }
    let a = api
        .call(
            &parts,
            Method::DELETE,
            &format!("/v1/admin/apikeys/{id}"),
            Auth::Cookie(Some(&s.csrf)),
            None,
        )
        .await;
    done(&api, &parts, &s, &a, "/console/admin/keys").await
}

fn policy_main(s: &Signed, answer: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/admin/policy\" class=\"stack\">{csrf}{roles}\
<label for=\"p-action\">Action</label><input id=\"p-action\" name=\"action\" value=\"record.read\" required>\
<label for=\"p-type\">Record type <span class=\"hint\">(optional)</span></label><input id=\"p-type\" name=\"record_type\">\
<label for=\"p-labels\">Labels <span class=\"hint\">(comma-separated, optional)</span></label><input id=\"p-labels\" name=\"labels\">\
<div class=\"check\"><input id=\"p-em\" type=\"checkbox\" name=\"emergency\" value=\"true\"><label for=\"p-em\">As if emergency access were open</label></div>\
<button type=\"submit\">Ask</button></form>{answer}",
        csrf = csrf_field(&s.csrf),
        roles = role_select("p-role"),
    )
}

/// `GET /console/admin/policy`
pub async fn policy_form(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // This page shows a form only (no API call until it is sent): refuse it here to the roles
    // the API would refuse the question to (the policy table's `policy.explain`).
    if !matches!(s.view.role.as_str(), "admin" | "auditor") {
        return crate::html::error_page(
            StatusCode::FORBIDDEN,
            Some(&s.who()),
            "Your role may not ask the policy engine; ask an administrator or auditor.",
        );
    }
    let main = policy_main(
        &s,
        "<p class=\"empty\">Ask what a role may do with a kind of record in this tenant.</p>",
    );
    page(
        StatusCode::OK,
        "Policy",
        Some(&s.who()),
        "/console/admin/policy",
        &main,
    )
}

/// `POST /console/admin/policy`
pub async fn policy(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (s, f) = match begin_post(&api, &parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let labels: Vec<&str> = f
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut req = json!({
        "role": f.get("role").unwrap_or(""),
        "action": f.get("action").unwrap_or(""),
        "labels": labels,
        "emergency": f.get("emergency") == Some("true"),
    });
    if let Some(t) = f.get("record_type") {
        req["record_type"] = json!(t);
    }
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/admin/policy/explain",
            Auth::Cookie(Some(&s.csrf)),
            Some(req),
        )
        .await;
    let answer = match a.json::<serde_json::Value>().filter(|_| a.ok()) {
        Some(v) => {
            let allowed = v["allowed"].as_bool() == Some(true);
            let removed: Vec<String> = v["remove_fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "<div class=\"{cls}\" role=\"status\" id=\"policy-answer\"><p><strong>{verdict}</strong> by rule <code>{rule}</code>: {reason}</p>{removed}</div>",
                cls = if allowed { "ok" } else { "notice" },
                verdict = if allowed { "Allowed" } else { "Refused" },
                rule = esc(v["rule"].as_str().unwrap_or("")),
                reason = esc(v["reason"].as_str().unwrap_or("")),
                removed = if removed.is_empty() {
                    String::new()
                } else {
                    format!("<p>Fields withheld (minimum necessary): {}</p>", esc(&removed.join(", ")))
                },
            )
        }
        None => alert(Some(&a.problem())),
    };
    page(
        a.status,
        "Policy",
        Some(&s.who()),
        "/console/admin/policy",
        &policy_main(&s, &answer),
    )
}
