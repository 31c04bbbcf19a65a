//! Documents attached to records, on the data-directory sink with the local key provider:
//! streamed upload, download with ranges, list, versioned delete, each audited; refused
//! uploads (too large while streaming, type outside the allow-list, content that is not its
//! declared type, a client gone mid-upload) leave nothing; tampered blobs (flipped bits,
//! swapped or cut chunks, a wrong key version) are refused with a problem naming the fault;
//! and no document byte reaches the logs or any file outside its sealed blob (canary).

use super::*;
use hippo_testkit::raw_conn::{
    addr_of, read_until_closed, split_http1_response, tls_connect, ALPN_HTTP1,
};
use hippo_testkit::{contains_bytes, CANARY};
use sha2::Digest;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A PDF-looking document of `len` bytes with the canary spread through it.
pub fn pdf(len: usize) -> Vec<u8> {
    let mut d = b"%PDF-1.7\n".to_vec();
    let mut i = 0u32;
    while d.len() < len {
        d.extend_from_slice(format!("{CANARY} line {i}\n").as_bytes());
        i += 1;
    }
    d.truncate(len);
    d
}

pub async fn upload(
    s: &TestServer,
    key: &str,
    record: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    authed(
        &s.client(),
        reqwest::Method::POST,
        s.url(&format!("/v1/records/{record}/documents")),
        key,
    )
    .header("content-type", ct)
    .body(bytes)
    .send()
    .await
    .unwrap()
}

pub async fn upload_ok(s: &TestServer, key: &str, record: &str, bytes: Vec<u8>) -> Value {
    let r = upload(s, key, record, "application/pdf", bytes).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

pub async fn download(
    s: &TestServer,
    key: &str,
    record: &str,
    doc: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = authed(
        &s.client(),
        reqwest::Method::GET,
        s.url(&format!("/v1/records/{record}/documents/{doc}")),
        key,
    );
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

fn docs_dir(s: &TestServer) -> PathBuf {
    s.data_dir.join("documents")
}

/// Every file under the documents directory but the key files, relative.
fn stored(s: &TestServer) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&docs_dir(s), &docs_dir(s), &mut out);
    out.retain(|p| !p.starts_with("keys/"));
    out.sort();
    out
}

fn blob(s: &TestServer, record: &str, doc: &str, version: u32) -> PathBuf {
    docs_dir(s).join(format!("docs/default/{record}/{doc}/v{version}.blob"))
}

