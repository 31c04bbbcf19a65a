//! Security alerts end to end, against a webhook receiver the test starts: after normal load
//! (no alert), each detector's scenario raises its alert exactly once (brute force, denials
//! spike, unusual read volume, break-glass; export failure, verification failure and stopped
//! tree-head signing on servers set up for them). Deliveries are retried while the receiver
//! fails, every body's signature verifies, no canary reaches a receiver, and every alert is
//! itself in the audit trail.

use super::people::{add_user, first_sign_in, post};
use super::*;
use hippo_testkit::receiver::{Received, Receiver};
use hippo_testkit::{Tamper, CANARY};
use reqwest::Method;
use std::time::Duration;

const SECRET: &str = "alert-signing-secret-0123456789";

fn alert_options(receiver: &Receiver) -> Options {
    Options::default()
        .env(
            "HIPPO_ALERTS__WEBHOOK_URL",
            &format!("{}/hook", receiver.url()),
        )
        .env("HIPPO_ALERT_WEBHOOK_SECRET", SECRET)
        .env("HIPPO_ALERTS__RETRY_BACKOFF_MS", "100")
        .env("HIPPO_ALERTS__THRESHOLDS__BRUTE_FORCE_FAILURES", "5")
        .env("HIPPO_ALERTS__THRESHOLDS__READ_VOLUME_RECORDS", "30")
        .env("HIPPO_ALERTS__THRESHOLDS__DENIALS", "5")
}

