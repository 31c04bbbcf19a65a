//! `cargo test` covers every store: this process runs the scenarios on the store
//! `HIPPO_TEST_STORE` selects, and when the variable is unset (a developer's plain
//! `cargo test --workspace`), this test runs the whole binary again on PostgreSQL and fails if
//! any scenario fails there. CI sets the variable and runs each store on its own, labelled
//! (see `.ci/run`), so nothing runs twice there.

use hippo_testkit::{pg, store::note, StoreKind};
use std::process::Command;

#[test]
fn every_scenario_also_runs_on_postgres() {
    if std::env::var_os(hippo_testkit::store::STORE_ENV).is_some() {
        return; // This run was asked for one store.
    }
    // A server that is absent or refuses us is a skip, said loudly, as for every PostgreSQL half.
    if pg::TestDatabase::create_blocking("the PostgreSQL run of the integration scenarios")
        .is_none()
    {
        note("SKIPPED the PostgreSQL run of the integration scenarios (see the note above)");
        return;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .env(
            hippo_testkit::store::STORE_ENV,
            StoreKind::Postgres.as_str(),
        )
        .args(["--skip", "every_store::"])
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or("no summary");
    // Not a line starting `test result:`, so summaries that add those up count it once.
    note(&format!("store: postgres (nested run): {summary}"));
    let failures = stdout.find("\nfailures:").map_or("", |i| &stdout[i..]);
    assert!(
        out.status.success(),
        "scenarios failed on PostgreSQL (rerun them with HIPPO_TEST_STORE=postgres):\n{failures}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
