//! Highlighted snippets: the best short passage of a record body for a query, as fragments
//! marked highlighted or not. The caller passes the body *as the reader may see it* (after
//! minimum-necessary redaction), so a snippet can never show a field the reader may not read;
//! and fragments rather than markup, so no client has to trust HTML built from PHI.

use crate::parse::Query;
use crate::text::fold;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::char::is_combining_mark;

/// A piece of a snippet; `highlight` marks a word the query matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub highlight: bool,
}

/// What a folded word must be to match.
enum Want<'q> {
    Word(&'q str),
    Prefix(&'q str),
}

/// The words a query looks for (a `NOT` part is not looked for: it matched nothing).
fn wanted<'q>(q: &'q Query, out: &mut Vec<Want<'q>>) {
    match q {
        Query::Term(w) | Query::Fuzzy(w) | Query::KeyTerm(w) => out.push(Want::Word(w)),
        Query::Prefix(w) => out.push(Want::Prefix(w)),
        Query::Phrase(ws) => out.extend(ws.iter().map(|w| Want::Word(w))),
        Query::And(parts) | Query::Or(parts) => parts.iter().for_each(|p| wanted(p, out)),
        Query::Not(_) => {}
    }
}

/// A word's byte span in its string, and the index of the wanted word it matches, if any.
type Word = (usize, usize, Option<usize>);

/// The words of `s` (letters, digits and the accents on them).
fn words(s: &str, want: &[Want]) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let in_word = |c: char| c.is_alphanumeric() || is_combining_mark(c);
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (start, in_word(c)) {
            (None, true) => start = Some(i),
            (Some(b), false) => {
                let folded = fold(&s[b..i]);
                let folded = folded.trim();
                let hit = want.iter().position(|w| match w {
                    Want::Word(x) => folded == *x,
                    Want::Prefix(p) => folded.starts_with(p),
                });
                out.push((b, i, hit));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The string values of a body, in the order they are indexed.
fn strings(body: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = body.values().rev().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => out.push(s.as_str()),
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(map) => stack.extend(map.values().rev()),
            _ => {}
        }
    }
    out
}

/// The passage of at most `max_words` words that shows the most of the query's words, from the
/// string value that holds the most of them, with an ellipsis where it was cut. `None` if no
/// visible value matches (the match was in the record type, or in a field the reader may not
/// see).
pub fn snippet(
    query: &Query,
    body: &Map<String, Value>,
    max_words: usize,
) -> Option<Vec<Fragment>> {
    let mut want = Vec::new();
    wanted(query, &mut want);
    let max_words = max_words.max(1);
    let mut best: Option<(usize, &str, Vec<Word>)> = None;
    for s in strings(body) {
        let ws = words(s, &want);
        let mut seen: Vec<usize> = ws.iter().filter_map(|w| w.2).collect();
        seen.sort_unstable();
        seen.dedup();
        if !seen.is_empty() && best.as_ref().is_none_or(|b| seen.len() > b.0) {
            best = Some((seen.len(), s, ws));
        }
    }
    let (_, s, ws) = best?;
    // The window of `max_words` words holding the most matches, leaning on the first.
    let first = ws.iter().position(|w| w.2.is_some())?;
    let earliest = first.saturating_sub(max_words / 4);
    let (mut start, mut best_count) = (earliest, 0);
    for from in earliest..=first {
        let count = ws[from..(from + max_words).min(ws.len())]
            .iter()
            .filter(|w| w.2.is_some())
            .count();
        if count > best_count {
            (start, best_count) = (from, count);
        }
    }
    let end = (start + max_words).min(ws.len());
    let mut out: Vec<Fragment> = Vec::new();
    let mut push = |text: &str, highlight: bool| match out.last_mut() {
        Some(last) if last.highlight == highlight => last.text.push_str(text),
        _ => out.push(Fragment {
            text: text.to_string(),
            highlight,
        }),
    };
    if start > 0 {
        push("…", false);
    }
    let mut at = ws[start].0;
    for &(b, e, hit) in &ws[start..end] {
        push(&s[at..b], false);
        push(&s[b..e], hit.is_some());
        at = e;
    }
    if end < ws.len() {
        push("…", false);
    }
    Some(out.into_iter().filter(|f| !f.text.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, Limits};
    use serde_json::json;

    fn show(q: &str, body: Value, n: usize) -> Option<String> {
        let q = parse(q, Limits::default()).unwrap();
        snippet(&q, body.as_object().unwrap(), n).map(|fs| {
            fs.iter()
                .map(|f| {
                    if f.highlight {
                        format!("[{}]", f.text)
                    } else {
                        f.text.clone()
                    }
                })
                .collect()
        })
    }

    #[test]
    fn the_matching_words_are_marked_in_their_original_spelling() {
        let body = json!({"name": "Zoë Müller", "note": "Seen by Dr. Müller today."});
        assert_eq!(show("muller", body.clone(), 20).unwrap(), "Zoë [Müller]");
        assert_eq!(
            show("seen mull*", body, 20).unwrap(),
            "[Seen] by Dr. [Müller] today"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_matches_with_ellipses() {
        let words: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
        let mut text = words.join(" ");
        text.push_str(" chest pain ");
        text.push_str(&words.join(" "));
        let s = show("\"chest pain\"", json!({ "note": text }), 6).unwrap();
        assert_eq!(s, "…w49 [chest] [pain] w0 w1 w2…");
    }

    #[test]
    fn negated_words_and_unseen_fields_give_no_snippet() {
        let body = json!({"note": "no insulin"});
        assert_eq!(show("absent OR missing", body.clone(), 10), None);
        assert_eq!(show("insulin", body.clone(), 10).unwrap(), "no [insulin]");
        assert_eq!(show("diabetes NOT insulin", body, 10), None);
    }
}
