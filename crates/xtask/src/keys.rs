//! Release signing keys: Ed25519 in standard PEM files (PKCS#8 private, SPKI public), so that
//! anyone can check a release with OpenSSL alone, without this tool.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Reads a PKCS#8 PEM private key. On Unix the file must not be readable by group or others:
/// a signing key anyone on the build host can read signs anything.
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    refuse_shared_file(path)?;
    let pem = fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an Ed25519 PKCS#8 PEM private key ({e}); create one with `cargo xtask keygen --out DIR`",
            path.display()
        )
    })
}

/// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
pub fn load_public_key(path: &Path) -> Result<VerifyingKey> {
    let pem = fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an Ed25519 public key in PEM ({e})",
            path.display()
        )
    })
}

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| anyhow::anyhow!("the operating system's random source failed: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `release-signing.key.pem` (mode 0600) and `release-signing.pub.pem` into `dir`.
pub fn write_pair(key: &SigningKey, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the private key: {e}"))?;
    let private_path = dir.join(PRIVATE_FILE);
    if private_path.exists() {
        bail!(
            "{} exists; refusing to overwrite a signing key",
            private_path.display()
        );
    }
    write_private(&private_path, private.as_bytes())?;
    write_public(key, &dir.join(PUBLIC_FILE))
}

/// Writes the public half of `key` as SPKI PEM.
pub fn write_public(key: &SigningKey, path: &Path) -> Result<()> {
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the public key: {e}"))?;
    fs::write(path, public).with_context(|| format!("cannot write {}", path.display()))
}

pub const PRIVATE_FILE: &str = "release-signing.key.pem";
pub const PUBLIC_FILE: &str = "release-signing.pub.pem";

/// Signs the artifact's bytes as they are (pure Ed25519, no prehash or framing) so that
/// `openssl pkeyutl -verify -rawin` checks the same signature.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> [u8; 64] {
    key.sign(bytes).to_bytes()
}

/// Strict verification (rejects non-canonical and small-order forms).
pub fn verify(key: &VerifyingKey, bytes: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(bytes, &sig).is_ok()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(unix)]
fn refuse_shared_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "the signing key {} is readable by group or others; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_shared_file(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_pair_loads_back_and_verifies_only_the_signed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        write_pair(&key, dir.path()).unwrap();
        let loaded = load_signing_key(&dir.path().join(PRIVATE_FILE)).unwrap();
        let public = load_public_key(&dir.path().join(PUBLIC_FILE)).unwrap();
        assert_eq!(loaded.verifying_key(), public);
        let sig = sign(&loaded, b"artifact bytes");
        assert!(verify(&public, b"artifact bytes", &sig));
        assert!(!verify(&public, b"artifact bytez", &sig));
        let mut bent = sig;
        bent[10] ^= 1;
        assert!(!verify(&public, b"artifact bytes", &bent));
        assert!(!verify(&public, b"artifact bytes", &sig[..63]));
    }

    #[test]
    fn an_existing_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(&generate().unwrap(), dir.path()).unwrap();
        let err = write_pair(&generate().unwrap(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_group_readable_private_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write_pair(&generate().unwrap(), dir.path()).unwrap();
        let path = dir.path().join(PRIVATE_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_signing_key(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
