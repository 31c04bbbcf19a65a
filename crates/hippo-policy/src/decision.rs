//! A decision's outcome and its obligations (minimum necessary, 164.502(b)): fields to strip.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// What the caller must do to a response before it leaves, when access is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligations {
    /// RFC 6901 JSON pointers (e.g. `/ssn`, `/contacts/0/phone`) to remove from the body.
    pub remove_fields: Vec<String>,
}

impl Obligations {
    pub fn is_empty(&self) -> bool {
        self.remove_fields.is_empty()
    }

    /// Removes every pointed-to field that exists; pointers that match nothing are ignored.
    ///
    /// Pointers into the same array are applied highest index first, so removing `/a/0` and
    /// `/a/1` removes the two elements named, not the first and third.
    pub fn apply(&self, body: &mut serde_json::Value) {
        let mut paths: Vec<Vec<String>> = self
            .remove_fields
            .iter()
            .filter_map(|p| parse_pointer(p))
            .filter(|tokens| !tokens.is_empty())
            .collect();
        paths.sort_by(|a, b| compare_paths(b, a));
        for tokens in &paths {
            remove_at(body, tokens);
        }
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens; `None` if it is not a pointer.
pub(crate) fn parse_pointer(p: &str) -> Option<Vec<String>> {
    if p.is_empty() {
        return Some(Vec::new());
    }
    let rest = p.strip_prefix('/')?;
    rest.split('/').map(unescape_token).collect()
}

fn unescape_token(t: &str) -> Option<String> {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Orders token paths with array-index-looking tokens compared as numbers.
fn compare_paths(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x.parse::<usize>(), y.parse::<usize>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

fn remove_at(body: &mut serde_json::Value, tokens: &[String]) {
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut node = body;
    for t in parents {
        node = match node {
            serde_json::Value::Object(m) => match m.get_mut(t) {
                Some(n) => n,
                None => return,
            },
            serde_json::Value::Array(a) => match array_index(t).and_then(|i| a.get_mut(i)) {
                Some(n) => n,
                None => return,
            },
            _ => return,
        };
    }
    match node {
        serde_json::Value::Object(m) => {
            m.remove(last);
        }
        serde_json::Value::Array(a) => {
            if let Some(i) = array_index(last).filter(|&i| i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// RFC 6901 array indexes: `0` or digits without a leading zero.
fn array_index(t: &str) -> Option<usize> {
    if t.is_empty() || (t.len() > 1 && t.starts_with('0')) || !t.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    t.parse().ok()
}

/// The outcome of [`crate::PolicyEngine::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    /// Which rule decided: `tenant-isolation`, `rbac`, `restricted-label`, `break-glass`,
    /// `break-glass-expired`, `tenant:<name>` or `policy-error`.
    pub rule: String,
    /// A short sentence saying why; never a subject id or record content.
    pub reason: String,
    /// Empty on a denial.
    pub obligations: Obligations,
    /// True when access was granted only because an emergency session was open.
    pub widened_by_emergency: bool,
}

impl Decision {
    pub(crate) fn deny(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            rule: rule.into(),
            reason: reason.into(),
            obligations: Obligations::default(),
            widened_by_emergency: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ob(p: &[&str]) -> Obligations {
        Obligations {
            remove_fields: p.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn apply_removes_existing_fields_and_ignores_missing_ones() {
        let mut body = json!({"name": "x", "ssn": "123", "contact": {"phone": "1", "email": "e"}});
        ob(&[
            "/ssn",
            "/contact/phone",
            "/nope",
            "/contact/phone/deeper",
            "/name/x",
        ])
        .apply(&mut body);
        assert_eq!(body, json!({"name": "x", "contact": {"email": "e"}}));
        assert!(!ob(&["/ssn"]).is_empty());
        assert!(Obligations::default().is_empty());
    }

    #[test]
    fn apply_handles_escapes_and_array_indexes_highest_first() {
        let mut body = json!({"a/b": 1, "m~n": 2, "list": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]});
        ob(&[
            "/a~1b", "/m~0n", "/list/1", "/list/10", "/list/2", "/list/01", "/list/99",
        ])
        .apply(&mut body);
        assert_eq!(body, json!({"list": [0, 3, 4, 5, 6, 7, 8, 9, 11]}));
    }

    #[test]
    fn pointer_parsing_follows_rfc_6901() {
        assert_eq!(parse_pointer(""), Some(vec![]));
        assert_eq!(
            parse_pointer("/a~1b/~0"),
            Some(vec!["a/b".into(), "~".into()])
        );
        assert_eq!(parse_pointer("/"), Some(vec!["".into()]));
        assert_eq!(parse_pointer("ssn"), None);
        assert_eq!(parse_pointer("/a~2"), None);
        assert_eq!(parse_pointer("/a~"), None);
    }
}
