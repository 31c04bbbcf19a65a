//! The webhook alert sink: POSTs the alert as JSON, signed with HMAC-SHA256 over
//! `"<unix seconds>.<body>"` in the `Hippo-Signature` header (`t=<secs>,v1=<hex>`), so a
//! receiver can check both origin and freshness. HTTPS only, except to a loopback address.

use crate::alerts::{AlertSink, SinkError};
use async_trait::async_trait;
use hippo_proto::ops::SecurityAlert;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "hippo-signature";

pub struct WebhookSink {
    url: reqwest::Url,
    secret: zeroize_free::Secret,
    client: reqwest::Client,
}

/// The signing secret, kept out of `Debug` output.
mod zeroize_free {
    pub struct Secret(pub Vec<u8>);
    impl std::fmt::Debug for Secret {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Secret(..)")
        }
    }
}

/// Why a webhook cannot be set up; names the configuration key.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("alerts.webhook_url: {0}")]
    Url(String),
    #[error("alerts.webhook_secret_file: {0}")]
    Secret(String),
    #[error("alerts.webhook_ca_file: {0}")]
    Ca(String),
}

impl WebhookSink {
    pub fn new(url: &str, secret: Vec<u8>, ca_pem: Option<&[u8]>) -> Result<Self, WebhookError> {
        let url =
            reqwest::Url::parse(url).map_err(|e| WebhookError::Url(format!("not a URL ({e})")))?;
        let host = url.host_str().unwrap_or("");
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(WebhookError::Url(
                "must be https:// (plain http is accepted only to a loopback address)".into(),
            ));
        }
        if secret.len() < 16 {
            return Err(WebhookError::Secret(
                "the secret must be at least 16 bytes (e.g. `openssl rand -hex 32`)".into(),
            ));
        }
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| WebhookError::Ca("not a PEM certificate bundle".into()))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b
            .build()
            .map_err(|e| WebhookError::Url(format!("cannot build the HTTPS client: {e}")))?;
        Ok(Self {
            url,
            secret: zeroize_free::Secret(secret),
            client,
        })
    }
}

/// The `Hippo-Signature` value of `body` sent at `unix_secs`.
pub fn signature(secret: &[u8], unix_secs: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_secs},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a `Hippo-Signature` header against `body` (for receivers, and the tests).
pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

#[async_trait]
impl AlertSink for WebhookSink {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn target(&self) -> String {
        format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or("?")
        )
    }

    async fn deliver(&self, alert: &SecurityAlert, body: &[u8]) -> Result<(), SinkError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let resp = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&self.secret.0, now, body))
            .header("hippo-alert-id", &alert.id)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SinkError::Transport(transport(&e)))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(SinkError::Status(resp.status().as_u16()))
        }
    }
}

/// A transport error without the URL (which could carry a token in its path).
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or failed".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_signature_verifies_and_any_change_breaks_it(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            t in 0u64..4_000_000_000,
            flip in 0usize..256,
        ) {
            let secret = b"0123456789abcdef0123";
            let sig = signature(secret, t, &body);
            prop_assert!(verify(secret, &sig, &body));
            prop_assert!(!verify(b"another secret of some length", &sig, &body));
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip % body.len()] ^= 1;
                prop_assert!(!verify(secret, &sig, &changed));
            }
            let later = sig.replacen(&format!("t={t}"), &format!("t={}", t + 1), 1);
            prop_assert!(!verify(secret, &later, &body));
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let s = b"0123456789abcdef".to_vec();
        assert!(WebhookSink::new("http://127.0.0.1:9/x", s.clone(), None).is_ok());
        assert!(WebhookSink::new("http://alerts.example.org/x", s.clone(), None).is_err());
        assert!(WebhookSink::new("https://alerts.example.org/x", s, None).is_ok());
        assert!(WebhookSink::new("https://alerts.example.org/x", b"short".to_vec(), None).is_err());
    }
}
