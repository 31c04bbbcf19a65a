//! The web console end to end (issue 18): the real `hippo` binary over real TLS, driven by a
//! real headless Chromium through chromedriver. Each page visited is checked with axe-core
//! (zero serious or critical WCAG 2.1 A/AA violations), for its Content-Security-Policy and
//! `Cache-Control` headers, for loading nothing from another origin and for having no inline
//! script or style; screenshots of each page go to docs/console/ for docs/console.md.
//!
//! Without Chromium the tests skip locally and fail under CI (`CI` set).

mod pages;
mod session;
mod webdriver;

use hippo_identity::totp;
use hippo_testkit::{Options, TestServer, CANARY};
use serde_json::{json, Value};
use std::path::PathBuf;
use webdriver::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_hippo");
const PASSWORD: &str = "violet tractor harbour 1987 quietly";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Rig {
    s: TestServer,
    b: Browser,
}

/// The base64 SHA-256 of the test server's certificate key (SubjectPublicKeyInfo): Chromium
/// accepts that one key only (`--ignore-certificate-errors-spki-list`), not any certificate.
fn server_spki(s: &TestServer) -> String {
    let ca = s.data_dir.join("tls").join("server.pem");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | openssl base64 -A",
        )
        .arg("sh")
        .arg(&ca)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn rig(options: Options) -> Option<Rig> {
    if !webdriver::available() {
        eprintln!("skipped: chromium and chromium-driver are not installed");
        return None;
    }
    let s = TestServer::start_with(BIN, options);
    let b = Browser::start(&server_spki(&s)).await;
    Some(Rig { s, b })
}

async fn api(s: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = s
        .client()
        .request(method, s.url(path))
        .bearer_auth(&s.admin_key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn add_user(s: &TestServer, name: &str, role: &str) -> String {
    let v = api(
        s,
        reqwest::Method::POST,
        "/v1/admin/users",
        Some(json!({"username": name, "password": PASSWORD, "role": role})),
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

fn shot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
}

fn axe_source() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/console/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&p).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `npm ci` in crates/hippo/tests/console/axe (.ci/run does)",
            p.display()
        )
    })
}

/// Checks the page the browser shows now; saves a screenshot as docs/console/`name`.png.
async fn check_page(r: &Rig, name: &str) {
    let (s, b) = (&r.s, &r.b);
    let url = b.url().await;
    let title = b.title().await;
    assert!(url.starts_with(&s.base_url), "{url}");
    assert!(
        !url.contains(CANARY) && !title.contains(CANARY),
        "PHI in URL or title: {url} {title}"
    );
    // Every response the browser received since the last check (from DevTools network
    // events): from this origin only; every page with the strict CSP and no caching.
    let responses = b.responses().await;
    assert!(
        responses.iter().any(|(_, kind, _)| kind == "Document"),
        "{name}: no page seen in {:?}",
        responses.iter().map(|(u, k, _)| (u, k)).collect::<Vec<_>>()
    );
    // Not requests to any origin: the browser's own pages (chrome://) and `data:` URLs, which
    // Chromium's built-in controls use (the date picker's icon); the CSP refuses `data:`
    // images of the page itself (`img-src 'self'`).
    let responses: Vec<_> = responses
        .into_iter()
        .filter(|(url, _, _)| {
            !url.starts_with("chrome://")
                && !url.starts_with("chrome-untrusted://")
                && !url.starts_with("data:")
        })
        .collect();
    for (url, kind, headers) in &responses {
        assert!(
            url.starts_with(&s.base_url),
            "{name}: {url} is from another origin"
        );
        if kind == "Document" {
            assert_eq!(
                headers
                    .get("content-security-policy")
                    .and_then(|v| v.as_str()),
                Some(CSP),
                "{name}: {url}"
            );
            assert_eq!(
                headers.get("cache-control").and_then(|v| v.as_str()),
                Some("no-store"),
                "{name}: {url}"
            );
        }
    }
    // And the page's own record of what it loaded.
    let resources = b
        .exec(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            json!([]),
        )
        .await;
    for res in resources.as_array().unwrap() {
        assert!(
            res.as_str().unwrap().starts_with(&s.base_url),
            "{name}: {res}"
        );
    }
    assert_eq!(
        b.count("script:not([src]), style, [style]").await,
        0,
        "{name}: inline script or style"
    );
    // axe-core: WCAG 2.1 A and AA rules; no serious or critical violation.
    b.exec(&axe_source(), json!([])).await;
    let v = b
        .exec_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))))\
               .catch(e => done([{id: 'axe-error', impact: 'critical', nodes: String(e)}]));",
            json!([]),
        )
        .await;
    let bad: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(bad.is_empty(), "{name}: accessibility violations {bad:?}");
    std::fs::create_dir_all(shot_dir()).unwrap();
    std::fs::write(shot_dir().join(format!("{name}.png")), b.screenshot().await).unwrap();
}

