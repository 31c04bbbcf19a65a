//! Audit export to S3 under Object Lock, against a local S3-compatible server (moto, from PyPI)
//! started by the test: every object version is locked in COMPLIANCE mode until now + the
//! retention period and encrypted with aws:kms, the manifests' signed tree head verifies against
//! the batches, a rerun writes nothing, and an export interrupted between a batch's data object
//! and its manifest is completed by the next run. An independent client (boto3) checks S3.
//!
//! moto is installed by `.ci/run`. Without it the test is skipped with a loud message, unless
//! `CI` is set: then it fails.

use super::moto::{Moto, BUCKET, KEY_ID, PREFIX, SECRET};
use super::*;
use hippo_audit::merkle;
use hippo_audit::tree_head::{AuditPublicKey, SignedTreeHead};
use hippo_store::export::{Credentials, ExportError, ExportSink, ObjectKind, S3Sink, S3Url};
use std::process::Command;
use std::time::{Duration, Instant};

/// `hippo audit export` of the default tenant's log to the bucket, with the standard AWS
/// variables and the endpoint override of the configuration.
fn export_cli(s: &TestServer, moto: &Moto) -> std::process::Output {
    let out = s
        .command()
        .args([
            "audit",
            "export",
            "--tenant",
            "default",
            "--batch-size",
            "5",
        ])
        .arg("--to")
        .arg(format!("s3://{BUCKET}/{PREFIX}"))
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("AWS_REGION", "us-east-1")
        .env("HIPPO_AUDIT__S3_ENDPOINT", &moto.endpoint)
        .output()
        .expect("hippo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "export failed: {stderr}");
    for secret in [SECRET, KEY_ID] {
        assert!(
            !stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret),
            "the CLI printed a credential"
        );
    }
    out
}

/// `options` plus a background exporter into the test bucket every second, with the
/// standard AWS variables and the endpoint override of the configuration.
fn exporting_to(moto: &Moto, options: Options) -> Options {
    options
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env(
            "HIPPO_AUDIT__EXPORT_URL",
            &format!("s3://{BUCKET}/{PREFIX}"),
        )
        .env("HIPPO_AUDIT__S3_ENDPOINT", &moto.endpoint)
        .env("HIPPO_AUDIT__EXPORT_INTERVAL_SECS", "1")
}

async fn add_history(s: &TestServer, n: usize) {
    let c = s.client();
    for i in 0..n {
        let id = create_id(s, &s.admin_key, patient(&format!("p-{i}"))).await;
        authed(
            &c,
            reqwest::Method::GET,
            s.url(&format!("/v1/records/{id}")),
            &s.admin_key,
        )
        .send()
        .await
        .unwrap();
    }
}

fn public_key(s: &TestServer) -> AuditPublicKey {
    let out = s.cli(&["audit", "pubkey", "--json"]);
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    AuditPublicKey::from_hex(info["public_key_hex"].as_str().unwrap()).unwrap()
}

/// Checks the bucket: every version locked in COMPLIANCE mode until `expect_until` (±60 s)
/// and KMS-encrypted; every batch has its manifest, whose hash matches the batch; the batches
/// recompute to the signed root of the newest manifest. Returns (latest keys, version count).
fn check_bucket(moto: &Moto, key: &AuditPublicKey, expect_until: f64) -> (Vec<String>, usize) {
    check_log(moto, key, expect_until, "default")
}

