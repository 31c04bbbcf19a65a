//! The key scenarios again with `--store postgres` (each test on a fresh database from
//! `HIPPO_TEST_DATABASE_URL`; skipped with a note when unset), plus what only a shared database
//! can show: two instances behind one "load balancer", and a database that goes away and returns.

use super::*;
use hippo_testkit::pg::{with_database, TestDatabase};
use reqwest::Method;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

async fn pg_server(test: &str) -> Option<(TestDatabase, TestServer)> {
    let db = TestDatabase::create(test).await?;
    let s = server_with(Options::default().postgres(&db.url));
    Some((db, s))
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pg_records_crud_history_stale_versions_and_pages() {
    let Some((_db, s)) = pg_server("pg_records").await else {
        return;
    };
    let (c, key) = (s.client(), s.admin_key.clone());
    let rec = create(&s, &key, patient("p-1")).await;
    let id = id_of(&rec);
    let url = s.url(&format!("/v1/records/{id}"));
    let r = authed(&c, Method::GET, url.clone(), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers()["etag"].to_str().unwrap()),
        (200, "\"1\"")
    );
    let mut doc = patient("p-1");
    doc["body"]["name"] = json!("Renamed");
    let r = authed(&c, Method::PUT, url.clone(), &key)
        .header("If-Match", "\"1\"")
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = authed(&c, Method::PUT, url.clone(), &key)
        .header("If-Match", "\"1\"")
        .json(&doc)
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, 412, "stale-version").await;
    assert!(p["detail"].as_str().unwrap().contains("version 2"));
    let r = authed(&c, Method::DELETE, url.clone(), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 3);
    let r = authed(&c, Method::GET, url.clone(), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 410, "deleted").await;
    let h: Value = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/history")),
        &key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let versions: Vec<i64> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(h["versions"][0]["body"]["name"], "Test Person");

    let mut made = Vec::new();
    for i in 0..12 {
        made.push(id_of(&create(&s, &key, patient(&format!("q-{i}"))).await));
    }
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let page: Value = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records?type=Patient&limit=5{cursor}")),
            &key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(
        seen, made,
        "creation order, no gaps or repeats, tombstone hidden"
    );
}

#[tokio::test]
async fn pg_bad_input_is_refused_precisely_and_audited() {
    let Some((_db, s)) = pg_server("pg_errors").await else {
        return;
    };
    let (c, key) = (s.client(), s.admin_key.clone());
    let post = || authed(&c, Method::POST, s.url("/v1/records"), &key);
    let r = post()
        .header("content-type", "application/json")
        .body("{\"type\":")
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "malformed-json").await;
    let r = post()
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(r, 415, "unsupported-media-type").await;
    let r = post()
        .json(&json!({"type": "Patient", "body": {}, "colour": "red"}))
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "invalid-envelope").await;
    let r = authed(&c, Method::GET, s.url("/v1/records/not-a-uuid"), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "malformed-id").await;
    let r = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{}", hippo_core::RecordId::new())),
        &key,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 404, "not-found").await;
    let r = c.get(s.url("/v1/records")).send().await.unwrap();
    expect_problem(r, 401, "missing-credentials").await;
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('A') { 'B' } else { 'A' });
    let r = authed(&c, Method::GET, s.url("/v1/records"), &forged)
        .send()
        .await
        .unwrap();
    expect_problem(r, 401, "bad-credentials").await;
    let auditor = s.create_key("default", "auditor");
    let errors = audit_events(&s, &auditor, "&action=record.create&outcome=error").await;
    assert_eq!(
        errors.len(),
        3,
        "each refused create wrote exactly one event"
    );
    let page: Value = authed(&c, Method::GET, s.url("/v1/records"), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn pg_tenants_are_isolated() {
    let Some((_db, s)) = pg_server("pg_isolation").await else {
        return;
    };
    s.create_tenant("clinic-b");
    let (key_a, key_b) = (s.admin_key.clone(), s.create_key("clinic-b", "admin"));
    let c = s.client();
    let rec_b = create(&s, &key_b, patient("b-patient")).await;
    let id_b = id_of(&rec_b);
    for (m, path) in [
        (Method::GET, format!("/v1/records/{id_b}")),
        (Method::GET, format!("/v1/records/{id_b}/history")),
        (Method::DELETE, format!("/v1/records/{id_b}")),
    ] {
        let r = authed(&c, m, s.url(&path), &key_a).send().await.unwrap();
        let p = expect_problem(r, 404, "not-found").await;
        assert_eq!(p["detail"], "no such record");
    }
    let page: Value = authed(&c, Method::GET, s.url("/v1/records"), &key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    let a_keys: Value = serde_json::from_slice(
        &s.cli(&["apikey", "list", "--tenant", "default", "--json"])
            .stdout,
    )
    .unwrap();
    let a_kid = a_keys[0]["key_id"].as_str().unwrap();
    let r = authed(
        &c,
        Method::DELETE,
        s.url(&format!("/v1/admin/apikeys/{a_kid}")),
        &key_b,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 404, "not-found").await;
    let r: Value = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id_b}")),
        &key_b,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r, rec_b);
}

