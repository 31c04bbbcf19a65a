//! BM25 relevance as SQLite FTS5's `bm25()` computes it (same formula and constants), but with
//! the document frequency of each phrase supplied by the caller (the embedded store caches it)
//! instead of counted again by every query: FTS5 counts it by walking the phrase's whole
//! doclist, which for a common word was a third of a search's CPU. The embedded store calls
//! [`bm25`] from an FTS5 auxiliary function, with each phrase's weighted count in the row.
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
    /// Tokens per row, on average (1 for an empty table, as FTS5 takes it).
    pub fn average_length(&self) -> f64 {
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

/// One row's BM25 score (higher is better; FTS5's `bm25()` is its negation) from each
/// phrase's count in the row (occurrences weighted by their column's weight) with the phrase's
/// IDF, the row's length in tokens, and the corpus's average length.
pub fn bm25(
    phrases: impl IntoIterator<Item = (f64, f64)>,
    length: f64,
    average_length: f64,
) -> f64 {
    let norm = K1 * (1.0 - B + B * length / average_length);
    phrases
        .into_iter()
        .map(|(freq, idf)| idf * (freq * (K1 + 1.0)) / (freq + norm))
        .sum()
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
    fn more_occurrences_and_shorter_rows_rank_higher() {
        let c = Corpus {
            rows: 1000,
            tokens: 10_000,
        };
        let avg = c.average_length();
        let idf = c.idf(10);
        let once = bm25([(1.0, idf)], 10.0, avg);
        let twice = bm25([(2.0, idf)], 10.0, avg);
        let key = bm25([(4.0, idf)], 10.0, avg);
        let longer = bm25([(1.0, idf)], 40.0, avg);
        assert!(twice > once && key > twice, "{once} {twice} {key}");
        assert!(longer < once, "{longer} {once}");
        assert_eq!(bm25([(0.0, idf)], 10.0, avg), 0.0);
        assert!(
            c.idf(1000) > 0.0,
            "a word in every row still counts a little"
        );
    }
}
