//! Checks a parsed matrix against the repository: code anchors on their lines, tests that
//! exist as tests, rule ids that docs/rules.md lists, document sections that exist, unique
//! ids, a gap summary that matches the gaps, and at least one item per declared seed.

use crate::matrix::{Evidence, Matrix, Problem};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Read access to the repository, so the checks can run on an in-memory tree in tests.
pub trait Files {
    /// The text of a file given relative to the repository root, or `None` when absent.
    fn read(&self, path: &str) -> Option<String>;
}

/// Files held in memory (for the checker's own tests).
impl Files for HashMap<&str, &str> {
    fn read(&self, path: &str) -> Option<String> {
        self.get(path).map(|s| (*s).to_owned())
    }
}

/// Where docs/rules.md lists the rule ids (one `## HIPPO-...` heading per rule).
pub const RULES_DOC: &str = "docs/rules.md";

/// Attribute markers that make the following `fn` a test. `#[tokio::test(...)]` and
/// `#[test]` inside `proptest!` blocks both match.
const TEST_ATTRIBUTES: [&str; 2] = ["#[test]", "#[tokio::test"];

/// Macros of this repository that generate one `#[tokio::test]` per listed function name
/// (one per store); a name listed in such an invocation is a test of that file.
const TEST_GENERATING_MACROS: [&str; 2] = ["contract!(", "both_stores!("];

/// Runs every check; the problems come back in matrix order, then id order.
pub fn check(matrix: &Matrix, files: &dyn Files) -> Vec<Problem> {
    let mut problems = matrix.problems.clone();
    let mut cache = FileCache {
        files,
        texts: HashMap::new(),
    };
    let rule_ids = cache
        .get(RULES_DOC)
        .map(|t| rule_ids(&t))
        .unwrap_or_default();
    if rule_ids.is_empty() {
        problems.push(Problem::new(
            "matrix",
            format!("{RULES_DOC} is missing or lists no `## HIPPO-` rule"),
        ));
    }

    check_seeds(matrix, &mut problems);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &matrix.items {
        if let Some(first) = seen.insert(&item.id, item.row_line) {
            problems.push(Problem::new(
                &item.id,
                format!(
                    "duplicate id: lines {first} and {} (ids must stay stable and unique)",
                    item.row_line
                ),
            ));
        }
        for e in &item.evidence {
            if let Err(why) = check_evidence(e, &rule_ids, &mut cache) {
                problems.push(Problem::new(&item.id, why));
            }
        }
    }
    check_gap_summary(matrix, &mut problems);
    problems
}

fn check_seeds(matrix: &Matrix, problems: &mut Vec<Problem>) {
    if matrix.seeds.is_empty() {
        problems.push(Problem::new(
            "matrix",
            "no seed is declared under `## Seeds`",
        ));
    }
    let mut declared = BTreeSet::new();
    for s in &matrix.seeds {
        if !declared.insert(s.id.as_str()) {
            problems.push(Problem::new(&s.id, "seed declared twice"));
        }
        if !matrix.items.iter().any(|i| i.seed == s.id) {
            problems.push(Problem::new(&s.id, "declared seed has no item"));
        }
    }
    for item in &matrix.items {
        if !declared.contains(item.seed.as_str()) {
            problems.push(Problem::new(
                &item.id,
                format!("seed {} is not declared under `## Seeds`", item.seed),
            ));
        }
    }
}

/// Every item with a `gap:` is named under `## Gaps`, and every id named there has a gap.
fn check_gap_summary(matrix: &Matrix, problems: &mut Vec<Problem>) {
    let summary: BTreeSet<&str> = matrix.gap_summary_ids.iter().map(String::as_str).collect();
    let with_gap: BTreeSet<&str> = matrix
        .items
        .iter()
        .filter(|i| i.evidence.iter().any(|e| matches!(e, Evidence::Gap { .. })))
        .map(|i| i.id.as_str())
        .collect();
    for id in with_gap.difference(&summary) {
        problems.push(Problem::new(*id, "has a gap but is missing from `## Gaps`"));
    }
    for id in summary.difference(&with_gap) {
        problems.push(Problem::new(
            *id,
            "listed under `## Gaps` but has no `gap:` evidence",
        ));
    }
}

