//! The auditor's pages: the audit event browser (with filters and paging) and the accounting of
//! disclosures for one subject (table, CSV download, printable page). Audit events carry no
//! record bodies (the audit store keeps free text redacted), so nothing here shows PHI.

use crate::api::{Api, Auth};
use crate::html::{esc, page, q};
use crate::{is_id, signed_in, Form, Signed};
use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hippo_proto::AuditPage;

/// Filters the browser passes on to `GET /v1/audit`, with their labels.
const FILTERS: &[(&str, &str)] = &[
    ("actor", "Actor (user or key id)"),
    ("action", "Action (e.g. record.read)"),
    ("subject", "Subject id"),
    ("resource", "Record id"),
];

/// A `datetime-local` value (`2026-01-31T08:00`) as RFC 3339 in UTC; RFC 3339 passes through.
pub fn to_rfc3339(v: &str) -> String {
    match v.len() {
        16 => format!("{v}:00Z"),
        19 => format!("{v}Z"),
        _ => v.to_owned(),
    }
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
    let opts: String = options
        .iter()
        .map(|(v, l)| {
            let sel = if current == Some(*v) { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{l}</option>")
        })
        .collect();
    format!("<div class=\"field\"><label for=\"f-{name}\">{label}</label><select id=\"f-{name}\" name=\"{name}\">{opts}</select></div>")
}

/// `GET /console/audit`: the event browser.
pub async fn events(State(api): State<Api>, parts: Parts, RawQuery(raw): RawQuery) -> Response {
    let s = match signed_in(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = Form::from_query(raw.as_deref());
    let mut query: Vec<(String, String)> = Vec::new();
    for key in [
        "log", "actor", "action", "subject", "resource", "outcome", "cursor",
    ] {
        if let Some(v) = f.get(key) {
            query.push((key.into(), v.into()));
        }
    }
    for key in ["from", "to"] {
        if let Some(v) = f.get(key) {
            query.push((key.into(), to_rfc3339(v)));
        }
    }
    if f.get("emergency") == Some("true") {
        query.push(("emergency".into(), "true".into()));
    }
    query.push(("limit".into(), "50".into()));
    let qs: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&query)
        .finish();
    let a = api
        .call(
            &parts,
            Method::GET,
            &format!("/v1/audit?{qs}"),
            Auth::Cookie(None),
            None,
        )
        .await;
    let mut fields = String::new();
    fields.push_str(&select(
        "log",
        "Log",
        f.get("log"),
        &[
            ("records", "Records and sign-ins"),
            ("access", "Access changes (keys, users, break-glass)"),
        ],
    ));
    for (name, label) in FILTERS {
        fields.push_str(&format!(
            "<div class=\"field\"><label for=\"f-{name}\">{label}</label><input id=\"f-{name}\" name=\"{name}\" value=\"{}\"></div>",
            esc(f.get(name).unwrap_or(""))
        ));
    }
    fields.push_str(&select(
        "outcome",
        "Outcome",
        f.get("outcome"),
        &[
            ("", "Any"),
            ("success", "Success"),
            ("denied", "Denied"),
            ("error", "Error"),
        ],
    ));
    for (name, label) in [("from", "From (UTC)"), ("to", "To (UTC)")] {
        fields.push_str(&format!(
            "<div class=\"field\"><label for=\"f-{name}\">{label}</label><input id=\"f-{name}\" name=\"{name}\" type=\"datetime-local\" step=\"1\" value=\"{}\"></div>",
            esc(f.get(name).unwrap_or(""))
        ));
    }
    let checked = if f.get("emergency") == Some("true") {
        " checked"
    } else {
        ""
    };
    fields.push_str(&format!(
        "<div class=\"field check\"><input id=\"f-emergency\" type=\"checkbox\" name=\"emergency\" value=\"true\"{checked}><label for=\"f-emergency\">Emergency (break-glass) only</label></div>"
    ));
    let form = format!(
        "<form method=\"get\" action=\"/console/audit\" class=\"filters\" aria-label=\"Filters\">{fields}\
<div class=\"actions\"><button type=\"submit\">Apply filters</button> <a href=\"/console/audit\">Clear</a></div></form>"
    );
    let Some(page_data) = a.json::<AuditPage>().filter(|_| a.ok()) else {
        let main = format!(
            "{form}<p class=\"error\" role=\"alert\">{}</p>",
            esc(&a.problem())
        );
        return page(
            a.status,
            "Audit events",
            Some(&s.who()),
            "/console/audit",
            &main,
        );
    };
    let table = events_table(&page_data);
    let next = match &page_data.next_cursor {
        Some(c) => {
            let mut next_q: Vec<(String, String)> = query
                .iter()
                .filter(|(k, _)| k != "cursor" && k != "limit" && k != "from" && k != "to")
                .cloned()
                .collect();
            for key in ["from", "to"] {
                if let Some(v) = f.get(key) {
                    next_q.push((key.into(), v.into()));
                }
            }
            next_q.push(("cursor".into(), c.clone()));
            let qs: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&next_q)
                .finish();
            format!(
                "<p><a href=\"/console/audit?{}\" rel=\"next\">Older events</a></p>",
                esc(&qs)
            )
        }
        None => String::new(),
    };
    let main = format!("{form}{table}{next}");
    page(
        StatusCode::OK,
        "Audit events",
        Some(&s.who()),
        "/console/audit",
        &main,
    )
}

