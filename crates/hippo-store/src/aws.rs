//! AWS plumbing shared by every AWS call Hippo makes (S3 export and documents, KMS, SNS):
//! where credentials come from (fixed keys from the environment, or the ECS/EKS container
//! credentials endpoint, refreshed before they expire), where an endpoint and region come
//! from, and SigV4 signing of a JSON or form request with `aws-sigv4`.
//!
//! Hand-written around `aws-sigv4` rather than through `aws-config` and the SDK clients: those
//! bring the Smithy runtime and a second HTTP and TLS stack for the handful of calls Hippo
//! makes. Secrets never appear in an error or in `Debug` output.

use std::time::{Duration, SystemTime};

/// Static AWS credentials (its `Debug` shows the key id only, never the secret).
pub use rusty_s3::Credentials;

/// Why AWS credentials or a signature could not be had. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or run with a task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI)")]
    Missing,
    #[error("the container credentials URI must be https, or http to loopback, 169.254.170.2 or 169.254.170.23")]
    ContainerUri,
    /// The container credentials endpoint did not give usable credentials (transient: the
    /// call that needed them fails closed, 503).
    #[error("the container credentials endpoint: {0}")]
    Endpoint(String),
    #[error("signing the request: {0}")]
    Signing(String),
}

/// A non-empty, trimmed environment variable.
pub fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The region: `explicit`, else AWS_REGION, AWS_DEFAULT_REGION, else `us-east-1`.
pub fn region(explicit: Option<String>) -> String {
    explicit
        .or_else(|| env_nonempty("AWS_REGION"))
        .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// A service's endpoint override: `explicit`, else AWS_ENDPOINT_URL_<SERVICE>, else
/// AWS_ENDPOINT_URL (as the AWS SDKs read them); `None` means AWS itself.
pub fn endpoint_override(explicit: Option<String>, service_env: &str) -> Option<String> {
    explicit
        .or_else(|| env_nonempty(&format!("AWS_ENDPOINT_URL_{service_env}")))
        .or_else(|| env_nonempty("AWS_ENDPOINT_URL"))
}

/// Where a client's AWS credentials come from.
pub enum AwsCredentials {
    /// Fixed keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    Static(Credentials),
    /// The container credentials endpoint (ECS task role, EKS Pod Identity): temporary keys,
    /// fetched when needed and refreshed five minutes before they expire.
    Container {
        url: reqwest::Url,
        /// AWS_CONTAINER_AUTHORIZATION_TOKEN, or the file of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
        /// (read at each fetch: it is rotated).
        token: Option<String>,
        token_file: Option<std::path::PathBuf>,
        /// The current keys and their expiry (Unix seconds).
        cached: tokio::sync::Mutex<Option<(Credentials, i64)>>,
        http: reqwest::Client,
    },
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(c) => f.debug_tuple("Static").field(&c.key()).finish(),
            Self::Container { url, .. } => f
                .debug_struct("Container")
                .field("url", &url.as_str())
                .finish_non_exhaustive(),
        }
    }
}

