//! `hippo records`: operator commands over stored records, run on the host against the same
//! data directory (or database) as `hippo serve`.

use anyhow::{bail, Result};
use clap::Subcommand;
use hippo_core::{Action, TenantId};
use hippo_store::Store;

/// Records per round trip of a scan: big enough to keep the database busy, small enough to
/// keep each audited read short beside a running server.
const SCAN_PAGE: usize = 500;

#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Check every stored version of every record against its integrity hash; lists the
    /// versions that fail (by record id and version, never their content) and exits 1 if any
    /// does. Each page scanned is recorded in the tenant's audit log.
    Verify {
        /// Only this tenant [default: every tenant].
        #[arg(long, value_name = "TENANT")]
        tenant: Option<TenantId>,
        /// Print one JSON object per tenant instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from every record's current version, under the `[search]`
    /// settings of this data directory: run it after an upgrade that changed the index (hippo
    /// says so in its release notes) or after changing `[search.types]`. Safe beside a running
    /// server: each page is one short write transaction, recorded in the tenant's audit log.
    Reindex {
        /// Only this tenant [default: every tenant].
        #[arg(long, value_name = "TENANT")]
        tenant: Option<TenantId>,
        /// No progress line on stderr.
        #[arg(long)]
        quiet: bool,
    },
}

/// The named tenant, or every tenant.
async fn tenants(store: &dyn Store, tenant: Option<TenantId>) -> Result<Vec<TenantId>> {
    Ok(match tenant {
        Some(t) => vec![t],
        None => store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect(),
    })
}

pub async fn run(store: &dyn Store, cmd: RecordsCommand) -> Result<()> {
    match cmd {
        RecordsCommand::Reindex { tenant, quiet } => {
            let mut unreadable = 0usize;
            for t in tenants(store, tenant).await? {
                let (records, failures) = reindex(store, &t, quiet).await?;
                if !quiet {
                    eprintln!();
                }
                println!("tenant {t}: {records} record(s) re-indexed");
                for f in &failures {
                    println!("  SKIPPED record {} version {} (fails its integrity check; its index entry is unchanged)", f.id, f.version);
                }
                unreadable += failures.len();
            }
            if unreadable > 0 {
                bail!("{unreadable} record(s) could not be re-indexed (listed above); `hippo records verify` shows every failing version");
            }
            Ok(())
        }
        RecordsCommand::Verify { tenant, json } => {
            let tenants = tenants(store, tenant).await?;
            let mut failed = 0usize;
            for t in tenants {
                let (records, versions, failures) = scan(store, &t, json).await?;
                failed += failures.len();
                if json {
                    let list: Vec<_> = failures
                        .iter()
                        .map(|f| serde_json::json!({"id": f.id.to_string(), "version": f.version}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::json!({"tenant": t.as_str(), "records": records, "versions": versions, "integrity_failures": list})
                    );
                } else {
                    println!(
                        "tenant {t}: {records} record(s), {versions} version(s) checked, {} failing",
                        failures.len()
                    );
                    for f in &failures {
                        println!("  FAILED record {} version {}", f.id, f.version);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} record version(s) fail their integrity check (listed above); restore them from a backup, or write a new version with PUT");
            }
            Ok(())
        }
    }
}

/// Scans one tenant page by page, reporting progress on stderr for large tenants.
async fn scan(
    store: &dyn Store,
    tenant: &TenantId,
    quiet: bool,
) -> Result<(usize, usize, Vec<hippo_store::IntegrityFailure>)> {
    let (mut records, mut versions, mut failures) = (0, 0, Vec::new());
    let mut after = None;
    loop {
        let draft = crate::operator_draft(Some(tenant.clone()), Action::RecordVerify);
        let page = store
            .verify_records(tenant, after, SCAN_PAGE, draft)
            .await?;
        records += page.records_checked;
        versions += page.versions_checked;
        failures.extend(page.failures);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok((records, versions, failures)),
        }
        if !quiet {
            eprint!("\rtenant {tenant}: {records} record(s) checked");
        }
    }
}

/// Re-indexes one tenant page by page, reporting progress on stderr.
async fn reindex(
    store: &dyn Store,
    tenant: &TenantId,
    quiet: bool,
) -> Result<(usize, Vec<hippo_store::IntegrityFailure>)> {
    let (mut records, mut failures) = (0, Vec::new());
    let mut after = None;
    let started = std::time::Instant::now();
    loop {
        let draft = crate::operator_draft(Some(tenant.clone()), Action::SearchReindex);
        let page = store
            .reindex_search(tenant, after, SCAN_PAGE, draft)
            .await?;
        records += page.records;
        failures.extend(page.unreadable);
        if !quiet {
            let rate = records as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!("\rtenant {tenant}: {records} record(s) re-indexed ({rate:.0}/s)");
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok((records, failures)),
        }
    }
}
