//! Durability: writes acknowledged before a SIGKILL are all there after restart, with their audit events.

use super::*;
use reqwest::Method;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Ids of the records a server acknowledged, shared with the writers adding to it.
pub type Acked = Arc<Mutex<Vec<String>>>;

/// Starts `n` writers creating records through `s` until stopped or refused; each acknowledged
/// record's id is pushed to `acked`.
pub fn spawn_writers(s: &TestServer, n: usize, acked: &Acked) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|w| {
            let (c, url, key, acked) = (
                s.client(),
                s.url("/v1/records"),
                s.admin_key.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                for i in 0.. {
                    let doc =
                        json!({"type": "Observation", "subject": format!("w{w}"), "body": {"i": i}});
                    match c.post(&url).bearer_auth(&key).json(&doc).send().await {
                        Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                            Ok(v) => acked
                                .lock()
                                .unwrap()
                                .push(v["id"].as_str().unwrap().to_owned()),
                            Err(_) => return,
                        },
                        _ => return,
                    }
                }
            })
        })
        .collect()
}

/// Waits until at least `n` writes are acknowledged.
pub async fn wait_for(acked: &Acked, n: usize) {
    while acked.lock().unwrap().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts that every acknowledged record reads back through `s`.
pub async fn assert_all_readable(s: &TestServer, acked: &[String]) {
    let c = s.client();
    for id in acked {
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
}

/// Asserts that `events` are numbered 1, 2, 3... with no gap or duplicate.
pub fn assert_dense(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e["seq"].as_i64().unwrap(),
            i as i64 + 1,
            "one order, no gaps or duplicates"
        );
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let mut s = server();
    let acked = Acked::default();
    let writers = spawn_writers(&s, 8, &acked);
    // Let the writers run, then kill the server mid-load.
    wait_for(&acked, 300).await;
    s.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    s.restart();
    assert_all_readable(&s, &acked).await;
    let auditor = s.create_key("default", "auditor");
    let created: HashSet<String> =
        audit_events(&s, &auditor, "&action=record.create&outcome=success")
            .await
            .into_iter()
            .map(|e| e["resource_id"].as_str().unwrap().to_owned())
            .collect();
    for id in &acked {
        assert!(created.contains(id), "audit event for {id} lost");
    }
    // Sequence numbers stay dense across the crash.
    assert_dense(&audit_events(&s, &auditor, "").await);
}