impl AwsCredentials {
    /// Credentials from the standard variables: fixed keys first, else the container
    /// endpoint; neither is [`AwsError::Missing`].
    pub fn from_env() -> Result<Self, AwsError> {
        if let Some(c) = Credentials::from_env() {
            return Ok(Self::Static(c));
        }
        let url = if let Some(rel) = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            format!("http://169.254.170.2{rel}")
        } else if let Some(full) = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            full
        } else {
            return Err(AwsError::Missing);
        };
        Self::container(
            &url,
            env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(Into::into),
        )
    }

    /// The container endpoint at `url`. Plain HTTP is accepted only to loopback and the
    /// ECS/EKS link-local agents, as the AWS SDKs do.
    pub fn container(
        url: &str,
        token: Option<String>,
        token_file: Option<std::path::PathBuf>,
    ) -> Result<Self, AwsError> {
        let url = reqwest::Url::parse(url).map_err(|_| AwsError::ContainerUri)?;
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
            return Err(AwsError::ContainerUri);
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AwsError::Endpoint(format!("HTTP client: {e}")))?;
        Ok(Self::Container {
            url,
            token,
            token_file,
            cached: tokio::sync::Mutex::new(None),
            http,
        })
    }

    /// Current credentials: the static ones, or the container endpoint's (cached until five
    /// minutes before they expire).
    pub async fn current(&self) -> Result<Credentials, AwsError> {
        let (url, token, token_file, cached, http) = match self {
            Self::Static(c) => return Ok(c.clone()),
            Self::Container {
                url,
                token,
                token_file,
                cached,
                http,
            } => (url, token, token_file, cached, http),
        };
        let mut cached = cached.lock().await;
        let now = hippo_core::time_fmt::now_millis() / 1000;
        if let Some((c, expires)) = cached.as_ref() {
            if *expires - 300 > now {
                return Ok(c.clone());
            }
        }
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| AwsError::Endpoint(format!("authorization token file: {e}")))?
                    .trim()
                    .to_owned(),
            ),
            None => token.clone(),
        };
        let mut req = http.get(url.clone());
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| AwsError::Endpoint(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(AwsError::Endpoint(format!(
                "HTTP {}",
                resp.status().as_u16()
            )));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| AwsError::Endpoint(e.without_url().to_string()))?;
        // The response carries the secret: report only that it did not parse.
        let parsed =
            rusty_s3::credentials::Ec2SecurityCredentialsMetadataResponse::deserialize(&text)
                .map_err(|_| AwsError::Endpoint("unreadable credentials response".into()))?;
        let expires = parsed.expiration().as_second();
        let creds = parsed.into_credentials();
        *cached = Some((creds.clone(), expires));
        Ok(creds)
    }
}

/// The `host` header value of a URL (with its port when it has one).
fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url).ok().and_then(|u| {
        u.host_str().map(|h| match u.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        })
    })
}

/// Signs a POST of `body` to `url` for `service` in `region` with SigV4: the headers to send
/// (the given ones except `host`, which the HTTP client sets, plus the signature's).
pub fn sign_post(
    credentials: &Credentials,
    service: &str,
    region: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, AwsError> {
    let host = host_of(url).ok_or_else(|| AwsError::Signing("the endpoint is not a URL".into()))?;
    let mut all: Vec<(&str, &str)> = vec![("host", host.as_str())];
    all.extend(headers.iter().copied());
    let creds = aws_credential_types::Credentials::new(
        credentials.key(),
        credentials.secret(),
        credentials.token().map(str::to_owned),
        None,
        "hippo",
    );
    let identity = aws_smithy_runtime_api::client::identity::Identity::from(creds);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .map_err(|e| AwsError::Signing(e.to_string()))?
        .into();
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        url,
        all.iter().copied(),
        aws_sigv4::http_request::SignableBody::Bytes(body),
    )
    .map_err(|e| AwsError::Signing(e.to_string()))?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| AwsError::Signing(e.to_string()))?
        .into_parts();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for (name, value) in instructions.headers() {
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_uris_must_be_https_or_a_local_agent() {
        for ok in [
            "https://creds.example/v1",
            "http://127.0.0.1:8080/x",
            "http://169.254.170.2/v2/credentials/abc",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://localhost/x",
        ] {
            assert!(AwsCredentials::container(ok, None, None).is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1/x", "ftp://127.0.0.1/x", "not a url"] {
            assert_eq!(
                AwsCredentials::container(bad, None, None).unwrap_err(),
                AwsError::ContainerUri,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_signature_names_the_service_region_and_signed_headers_and_never_the_secret() {
        let creds = Credentials::new_with_token("AKIDEXAMPLE", "never-shown-secret", "tok");
        let h = sign_post(
            &creds,
            "kms",
            "eu-west-1",
            "https://kms.eu-west-1.amazonaws.com/",
            &[("content-type", "application/x-amz-json-1.1")],
            b"{}",
        )
        .unwrap();
        let auth = &h.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(auth.contains("/eu-west-1/kms/aws4_request"));
        assert!(auth.contains("SignedHeaders=content-type;host;"));
        assert!(h
            .iter()
            .any(|(n, v)| n == "x-amz-security-token" && v == "tok"));
        assert!(!h.iter().any(|(n, _)| n == "host"), "the client sets host");
        assert!(!format!("{h:?}").contains("never-shown-secret"));
        assert!(!format!("{:?}", AwsCredentials::Static(creds)).contains("never-shown-secret"));
    }
}
