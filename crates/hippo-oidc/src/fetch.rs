//! HTTPS fetches from the issuer: the discovery document and the JWKS, with timeouts and size
//! limits, over TLS trusting the public web roots plus the operator's `oidc.ca_file`.

use crate::config::OidcConfig;
use crate::error::OidcError;
use reqwest::Url;
use serde::Deserialize;
use std::time::Duration;

/// Discovery documents and JWKS are a few KiB; anything far larger is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The issuer as a URL, refusing anything but a plain https URL.
pub fn issuer_url(issuer: &str) -> Result<Url, OidcError> {
    let bad = |m: &str| OidcError::config("oidc.issuer", m.to_owned());
    let url = Url::parse(issuer).map_err(|_| {
        bad("is not a URL; give the issuer URL, e.g. https://idp.example.com/realms/hippo")
    })?;
    if url.scheme() != "https" {
        return Err(bad(
            "must use https (tokens are verified with keys fetched from it)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad("must not carry a query, fragment or credentials"));
    }
    Ok(url)
}

pub fn client(cfg: &OidcConfig) -> Result<reqwest::Client, OidcError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3));
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            OidcError::config(
                "oidc.ca_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
            OidcError::config(
                "oidc.ca_file",
                format!("{} is not a PEM certificate bundle", path.display()),
            )
        })?;
        if certs.is_empty() {
            return Err(OidcError::config(
                "oidc.ca_file",
                format!("{} holds no certificate", path.display()),
            ));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| OidcError::config("oidc", format!("cannot build the HTTPS client: {e}")))
}

/// GETs `url` and returns its body, refusing non-200 answers and oversized bodies.
pub async fn get(
    client: &reqwest::Client,
    url: &Url,
    what: &'static str,
) -> Result<Vec<u8>, OidcError> {
    let fail = |reason: String| OidcError::IssuerUnreachable { what, reason };
    let mut resp = client
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| fail(format!("GET {url}: {}", error_chain(&e))))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(fail(format!("GET {url} answered {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| fail(format!("reading {url}: {}", error_chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(fail(format!("{url} is larger than {MAX_BODY_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error and its causes (reqwest's own message hides the TLS or connect reason).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Reads `{issuer}/.well-known/openid-configuration` and returns the JWKS URL. The document must
/// name the configured issuer exactly (OpenID Connect Discovery 4.3) and an https `jwks_uri`.
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Url, OidcError> {
    issuer_url(issuer)?;
    let url = Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .map_err(|_| OidcError::config("oidc.issuer", "does not make a discovery URL"))?;
    let body = get(client, &url, "the discovery document").await?;
    let doc: Discovery =
        serde_json::from_slice(&body).map_err(|_| OidcError::IssuerUnreachable {
            what: "the discovery document",
            reason: format!("{url} is not JSON with issuer and jwks_uri"),
        })?;
    if doc.issuer != issuer {
        return Err(OidcError::config(
            "oidc.issuer",
            format!(
                "the discovery document names the issuer {:?}; set oidc.issuer to exactly that (tokens carry it in iss)",
                doc.issuer
            ),
        ));
    }
    let jwks = Url::parse(&doc.jwks_uri).map_err(|_| OidcError::IssuerUnreachable {
        what: "the discovery document",
        reason: "its jwks_uri is not a URL".into(),
    })?;
    if jwks.scheme() != "https" {
        return Err(OidcError::IssuerUnreachable {
            what: "the discovery document",
            reason: "its jwks_uri is not https; keys are only fetched over TLS".into(),
        });
    }
    Ok(jwks)
}
