//! Unit tests of the S3 sink: URLs, keys, error codes, container credentials.
use super::*;

#[test]
fn urls_parse() {
    let u = S3Url::parse("s3://audit-bucket/hippo/prod/").unwrap();
    assert_eq!(u.bucket, "audit-bucket");
    assert_eq!(u.prefix, "hippo/prod");
    assert_eq!(S3Url::parse("s3://audit-bucket").unwrap().prefix, "");
    assert!(S3Url::parse("s3://Bad_Bucket/x").is_err());
    assert!(S3Url::parse("https://bucket/x").is_err());
}

#[tokio::test]
async fn container_credentials_are_fetched_with_the_token_and_cached() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut requests = Vec::new();
        while let Ok(Ok((mut conn, _))) =
            tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
        {
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap();
            requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"AccessKeyId":"ASIATEMP","SecretAccessKey":"temp-secret","Token":"session-token","Expiration":"2099-01-01T00:00:00Z"}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).await.unwrap();
        }
        requests
    });
    let sink = S3Sink::with_source(
        S3Url::parse("s3://audit-bucket").unwrap(),
        S3Options {
            endpoint: Some("http://127.0.0.1:9".into()),
            ..S3Options::default()
        },
        AwsCredentials::container(
            &format!("http://{addr}/v2/credentials/x"),
            Some("pod-identity-token".into()),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    let first = sink.credentials().await.unwrap();
    let second = sink.credentials().await.unwrap();
    assert_eq!(first.key(), "ASIATEMP");
    assert_eq!(first.token(), Some("session-token"));
    assert_eq!(first, second);
    let requests = server.await.unwrap();
    assert_eq!(requests.len(), 1, "cached: {requests:?}");
    assert!(requests[0]
        .to_lowercase()
        .contains("authorization: pod-identity-token"));
}

#[test]
fn keys_and_error_codes() {
    let sink = S3Sink::with_credentials(
        S3Url::parse("s3://audit-bucket/p").unwrap(),
        S3Options {
            endpoint: Some("http://127.0.0.1:9".into()),
            ..S3Options::default()
        },
        Credentials::new("AKIDEXAMPLE", "secret-never-printed"),
    )
    .unwrap();
    assert_eq!(sink.key("default", "b.ndjson"), "p/default/b.ndjson");
    assert!(!format!("{sink:?}").contains("secret-never-printed"));
    assert_eq!(
        error_code("<Error><Code>AccessDenied</Code><Message>x</Message></Error>"),
        " (AccessDenied)"
    );
    assert_eq!(error_code("<Code>a b</Code>"), "");
    assert!(S3Sink::with_credentials(
        S3Url::parse("s3://audit-bucket").unwrap(),
        S3Options {
            sse: ServerSideEncryption::None,
            kms_key_id: Some("k".into()),
            ..S3Options::default()
        },
        Credentials::new("a", "b"),
    )
    .is_err());
}
