//! `.hippocheckignore`: the one place a repository excludes paths from the gate (gitignore
//! syntax, reasons in comments). Files it names are never scanned; everything else still is.

mod common;

use common::*;

const BAD_BUCKET: &str = "resource \"aws_s3_bucket\" \"phi\" {\n  bucket = \"phi\"\n}\n";

#[test]
fn paths_in_the_ignore_file_are_not_scanned_and_the_rest_still_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::create_dir_all(dir.path().join("infra")).unwrap();
    std::fs::write(dir.path().join("fixtures/bad.tf"), BAD_BUCKET).unwrap();
    std::fs::write(dir.path().join("infra/main.tf"), BAD_BUCKET).unwrap();

    let before = scan_paths(&[dir.path().to_path_buf()]);
    let files_with_findings = |o: &hippo_check::engine::Outcome| {
        let mut files: Vec<String> = open(o).iter().map(|f| f.file.to_string()).collect();
        files.sort();
        files.dedup();
        files
    };
    assert_eq!(
        files_with_findings(&before).len(),
        2,
        "both files are judged without an ignore file"
    );

    std::fs::write(
        dir.path().join(".hippocheckignore"),
        "# deliberately bad fixtures for the rule tests\nfixtures/\n",
    )
    .unwrap();
    let after = scan_paths(&[dir.path().to_path_buf()]);
    let files = files_with_findings(&after);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("infra/main.tf"), "{files:?}");
}
