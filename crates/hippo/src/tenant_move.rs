//! `hippo tenant export|import`: a tenant moved between deployments (or stores) as a sealed,
//! signed archive of its records and audit log (`hippo_store::tenant_archive`).

use anyhow::{bail, Context, Result};
use hippo_core::{Action, LogId, TenantId};
use hippo_server::config::FlagOverrides;
use hippo_store::tenant_archive::{ArchiveFile, ArchivedEvent, TenantArchive};
use hippo_store::{ledger, Store};
use std::path::Path;

pub const PASSPHRASE_ENV: &str = "HIPPO_ARCHIVE_PASSPHRASE";
/// Records per export page and per import transaction.
const PAGE: usize = 1000;

fn passphrase() -> Result<String> {
    std::env::var(PASSPHRASE_ENV).with_context(|| {
        format!(
            "set {PASSPHRASE_ENV} to the archive's passphrase (at least {} characters)",
            hippo_store::escrow::MIN_PASSPHRASE_CHARS
        )
    })
}

pub async fn export(
    data_dir: &Path,
    store: &dyn Store,
    tenant: &TenantId,
    out: &Path,
) -> Result<()> {
    let pass = passphrase()?;
    if out.exists() {
        bail!("{} exists; choose a new file", out.display());
    }
    if !store.list_tenants().await?.iter().any(|t| &t.id == tenant) {
        bail!("there is no tenant {tenant} here (`hippo tenant list`)");
    }
    let mut versions = Vec::new();
    let mut after = None;
    loop {
        let draft = crate::operator_draft(Some(tenant.clone()), Action::TenantExport);
        let page = store.export_versions(tenant, after, PAGE, draft).await?;
        versions.extend(page.versions);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    // A fresh head covers the export's own events, so the archive's log verifies to its end.
    let log = LogId::Tenant(tenant.clone());
    store.sign_tree_head(&log).await?;
    let leaves = ledger::all_leaves(store, &log).await?;
    let archive = TenantArchive {
        format: hippo_store::tenant_archive::FORMAT.into(),
        tenant: tenant.clone(),
        exported_at_ms: hippo_core::time_fmt::now_millis(),
        audit: leaves.iter().map(ArchivedEvent::from).collect(),
        tree_heads: store.tree_heads(&log).await?,
        versions,
    };
    let config = hippo_server::Config::load(data_dir, &FlagOverrides::default())?;
    let key = config.load_keyring(data_dir)?.ledger_keys()?.signing;
    let file = archive.seal(&pass, &key)?;
    hippo_store::keyring::write_private_file(out, serde_json::to_string(&file)?.as_bytes())?;
    eprintln!(
        "Exported tenant {tenant}: {} record version(s), {} audit event(s), {} signed tree head(s), to {} (signed by {}; give that fingerprint to the importer for --expect-key)",
        archive.versions.len(),
        archive.audit.len(),
        archive.tree_heads.len(),
        out.display(),
        key.public_key().fingerprint()
    );
    Ok(())
}

pub async fn import(store: &dyn Store, file: &Path, expect_key: Option<&str>) -> Result<()> {
    let pass = passphrase()?;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&text));
    let parsed: ArchiveFile = serde_json::from_slice(&text)
        .map_err(|_| anyhow::anyhow!("{} is not a tenant archive", file.display()))?;
    // Every check before anything is written: a bad archive leaves this deployment untouched.
    let (archive, signer) = parsed.open(&pass, expect_key, &file.display().to_string())?;
    let tenant = archive.tenant.clone();
    if store.list_tenants().await?.iter().any(|t| t.id == tenant) {
        bail!("tenant {tenant} already exists here; an archive is imported into a new tenant only");
    }
    store
        .create_tenant(&tenant, crate::operator_draft(None, Action::TenantCreate))
        .await?;
    let mut draft = crate::operator_draft(Some(tenant.clone()), Action::TenantImport);
    let head = archive.tree_heads.last();
    draft.detail("archive_sha256", sha.clone());
    draft.detail("source_key", signer.fingerprint().to_string());
    draft.detail("source_log_size", archive.audit.len());
    draft.detail(
        "source_root",
        head.map(|h| hex::encode(h.head.root_hash))
            .unwrap_or_default(),
    );
    draft.detail("versions", archive.versions.len());
    store.append_audit(draft).await?;
    let mut written = 0;
    for chunk in archive.versions.chunks(PAGE) {
        let draft = crate::operator_draft(Some(tenant.clone()), Action::TenantImport);
        written += store
            .import_versions(&tenant, chunk.to_vec(), draft)
            .await?;
    }
    eprintln!(
        "Imported tenant {tenant}: {written} record version(s); its archived audit log ({} events, signed by {}) verified against {} signed tree head(s) and recorded in the tenant's log. Next: hippo apikey create --tenant {tenant} --role admin",
        archive.audit.len(),
        signer.fingerprint(),
        archive.tree_heads.len()
    );
    Ok(())
}
