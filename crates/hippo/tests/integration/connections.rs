//! Connection limits and timeouts, over real TLS against the real binary: silent and idle
//! connections are closed, the connection caps refuse clearly, accept backs off when file
//! descriptors run out, shutdown does not wait for idle connections, the access log holds no
//! client text, and errors hyper raises itself are problem+json too.

use super::*;
use hippo_testkit::raw_conn::{
    self, addr_of, h2_get, http1_exchange, read_until_closed, split_http1_response, tls_connect,
    ALPN_H2, ALPN_HTTP1, H2_EMPTY_SETTINGS, H2_PREFACE,
};
use hippo_testkit::CANARY;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const SECOND_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn with_connections(pairs: &[(&str, &str)]) -> Options {
    pairs.iter().fold(Options::default(), |o, (k, v)| {
        o.env(&format!("HIPPO_CONNECTIONS__{}", k.to_uppercase()), v)
    })
}

fn client(s: &TestServer, http1: bool) -> Client {
    let ca = reqwest::Certificate::from_pem(&s.ca_pem()).unwrap();
    let b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca);
    let b = if http1 {
        b.http1_only()
    } else {
        b.http2_prior_knowledge()
    };
    b.build().unwrap()
}

fn assert_closed_between(what: &str, closed: Option<Duration>, lo: f64, hi: f64) {
    let t = closed.unwrap_or_else(|| panic!("{what}: still open after {hi} s"));
    assert!(
        (lo..=hi).contains(&t.as_secs_f64()),
        "{what}: closed after {t:?}, expected {lo}..{hi} s"
    );
}

#[tokio::test]
async fn silent_partial_and_idle_connections_are_closed() {
    let s = server_with(with_connections(&[
        ("handshake_timeout_secs", "2"),
        ("idle_timeout_secs", "4"),
    ]));
    let addr = addr_of(&s.base_url);
    let ca = s.ca_pem();

    // HTTP/2: the preface and an empty SETTINGS frame, then silence (issue 10: open for 300 s+).
    let mut h2 = tls_connect(addr, None, &ca, &[ALPN_H2]).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(ALPN_H2));
    h2.write_all(H2_PREFACE).await.unwrap();
    h2.write_all(&H2_EMPTY_SETTINGS).await.unwrap();
    // HTTP/1.1: half a request head, then silence.
    let mut h1 = tls_connect(addr, None, &ca, &[ALPN_HTTP1]).await.unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    // TLS: a TCP connection that never starts the handshake.
    let mut bare = raw_conn::tcp_from(addr, None).await.unwrap();
    let (h2_closed, h1_closed, bare_closed) = tokio::join!(
        read_until_closed(&mut h2, Duration::from_secs(8)),
        read_until_closed(&mut h1, Duration::from_secs(8)),
        read_until_closed(&mut bare, Duration::from_secs(8)),
    );
    assert_closed_between("HTTP/2 preface only", h2_closed.1, 1.5, 4.0);
    assert_closed_between("HTTP/1.1 partial head", h1_closed.1, 1.5, 4.0);
    assert_closed_between("no TLS handshake", bare_closed.1, 1.5, 4.0);
    assert!(
        !String::from_utf8_lossy(&h1_closed.0).contains("200 OK"),
        "the partial request was not answered"
    );

    // Idle after a request, HTTP/2: the response comes, then the idle timeout closes it.
    let mut h2 = tls_connect(addr, None, &ca, &[ALPN_H2]).await.unwrap();
    h2.write_all(H2_PREFACE).await.unwrap();
    h2.write_all(&H2_EMPTY_SETTINGS).await.unwrap();
    h2.write_all(&h2_get(1, "/healthz")).await.unwrap();
    // Idle after a request, HTTP/1.1 keep-alive.
    let mut h1 = tls_connect(addr, None, &ca, &[ALPN_HTTP1]).await.unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (h2_idle, h1_idle) = tokio::join!(
        read_until_closed(&mut h2, Duration::from_secs(12)),
        read_until_closed(&mut h1, Duration::from_secs(12)),
    );
    // A HEADERS frame (type 1) on stream 1 answered the request before the close.
    assert!(
        h2_idle
            .0
            .windows(9)
            .any(|w| w[3] == 0x1 && w[5..9] == [0, 0, 0, 1]),
        "no HTTP/2 response"
    );
    assert_closed_between("idle HTTP/2", h2_idle.1, 3.5, 7.0);
    let (status, _, _) = split_http1_response(&h1_idle.0).expect("an HTTP/1.1 response");
    assert_eq!(status, 200);
    assert_closed_between("idle HTTP/1.1", h1_idle.1, 3.5, 7.0);
}

