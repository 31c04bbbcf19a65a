//! First-run initialisation of a data directory (what `hippo init` and the first `hippo serve`
//! do): configuration file, keyring, TLS material, databases, the `default` tenant and an admin key.

use crate::config::{Config, ConfigError, FlagOverrides, CONFIG_FILE};
use hippo_core::{apikey, Action, Actor, AuditDraft, Role, TenantId};
use hippo_store::keyring::{create_private_dir, write_private_file};
use hippo_store::{NewApiKey, PgSettings, PgStore, SqliteStore, Store, StoreError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    pub store: Arc<dyn Store>,
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
    if config.store == hippo_store::StoreKind::Postgres {
        return ensure_postgres(data_dir, config, ca_file).await;
    }
    if !fresh {
        let store = Arc::new(open_sqlite(data_dir, &config)?);
        return Ok(Initialized {
            store,
            config,
            admin_token: None,
            ca_file,
        });
    }
    let store = Arc::new(SqliteStore::create_with(data_dir, config.sqlite.clone())?);
    let tenant: TenantId = DEFAULT_TENANT.parse().expect("valid tenant id");
    let draft = AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "init");
    store.create_tenant(&tenant, draft).await?;
    let token = create_key(store.as_ref(), &tenant, Role::Admin, "initial admin", None).await?;
    record_retention_override(store.as_ref(), &config).await?;
    Ok(Initialized {
        store,
        config,
        admin_token: Some(token),
        ca_file,
    })
}

/// Connects to the configured PostgreSQL database (see [`Config::database_url`]).
/// The keyring is `keyring_file` (shared by every instance) or the data directory's own.
pub async fn connect_postgres(data_dir: &Path, config: &Config) -> Result<PgStore, InitError> {
    // The data directory holds the TLS key (and usually the keyring) on this store too: refuse
    // one that others can enter, as the embedded store does.
    hippo_store::keyring::require_private(data_dir, true)?;
    let url = config.database_url()?;
    let keys = config.load_keyring(data_dir)?.ledger_keys()?;
    Ok(PgStore::connect(&url, PgSettings::default(), keys).await?)
}

/// The scale-out start: the data directory keeps only configuration, the keyring and TLS
/// material; the database is shared. The first instance to find it without tenants creates
/// `default` and its admin key; one starting at the same moment finds the tenant taken and
/// prints no key.
async fn ensure_postgres(
    data_dir: &Path,
    config: Config,
    ca_file: Option<PathBuf>,
) -> Result<Initialized, InitError> {
    if !config.shared_keyring() && !hippo_store::Keyring::path(data_dir).exists() {
        hippo_store::Keyring::create(data_dir)?;
    }
    let store = Arc::new(connect_postgres(data_dir, &config).await?);
    let mut admin_token = None;
    if store.list_tenants().await?.is_empty() {
        let tenant: TenantId = DEFAULT_TENANT.parse().expect("valid tenant id");
        let draft = AuditDraft::new(None, Actor::operator(), Action::TenantCreate, "init");
        match store.create_tenant(&tenant, draft).await {
            Ok(_) => {
                admin_token = Some(
                    create_key(store.as_ref(), &tenant, Role::Admin, "initial admin", None).await?,
                )
            }
            Err(StoreError::TenantExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Initialized {
        store,
        config,
        admin_token,
        ca_file,
    })
}

/// Opens the store the data directory's configuration names, for command-line operations.
pub async fn open_store(data_dir: &Path) -> Result<Arc<dyn Store>, InitError> {
    let config = Config::load(data_dir, &FlagOverrides::default())?;
    if config.store == hippo_store::StoreKind::Postgres {
        return Ok(Arc::new(connect_postgres(data_dir, &config).await?));
    }
    Ok(Arc::new(open_sqlite(data_dir, &config)?))
}

/// The embedded store with the configured keyring (which KMS may have to open first).
pub fn open_sqlite(data_dir: &Path, config: &Config) -> Result<SqliteStore, InitError> {
    // (The data directory's privacy is checked by open_with_keyring.)
    let keyring = config.load_keyring(data_dir)?;
    Ok(SqliteStore::open_with_keyring(
        data_dir,
        keyring,
        config.sqlite.clone(),
    )?)
}

/// Creates an API key as the operator (command line) and returns its token.
pub async fn create_key(
    store: &dyn Store,
    tenant: &TenantId,
    role: Role,
    name: &str,
    expires_at_ms: Option<i64>,
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
        expires_at_ms,
    };
    store.create_api_key(key, draft).await?;
    Ok(token)
}

/// A retention shorter than six years is allowed only explicitly, and every start that uses it
/// leaves an event in the system audit log; if that event cannot be written, start fails.
async fn record_retention_override(store: &dyn Store, config: &Config) -> Result<(), StoreError> {
    let days = config.audit.retention_days;
    if days >= crate::config::SIX_YEARS_DAYS {
        return Ok(());
    }
    tracing::warn!(
        retention_days = days,
        "audit retention is shorter than six years (audit.allow_short_retention)"
    );
    let mut draft = AuditDraft::new(
        None,
        Actor::operator(),
        Action::AuditRetentionOverride,
        "start",
    );
    draft.detail("retention_days", days);
    store.append_audit(draft).await.map(|_| ())
}
