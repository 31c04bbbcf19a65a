//! Documents on the S3 blob sink, against a local S3-compatible server (moto) started by the
//! test: a multi-part upload and ranged download, every object written with SSE-KMS, refused
//! uploads leaving no object and no open multipart upload, tampered objects refused with the
//! fault named, and no document byte in clear in any object (canary). An independent client
//! (boto3) inspects and damages the bucket.
//!
//! moto is installed by `.ci/run`; without it the test is skipped loudly, unless `CI` is set.

use super::documents::{chunked_upload, download, pdf, upload, upload_ok, Ending};
use super::moto::{Moto, KEY_ID, SECRET};
use super::*;
use std::time::{Duration, Instant};

const DOC_BUCKET: &str = "hippo-documents";
const PREFIX: &str = "store";

fn on_s3(moto: &Moto, options: Options) -> Options {
    options
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env(
            "HIPPO_DOCUMENTS__TO",
            &format!("s3://{DOC_BUCKET}/{PREFIX}"),
        )
        .env("HIPPO_AUDIT__S3_ENDPOINT", &moto.endpoint)
}

fn bucket(moto: &Moto) {
    moto.python(&format!(
        "s3.create_bucket(Bucket='{DOC_BUCKET}')\nprint(json.dumps(True))"
    ));
}

/// Every object: key, size, server-side encryption, and whether its bytes hold the canary.
fn objects(moto: &Moto) -> Vec<Value> {
    moto.python(&format!(
        "out = []\n\
         for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{DOC_BUCKET}'):\n\
         \x20   for o in page.get('Contents', []):\n\
         \x20       r = s3.get_object(Bucket='{DOC_BUCKET}', Key=o['Key'])\n\
         \x20       body = r['Body'].read()\n\
         \x20       out.append({{'key': o['Key'], 'size': len(body), 'sse': r.get('ServerSideEncryption'),\n\
         \x20                    'canary': {canary:?}.encode() in body}})\n\
         print(json.dumps(out))",
        canary = hippo_testkit::CANARY
    ))
    .as_array()
    .unwrap()
    .clone()
}

fn open_multipart_uploads(moto: &Moto) -> usize {
    moto.python(&format!(
        "print(json.dumps(len(s3.list_multipart_uploads(Bucket='{DOC_BUCKET}').get('Uploads', []))))"
    ))
    .as_u64()
    .unwrap() as usize
}

fn blob_key(rid: &str, doc: &str) -> String {
    format!("{PREFIX}/docs/default/{rid}/{doc}/v1.blob")
}

/// Replaces an object's bytes: `transform` is a Python expression over `b` (the bytes).
fn damage(moto: &Moto, key: &str, transform: &str) {
    moto.python(&format!(
        "b = s3.get_object(Bucket='{DOC_BUCKET}', Key='{key}')['Body'].read()\n\
         s3.put_object(Bucket='{DOC_BUCKET}', Key='{key}', Body={transform})\n\
         print(json.dumps(True))"
    ));
}

#[tokio::test]
async fn documents_on_s3_round_trip_sealed_with_sse_kms_and_faults_are_named() {
    let Some(moto) = Moto::start() else { return };
    bucket(&moto);
    let s = server_with(on_s3(
        &moto,
        Options::default().env("HIPPO_DOCUMENTS__MAX_BYTES", "8000000"),
    ));
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("s3-subject")).await;
    // Over one S3 part (5 MiB): a multipart upload.
    let big = pdf(6 * 1024 * 1024 + 123);
    let doc = upload_ok(&s, &key, &rid, big.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = download(&s, &key, &rid, &doc, None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.unwrap().as_ref() == big.as_slice(),
        "the download differs"
    );
    let r = download(&s, &key, &rid, &doc, Some("bytes=5242000-5243000")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &big[5_242_000..=5_243_000]
    );
    let small = pdf(3000);
    let sdoc = upload_ok(&s, &key, &rid, small.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = get_json(&s, &key, &format!("/v1/records/{rid}/documents")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");

    // Refused uploads keep nothing: too large while streaming (after a first 5 MiB part was
    // sent: the multipart upload is aborted), a client gone mid-upload, a type outside the list.
    assert_eq!(
        chunked_upload(&s, &key, &rid, &pdf(8_000_001), Ending::Wait).await,
        Some(413)
    );
    assert_eq!(
        chunked_upload(&s, &key, &rid, &pdf(7_000_000), Ending::HangUp).await,
        None
    );
    expect_problem(
        upload(
            &s,
            &key,
            &rid,
            "application/x-msdownload",
            b"MZ\x90\0".to_vec(),
        )
        .await,
        415,
        "document-type-not-allowed",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_multipart_uploads(&moto) > 0 {
        assert!(
            Instant::now() < deadline,
            "an abandoned multipart upload was never aborted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let objs = objects(&moto);
    let blobs: Vec<&Value> = objs
        .iter()
        .filter(|o| o["key"].as_str().unwrap().ends_with(".blob"))
        .collect();
    assert_eq!(blobs.len(), 2, "{objs:?}");
    for o in &objs {
        assert_eq!(o["sse"], "aws:kms", "{o}");
        assert_eq!(
            o["canary"], false,
            "{} holds document bytes in clear",
            o["key"]
        );
    }

    // Faults on the stored object: each refused by name; the good object opens again after.
    let k = blob_key(&rid, &sdoc);
    let good = moto.python(&format!(
        "import base64\nprint(json.dumps(base64.b64encode(s3.get_object(Bucket='{DOC_BUCKET}', Key='{k}')['Body'].read()).decode()))"
    ));
    let restore = format!(
        "__import__('base64').b64decode('{}')",
        good.as_str().unwrap()
    );
    for (transform, slug, needle) in [
        (
            "b[:1100] + bytes([b[1100] ^ 1]) + b[1101:]",
            "document-integrity-failed",
            "chunk 0 fails authentication",
        ),
        ("b[:-50]", "document-integrity-failed", "truncated"),
        (
            "b + b[1024:2000]",
            "document-integrity-failed",
            "after its final chunk",
        ),
    ] {
        damage(&moto, &k, transform);
        let p = expect_problem(download(&s, &key, &rid, &sdoc, None).await, 500, slug).await;
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{transform}: {p}"
        );
        damage(&moto, &k, &restore);
        assert_eq!(
            download(&s, &key, &rid, &sdoc, None)
                .await
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            small.as_slice()
        );
    }
    assert!(!s.logs().contains(hippo_testkit::CANARY));
}

#[tokio::test]
async fn an_unreachable_bucket_fails_closed_with_503() {
    let Some(moto) = Moto::start() else { return };
    bucket(&moto);
    let mut options = on_s3(&moto, Options::default());
    // A closed port: the S3 endpoint is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    options = options.env(
        "HIPPO_AUDIT__S3_ENDPOINT",
        &format!("http://127.0.0.1:{port}"),
    );
    let s = server_with(options);
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("s3-down")).await;
    let p = expect_problem(
        upload(&s, &key, &rid, "application/pdf", pdf(2000)).await,
        503,
        "document-storage-unavailable",
    )
    .await;
    assert!(!p["detail"].as_str().unwrap().contains("127.0.0.1"), "{p}");
    expect_problem(
        authed(
            &s.client(),
            reqwest::Method::GET,
            s.url(&format!("/v1/records/{rid}/documents")),
            &key,
        )
        .send()
        .await
        .unwrap(),
        503,
        "document-storage-unavailable",
    )
    .await;
}
