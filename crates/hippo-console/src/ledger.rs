//! The tamper-evidence page: the audit log's signed tree heads (the latest first), a button to
//! sign one now, and "verify now", which recomputes the log from its events and checks every
//! signed head (the API's `POST /v1/audit/verify`, the same verifier as `hippo audit verify`).

use crate::api::{Api, Auth};
use crate::html::{csrf_field, esc, page, see_other};
use crate::{signed_in, Form, Signed};
use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

async fn render(
    api: &Api,
    parts: &Parts,
    s: &Signed,
    report: &str,
    status: StatusCode,
) -> Response {
    let v: Value = match s.get(api, parts, "/v1/audit/tree-heads").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let heads = v["items"].as_array().cloned().unwrap_or_default();
    let latest = match heads.last() {
        Some(h) => format!(
            "<p role=\"status\">Latest signed tree head: <strong>{size}</strong> events, root <code>{root}</code>, \
signed at <time>{time}</time> by key <code>{key}</code>.</p>",
            size = h["tree_size"].as_u64().unwrap_or(0),
            root = esc(h["root_hash"].as_str().unwrap_or("")),
            time = esc(&millis(h["timestamp_ms"].as_i64().unwrap_or(0))),
            key = esc(h["key_fingerprint"].as_str().unwrap_or("")),
        ),
        None => "<p class=\"empty\">No tree head has been signed yet. Sign one now, or wait for the server's schedule.</p>".into(),
    };
    let jobs = scheduled(api, parts).await;
    let rows: String = heads
        .iter()
        .rev()
        .take(20)
        .map(|h| {
            format!(
                "<tr><td>{}</td><td><time>{}</time></td><td><code>{}</code></td></tr>",
                h["tree_size"].as_u64().unwrap_or(0),
                esc(&millis(h["timestamp_ms"].as_i64().unwrap_or(0))),
                esc(h["root_hash"].as_str().unwrap_or("")),
            )
        })
        .collect();
    let table = if heads.is_empty() {
        String::new()
    } else {
        format!("<table><caption>Signed tree heads, newest first (at most 20)</caption><thead><tr><th scope=\"col\">Events</th>\
<th scope=\"col\">Signed (UTC)</th><th scope=\"col\">Root hash</th></tr></thead><tbody>{rows}</tbody></table>")
    };
    let csrf = csrf_field(&s.csrf);
    let main = format!(
        "{latest}{jobs}<div class=\"actions\"><form method=\"post\" action=\"/console/audit/ledger/verify\" class=\"inline\">{csrf}\
<button type=\"submit\">Verify now</button></form><form method=\"post\" action=\"/console/audit/ledger/sign\" class=\"inline\">{csrf}\
<button type=\"submit\">Sign a tree head now</button></form></div>{report}{table}"
    );
    page(
        status,
        "Tamper evidence",
        Some(&s.who()),
        "/console/audit/ledger",
        &main,
    )
}

/// The server's scheduled work on this log (`GET /v1/status`): the last verification and its
/// result, and the last successful export, as this instance saw them since it started.
async fn scheduled(api: &Api, parts: &Parts) -> String {
    let a = api
        .call(parts, Method::GET, "/v1/status", Auth::Cookie(None), None)
        .await;
    let Some(v) = a.json::<Value>().filter(|_| a.ok()) else {
        return String::new();
    };
    let audit = &v["audit"];
    let verification = match (
        audit["last_verification"].as_str(),
        audit["last_verification_ok"].as_bool(),
    ) {
        (_, Some(false)) => {
            "<strong>FAILED</strong>: verify now and start incident response".to_owned()
        }
        (Some(t), _) => format!("<time>{}</time>, intact", esc(t)),
        (None, _) => "not since this server started".to_owned(),
    };
    let export = audit["last_export"]
        .as_str()
        .map(|t| format!("<time>{}</time>", esc(t)))
        .unwrap_or_else(|| {
            "none since this server started (is an export destination configured?)".into()
        });
    format!("<p>Last scheduled verification: {verification}. Last successful export: {export}.</p>")
}

fn millis(ms: i64) -> String {
    hippo_core::time_fmt::rfc3339(ms)
}

/// `GET /console/audit/ledger`
pub async fn status(State(api): State<Api>, parts: Parts) -> Response {
    match signed_in(&api, &parts).await {
        Ok(s) => render(&api, &parts, &s, "", StatusCode::OK).await,
        Err(r) => r,
    }
}

async fn begin_post(api: &Api, parts: &Parts, body: Body) -> Result<Signed, Response> {
    let s = signed_in(api, parts).await?;
    let form = Form::read(body).await?;
    s.check_csrf(&form)?;
    Ok(s)
}

/// `POST /console/audit/ledger/verify`: runs the verifier and shows its report.
pub async fn verify(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let s = match begin_post(&api, &parts, body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/audit/verify",
            Auth::Cookie(Some(&s.csrf)),
            None,
        )
        .await;
    let Some(v) = a.json::<Value>().filter(|_| a.ok()) else {
        return s.failed(&a);
    };
    let ok = v["ok"].as_bool() == Some(true);
    let report = format!(
        "<div class=\"{cls}\" role=\"status\" id=\"verify-report\"><h2>{head}</h2><pre>{text}</pre></div>",
        cls = if ok { "ok" } else { "notice" },
        head = if ok { "Verified: the audit log is intact" } else { "Verification FAILED" },
        text = esc(v["text"].as_str().unwrap_or("")),
    );
    render(&api, &parts, &s, &report, StatusCode::OK).await
}

/// `POST /console/audit/ledger/sign`
pub async fn sign(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let s = match begin_post(&api, &parts, body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/audit/tree-heads",
            Auth::Cookie(Some(&s.csrf)),
            None,
        )
        .await;
    if !a.ok() {
        return s.failed(&a);
    }
    see_other("/console/audit/ledger")
}
