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

/// Static AWS credentials (its `Debug` shows the key id only, never the secret).
pub use rusty_s3::Credentials;

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

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Where the sink's AWS credentials come from.
enum CredentialSource {
    /// Fixed keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    Static(Credentials),
    /// The container credentials endpoint (ECS task role, EKS Pod Identity): temporary keys,
    /// fetched when needed and refreshed five minutes before they expire.
    Container {
        url: Url,
        /// AWS_CONTAINER_AUTHORIZATION_TOKEN, or the file of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
        /// (read at each fetch: it is rotated).
        token: Option<String>,
        token_file: Option<std::path::PathBuf>,
        /// The current keys and their expiry (Unix seconds).
        cached: tokio::sync::Mutex<Option<(Credentials, i64)>>,
    },
}

/// The ECS/EKS container credentials endpoint from the standard variables, if set. Plain HTTP
/// is accepted only to loopback and the ECS/EKS link-local agents, as the AWS SDKs do.
fn container_source() -> Result<Option<CredentialSource>, ExportError> {
    let url = if let Some(rel) = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("http://169.254.170.2{rel}")
    } else if let Some(full) = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        full
    } else {
        return Ok(None);
    };
    let bad = || {
        ExportError::Config(
            "the container credentials URI must be https, or http to loopback, 169.254.170.2 or 169.254.170.23".into(),
        )
    };
    let url = Url::parse(&url).map_err(|_| bad())?;
    let host = url.host_str().unwrap_or("");
    let allowed_http = host == "localhost"
        || match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
        {
            Ok(std::net::IpAddr::V4(ip)) => {
                ip.is_loopback()
                    || ip.octets() == [169, 254, 170, 2]
                    || ip.octets() == [169, 254, 170, 23]
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                ip.is_loopback() || ip.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23]
            }
            Err(_) => false,
        };
    if !(url.scheme() == "https" || (url.scheme() == "http" && allowed_http)) {
        return Err(bad());
    }
    Ok(Some(CredentialSource::Container {
        url,
        token: env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        token_file: env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(Into::into),
        cached: tokio::sync::Mutex::new(None),
    }))
}

/// Sealed batches as S3 objects under Object Lock.
pub struct S3Sink {
    url: S3Url,
    bucket: Bucket,
    credentials: CredentialSource,
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
        let source = match Credentials::from_env() {
            Some(c) => CredentialSource::Static(c),
            None => container_source()?.ok_or_else(|| {
                ExportError::Config(
                    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or run with a task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI)".into(),
                )
            })?,
        };
        Self::with_source(url, options, source)
    }

    /// A sink with explicit credentials.
    pub fn with_credentials(
        url: S3Url,
        options: S3Options,
        credentials: Credentials,
    ) -> Result<Self, ExportError> {
        Self::with_source(url, options, CredentialSource::Static(credentials))
    }

    fn with_source(
        url: S3Url,
        options: S3Options,
        credentials: CredentialSource,
    ) -> Result<Self, ExportError> {
        if options.kms_key_id.is_some() && options.sse != ServerSideEncryption::AwsKms {
            return Err(ExportError::Config(
                "a KMS key id needs server-side encryption aws:kms".into(),
            ));
        }
        let region = options
            .region
            .clone()
            .or_else(|| env_nonempty("AWS_REGION"))
            .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL"));
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

    /// Current credentials: the static ones, or the container endpoint's (cached until five
    /// minutes before they expire).
    async fn credentials(&self) -> Result<Credentials, ExportError> {
        let (url, token, token_file, cached) = match &self.credentials {
            CredentialSource::Static(c) => return Ok(c.clone()),
            CredentialSource::Container {
                url,
                token,
                token_file,
                cached,
            } => (url, token, token_file, cached),
        };
        let mut cached = cached.lock().await;
        let now = hippo_core::time_fmt::now_millis() / 1000;
        if let Some((c, expires)) = cached.as_ref() {
            if *expires - 300 > now {
                return Ok(c.clone());
            }
        }
        let fail = |reason: String| ExportError::S3Transport {
            op: "credentials",
            key: "container credentials endpoint".into(),
            reason,
        };
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| fail(format!("authorization token file: {e}")))?
                    .trim()
                    .to_owned(),
            ),
            None => token.clone(),
        };
        let mut req = self.client.get(url.clone());
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status().as_u16())));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        // The response carries the secret: report only that it did not parse.
        let parsed =
            rusty_s3::credentials::Ec2SecurityCredentialsMetadataResponse::deserialize(&text)
                .map_err(|_| fail("unreadable credentials response".into()))?;
        let expires = parsed.expiration().as_second();
        let creds = parsed.into_credentials();
        *cached = Some((creds.clone(), expires));
        Ok(creds)
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
