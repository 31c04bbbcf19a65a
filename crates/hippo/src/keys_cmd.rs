//! `hippo keys`: the document keys of a tenant: rotate (a new key version, every stored
//! document rewrapped under it with a progress bar, old versions retired once nothing refers to
//! them), status, and crypto-shredding of a tenant's or one subject's documents (keys
//! destroyed, proven not to open, audited). Runs beside a running server on the same data
//! directory or bucket: rewrapping replaces each blob whole and keeps every chunk in place,
//! and readers retry a header that changed under them, so reads never fail.

use crate::{open_store, operator_draft};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hippo_core::{Action, RecordFilter, TenantId};
use hippo_docs::{DocMeta, Documents};
use hippo_server::config::FlagOverrides;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new key version for the tenant's documents, rewrap every stored document's data
    /// key under it (in the background of a running server: no read fails), then retire the
    /// versions nothing refers to any more.
    Rotate {
        #[arg(long, value_name = "TENANT")]
        tenant: TenantId,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// The tenant's key versions: the current one and how many stored documents each wraps.
    Status {
        #[arg(long, value_name = "TENANT")]
        tenant: TenantId,
    },
    /// Crypto-shred documents: with --subject, the documents of that subject's records (their
    /// data keys destroyed); without, every document of the tenant (its key versions
    /// destroyed). Proves each no longer opens, then removes it; audited. Irreversible.
    Shred {
        #[arg(long, value_name = "TENANT")]
        tenant: TenantId,
        /// Only the documents of records about this subject.
        #[arg(long, value_name = "SUBJECT")]
        subject: Option<String>,
        /// Required: shredding cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

fn documents(data_dir: &Path) -> Result<Arc<Documents>> {
    let config = hippo_server::Config::load(data_dir, &FlagOverrides::default())?;
    hippo_server::documents_setup::build(&config, data_dir)
        .map_err(anyhow::Error::msg)
        .context("cannot open the documents store")
}

/// How many stored versions each key version wraps.
async fn references(
    docs: &Documents,
    tenant: &str,
    all: &[DocMeta],
) -> Result<BTreeMap<String, usize>> {
    let mut refs = BTreeMap::new();
    for m in all.iter().filter(|m| !m.deleted) {
        *refs.entry(docs.key_ref(tenant, m).await?).or_insert(0) += 1;
    }
    Ok(refs)
}

pub async fn run(data_dir: &Path, cmd: KeysCommand) -> Result<()> {
    let store = open_store(data_dir).await?;
    let docs = documents(data_dir)?;
    match cmd {
        KeysCommand::Status { tenant } => {
            let t = tenant.to_string();
            let all = docs.all_versions(&t).await?;
            println!("current\t{}", docs.provider().current_version(&t).await?);
            for (version, n) in references(&docs, &t, &all).await? {
                println!("{version}\t{n} document version(s)");
            }
        }
        KeysCommand::Rotate { tenant, quiet } => {
            let t = tenant.to_string();
            let before = references(&docs, &t, &docs.all_versions(&t).await?).await?;
            let new = docs.provider().rotate(&t).await?;
            let all: Vec<DocMeta> = docs
                .all_versions(&t)
                .await?
                .into_iter()
                .filter(|m| !m.deleted)
                .collect();
            let bar = if quiet {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(all.len() as u64)
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "rewrapping {pos}/{len} documents [{bar:30}] {per_sec} eta {eta}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            let mut rewrapped = 0usize;
            for m in &all {
                if docs.rewrap(&t, m).await? {
                    rewrapped += 1;
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            // Retire what nothing refers to any more (checked again, after the rewrap).
            let after = references(&docs, &t, &docs.all_versions(&t).await?).await?;
            let mut retired = Vec::new();
            for old in before
                .keys()
                .filter(|v| **v != new && !after.contains_key(*v))
            {
                docs.provider().retire(&t, old).await?;
                retired.push(old.clone());
            }
            let mut draft = operator_draft(Some(tenant.clone()), Action::KeyRotate);
            draft.resource_id = Some(new.clone());
            draft.detail("rewrapped", rewrapped);
            draft.detail("retired", retired.clone());
            store.append_audit(draft).await?;
            eprintln!(
                "Tenant {t}: documents are now wrapped under {new}; {rewrapped} rewrapped; retired: {}",
                if retired.is_empty() { "none".to_owned() } else { retired.join(", ") }
            );
        }
        KeysCommand::Shred {
            tenant,
            subject,
            yes,
        } => {
            if !yes {
                bail!("shredding destroys keys for good: add --yes to confirm");
            }
            let t = tenant.to_string();
            let all = docs.all_versions(&t).await?;
            let targets: Vec<DocMeta> = match &subject {
                None => all,
                Some(subj) => {
                    let records = subject_records(store.as_ref(), &tenant, subj).await?;
                    all.into_iter()
                        .filter(|m| records.contains(&m.record_id))
                        .collect()
                }
            };
            let live: Vec<&DocMeta> = targets.iter().filter(|m| !m.deleted).collect();
            // Each object's wrapped data key is destroyed; for a whole tenant its key versions
            // too (so even a copy of a blob taken before never opens again).
            for m in &live {
                docs.destroy_key(&t, m).await?;
            }
            if subject.is_none() {
                docs.provider().destroy_tenant(&t).await?;
            }
            docs.forget_keys();
            // The proof: not one of them opens any more.
            let mut still = 0usize;
            for m in &live {
                if docs.still_opens(&t, m).await {
                    still += 1;
                }
            }
            let mut draft = operator_draft(Some(tenant.clone()), Action::DocumentShred);
            draft.subject_id = subject.clone();
            draft.detail("document_versions", live.len());
            draft.detail("still_open", still);
            if still > 0 {
                draft.outcome = hippo_core::Outcome::Error;
                store.append_audit(draft).await?;
                bail!(
                    "{still} document version(s) still open after shredding; nothing was removed"
                );
            }
            for m in &targets {
                docs.remove_version(&t, m).await?;
            }
            store.append_audit(draft).await?;
            eprintln!(
                "Shredded {} document version(s) of {}: their keys are destroyed and none opens any more.",
                live.len(),
                match &subject {
                    Some(_) => format!("one subject of tenant {t}"),
                    None => format!("tenant {t}"),
                }
            );
        }
    }
    store.shutdown().await;
    Ok(())
}

/// Ids of the tenant's records (deleted ones too) about `subject`, read as an audited list.
async fn subject_records(
    store: &dyn hippo_store::Store,
    tenant: &TenantId,
    subject: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let filter = RecordFilter {
            record_type: None,
            subject: Some(subject.to_owned()),
            updated_since_ms: None,
            include_deleted: true,
        };
        let page = store
            .list_records(
                tenant,
                filter,
                after,
                1000,
                operator_draft(Some(tenant.clone()), Action::RecordList),
            )
            .await?;
        out.extend(page.items.iter().map(|r| r.id.to_string()));
        match page
            .next_cursor
            .as_deref()
            .and_then(|c| hippo_core::cursor::decode(c).ok())
            .and_then(|p| p.parse().ok())
        {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}
