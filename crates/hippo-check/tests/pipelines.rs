//! Pipeline definitions as the walk finds them: recognised by path under `.github/workflows/`
//! and as `.gitlab-ci.yml`, a broken one is a parse error (not skipped data), and no finding
//! ever repeats the value of a secret.

mod common;

use std::path::PathBuf;

use common::*;

fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("hippo-pipelines-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

#[test]
fn workflows_are_found_by_path_and_broken_ones_are_errors() {
    let root = tree(
        "paths",
        &[
            (
                ".github/workflows/ci.yml",
                "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n",
            ),
            (".github/workflows/broken.yml", "on: push\njobs: [\n"),
            // Not a pipeline: a YAML settings file with a `script` key but no jobs.
            ("tools/config.yml", "script: build.sh\nname: tools\n"),
        ],
    );
    let o = scan_paths(std::slice::from_ref(&root));
    assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
    assert!(o.errors[0].file.ends_with("broken.yml"));
    let pinned: Vec<_> = open(&o)
        .into_iter()
        .filter(|f| f.rule_id == "HIPPO-PIPE-001")
        .collect();
    assert_eq!(pinned.len(), 1);
    assert!(pinned[0].file.ends_with(".github/workflows/ci.yml") && pinned[0].line == 6);
    assert!(!o.findings.iter().any(|f| f.file.ends_with("config.yml")));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn secret_values_never_appear_in_findings() {
    let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3EXAMPLE";
    let root = tree(
        "values",
        &[
            (
                ".gitlab-ci.yml",
                &format!("variables:\n  AWS_SECRET_ACCESS_KEY: \"{key}\"\nbuild:\n  stage: build\n  script:\n    - make\n"),
            ),
            (
                ".github/workflows/ci.yml",
                &format!("on: push\npermissions: {{}}\nenv:\n  AWS_SECRET_ACCESS_KEY: {key}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo {key}\n"),
            ),
        ],
    );
    let o = scan_paths(std::slice::from_ref(&root));
    let keys: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.rule_id == "HIPPO-PIPE-003")
        .collect();
    assert_eq!(keys.len(), 2, "{keys:#?}");
    for f in &o.findings {
        assert!(!f.message.contains(key), "{f:?}");
        assert!(!f.message.contains("wJalrXUtnFEMI"), "{f:?}");
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_scan_in_a_local_reusable_workflow_gates_the_deploy() {
    let deploy = "on: push\npermissions: {}\njobs:\n  scan:\n    uses: ./.github/workflows/scan.yml\n  deploy:\n    needs: scan\n    environment: production\n    runs-on: x\n    steps:\n      - run: helm upgrade --install api ./chart\n";
    let scan = "on: workflow_call\npermissions: {}\njobs:\n  iac:\n    runs-on: x\n    steps:\n      - run: hippo check deploy/\n";
    let lint = "on: workflow_call\npermissions: {}\njobs:\n  lint:\n    runs-on: x\n    steps:\n      - run: make lint\n";
    let gated = tree(
        "reusable",
        &[
            (".github/workflows/deploy.yml", deploy),
            (".github/workflows/scan.yml", scan),
        ],
    );
    let o = scan_paths(std::slice::from_ref(&gated));
    assert!(
        !o.findings.iter().any(|f| f.rule_id == "HIPPO-PIPE-007"),
        "{:#?}",
        o.findings
    );
    // The same deploy waiting on a reusable workflow that scans nothing is not gated.
    let ungated = tree(
        "reusable-lint",
        &[
            (".github/workflows/deploy.yml", deploy),
            (".github/workflows/scan.yml", lint),
        ],
    );
    let o2 = scan_paths(std::slice::from_ref(&ungated));
    let hits: Vec<_> = o2
        .findings
        .iter()
        .filter(|f| f.rule_id == "HIPPO-PIPE-007")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0].line, 6);
    let _ = std::fs::remove_dir_all(gated);
    let _ = std::fs::remove_dir_all(ungated);
}
