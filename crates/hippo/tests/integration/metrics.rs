//! `/metrics` under load with PHI canaries in bodies, subjects, query strings, paths and typed
//! user names: no canary in any metric name, label or value, bounded label values, and an
//! exposition that the Prometheus project's own OpenMetrics parser (the Python client's)
//! accepts. Also `hippo status`, as an operator runs it.

use super::*;
use hippo_testkit::CANARY;
use reqwest::Method;
use std::io::Write;

/// Parses an exposition with `prometheus_client.openmetrics.parser` and returns
/// `[{"name", "type", "samples": [[name, labels, value]]}]`.
fn parse_openmetrics(text: &str) -> Vec<Value> {
    let script = r#"
import json, math, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type,
                "samples": [[s.name, s.labels, None if math.isnan(s.value) else s.value] for s in f.samples]})
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CI installs prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn family<'a>(families: &'a [Value], name: &str) -> &'a Value {
    families
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no metric family {name}"))
}

/// The value of the first sample named `sample` whose labels include `labels`.
fn sample(families: &[Value], fam: &str, sample: &str, labels: &[(&str, &str)]) -> f64 {
    family(families, fam)["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0] == sample && labels.iter().all(|(k, v)| s[1][k] == *v))
        .unwrap_or_else(|| panic!("no sample {sample} {labels:?} in {fam}"))[2]
        .as_f64()
        .unwrap_or(f64::NAN)
}

async fn scrape(s: &TestServer, key: &str) -> String {
    let r = authed(&s.client(), Method::GET, s.url("/metrics"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    r.text().await.unwrap()
}

/// Requests that put the canary everywhere a client can.
async fn canary_load(s: &TestServer, writer: &str, round: usize) {
    let c = s.client();
    let doc = json!({"type": "Patient", "subject": format!("{CANARY}-{round}"),
        "labels": ["intake"], "body": {"name": CANARY, "note": format!("{CANARY} round {round}")}});
    let id = create_id(s, writer, doc).await;
    for path in [
        format!("/v1/records/{id}"),
        format!("/v1/records?subject={CANARY}-{round}"),
        format!("/v1/search?q={}", CANARY.split('-').nth(2).unwrap()),
        format!("/v1/records/{CANARY}"),
        format!("/v1/{CANARY}/x?{CANARY}={CANARY}"),
    ] {
        let r = authed(&c, Method::GET, s.url(&path), writer)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
    let r = c
        .post(s.url("/v1/auth/login"))
        .json(&json!({"username": CANARY.to_lowercase(), "password": CANARY}))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 429));
}

#[tokio::test]
async fn metrics_under_load_never_carry_phi_and_parse_as_openmetrics() {
    let s = server();
    let writer = s.create_key("default", "writer");
    let auditor = s.create_key("default", "auditor");
    let mut scrapes = Vec::new();
    for round in 0..12 {
        // Concurrent load and scrapes: the exposition is read while counters move.
        let (load, scraped) = tokio::join!(canary_load(&s, &writer, round), scrape(&s, &auditor));
        let () = load;
        scrapes.push(scraped);
    }
    scrapes.push(scrape(&s, &auditor).await);
    for text in &scrapes {
        for needle in [CANARY, "Zebediah", "zebediah", "Quux"] {
            assert!(!text.contains(needle), "a canary reached /metrics:\n{text}");
        }
    }
    let last = scrapes.last().unwrap();
    let families = parse_openmetrics(last);
    // Requests by route template, never the raw path.
    assert!(
        sample(
            &families,
            "hippo_http_requests",
            "hippo_http_requests_total",
            &[
                ("route", "/v1/records/{id}"),
                ("method", "GET"),
                ("status", "2xx")
            ]
        ) >= 12.0
    );
    assert!(
        sample(
            &families,
            "hippo_http_requests",
            "hippo_http_requests_total",
            &[("route", "(unmatched)"), ("status", "4xx")]
        ) >= 12.0
    );
    assert!(
        sample(
            &families,
            "hippo_http_request_duration_seconds",
            "hippo_http_request_duration_seconds_count",
            &[("route", "/v1/search"), ("method", "GET")]
        ) >= 12.0
    );
    for f in &families {
        for smp in f["samples"].as_array().unwrap() {
            for (k, v) in smp[1].as_object().unwrap() {
                let v = v.as_str().unwrap();
                match k.as_str() {
                    "route" => assert!(v.starts_with('/') || v == "(unmatched)", "{v}"),
                    "status" => assert!(["1xx", "2xx", "3xx", "4xx", "5xx"].contains(&v)),
                    "log" => assert_eq!(v, "default", "only the caller's own log"),
                    _ => {}
                }
            }
        }
    }
    assert!(
        sample(
            &families,
            "hippo_sign_ins",
            "hippo_sign_ins_total",
            &[("outcome", "failure")]
        ) >= 5.0
    );
    let store = hippo_testkit::store_kind().as_str();
    assert!(
        sample(
            &families,
            "hippo_store_group_commit_operations",
            "hippo_store_group_commit_operations_count",
            &[("store", store)]
        ) >= 12.0,
        "group commits are counted"
    );
    assert_eq!(
        sample(
            &families,
            "hippo_build",
            "hippo_build_info",
            &[("store", store)]
        ),
        1.0
    );
    assert!(
        sample(
            &families,
            "hippo_audit_tree_size",
            "hippo_audit_tree_size",
            &[("log", "default")]
        ) > 0.0
    );
    if store == "postgres" {
        assert!(
            sample(
                &families,
                "hippo_store_pool_connections",
                "hippo_store_pool_connections",
                &[("state", "max")]
            ) >= 1.0
        );
    }
    // Nothing that measured the load kept a canary anywhere else either.
    assert!(!s.logs().contains(CANARY), "a canary reached the logs");
}

#[tokio::test]
async fn hippo_status_shows_one_screen_from_the_running_server() {
    let s = server();
    let auditor = s.create_key("default", "auditor");
    let writer = s.create_key("default", "writer");
    create_id(&s, &writer, patient("status-1")).await;
    let out = s
        .command()
        .args(["status", "--url", &s.url("")])
        .env("HIPPO_API_KEY", &auditor)
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{screen}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "hippo",
        "check store",
        "audit log",
        "last tree head",
        "alert sinks",
        "alerts raised",
    ] {
        assert!(screen.contains(line), "no {line:?} in:\n{screen}");
    }
    assert!(screen.contains(&format!("store: {}", hippo_testkit::store_kind().as_str())));
    // A reader may not see it; no key at all is a clear message.
    let reader = s.create_key("default", "reader");
    let out = s
        .command()
        .args(["status", "--url", &s.url("")])
        .env("HIPPO_API_KEY", &reader)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = s
        .command()
        .args(["status", "--url", &s.url("")])
        .env_remove("HIPPO_API_KEY")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("HIPPO_API_KEY"));
}

