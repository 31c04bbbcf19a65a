//! Which store the integration scenarios run on: `HIPPO_TEST_STORE` (`sqlite`, the default, or
//! `postgres`), read and parsed once per test process, and the note a store-specific test
//! prints when the selected store is not its own.

use std::io::Write;
use std::sync::OnceLock;

/// A storage backend the server can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// The embedded store: SQLCipher files in the data directory.
    Sqlite,
    /// PostgreSQL; each test server gets a fresh database of its own (see [`crate::pg`]).
    Postgres,
}

impl StoreKind {
    /// The variable that selects the store.
    pub const ENV: &'static str = "HIPPO_TEST_STORE";
    /// Every store, in the order the suite documents them.
    pub const ALL: [StoreKind; 2] = [StoreKind::Sqlite, StoreKind::Postgres];

    /// The name used in `HIPPO_TEST_STORE`, in `--store` and in `/version`.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }

    /// The store a value of `HIPPO_TEST_STORE` names (unset or empty: SQLite).
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("sqlite") => Ok(StoreKind::Sqlite),
            Some("postgres") => Ok(StoreKind::Postgres),
            Some(other) => Err(format!(
                "{}=`{other}` names no store: use `sqlite` (the default) or `postgres`",
                Self::ENV
            )),
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The store this test process runs its scenarios on. Parsed on first use; an unknown value
/// panics (every test then fails with the message) rather than silently testing SQLite.
pub fn store_kind() -> StoreKind {
    static SELECTED: OnceLock<StoreKind> = OnceLock::new();
    *SELECTED.get_or_init(|| {
        let value = std::env::var(StoreKind::ENV).ok();
        let kind = StoreKind::parse(value.as_deref()).unwrap_or_else(|e| panic!("{e}"));
        note(&format!(
            "hippo-testkit: integration scenarios run on store: {kind} ({}={})",
            StoreKind::ENV,
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
        assert_eq!(StoreKind::parse(None), Ok(StoreKind::Sqlite));
        assert_eq!(StoreKind::parse(Some("")), Ok(StoreKind::Sqlite));
        assert_eq!(StoreKind::parse(Some("sqlite")), Ok(StoreKind::Sqlite));
        assert_eq!(StoreKind::parse(Some("postgres")), Ok(StoreKind::Postgres));
        let e = StoreKind::parse(Some("mysql")).unwrap_err();
        assert!(
            e.contains("HIPPO_TEST_STORE=`mysql`") && e.contains("`postgres`"),
            "{e}"
        );
        for kind in StoreKind::ALL {
            assert_eq!(StoreKind::parse(Some(kind.name())), Ok(kind));
        }
    }
}
