//! Records for the roles that may read PHI: search (the query is POSTed, so names never appear
//! in a URL), a record with its versions and integrity status, and a diff between versions.
//! Every read is the API's own (`/v1/search`, `/v1/records/{id}`, `.../history`), audited and
//! reduced by minimum-necessary obligations exactly as for any API client.

use crate::api::{Api, Auth};
use crate::diff::{diff, Change};
use crate::html::{esc, page, q};
use crate::{is_id, signed_in, Form, Signed};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use hippo_proto::{RecordHistory, RecordView, SearchResults};

fn search_box(s: &Signed, value: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/records/search\" class=\"filters\" role=\"search\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<div class=\"field wide\"><label for=\"f-q\">Names or words; \"quoted phrases\" match exactly</label>\
<input id=\"f-q\" name=\"q\" type=\"search\" required value=\"{}\"></div>\
<div class=\"actions\"><button type=\"submit\">Search</button></div></form>",
        esc(&s.csrf),
        esc(value)
    )
}

/// `GET /console/records`
pub async fn search_form(State(api): State<Api>, parts: Parts) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let main = format!(
        "{}<p class=\"empty\">Search by a person's name or words in their records. Every search and every \
record you open is recorded in the audit trail.</p>",
        search_box(&s, "")
    );
    page(
        StatusCode::OK,
        "Records",
        Some(&s.who()),
        "/console/records",
        &main,
    )
}

/// `POST /console/records/search`
pub async fn search(State(api): State<Api>, parts: Parts, body: Body) -> Response {
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
    let text = form.get("q").unwrap_or("").to_owned();
    let a = api
        .call(
            &parts,
            Method::GET,
            &format!("/v1/search?q={}&snippet=true&limit=50", q(&text)),
            Auth::Cookie(None),
            None,
        )
        .await;
    let Some(results) = a.json::<SearchResults>().filter(|_| a.ok()) else {
        let main = format!(
            "{}<p class=\"error\" role=\"alert\">{}</p>",
            search_box(&s, &text),
            esc(&a.problem())
        );
        return page(
            a.status,
            "Records",
            Some(&s.who()),
            "/console/records",
            &main,
        );
    };
    let list = if results.items.is_empty() {
        "<p class=\"empty\">No records match. Check the spelling, use fewer words, or drop the quotes.</p>".to_owned()
    } else {
        let rows: String = results
            .items
            .iter()
            .map(|h| {
                let snippet: String = h
                    .snippet
                    .iter()
                    .flatten()
                    .map(|f| {
                        if f.highlight {
                            format!("<mark>{}</mark>", esc(&f.text))
                        } else {
                            esc(&f.text)
                        }
                    })
                    .collect();
                format!(
                    "<tr><td><a href=\"/console/records/{id}\">{id}</a></td><td>{t}</td><td>{sub}</td><td>{snippet}</td><td><time>{u}</time></td></tr>",
                    id = esc(&h.record.id),
                    t = esc(&h.record.record_type),
                    sub = esc(h.record.subject.as_deref().unwrap_or("")),
                    u = esc(&h.record.updated_at),
                )
            })
            .collect();
        format!(
            "<table><caption>{} results</caption><thead><tr><th scope=\"col\">Record</th><th scope=\"col\">Type</th>\
<th scope=\"col\">Subject</th><th scope=\"col\">Match</th><th scope=\"col\">Updated (UTC)</th></tr></thead><tbody>{rows}</tbody></table>",
            results.items.len()
        )
    };
    let main = format!("{}{list}", search_box(&s, &text));
    page(
        StatusCode::OK,
        "Search results",
        Some(&s.who()),
        "/console/records",
        &main,
    )
}

/// The integrity line: the body's canonical SHA-256, recomputed here and compared.
fn integrity(r: &RecordView) -> String {
    let here = hippo_core::canonical::sha256_hex(&serde_json::Value::Object(r.body.clone()));
    if here == r.body_sha256 {
        format!(
            "<p class=\"ok\" role=\"status\"><strong>Integrity verified</strong>: the SHA-256 of this body \
(canonical JSON) is <code>{}</code>, as stored.</p>",
            esc(&r.body_sha256)
        )
    } else {
        format!(
            "<p class=\"notice\" role=\"status\">Some fields are withheld for your role (minimum necessary), so the \
body shown here is not the whole record; the server verified the stored hash <code>{}</code> when it read it.</p>",
            esc(&r.body_sha256)
        )
    }
}

fn body_table(r: &RecordView) -> String {
    let rows: String = r
        .body
        .iter()
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            format!(
                "<tr><th scope=\"row\">{}</th><td><pre>{}</pre></td></tr>",
                esc(k),
                esc(&shown)
            )
        })
        .collect();
    format!("<table class=\"record\"><caption>Contents</caption><tbody>{rows}</tbody></table>")
}