/// The alerts delivered (accepted by the receiver), each checked against its signature.
fn delivered(got: &[Received]) -> Vec<Value> {
    got.iter()
        .filter(|r| r.accepted)
        .map(|r| {
            let sig = r
                .headers
                .get(hippo_telemetry::webhook::SIGNATURE_HEADER)
                .expect("every delivery is signed");
            assert!(
                hippo_telemetry::webhook::verify(SECRET.as_bytes(), sig, &r.body),
                "the signature verifies"
            );
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect()
}

fn kinds(alerts: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = alerts
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

async fn wait_alerts(r: &Receiver, n: usize) -> Vec<Value> {
    let got = r
        .wait_for(Duration::from_secs(20), |g| {
            g.iter().filter(|x| x.accepted).count() >= n
        })
        .await;
    delivered(&got)
}

#[tokio::test]
async fn each_detector_fires_once_for_its_scenario_and_never_for_normal_load() {
    // The receiver refuses the first two deliveries: the first alert arrives on its third try.
    let receiver = Receiver::start(2).await;
    let s = server_with(alert_options(&receiver));
    let c = s.client();
    let writer = s.create_key("default", "writer");
    let reader = s.create_key("default", "reader");
    let auditor = s.create_key("default", "auditor");

    // Normal load: writes, reads below the volume threshold, a person's complete sign-in.
    let mut ids = Vec::new();
    for i in 0..25 {
        let doc = json!({"type": "Patient", "subject": format!("p-{i}"), "body": {"name": CANARY}});
        ids.push(create_id(&s, &writer, doc).await);
    }
    for id in ids.iter().take(10) {
        let r = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}")),
            &reader,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    add_user(&s, "nurse.alert", "reader").await;
    let person = first_sign_in(&s, "nurse.alert").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receiver.received().is_empty(),
        "normal load raised an alert"
    );

    // Brute force: five failures against one (unknown) account from one address.
    for _ in 0..5 {
        let r = post(
            &s,
            "/v1/auth/login",
            None,
            json!({"username": "mallory.x", "password": "wrong password here"}),
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    let alerts = wait_alerts(&receiver, 1).await;
    assert_eq!(kinds(&alerts), ["brute_force"]);
    // Retried: two refused attempts, then the same alert id accepted.
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    let id = |r: &Received| r.headers["hippo-alert-id"].clone();
    assert!(got.iter().all(|r| id(r) == id(&got[0])));
    assert_eq!(got.iter().filter(|r| r.accepted).count(), 1);

    // A spike of denials: a reader tries to write.
    for _ in 0..5 {
        let r = authed(&c, Method::POST, s.url("/v1/records"), &reader)
            .json(&patient("denied"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let alerts = wait_alerts(&receiver, 2).await;
    assert_eq!(kinds(&alerts), ["brute_force", "denial_spike"]);

    // Unusual read volume: the reader lists everything (10 read before + 25 now > 30).
    let r = authed(&c, Method::GET, s.url("/v1/records?limit=100"), &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let alerts = wait_alerts(&receiver, 3).await;
    assert_eq!(
        kinds(&alerts),
        ["brute_force", "denial_spike", "unusual_read_volume"]
    );

    // Break-glass.
    let r = post(
        &s,
        "/v1/auth/break-glass",
        Some(&person.token),
        json!({"reason": "patient unconscious in ED, no consent possible", "minutes": 5}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let alerts = wait_alerts(&receiver, 4).await;
    assert_eq!(
        kinds(&alerts),
        [
            "break_glass",
            "brute_force",
            "denial_spike",
            "unusual_read_volume"
        ]
    );

    // More of the same within the deduplication window raises nothing new.
    for _ in 0..5 {
        let _ = authed(&c, Method::POST, s.url("/v1/records"), &reader)
            .json(&patient("denied"))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(delivered(&receiver.received()).len(), 4);

    // Ids only: no canary, no typed name, in any delivery.
    for r in receiver.received() {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            !body.contains(CANARY) && !body.contains("mallory"),
            "{body}"
        );
    }
    // Every alert is in the audit trail: three in the tenant's log, the brute force (no
    // tenant: the account does not exist) in the system log.
    let events = audit_events(&s, &auditor, "&action=security.alert").await;
    let mut audited: Vec<&str> = events
        .iter()
        .map(|e| e["details"]["kind"].as_str().unwrap())
        .collect();
    audited.sort();
    assert_eq!(
        audited,
        ["break_glass", "denial_spike", "unusual_read_volume"]
    );
    assert!(
        events.iter().all(|e| e["actor_kind"] == "system"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_failing_export_raises_one_alert() {
    let receiver = Receiver::start(0).await;
    let blocker = tempfile::NamedTempFile::new().unwrap();
    // A directory below a regular file can never be created: every export run fails.
    let dir = blocker.path().join("exports");
    let s = server_with(
        alert_options(&receiver)
            .env("HIPPO_AUDIT__EXPORT_DIR", dir.to_str().unwrap())
            .env("HIPPO_AUDIT__EXPORT_INTERVAL_SECS", "1"),
    );
    let writer = s.create_key("default", "writer");
    create_id(&s, &writer, patient("export-1")).await;
    let alerts = wait_alerts(&receiver, 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let alerts = delivered(&receiver.received())
        .into_iter()
        .chain(alerts)
        .collect::<Vec<_>>();
    let kinds = kinds(&alerts);
    assert!(!kinds.is_empty());
    assert!(kinds.iter().all(|k| k == "export_failed"), "{kinds:?}");
    // Several failed runs (every second), one alert.
    assert_eq!(delivered(&receiver.received()).len(), 1);
}

#[tokio::test]
async fn a_tampered_log_raises_a_verification_alert() {
    let receiver = Receiver::start(0).await;
    let s = server_with(alert_options(&receiver).env("HIPPO_AUDIT__VERIFY_INTERVAL_SECS", "1"));
    let writer = s.create_key("default", "writer");
    for i in 0..3 {
        create_id(&s, &writer, patient(&format!("verify-{i}"))).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receiver.received().is_empty(),
        "an intact log raised an alert"
    );
    s.tamper(&default_log(), Tamper::AlterOutcome(2)).await;
    let alerts = wait_alerts(&receiver, 1).await;
    assert_eq!(kinds(&alerts), ["verification_failed"]);
    assert_eq!(alerts[0]["key"], "default");
    assert_eq!(alerts[0]["severity"], "critical");
}

#[tokio::test]
async fn stopped_tree_head_signing_raises_an_alert_for_the_growing_log() {
    let receiver = Receiver::start(0).await;
    // Heads are signed at start and then not for an hour; the limit is two seconds.
    let s = server_with(
        alert_options(&receiver)
            .env("HIPPO_AUDIT__TREE_HEAD_INTERVAL_SECS", "3600")
            .env("HIPPO_ALERTS__THRESHOLDS__TREE_HEAD_STALE_SECS", "2"),
    );
    let writer = s.create_key("default", "writer");
    create_id(&s, &writer, patient("heads-1")).await;
    let got = receiver
        .wait_for(Duration::from_secs(20), |g| {
            delivered(g).iter().any(|a| a["key"] == "default")
        })
        .await;
    let alerts = delivered(&got);
    assert!(
        alerts
            .iter()
            .all(|a| a["kind"] == "tree_head_signing_stopped"),
        "{alerts:?}"
    );
    let for_default = alerts.iter().filter(|a| a["key"] == "default").count();
    assert_eq!(for_default, 1);
}

#[tokio::test]
async fn alerts_reach_an_sns_topic_signed_with_sigv4() {
    let Some(moto) = super::moto::Moto::start() else {
        return;
    };
    // A topic with a queue subscribed, so the test can read what SNS delivered.
    let setup = format!(
        "sns = boto3.client('sns', endpoint_url='{e}', region_name='us-east-1')\n\
         sqs = boto3.client('sqs', endpoint_url='{e}', region_name='us-east-1')\n\
         topic = sns.create_topic(Name='hippo-security-alarms')['TopicArn']\n\
         q = sqs.create_queue(QueueName='oncall')['QueueUrl']\n\
         qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=qarn, Attributes={{'RawMessageDelivery': 'true'}})\n\
         print(json.dumps({{'topic': topic, 'queue': q}}))\n",
        e = moto.endpoint
    );
    let v = moto.python(&setup);
    let (topic, queue) = (v["topic"].as_str().unwrap(), v["queue"].as_str().unwrap());
    let s = server_with(
        Options::default()
            .env("HIPPO_ALERTS__SNS_TOPIC_ARN", topic)
            .env("HIPPO_ALERTS__SNS_ENDPOINT", &moto.endpoint)
            .env("HIPPO_ALERTS__THRESHOLDS__DENIALS", "3")
            .env("AWS_ACCESS_KEY_ID", super::moto::KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", super::moto::SECRET),
    );
    let reader = s.create_key("default", "reader");
    for _ in 0..3 {
        let r = authed(&s.client(), Method::POST, s.url("/v1/records"), &reader)
            .json(&json!({"type": "Patient", "subject": CANARY, "body": {"name": CANARY}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let read = format!(
        "sqs = boto3.client('sqs', endpoint_url='{e}', region_name='us-east-1')\n\
         import time\n\
         out = []\n\
         for _ in range(40):\n\
         \x20   m = sqs.receive_message(QueueUrl='{queue}', MaxNumberOfMessages=10, WaitTimeSeconds=0).get('Messages', [])\n\
         \x20   out += [x['Body'] for x in m]\n\
         \x20   if out: break\n\
         \x20   time.sleep(0.5)\n\
         print(json.dumps(out))\n",
        e = moto.endpoint
    );
    let bodies = moto.python(&read);
    let bodies = bodies.as_array().unwrap();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = bodies[0].as_str().unwrap();
    assert!(!body.contains(CANARY));
    let alert: Value = serde_json::from_str(body).unwrap();
    assert_eq!(alert["kind"], "denial_spike");
    assert_eq!(alert["tenant"], "default");
}