#[tokio::test]
async fn pg_every_access_writes_one_event_in_order() {
    let Some((_db, s)) = pg_server("pg_audit").await else {
        return;
    };
    let (c, key) = (s.client(), s.admin_key.clone());
    let auditor = s.create_key("default", "auditor");
    let id = id_of(&create(&s, &key, patient("subject-42")).await);
    authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    authed(
        &c,
        Method::GET,
        s.url("/v1/records?subject=subject-42"),
        &key,
    )
    .send()
    .await
    .unwrap();
    authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id}/history")),
        &key,
    )
    .send()
    .await
    .unwrap();
    let events = audit_events(&s, &auditor, "").await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "record.create",
            "record.read",
            "record.list",
            "record.history"
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(events[1]["resource_id"], id.as_str());
    assert_eq!(events[2]["details"]["filters"], json!(["subject"]));
    let access = audit_events(&s, &auditor, "&log=access").await;
    assert!(access
        .iter()
        .any(|e| e["action"] == "apikey.create" && e["actor_kind"] == "operator"));
}

/// Creates records through `s` until stopped or refused; records each acknowledged id.
fn spawn_writers(
    s: &TestServer,
    n: usize,
    acked: &Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|w| {
            let (c, url, key, acked) = (s.client(), s.url("/v1/records"), s.admin_key.clone(), acked.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let doc = json!({"type": "Observation", "subject": format!("w{w}"), "body": {"i": i}});
                    match c.post(&url).bearer_auth(&key).json(&doc).send().await {
                        Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                            Ok(v) => acked.lock().unwrap().push(id_of(&v)),
                            Err(_) => return,
                        },
                        _ => return,
                    }
                }
            })
        })
        .collect()
}

async fn wait_for(acked: &Arc<Mutex<Vec<String>>>, n: usize) {
    while acked.lock().unwrap().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pg_acknowledged_writes_survive_sigkill() {
    let Some((_db, mut s)) = pg_server("pg_crash").await else {
        return;
    };
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers = spawn_writers(&s, 8, &acked);
    wait_for(&acked, 200).await;
    s.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    s.restart();
    let c = s.client();
    for id in &acked {
        let r = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}")),
            &s.admin_key,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "acknowledged record {id} lost");
    }
    let auditor = s.create_key("default", "auditor");
    let all = audit_events(&s, &auditor, "").await;
    let created: HashSet<&str> = all
        .iter()
        .filter(|e| e["action"] == "record.create")
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert!(
        acked.iter().all(|id| created.contains(id.as_str())),
        "an audit event was lost"
    );
    for (i, e) in all.iter().enumerate() {
        assert_eq!(
            e["seq"].as_i64().unwrap(),
            i as i64 + 1,
            "dense across the crash"
        );
    }
}

