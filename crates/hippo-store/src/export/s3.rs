//! The S3 export sink: each sealed object is PUT under `<prefix>/<log id>/<name>` with S3
//! Object Lock in COMPLIANCE mode until the retention date (nobody, root account included, can
//! delete or overwrite that version before then), a `Content-MD5` (S3 requires one on Object
//! Lock puts), and server-side encryption (`aws:kms` by default, optionally with a key id).
//!
//! Requests are SigV4-presigned by `rusty-s3` (sans-IO, with every header we send included in
//! the signature) and sent with the workspace's reqwest (rustls, ring). `object_store` was not
//! used: its `PutOptions` cannot carry Object Lock headers. Credentials come from the standard
//! AWS environment variables and never appear in logs or errors (reqwest errors are stripped of
//! their presigned URLs).

use super::{manifest_last_seq, ExportError, ExportSink, ObjectKind};
use async_trait::async_trait;
use base64::Engine as _;
use md5::Digest as _;
use reqwest::Url;
use rusty_s3::{Bucket, S3Action, UrlStyle};
use std::time::Duration;

pub use crate::aws::Credentials;

/// How long a presigned request stays valid (it is sent at once).
const PRESIGN_TTL: Duration = Duration::from_secs(900);
/// Attempts per request on transport errors and 5xx responses.
const ATTEMPTS: u32 = 3;

/// `s3://bucket/prefix`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<Self, ExportError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ExportError::Config(format!("{url:?} does not start with s3://")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(ExportError::Config(format!(
                "{bucket:?} is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '-' or '.')"
            )));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Server-side encryption of exported objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerSideEncryption {
    /// `aws:kms` (with `S3Options::kms_key_id`, or the account's `aws/s3` key).
    #[default]
    AwsKms,
    /// `AES256` (S3-managed keys).
    Aes256,
    /// No header: the bucket's default encryption applies.
    None,
}

impl std::str::FromStr for ServerSideEncryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "aws:kms" => Ok(Self::AwsKms),
            "AES256" => Ok(Self::Aes256),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown server-side encryption {other:?}; use \"aws:kms\", \"AES256\" or \"none\""
            )),
        }
    }
}

/// Connection and encryption settings of the S3 sink (credentials are not here: they come
/// from the environment).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint override (MinIO, moto, a VPC endpoint), e.g. `http://127.0.0.1:9000`: requests
    /// then use path-style URLs. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else
    /// `https://s3.<region>.amazonaws.com` with virtual-hosted-style URLs.
    pub endpoint: Option<String>,
    /// Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    pub sse: ServerSideEncryption,
    /// With `sse = aws:kms`: the KMS key id or ARN.
    pub kms_key_id: Option<String>,
}

use crate::aws::AwsCredentials;

/// Sealed batches as S3 objects under Object Lock.
pub struct S3Sink {
    url: S3Url,
    bucket: Bucket,
    credentials: AwsCredentials,
    client: reqwest::Client,
    options: S3Options,
}