/// The events as a table; an empty page says so and how to widen the search.
pub fn events_table(p: &AuditPage) -> String {
    if p.items.is_empty() {
        return "<p class=\"empty\">No events match these filters. Widen the time range or clear a filter.</p>".into();
    }
    let rows: String = p
        .items
        .iter()
        .map(|e| {
            let emergency = e.details.get("emergency").and_then(|v| v.as_bool()) == Some(true);
            let subject = e
                .subject_id
                .as_deref()
                .map(|sub| format!("<a href=\"/console/audit/disclosures?subject={}\">{}</a>", esc(&q(sub)), esc(sub)))
                .unwrap_or_default();
            format!(
                "<tr><td>{seq}</td><td><time>{time}</time></td><td>{actor}</td><td>{action}{em}</td><td class=\"outcome-{oc}\">{oc}</td><td>{res}</td><td>{subject}</td><td>{src}</td></tr>",
                seq = e.seq,
                time = esc(&e.time),
                actor = esc(&e.actor_id),
                action = esc(&e.action),
                em = if emergency { " <strong class=\"tag\">emergency</strong>" } else { "" },
                oc = esc(&e.outcome),
                res = esc(e.resource_id.as_deref().unwrap_or("")),
                src = esc(e.source_addr.as_deref().unwrap_or("")),
            )
        })
        .collect();
    format!(
        "<table><caption>Events, newest last</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time (UTC)</th>\
<th scope=\"col\">Actor</th><th scope=\"col\">Action</th><th scope=\"col\">Outcome</th><th scope=\"col\">Resource</th>\
<th scope=\"col\">Subject</th><th scope=\"col\">Source</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The subject, period and API query of a disclosures request.
struct Accounting {
    subject: String,
    query: String,
}

fn accounting(f: &Form) -> Option<Accounting> {
    let subject = f.get("subject").filter(|v| is_id(v))?.to_owned();
    let mut pairs = vec![("subject".to_owned(), subject.clone())];
    for key in ["from", "to"] {
        if let Some(v) = f.get(key) {
            pairs.push((key.into(), to_rfc3339(v)));
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    Some(Accounting { subject, query })
}

async fn fetch(api: &Api, parts: &Parts, acc: &Accounting, csv: bool) -> crate::api::Answer {
    let fmt = if csv { "&format=csv" } else { "" };
    api.call(
        parts,
        Method::GET,
        &format!("/v1/audit/disclosures?{}{fmt}", acc.query),
        Auth::Cookie(None),
        None,
    )
    .await
}

fn disclosures_table(v: &serde_json::Value) -> String {
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "<p class=\"empty\">No one accessed or changed this person's records in this period.</p>".into();
    }
    let cell = |e: &serde_json::Value, k: &str| esc(e[k].as_str().unwrap_or(""));
    let rows: String = items
        .iter()
        .map(|e| {
            format!(
                "<tr><td><time>{}</time></td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                cell(e, "time"),
                cell(e, "action"),
                cell(e, "actor_id"),
                cell(e, "actor_kind"),
                cell(e, "purpose"),
                if e["emergency"].as_bool() == Some(true) { "yes" } else { "no" },
                cell(e, "record_id"),
                cell(e, "outcome"),
            )
        })
        .collect();
    format!(
        "<table><caption>{} disclosures</caption><thead><tr><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Action</th>\
<th scope=\"col\">Who</th><th scope=\"col\">Purpose</th><th scope=\"col\">Emergency</th><th scope=\"col\">Record</th>\
<th scope=\"col\">Outcome</th></tr></thead><tbody>{rows}</tbody></table>",
        items.len()
    )
}

fn subject_form(f: &Form) -> String {
    let v = |k: &str| esc(f.get(k).unwrap_or(""));
    format!(
        "<form method=\"get\" action=\"/console/audit/disclosures\" class=\"filters\" aria-label=\"Subject and period\">\
<div class=\"field\"><label for=\"f-subject\">Subject id</label><input id=\"f-subject\" name=\"subject\" required value=\"{}\"></div>\
<div class=\"field\"><label for=\"f-from\">From (UTC)</label><input id=\"f-from\" name=\"from\" type=\"datetime-local\" step=\"1\" value=\"{}\"></div>\
<div class=\"field\"><label for=\"f-to\">To (UTC)</label><input id=\"f-to\" name=\"to\" type=\"datetime-local\" step=\"1\" value=\"{}\"></div>\
<div class=\"actions\"><button type=\"submit\">Show disclosures</button></div></form>",
        v("subject"),
        v("from"),
        v("to")
    )
}

async fn begin(api: &Api, parts: &Parts) -> Result<Signed, Response> {
    signed_in(api, parts).await
}

/// `GET /console/audit/disclosures`
pub async fn disclosures(
    State(api): State<Api>,
    parts: Parts,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = match begin(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = Form::from_query(raw.as_deref());
    let form = subject_form(&f);
    let title = "Accounting of disclosures";
    let Some(acc) = accounting(&f) else {
        let hint = if f.get("subject").is_some() {
            "<p class=\"error\" role=\"alert\">A subject id has letters, digits, '-', '_', '.' or ':' only.</p>"
        } else {
            "<p class=\"empty\">Enter the subject id of the person who asked for an accounting (45 CFR 164.528).</p>"
        };
        return page(
            StatusCode::OK,
            title,
            Some(&s.who()),
            "/console/audit/disclosures",
            &format!("{form}{hint}"),
        );
    };
    let a = fetch(&api, &parts, &acc, false).await;
    let Some(v) = a.json::<serde_json::Value>().filter(|_| a.ok()) else {
        let main = format!(
            "{form}<p class=\"error\" role=\"alert\">{}</p>",
            esc(&a.problem())
        );
        return page(
            a.status,
            title,
            Some(&s.who()),
            "/console/audit/disclosures",
            &main,
        );
    };
    let links = format!(
        "<p class=\"actions\"><a href=\"/console/audit/disclosures.csv?{q}\" download>Download CSV</a> \
<a href=\"/console/audit/disclosures/print?{q}\">Printable page</a></p>",
        q = esc(&acc.query)
    );
    let main = format!(
        "{form}<h2>Subject {}</h2>{links}{}",
        esc(&acc.subject),
        disclosures_table(&v)
    );
    page(
        StatusCode::OK,
        title,
        Some(&s.who()),
        "/console/audit/disclosures",
        &main,
    )
}

/// `GET /console/audit/disclosures.csv`: the API's CSV, as a download.
pub async fn disclosures_csv(
    State(api): State<Api>,
    parts: Parts,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = match begin(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(acc) = accounting(&Form::from_query(raw.as_deref())) else {
        return crate::html::error_page(
            StatusCode::BAD_REQUEST,
            Some(&s.who()),
            "A subject id is required.",
        );
    };
    let a = fetch(&api, &parts, &acc, true).await;
    if !a.ok() {
        return s.failed(&a);
    }
    let mut resp = a.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    // The subject passed `is_id`, so it is safe in a header.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"disclosures-{}.csv\"",
        acc.subject.replace(':', "_")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /console/audit/disclosures/print`: the same accounting, laid out for paper.
pub async fn disclosures_print(
    State(api): State<Api>,
    parts: Parts,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = match begin(&api, &parts).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(acc) = accounting(&Form::from_query(raw.as_deref())) else {
        return crate::html::error_page(
            StatusCode::BAD_REQUEST,
            Some(&s.who()),
            "A subject id is required.",
        );
    };
    let a = fetch(&api, &parts, &acc, false).await;
    let Some(v) = a.json::<serde_json::Value>().filter(|_| a.ok()) else {
        return s.failed(&a);
    };
    let main = format!(
        "<div class=\"print\"><p>Subject: <strong>{}</strong>. Tenant: {}. Prepared by {} on request; \
accesses and changes recorded in Hippo's audit trail.</p>{}<p class=\"noprint\"><a href=\"/console/audit/disclosures?{}\">Back</a></p></div>",
        esc(&acc.subject),
        esc(&s.view.tenant),
        esc(&s.view.user_id),
        disclosures_table(&v),
        esc(&acc.query),
    );
    page(
        StatusCode::OK,
        "Accounting of disclosures (print)",
        None,
        "",
        &main,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_become_utc_rfc3339() {
        assert_eq!(to_rfc3339("2026-01-31T08:00"), "2026-01-31T08:00:00Z");
        assert_eq!(to_rfc3339("2026-01-31T08:00:05"), "2026-01-31T08:00:05Z");
        assert_eq!(to_rfc3339("2026-01-31T08:00:05Z"), "2026-01-31T08:00:05Z");
    }

    #[test]
    fn an_empty_page_says_what_to_do() {
        let p = AuditPage {
            items: vec![],
            next_cursor: None,
        };
        assert!(events_table(&p).contains("No events match"));
    }
}