#[tokio::test]
async fn pg_two_instances_one_truth() {
    let Some((_db, one)) = pg_server("pg_two_instances").await else {
        return;
    };
    let mut two = one.another_instance();
    let key = one.admin_key.clone();
    let (c1, c2) = (one.client(), two.client());
    let v: Value = version(&c1, &one).await;
    assert_eq!(v["store"], "postgres");

    // Written through one, read, updated and listed through the other.
    let id = id_of(&create(&one, &key, patient("shared")).await);
    let r = authed(
        &c2,
        Method::GET,
        two.url(&format!("/v1/records/{id}")),
        &key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let mut doc = patient("shared");
    doc["body"]["name"] = json!("Updated via two");
    let r = authed(
        &c2,
        Method::PUT,
        two.url(&format!("/v1/records/{id}")),
        &key,
    )
    .header("If-Match", "\"1\"")
    .json(&doc)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = authed(
        &c1,
        Method::PUT,
        one.url(&format!("/v1/records/{id}")),
        &key,
    )
    .header("If-Match", "\"1\"")
    .json(&patient("shared"))
    .send()
    .await
    .unwrap();
    expect_problem(r, 412, "stale-version").await;
    let page: Value = authed(
        &c2,
        Method::GET,
        two.url("/v1/records?subject=shared"),
        &key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["items"][0]["version"], 2);
    assert_eq!(page["items"][0]["body"]["name"], "Updated via two");

    // Load on both; instance two is killed mid-load.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = spawn_writers(&one, 4, &acked);
    writers.extend(spawn_writers(&two, 4, &acked));
    wait_for(&acked, 300).await;
    two.kill();
    let more = acked.lock().unwrap().len() + 100;
    wait_for(&acked, more).await; // one carries on alone
    let auditor = one.create_key("default", "auditor");
    for w in &writers {
        w.abort();
    }
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    for id in &acked {
        let r = authed(
            &c1,
            Method::GET,
            one.url(&format!("/v1/records/{id}")),
            &key,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "acknowledged record {id} lost");
    }
    let all = audit_events(&one, &auditor, "").await;
    for (i, e) in all.iter().enumerate() {
        assert_eq!(
            e["seq"].as_i64().unwrap(),
            i as i64 + 1,
            "one order, no gaps or duplicates"
        );
    }
    let created: HashSet<&str> = all
        .iter()
        .filter(|e| e["action"] == "record.create" && e["outcome"] == "success")
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert!(acked.iter().all(|id| created.contains(id.as_str())));
    let sources: HashSet<&str> = all
        .iter()
        .filter_map(|e| e["request_id"].as_str())
        .collect();
    assert!(
        sources.len() > acked.len(),
        "events of both instances are in the one log"
    );
}

async fn version(c: &reqwest::Client, s: &TestServer) -> Value {
    c.get(s.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A TCP relay to PostgreSQL that can be cut (connections dropped, new ones refused) and restored.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, conns) = (
            Arc::new(AtomicBool::new(true)),
            Arc::<Mutex<Vec<_>>>::default(),
        );
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                conns2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_unreachable_database_gives_503_then_recovers() {
    let Some(db) = TestDatabase::create("pg_unreachable").await else {
        return;
    };
    let opts = hippo_store::postgres::parse_url(&db.url).unwrap();
    let relay = Relay::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    // A password the server must never show (trust authentication ignores it).
    let secret = "Pw-Zebediah-77";
    let url = with_database(
        &format!(
            "postgres://{}:{secret}@127.0.0.1:{}/x",
            opts.get_username(),
            relay.port
        ),
        &db.name,
    );
    let s = server_with(Options::default().postgres(&url));
    let (c, key) = (s.client(), s.admin_key.clone());
    let id = id_of(&create(&s, &key, patient("p")).await);

    relay.cut();
    let started = std::time::Instant::now();
    let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
        .send()
        .await
        .unwrap();
    expect_problem(r, 503, "unavailable").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let r = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(!body.contains(secret), "{body}");

    relay.up.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not recover: {}",
            r.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(c.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    assert!(!s.logs().contains(secret), "the password reached the logs");
}
