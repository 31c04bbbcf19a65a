//! Which store the integration scenarios run on: `HIPPO_TEST_STORE` (`sqlite`, the default, or
//! `postgres`), read and parsed once per test process, and the note a store-specific test
//! prints when the selected store is not its own.

use std::io::Write;
use std::sync::OnceLock;

/// The store kind is the product's own type: one name for the concept everywhere.
pub use hippo_store::StoreKind;

/// The variable that selects the store.
pub const STORE_ENV: &str = "HIPPO_TEST_STORE";

/// The store a value of `HIPPO_TEST_STORE` names (unset or empty: SQLite).
pub fn parse_selection(value: Option<&str>) -> Result<StoreKind, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(StoreKind::Sqlite),
        Some(v) => v.parse().map_err(|e| format!("{STORE_ENV}=`{v}`: {e}")),
    }
}

/// The store this test process runs its scenarios on. Parsed on first use; an unknown value
/// panics (every test then fails with the message) rather than silently testing SQLite.
pub fn store_kind() -> StoreKind {
    static SELECTED: OnceLock<StoreKind> = OnceLock::new();
    *SELECTED.get_or_init(|| {
        let value = std::env::var(STORE_ENV).ok();
        let kind = parse_selection(value.as_deref()).unwrap_or_else(|e| panic!("{e}"));
        note(&format!(
            "hippo-testkit: integration scenarios run on store: {kind} ({}={})",
            STORE_ENV,
            value.as_deref().unwrap_or("unset")
        ));
        kind
    })
}

/// True if the scenarios run on `store`. Otherwise prints that the calling test is skipped, and
/// why, so that a store-specific test reads `if !runs_on(StoreKind::Postgres, "...") { return; }`.
pub fn runs_on(store: StoreKind, why: &str) -> bool {
    let selected = store_kind();
    if selected != store {
        note(&format!(
            "SKIPPED on {selected}: {} ({store} only: {why})",
            current_test()
        ));
    }
    selected == store
}

/// The running test's name (the test harness names each test's thread after it).
pub fn current_test() -> String {
    std::thread::current().name().unwrap_or("a test").to_owned()
}

/// Writes a line to the process's stderr past the test harness's output capture (which only
/// takes `print!`/`eprint!`), so that which store ran, and what was skipped, shows in every run.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_names_a_store_or_is_refused() {
        assert_eq!(parse_selection(None), Ok(StoreKind::Sqlite));
        assert_eq!(parse_selection(Some("")), Ok(StoreKind::Sqlite));
        assert_eq!(parse_selection(Some("sqlite")), Ok(StoreKind::Sqlite));
        assert_eq!(parse_selection(Some("postgres")), Ok(StoreKind::Postgres));
        let e = parse_selection(Some("mysql")).unwrap_err();
        assert!(
            e.contains("HIPPO_TEST_STORE=`mysql`") && e.contains("postgres"),
            "{e}"
        );
        for kind in StoreKind::ALL {
            assert_eq!(parse_selection(Some(kind.as_str())), Ok(kind));
        }
    }
}
