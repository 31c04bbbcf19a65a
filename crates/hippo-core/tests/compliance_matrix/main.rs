//! The compliance matrix (docs/compliance-matrix.md) checked against the repository: every
//! seed requirement keeps evidence that exists, so a renamed file, a moved line, a removed
//! test or an unknown rule id fails `cargo test` instead of leaving the matrix stale.
//!
//! Format (see the top of the matrix): one table per seed, `id | requirement | evidence`,
//! evidence entries separated by `<br>`, each one of
//! `code: path:LINE `anchor``, `test: path/to/file.rs::test_name`, `rule: HIPPO-...`,
//! `process: reason` or `gap: what is missing`.
//!
//! After code moved, `HIPPO_MATRIX_UPDATE_LINES=1 cargo test -p hippo-core --test
//! compliance_matrix` rewrites the line numbers whose anchor now sits on exactly one other
//! line of the same file (and says which); review the diff like any other change.

mod matrix;
mod relocate;
mod verify;

use std::path::{Path, PathBuf};

/// The matrix, relative to the repository root.
const MATRIX: &str = "docs/compliance-matrix.md";

/// The repository on disk.
struct Checkout(PathBuf);

impl verify::Files for Checkout {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(path)).ok()
    }
}

fn repository_root() -> PathBuf {
    // This test target belongs to crates/hippo-core.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

#[test]
fn the_compliance_matrix_matches_the_repository() {
    let root = Checkout(repository_root());
    let text = verify::Files::read(&root, MATRIX).unwrap_or_else(|| panic!("{MATRIX} is missing"));
    let text = if std::env::var(relocate::UPDATE_VARIABLE).as_deref() == Ok("1") {
        let (fixed, changes) = relocate::relocate(&text, &root);
        for c in &changes {
            eprintln!("{MATRIX}: moved {c}");
        }
        if !changes.is_empty() {
            std::fs::write(root.0.join(MATRIX), &fixed).expect("the matrix is writable");
        }
        fixed
    } else {
        text
    };
    let parsed = matrix::parse(&text);
    assert!(
        parsed.items.len() >= 100,
        "{MATRIX}: only {} items parsed; is the table format intact?",
        parsed.items.len()
    );
    let problems = verify::check(&parsed, &root);
    assert!(
        problems.is_empty(),
        "{MATRIX} is stale ({} problems; {} set to 1 repairs moved lines whose anchor is \
         unique):\n{}",
        problems.len(),
        relocate::UPDATE_VARIABLE,
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
