//! The web console end to end (issue 18): the real `hippo` binary over real TLS, driven by a
//! real headless Chromium through chromedriver. Each page visited is checked with axe-core
//! (zero serious or critical WCAG 2.1 A/AA violations), for its Content-Security-Policy and
//! `Cache-Control` headers, for loading nothing from another origin and for having no inline
//! script or style; screenshots of each page go to docs/console/ for docs/console.md.
//!
//! Without Chromium the tests skip locally and fail under CI (`CI` set).

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

/// The admin's day: sign-in with TOTP enrolment, search and open a record (versions, diff,
/// integrity), the audit browser with filters, the accounting of disclosures (page, CSV,
/// print), users, API keys (create, revoke) and the policy question; every page checked.
#[tokio::test]
async fn an_admin_works_through_every_page() {
    let Some(r) = rig(Options::default()).await else {
        return;
    };
    let (s, b) = (&r.s, &r.b);
    let ada = add_user(s, "ada", "admin").await;
    let id = create_record(s, "p-77").await;
    first_sign_in(&r, "ada", true).await;
    check_page(&r, "home").await;

    // Records: search by name (POSTed: the name is in no URL), open, versions, diff.
    b.goto(&s.url("/console/records")).await;
    check_page(&r, "records").await;
    fill(b, "#f-q", "Zoë").await;
    submit(b, "form[role=search]").await;
    assert!(b.url().await.ends_with("/console/records/search"));
    check_page(&r, "search-results").await;
    follow(b, &format!("a[href='/console/records/{id}']")).await;
    let src = b.source().await;
    assert!(src.contains("Integrity verified"), "integrity shown: {src}");
    assert!(src.contains(CANARY), "the admin may read the body");
    check_page(&r, "record").await;
    follow(b, "ol.versions a").await;
    let src = b.source().await;
    assert!(
        src.contains("/birthDate") && src.contains("added"),
        "the diff names the new field"
    );
    check_page(&r, "diff").await;

    // Audit: the reads above are in the trail, attributed to ada; filters narrow it.
    b.goto(&s.url(&format!("/console/audit?actor={ada}&action=record.read")))
        .await;
    let src = b.source().await;
    assert!(
        src.contains("record.read") && src.contains(&id),
        "her read is listed"
    );
    assert!(!src.contains(CANARY), "audit pages show no bodies");
    check_page(&r, "audit-events").await;
    b.goto(&s.url("/console/audit?outcome=denied&actor=nobody"))
        .await;
    assert!(b.source().await.contains("No events match"));

    // Accounting of disclosures: page, CSV, printable.
    b.goto(&s.url("/console/audit/disclosures?subject=p-77"))
        .await;
    let src = b.source().await;
    assert!(
        src.contains(&ada) && src.contains("record.read"),
        "ada's read is accounted for"
    );
    check_page(&r, "disclosures").await;
    let cookie = b.cookie("hippo_session").await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let csv = s
        .client()
        .get(s.url("/console/audit/disclosures.csv?subject=p-77"))
        .header("cookie", format!("hippo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("disclosures-p-77.csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("time,action,actor_id"), "{text}");
    assert!(text
        .lines()
        .any(|l| l.contains(&ada) && l.contains("record.read") && l.contains(&id)));
    b.goto(&s.url("/console/audit/disclosures/print?subject=p-77"))
        .await;
    assert!(b.source().await.contains(&ada));
    check_page(&r, "disclosures-print").await;

    // Break-glass review: an elevation opened by a writer awaits review; the review is recorded.
    let bo = add_user(s, "bo", "writer").await;
    open_break_glass(s, "bo").await;
    b.goto(&s.url("/console/audit/break-glass")).await;
    let src = b.source().await;
    assert!(
        src.contains("Awaiting review (1)") && src.contains(&bo),
        "{src}"
    );
    check_page(&r, "break-glass-pending").await;
    let form = "form[action^='/console/audit/break-glass/']";
    fill(
        b,
        &format!("{form} input[name=note]"),
        "confirmed with the ward",
    )
    .await;
    submit(b, form).await;
    assert!(b.wait("table").await);
    let src = b.source().await;
    assert!(
        src.contains("Awaiting review (0)") && src.contains("justified"),
        "{src}"
    );
    assert!(src.contains(&ada), "the reviewer is named");
    check_page(&r, "break-glass-review").await;
    // The review is an audit event of its own.
    b.goto(&s.url(&format!(
        "/console/audit?action=breakglass.review&actor={ada}"
    )))
    .await;
    assert!(b.source().await.contains("breakglass.review"));

    // Tamper evidence: sign a tree head, then run the verifier from the page.
    b.goto(&s.url("/console/audit/ledger")).await;
    submit(b, "form[action='/console/audit/ledger/sign']").await;
    assert!(b.source().await.contains("Latest signed tree head"));
    submit(b, "form[action='/console/audit/ledger/verify']").await;
    let report = b.find("#verify-report").await.text().await;
    assert!(
        report.contains("Verified") && report.contains("events checked"),
        "{report}"
    );
    check_page(&r, "tamper-evidence").await;

    // Users: disabling one (after the confirmation) ends their access at once.
    b.goto(&s.url("/console/admin/users")).await;
    check_page(&r, "users").await;
    b.mark_page().await;
    b.find(&format!(
        "form[action='/console/admin/users/{bo}/disable'] button"
    ))
    .await
    .click()
    .await;
    b.accept_alert().await;
    b.wait_new_page().await;
    assert!(
        b.source().await.contains("disabled"),
        "bo is shown disabled"
    );
    let r2 = s
        .client()
        .post(s.url("/v1/auth/login"))
        .json(&json!({"username": "bo", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 401, "a disabled user cannot sign in");

    // API keys: create one with an expiry, use it, revoke it in the console, see it refused.
    b.goto(&s.url("/console/admin/keys")).await;
    fill(b, "#k-name", "lab feed").await;
    submit(b, "form[action='/console/admin/keys']").await;
    let token = b.find("#new-key").await.text().await;
    assert!(token.starts_with("hpk_"));
    check_page(&r, "api-keys").await;
    let used = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let key_id = b.find("div.ok code").await.text().await;
    let revoke = format!("form[action='/console/admin/keys/{key_id}/revoke']");
    if b.count(&revoke).await == 0 {
        panic!("no revoke button for {key_id}: {}", b.source().await);
    }
    // The script asks for confirmation first (a revocation cannot be undone).
    b.mark_page().await;
    b.find(&format!("{revoke} button")).await.click().await;
    b.accept_alert().await;
    b.wait_new_page().await;
    assert!(
        b.source().await.contains("revoked"),
        "the list shows the key revoked"
    );
    assert!(b.url().await.ends_with("/console/admin/keys"));
    let refused = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "a revoked key is refused at once");

    // Policy.
    b.goto(&s.url("/console/admin/policy")).await;
    submit(b, "main form").await;
    assert!(b
        .find("#policy-answer")
        .await
        .text()
        .await
        .contains("Allowed"));
    check_page(&r, "policy").await;

    // Sign out: the session ends; the console sends the browser to sign in again.
    follow(b, "header form button").await;
    assert!(
        b.wait("#username").await,
        "the sign-in page follows sign-out"
    );
    assert!(b.url().await.contains("/console/signin"));
    b.goto(&s.url("/console/records")).await;
    assert!(b.url().await.contains("/console/signin"));
    r.b.quit().await;
}

/// A reader cannot reach the administration pages; an auditor sees the trail but never a
/// record's body, in the console as through the API.
#[tokio::test]
async fn a_reader_cannot_administer_and_an_auditor_never_sees_a_body() {
    let Some(r) = rig(Options::default()).await else {
        return;
    };
    let (s, b) = (&r.s, &r.b);
    add_user(s, "rey", "reader").await;
    add_user(s, "aud", "auditor").await;
    let id = create_record(s, "p-78").await;

    first_sign_in(&r, "rey", false).await;
    for page in [
        "/console/admin/users",
        "/console/admin/keys",
        "/console/admin/policy",
    ] {
        b.goto(&s.url(page)).await;
        let src = b.source().await;
        assert!(src.contains("Not allowed"), "{page}: {src}");
        assert!(
            !src.contains("Invite a user") && !src.contains("Create a key"),
            "{page}"
        );
    }
    check_page(&r, "not-allowed").await;
    let status = s
        .client()
        .get(s.url("/console/admin/users"))
        .header(
            "cookie",
            format!(
                "hippo_session={}",
                b.cookie("hippo_session").await.unwrap()["value"]
                    .as_str()
                    .unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    follow(b, "header form button").await;
    assert!(
        b.wait("#username").await,
        "the sign-in page follows sign-out"
    );

    first_sign_in(&r, "aud", false).await;
    assert_eq!(
        b.count("a[href='/console/records']").await,
        0,
        "no Records link for an auditor"
    );
    b.goto(&s.url(&format!("/console/records/{id}"))).await;
    let src = b.source().await;
    assert!(src.contains("Not allowed"), "{src}");
    assert!(!src.contains(CANARY), "an auditor never sees a body");
    b.goto(&s.url("/console/audit")).await;
    let src = b.source().await;
    assert!(src.contains("record.create"), "the auditor sees the trail");
    assert!(!src.contains(CANARY), "the trail carries no bodies");
    b.goto(&s.url("/console/audit/disclosures?subject=p-78"))
        .await;
    assert!(!b.source().await.contains(CANARY));
    r.b.quit().await;
}

/// The session's idle timeout shows in the page, a warning comes before it, and when it passes
/// the browser is sent to sign in again (and the server refuses the old session).
#[tokio::test]
async fn an_idle_session_warns_then_ends() {
    let options = Options::default().env("HIPPO_AUTH__SESSION_IDLE_SECS", "60");
    let Some(r) = rig(options).await else { return };
    let (s, b) = (&r.s, &r.b);
    add_user(s, "ida", "auditor").await;
    first_sign_in(&r, "ida", false).await;
    let cookie = b.cookie("hippo_session").await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(b.find("#idle-at").await.text().await.ends_with('Z'));
    // With a 60 s idle timeout the warning is due at once (it shows in the last minute).
    let mut shown = false;
    for _ in 0..20 {
        if b.exec(
            "return !document.getElementById('timeout-warning').hidden",
            json!([]),
        )
        .await
            == true
        {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(shown, "the warning shows before the session ends");
    check_page(&r, "timeout-warning").await;
    // Waiting, not timing: the page leaves by itself once the idle time has passed.
    let mut left = false;
    for _ in 0..90 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if b.url().await.contains("/console/signin?ended=1") {
            left = true;
            break;
        }
    }
    assert!(left, "the page went to sign-in when the session ended");
    assert!(b.source().await.contains("Your session has ended"));
    let after = s
        .client()
        .get(s.url("/v1/auth/session"))
        .header("cookie", format!("hippo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the server ended the session too");
    r.b.quit().await;
}

/// A passkey added in the console signs the person in as the second factor, in a real browser
/// with Chromium's virtual authenticator (WebDriver's WebAuthn extension). WebAuthn needs the
/// origin the server is configured with, so the browser reaches the server through a relay on a
/// port chosen before the server starts, as `https://localhost:<port>`.
#[tokio::test]
async fn a_passkey_added_in_the_console_signs_in() {
    if !webdriver::available() {
        eprintln!("skipped: chromium and chromium-driver are not installed");
        return;
    }
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = relay.local_addr().unwrap().port();
    let origin = format!("https://localhost:{port}");
    let s = TestServer::start_with(
        BIN,
        Options::default().env("HIPPO_AUTH__WEBAUTHN_ORIGIN", &origin),
    );
    let target = s.base_url.trim_start_matches("https://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = relay.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    let b = Browser::start(&server_spki(&s)).await;
    b.post(
        "/webauthn/authenticator",
        json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
               "hasUserVerification": true, "isUserVerified": true}),
    )
    .await;
    add_user(&s, "pat", "writer").await;
    let url = |p: &str| format!("{origin}{p}");

    // First sign-in (TOTP enrolment), then add a passkey from the home page.
    b.goto(&url("/console/signin")).await;
    fill(&b, "#username", "pat").await;
    fill(&b, "#password", PASSWORD).await;
    submit(&b, "form").await;
    let key = b.find("code.secret").await.text().await;
    let secret = totp::decode_base32(&key).unwrap();
    fill(
        &b,
        "#code",
        &totp::code_at_step(&secret, now_step()).unwrap(),
    )
    .await;
    submit(&b, "form").await;
    follow(&b, "a.button").await;
    b.find("#add-passkey").await.click().await;
    let mut added = String::new();
    for _ in 0..100 {
        added = b.find("#passkey-status").await.text().await;
        if added.starts_with("Passkey added") || added.starts_with("No passkey") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(added.starts_with("Passkey added"), "{added}");

    // Sign out; sign in with the password and the passkey instead of a code.
    follow(&b, "header form button").await;
    fill(&b, "#username", "pat").await;
    fill(&b, "#password", PASSWORD).await;
    submit(&b, "form").await;
    b.find("#passkey-signin").await.click().await;
    let mut home = false;
    for _ in 0..100 {
        if b.url().await == url("/console") {
            home = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(home, "{}", b.source().await);
    assert!(b.wait("#add-passkey").await);
    assert!(b.source().await.contains("writer"), "signed in as pat");
    // The sign-in is audited with the passkey as its factor.
    let key = s.create_key("default", "auditor");
    let events: Value = s
        .client()
        .get(s.url("/v1/audit?log=access&action=auth.login&limit=1000"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["factor"] == "passkey"),
        "{events}"
    );
    b.quit().await;
}