struct FileCache<'a> {
    files: &'a dyn Files,
    texts: HashMap<String, Option<String>>,
}

impl FileCache<'_> {
    fn get(&mut self, path: &str) -> Option<String> {
        let files = self.files;
        self.texts
            .entry(path.to_owned())
            .or_insert_with(|| files.read(path))
            .clone()
    }
}

fn check_evidence(
    e: &Evidence,
    rule_ids: &BTreeSet<String>,
    cache: &mut FileCache<'_>,
) -> Result<(), String> {
    match e {
        Evidence::Code { path, line, anchor } => {
            let text = read_repo_file(cache, path, "code")?;
            check_anchor(&text, path, *line, anchor)
        }
        Evidence::Test { path, name } => {
            let text = read_repo_file(cache, path, "test")?;
            if is_test_in(&text, name) {
                Ok(())
            } else {
                Err(format!(
                    "test `{path}::{name}`: no `fn {name}(` marked `#[test]`/`#[tokio::test]` \
                     (or listed in a store-generating macro) in that file"
                ))
            }
        }
        Evidence::Rule { id } => {
            if rule_ids.contains(id) {
                Ok(())
            } else {
                Err(format!("rule `{id}` is not listed in {RULES_DOC}"))
            }
        }
        Evidence::Process { text } | Evidence::Gap { text } => check_doc_links(text, cache),
    }
}

fn read_repo_file(cache: &mut FileCache<'_>, path: &str, kind: &str) -> Result<String, String> {
    if path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return Err(format!(
            "{kind} path `{path}` must be relative to the repository root"
        ));
    }
    cache
        .get(path)
        .ok_or_else(|| format!("{kind} path `{path}` does not exist"))
}

/// The anchor must be on the given line; when it is not, say where it went.
fn check_anchor(text: &str, path: &str, line: usize, anchor: &str) -> Result<(), String> {
    if text
        .lines()
        .nth(line - 1)
        .is_some_and(|l| l.contains(anchor))
    {
        return Ok(());
    }
    let now: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(anchor))
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    let whereabouts = if now.is_empty() {
        "it is nowhere in the file".to_owned()
    } else {
        format!("it is now on line {}", now.join(", "))
    };
    Err(format!(
        "code `{path}:{line}` does not contain `{anchor}`; {whereabouts}"
    ))
}

/// True when `text` defines `fn name(` as a test: an attribute block right above it holds a
/// test attribute, or the name is listed in a test-generating macro invocation.
pub fn is_test_in(text: &str, name: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let signature = format!("fn {name}(");
    let defined_at: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&signature))
        .map(|(i, _)| i)
        .collect();
    if defined_at.is_empty() {
        return false;
    }
    if defined_at.iter().any(|&i| attributes_above(&lines, i)) {
        return true;
    }
    listed_in_test_macro(text, name)
}

/// Walks up from the `fn` line through attributes (also ones spread over several lines),
/// comments and blank lines, and reports whether a test attribute is among them. The walk
/// stops at the previous item: a line ending in `}`, `;` or `{`.
fn attributes_above(lines: &[&str], fn_line: usize) -> bool {
    let mut i = fn_line;
    while i > 0 {
        i -= 1;
        let l = lines[i].trim();
        if TEST_ATTRIBUTES.iter().any(|a| l.starts_with(a)) {
            return true;
        }
        let ends_item = l.ends_with('}') || l.ends_with(';') || l.ends_with('{');
        let attribute_tail = l.ends_with(")]") || l.ends_with(']');
        if ends_item && !attribute_tail {
            return false;
        }
    }
    false
}

