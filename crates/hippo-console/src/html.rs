//! HTML output: the one escaping function, the page layout every page shares, and the
//! response headers of console pages (Content-Security-Policy, no caching).
//!
//! Pages are built with `format!` and every value that did not come from this crate's own
//! literals goes through [`esc`]. No template crate: the pages are few and small, and one
//! escaping helper (tested below with the characters that matter) is easier to audit than a
//! template language.

use crate::assets;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The console's Content-Security-Policy: scripts, styles and images only from this origin, no
/// inline script or style, no `eval`, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a value for a URL query string.
pub fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Who is signed in, as the layout shows it.
pub struct Who<'a> {
    pub user_id: &'a str,
    pub tenant: &'a str,
    pub role: &'a str,
    pub idle_expires_at: &'a str,
    pub absolute_expires_at: &'a str,
    pub emergency_until: Option<&'a str>,
    pub csrf: &'a str,
}

/// Whether a role may read record contents (PHI).
pub fn reads_phi(role: &str) -> bool {
    matches!(role, "admin" | "writer" | "reader")
}

fn nav(who: &Who<'_>, current: &str) -> String {
    let mut links: Vec<(&str, &str)> = vec![("/console", "Home")];
    if reads_phi(who.role) {
        links.push(("/console/records", "Records"));
    }
    if matches!(who.role, "auditor" | "admin") {
        links.push(("/console/audit", "Audit events"));
        links.push(("/console/audit/disclosures", "Disclosures"));
        links.push(("/console/audit/break-glass", "Break-glass review"));
        links.push(("/console/audit/ledger", "Tamper evidence"));
    }
    if who.role == "admin" {
        links.push(("/console/admin/users", "Users"));
        links.push(("/console/admin/keys", "API keys"));
        links.push(("/console/admin/policy", "Policy"));
    }
    links.push(("/console/tenants", "Tenants"));
    let items: String = links
        .iter()
        .map(|(href, label)| {
            let cur = if *href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{href}\"{cur}>{label}</a></li>")
        })
        .collect();
    let emergency = who
        .emergency_until
        .map(|u| {
            format!(
                "<p class=\"emergency\" role=\"status\">Emergency access open until {}</p>",
                esc(u)
            )
        })
        .unwrap_or_default();
    format!(
        "<header class=\"top\"><nav aria-label=\"Main\"><ul>{items}</ul></nav>\
<div class=\"who\"><span>{user} · {role} · tenant {tenant}</span>\
<form method=\"post\" action=\"/console/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\">Sign out</button></form>\
<form method=\"post\" action=\"/console/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"everywhere\" value=\"true\">\
<button type=\"submit\" class=\"secondary\" id=\"signout-everywhere\">Sign out everywhere</button></form></div>\
<p class=\"session\" id=\"session-times\">Session ends after inactivity at <time id=\"idle-at\">{idle}</time>, \
and at the latest at <time>{abs}</time>.</p>{emergency}</header>\
<div id=\"timeout-warning\" class=\"warning\" role=\"alert\" hidden>Your session is about to end \
because of inactivity. <a href=\"\" id=\"stay\">Stay signed in</a></div>",
        user = esc(who.user_id),
        role = esc(who.role),
        tenant = esc(who.tenant),
        csrf = esc(who.csrf),
        idle = esc(who.idle_expires_at),
        abs = esc(who.absolute_expires_at),
    )
}

/// A complete page. `title` is a fixed label chosen by the page (never PHI); `main` is HTML
/// the caller built with [`esc`].
pub fn page(
    status: StatusCode,
    title: &str,
    who: Option<&Who<'_>>,
    current: &str,
    main: &str,
) -> Response {
    let (header_html, body_attrs) = match who {
        Some(w) => (
            nav(w, current),
            format!(
                " data-idle-expires=\"{}\" data-absolute-expires=\"{}\"",
                esc(w.idle_expires_at),
                esc(w.absolute_expires_at)
            ),
        ),
        None => (String::new(), String::new()),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Hippo console</title>\
<link rel=\"stylesheet\" href=\"{css}\"><script src=\"{js}\" defer></script></head>\
<body{body_attrs}><a class=\"skip\" href=\"#main\">Skip to content</a>{header_html}\
<main id=\"main\" tabindex=\"-1\"><h1>{title}</h1>{main}</main></body></html>",
        title = esc(title),
        css = assets::css_path(),
        js = assets::js_path(),
    );
    let mut resp = (status, html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A page with an error message (from the API's problem detail, which never holds PHI).
pub fn error_page(status: StatusCode, who: Option<&Who<'_>>, message: &str) -> Response {
    let title = match status.as_u16() {
        403 => "Not allowed",
        404 => "Not found",
        400 | 422 => "Cannot do that",
        503 => "Unavailable",
        _ => "Something went wrong",
    };
    let main = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/console\">Back to the console home</a></p>",
        esc(message)
    );
    page(status, title, who, "", &main)
}

/// A 303 redirect (after a POST, or to the sign-in page).
pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A hidden CSRF field.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// An error message block, if any.
pub fn alert(message: Option<&str>) -> String {
    message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("plain text ü"), "plain text ü");
    }

    #[test]
    fn the_policy_allows_no_inline_script_or_eval() {
        assert!(CSP.contains("script-src 'self'"));
        assert!(!CSP.contains("unsafe-inline"));
        assert!(!CSP.contains("unsafe-eval"));
        assert!(CSP.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(q("a b&c=d"), "a+b%26c%3Dd");
    }
}
