//! Which parts of a record body are searchable, and which of them are its *key* text (names,
//! identifiers, titles, codes: what a clinician types into a search box), per record type; with
//! the search settings of the `[search]` configuration section they belong to.
//!
//! Both stores index two parts per record: the key text, weighted `key_weight` times higher in
//! ranking, and the rest. Field paths are dotted body paths (`name`, `name.family`); a path
//! names the value there and everything inside it.

use crate::parse::Limits;
use crate::text::{fold, MAX_TEXT_BYTES};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The `[search]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Longest query, in characters.
    pub max_query_chars: usize,
    /// Most terms, phrases and prefixes in one query.
    pub max_terms: usize,
    /// Shortest prefix before `*`, in characters.
    pub min_prefix: usize,
    /// When a query matches more records than this, the newest this many of them are ranked
    /// (relevance scoring costs per match; a name shared by a hundred thousand records would
    /// otherwise cost seconds). Narrow the query or add filters to reach older ones.
    pub rank_candidates: usize,
    /// How much more a match in a key field counts than one elsewhere in the record.
    pub key_weight: f64,
    /// Per record type, its key fields and (optionally) the only fields that are indexed.
    /// Setting this replaces the built-in table as a whole. A change applies to records as
    /// they are next written.
    pub types: BTreeMap<String, TypeFields>,
}

/// The searchable fields of one record type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TypeFields {
    /// Key fields: matches here rank `key_weight` times higher.
    pub key: Vec<String>,
    /// If set, only these fields (and the key fields) are indexed; otherwise every string value.
    pub only: Option<Vec<String>>,
    /// Fields never indexed (free text that is not worth finding, or too sensitive to).
    pub skip: Vec<String>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        let limits = Limits::default();
        let key = |fields: &[&str]| TypeFields {
            key: fields.iter().map(|f| f.to_string()).collect(),
            ..TypeFields::default()
        };
        Self {
            max_query_chars: limits.max_chars,
            max_terms: limits.max_terms,
            min_prefix: limits.min_prefix,
            rank_candidates: 500,
            key_weight: 4.0,
            types: BTreeMap::from([
                ("Patient".to_string(), key(&["name", "identifier"])),
                ("ClinicalNote".to_string(), key(&["title"])),
                ("Observation".to_string(), key(&["code"])),
                ("Document".to_string(), key(&["title"])),
            ]),
        }
    }
}

impl SearchSettings {
    /// The parser's bounds.
    pub fn limits(&self) -> Limits {
        Limits {
            max_chars: self.max_query_chars,
            max_terms: self.max_terms,
            min_prefix: self.min_prefix,
        }
    }

    /// Every problem with these settings, as (key under `search.`, what to do).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, fix: &str| out.push((key.to_string(), fix.to_string()));
        if !(1..=10_000).contains(&self.max_query_chars) {
            bad("max_query_chars", "use 1 to 10000");
        }
        if !(1..=256).contains(&self.max_terms) {
            bad("max_terms", "use 1 to 256");
        }
        if !(1..=16).contains(&self.min_prefix) {
            bad("min_prefix", "use 1 to 16");
        }
        if !(100..=1_000_000).contains(&self.rank_candidates) {
            bad("rank_candidates", "use 100 to 1000000");
        }
        if !(self.key_weight.is_finite() && (1.0..=100.0).contains(&self.key_weight)) {
            bad("key_weight", "use a number from 1 to 100");
        }
        for (ty, f) in &self.types {
            let paths = f.key.iter().chain(&f.skip).chain(f.only.iter().flatten());
            for p in paths {
                if p.is_empty() || p.split('.').any(str::is_empty) {
                    bad(
                        &format!("types.{ty}"),
                        "field paths are dotted body keys such as name.family",
                    );
                }
            }
        }
        out
    }
}

static SETTINGS: OnceLock<SearchSettings> = OnceLock::new();

/// Sets the process's search settings, once, at start. Why a process-wide value: the fields
/// are deployment configuration that every write of either store reads, and this keeps them
/// out of every store call's signature. Returns false if they were already set (or read).
pub fn configure(settings: SearchSettings) -> bool {
    SETTINGS.set(settings).is_ok()
}

/// The process's search settings (the defaults unless [`configure`] ran first).
pub fn settings() -> &'static SearchSettings {
    SETTINGS.get_or_init(SearchSettings::default)
}

/// A record's searchable text, folded: the key part and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchText {
    pub key: String,
    pub text: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Key,
    Text,
    Skip,
}

/// Where a value at `path` goes for a type's fields.
fn part_of(fields: Option<&TypeFields>, path: &str) -> Part {
    let under = |p: &String| path == p || path.starts_with(&format!("{p}."));
    let Some(f) = fields else { return Part::Text };
    if f.skip.iter().any(under) {
        Part::Skip
    } else if f.key.iter().any(under) {
        Part::Key
    } else if f.only.as_ref().is_some_and(|only| !only.iter().any(under)) {
        Part::Skip
    } else {
        Part::Text
    }
}

/// The record's searchable text under `settings`: string values of the body (objects in key
/// order, arrays in order; keys are structure, not content, and are left out), key fields
/// apart; the record type is part of the text. Each part is folded and cut at
/// [`MAX_TEXT_BYTES`].
pub fn searchable(
    settings: &SearchSettings,
    record_type: &str,
    body: &Map<String, Value>,
) -> SearchText {
    let fields = settings.types.get(record_type);
    let mut key = String::new();
    let mut text = String::from(record_type);
    let mut stack: Vec<(String, &Value)> = body.iter().rev().map(|(k, v)| (k.clone(), v)).collect();
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) => {
                let out = match part_of(fields, &path) {
                    Part::Key => &mut key,
                    Part::Text => &mut text,
                    Part::Skip => continue,
                };
                if out.len() <= MAX_TEXT_BYTES {
                    out.push(' ');
                    out.push_str(s);
                }
            }
            // Array items share their array's path: `name` covers every name.
            Value::Array(items) => stack.extend(items.iter().rev().map(|i| (path.clone(), i))),
            Value::Object(map) => {
                stack.extend(map.iter().rev().map(|(k, v)| (format!("{path}.{k}"), v)))
            }
            _ => {}
        }
        if key.len() > MAX_TEXT_BYTES && text.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    SearchText {
        key: folded(&key),
        text: folded(&text),
    }
}

/// Folded, single-spaced, cut at [`MAX_TEXT_BYTES`] on a character boundary.
fn folded(raw: &str) -> String {
    let mut out = fold(raw).split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > MAX_TEXT_BYTES {
        let mut cut = MAX_TEXT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(ty: &str, body: Value) -> SearchText {
        searchable(&SearchSettings::default(), ty, body.as_object().unwrap())
    }

    #[test]
    fn key_fields_are_apart_and_the_rest_is_text() {
        let t = split(
            "Patient",
            json!({"name": [{"given": ["Zoë"], "family": "Smith"}], "gender": "female",
                   "identifier": "MRN-1"}),
        );
        // Objects in key order (the canonical form's): identifier before name, family before given.
        assert_eq!(t.key, "mrn 1 smith zoe");
        assert_eq!(t.text, "patient female");
    }

    #[test]
    fn types_without_fields_index_every_string_as_text() {
        let t = split("Allergy", json!({"substance": "Peanut", "n": 3}));
        assert_eq!(t.key, "");
        assert_eq!(t.text, "allergy peanut");
    }

    #[test]
    fn only_and_skip_narrow_what_is_indexed() {
        let mut s = SearchSettings::default();
        s.types.insert(
            "Note".into(),
            TypeFields {
                key: vec!["title".into()],
                only: Some(vec!["text".into()]),
                skip: vec!["text.private".into()],
            },
        );
        let body = json!({"title": "Visit", "text": {"body": "cough", "private": "secret"},
                          "author": "Dr Who"});
        let t = searchable(&s, "Note", body.as_object().unwrap());
        assert_eq!(t.key, "visit");
        assert_eq!(t.text, "note cough");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let t = split("Note", json!({"note": "é".repeat(MAX_TEXT_BYTES)}));
        assert!(t.text.len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn problems_name_the_key() {
        let s = SearchSettings {
            key_weight: 0.0,
            rank_candidates: 1,
            ..SearchSettings::default()
        };
        let keys: Vec<String> = s.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["rank_candidates", "key_weight"]);
        assert!(SearchSettings::default().problems().is_empty());
    }
}
