//! OpenTelemetry export against a local OTLP/HTTP receiver the test starts: every request's
//! span (named by route template) with its policy and store spans in the same trace, and no
//! canary (bodies, subjects, query values) anywhere in what the collector receives.

use super::*;
use hippo_testkit::receiver::Receiver;
use hippo_testkit::CANARY;
use reqwest::Method;
use std::time::Duration;

/// Every span received: (trace id, span id, parent span id, name, attributes as JSON).
fn spans(bodies: &[Vec<u8>]) -> Vec<(String, String, String, String, Value)> {
    let mut out = Vec::new();
    for b in bodies {
        let v: Value = serde_json::from_slice(b).expect("OTLP/JSON");
        for rs in v["resourceSpans"].as_array().unwrap() {
            let service = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(json!("hippo")));
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for sp in ss["spans"].as_array().unwrap() {
                    out.push((
                        sp["traceId"].as_str().unwrap().to_owned(),
                        sp["spanId"].as_str().unwrap().to_owned(),
                        sp["parentSpanId"].as_str().unwrap_or("").to_owned(),
                        sp["name"].as_str().unwrap().to_owned(),
                        sp["attributes"].clone(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn spans_reach_the_collector_in_one_trace_per_request_without_phi() {
    let collector = Receiver::start(0).await;
    let s = server_with(
        Options::default()
            .env(
                "HIPPO_TRACING__OTLP_ENDPOINT",
                &format!("{}/v1/traces", collector.url()),
            )
            .env("HIPPO_TRACING__SAMPLE_RATIO", "1.0")
            // Export batches every 200 ms instead of 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "200"),
    );
    let writer = s.create_key("default", "writer");
    let c = s.client();
    let doc = json!({"type": "Patient", "subject": CANARY, "body": {"name": CANARY}});
    let id = create_id(&s, &writer, doc).await;
    for path in [
        format!("/v1/records/{id}"),
        format!("/v1/records?subject={CANARY}"),
        format!("/v1/search?q={}", CANARY.split('-').nth(2).unwrap()),
    ] {
        let r = authed(&c, Method::GET, s.url(&path), &writer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let got = collector
        .wait_for(Duration::from_secs(20), |g| {
            let bodies: Vec<Vec<u8>> = g.iter().map(|r| r.body.clone()).collect();
            let sp = spans(&bodies);
            ["GET /v1/records/{id}", "GET /v1/search", "store get_record"]
                .iter()
                .all(|n| sp.iter().any(|s| s.3 == *n))
        })
        .await;
    assert!(got
        .iter()
        .all(|r| r.path == "/v1/traces" && r.method == "POST"));
    let bodies: Vec<Vec<u8>> = got.iter().map(|r| r.body.clone()).collect();
    for b in &bodies {
        let text = String::from_utf8_lossy(b);
        for needle in [CANARY, "Zebediah", "zebediah", "Quux"] {
            assert!(!text.contains(needle), "a canary reached the collector");
        }
    }
    let sp = spans(&bodies);
    let read = sp
        .iter()
        .find(|s| s.3 == "GET /v1/records/{id}")
        .expect("the read's request span");
    assert!(read.4.to_string().contains("request_id"));
    assert!(read.4.to_string().contains("/v1/records/{id}"));
    // Its policy decision and its store call are in the same trace, below it.
    let in_trace: Vec<&str> = sp
        .iter()
        .filter(|s| s.0 == read.0 && s.1 != read.1)
        .map(|s| s.3.as_str())
        .collect();
    assert!(in_trace.contains(&"policy record.read"), "{in_trace:?}");
    assert!(in_trace.contains(&"store get_record"), "{in_trace:?}");
    assert!(sp
        .iter()
        .filter(|s| s.0 == read.0 && s.1 != read.1)
        .all(|s| s.2 == read.1));
}

#[test]
fn a_bad_trace_setting_stops_the_start_naming_the_key() {
    let (status, out) = hippo_testkit::TestServer::start_failing(
        BIN,
        Options::default().env("HIPPO_TRACING__SAMPLE_RATIO", "1.5"),
    );
    assert!(!status.success());
    assert!(out.contains("tracing.sample_ratio"), "{out}");
}

/// At a ratio below one, whole requests are kept or dropped: about that share of the reads
/// arrives, and every exported store or policy span sits in a trace whose request span came
/// too (no orphans from dropped requests).
#[tokio::test]
async fn sampling_keeps_whole_requests_at_the_configured_ratio() {
    let collector = Receiver::start(0).await;
    let s = server_with(
        Options::default()
            .env(
                "HIPPO_TRACING__OTLP_ENDPOINT",
                &format!("{}/v1/traces", collector.url()),
            )
            .env("HIPPO_TRACING__SAMPLE_RATIO", "0.25")
            .env("OTEL_BSP_SCHEDULE_DELAY", "200"),
    );
    let writer = s.create_key("default", "writer");
    let c = s.client();
    let id = create_id(&s, &writer, json!({"type": "Note", "body": {"n": 1}})).await;
    let reads = 80;
    for _ in 0..reads {
        let r = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}")),
            &writer,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Give the exporter time to send everything it kept, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = collector
        .wait_for(Duration::from_secs(20), |g| !g.is_empty())
        .await;
    let bodies: Vec<Vec<u8>> = got.iter().map(|r| r.body.clone()).collect();
    let sp = spans(&bodies);
    let kept: Vec<_> = sp
        .iter()
        .filter(|s| s.3 == "GET /v1/records/{id}")
        .collect();
    // Roots are counted across requests and background jobs alike, so allow a little slack
    // around a quarter of the reads.
    assert!(
        (reads / 4 - 6..=reads / 4 + 6).contains(&kept.len()),
        "{} of {reads} reads exported at ratio 0.25",
        kept.len()
    );
    for child in sp.iter().filter(|s| s.3 == "store get_record") {
        assert!(
            sp.iter()
                .any(|r| r.0 == child.0 && r.1 == child.2 && r.3 == "GET /v1/records/{id}"),
            "a store span was exported without its request"
        );
    }
    assert!(sp.iter().any(|s| s.3 == "store get_record"));
}
