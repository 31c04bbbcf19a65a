//! A real, local OpenID Connect issuer for tests: serves discovery and a JWKS over HTTPS (its
//! own rcgen CA) on 127.0.0.1, and signs real tokens with keys it holds (ES256, EdDSA, RS256).
//!
//! ES256 and Ed25519 keys are generated per issuer. `ring` cannot generate RSA keys, so the one
//! RS256 key is a fixed test-only key (`fixtures/oidc-rs256-test-key.pem`, made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`); it protects nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const RSA_TEST_KEY_PEM: &str = include_str!("fixtures/oidc-rs256-test-key.pem");

/// A signing algorithm the test issuer can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    Es256,
    Rs256,
    EdDsa,
}

impl KeyAlg {
    pub fn jose(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::Rs256 => "RS256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }
}

enum Signer {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

struct SigningKey {
    alg: KeyAlg,
    signer: Signer,
    /// Listed in the JWKS. Unpublished keys still sign: their tokens name an unknown kid.
    published: bool,
}

impl SigningKey {
    fn generate(alg: KeyAlg, rng: &SystemRandom) -> Self {
        let signer = match alg {
            KeyAlg::Es256 => {
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, rng).expect("P-256 key");
                Signer::Es256(
                    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), rng).expect("P-256 key"),
                )
            }
            KeyAlg::EdDsa => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).expect("Ed25519 key");
                Signer::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key"))
            }
            KeyAlg::Rs256 => {
                use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
                let der = PrivateKeyDer::from_pem_slice(RSA_TEST_KEY_PEM.as_bytes())
                    .expect("RSA fixture holds a key");
                Signer::Rs256(RsaKeyPair::from_pkcs8(der.secret_der()).expect("RSA fixture key"))
            }
        };
        Self {
            alg,
            signer,
            published: true,
        }
    }

    /// The public key's bytes: the SEC1 point, the Ed25519 key, or RSA's PKCS#1 DER.
    fn public_bytes(&self) -> Vec<u8> {
        match &self.signer {
            Signer::Es256(k) => k.public_key().as_ref().to_vec(),
            Signer::EdDsa(k) => k.public_key().as_ref().to_vec(),
            Signer::Rs256(k) => k.public_key().as_ref().to_vec(),
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        match &self.signer {
            Signer::Es256(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                       "x": b(&p[1..33]), "y": b(&p[33..65])})
            }
            Signer::EdDsa(k) => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
                                        "alg": "EdDSA", "x": b(k.public_key().as_ref())}),
            Signer::Rs256(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b(&c.n), "e": b(&c.e)})
            }
        }
    }

    fn sign(&self, msg: &[u8], rng: &SystemRandom) -> Vec<u8> {
        match &self.signer {
            Signer::Es256(k) => k.sign(rng, msg).expect("ECDSA signs").as_ref().to_vec(),
            Signer::EdDsa(k) => k.sign(msg).as_ref().to_vec(),
            Signer::Rs256(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, rng, msg, &mut sig)
                    .expect("RSA signs");
                sig
            }
        }
    }
}

/// How to sign one token. Defaults: the current key, its kid and alg in the header.
#[derive(Debug, Clone, Default)]
pub struct MintOptions {
    /// Sign with this key (by kid) instead of the current one.
    pub kid: Option<String>,
    /// Put this kid in the header instead of the signing key's.
    pub header_kid: Option<String>,
    /// Put this alg in the header instead of the signing key's (the signature stays the key's).
    pub header_alg: Option<String>,
}

impl MintOptions {
    pub fn key(kid: &str) -> Self {
        Self {
            kid: Some(kid.into()),
            ..Self::default()
        }
    }
}

struct Keys {
    by_kid: BTreeMap<String, SigningKey>,
    current: String,
    next_serial: usize,
}

struct Shared {
    keys: Mutex<Keys>,
    jwks_fetches: AtomicUsize,
    jwks_down: AtomicBool,
    issuer: String,
}

/// A running test issuer. Dropping it stops the server.
pub struct TestIssuer {
    shared: Arc<Shared>,
    ca_pem: String,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    rng: SystemRandom,
}

