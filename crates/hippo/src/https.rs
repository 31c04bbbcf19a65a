//! HTTPS clients of a running Hippo server, trusting only the deployment's CA (the default
//! `<data-dir>/tls/ca.pem`, or `--ca`): shared by `hippo bench` and `hippo import`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The CA file to trust: `ca` if given, else the data directory's own.
pub fn ca_path(ca: Option<&Path>, data_dir: &Path) -> PathBuf {
    ca.map(Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("tls").join("ca.pem"))
}

/// A client with its own keep-alive HTTP/1.1 connection, trusting only `ca` (no built-in roots:
/// a Hippo deployment has its own CA unless `--ca` names another).
pub fn client(ca: &Path, timeout: Option<std::time::Duration>) -> Result<reqwest::Client> {
    let pem =
        std::fs::read(ca).with_context(|| format!("reading CA certificate {}", ca.display()))?;
    let cert = reqwest::Certificate::from_pem(&pem).context("parsing the CA certificate")?;
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .http1_only()
        .pool_max_idle_per_host(1);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    Ok(builder.build()?)
}
