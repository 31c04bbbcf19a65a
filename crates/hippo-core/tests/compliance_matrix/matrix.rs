//! Parsing of docs/compliance-matrix.md into seeds, items and evidence, with the format
//! problems (a malformed row, an unknown evidence kind, an empty cell) found on the way.

use std::fmt;

/// Something wrong with the matrix, named by the item (or section) it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A matrix id (`S1-03`), a seed id (`S4`) or `matrix` for the document as a whole.
    pub subject: String,
    pub message: String,
}

impl Problem {
    pub fn new(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            subject: subject.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// One piece of evidence for an item, as written after `kind:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// `code: path:LINE `anchor`` (text after the closing backtick is a free note).
    Code {
        path: String,
        line: usize,
        anchor: String,
    },
    /// `test: path/to/file.rs::test_name` (text after the first space is a free note).
    Test { path: String, name: String },
    /// `rule: HIPPO-...` (text after the first space is a free note).
    Rule { id: String },
    /// `process: why this is organisational, optionally naming docs/x.md#section`.
    Process { text: String },
    /// `gap: what is missing and which issue covers it`.
    Gap { text: String },
}

/// One numbered requirement of a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    /// The seed part of the id: `S1` for `S1-03`.
    pub seed: String,
    pub requirement: String,
    pub evidence: Vec<Evidence>,
    /// 1-based line of the row in the matrix, for messages.
    pub row_line: usize,
}

/// A declared seed document: `| S1 | file name | description |` in the seeds table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub id: String,
    pub file: String,
}

/// The parsed matrix.
#[derive(Debug, Default)]
pub struct Matrix {
    pub seeds: Vec<Seed>,
    pub items: Vec<Item>,
    /// Every item id mentioned under the `## Gaps` heading.
    pub gap_summary_ids: Vec<String>,
    pub problems: Vec<Problem>,
}