/// Every `hippo_*` metric the shipped alert rules and dashboard use, as a family name.
fn families_used_by_deploy() -> Vec<String> {
    let rules = include_str!("../../../../deploy/observability/prometheus-alerts.yml");
    let dashboard = include_str!("../../../../deploy/observability/grafana-dashboard.json");
    let _: Value = serde_json::from_str(dashboard).expect("the dashboard is JSON");
    let mut names: Vec<String> = Vec::new();
    for text in [rules, dashboard] {
        let mut rest = text;
        while let Some(i) = rest.find("hippo_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            let family = ["_total", "_bucket", "_sum", "_count", "_info"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name)
                .to_owned();
            if !names.contains(&family) {
                names.push(family);
            }
        }
    }
    names
}

#[tokio::test]
async fn the_shipped_alert_rules_and_dashboard_use_only_metrics_the_server_exposes() {
    let yaml_ok = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert all(r['alert'] and r['expr'] for g in d['groups'] for r in g['rules'])",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/observability/prometheus-alerts.yml"),
        ])
        .status()
        .unwrap();
    assert!(
        yaml_ok.success(),
        "the alert rules are YAML with an alert and an expr each"
    );
    let s = server();
    let auditor = s.create_key("default", "auditor");
    let writer = s.create_key("default", "writer");
    create_id(&s, &writer, patient("rules-1")).await;
    let families = parse_openmetrics(&scrape(&s, &auditor).await);
    let exposed: Vec<&str> = families
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let postgres_only = ["hippo_postgres_errors", "hippo_store_pool_connections"];
    // Continuous backup's figures appear only when it runs (backup.to set).
    let backup_only = [
        "hippo_backup_unshipped_age_seconds",
        "hippo_backup_last_success_age_seconds",
    ];
    let used = families_used_by_deploy();
    assert!(used.len() >= 15, "{used:?}");
    for name in &used {
        if backup_only.contains(&name.as_str())
            || (postgres_only.contains(&name.as_str())
                && hippo_testkit::store_kind() != hippo_testkit::StoreKind::Postgres)
        {
            continue;
        }
        assert!(
            exposed.contains(&name.as_str()),
            "the deploy files use {name}, which /metrics does not expose: {exposed:?}"
        );
    }
}

/// The document data-key cache is visible: lookups by result and keys held, counts only.
#[tokio::test]
async fn the_document_key_cache_is_measured() {
    let s = server();
    let key = s.admin_key.clone();
    let auditor = s.create_key("default", "auditor");
    let record = create_id(&s, &key, patient("key-cache-1")).await;
    let doc = super::documents::upload_ok(&s, &key, &record, super::documents::pdf(100_000)).await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        let r = super::documents::download(&s, &key, &record, &doc, None).await;
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let text = scrape(&s, &auditor).await;
    assert!(!text.contains(CANARY), "a document byte reached /metrics");
    let families = parse_openmetrics(&text);
    let lookup = |result: &str| {
        sample(
            &families,
            "hippo_key_cache_lookups",
            "hippo_key_cache_lookups_total",
            &[("result", result)],
        )
    };
    // Three downloads of one document: at most the first unwraps its key, the rest hit.
    assert!(lookup("hit") >= 2.0, "{text}");
    assert!(lookup("hit") + lookup("miss") >= 3.0);
    assert!(
        sample(
            &families,
            "hippo_key_cache_entries",
            "hippo_key_cache_entries",
            &[("cache", "documents")]
        ) >= 1.0
    );
}
