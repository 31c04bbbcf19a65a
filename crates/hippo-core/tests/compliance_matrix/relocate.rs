//! Opt-in repair of drifted line numbers: when code moved but its anchor still appears on
//! exactly one line of the same file, the matrix's `path:LINE` is rewritten to that line.
//! Anchors, paths and everything else are left alone; a missing or ambiguous anchor still
//! fails the check and needs a person.

use crate::matrix::{parse, Evidence};
use crate::verify::Files;

/// Setting this environment variable to `1` makes the matrix test rewrite drifted lines.
pub const UPDATE_VARIABLE: &str = "HIPPO_MATRIX_UPDATE_LINES";

/// Returns the matrix text with every uniquely relocatable `code:` line number updated, and a
/// description of each change.
pub fn relocate(text: &str, files: &dyn Files) -> (String, Vec<String>) {
    let mut out = text.to_owned();
    let mut changes = Vec::new();
    for item in parse(text).items {
        for e in item.evidence {
            let Evidence::Code { path, line, anchor } = e else {
                continue;
            };
            let Some(source) = files.read(&path) else {
                continue;
            };
            let lines: Vec<&str> = source.lines().collect();
            if lines.get(line - 1).is_some_and(|l| l.contains(&anchor)) {
                continue;
            }
            let found: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.contains(&anchor))
                .map(|(i, _)| i + 1)
                .collect();
            if let [now] = found[..] {
                let old = format!("code: {path}:{line} `{anchor}`");
                let new = format!("code: {path}:{now} `{anchor}`");
                if out.contains(&old) {
                    out = out.replace(&old, &new);
                    changes.push(format!("{}: {path}:{line} -> {now} `{anchor}`", item.id));
                }
            }
        }
    }
    (out, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn only_unique_anchors_are_moved() {
        let files = HashMap::from([("a.rs", "\n\nfn moved() {}\nfn twice() {}\nfn twice() {}\n")]);
        let text = "## Seeds\n| S1 | a | b |\n## S1\n\
                    | S1-01 | x | code: a.rs:1 `fn moved` |\n\
                    | S1-02 | y | code: a.rs:1 `fn moved`<br>code: a.rs:1 `fn twice` |\n\
                    | S1-03 | z | code: a.rs:2 `fn gone` |\n";
        let (fixed, changes) = relocate(text, &files);
        assert_eq!(fixed.matches("code: a.rs:3 `fn moved`").count(), 2);
        assert!(
            fixed.contains("code: a.rs:1 `fn twice`"),
            "ambiguous: left for a person"
        );
        assert!(
            fixed.contains("code: a.rs:2 `fn gone`"),
            "missing: left for a person"
        );
        assert_eq!(changes, vec!["S1-01: a.rs:1 -> 3 `fn moved`"]);
    }
}