/// `S12` (a seed id).
pub fn is_seed_id(s: &str) -> bool {
    s.strip_prefix('S')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `S1-03` (an item id): a seed id, a hyphen, digits.
pub fn is_item_id(s: &str) -> bool {
    match s.split_once('-') {
        Some((seed, n)) => {
            is_seed_id(seed) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Where a line sits: the heading it falls under decides what its table rows mean.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    Other,
    Seeds,
    Seed(String),
    Gaps,
}

fn section_of(heading: &str) -> Section {
    let first = heading.split_whitespace().next().unwrap_or("");
    let first = first.trim_end_matches([':', '.']);
    if heading.eq_ignore_ascii_case("seeds") {
        Section::Seeds
    } else if heading.eq_ignore_ascii_case("gaps")
        || heading.to_ascii_lowercase().starts_with("gaps ")
    {
        Section::Gaps
    } else if is_seed_id(first) {
        Section::Seed(first.to_owned())
    } else {
        Section::Other
    }
}

/// Splits a table row into its cells; `\|` stays inside a cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// Every item id (`S1-03`) appearing as a word in `text`.
fn item_ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| is_item_id(w))
        .map(str::to_owned)
        .collect()
}

/// Parses one evidence entry (`kind: payload`).
pub fn parse_evidence(entry: &str) -> Result<Evidence, String> {
    let Some((kind, payload)) = entry.split_once(':') else {
        return Err(format!("evidence `{entry}` has no `kind:` prefix"));
    };
    let payload = payload.trim();
    if payload.is_empty() {
        return Err(format!("`{kind}:` evidence is empty"));
    }
    let first_word = payload.split_whitespace().next().unwrap_or("");
    match kind.trim() {
        "code" => parse_code(payload),
        "test" => match first_word.rsplit_once("::") {
            Some((path, name))
                if path.ends_with(".rs")
                    && !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Ok(Evidence::Test {
                    path: path.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(format!(
                "test evidence `{first_word}` is not `path/to/file.rs::test_name`"
            )),
        },
        "rule" => Ok(Evidence::Rule {
            id: first_word.to_owned(),
        }),
        "process" => Ok(Evidence::Process {
            text: payload.to_owned(),
        }),
        "gap" => Ok(Evidence::Gap {
            text: payload.to_owned(),
        }),
        other => Err(format!(
            "unknown evidence kind `{other}` (expected code, test, rule, process or gap)"
        )),
    }
}

/// `path:LINE `anchor`` with an optional note after the anchor.
fn parse_code(payload: &str) -> Result<Evidence, String> {
    let bad = || format!("code evidence `{payload}` is not `path:LINE `anchor``");
    let (location, rest) = payload.split_once(char::is_whitespace).ok_or_else(bad)?;
    let (path, line) = location.rsplit_once(':').ok_or_else(bad)?;
    let line: usize = line.parse().map_err(|_| bad())?;
    let rest = rest.trim_start();
    let after_open = rest.strip_prefix('`').ok_or_else(bad)?;
    let (anchor, _note) = after_open.split_once('`').ok_or_else(bad)?;
    if path.is_empty() || line == 0 || anchor.trim().is_empty() {
        return Err(bad());
    }
    Ok(Evidence::Code {
        path: path.to_owned(),
        line,
        anchor: anchor.to_owned(),
    })
}

/// Parses the whole document. Format problems go into `problems`; nothing panics.
pub fn parse(text: &str) -> Matrix {
    let mut m = Matrix::default();
    let mut section = Section::Other;
    for (index, line) in text.lines().enumerate() {
        let row_line = index + 1;
        let trimmed = line.trim();
        if let Some(heading) = trimmed.strip_prefix("## ") {
            section = section_of(heading.trim());
            continue;
        }
        if trimmed.starts_with('#') {
            // A deeper heading keeps the section; a top-level one leaves it.
            if !trimmed.starts_with("###") {
                section = Section::Other;
            }
            continue;
        }
        match &section {
            Section::Gaps => m.gap_summary_ids.extend(item_ids_in(trimmed)),
            Section::Seeds if trimmed.starts_with('|') => {
                let c = cells(trimmed);
                if is_seed_id(&c[0]) {
                    if c.len() < 2 || c[1].is_empty() {
                        m.problems
                            .push(Problem::new(&c[0], "seed row names no file"));
                    }
                    m.seeds.push(Seed {
                        id: c[0].clone(),
                        file: c.get(1).cloned().unwrap_or_default(),
                    });
                }
            }
            Section::Seed(seed) if trimmed.starts_with('|') => {
                let c = cells(trimmed);
                if is_item_id(&c[0]) {
                    parse_item_row(&mut m, seed, &c, row_line);
                } else if c[0].starts_with('S') && c[0].contains('-') {
                    m.problems.push(Problem::new(
                        &c[0],
                        format!("line {row_line}: `{}` is not an id of the form S1-03", c[0]),
                    ));
                }
            }
            _ => {}
        }
    }
    m
}

fn parse_item_row(m: &mut Matrix, section_seed: &str, c: &[String], row_line: usize) {
    let id = c[0].clone();
    let seed = id
        .split_once('-')
        .map(|(s, _)| s.to_owned())
        .unwrap_or_default();
    if seed != section_seed {
        m.problems.push(Problem::new(
            &id,
            format!("line {row_line}: listed under the section of {section_seed}"),
        ));
    }
    if c.len() != 3 {
        m.problems.push(Problem::new(
            &id,
            format!(
                "line {row_line}: {} cells, expected 3 (id | requirement | evidence)",
                c.len()
            ),
        ));
        return;
    }
    if c[1].is_empty() {
        m.problems.push(Problem::new(
            &id,
            format!("line {row_line}: empty requirement"),
        ));
    }
    let entries: Vec<&str> = c[2]
        .split("<br>")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // An empty cell is "no evidence"; a malformed entry is reported as itself.
    if entries.is_empty() {
        m.problems
            .push(Problem::new(&id, format!("line {row_line}: no evidence")));
    }
    let mut evidence = Vec::new();
    for entry in entries {
        match parse_evidence(entry) {
            Ok(e) => evidence.push(e),
            Err(why) => m
                .problems
                .push(Problem::new(&id, format!("line {row_line}: {why}"))),
        }
    }
    m.items.push(Item {
        id,
        seed,
        requirement: c[1].clone(),
        evidence,
        row_line,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "\
# Matrix

## Seeds

| seed | file | what |
|---|---|---|
| S1 | 000_a.txt | a playbook |

## S1: the playbook

| id | requirement | evidence |
|---|---|---|
| S1-01 | encrypt it | code: src/a.rs:3 `fn seal` (the sealing)<br>test: src/a.rs::seals |
| S1-02 | sign the BAA | process: a contract, docs/deploy.md#prerequisites |
| S1-03 | alert on it | gap: no alerting yet (issue 19) |

## Gaps

- S1-03: alerting (issue 19)
";

    #[test]
    fn ids_have_a_strict_shape() {
        assert!(is_seed_id("S1") && is_seed_id("S12"));
        assert!(!is_seed_id("S") && !is_seed_id("S1a") && !is_seed_id("s1"));
        assert!(is_item_id("S1-03") && is_item_id("S5-120"));
        assert!(!is_item_id("S1-") && !is_item_id("S1-3a") && !is_item_id("1-03"));
    }

    #[test]
    fn a_small_matrix_parses_into_seeds_items_and_gaps() {
        let m = parse(SMALL);
        assert_eq!(m.problems, vec![]);
        assert_eq!(
            m.seeds,
            vec![Seed {
                id: "S1".into(),
                file: "000_a.txt".into()
            }]
        );
        assert_eq!(m.items.len(), 3);
        assert_eq!(
            m.items[0].evidence,
            vec![
                Evidence::Code {
                    path: "src/a.rs".into(),
                    line: 3,
                    anchor: "fn seal".into()
                },
                Evidence::Test {
                    path: "src/a.rs".into(),
                    name: "seals".into()
                }
            ]
        );
        assert_eq!(m.items[0].row_line, 13);
        assert!(matches!(m.items[1].evidence[0], Evidence::Process { .. }));
        assert_eq!(m.gap_summary_ids, vec!["S1-03".to_owned()]);
    }

    #[test]
    fn format_problems_name_the_item() {
        let text = "\
## Seeds
| S1 | a.txt | x |
## S1 playbook
| S1-01 | no evidence at all |  |
| S1-02 | unknown kind | proof: trust me |
| S1-03 | bad code | code: src/a.rs `fn x` |
| S1-04 | bad test | test: crates/a/tests/x::name |
| S2-01 | wrong section | rule: HIPPO-X |
| S1-05 | too many | rule: HIPPO-X | extra |
| S1-6x | typo in id | rule: HIPPO-X |
";
        let m = parse(text);
        let got: Vec<String> = m.problems.iter().map(|p| p.to_string()).collect();
        let expect = [
            "S1-01: line 4: no evidence",
            "S1-02: line 5: unknown evidence kind `proof`",
            "S1-03: line 6: code evidence",
            "S1-04: line 7: test evidence `crates/a/tests/x::name`",
            "S2-01: line 8: listed under the section of S1",
            "S1-05: line 9: 4 cells",
            "S1-6x: line 10: `S1-6x` is not an id",
        ];
        assert_eq!(got.len(), expect.len(), "{got:#?}");
        for (g, e) in got.iter().zip(expect) {
            assert!(g.starts_with(e), "{g:?} does not start with {e:?}");
        }
    }

    #[test]
    fn escaped_pipes_stay_in_their_cell_and_notes_follow_anchors() {
        let c = cells(r"| S1-01 | a \| b | code: x.rs:1 `a` note |");
        assert_eq!(c, vec!["S1-01", "a | b", "code: x.rs:1 `a` note"]);
        assert_eq!(
            parse_evidence("rule: HIPPO-AWS-RDS-001 (storage encrypted)"),
            Ok(Evidence::Rule {
                id: "HIPPO-AWS-RDS-001".into()
            })
        );
        assert!(parse_evidence("code: x.rs:0 `a`").is_err());
        assert!(parse_evidence("code: x.rs:2 ``").is_err());
        assert!(parse_evidence("gap:").is_err());
    }
}
