//! A thin W3C WebDriver client for the console tests, over `reqwest` to a local `chromedriver`.
//!
//! Why not fantoccini: the link to chromedriver is plain HTTP on 127.0.0.1, the tests need a
//! dozen standard commands plus chromedriver's own extension commands (WebAuthn virtual
//! authenticators), and fantoccini's TLS features would add a second HTTP/TLS stack
//! (hyper-rustls with aws-lc-rs, or native-tls) to a build that already has reqwest.

use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Paths of Debian's `chromium` and `chromium-driver` packages.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// True when the browser is installed; with `CI` set, its absence is a failure, not a skip.
pub fn available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present && std::env::var_os("CI").is_some() {
        panic!("CI: chromium and chromium-driver must be installed (.ci/run installs them)");
    }
    present
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that accepts only certificates chaining to
    /// the key whose SPKI hash is `spki_sha256_b64` (the test server's own CA).
    pub async fn start(spki_sha256_b64: &str) -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // The DevTools network events, to read every response's URL and headers.
            "goog:loggingPrefs": {"performance": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--ignore-certificate-errors-spki-list={spki_sha256_b64}"),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        let b = Self {
            http,
            base,
            session,
            driver,
            _profile: profile,
        };
        // Start from a blank page and forget what the browser's own start page loaded.
        b.goto("about:blank").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.responses().await;
        b
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("WebDriver {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    /// A raw command (for chromedriver's extension endpoints).
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn title(&self) -> String {
        self.cmd(reqwest::Method::GET, "/title", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> Element<'_> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        Element {
            browser: self,
            id: v[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {v}"))
                .to_owned(),
        }
    }

    /// Waits (up to 10 s) until an element matches `css`; true if one did.
    pub async fn wait(&self, css: &str) -> bool {
        for _ in 0..100 {
            if self.count(css).await > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Marks the current document, so [`Browser::wait_new_page`] can tell when it is replaced.
    pub async fn mark_page(&self) {
        self.exec("window.__hippoOldPage = true;", json!([])).await;
    }

    /// Waits (up to 10 s) until the marked document was replaced by a loaded one.
    pub async fn wait_new_page(&self) {
        for _ in 0..100 {
            let done = self
                .exec(
                    "return window.__hippoOldPage === undefined && document.readyState === 'complete';",
                    json!([]),
                )
                .await;
            if done == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no new page after 10 s");
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    pub async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// The browser's cookies (including HttpOnly ones, which WebDriver may read).
    pub async fn cookie(&self, name: &str) -> Option<Value> {
        let v = self.cmd(reqwest::Method::GET, "/cookie", None).await;
        v.as_array()?.iter().find(|c| c["name"] == name).cloned()
    }

    /// The DevTools `Network.responseReceived` events since the last call: (url, resource
    /// type, headers with lower-case names).
    pub async fn responses(&self) -> Vec<(String, String, serde_json::Map<String, Value>)> {
        let v = self.post("/se/log", json!({"type": "performance"})).await;
        let mut out = Vec::new();
        for entry in v.as_array().into_iter().flatten() {
            let msg: Value =
                serde_json::from_str(entry["message"].as_str().unwrap_or("{}")).unwrap_or_default();
            if msg["message"]["method"] != "Network.responseReceived" {
                continue;
            }
            let p = &msg["message"]["params"];
            let headers = p["response"]["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((
                p["response"]["url"].as_str().unwrap_or("").to_owned(),
                p["type"].as_str().unwrap_or("").to_owned(),
                headers,
            ));
        }
        out
    }

    pub async fn accept_alert(&self) {
        self.post("/alert/accept", json!({})).await;
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("PNG in base64")
    }

    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    pub async fn send_keys(&self, text: &str) {
        self.browser
            .post(
                &format!("/element/{}/value", self.id),
                json!({ "text": text }),
            )
            .await;
    }

    pub async fn click(&self) {
        self.browser
            .post(&format!("/element/{}/click", self.id), json!({}))
            .await;
    }

    pub async fn text(&self) -> String {
        self.browser
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}