async fn fill(b: &Browser, css: &str, text: &str) {
    b.find(css).await.send_keys(text).await;
}

/// Submits `form` and waits for the page that answers.
async fn submit(b: &Browser, form: &str) {
    b.mark_page().await;
    b.find(&format!("{form} button[type=submit]"))
        .await
        .click()
        .await;
    b.wait_new_page().await;
}

/// Follows the link `css` and waits for its page.
async fn follow(b: &Browser, css: &str) {
    b.mark_page().await;
    b.find(css).await.click().await;
    b.wait_new_page().await;
}

fn now_step() -> u64 {
    (hippo_core::time_fmt::now_millis() / 1000) as u64 / totp::STEP_SECS
}

/// First sign-in through the console: password, then enrolment of an authenticator app (its
/// code computed from the key the page shows, as an app would), then the recovery codes.
async fn first_sign_in(r: &Rig, name: &str, shots: bool) {
    let b = &r.b;
    b.goto(&r.s.url("/console/signin")).await;
    if shots {
        check_page(r, "signin").await;
    }
    fill(b, "#username", name).await;
    fill(b, "#password", PASSWORD).await;
    submit(b, "form").await;
    assert!(b.wait("code.secret").await, "{}", b.source().await);
    let key = b.find("code.secret").await.text().await;
    if shots {
        check_page(r, "enrol").await;
    }
    let secret = totp::decode_base32(&key).expect("the page shows a base32 key");
    let code = totp::code_at_step(&secret, now_step()).unwrap();
    fill(b, "#code", &code).await;
    submit(b, "form").await;
    b.wait("ul.codes li").await;
    assert_eq!(
        b.count("ul.codes li").await,
        10,
        "recovery codes are shown once: {}",
        b.source().await
    );
    if shots {
        check_page(r, "recovery-codes").await;
    }
    follow(b, "a.button").await;
    assert!(b.url().await.ends_with("/console"));
}

async fn create_record(s: &TestServer, subject: &str) -> String {
    let v = api(
        s,
        reqwest::Method::POST,
        "/v1/records",
        Some(json!({"type": "Patient", "subject": subject,
                    "body": {"name": format!("Zoë {CANARY}"), "gender": "female"}})),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_owned();
    let r = s
        .client()
        .put(s.url(&format!("/v1/records/{id}")))
        .bearer_auth(&s.admin_key)
        .header("If-Match", "\"1\"")
        .json(&json!({"type": "Patient", "subject": subject,
                      "body": {"name": format!("Zoë {CANARY}"), "gender": "female", "birthDate": "1970-02-03"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    id
}

/// Signs `name` in through the API (password, TOTP enrolment) and opens an emergency
/// elevation on that session, as a clinician would in an emergency.
async fn open_break_glass(s: &TestServer, name: &str) {
    let c = s.client();
    let v: Value = c
        .post(s.url("/v1/auth/login"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = v["token"].as_str().unwrap().to_owned();
    let e: Value = c
        .post(s.url("/v1/auth/mfa/totp"))
        .bearer_auth(&pending)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = totp::decode_base32(e["secret_base32"].as_str().unwrap()).unwrap();
    let code = totp::code_at_step(&secret, now_step()).unwrap();
    let v: Value = c
        .post(s.url("/v1/auth/mfa/totp/confirm"))
        .bearer_auth(&pending)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    let r = c
        .post(s.url("/v1/auth/break-glass"))
        .bearer_auth(&token)
        .json(&json!({"reason": "patient unconscious in the emergency room", "minutes": 15}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}
