//! Typo-tolerant terms (`smyth~`): trigram similarity, and the expansion of each fuzzy term
//! into the words of a tenant's key-text vocabulary spelled like it. Decided here, once, for
//! both stores: a store only keeps the vocabulary and hands back candidate words (PostgreSQL
//! through `pg_trgm`'s index, the embedded store through its own trigram table); which of them
//! count as similar is always this module's call.
//!
//! Written by hand because the rule must be identical on both stores and match what `pg_trgm`
//! indexes: a word padded with two spaces in front and one behind, cut into every run of three
//! characters; similarity is shared trigrams over all distinct trigrams of the two.

use crate::parse::Query;
use std::collections::{BTreeSet, HashMap};

/// Shortest word a fuzzy term may have (shorter ones are similar to too much).
pub const MIN_CHARS: usize = 3;
/// Least similarity for a vocabulary word to stand for a fuzzy term (`pg_trgm`'s default).
pub const THRESHOLD: f64 = 0.3;
/// Most words one fuzzy term expands into, the most similar first.
pub const MAX_EXPANSIONS: usize = 12;

/// The distinct trigrams of a folded word.
pub fn trigrams(word: &str) -> BTreeSet<String> {
    let padded: Vec<char> = format!("  {word} ").chars().collect();
    padded.windows(3).map(|w| w.iter().collect()).collect()
}

/// Trigram similarity of two folded words, from 0 (nothing shared) to 1 (the same trigrams).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    let shared = ta.intersection(&tb).count();
    let all = ta.len() + tb.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// The least number of trigrams a candidate must share with `word` to reach [`THRESHOLD`]
/// (shared / all >= t and all >= the word's own count give shared >= t * count), so a store can
/// narrow its candidates before this module decides.
pub fn min_shared(word: &str) -> usize {
    (THRESHOLD * trigrams(word).len() as f64).ceil() as usize
}

/// The fuzzy words of a query, each once.
pub fn fuzzy_words(q: &Query) -> Vec<String> {
    fn walk(q: &Query, out: &mut Vec<String>) {
        match q {
            Query::Fuzzy(w) if !out.contains(w) => out.push(w.clone()),
            Query::And(parts) | Query::Or(parts) => parts.iter().for_each(|p| walk(p, out)),
            Query::Not(inner) => walk(inner, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(q, &mut out);
    out
}

/// The query with each fuzzy term replaced by the word itself or any of its most similar
/// candidates, in the key text only (at least [`THRESHOLD`], at most [`MAX_EXPANSIONS`]). `candidates` maps a fuzzy
/// word to the vocabulary words a store found for it; words below the threshold are dropped
/// here whatever the store sent.
pub fn expand(q: &Query, candidates: &HashMap<String, Vec<String>>) -> Query {
    match q {
        Query::Fuzzy(w) => {
            let mut similar: Vec<(f64, &String)> = candidates
                .get(w)
                .into_iter()
                .flatten()
                .filter(|c| *c != w)
                .map(|c| (similarity(w, c), c))
                .filter(|(s, _)| *s >= THRESHOLD)
                .collect();
            similar.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            similar.truncate(MAX_EXPANSIONS);
            // Names are key text: the word and its look-alikes are matched there only.
            if similar.is_empty() {
                return Query::KeyTerm(w.clone());
            }
            let mut parts = vec![Query::KeyTerm(w.clone())];
            parts.extend(similar.into_iter().map(|(_, c)| Query::KeyTerm(c.clone())));
            Query::Or(parts)
        }
        Query::And(parts) => Query::And(parts.iter().map(|p| expand(p, candidates)).collect()),
        Query::Or(parts) => Query::Or(parts.iter().map(|p| expand(p, candidates)).collect()),
        Query::Not(inner) => Query::Not(Box::new(expand(inner, candidates))),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, Limits};
    use proptest::prelude::*;

    #[test]
    fn trigrams_are_pg_trgm_s() {
        let t: Vec<String> = trigrams("cat").into_iter().collect();
        assert_eq!(t, ["  c", " ca", "at ", "cat"]);
        assert!((similarity("smith", "smyth") - 3.0 / 9.0).abs() < 1e-9);
        assert_eq!(similarity("garcia", "garcia"), 1.0);
        assert!(similarity("garcia", "garsia") >= THRESHOLD);
        assert!(similarity("garcia", "nguyen") < THRESHOLD);
    }

    #[test]
    fn fuzzy_terms_expand_to_similar_vocabulary_only() {
        let q = parse("smyth~ NOT john", Limits::default()).unwrap();
        assert_eq!(fuzzy_words(&q), ["smyth"]);
        let vocab = HashMap::from([(
            "smyth".to_string(),
            vec!["smith".into(), "smythe".into(), "jones".into()],
        )]);
        let Query::And(parts) = expand(&q, &vocab) else {
            panic!("an AND")
        };
        assert_eq!(
            parts[0],
            Query::Or(vec![
                Query::KeyTerm("smyth".into()),
                Query::KeyTerm("smythe".into()),
                Query::KeyTerm("smith".into()),
            ])
        );
        // No vocabulary: the word itself.
        assert_eq!(
            expand(&Query::Fuzzy("zed".into()), &HashMap::new()),
            Query::KeyTerm("zed".into())
        );
    }

    proptest! {
        #[test]
        fn similarity_is_symmetric_bounded_and_reflexive(a in "[a-z]{1,12}", b in "[a-z]{1,12}") {
            let s = similarity(&a, &b);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert_eq!(s, similarity(&b, &a));
            prop_assert_eq!(similarity(&a, &a), 1.0);
            if s >= THRESHOLD {
                let shared = trigrams(&a).intersection(&trigrams(&b)).count();
                prop_assert!(shared >= min_shared(&a));
            }
        }
    }
}
