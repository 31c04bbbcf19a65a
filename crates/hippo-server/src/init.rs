//! First-run initialisation of a data directory (what `hippo init` and the first `hippo serve`
//! do): configuration file, keyring, TLS material, databases, the `default` tenant and an admin key.

use crate::config::{Config, ConfigError, FlagOverrides, CONFIG_FILE};
use hippo_core::{apikey, Action, Actor, AuditDraft, Role, TenantId};
use hippo_store::keyring::{create_private_dir, write_private_file};
use hippo_store::{NewApiKey, SqliteStore, Store, StoreError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// What initialisation did.
pub struct Initialized {
    pub store: SqliteStore,
    pub config: Config,
    /// The first admin key's token: present only on the run that created it.
    pub admin_token: Option<String>,
    pub ca_file: Option<PathBuf>,
}

/// An empty directory someone made for us (typically 0755 by umask) is ours to lock down.
fn adopt_empty_dir(dir: &Path) -> Result<(), StoreError> {
    let empty = std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            StoreError::Io {
                path: dir.display().to_string(),
                source: e,
            }
        })?;
    }
    Ok(())
}

/// Opens the data directory, initialising whatever is missing. A second run reuses everything.
pub async fn ensure(data_dir: &Path, flags: &FlagOverrides) -> Result<Initialized, InitError> {
    let fresh = !SqliteStore::exists(data_dir);
    if fresh {
        create_private_dir(data_dir)?;
        adopt_empty_dir(data_dir)?;
        let cfg_path = data_dir.join(CONFIG_FILE);
        if !cfg_path.exists() {
            write_private_file(&cfg_path, Config::template().as_bytes())?;
        }
    }
    let config = Config::load(data_dir, flags)?;
    let ca_file = if config.tls.cert_file.is_none() {
        crate::tls::ensure_self_signed(data_dir)?;
        Some(crate::tls::ca_path(data_dir))
    } else {
        None
    };
    if !fresh {
        let store = SqliteStore::open(data_dir)?;
        return Ok(Initialized {
            store,
            config,
            admin_token: None,
            ca_file,
        });
    }
    let store = SqliteStore::create(data_dir)?;
    let tenant: TenantId = DEFAULT_TENANT.parse().expect("valid tenant id");
    let draft = AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "init");
    store.create_tenant(&tenant, draft).await?;
    let token = create_key(&store, &tenant, Role::Admin, "initial admin").await?;
    Ok(Initialized {
        store,
        config,
        admin_token: Some(token),
        ca_file,
    })
}

/// Creates an API key as the operator (command line) and returns its token.
pub async fn create_key(
    store: &dyn Store,
    tenant: &TenantId,
    role: Role,
    name: &str,
) -> Result<String, StoreError> {
    let minted = apikey::mint(&hippo_store::random::bytes::<{ apikey::RANDOM_BYTES }>()?);
    let token = minted.token.clone();
    let draft = AuditDraft::new(
        Some(tenant.clone()),
        Actor::operator(),
        Action::ApiKeyCreate,
        &format!("cli-{}", uuid::Uuid::now_v7()),
    );
    let key = NewApiKey {
        tenant: tenant.clone(),
        role,
        name: name.to_owned(),
        minted,
        created_by: "operator".into(),
    };
    store.create_api_key(key, draft).await?;
    Ok(token)
}