/// [`check_bucket`] for the objects of one log (`default`, or `LogId::SYSTEM`).
fn check_log(
    moto: &Moto,
    key: &AuditPublicKey,
    expect_until: f64,
    log: &str,
) -> (Vec<String>, usize) {
    let log_prefix = format!("{PREFIX}/{log}/");
    let objects: Vec<Value> = moto
        .objects()
        .into_iter()
        .filter(|o| o["key"].as_str().unwrap().starts_with(&log_prefix))
        .collect();
    assert!(!objects.is_empty());
    for o in &objects {
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        let until = o["until"].as_f64().unwrap();
        assert!(
            (until - expect_until).abs() < 60.0,
            "retain-until {until} is not now + retention ({expect_until}): {o}"
        );
        assert_eq!(o["sse"], "aws:kms", "{o}");
        assert!(o["key"].as_str().unwrap().starts_with(PREFIX), "{o}");
    }
    let mut latest: Vec<&Value> = objects.iter().filter(|o| o["latest"] == true).collect();
    latest.sort_by_key(|o| o["key"].as_str().unwrap().to_owned());
    let keys: Vec<String> = latest
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect();
    let data: Vec<&&Value> = latest
        .iter()
        .filter(|o| o["key"].as_str().unwrap().ends_with(".ndjson"))
        .collect();
    let manifests: Vec<Value> = latest
        .iter()
        .filter(|o| o["key"].as_str().unwrap().ends_with(".manifest.json"))
        .map(|o| serde_json::from_str(o["text"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        data.len(),
        manifests.len(),
        "a batch lacks its manifest: {keys:?}"
    );
    let mut leaves = Vec::new();
    let mut next = 1;
    for (d, m) in data.iter().zip(&manifests) {
        assert_eq!(m["events_sha256"], d["sha256"], "{m}");
        assert_eq!(m["first_seq"], next, "{m}");
        let text = d["text"].as_str().unwrap();
        for line in text.lines() {
            leaves.push(merkle::leaf_hash(line.as_bytes()));
        }
        assert_eq!(m["last_seq"], leaves.len(), "{m}");
        next = leaves.len() + 1;
        let until = hippo_core::time_fmt::parse_rfc3339(m["retain_until"].as_str().unwrap())
            .unwrap() as f64
            / 1000.0;
        assert!((until - expect_until).abs() < 60.0, "{m}");
    }
    let head: SignedTreeHead =
        serde_json::from_value(manifests.last().unwrap()["tree_head"].clone()).unwrap();
    head.verify(key)
        .expect("the manifest's tree head is signed by the deployment");
    assert_eq!(head.head.tree_size, leaves.len() as u64);
    assert_eq!(merkle::root_from_leaf_hashes(&leaves), head.head.root_hash);
    (keys, objects.len())
}

fn expected_until() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    now + 2190.0 * 86_400.0
}

/// A sink that stops (like a killed process) after the data object of the first new batch,
/// before its manifest.
struct CrashBeforeManifest {
    inner: S3Sink,
    crashed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ExportSink for CrashBeforeManifest {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn exported_through(&self, log_id: &str) -> Result<u64, ExportError> {
        self.inner.exported_through(log_id).await
    }
    async fn put_sealed(
        &self,
        log_id: &str,
        name: &str,
        kind: ObjectKind,
        bytes: &[u8],
        retain_until: &str,
    ) -> Result<(), ExportError> {
        if kind == ObjectKind::Manifest {
            self.crashed
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(ExportError::Interrupted(format!("killed before {name}")));
        }
        self.inner
            .put_sealed(log_id, name, kind, bytes, retain_until)
            .await
    }
    async fn names(&self, log_id: &str) -> Result<Vec<String>, ExportError> {
        self.inner.names(log_id).await
    }
    async fn read(&self, log_id: &str, name: &str) -> Result<Vec<u8>, ExportError> {
        self.inner.read(log_id, name).await
    }
}

#[tokio::test]
async fn s3_export_locks_objects_is_idempotent_and_resumes_after_a_crash() {
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.create_locked_bucket();
    let mut s = server();
    add_history(&s, 6).await;
    s.stop();
    let key = public_key(&s);

    // First export: every object locked, encrypted, and the batches verify.
    let out = export_cli(&s, &moto);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains(" 0 new batch"), "{stderr}");
    let (keys, versions) = check_bucket(&moto, &key, expected_until());
    assert!(keys.len() >= 4 && keys.len().is_multiple_of(2), "{keys:?}");

    // Locked: not even the writer can delete a version.
    let first = moto.objects().into_iter().next().unwrap();
    assert_eq!(
        moto.try_delete(
            first["key"].as_str().unwrap(),
            first["version"].as_str().unwrap()
        ),
        "AccessDenied"
    );

    // A rerun writes nothing.
    let again = export_cli(&s, &moto);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(" 0 new batch"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(moto.objects().len(), versions, "a rerun wrote objects");

    // More events, then an export killed between a batch's data object and its manifest.
    s.restart();
    add_history(&s, 4).await;
    s.stop();
    {
        let store = s.open_store().await;
        let sink = CrashBeforeManifest {
            inner: S3Sink::with_credentials(
                S3Url::parse(&format!("s3://{BUCKET}/{PREFIX}")).unwrap(),
                moto.options(),
                Credentials::new(KEY_ID, SECRET),
            )
            .unwrap(),
            crashed: false.into(),
        };
        let err = hippo_store::ledger::export(store.as_ref(), &default_log(), &sink, 5, 2190)
            .await
            .unwrap_err();
        assert!(matches!(err, ExportError::Interrupted(_)), "{err}");
        assert!(sink.crashed.load(std::sync::atomic::Ordering::SeqCst));
        store.shutdown().await;
    }
    let after_crash = moto.objects();
    let orphans: Vec<&Value> = after_crash
        .iter()
        .filter(|o| {
            let k = o["key"].as_str().unwrap();
            k.ends_with(".ndjson")
                && !after_crash
                    .iter()
                    .any(|m| m["key"] == k.replace(".ndjson", ".manifest.json"))
        })
        .collect();
    assert_eq!(
        orphans.len(),
        1,
        "the crash left one data object without manifest"
    );
    let orphan = orphans[0]["key"].as_str().unwrap().to_owned();

    // The next run completes that batch (and the rest), and everything verifies.
    let resumed = export_cli(&s, &moto);
    let stderr = String::from_utf8_lossy(&resumed.stderr).into_owned();
    assert!(!stderr.contains(" 0 new batch"), "{stderr}");
    let (keys_after, _) = check_bucket(&moto, &key, expected_until());
    assert!(keys_after.contains(&orphan.replace(".ndjson", ".manifest.json")));
    assert!(keys_after.len() > keys.len());
    let done = export_cli(&s, &moto);
    assert!(String::from_utf8_lossy(&done.stderr).contains(" 0 new batch"));
}

#[tokio::test]
async fn s3_export_refuses_missing_credentials_and_bad_urls() {
    let mut s = server();
    s.stop();
    let out = s
        .command()
        .args([
            "audit",
            "export",
            "--system",
            "--to",
            "s3://hippo-audit-lock/x",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    let bad = s
        .command()
        .args(["audit", "export", "--system", "--to", "s3://Not_A_Bucket/x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bucket name"));
}

#[tokio::test]
async fn background_exporter_writes_locked_batches_to_s3() {
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.create_locked_bucket();
    let s = server_with(exporting_to(&moto, Options::default()));
    add_history(&s, 3).await;
    let key = public_key(&s);
    // The exporter runs every second; wait until the tenant's events are all sealed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let manifests = moto
            .objects()
            .into_iter()
            .filter(|o| {
                o["key"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{PREFIX}/default/"))
                    && o["key"].as_str().unwrap().ends_with(".manifest.json")
            })
            .count();
        if manifests > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no batch exported; log:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let objects = moto.objects();
    for o in &objects {
        assert_eq!(o["mode"], "COMPLIANCE", "{o}");
        assert_eq!(o["sse"], "aws:kms", "{o}");
        let until = o["until"].as_f64().unwrap();
        assert!((until - expected_until()).abs() < 120.0, "{o}");
    }
    // Every manifest's head is signed by this deployment.
    for o in objects
        .iter()
        .filter(|o| o["key"].as_str().unwrap().ends_with(".manifest.json"))
    {
        if let Some(text) = o["text"].as_str() {
            let m: Value = serde_json::from_str(text).unwrap();
            let head: SignedTreeHead = serde_json::from_value(m["tree_head"].clone()).unwrap();
            head.verify(&key).unwrap();
        }
    }
    let logs = s.logs();
    assert!(logs.contains("audit batches exported"), "{logs}");
    assert!(!logs.contains(SECRET), "the server logged the AWS secret");
}

/// The production shape: two instances on one PostgreSQL database, sharing one keyring, both
/// running the background exporter into one Object Lock bucket. The log ends up in the bucket
/// once, as contiguous locked batches whose signed head recomputes from them.
#[tokio::test]
async fn instances_sharing_a_database_export_one_log_to_s3_without_overlap() {
    if !hippo_testkit::runs_on(
        hippo_testkit::StoreKind::Postgres,
        "instances sharing a database",
    ) {
        return;
    }
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.create_locked_bucket();
    let keyring = Command::new(BIN)
        .args(["keyring", "generate"])
        .output()
        .unwrap();
    assert!(keyring.status.success());
    let options = exporting_to(
        &moto,
        Options::default().env("HIPPO_KEYRING", &String::from_utf8(keyring.stdout).unwrap()),
    );
    let mut a = server_with(options);
    let mut b = a.another_instance_with(a.options().clone());
    let creates = 24;
    for i in 0..creates {
        let s = if i % 2 == 0 { &a } else { &b };
        create(s, &s.admin_key, patient(&format!("p-{i}"))).await;
    }
    // Wait until both exporters have sealed every create of the tenant's log.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let through = moto
            .objects()
            .iter()
            .filter_map(|o| o["key"].as_str())
            .filter(|k| k.starts_with(&format!("{PREFIX}/default/")))
            .filter_map(hippo_store::export::manifest_last_seq)
            .max()
            .unwrap_or(0);
        if through >= creates {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "exported through {through} of {creates}; logs:\n{}\n{}",
            a.logs(),
            b.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    a.stop();
    b.stop();
    let key = public_key(&a);
    let (keys, _) = check_log(&moto, &key, expected_until(), "default");
    assert!(keys.len() >= 2, "{keys:?}");
    check_log(&moto, &key, expected_until(), LogId::SYSTEM);
    for logs in [a.logs(), b.logs()] {
        assert!(!logs.contains(SECRET), "a server logged the AWS secret");
        assert!(!logs.contains("audit export failed"), "{logs}");
    }
}
