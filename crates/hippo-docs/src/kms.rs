//! The AWS KMS key provider: each document's data key is wrapped by KMS `Encrypt` under the
//! configured key, bound by an encryption context to the tenant and object, and unwrapped by
//! `Decrypt`. KMS keeps the key material (and rotates it yearly with automatic rotation);
//! moving documents to another KMS key is `hippo keys rotate` after changing the key id.
//!
//! A small JSON client over the workspace's reqwest, signed with `aws-sigv4` (AWS's own
//! signing crate). `aws-sdk-kms` was not used: it brings the Smithy runtime and a second HTTP
//! and TLS stack for the four calls Hippo makes. KMS unreachable or failing (5xx, throttling)
//! is [`DocError::KeyServiceUnavailable`] (503, fail closed); a refusal (a wrong key, a
//! ciphertext that does not decrypt, a disabled key, access denied) is
//! [`DocError::KeyVersion`]. Credentials come from the environment or a task role
//! (`hippo_store::aws`) and are never logged.

use crate::provider::{DataKey, KeyProvider, Wrapped};
use crate::DocError;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hippo_store::aws::{self, AwsCredentials, AwsError};
use serde_json::{json, Value};
use std::time::Duration;
use zeroize::Zeroizing;

/// A KMS endpoint with credentials: the calls Hippo makes.
pub struct KmsClient {
    endpoint: String,
    region: String,
    credentials: AwsCredentials,
    http: reqwest::Client,
}

impl std::fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl KmsClient {
    /// A client for `endpoint` (default: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, else
    /// `https://kms.<region>.amazonaws.com`) with credentials from the environment: fixed keys,
    /// or the container credentials endpoint of an ECS task role or EKS Pod Identity.
    pub fn from_env(endpoint: Option<String>, region: Option<String>) -> Result<Self, DocError> {
        let region = aws::region(region);
        let endpoint = aws::endpoint_override(endpoint, "KMS")
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        let credentials = AwsCredentials::from_env()
            .map_err(|e| DocError::KeyState(format!("the KMS key provider: {e}")))?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DocError::KeyState(format!("HTTP client: {e}")))?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials,
            http,
        })
    }

    /// One KMS call (`TrentService.<op>`), signed; its JSON answer.
    pub async fn call(&self, op: &str, body: &Value) -> Result<Value, DocError> {
        let body = serde_json::to_vec(body).expect("serialises");
        let url = format!("{}/", self.endpoint);
        let target = format!("TrentService.{op}");
        // No credentials (the container endpoint down) is the key service being unavailable.
        let creds = self
            .credentials
            .current()
            .await
            .map_err(|e| DocError::KeyServiceUnavailable(format!("KMS {op}: {e}")))?;
        let headers = aws::sign_post(
            &creds,
            "kms",
            &self.region,
            &url,
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target.as_str()),
            ],
            &body,
        )
        .map_err(|e| match e {
            AwsError::Signing(_) => {
                DocError::KeyState(format!("the KMS endpoint {:?}: {e}", self.endpoint))
            }
            other => DocError::KeyServiceUnavailable(format!("KMS {op}: {other}")),
        })?;
        let mut req = self.http.post(&url).body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| {
            DocError::KeyServiceUnavailable(format!("KMS {op}: {}", e.without_url()))
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            DocError::KeyServiceUnavailable(format!("KMS {op}: {}", e.without_url()))
        })?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        // `__type` names the error (e.g. InvalidCiphertextException); its message is not
        // repeated (it may quote the request).
        let kind = v["__type"]
            .as_str()
            .unwrap_or("")
            .rsplit('#')
            .next()
            .unwrap_or("")
            .to_owned();
        let kind: String = kind
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(64)
            .collect();
        if status.is_server_error()
            || kind.contains("Throttling")
            || kind == "KMSInternalException"
            || kind == "DependencyTimeoutException"
        {
            return Err(DocError::KeyServiceUnavailable(format!(
                "KMS {op}: HTTP {} {kind}",
                status.as_u16()
            )));
        }
        Err(DocError::KeyVersion(format!(
            "KMS refused {op}: {kind} (HTTP {})",
            status.as_u16()
        )))
    }

    /// Encrypts a small secret under `key_id`, bound to `context`.
    pub async fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &Value,
    ) -> Result<Vec<u8>, DocError> {
        let v = self
            .call("Encrypt", &json!({"KeyId": key_id, "Plaintext": STANDARD.encode(plaintext), "EncryptionContext": context}))
            .await?;
        v["CiphertextBlob"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| {
                DocError::KeyServiceUnavailable("KMS Encrypt: no ciphertext in the answer".into())
            })
    }

    /// Decrypts what [`KmsClient::encrypt`] returned (with the same `key_id` and `context`).
    pub async fn decrypt(
        &self,
        key_id: &str,
        ciphertext: &[u8],
        context: &Value,
    ) -> Result<Zeroizing<Vec<u8>>, DocError> {
        let v = self
            .call("Decrypt", &json!({"KeyId": key_id, "CiphertextBlob": STANDARD.encode(ciphertext), "EncryptionContext": context}))
            .await?;
        v["Plaintext"]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| {
                DocError::KeyServiceUnavailable("KMS Decrypt: no plaintext in the answer".into())
            })
    }
}

