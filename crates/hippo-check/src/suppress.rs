//! Inline suppressions (`hippo:ignore RULE reason="..." until=YYYY-MM-DD`), the baseline
//! file, and the date arithmetic they need.

use std::sync::{Arc, OnceLock};

use regex::Regex;

/// One suppression, inline or from the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    pub file: Arc<str>,
    /// Line of the comment (or baseline entry).
    pub line: u32,
    /// Line the suppression applies to (same line, or the next code line).
    pub target_line: u32,
    pub rule_ids: Vec<String>,
    pub reason: Option<String>,
    pub until: Option<String>,
}

/// The parsed parts of a `hippo:ignore` comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub rule_ids: Vec<String>,
    pub reason: Option<String>,
    pub until: Option<String>,
}

fn re() -> &'static (Regex, Regex, Regex) {
    static R: OnceLock<(Regex, Regex, Regex)> = OnceLock::new();
    R.get_or_init(|| {
        (
            Regex::new(r"hippo:ignore\s+([A-Za-z0-9_,\-]+)").unwrap(),
            Regex::new(r#"reason\s*=\s*"([^"]*)""#).unwrap(),
            Regex::new(r"until\s*=\s*(\S+)").unwrap(),
        )
    })
}

/// Parses the directive in a line, if any.
pub fn parse_directive(line: &str) -> Option<Directive> {
    let (head, reason, until) = re();
    let c = head.captures(line)?;
    // Prose that mentions the syntax (`hippo:ignore RULE`, "hippo:ignore and ...") is not a
    // directive: every named rule must look like a rule id (`HIPPO-AWS-S3-001`, `ORG-TAG-1`).
    let rule_id = |id: &str| {
        let mut parts = id.split('-');
        parts.next().is_some_and(|p| {
            p.len() >= 2
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }) && id.contains('-')
            && parts.all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
    };
    if !c[1].split(',').filter(|s| !s.is_empty()).all(rule_id) {
        return None;
    }
    let rest = &line[c.get(0)?.end()..];
    let reason = reason
        .captures(rest)
        .map(|r| r[1].trim().to_string())
        .filter(|r| !r.is_empty());
    let until = until
        .captures(rest)
        .map(|u| u[1].trim_matches('"').to_string());
    Some(Directive {
        rule_ids: c[1]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        reason,
        until,
    })
}

fn is_comment(t: &str) -> bool {
    t.starts_with('#') || t.starts_with("//") || t.starts_with("/*") || t.starts_with('*')
}

/// Finds all inline suppressions in a file.
pub fn scan(text: &str, file: &Arc<str>) -> Vec<Suppression> {
    if !text.contains("hippo:ignore") {
        return vec![];
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(d) = parse_directive(l) else {
            continue;
        };
        let t = l.trim_start();
        let target = if is_comment(t) {
            lines[i + 1..]
                .iter()
                .position(|n| !n.trim().is_empty() && !is_comment(n.trim_start()))
                .map(|p| (i + 2 + p) as u32)
                .unwrap_or((i + 1) as u32)
        } else {
            (i + 1) as u32
        };
        out.push(Suppression {
            file: file.clone(),
            line: (i + 1) as u32,
            target_line: target,
            rule_ids: d.rule_ids,
            reason: d.reason,
            until: d.until,
        });
    }
    out
}

/// True if a date string is a valid YYYY-MM-DD.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.split('-').all(|p| p.bytes().all(|c| c.is_ascii_digit()))
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..10].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

/// Today's UTC date as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_from_days((secs / 86_400) as i64)
}

/// Converts days since 1970-01-01 to a YYYY-MM-DD string.
pub fn civil_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A baseline entry, as written by `--write-baseline`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule_id: String,
    pub path: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// The baseline file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct Baseline {
    pub version: u32,
    pub entries: Vec<BaselineEntry>,
}

/// FNV-1a 64-bit fingerprint, stable across line moves.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