#[tokio::test]
async fn upload_download_range_list_delete_audited_and_no_byte_in_clear() {
    let s = server_with(Options::default().env("HIPPO_DOCUMENTS__CHUNK_KIB", "4"));
    let key = s.admin_key.clone();
    let writer = s.create_key("default", "writer");
    let auditor = s.create_key("default", "auditor");
    let rid = create_id(&s, &key, patient("doc-subject-1")).await;
    let data = pdf(50_000);
    let meta = upload_ok(&s, &writer, &rid, data.clone()).await;
    let doc = meta["id"].as_str().unwrap().to_owned();
    assert_eq!(meta["size"], 50_000);
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["content_type"], "application/pdf");
    assert_eq!(meta["sha256"], hex::encode(sha2::Sha256::digest(&data)));

    let r = download(&s, &writer, &rid, &doc, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
    for (range, first, last) in [
        ("bytes=100-9000", 100, 9000),
        ("bytes=4096-8191", 4096, 8191),
        ("bytes=-10", 49_990, 49_999),
        ("bytes=49000-", 49_000, 49_999),
    ] {
        let r = download(&s, &writer, &rid, &doc, Some(range)).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {first}-{last}/50000")
        );
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            &data[first..=last],
            "{range}"
        );
    }
    let r = download(&s, &writer, &rid, &doc, Some("bytes=50000-")).await;
    let r_headers = r.headers().clone();
    expect_problem(r, 416, "range-not-satisfiable").await;
    assert_eq!(r_headers["content-range"], "bytes */50000");

    let list = get_json(&s, &writer, &format!("/v1/records/{rid}/documents")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["id"], doc.as_str());

    // A reader may read but not delete; an auditor may not read documents at all.
    let reader = s.create_key("default", "reader");
    assert_eq!(download(&s, &reader, &rid, &doc, None).await.status(), 200);
    let r = authed(
        &s.client(),
        reqwest::Method::DELETE,
        s.url(&format!("/v1/records/{rid}/documents/{doc}")),
        &reader,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 403, "forbidden").await;
    expect_problem(
        download(&s, &auditor, &rid, &doc, None).await,
        403,
        "forbidden",
    )
    .await;

    let r = authed(
        &s.client(),
        reqwest::Method::DELETE,
        s.url(&format!("/v1/records/{rid}/documents/{doc}")),
        &writer,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let tomb: Value = r.json().await.unwrap();
    assert_eq!(
        (tomb["version"].as_u64(), tomb["deleted"].as_bool()),
        (Some(2), Some(true))
    );
    expect_problem(
        download(&s, &writer, &rid, &doc, None).await,
        410,
        "document-deleted",
    )
    .await;
    let old = authed(
        &s.client(),
        reqwest::Method::GET,
        s.url(&format!("/v1/records/{rid}/documents/{doc}?version=1")),
        &writer,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(old.status(), 200);
    assert_eq!(old.bytes().await.unwrap().as_ref(), data.as_slice());
    let list = get_json(&s, &writer, &format!("/v1/records/{rid}/documents")).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let unknown = uuid_like();
    expect_problem(
        download(&s, &writer, &rid, &unknown, None).await,
        404,
        "not-found",
    )
    .await;

    // Every access is in the tenant's audit log, naming the record, its subject and the document.
    let events = audit_events(&s, &auditor, "").await;
    let of =
        |action: &str| -> Vec<&Value> { events.iter().filter(|e| e["action"] == action).collect() };
    let created = of("document.create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["resource_id"], rid.as_str());
    assert_eq!(created[0]["details"]["document"], doc.as_str());
    assert!(created[0]["subject_id"].is_string(), "{}", created[0]);
    let reads: Vec<&Value> = of("document.read")
        .into_iter()
        .filter(|e| e["outcome"] == "success")
        .collect();
    assert_eq!(reads.len(), 7, "one per successful download");
    assert!(reads.iter().any(|e| e["details"]["range"] == "100-9000"));
    assert_eq!(of("document.list").len(), 2);
    assert!(of("document.delete")
        .iter()
        .any(|e| e["outcome"] == "success"));
    assert!(of("document.read").iter().any(|e| e["outcome"] == "denied"));

    // The canary is in the document; it is in no file outside the sealed blobs and in no log.
    for (path, bytes) in s.data_files() {
        assert!(
            !contains_bytes(&bytes, CANARY.as_bytes()),
            "{} holds document bytes in clear",
            path.display()
        );
    }
    assert!(!s.logs().contains(CANARY));
}

fn uuid_like() -> String {
    "0190a0b0-0000-7000-8000-000000000000".into()
}

#[tokio::test]
async fn refused_uploads_keep_nothing() {
    let s = server_with(Options::default().env("HIPPO_DOCUMENTS__MAX_BYTES", "100000"));
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("doc-subject-2")).await;
    // Declared too large: refused before reading.
    let p = expect_problem(
        upload(&s, &key, &rid, "application/pdf", pdf(100_001)).await,
        413,
        "payload-too-large",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("100000"), "{p}");
    // Too large while streaming (chunked, no length declared): refused once past the limit.
    let status = chunked_upload(&s, &key, &rid, &pdf(100_001), Ending::Wait).await;
    assert_eq!(status, Some(413));
    // Outside the allow-list; declared as a PDF but something else; empty.
    expect_problem(
        upload(&s, &key, &rid, "application/zip", b"PK\x03\x04".to_vec()).await,
        415,
        "document-type-not-allowed",
    )
    .await;
    let p = expect_problem(
        upload(
            &s,
            &key,
            &rid,
            "application/pdf",
            b"\x89PNG\r\n\x1a\n1234".to_vec(),
        )
        .await,
        415,
        "document-type-mismatch",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("image/png"), "{p}");
    expect_problem(
        upload(&s, &key, &rid, "text/plain", Vec::new()).await,
        400,
        "empty-document",
    )
    .await;
    // A record that does not exist.
    expect_problem(
        upload(&s, &key, &uuid_like(), "application/pdf", pdf(1000)).await,
        404,
        "not-found",
    )
    .await;
    // A client that disconnects mid-upload.
    assert_eq!(
        chunked_upload(&s, &key, &rid, &pdf(90_000), Ending::HangUp).await,
        None
    );

    wait_until_no_partials(&s).await;
    assert_eq!(
        stored(&s),
        Vec::<String>::new(),
        "nothing half-written is kept"
    );
    let list = get_json(&s, &key, &format!("/v1/records/{rid}/documents")).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    // The store still takes a good one, streamed with no length declared, or with one.
    assert_eq!(
        chunked_upload(&s, &key, &rid, &pdf(20_000), Ending::Complete).await,
        Some(201)
    );
    upload_ok(&s, &key, &rid, pdf(99_000)).await;
    let list = get_json(&s, &key, &format!("/v1/records/{rid}/documents")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    assert!(!s.logs().contains(CANARY));
}

/// The upload's partial blob is removed when its request ends, which may be a moment after
/// the client hung up; waits (bounded) for that.
async fn wait_until_no_partials(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = std::fs::read_dir(docs_dir(s).join(".partial"))
            .map(|d| d.count())
            .unwrap_or(0);
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a partial upload was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How a raw chunked upload ends.
#[derive(Clone, Copy, PartialEq)]
pub enum Ending {
    /// The terminating chunk is sent.
    Complete,
    /// No terminating chunk: the response is awaited (the server refuses once over its limit,
    /// having read every byte sent, so nothing unread makes the close a reset).
    Wait,
    /// The connection is closed after half of the data.
    HangUp,
}

/// Sends `data` with chunked transfer encoding over HTTP/1.1 (no length declared). Returns
/// the response status, if one came.
pub async fn chunked_upload(
    s: &TestServer,
    key: &str,
    record: &str,
    data: &[u8],
    ending: Ending,
) -> Option<u16> {
    let mut tls = tls_connect(addr_of(&s.base_url), None, &s.ca_pem(), &[ALPN_HTTP1])
        .await
        .unwrap();
    let head = format!(
        "POST /v1/records/{record}/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let stop = if ending == Ending::HangUp {
        data.len() / 2
    } else {
        data.len()
    };
    for piece in data[..stop].chunks(8192) {
        let frame = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if tls.write_all(&frame).await.is_err() {
            break; // the server refused and closed
        }
        tls.flush().await.ok();
    }
    match ending {
        Ending::HangUp => {
            drop(tls);
            return None;
        }
        Ending::Complete => {
            let _ = tls.write_all(b"0\r\n\r\n").await;
        }
        Ending::Wait => {}
    }
    let (bytes, _) = read_until_closed(&mut tls, Duration::from_secs(10)).await;
    split_http1_response(&bytes).map(|(status, _, _)| status)
}

/// The sealed body of a blob starts after its fixed 1024-byte header.
const HEADER: usize = 1024;

#[tokio::test]
async fn tampered_blobs_are_refused_naming_the_fault() {
    let s = server_with(Options::default().env("HIPPO_DOCUMENTS__CHUNK_KIB", "1"));
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("doc-subject-3")).await;
    let data = pdf(5000); // five chunks of 1 KiB (the last shorter)
    let doc = upload_ok(&s, &key, &rid, data.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = blob(&s, &rid, &doc, 1);
    let good = std::fs::read(&path).unwrap();
    let sealed = 1024 + 16;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "flipped bit",
            {
                let mut b = good.clone();
                b[HEADER + sealed + 10] ^= 0x04;
                b
            },
            "document-integrity-failed",
            "chunk 1 fails authentication",
        ),
        (
            "swapped chunks",
            {
                let mut b = good.clone();
                let (x, y) = (HEADER + sealed, HEADER + 2 * sealed);
                let c1 = good[x..x + sealed].to_vec();
                let c2 = good[y..y + sealed].to_vec();
                b[x..x + sealed].copy_from_slice(&c2);
                b[y..y + sealed].copy_from_slice(&c1);
                b
            },
            "document-integrity-failed",
            "chunk 1 is out of place: it was sealed as chunk 2",
        ),
        (
            "truncated",
            good[..good.len() - 100].to_vec(),
            "document-integrity-failed",
            "truncated",
        ),
        (
            "extended",
            [good.as_slice(), &good[HEADER..HEADER + sealed]].concat(),
            "document-integrity-failed",
            "after its final chunk",
        ),
        (
            "header garbage",
            {
                let mut b = good.clone();
                b[0] = b'X';
                b
            },
            "document-integrity-failed",
            "header",
        ),
        (
            "wrong key version",
            rewrite_key_ref(&good, "default/v7"),
            "document-key-refused",
            "default/v7",
        ),
        (
            "wrapped key altered",
            {
                let mut b = good.clone();
                let at = wrapped_key_offset(&good);
                b[at] ^= 1;
                b
            },
            "document-key-refused",
            "does not unwrap",
        ),
    ];
    for (name, bytes, slug, needle) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let p = expect_problem(download(&s, &key, &rid, &doc, None).await, 500, slug).await;
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{name}: {p}"
        );
        // Nothing stored is lost: the good blob opens again once restored.
        std::fs::write(&path, &good).unwrap();
        let r = download(&s, &key, &rid, &doc, None).await;
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
    }
    assert!(!s.logs().contains(CANARY));
}