impl TestIssuer {
    /// Starts an issuer at `https://127.0.0.1:<port>` publishing three keys: `es256-1` (current),
    /// `rs256-1` and `eddsa-1`.
    pub async fn start() -> Self {
        let rng = SystemRandom::new();
        let mut by_kid = BTreeMap::new();
        for (kid, alg) in [
            ("es256-1", KeyAlg::Es256),
            ("rs256-1", KeyAlg::Rs256),
            ("eddsa-1", KeyAlg::EdDsa),
        ] {
            by_kid.insert(kid.to_owned(), SigningKey::generate(alg, &rng));
        }

        let (ca_pem, server_config) = tls_material();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let issuer = format!("https://{}", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared {
            keys: Mutex::new(Keys {
                by_kid,
                current: "es256-1".into(),
                next_serial: 2,
            }),
            jwks_fetches: AtomicUsize::new(0),
            jwks_down: AtomicBool::new(false),
            issuer,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let task = tokio::spawn(serve(listener, acceptor, shared.clone()));

        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("oidc-ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("write CA file");
        Self {
            shared,
            ca_pem,
            ca_file,
            _dir: dir,
            task,
            rng,
        }
    }

    /// The issuer URL (`iss`), without a trailing slash.
    pub fn url(&self) -> &str {
        &self.shared.issuer
    }

    /// The CA certificate (PEM) that signed the issuer's TLS certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`ca_pem`](Self::ca_pem), for `oidc.ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// How many times the JWKS has been served.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Makes the JWKS endpoint answer 503 (`true`) or serve keys again (`false`).
    pub fn set_jwks_down(&self, down: bool) {
        self.shared.jwks_down.store(down, Ordering::SeqCst);
    }

    /// The kid `mint` signs with by default.
    pub fn current_kid(&self) -> String {
        self.shared.keys.lock().unwrap().current.clone()
    }

    /// The JWKS as currently published.
    pub fn jwks(&self) -> Value {
        jwks(&self.shared.keys.lock().unwrap())
    }

    /// The public key bytes of `kid` (SEC1 point, Ed25519 key, or RSA PKCS#1 DER).
    pub fn public_key_bytes(&self, kid: &str) -> Vec<u8> {
        self.shared.keys.lock().unwrap().by_kid[kid].public_bytes()
    }

    /// Publishes a new key of `alg` and makes it current; unless `keep_old`, the previous current
    /// key leaves the JWKS (it can still sign, for unknown-kid tokens). Returns the new kid.
    /// RS256 is not offered: `ring` cannot generate RSA keys (see the module docs).
    pub fn rotate(&self, alg: KeyAlg, keep_old: bool) -> String {
        assert!(
            alg != KeyAlg::Rs256,
            "the test issuer has one fixed RSA key; rotate ES256 or EdDSA"
        );
        let mut keys = self.shared.keys.lock().unwrap();
        let kid = format!("{}-{}", alg.jose().to_lowercase(), keys.next_serial);
        keys.next_serial += 1;
        keys.by_kid
            .insert(kid.clone(), SigningKey::generate(alg, &self.rng));
        let old = std::mem::replace(&mut keys.current, kid.clone());
        if !keep_old {
            keys.by_kid
                .get_mut(&old)
                .expect("current key exists")
                .published = false;
        }
        kid
    }

    /// A key that signs but was never published: tokens signed with it name an unknown kid.
    pub fn add_unpublished_key(&self, alg: KeyAlg) -> String {
        let mut keys = self.shared.keys.lock().unwrap();
        let kid = format!("unpublished-{}", keys.next_serial);
        keys.next_serial += 1;
        let mut key = SigningKey::generate(alg, &self.rng);
        key.published = false;
        keys.by_kid.insert(kid.clone(), key);
        kid
    }

    /// Signs `claims` (a JSON object) as a compact JWS, as the IdP would.
    pub fn mint(&self, claims: Value, opts: MintOptions) -> String {
        let keys = self.shared.keys.lock().unwrap();
        let kid = opts.kid.unwrap_or_else(|| keys.current.clone());
        let key = keys
            .by_kid
            .get(&kid)
            .unwrap_or_else(|| panic!("no key {kid}"));
        let header = json!({
            "alg": opts.header_alg.as_deref().unwrap_or(key.alg.jose()),
            "typ": "JWT",
            "kid": opts.header_kid.as_deref().unwrap_or(&kid),
        });
        let input = format!("{}.{}", b64_json(&header), b64_json(&claims));
        let sig = key.sign(input.as_bytes(), &self.rng);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Base64url (no padding) of `v`'s JSON, as JWS parts are encoded.
pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

fn jwks(keys: &Keys) -> Value {
    let list: Vec<Value> = keys
        .by_kid
        .iter()
        .filter(|(_, k)| k.published)
        .map(|(kid, k)| k.jwk(kid))
        .collect();
    json!({ "keys": list })
}

/// A fresh CA and a certificate for 127.0.0.1 and localhost signed by it.
fn tls_material() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair as RcKey};
    let ca_key = RcKey::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Hippo test OIDC issuer CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = RcKey::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("leaf params");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("leaf certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("TLS config");
    (ca_cert.pem(), config)
}

async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&shared, req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

fn respond(shared: &Shared, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let json_response = |status: StatusCode, v: Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                serde_json::to_vec(&v).expect("JSON"),
            )))
            .expect("response")
    };
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/.well-known/openid-configuration") => json_response(
            StatusCode::OK,
            json!({
                "issuer": shared.issuer,
                "jwks_uri": format!("{}/jwks", shared.issuer),
                "id_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
            }),
        ),
        ("GET", "/jwks") => {
            shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            if shared.jwks_down.load(Ordering::SeqCst) {
                return json_response(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "down"}));
            }
            json_response(StatusCode::OK, jwks(&shared.keys.lock().unwrap()))
        }
        _ => json_response(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
}
