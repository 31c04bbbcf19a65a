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
}

pub async fn run(store: &dyn Store, cmd: RecordsCommand) -> Result<()> {
    match cmd {
        RecordsCommand::Verify { tenant, json } => {
            let tenants = match tenant {
                Some(t) => vec![t],
                None => store
                    .list_tenants()
                    .await?
                    .into_iter()
                    .map(|t| t.id)
                    .collect(),
            };
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
