//! Transmission security (164.312(e)(1)): TLS 1.2/1.3 with AEAD suites only, and the self-signed
//! CA and localhost certificate made on first run when no certificate is configured.

use crate::config::Config;
use hippo_store::keyring::{create_private_dir, write_private_file};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub const TLS_DIR: &str = "tls";
pub const CA_FILE: &str = "ca.pem";
pub const CERT_FILE: &str = "server.pem";
pub const KEY_FILE: &str = "server.key";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the TLS certificate: {0}")]
    Generate(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

fn file_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Where the generated CA certificate lives (give it to clients to trust).
pub fn ca_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TLS_DIR).join(CA_FILE)
}

/// Creates a CA and a certificate for localhost/127.0.0.1/::1 signed by it, unless present.
/// The CA's private key is discarded: it can never sign anything else.
pub fn ensure_self_signed(data_dir: &Path) -> Result<bool, TlsError> {
    let dir = data_dir.join(TLS_DIR);
    if dir.join(CERT_FILE).exists() && dir.join(KEY_FILE).exists() {
        return Ok(false);
    }
    create_private_dir(&dir).map_err(|e| file_err(&dir, e))?;
    let gen = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let now = OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate().map_err(gen)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "Hippo local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - Duration::days(1);
    ca.not_after = now + Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key).map_err(gen)?;

    let key = KeyPair::generate().map_err(gen)?;
    let names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let mut leaf = CertificateParams::new(names).map_err(gen)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now - Duration::days(1);
    leaf.not_after = now + Duration::days(397);
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(gen)?;

    for (name, pem) in [
        (CA_FILE, ca_cert.pem()),
        (CERT_FILE, cert.pem()),
        (KEY_FILE, key.serialize_pem()),
    ] {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        write_private_file(&path, pem.as_bytes()).map_err(|e| file_err(&path, e))?;
    }
    Ok(true)
}

/// The provider Hippo accepts: ring's AEAD suites only (AES-GCM, ChaCha20-Poly1305).
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..default_provider()
    }
}

/// Builds the server's TLS configuration from the configured or generated certificate.
pub fn server_config(config: &Config, data_dir: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let dir = data_dir.join(TLS_DIR);
    let cert_path = config
        .tls
        .cert_file
        .clone()
        .unwrap_or_else(|| dir.join(CERT_FILE));
    let key_path = config
        .tls
        .key_file
        .clone()
        .unwrap_or_else(|| dir.join(KEY_FILE));
    let certs = {
        let pem = std::fs::read(&cert_path).map_err(|e| file_err(&cert_path, e))?;
        CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(&cert_path, e))?
    };
    if certs.is_empty() {
        return Err(file_err(&cert_path, "contains no PEM certificate"));
    }
    let key = {
        let pem = std::fs::read(&key_path).map_err(|e| file_err(&key_path, e))?;
        match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(key) => key,
            Err(PemError::NoItemsFound) => {
                return Err(file_err(&key_path, "contains no PEM private key"))
            }
            Err(e) => return Err(file_err(&key_path, e)),
        }
    };
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_material_loads_and_key_is_private() {
        let d = tempfile::tempdir().unwrap();
        assert!(ensure_self_signed(d.path()).unwrap());
        assert!(!ensure_self_signed(d.path()).unwrap(), "second run reuses");
        let key = d.path().join(TLS_DIR).join(KEY_FILE);
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let cfg = server_config(&Config::default(), d.path()).unwrap();
        assert_eq!(cfg.alpn_protocols.len(), 2);
    }

    #[test]
    fn only_aead_suites_are_offered() {
        for s in provider().cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(
                name.contains("GCM") || name.contains("CHACHA20_POLY1305"),
                "{name}"
            );
        }
    }
}
