//! BM25 relevance, computed here rather than by SQLite FTS5's `bm25()`: the same formula and
//! constants, but the document frequency of each phrase is supplied by the caller (the
//! embedded store caches it) instead of being counted again by every query. FTS5 counts it by
//! walking the phrase's whole doclist, which for a common word was a third of a search's CPU.
//!
//! Written by hand because it must reproduce FTS5's `bm25()` exactly (a store test compares
//! the two on the same rows), which no ranking crate does.

use crate::parse::Query;

/// FTS5's `bm25()` term-saturation constant.
const K1: f64 = 1.2;
/// FTS5's `bm25()` length-normalisation constant.
const B: f64 = 0.75;

/// One phrase of a query as FTS5 numbers them: every term, prefix and phrase, negated ones
/// included (a row matching another branch may still contain them, and FTS5 counts them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub words: Vec<String>,
    /// The last word matches any word starting with it.
    pub prefix: bool,
    /// Only the key text is searched (fuzzy expansions, key terms).
    pub key_only: bool,
}

impl Phrase {
    /// This phrase alone in FTS5 `MATCH` syntax, to count the rows holding it.
    pub fn to_fts5(&self) -> String {
        let star = if self.prefix { "*" } else { "" };
        let cols = if self.key_only { "key : " } else { "" };
        format!("{cols}\"{}\"{star}", self.words.join(" "))
    }

    /// Occurrences in one column's folded, single-spaced tokens.
    fn count_in(&self, tokens: &[&str]) -> usize {
        let n = self.words.len();
        if n == 0 || tokens.len() < n {
            return 0;
        }
        (0..=tokens.len() - n)
            .filter(|&start| {
                self.words.iter().enumerate().all(|(i, w)| {
                    let t = tokens[start + i];
                    if self.prefix && i == n - 1 {
                        t.starts_with(w.as_str())
                    } else {
                        t == w
                    }
                })
            })
            .count()
    }
}

/// The phrases of a query, in the order the FTS5 compilation writes them.
pub fn phrases(q: &Query) -> Vec<Phrase> {
    fn walk(q: &Query, out: &mut Vec<Phrase>) {
        let one = |words: Vec<String>, prefix, key_only| Phrase {
            words,
            prefix,
            key_only,
        };
        match q {
            Query::Term(w) => out.push(one(vec![w.clone()], false, false)),
            Query::Prefix(w) => out.push(one(vec![w.clone()], true, false)),
            Query::KeyTerm(w) | Query::Fuzzy(w) => out.push(one(vec![w.clone()], false, true)),
            Query::Phrase(ws) => out.push(one(ws.clone(), false, false)),
            Query::Or(parts) => parts.iter().for_each(|p| walk(p, out)),
            // The compilation writes an AND's positive parts first, then its negations.
            Query::And(parts) => {
                let (neg, pos): (Vec<&Query>, Vec<&Query>) =
                    parts.iter().partition(|p| matches!(p, Query::Not(_)));
                pos.into_iter().chain(neg).for_each(|p| walk(p, out));
            }
            Query::Not(inner) => walk(inner, out),
        }
    }
    let mut out = Vec::new();
    walk(q, &mut out);
    out
}

/// Table-wide figures BM25 needs: rows indexed and tokens in all of them (every column).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corpus {
    pub rows: u64,
    pub tokens: u64,
}

impl Corpus {
    fn average_length(&self) -> f64 {
        if self.rows == 0 {
            1.0
        } else {
            self.tokens as f64 / self.rows as f64
        }
    }

    /// FTS5's inverse document frequency of a phrase found in `hits` rows (never zero or
    /// negative: a word in most rows still counts a little).
    pub fn idf(&self, hits: u64) -> f64 {
        let (n, h) = (self.rows as f64, hits.min(self.rows) as f64);
        let idf = ((n - h + 0.5) / (h + 0.5)).ln();
        if idf <= 0.0 {
            1e-6
        } else {
            idf
        }
    }
}

/// One row's BM25 score (higher is better; FTS5's `bm25()` is its negation): the phrases with
/// their IDF, the row's key and other text (folded, single-spaced, as indexed) and the key
/// column's weight.
pub fn bm25(phrases: &[(Phrase, f64)], key: &str, text: &str, key_weight: f64, c: Corpus) -> f64 {
    let key: Vec<&str> = key.split(' ').filter(|t| !t.is_empty()).collect();
    let text: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    let length = (key.len() + text.len()) as f64;
    let norm = K1 * (1.0 - B + B * length / c.average_length());
    let mut score = 0.0;
    for (p, idf) in phrases {
        let mut freq = key_weight * p.count_in(&key) as f64;
        if !p.key_only {
            freq += p.count_in(&text) as f64;
        }
        score += idf * (freq * (K1 + 1.0)) / (freq + norm);
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, Limits};

    fn ps(q: &str) -> Vec<String> {
        phrases(&parse(q, Limits::default()).unwrap())
            .iter()
            .map(Phrase::to_fts5)
            .collect()
    }

    #[test]
    fn phrases_come_in_compilation_order_with_negations_last_in_their_and() {
        assert_eq!(ps("smith"), ["\"smith\""]);
        assert_eq!(ps("NOT a b"), ["\"b\"", "\"a\""]);
        assert_eq!(ps("\"chest pain\" mart*"), ["\"chest pain\"", "\"mart\"*"]);
        assert_eq!(ps("x OR y"), ["\"x\"", "\"y\""]);
    }

    #[test]
    fn counts_terms_phrases_and_prefixes_per_column() {
        let p = |words: &[&str], prefix| Phrase {
            words: words.iter().map(|w| w.to_string()).collect(),
            prefix,
            key_only: false,
        };
        let toks = ["chest", "pain", "and", "chest", "painful"];
        assert_eq!(p(&["chest"], false).count_in(&toks), 2);
        assert_eq!(p(&["chest", "pain"], false).count_in(&toks), 1);
        assert_eq!(p(&["chest", "pain"], true).count_in(&toks), 2);
        assert_eq!(p(&["pain", "x"], false).count_in(&toks), 0);
    }

    #[test]
    fn more_occurrences_rank_higher_and_key_text_counts_more() {
        let c = Corpus {
            rows: 1000,
            tokens: 10_000,
        };
        let smith = vec![(
            Phrase {
                words: vec!["smith".into()],
                prefix: false,
                key_only: false,
            },
            c.idf(10),
        )];
        let once = bm25(&smith, "", "patient smith", 4.0, c);
        let twice = bm25(&smith, "", "patient smith smith", 4.0, c);
        let key = bm25(&smith, "smith", "patient", 4.0, c);
        assert!(twice > once && key > twice, "{once} {twice} {key}");
        assert_eq!(bm25(&smith, "", "patient", 4.0, c), 0.0);
        assert!(
            c.idf(1000) > 0.0,
            "a word in every row still counts a little"
        );
    }
}