#[tokio::test]
async fn connection_caps_refuse_clearly_and_recover() {
    let s = server_with(with_connections(&[
        ("max_connections", "5"),
        ("max_connections_per_ip", "3"),
        ("handshake_timeout_secs", "60"),
    ]));
    let addr = addr_of(&s.base_url);
    let ca = s.ca_pem();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tls_connect(addr, None, &ca, &[ALPN_H2]).await.unwrap());
    }
    // A 4th from the same address exceeds the per-address cap: closed before the handshake.
    let started = Instant::now();
    let refused = tls_connect(addr, None, &ca, &[ALPN_H2]).await;
    assert!(
        refused.is_err(),
        "the 4th connection from one address was served"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refusal was not prompt"
    );
    // Another address may still connect, up to the total cap of 5.
    for _ in 0..2 {
        held.push(
            tls_connect(addr, Some(SECOND_HOST), &ca, &[ALPN_H2])
                .await
                .unwrap(),
        );
    }
    let refused = tls_connect(addr, Some(SECOND_HOST), &ca, &[ALPN_H2]).await;
    assert!(refused.is_err(), "the 6th connection was served");
    // Once some close, a fresh connection is served again.
    held.truncate(2);
    let c = client(&s, true);
    let mut ok = false;
    for _ in 0..20 {
        if let Ok(r) = c.get(s.url("/healthz")).send().await {
            ok = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "/healthz did not recover after connections closed");
    let logs = s.logs_when(|l| l.contains("connection limit reached"));
    assert!(
        logs.contains("connection limit reached")
            && logs.contains("connections.max_connections_per_ip")
            && logs.contains("connections.max_connections\""),
        "refusals were not logged with the limit's key:\n{logs}"
    );
}

#[tokio::test]
async fn accept_backs_off_when_file_descriptors_run_out() {
    // The real binary behind a shell that lowers its open-file limit.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("hippo-low-nofile");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nulimit -n 64 || exit 99\nexec '{BIN}' \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = TestServer::start_with(
        wrapper.to_str().unwrap(),
        with_connections(&[("handshake_timeout_secs", "60")]),
    );
    let addr = addr_of(&s.base_url);
    assert!(
        s.logs().contains("open-file limit is below"),
        "no start-up warning about the low file limit"
    );
    // Far more connections than descriptors; each waits for a TLS handshake that never comes.
    // More connections than descriptors (the server idles on about 20), fewer than the
    // descriptors plus the listen backlog (128), so every connect completes.
    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(raw_conn::tcp_from(addr, None).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let logs = s.logs();
    let accept_lines = logs.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        (1..=4).contains(&accept_lines),
        "{accept_lines} accept warnings in 6 s (expected a few, each with a suppressed count):\n{logs}"
    );
    assert!(logs.contains("\"suppressed\""), "{logs}");
    // The server recovers once the connections go.
    drop(held);
    let c = client(&s, true);
    let started = Instant::now();
    loop {
        match c.get(s.url("/healthz")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => panic!("/healthz did not recover: {other:?}"),
        }
    }
}