/// Documents' data keys wrapped by AWS KMS under one configured key.
pub struct KmsProvider {
    client: KmsClient,
    key_id: String,
}

impl KmsProvider {
    pub fn new(client: KmsClient, key_id: String) -> Self {
        Self { client, key_id }
    }

    fn context(tenant: &str, object: &str) -> Value {
        json!({"hippo:tenant": tenant, "hippo:object": object})
    }
}

#[async_trait]
impl KeyProvider for KmsProvider {
    fn name(&self) -> &'static str {
        "kms"
    }

    async fn wrap(&self, tenant: &str, context: &str, key: &DataKey) -> Result<Wrapped, DocError> {
        let bytes = self
            .client
            .encrypt(
                &self.key_id,
                key.as_slice(),
                &Self::context(tenant, context),
            )
            .await?;
        Ok(Wrapped {
            key_ref: self.key_id.clone(),
            bytes,
        })
    }

    async fn unwrap(
        &self,
        tenant: &str,
        context: &str,
        key_ref: &str,
        bytes: &[u8],
    ) -> Result<DataKey, DocError> {
        let plain = self
            .client
            .decrypt(key_ref, bytes, &Self::context(tenant, context))
            .await?;
        let arr: [u8; 32] = plain.as_slice().try_into().map_err(|_| {
            DocError::KeyVersion(format!(
                "KMS key {key_ref} returned a data key of the wrong size"
            ))
        })?;
        Ok(Zeroizing::new(arr))
    }

    async fn current_version(&self, _tenant: &str) -> Result<String, DocError> {
        Ok(self.key_id.clone())
    }

    /// KMS rotates its key material itself (automatic rotation, deploy/terraform/kms.tf), with
    /// no rewrap needed; `hippo keys rotate` rewraps onto the configured key whatever key an
    /// object names, so moving to a new KMS key is: set `kms_key_id`, then rotate.
    async fn rotate(&self, _tenant: &str) -> Result<String, DocError> {
        Ok(self.key_id.clone())
    }

    /// KMS keys are retired in KMS (schedule deletion), by an operator, not by Hippo.
    async fn retire(&self, _tenant: &str, _key_ref: &str) -> Result<(), DocError> {
        Ok(())
    }

    /// A KMS key may serve every tenant: shredding a tenant destroys its objects' wrapped
    /// data keys instead (see `Documents::destroy_key`), which `hippo keys shred` always does.
    async fn destroy_tenant(&self, _tenant: &str) -> Result<(), DocError> {
        Ok(())
    }
}