/// The blob with its header's key version replaced (what a wrong key version looks like).
fn rewrite_key_ref(blob: &[u8], key_ref: &str) -> Vec<u8> {
    let (mut h, len) = hippo_docs::Header::decode(blob).unwrap();
    h.key.key_ref = key_ref.into();
    [h.encode().as_slice(), &blob[len..]].concat()
}

fn wrapped_key_offset(blob: &[u8]) -> usize {
    let (h, _) = hippo_docs::Header::decode(blob).unwrap();
    // magic 8, format 1, length 4, chunk 4, prefix 7, provider len 1 + name, ref len 2 + ref, len 2
    8 + 1 + 4 + 4 + 7 + 1 + h.key.provider.len() + 2 + h.key.key_ref.len() + 2
}

#[tokio::test]
async fn the_malware_scan_refuses_an_infected_document_and_fails_closed() {
    // A scanner reading the document on stdin: "infected" (exit 1) when it holds EICAR.
    let scanner = r#"["sh", "-c", "grep -q EICAR && exit 1; exit 0"]"#;
    let s = server_with(Options::default().env("HIPPO_DOCUMENTS__SCAN_COMMAND", scanner));
    let key = s.admin_key.clone();
    let rid = create_id(&s, &key, patient("scan-subject")).await;
    upload_ok(&s, &key, &rid, pdf(70_000)).await;
    let mut infected = pdf(70_000);
    infected.extend_from_slice(
        b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    );
    expect_problem(
        upload(&s, &key, &rid, "application/pdf", infected).await,
        422,
        "document-infected",
    )
    .await;
    let list = get_json(&s, &key, &format!("/v1/records/{rid}/documents")).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "the infected one is not kept: {list}"
    );
    wait_until_no_partials(&s).await;

    // A scanner that cannot run: every upload is refused (fail closed).
    let s2 = server_with(Options::default().env(
        "HIPPO_DOCUMENTS__SCAN_COMMAND",
        r#"["/nonexistent/scanner"]"#,
    ));
    let key2 = s2.admin_key.clone();
    let rid2 = create_id(&s2, &key2, patient("scan-down")).await;
    expect_problem(
        upload(&s2, &key2, &rid2, "application/pdf", pdf(5000)).await,
        503,
        "scan-unavailable",
    )
    .await;
    assert_eq!(stored(&s2), Vec::<String>::new());
}