fn listed_in_test_macro(text: &str, name: &str) -> bool {
    TEST_GENERATING_MACROS.iter().any(|mac| {
        text.match_indices(mac).any(|(at, _)| {
            let args = &text[at + mac.len()..];
            let args = &args[..args.find(')').unwrap_or(args.len())];
            args.split(|c: char| c == ',' || c.is_whitespace())
                .any(|w| w == name)
        })
    })
}

/// Rule ids: every `## HIPPO-...` heading of docs/rules.md.
pub fn rule_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::trim)
        .filter(|h| h.starts_with("HIPPO-") && !h.contains(' '))
        .map(str::to_owned)
        .collect()
}

/// Every `docs/<name>.md#section` named in process or gap text must exist, with a heading
/// whose GitHub anchor is `section`.
fn check_doc_links(text: &str, cache: &mut FileCache<'_>) -> Result<(), String> {
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '`'))
    {
        let word = word.trim_end_matches(['.', ':']);
        let Some((path, fragment)) = word.split_once(".md#").map(|(p, f)| (format!("{p}.md"), f))
        else {
            if word.starts_with("docs/") && word.ends_with(".md") && cache.get(word).is_none() {
                return Err(format!("document `{word}` does not exist"));
            }
            continue;
        };
        let doc = cache
            .get(&path)
            .ok_or_else(|| format!("document `{path}` does not exist"))?;
        if !doc
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix('#'))
            .map(|h| heading_anchor(h.trim_start_matches('#')))
            .any(|a| a == fragment)
        {
            return Err(format!("`{path}` has no heading with anchor `#{fragment}`"));
        }
    }
    Ok(())
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens.
pub fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::parse;

    fn repo() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (
                "docs/rules.md",
                "# rules\n\n## HIPPO-AWS-RDS-001\n\ntext\n\n## HIPPO-DOCKER-001\n",
            ),
            (
                "docs/deploy.md",
                "# Deploy\n\n## Prerequisites (once per account; not in this Terraform)\n",
            ),
            (
                "src/seal.rs",
                "//! sealing\n\npub fn seal_bytes(x: u8) -> u8 {\n    x\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn seals() {}\n\n    fn helper() {}\n\n    #[tokio::test(\n        flavor = \"multi_thread\"\n    )]\n    /// documented\n    async fn seals_async() {}\n}\n",
            ),
            (
                "tests/contract.rs",
                "contract!(\n    users_are_unique,\n    keys_expire,\n);\n\nasync fn users_are_unique(s: Store) {}\nasync fn keys_expire(s: Store) {}\nasync fn not_listed(s: Store) {}\n",
            ),
        ])
    }

    fn matrix(rows: &str) -> String {
        format!(
            "## Seeds\n| S1 | a.txt | x |\n| S2 | b.txt | y |\n## S1 one\n{rows}\n## S2 two\n| S2-01 | y | process: a BAA, docs/deploy.md#prerequisites-once-per-account-not-in-this-terraform |\n"
        )
    }

    #[test]
    fn a_correct_matrix_passes() {
        let text = matrix(
            "| S1-01 | seal | code: src/seal.rs:3 `pub fn seal_bytes`<br>test: src/seal.rs::seals<br>test: src/seal.rs::seals_async<br>rule: HIPPO-AWS-RDS-001 |\n| S1-02 | users | test: tests/contract.rs::users_are_unique<br>test: tests/contract.rs::keys_expire |",
        );
        assert_eq!(check(&parse(&text), &repo()), vec![]);
    }

    #[test]
    fn every_kind_of_stale_evidence_is_named_with_its_id() {
        let text = format!(
            "{}\n## Gaps\n- S1-05 alerting\n- S1-09 nothing\n",
            matrix(
                "| S1-01 | moved | code: src/seal.rs:4 `pub fn seal_bytes` |\n\
                 | S1-02 | gone | code: src/seal.rs:3 `fn open_bytes` |\n\
                 | S1-03 | missing file | code: src/gone.rs:1 `x`<br>test: src/gone.rs::t |\n\
                 | S1-04 | not a test | test: src/seal.rs::helper<br>test: tests/contract.rs::not_listed<br>test: src/seal.rs::absent |\n\
                 | S1-01 | duplicate | rule: HIPPO-AWS-RDS-001 |\n\
                 | S1-06 | unknown rule | rule: HIPPO-AWS-RDS-999 |\n\
                 | S1-07 | missing gap summary | gap: no alerting |\n\
                 | S1-08 | bad doc link | process: see docs/deploy.md#nowhere<br>gap: docs/missing.md explains |"
            )
        );
        let got: Vec<String> = check(&parse(&text), &repo())
            .iter()
            .map(|p| p.to_string())
            .collect();
        let expect = [
            "S1-01: code `src/seal.rs:4` does not contain `pub fn seal_bytes`; it is now on line 3",
            "S1-02: code `src/seal.rs:3` does not contain `fn open_bytes`; it is nowhere in the file",
            "S1-03: code path `src/gone.rs` does not exist",
            "S1-03: test path `src/gone.rs` does not exist",
            "S1-04: test `src/seal.rs::helper`: no `fn helper(`",
            "S1-04: test `tests/contract.rs::not_listed`: no `fn not_listed(`",
            "S1-04: test `src/seal.rs::absent`: no `fn absent(`",
            "S1-01: duplicate id: lines 5 and 9",
            "S1-06: rule `HIPPO-AWS-RDS-999` is not listed in docs/rules.md",
            "S1-08: `docs/deploy.md` has no heading with anchor `#nowhere`",
            "S1-08: document `docs/missing.md` does not exist",
            "S1-07: has a gap but is missing from `## Gaps`",
            "S1-08: has a gap but is missing from `## Gaps`",
            "S1-05: listed under `## Gaps` but has no `gap:` evidence",
            "S1-09: listed under `## Gaps` but has no `gap:` evidence",
        ];
        assert_eq!(got.len(), expect.len(), "{got:#?}");
        for (g, e) in got.iter().zip(expect) {
            assert!(g.starts_with(e), "{g:?} does not start with {e:?}");
        }
    }

    #[test]
    fn seeds_must_be_declared_once_and_each_needs_an_item() {
        let text = "## Seeds\n| S1 | a.txt | x |\n| S1 | a.txt | x |\n| S3 | c.txt | z |\n## S1 one\n| S1-01 | a | process: contract |\n## S2 two\n| S2-01 | b | process: contract |\n";
        let got: Vec<String> = check(&parse(text), &repo())
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            got,
            vec![
                "S1: seed declared twice",
                "S3: declared seed has no item",
                "S2-01: seed S2 is not declared under `## Seeds`",
            ]
        );
        let none = check(&parse("# nothing here\n"), &repo());
        assert_eq!(
            none[0].to_string(),
            "matrix: no seed is declared under `## Seeds`"
        );
    }

    #[test]
    fn test_detection_needs_a_test_attribute_right_above() {
        let text = "#[test]\nfn a() {}\n\nfn b() {}\n\n#[cfg(test)]\nfn c() {}\n\n#[test]\n#[ignore = \"slow\"]\n// why\nfn d() {}\n";
        assert!(is_test_in(text, "a"));
        assert!(
            !is_test_in(text, "b"),
            "the previous test's attribute is not b's"
        );
        assert!(!is_test_in(text, "c"));
        assert!(is_test_in(text, "d"));
        assert!(!is_test_in(text, "e"));
    }

    #[test]
    fn heading_anchors_follow_github() {
        assert_eq!(
            heading_anchor(" Backup, restore and DR drill"),
            "backup-restore-and-dr-drill"
        );
        assert_eq!(
            heading_anchor("164.312(a)(1) Access control"),
            "164312a1-access-control"
        );
        let ids = rule_ids("## HIPPO-A-1\n## HIPPO-B-2\n## Coverage of x\n### HIPPO-C-3\n");
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec!["HIPPO-A-1", "HIPPO-B-2"]
        );
    }
}
