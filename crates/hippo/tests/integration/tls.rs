//! Transmission security: TLS 1.2+ with AEAD suites only, HTTP/2 and HTTP/1.1, HSTS, and
//! plain HTTP only when explicitly asked for on loopback.

use super::*;
use hippo_testkit::tls_probe::{self, Answer};

fn addr(s: &TestServer) -> String {
    s.base_url.trim_start_matches("https://").to_owned()
}

#[tokio::test]
async fn old_protocols_weak_suites_and_plain_http_are_refused() {
    let s = server();
    let a = addr(&s);
    // Positive control: a TLS 1.2 hello with AEAD suites gets a ServerHello.
    assert_eq!(
        tls_probe::probe(
            &a,
            &tls_probe::client_hello(tls_probe::TLS_1_2, tls_probe::GCM_SUITES)
        ),
        Answer::ServerHello
    );
    match tls_probe::probe(
        &a,
        &tls_probe::client_hello(tls_probe::TLS_1_1, tls_probe::CBC_SUITES),
    ) {
        Answer::Alert(_) | Answer::Closed => {}
        other => panic!("TLS 1.1 was not refused: {other:?}"),
    }
    match tls_probe::probe(
        &a,
        &tls_probe::client_hello(tls_probe::TLS_1_2, tls_probe::CBC_SUITES),
    ) {
        Answer::Alert(_) | Answer::Closed => {}
        other => panic!("CBC-only TLS 1.2 was not refused: {other:?}"),
    }
    let plain = tls_probe::probe(&a, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(
        !matches!(&plain, Answer::Other(b) if b.starts_with(b"HTTP/")),
        "plain HTTP was served: {plain:?}"
    );
    assert!(
        reqwest::get(format!("http://{a}/healthz")).await.is_err()
            || !reqwest::get(format!("http://{a}/healthz"))
                .await
                .unwrap()
                .status()
                .is_success()
    );
}

#[tokio::test]
async fn serves_http2_and_http1_with_hsts() {
    let s = server();
    let r = s.client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let ca = reqwest::Certificate::from_pem(&s.ca_pem()).unwrap();
    let h1 = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .http1_only()
        .build()
        .unwrap();
    let r = h1.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), 200);
    // An untrusted client refuses the self-signed chain: the CA is what makes it trusted.
    let naive = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(naive.get(s.url("/healthz")).send().await.is_err());
}

#[tokio::test]
async fn insecure_http_needs_the_flag_and_loopback() {
    let s = server_with(Options::default().arg("--insecure-http"));
    let a = addr(&s);
    let r = reqwest::get(format!("http://{a}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("strict-transport-security").is_none());
    assert!(
        s.logs().contains("PLAIN HTTP"),
        "a warning is logged at start"
    );

    let out = s
        .command()
        .args(["serve", "--insecure-http", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("insecure_http") && err.contains("loopback"),
        "{err}"
    );
}