#[tokio::test]
async fn sigterm_does_not_wait_for_idle_connections() {
    let mut s = server_with(
        with_connections(&[
            ("handshake_timeout_secs", "60"),
            ("idle_timeout_secs", "60"),
        ])
        .env("HIPPO_SHUTDOWN_GRACE_SECS", "30"),
    );
    let addr = addr_of(&s.base_url);
    let ca = s.ca_pem();
    let mut held = Vec::new();
    for i in 0..10 {
        let mut h2 = tls_connect(addr, None, &ca, &[ALPN_H2]).await.unwrap();
        h2.write_all(H2_PREFACE).await.unwrap();
        h2.write_all(&H2_EMPTY_SETTINGS).await.unwrap();
        if i % 2 == 0 {
            // Half have served a request; none acknowledges the server's pings.
            h2.write_all(&h2_get(1, "/healthz")).await.unwrap();
        }
        held.push(h2);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let status = s.stop().expect("the server was running");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?} with 10 idle connections (grace 30 s)"
    );
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish() {
    let s = server_with(Options::default().env("HIPPO_SHUTDOWN_GRACE_SECS", "30"));
    let addr = addr_of(&s.base_url);
    let body = serde_json::to_vec(&patient("drain")).unwrap();
    let mut tls = tls_connect(addr, None, &s.ca_pem(), &[ALPN_HTTP1])
        .await
        .unwrap();
    let head = format!(
        "POST /v1/records HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.admin_key,
        body.len()
    );
    // The request is in flight: its head is read, its body only half sent.
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..10]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut s = s;
    let stopper = std::thread::spawn(move || {
        let started = Instant::now();
        let status = s.stop();
        (status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tls.write_all(&body[10..]).await.unwrap();
    tls.flush().await.unwrap();
    let (answer, closed) = read_until_closed(&mut tls, Duration::from_secs(10)).await;
    let (status, head, _) = split_http1_response(&answer).expect("the request was answered");
    assert_eq!(status, 201, "{head}");
    assert!(
        closed.is_some(),
        "the connection stayed open after its last response"
    );
    let (exit, took) = stopper.join().unwrap();
    assert!(exit.expect("was running").success());
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(10),
        "shutdown took {took:?}: it must wait for the request in flight, and only for it"
    );
}

#[tokio::test]
async fn access_log_holds_no_client_text() {
    let s = server();
    let addr = addr_of(&s.base_url);
    let ca = s.ca_pem();
    let request = format!(
        "anything-the-client-sends /v1/records?subject={CANARY} HTTP/1.1\r\nHost: localhost\r\n\
         User-Agent: {CANARY}-agent\r\nX-Forwarded-For: {CANARY}\r\nConnection: close\r\n\r\n"
    );
    let answer = http1_exchange(addr, &ca, request.as_bytes(), Duration::from_secs(5))
        .await
        .unwrap();
    let (status, head, _) = split_http1_response(&answer).expect("an answer");
    assert!(status >= 400, "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    let c = client(&s, true);
    c.get(s.url(&format!("/no/such/{CANARY}?q={CANARY}")))
        .header("user-agent", CANARY)
        .send()
        .await
        .unwrap();
    let logs = s.logs_when(|l| l.contains("\"route\":\"(unmatched)\""));
    assert!(!logs.contains("anything-the-client-sends"), "{logs}");
    assert!(!logs.contains(CANARY), "{logs}");
    let access: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("hippo::access"))
        .collect();
    assert!(
        access.iter().any(|l| l.contains("\"method\":\"OTHER\"")),
        "{access:?}"
    );
    assert!(
        access
            .iter()
            .any(|l| l.contains("\"method\":\"GET\"") && l.contains("\"route\":\"(unmatched)\"")),
        "{access:?}"
    );
}

#[tokio::test]
async fn oversized_requests_get_problem_responses_over_http1_and_http2() {
    let s = server();
    for http1 in [true, false] {
        let c = client(&s, http1);
        let long = format!("/v1/records?cursor={}", "a".repeat(10_000));
        let r = c.get(s.url(&long)).send().await.unwrap();
        assert_eq!(
            r.version(),
            if http1 {
                reqwest::Version::HTTP_11
            } else {
                reqwest::Version::HTTP_2
            }
        );
        expect_problem(r, 414, "uri-too-long").await;
        let r = c
            .get(s.url("/healthz"))
            .header("x-padding", "p".repeat(40_000))
            .send()
            .await
            .unwrap();
        expect_problem(r, 431, "headers-too-large").await;
        let mut many = c.get(s.url("/healthz"));
        for i in 0..120 {
            many = many.header(format!("x-h{i}"), "1");
        }
        expect_problem(many.send().await.unwrap(), 431, "headers-too-large").await;
    }
    // Beyond hyper's own HTTP/1.1 limits hyper answers before the application; those answers
    // are problems too: a target over 64 KiB, more header fields than it parses, bad syntax.
    let addr = addr_of(&s.base_url);
    let ca = s.ca_pem();
    let cases: [(String, u16, &str); 3] = [
        (
            format!(
                "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
            "uri-too-long",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
                (0..250)
                    .map(|i| format!("x-h{i}: 1\r\n"))
                    .collect::<String>()
            ),
            431,
            "headers-too-large",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n".to_owned(),
            400,
            "malformed-request",
        ),
    ];
    for (request, want, slug) in cases {
        let answer = http1_exchange(addr, &ca, request.as_bytes(), Duration::from_secs(5))
            .await
            .unwrap();
        let (status, head, body) = split_http1_response(&answer)
            .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&answer)));
        assert_eq!(status, want, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{head}"
        );
        let p: Value = serde_json::from_slice(&body).expect("a JSON problem body");
        assert_eq!(p["type"], format!("urn:hippo:problem:{slug}"), "{p}");
        assert_eq!(p["status"], want);
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
    }
}
