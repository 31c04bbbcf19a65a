//! The compliance matrix (docs/compliance-matrix.md) checked against the repository: every
//! seed requirement keeps evidence that exists, so a renamed file, a moved line, a removed
//! test or an unknown rule id fails `cargo test` instead of leaving the matrix stale.
//!
//! Format (see the top of the matrix): one table per seed, `id | requirement | evidence`,
//! evidence entries separated by `<br>`, each one of
//! `code: path:LINE `anchor``, `test: path/to/file.rs::test_name`, `rule: HIPPO-...`,
//! `process: reason` or `gap: what is missing`.

mod matrix;
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
    let text = verify::Files::read(&root, MATRIX)
        .unwrap_or_else(|| panic!("{MATRIX} is missing"));
    let parsed = matrix::parse(&text);
    assert!(
        parsed.items.len() >= 100,
        "{MATRIX}: only {} items parsed; is the table format intact?",
        parsed.items.len()
    );
    let problems = verify::check(&parsed, &root);
    assert!(
        problems.is_empty(),
        "{MATRIX} is stale ({} problems):\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
