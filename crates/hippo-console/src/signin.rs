//! Signing in and out in the console: password, then the second factor (TOTP code or recovery
//! code), or enrolment of an authenticator app on first sign-in; sign-out.
//!
//! Before a session exists, forms are protected by a double-submit token: a random value in a
//! `SameSite=Strict` cookie that the form must repeat. The pending sign-in's token (between
//! password and second factor) lives in an `HttpOnly` cookie scoped to `/console/signin`, never
//! in the page.

use crate::api::{cookie, Answer, Api, Auth};
use crate::html::{alert, esc, page, see_other};
use crate::{signed_in, Form};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use hippo_proto::{SignInView, TotpEnrolment};
use serde_json::json;
use subtle::ConstantTimeEq;

const PRE_CSRF: &str = "hippo_console_csrf";
pub(crate) const PENDING: &str = "hippo_pending";

fn random_token() -> String {
    let mut b = [0u8; 24];
    getrandom::getrandom(&mut b).expect("the OS random source works");
    hex::encode(b)
}

fn set_cookie(resp: &mut Response, name: &str, value: &str, path: &str, max_age: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The pre-session token of this browser, or a new one.
fn pre_token(parts: &Parts) -> (String, bool) {
    match cookie(&parts.headers, PRE_CSRF).filter(|t| t.len() == 48) {
        Some(t) => (t.to_owned(), false),
        None => (random_token(), true),
    }
}

fn pre_ok(parts: &Parts, form: &Form) -> bool {
    pre_csrf_ok(parts, form.get("csrf").unwrap_or(""))
}

/// True when `sent` repeats this browser's pre-session token.
pub(crate) fn pre_csrf_ok(parts: &Parts, sent: &str) -> bool {
    match cookie(&parts.headers, PRE_CSRF) {
        Some(c) if !sent.is_empty() => c.as_bytes().ct_eq(sent.as_bytes()).into(),
        _ => false,
    }
}

/// The pending sign-in's token (between password and second factor), if any.
pub(crate) fn pending_token(parts: &Parts) -> Option<String> {
    cookie(&parts.headers, PENDING).map(str::to_owned)
}

fn with_pre(mut resp: Response, token: &str, fresh: bool) -> Response {
    if fresh {
        set_cookie(&mut resp, PRE_CSRF, token, "/console", 3600);
    }
    resp
}

fn signin_page(
    status: StatusCode,
    token: &str,
    message: Option<&str>,
    note: Option<&str>,
) -> Response {
    signin_page_for(status, token, message, note, "")
}

/// The sign-in form, with the tenant field filled in (switching tenants from the tenants page).
fn signin_page_for(
    status: StatusCode,
    token: &str,
    message: Option<&str>,
    note: Option<&str>,
    tenant: &str,
) -> Response {
    let note = note
        .map(|n| format!("<p class=\"notice\" role=\"status\">{}</p>", esc(n)))
        .unwrap_or_default();
    let main = format!(
        "{note}{err}<form method=\"post\" action=\"/console/signin\" class=\"stack\">\
<input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
<label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<label for=\"tenant\">Tenant <span class=\"hint\">(only if you belong to several)</span></label><input id=\"tenant\" name=\"tenant\" value=\"{tenant}\">\
<button type=\"submit\">Continue</button></form>",
        err = alert(message),
        token = esc(token),
        tenant = esc(tenant),
    );
    page(status, "Sign in", None, "", &main)
}

/// `GET /console/signin`
pub async fn form(parts: Parts, RawQuery(raw): RawQuery) -> Response {
    let (token, fresh) = pre_token(&parts);
    let query = Form::from_query(raw.as_deref());
    let note = query
        .get("ended")
        .map(|_| "Your session has ended. Please sign in again.");
    let tenant = query
        .get("tenant")
        .filter(|t| crate::is_id(t))
        .unwrap_or("");
    with_pre(
        signin_page_for(StatusCode::OK, &token, None, note, tenant),
        &token,
        fresh,
    )
}

fn code_form(action: &str, token: &str, message: Option<&str>, intro: &str) -> String {
    let label = if action.ends_with("/enrol") {
        "Code from your authenticator app"
    } else {
        "Code from your authenticator app (or a recovery code)"
    };
    format!(
        "{intro}{err}<form method=\"post\" action=\"{action}\" class=\"stack\">\
<input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
<label for=\"code\">{label}</label>\
<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
<button type=\"submit\">Verify</button></form>",
        err = alert(message),
        token = esc(token),
    )
}

fn expired(token: &str) -> Response {
    signin_page(
        StatusCode::UNAUTHORIZED,
        token,
        Some("This sign-in has expired or the form did not come from this console. Start again."),
        None,
    )
}

/// `POST /console/signin`: the password step.
pub async fn submit(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (token, fresh) = pre_token(&parts);
    let form = match Form::read(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !pre_ok(&parts, &form) {
        return with_pre(expired(&token), &token, fresh);
    }
    let mut req = json!({
        "username": form.get("username").unwrap_or(""),
        "password": form.0.get("password").map(String::as_str).unwrap_or(""),
    });
    if let Some(t) = form.get("tenant") {
        req["tenant"] = json!(t);
    }
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/login",
            Auth::None,
            Some(req),
        )
        .await;
    let Some(view) = a.json::<SignInView>().filter(|_| a.ok()) else {
        return signin_page(a.status, &token, Some(&a.problem()), None);
    };
    match view.stage.as_str() {
        "active" => signed_in_redirect(&a),
        "mfa" => {
            let main = code_form(
                "/console/signin/mfa",
                &token,
                None,
                "<p>Enter the 6-digit code your authenticator app shows now.</p>",
            ) + &format!(
                "<p class=\"passkey\" hidden><button type=\"button\" id=\"passkey-signin\" data-csrf=\"{}\">Use a passkey instead</button></p>\
<p id=\"passkey-status\" role=\"status\"></p>",
                esc(&token)
            );
            let mut resp = page(StatusCode::OK, "Second factor", None, "", &main);
            set_cookie(&mut resp, PENDING, &view.token, "/console/signin", 300);
            resp
        }
        _ => {
            let e = api
                .call(
                    &parts,
                    Method::POST,
                    "/v1/auth/mfa/totp",
                    Auth::Bearer(&view.token),
                    None,
                )
                .await;
            let Some(enrol) = e.json::<TotpEnrolment>().filter(|_| e.ok()) else {
                return signin_page(e.status, &token, Some(&e.problem()), None);
            };
            let svg = enrol
                .qr_svg
                .find("<svg")
                .map(|i| &enrol.qr_svg[i..])
                .unwrap_or("");
            let intro = format!(
                "<p>Your organisation requires a second factor. Scan this code with an authenticator app \
(or type the key below), then enter the code it shows.</p>\
<figure class=\"qr\" role=\"img\" aria-label=\"QR code of your authenticator key\">{svg}</figure>\
<p>Key: <code class=\"secret\">{key}</code></p>",
                key = esc(&enrol.secret_base32),
            );
            let main = code_form("/console/signin/enrol", &token, None, &intro);
            let mut resp = page(StatusCode::OK, "Set up a second factor", None, "", &main);
            set_cookie(&mut resp, PENDING, &view.token, "/console/signin", 300);
            resp
        }
    }
}

/// Passes the API's session cookie on and goes to the console home.
fn signed_in_redirect(a: &Answer) -> Response {
    let mut resp = see_other("/console");
    for v in a.headers.get_all(header::SET_COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    set_cookie(&mut resp, PENDING, "", "/console/signin", 0);
    resp
}

/// The pending token and code of a second-factor form, or the page to show instead.
async fn second_step(parts: &Parts, body: Body) -> Result<(String, String, String), Response> {
    let (token, _) = pre_token(parts);
    let form = Form::read(body).await?;
    let pending = cookie(&parts.headers, PENDING).map(str::to_owned);
    match (pre_ok(parts, &form), pending, form.get("code")) {
        (true, Some(p), Some(code)) => Ok((token, p, code.to_owned())),
        _ => Err(expired(&token)),
    }
}

/// `POST /console/signin/mfa`: the TOTP or recovery code.
pub async fn mfa(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (token, pending, code) = match second_step(&parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/mfa",
            Auth::Bearer(&pending),
            Some(json!({ "code": code })),
        )
        .await;
    if a.ok() {
        return signed_in_redirect(&a);
    }
    let main = code_form("/console/signin/mfa", &token, Some(&a.problem()), "");
    page(a.status, "Second factor", None, "", &main)
}

/// `POST /console/signin/enrol`: confirms the new authenticator; shows the recovery codes once.
pub async fn enrol(State(api): State<Api>, parts: Parts, body: Body) -> Response {
    let (token, pending, code) = match second_step(&parts, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            "/v1/auth/mfa/totp/confirm",
            Auth::Bearer(&pending),
            Some(json!({ "code": code })),
        )
        .await;
    let Some(view) = a.json::<SignInView>().filter(|_| a.ok()) else {
        let main = code_form("/console/signin/enrol", &token, Some(&a.problem()), "");
        return page(a.status, "Set up a second factor", None, "", &main);
    };
    let codes: String = view
        .recovery_codes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>", esc(c)))
        .collect();
    let main = format!(
        "<p role=\"status\">Your authenticator is set up.</p>\
<h2>Recovery codes</h2><p>Each works once if you lose your authenticator. Store them somewhere safe now: \
they are not shown again.</p><ul class=\"codes\">{codes}</ul>\
<p><a href=\"/console\" class=\"button\">Continue to the console</a></p>"
    );
    let mut resp = page(StatusCode::OK, "Second factor ready", None, "", &main);
    for v in a.headers.get_all(header::SET_COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    set_cookie(&mut resp, PENDING, "", "/console/signin", 0);
    resp
}

/// `POST /console/signout`: ends the session (through the API) and clears the cookie.
pub async fn signout(State(api): State<Api>, parts: Parts, body: Body) -> Response {
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
    // "Sign out everywhere" ends every session of the person (other browsers, other devices).
    let path = if form.get("everywhere") == Some("true") {
        "/v1/auth/logout?everywhere=true"
    } else {
        "/v1/auth/logout"
    };
    let a = api
        .call(
            &parts,
            Method::POST,
            path,
            Auth::Cookie(Some(&s.csrf)),
            None,
        )
        .await;
    if !a.ok() {
        return s.failed(&a);
    }
    let mut resp = see_other("/console/signin");
    for v in a.headers.get_all(header::SET_COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, v.clone());
    }
    resp
}