async fn load(
    api: &Api,
    parts: &Parts,
    s: &Signed,
    id: &str,
) -> Result<(RecordView, RecordHistory), Response> {
    if !is_id(id) {
        return Err(crate::html::error_page(
            StatusCode::NOT_FOUND,
            Some(&s.who()),
            "No such record.",
        ));
    }
    let a = api
        .call(
            parts,
            Method::GET,
            &format!("/v1/records/{id}"),
            Auth::Cookie(None),
            None,
        )
        .await;
    let Some(record) = a.json::<RecordView>().filter(|_| a.ok()) else {
        return Err(s.failed(&a));
    };
    let h = api
        .call(
            parts,
            Method::GET,
            &format!("/v1/records/{id}/history"),
            Auth::Cookie(None),
            None,
        )
        .await;
    let Some(history) = h.json::<RecordHistory>().filter(|_| h.ok()) else {
        return Err(s.failed(&h));
    };
    Ok((record, history))
}

/// `GET /console/records/{id}`
pub async fn record(State(api): State<Api>, parts: Parts, Path(id): Path<String>) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (r, history) = match load(&api, &parts, &s, &id).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let versions: String = history
        .versions
        .iter()
        .rev()
        .map(|v| {
            let compare = if v.version > 1 {
                format!(
                    " <a href=\"/console/records/{}/diff?from={}&amp;to={}\">changes from version {}</a>",
                    esc(&r.id),
                    v.version - 1,
                    v.version,
                    v.version - 1
                )
            } else {
                String::new()
            };
            format!(
                "<li>Version {} · <time>{}</time> by {}{}{compare}</li>",
                v.version,
                esc(&v.updated_at),
                esc(&v.updated_by),
                if v.deleted { " (deleted)" } else { "" }
            )
        })
        .collect();
    let labels = if r.labels.is_empty() {
        "none".to_owned()
    } else {
        esc(&r.labels.join(", "))
    };
    let main = format!(
        "<dl class=\"facts\"><dt>Id</dt><dd>{id}</dd><dt>Type</dt><dd>{t}</dd><dt>Subject</dt><dd>{sub}</dd>\
<dt>Labels</dt><dd>{labels}</dd><dt>Version</dt><dd>{ver}</dd><dt>Updated</dt><dd><time>{u}</time> by {ub}</dd></dl>\
{integrity}{body}<h2>Versions</h2><ol class=\"versions\" reversed>{versions}</ol>",
        id = esc(&r.id),
        t = esc(&r.record_type),
        sub = esc(r.subject.as_deref().unwrap_or("none")),
        ver = r.version,
        u = esc(&r.updated_at),
        ub = esc(&r.updated_by),
        integrity = integrity(&r),
        body = body_table(&r),
    );
    page(
        StatusCode::OK,
        "Record",
        Some(&s.who()),
        "/console/records",
        &main,
    )
}

/// `GET /console/records/{id}/diff?from=&to=`
async fn diff_page(api: Api, parts: Parts, id: String, raw: Option<String>) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = Form::from_query(raw.as_deref());
    let (r, history) = match load(&api, &parts, &s, &id).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let pick = |k: &str| {
        f.get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|n| history.versions.iter().find(|v| v.version == n))
    };
    let (Some(from), Some(to)) = (pick("from"), pick("to")) else {
        return crate::html::error_page(
            StatusCode::BAD_REQUEST,
            Some(&s.who()),
            "Choose two versions this record has (from and to).",
        );
    };
    let changes = diff(
        &serde_json::Value::Object(from.body.clone()),
        &serde_json::Value::Object(to.body.clone()),
    );
    let rows: String = changes
        .iter()
        .map(|(path, c)| {
            let (kind, before, after) = match c {
                Change::Added(v) => ("added", String::new(), v.clone()),
                Change::Removed(v) => ("removed", v.clone(), String::new()),
                Change::Changed { before, after } => ("changed", before.clone(), after.clone()),
            };
            format!(
                "<tr class=\"{kind}\"><th scope=\"row\"><code>{}</code></th><td>{kind}</td><td><del>{}</del></td><td><ins>{}</ins></td></tr>",
                esc(path),
                esc(&before),
                esc(&after)
            )
        })
        .collect();
    let table = if changes.is_empty() {
        "<p class=\"empty\">The contents are the same in both versions (only labels, subject or deletion may differ).</p>".to_owned()
    } else {
        format!(
            "<table><caption>Changes from version {} to {}</caption><thead><tr><th scope=\"col\">Field</th>\
<th scope=\"col\">Change</th><th scope=\"col\">Before</th><th scope=\"col\">After</th></tr></thead><tbody>{rows}</tbody></table>",
            from.version, to.version
        )
    };
    let main = format!(
        "<p><a href=\"/console/records/{}\">Back to the record</a></p>{table}",
        esc(&r.id)
    );
    page(
        StatusCode::OK,
        "Changes between versions",
        Some(&s.who()),
        "/console/records",
        &main,
    )
}

pub async fn changes(
    State(api): State<Api>,
    parts: Parts,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    diff_page(api, parts, id, raw).await
}
