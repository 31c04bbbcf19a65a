//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hippo_check::engine::{scan, Finding, Options, Outcome};

pub fn fixtures() -> PathBuf {
    // Relative to either crate that includes this module (hippo-check, and hippo for `hippo check`).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hippo-check/tests/fixtures")
}

pub fn scan_paths(paths: &[PathBuf]) -> Outcome {
    let opts = Options {
        paths: paths.to_vec(),
        rules_dir: None,
        baseline: None,
        today: "2026-06-01".into(),
    };
    scan(&opts).expect("scan succeeds")
}

pub fn open(o: &Outcome) -> Vec<&Finding> {
    o.findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .collect()
}

/// Expected (rule, line) pairs: `hippo-expect:` markers, or a `.expect` sidecar (RULE:LINE per line).
pub fn expectations(path: &Path) -> BTreeSet<(String, u32)> {
    let mut out = BTreeSet::new();
    let sidecar = PathBuf::from(format!("{}.expect", path.display()));
    if let Ok(s) = std::fs::read_to_string(&sidecar) {
        for l in s.lines().filter(|l| !l.trim().is_empty()) {
            let (id, line) = l.trim().rsplit_once(':').expect("RULE:LINE");
            out.insert((id.to_string(), line.parse().expect("line number")));
        }
        return out;
    }
    let text = std::fs::read_to_string(path).expect("fixture readable");
    for (i, l) in text.lines().enumerate() {
        if let Some(pos) = l.find("hippo-expect:") {
            for id in l[pos + 13..].split_whitespace() {
                out.insert((id.to_string(), (i + 1) as u32));
            }
        }
    }
    out
}

/// Rule ids a compliant fixture covers: `hippo-good:` header or `.good` sidecar.
pub fn good_rules(path: &Path) -> BTreeSet<String> {
    let sidecar = PathBuf::from(format!("{}.good", path.display()));
    let text = std::fs::read_to_string(&sidecar)
        .or_else(|_| std::fs::read_to_string(path))
        .expect("readable");
    text.lines()
        .filter_map(|l| {
            l.find("hippo-good:")
                .map(|p| l[p + 11..].to_string())
                .or_else(|| sidecar.exists().then(|| l.to_string()))
        })
        .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}
