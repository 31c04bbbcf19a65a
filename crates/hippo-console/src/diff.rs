//! The difference between two versions of a record's body, field by field: each leaf is named
//! by its JSON Pointer (RFC 6901) and reported added, removed or changed.

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Changed { before: String, after: String },
}

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                flatten(&format!("{prefix}/{}", escape_token(k)), child, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, child) in a.iter().enumerate() {
                flatten(&format!("{prefix}/{i}"), child, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.to_string());
        }
    }
}

/// The changes from `before` to `after`, in pointer order.
pub fn diff(before: &Value, after: &Value) -> Vec<(String, Change)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let mut out = Vec::new();
    for (path, old) in &a {
        match b.get(path) {
            None => out.push((path.clone(), Change::Removed(old.clone()))),
            Some(new) if new != old => out.push((
                path.clone(),
                Change::Changed {
                    before: old.clone(),
                    after: new.clone(),
                },
            )),
            Some(_) => {}
        }
    }
    for (path, new) in &b {
        if !a.contains_key(path) {
            out.push((path.clone(), Change::Added(new.clone())));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_added_removed_and_changed_leaves() {
        let a = json!({"name": {"family": "Doe", "given": ["J"]}, "dob": "1970-01-01", "a/b": 1});
        let b = json!({"name": {"family": "Roe", "given": ["J", "K"]}, "a/b": 1, "sex": "f"});
        let d = diff(&a, &b);
        assert_eq!(
            d,
            vec![
                ("/dob".into(), Change::Removed("\"1970-01-01\"".into())),
                (
                    "/name/family".into(),
                    Change::Changed {
                        before: "\"Doe\"".into(),
                        after: "\"Roe\"".into()
                    }
                ),
                ("/name/given/1".into(), Change::Added("\"K\"".into())),
                ("/sex".into(), Change::Added("\"f\"".into())),
            ]
        );
    }

    #[test]
    fn identical_bodies_have_no_changes() {
        let a = json!({"x": [1, {"y": null}], "e": {}});
        assert!(diff(&a, &a.clone()).is_empty());
    }
}
