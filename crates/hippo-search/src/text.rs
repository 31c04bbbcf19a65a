//! Folding (lower case, accents removed, punctuation to spaces) and the searchable text of a
//! record body: its string values (objects in key order, arrays in order).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds text for matching: canonical decomposition, combining marks dropped, lower case,
/// every character that is not alphanumeric turned into a space. Tokens are then the
/// space-separated words.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    out
}

/// The tokens of folded text.
pub fn tokens(text: &str) -> Vec<String> {
    fold(text).split_whitespace().map(str::to_owned).collect()
}

/// Largest searchable text kept per record (a long note is indexed up to here).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// The folded searchable text of a record: its type and every string value of its body (keys
/// are structure, not content, and are left out), separated by spaces, cut at
/// [`MAX_TEXT_BYTES`] on a character boundary.
pub fn searchable_text(
    record_type: &str,
    body: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut raw = String::from(record_type);
    let mut stack: Vec<&serde_json::Value> = body.values().rev().collect();
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) => {
                raw.push(' ');
                raw.push_str(s);
            }
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            serde_json::Value::Object(map) => stack.extend(map.values().rev()),
            _ => {}
        }
        if raw.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    let mut folded = fold(&raw);
    if folded.len() > MAX_TEXT_BYTES {
        let mut cut = MAX_TEXT_BYTES;
        while !folded.is_char_boundary(cut) {
            cut -= 1;
        }
        folded.truncate(cut);
    }
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Müller-Lüdenscheidt"), "muller ludenscheidt");
        assert_eq!(tokens("O'Brien, JOSÉ"), ["o", "brien", "jose"]);
        assert_eq!(tokens("Ångström 12mg"), ["angstrom", "12mg"]);
    }

    #[test]
    fn searchable_text_takes_string_values_in_order() {
        let body = json!({"name": {"given": "Zoë", "family": "Smith"}, "age": 40,
                          "notes": ["Chest pain", {"text": "resolved"}]});
        let t = searchable_text("Patient", body.as_object().unwrap());
        // Objects are walked in key order (the canonical form's), arrays in order.
        assert_eq!(t, "patient smith zoe chest pain resolved");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let body = json!({"note": "é".repeat(MAX_TEXT_BYTES)});
        let t = searchable_text("Note", body.as_object().unwrap());
        assert!(t.len() <= MAX_TEXT_BYTES);
    }
}
