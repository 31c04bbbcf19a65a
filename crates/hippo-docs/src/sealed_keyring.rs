//! A keyring sealed by AWS KMS: the whole keyring JSON (key-encryption key, audit signing
//! seed) encrypted by KMS `Encrypt` under a deployment key, so that the secret injected into
//! instances (`HIPPO_KEYRING`, `keyring_file`) reveals nothing on its own: opening it takes a
//! KMS `Decrypt` that only the instances' role may make, and that CloudTrail records.
//!
//! The envelope is `{"format": "hippo-keyring-kms/v1", "kms_key_id": …, "ciphertext": …}`;
//! the encryption context binds the ciphertext to being a Hippo keyring. Opening fails closed:
//! KMS unreachable or refusing means the keyring, and so the server, does not load.

use crate::kms::KmsClient;
use crate::DocError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// The envelope's `format` value.
pub use hippo_store::keyring::SEALED_FORMAT as FORMAT;

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    kms_key_id: String,
    ciphertext: String,
}

fn context() -> Value {
    json!({"hippo:purpose": "keyring"})
}

/// Whether `text` is a KMS-sealed keyring (rather than a plain one, or something else).
pub fn is_sealed(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .map(|v| v["format"] == FORMAT)
        .unwrap_or(false)
}

/// The KMS key a sealed keyring names, if `text` is one.
pub fn sealed_by(text: &str) -> Option<String> {
    serde_json::from_str::<Envelope>(text)
        .ok()
        .filter(|e| e.format == FORMAT)
        .map(|e| e.kms_key_id)
}

/// Seals a plain keyring's JSON under `kms_key_id`: the envelope to store in place of it.
pub async fn seal(client: &KmsClient, kms_key_id: &str, plain: &str) -> Result<String, DocError> {
    let ciphertext = client
        .encrypt(kms_key_id, plain.as_bytes(), &context())
        .await?;
    let envelope = Envelope {
        format: FORMAT.to_owned(),
        kms_key_id: kms_key_id.to_owned(),
        ciphertext: STANDARD.encode(ciphertext),
    };
    Ok(serde_json::to_string_pretty(&envelope).expect("serialises"))
}

/// Opens a sealed keyring: the plain keyring JSON.
pub async fn open(client: &KmsClient, text: &str) -> Result<Zeroizing<String>, DocError> {
    let envelope: Envelope = serde_json::from_str(text)
        .ok()
        .filter(|e: &Envelope| e.format == FORMAT)
        .ok_or_else(|| DocError::KeyState("not a KMS-sealed keyring".into()))?;
    let ciphertext = STANDARD
        .decode(envelope.ciphertext.trim())
        .map_err(|_| DocError::KeyState("the sealed keyring's ciphertext is not base64".into()))?;
    let plain = client
        .decrypt(&envelope.kms_key_id, &ciphertext, &context())
        .await?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| DocError::KeyState("the sealed keyring does not hold a keyring".into()))
}

/// [`open`] for synchronous callers (keyring loading at start, which may itself run inside a
/// runtime): the KMS call runs on a thread of its own with its own small runtime.
pub fn open_blocking(endpoint: Option<String>, text: &str) -> Result<Zeroizing<String>, DocError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| DocError::KeyState(format!("a runtime for KMS: {e}")))?;
            rt.block_on(async {
                let client = KmsClient::from_env(endpoint, None)?;
                open(&client, text).await
            })
        })
        .join()
        .unwrap_or_else(|_| Err(DocError::KeyState("opening the keyring panicked".into())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_told_apart_from_plain_keyrings() {
        let sealed = r#"{"format":"hippo-keyring-kms/v1","kms_key_id":"arn:aws:kms:eu-west-1:1:key/k","ciphertext":"AAAA"}"#;
        assert!(is_sealed(sealed));
        assert_eq!(
            sealed_by(sealed).as_deref(),
            Some("arn:aws:kms:eu-west-1:1:key/k")
        );
        for other in [
            r#"{"version":1,"kek":"x"}"#,
            r#"{"format":"hippo-keyring-kms/v2","kms_key_id":"k","ciphertext":"A"}"#,
            "not json",
        ] {
            assert!(!is_sealed(other), "{other}");
            assert_eq!(sealed_by(other), None);
        }
    }
}
