//! The configuration's secrets: the PostgreSQL URL and the keyring, which come from the
//! environment or from owner-only files, never from `hippo.toml` or a flag, and never appear in
//! an error.

use super::{Config, ConfigError};
use std::path::{Path, PathBuf};

/// The environment variable that may carry the keyring itself (JSON), as container platforms
/// inject secrets (ECS `secrets`, Kubernetes `secretKeyRef`).
pub const KEYRING_ENV: &str = "HIPPO_KEYRING";

/// The sealed keyring this process has opened, with what it opened to (see
/// `Config::unseal_keyring`).
type Opened = Option<(zeroize::Zeroizing<String>, zeroize::Zeroizing<String>)>;
static OPENED: std::sync::Mutex<Opened> = std::sync::Mutex::new(None);

pub(super) fn keyring_from_env() -> Option<String> {
    std::env::var(KEYRING_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `HIPPO_DATABASE_URL`, if set to something.
pub(super) fn database_url_from_env() -> Option<String> {
    std::env::var("HIPPO_DATABASE_URL")
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
}

impl Config {
    /// The PostgreSQL URL: `HIPPO_DATABASE_URL`, else the contents of `database_url_file`.
    /// Errors name where to put it, never the URL itself (it may carry a password).
    pub fn database_url(&self) -> Result<String, ConfigError> {
        if let Some(url) = database_url_from_env() {
            return Ok(url);
        }
        let Some(path) = &self.database_url_file else {
            return Err(ConfigError::new(
                "database_url_file",
                "store = \"postgres\" needs a database URL",
                "set HIPPO_DATABASE_URL, or database_url_file to a file (mode 600) holding postgres://user:password@host/db?sslmode=verify-full",
            ));
        };
        let unreadable = |why: String| {
            ConfigError::new(
                "database_url_file",
                format!("{}: {why}", path.display()),
                "point it at a readable file holding only the postgres:// URL",
            )
        };
        // The one owner-only check of the code base (the keyring and databases use it too).
        hippo_store::keyring::require_private(path, false).map_err(|e| match e {
            hippo_store::StoreError::Permissions { .. } => ConfigError::new(
                "database_url_file",
                format!("{e} (it holds a database password)"),
                format!("chmod 600 {}", path.display()),
            ),
            other => unreadable(other.to_string()),
        })?;
        let url = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        match url.trim() {
            "" => Err(unreadable("is empty".into())),
            u => Ok(u.to_owned()),
        }
    }

    /// The keyring's path: `keyring_file`, else the data directory's own.
    pub fn keyring_path(&self, data_dir: &Path) -> PathBuf {
        self.keyring_file
            .clone()
            .unwrap_or_else(|| hippo_store::Keyring::path(data_dir))
    }

    /// Whether the keyring comes from outside the data directory (shared by instances).
    pub fn shared_keyring(&self) -> bool {
        self.keyring_file.is_some() || keyring_from_env().is_some()
    }

    /// Loads the keyring: `HIPPO_KEYRING` (the JSON itself), else `keyring_file`, else the data
    /// directory's; a keyring sealed by KMS (`hippo keyring generate --kms-key-id`) is opened
    /// with KMS `Decrypt` first, and KMS failing fails the load. Errors name the key to fix.
    pub fn load_keyring(&self, data_dir: &Path) -> Result<hippo_store::Keyring, ConfigError> {
        if let Some(json) = keyring_from_env().map(zeroize::Zeroizing::new) {
            let json = self.unseal_keyring(json, KEYRING_ENV)?;
            return hippo_store::Keyring::from_json(&json, KEYRING_ENV).map_err(|e| {
                ConfigError::new(
                    "keyring_file",
                    e.to_string(),
                    "set HIPPO_KEYRING to the deployment's keyring JSON (from `hippo keyring generate`, kept in a secret store)",
                )
            });
        }
        let path = self.keyring_path(data_dir);
        let fix = "give every instance the deployment's keyring: HIPPO_KEYRING (its JSON) or keyring_file / HIPPO_KEYRING_FILE (a mode-600 file)";
        let text = hippo_store::Keyring::read_file(&path)
            .map_err(|e| ConfigError::new("keyring_file", e.to_string(), fix))?;
        let source = path.display().to_string();
        let text = self.unseal_keyring(text, &source)?;
        hippo_store::Keyring::from_json(&text, &source)
            .map_err(|e| ConfigError::new("keyring_file", e.to_string(), fix))
    }

    /// The plain keyring JSON: `text` itself, or what KMS opens it to when it is sealed.
    fn unseal_keyring(
        &self,
        text: zeroize::Zeroizing<String>,
        source: &str,
    ) -> Result<zeroize::Zeroizing<String>, ConfigError> {
        let Some(key) = hippo_docs::sealed_keyring::sealed_by(&text) else {
            return Ok(text);
        };
        // One start loads the keyring for the store and again for documents: KMS is asked once.
        let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((sealed, plain)) = opened.as_ref() {
            if sealed.as_str() == text.as_str() {
                return Ok(plain.clone());
            }
        }
        let plain =
            hippo_docs::sealed_keyring::open_blocking(self.documents.kms_endpoint.clone(), &text)
                .map_err(|e| {
                ConfigError::new(
                    "keyring_file",
                    format!("{source} is sealed by KMS key {key}, which did not open it: {e}"),
                    "let this instance reach KMS (AWS_ENDPOINT_URL_KMS or documents.kms_endpoint, AWS_REGION) with credentials allowed kms:Decrypt on that key; the server does not start without its keyring",
                )
            })?;
        *opened = Some((text, plain.clone()));
        Ok(plain)
    }
}
