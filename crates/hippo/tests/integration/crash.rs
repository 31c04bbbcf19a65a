//! Durability: writes acknowledged before a SIGKILL are all there after restart, with their audit events.

use super::*;
use reqwest::Method;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let mut s = server();
    let key = s.admin_key.clone();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (c, url, key, acked) = (s.client(), s.url("/v1/records"), key.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let doc =
                    json!({"type": "Observation", "subject": format!("w{w}"), "body": {"i": i}});
                match c.post(&url).bearer_auth(&key).json(&doc).send().await {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return,
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push(v["id"].as_str().unwrap().to_owned());
                    }
                    _ => return,
                }
            }
        }));
    }
    // Let the writers run, then kill the server mid-load.
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    s.restart();
    let c = s.client();
    for id in &acked {
        let r = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged record {id} lost");
    }
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
    let all = audit_events(&s, &auditor, "").await;
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"].as_i64().unwrap(), i as i64 + 1);
    }
}
