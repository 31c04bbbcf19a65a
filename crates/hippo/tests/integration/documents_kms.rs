//! The AWS KMS key provider against a local KMS-compatible server (moto serves KMS as it
//! serves S3): documents' data keys wrapped by KMS `Encrypt` with an encryption context and
//! unwrapped by `Decrypt`; a wrapped key moved to another document is refused by KMS (the
//! encryption context binds it), by name; KMS unreachable is 503 and nothing is stored (fail
//! closed).
//!
//! moto is installed by `.ci/run`; without it the test is skipped loudly, unless `CI` is set.

use super::documents::{download, pdf, upload, upload_ok};
use super::moto::{Moto, KEY_ID, SECRET};
use super::*;
use std::sync::Arc;

fn with_kms(options: Options, endpoint: &str, key: &str) -> Options {
    options
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("HIPPO_DOCUMENTS__KEY_PROVIDER", "kms")
        .env("HIPPO_DOCUMENTS__KMS_KEY_ID", key)
        .env("HIPPO_DOCUMENTS__KMS_ENDPOINT", endpoint)
}

fn create_key(moto: &Moto) -> String {
    moto.python(&format!(
        "kms = boto3.client('kms', endpoint_url='{}', region_name='us-east-1')\n\
         print(json.dumps(kms.create_key(Description='hippo documents')['KeyMetadata']['KeyId']))",
        moto.endpoint
    ))
    .as_str()
    .unwrap()
    .to_owned()
}