impl std::fmt::Debug for S3Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Sink")
            .field("url", &self.url)
            .field("endpoint", &self.bucket.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl S3Sink {
    /// A sink for `url`, with credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// and (optionally) `AWS_SESSION_TOKEN`, else from the container credentials endpoint
    /// (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on ECS, `AWS_CONTAINER_CREDENTIALS_FULL_URI`
    /// with `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]` on EKS).
    pub fn new(url: S3Url, options: S3Options) -> Result<Self, ExportError> {
        let source = AwsCredentials::from_env().map_err(|e| ExportError::Config(e.to_string()))?;
        Self::with_source(url, options, source)
    }

    /// A sink with explicit credentials.
    pub fn with_credentials(
        url: S3Url,
        options: S3Options,
        credentials: Credentials,
    ) -> Result<Self, ExportError> {
        Self::with_source(url, options, AwsCredentials::Static(credentials))
    }

    fn with_source(
        url: S3Url,
        options: S3Options,
        credentials: AwsCredentials,
    ) -> Result<Self, ExportError> {
        if options.kms_key_id.is_some() && options.sse != ServerSideEncryption::AwsKms {
            return Err(ExportError::Config(
                "a KMS key id needs server-side encryption aws:kms".into(),
            ));
        }
        let region = crate::aws::region(options.region.clone());
        let endpoint = crate::aws::endpoint_override(options.endpoint.clone(), "S3");
        let (endpoint, style) = match endpoint {
            Some(e) => (e, UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let endpoint_url = Url::parse(&endpoint).map_err(|e| {
            ExportError::Config(format!("S3 endpoint {endpoint:?} is not a URL: {e}"))
        })?;
        let bucket = Bucket::new(endpoint_url, style, url.bucket.clone(), region)
            .map_err(|e| ExportError::Config(format!("S3 bucket {}: {e}", url.bucket)))?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ExportError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            url,
            bucket,
            credentials,
            client,
            options,
        })
    }

    /// Current credentials (see [`AwsCredentials::current`]).
    async fn credentials(&self) -> Result<Credentials, ExportError> {
        self.credentials
            .current()
            .await
            .map_err(|e| ExportError::S3Transport {
                op: "credentials",
                key: "AWS credentials".into(),
                reason: e.to_string(),
            })
    }

    /// PUTs `bytes` at `key` with the sink's server-side encryption, and Object Lock in
    /// COMPLIANCE mode until `retain_until` (RFC 3339) when given.
    pub async fn put_object(
        &self,
        key: &str,
        content_type: &str,
        bytes: &[u8],
        retain_until: Option<&str>,
    ) -> Result<(), ExportError> {
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes));
        // Lowercase names: they are signed as given.
        let mut headers: Vec<(&'static str, String)> = vec![
            ("content-md5", content_md5),
            ("content-type", content_type.to_owned()),
        ];
        if let Some(until) = retain_until {
            headers.push(("x-amz-object-lock-mode", "COMPLIANCE".to_owned()));
            headers.push(("x-amz-object-lock-retain-until-date", until.to_owned()));
        }
        match self.options.sse {
            ServerSideEncryption::AwsKms => {
                headers.push(("x-amz-server-side-encryption", "aws:kms".to_owned()));
                if let Some(id) = &self.options.kms_key_id {
                    headers.push(("x-amz-server-side-encryption-aws-kms-key-id", id.clone()));
                }
            }
            ServerSideEncryption::Aes256 => {
                headers.push(("x-amz-server-side-encryption", "AES256".to_owned()));
            }
            ServerSideEncryption::None => {}
        }
        let creds = self.credentials().await?;
        let url = {
            let mut action = self.bucket.put_object(Some(&creds), key);
            for (name, value) in &headers {
                action.headers_mut().insert(*name, value.as_str());
            }
            action.sign(PRESIGN_TTL)
        };
        self.send("put", key, || {
            let mut req = self
                .client
                .put(url.clone())
                .header("content-length", bytes.len())
                .body(bytes.to_vec());
            for (name, value) in &headers {
                req = req.header(*name, value.as_str());
            }
            req
        })
        .await?;
        Ok(())
    }

    /// The bytes of the object at `key`.
    pub async fn get_object(&self, key: &str) -> Result<Vec<u8>, ExportError> {
        let creds = self.credentials().await?;
        let url = self.bucket.get_object(Some(&creds), key).sign(PRESIGN_TTL);
        let resp = self
            .send("get", key, || self.client.get(url.clone()))
            .await?;
        let bytes = resp.bytes().await.map_err(|e| ExportError::S3Transport {
            op: "get",
            key: key.to_owned(),
            reason: e.without_url().to_string(),
        })?;
        Ok(bytes.to_vec())
    }

    /// Deletes the object at `key` (S3 refuses while its Object Lock date is ahead).
    pub async fn delete_object(&self, key: &str) -> Result<(), ExportError> {
        let creds = self.credentials().await?;
        let url = self
            .bucket
            .delete_object(Some(&creds), key)
            .sign(PRESIGN_TTL);
        self.send("delete", key, || self.client.delete(url.clone()))
            .await?;
        Ok(())
    }

    /// The full key of `name` under the sink's prefix.
    pub fn key_of(&self, name: &str) -> String {
        if self.url.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.url.prefix)
        }
    }

    /// The key of object `name` of `log_id`.
    pub fn key(&self, log_id: &str, name: &str) -> String {
        self.key_of(&format!("{log_id}/{name}"))
    }

    /// Sends a request built by `build` (called again for each attempt: presigned URLs are
    /// single-use in spirit and cheap to make), retrying transport errors and 5xx responses.
    async fn send(
        &self,
        op: &'static str,
        key: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ExportError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = build().send().await;
            let retry = match &result {
                Ok(r) => r.status().is_server_error(),
                Err(_) => true,
            };
            if retry && attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                continue;
            }
            let resp = result.map_err(|e| ExportError::S3Transport {
                op,
                key: key.to_owned(),
                // The URL is presigned: keep it (and its access key id) out of the message.
                reason: e.without_url().to_string(),
            })?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            return Err(ExportError::S3Status {
                op,
                key: key.to_owned(),
                status,
                code: error_code(&body),
            });
        }
    }

    /// Every key under `prefix`, following continuation tokens.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ExportError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let creds = self.credentials().await?;
            let url = {
                let mut action = self.bucket.list_objects_v2(Some(&creds));
                action.with_prefix(prefix);
                if let Some(t) = &token {
                    action.with_continuation_token(t.as_str());
                }
                action.sign(PRESIGN_TTL)
            };
            let resp = self
                .send("list", prefix, || self.client.get(url.clone()))
                .await?;
            let text = resp.text().await.map_err(|e| ExportError::S3Transport {
                op: "list",
                key: prefix.to_owned(),
                reason: e.without_url().to_string(),
            })?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&text).map_err(|e| {
                ExportError::S3Transport {
                    op: "list",
                    key: prefix.to_owned(),
                    reason: format!("unreadable listing: {e}"),
                }
            })?;
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }
}

/// The `<Code>` of an S3 error document, as ` (Code)`, or empty. Only ASCII letters survive:
/// the message and resource of the document are not repeated.
fn error_code(body: &str) -> String {
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code)
        .unwrap_or("");
    if !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!(" ({code})")
    } else {
        String::new()
    }
}

#[async_trait]
impl ExportSink for S3Sink {
    fn describe(&self) -> String {
        self.url.to_string()
    }

    async fn exported_through(&self, log_id: &str) -> Result<u64, ExportError> {
        let keys = self.list(&self.key(log_id, "batch-")).await?;
        Ok(keys
            .iter()
            .filter_map(|k| manifest_last_seq(k))
            .max()
            .unwrap_or(0))
    }

    async fn put_sealed(
        &self,
        log_id: &str,
        name: &str,
        kind: ObjectKind,
        bytes: &[u8],
        retain_until: &str,
    ) -> Result<(), ExportError> {
        let key = self.key(log_id, name);
        self.put_object(&key, kind.content_type(), bytes, Some(retain_until))
            .await
    }

    async fn names(&self, log_id: &str) -> Result<Vec<String>, ExportError> {
        let prefix = self.key(log_id, "");
        let mut out: Vec<String> = self
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn read(&self, log_id: &str, name: &str) -> Result<Vec<u8>, ExportError> {
        self.get_object(&self.key(log_id, name)).await
    }
}

#[path = "s3_objects.rs"]
mod objects;

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
