//! Break-glass review: the emergency elevations of the tenant, those awaiting review first,
//! each with a review form (decision and note), through `GET /v1/audit/break-glass` and
//! `POST /v1/audit/break-glass/{session}/review`.

use crate::api::{Api, Auth};
use crate::html::{csrf_field, esc, page, see_other};
use crate::{is_id, signed_in, Form};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// `GET /console/audit/break-glass`
pub async fn list(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::GET,
            "/v1/audit/break-glass",
            Auth::Cookie(None),
            None,
        )
        .await;
    let Some(v) = a.json::<Value>().filter(|_| a.ok()) else {
        return s.failed(&a);
    };
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let (pending, done): (Vec<&Value>, Vec<&Value>) =
        items.iter().partition(|i| i["review"].is_null());
    let str_of = |v: &Value, k: &str| esc(v[k].as_str().unwrap_or(""));
    let pending_html = if pending.is_empty() {
        "<p class=\"empty\">No emergency access awaits review.</p>".to_owned()
    } else {
        pending
            .iter()
            .map(|i| {
                let sid = str_of(i, "session");
                format!(
                    "<section class=\"review\" aria-labelledby=\"h-{sid}\"><h3 id=\"h-{sid}\">Session {sid}</h3>\
<p>Opened by <strong>{by}</strong> at <time>{at}</time> for {min} minutes, from {src}. \
<a href=\"/console/audit?actor={byq}&amp;emergency=true\">What they did</a></p>\
<form method=\"post\" action=\"/console/audit/break-glass/{sid}/review\" class=\"stack\">{csrf}\
<label for=\"d-{sid}\">Decision</label><select id=\"d-{sid}\" name=\"decision\">\
<option value=\"justified\">Justified</option><option value=\"not-justified\">Not justified</option></select>\
<label for=\"n-{sid}\">Note <span class=\"hint\">(optional, up to 500 characters)</span></label>\
<input id=\"n-{sid}\" name=\"note\" maxlength=\"500\"><button type=\"submit\">Record review</button></form></section>",
                    by = str_of(i, "opened_by"),
                    byq = esc(&crate::html::q(i["opened_by"].as_str().unwrap_or(""))),
                    at = str_of(i, "opened_at"),
                    min = i["minutes"].as_u64().unwrap_or(0),
                    src = str_of(i, "source_addr"),
                    csrf = csrf_field(&s.csrf),
                )
            })
            .collect()
    };
    let done_rows: String = done
        .iter()
        .map(|i| {
            let r = &i["review"];
            format!(
                "<tr><td>{}</td><td>{}</td><td><time>{}</time></td><td>{}</td><td>{}</td><td><time>{}</time></td></tr>",
                str_of(i, "session"),
                str_of(i, "opened_by"),
                str_of(i, "opened_at"),
                str_of(r, "decision"),
                str_of(r, "reviewed_by"),
                str_of(r, "reviewed_at"),
            )
        })
        .collect();
    let done_html = if done.is_empty() {
        String::new()
    } else {
        format!(
            "<table><caption>Reviewed</caption><thead><tr><th scope=\"col\">Session</th><th scope=\"col\">Opened by</th>\
<th scope=\"col\">Opened (UTC)</th><th scope=\"col\">Decision</th><th scope=\"col\">Reviewed by</th>\
<th scope=\"col\">Reviewed (UTC)</th></tr></thead><tbody>{done_rows}</tbody></table>"
        )
    };
    let main = format!(
        "<h2>Awaiting review ({})</h2>{pending_html}{done_html}",
        pending.len()
    );
    page(
        StatusCode::OK,
        "Break-glass review",
        Some(&s.who()),
        "/console/audit/break-glass",
        &main,
    )
}

/// `POST /console/audit/break-glass/{session}/review`
pub async fn review(
    State(api): State<Api>,
    parts: Parts,
    Path(session): Path<String>,
    body: Body,
) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match Form::read(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = s.check_csrf(&form) {
        return r;
    }
    if !is_id(&session) {
        return crate::html::error_page(StatusCode::NOT_FOUND, Some(&s.who()), "No such session.");
    }
    let req = json!({
        "decision": form.get("decision").unwrap_or(""),
        "note": form.get("note").unwrap_or(""),
    });
    let a = api
        .call(
            &parts,
            Method::POST,
            &format!("/v1/audit/break-glass/{session}/review"),
            Auth::Cookie(Some(&s.csrf)),
            Some(req),
        )
        .await;
    if !a.ok() {
        return s.failed(&a);
    }
    see_other("/console/audit/break-glass")
}