/// An endpoint nothing listens on (a port that was free a moment ago).
fn closed_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A record about `subject` with a PDF of `size` bytes uploaded and downloaded whole, equal;
/// the record and document ids.
async fn round_trip(s: &TestServer, subject: &str, size: usize) -> (String, String) {
    let key = &s.admin_key;
    let rid = create_id(s, key, patient(subject)).await;
    let data = pdf(size);
    let doc = upload_ok(s, key, &rid, data.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = download(s, key, &rid, &doc, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
    (rid, doc)
}

#[tokio::test]
async fn kms_wraps_document_keys_and_an_unreachable_kms_fails_closed() {
    let Some(moto) = Moto::start() else { return };
    let kms_key = create_key(&moto);
    let s = server_with(with_kms(Options::default(), &moto.endpoint, &kms_key));
    let key = s.admin_key.clone();
    let (rid, doc) = round_trip(&s, "kms-subject", 150_000).await;
    // The object header names the KMS provider and key; the wrapped key is a KMS ciphertext.
    let path = s
        .data_dir
        .join(format!("documents/docs/default/{rid}/{doc}/v1.blob"));
    let blob = std::fs::read(&path).unwrap();
    let (h, _) = hippo_docs::Header::decode(&blob).unwrap();
    assert_eq!(
        (h.key.provider.as_str(), h.key.key_ref.as_str()),
        ("kms", kms_key.as_str())
    );
    assert!(h.key.bytes.len() > 32, "a KMS ciphertext blob");
    // KMS refuses to decrypt under another encryption context: a header moved to another
    // document does not open there.
    let other = upload_ok(&s, &key, &rid, pdf(2000)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_path = s
        .data_dir
        .join(format!("documents/docs/default/{rid}/{other}/v1.blob"));
    let other_blob = std::fs::read(&other_path).unwrap();
    std::fs::write(&other_path, [&blob[..1024], &other_blob[1024..]].concat()).unwrap();
    let p = expect_problem(
        download(&s, &key, &rid, &other, None).await,
        500,
        "document-key-refused",
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("KMS refused Decrypt"),
        "{p}"
    );
    std::fs::write(&other_path, &other_blob).unwrap();

    drop(s);
    let closed = closed_endpoint();
    let s2 = server_with(with_kms(Options::default(), &closed, &kms_key));
    let key2 = s2.admin_key.clone();
    let rid2 = create_id(&s2, &key2, patient("kms-down")).await;
    let p = expect_problem(
        upload(&s2, &key2, &rid2, "application/pdf", pdf(3000)).await,
        503,
        "key-service-unavailable",
    )
    .await;
    assert!(!p["detail"].as_str().unwrap().contains("127.0.0.1"), "{p}");
    let list = get_json(&s2, &key2, &format!("/v1/records/{rid2}/documents")).await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing stored: {list}"
    );
    assert!(!s2.logs().contains(SECRET));
}

/// Every store: a running deployment's keyring sealed by KMS with `hippo keyring seal` (as
/// docs/deploy.md shows), put in place of the plain one, and the server restarted on it; then
/// KMS out of reach: the keyring does not open, and the server does not start (fail closed).
#[tokio::test]
async fn a_keyring_sealed_by_kms_reveals_nothing_alone_and_without_kms_the_server_does_not_start() {
    let Some(moto) = Moto::start() else { return };
    let kms_key = create_key(&moto);
    let aws = Options::default()
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_KMS", &moto.endpoint);
    let mut s = server_with(aws);
    let rid = create_id(&s, &s.admin_key, patient("sealed-keyring")).await;
    let auditor = s.create_key("default", "auditor");
    let key_before = get_json(&s, &auditor, "/v1/audit/pubkey").await;

    let out = s.cli(&["keyring", "seal", "--kms-key-id", &kms_key]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed = String::from_utf8(out.stdout).unwrap();
    let envelope: Value = serde_json::from_str(&sealed).unwrap();
    assert_eq!(envelope["format"], "hippo-keyring-kms/v1", "{sealed}");
    assert_eq!(envelope["kms_key_id"], kms_key.as_str());
    let plain: Value =
        serde_json::from_slice(&std::fs::read(s.data_dir.join("keyring.json")).unwrap()).unwrap();
    let kek = plain["kek"].as_str().unwrap();
    assert!(
        !sealed.contains(kek) && envelope.get("kek").is_none(),
        "no key in the clear: {sealed}"
    );
    // As docs/deploy.md seals a generated keyring: `--keyring FILE`; a sealed one is refused.
    let file = s.dir.path().join("plain-keyring.json");
    std::fs::copy(s.data_dir.join("keyring.json"), &file).unwrap();
    let seal_file = || {
        s.cli(&[
            "keyring",
            "seal",
            "--keyring",
            file.to_str().unwrap(),
            "--kms-key-id",
            &kms_key,
        ])
    };
    let out = seal_file();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["format"], "hippo-keyring-kms/v1");
    std::fs::write(&file, &sealed).unwrap();
    let out = seal_file();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already sealed"));

    // The sealed form replaces the plain one (same owner-only file); the server opens it
    // through KMS and signs with the same key; the record is still there.
    s.stop();
    std::fs::write(s.data_dir.join("keyring.json"), &sealed).unwrap();
    s.restart();
    assert_eq!(get_json(&s, &auditor, "/v1/audit/pubkey").await, key_before);
    get_json(&s, &s.admin_key, &format!("/v1/records/{rid}")).await;
    // The CLI opens it too (create_key runs `hippo` against the same deployment).
    s.create_key("default", "reader");

    // KMS out of reach: no keyring, no server.
    let closed = closed_endpoint();
    let (status, log) = s.restart_failing(&[("AWS_ENDPOINT_URL_KMS", &closed)]);
    assert!(!status.success());
    assert!(
        log.contains("keyring_file") && log.contains(&format!("sealed by KMS key {kms_key}")),
        "{log}"
    );
    assert!(!log.contains(SECRET) && !log.contains(kek), "{log}");
    // KMS back: it starts again.
    s.restart();
    get_json(&s, &s.admin_key, &format!("/v1/records/{rid}")).await;
}

/// A container credentials endpoint (what ECS and EKS Pod Identity serve): temporary keys for
/// any request carrying `token`; counts the requests it answered.
fn credentials_endpoint(token: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v2/credentials/task",
        listener.local_addr().unwrap()
    );
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
            let (status, body) = if request.contains(&format!("authorization: {token}")) {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (
                    "200 OK",
                    format!(
                        r#"{{"AccessKeyId":"ASIATASKROLE","SecretAccessKey":"{SECRET}","Token":"task-session","Expiration":"2099-01-01T00:00:00Z"}}"#
                    ),
                )
            } else {
                ("403 Forbidden", "{}".to_owned())
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, served)
}

/// Every store: with no keys in the environment, the KMS provider takes a task role's
/// temporary credentials from the container endpoint, as on ECS.
#[tokio::test]
async fn kms_works_with_task_role_credentials_from_the_container_endpoint() {
    let Some(moto) = Moto::start() else { return };
    let kms_key = create_key(&moto);
    let (url, served) = credentials_endpoint("task-token");
    let s = server_with(
        Options::default()
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-token")
            .env("AWS_REGION", "us-east-1")
            .env("HIPPO_DOCUMENTS__KEY_PROVIDER", "kms")
            .env("HIPPO_DOCUMENTS__KMS_KEY_ID", &kms_key)
            .env("HIPPO_DOCUMENTS__KMS_ENDPOINT", &moto.endpoint),
    );
    round_trip(&s, "task-role", 70_000).await;
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once, then cached until near expiry"
    );
    assert!(!s.logs().contains(SECRET) && !s.logs().contains("task-session"));
}
