//! A parsed query in each store's own syntax. Words are folded to letters and digits only, so
//! quoting them is always safe; `NOT` only ever appears beside a positive part (the parser
//! refuses a purely negative group), which both engines need.

use crate::parse::Query;

/// SQLite FTS5 `MATCH` syntax: `"word"`, `"word"*`, `"a b"` (phrase), `AND`, `OR`, `NOT`.
pub fn to_fts5(q: &Query) -> String {
    match q {
        Query::Term(w) => format!("\"{w}\""),
        Query::Prefix(w) => format!("\"{w}\"*"),
        // A fuzzy term left unexpanded is its own word, in the key text like its expansions.
        Query::KeyTerm(w) | Query::Fuzzy(w) => format!("key : \"{w}\""),
        Query::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
        Query::Or(parts) => format!(
            "({})",
            parts.iter().map(to_fts5).collect::<Vec<_>>().join(" OR ")
        ),
        Query::And(parts) => {
            let (neg, pos): (Vec<&Query>, Vec<&Query>) =
                parts.iter().partition(|p| matches!(p, Query::Not(_)));
            let mut out = format!(
                "({})",
                pos.iter()
                    .map(|p| to_fts5(p))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            );
            for n in neg {
                if let Query::Not(inner) = n {
                    out = format!("({out} NOT {})", to_fts5(inner));
                }
            }
            out
        }
        // Only reachable inside And (see the parser); alone it would match nothing useful.
        Query::Not(inner) => format!("NOT {}", to_fts5(inner)),
    }
}

/// PostgreSQL `to_tsquery('simple', …)` syntax: `'word'`, `'word':*`, `'a' <-> 'b'`, `&`, `|`,
/// `!`.
pub fn to_tsquery(q: &Query) -> String {
    match q {
        Query::Term(w) => format!("'{w}'"),
        Query::Prefix(w) => format!("'{w}':*"),
        // Key text is weight A in the index's tsvector.
        Query::KeyTerm(w) | Query::Fuzzy(w) => format!("'{w}':A"),
        Query::Phrase(ws) => format!(
            "({})",
            ws.iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        ),
        Query::Or(parts) => format!(
            "({})",
            parts.iter().map(to_tsquery).collect::<Vec<_>>().join(" | ")
        ),
        Query::And(parts) => format!(
            "({})",
            parts.iter().map(to_tsquery).collect::<Vec<_>>().join(" & ")
        ),
        Query::Not(inner) => format!("!{}", to_tsquery(inner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, Limits};

    fn both(q: &str) -> (String, String) {
        let p = parse(q, Limits::default()).unwrap();
        (to_fts5(&p), to_tsquery(&p))
    }

    #[test]
    fn each_store_gets_its_own_syntax() {
        assert_eq!(both("Smith"), ("\"smith\"".into(), "'smith'".into()));
        assert_eq!(both("smi*"), ("\"smi\"*".into(), "'smi':*".into()));
        assert_eq!(
            both("\"chest pain\""),
            ("\"chest pain\"".into(), "('chest' <-> 'pain')".into())
        );
        assert_eq!(
            both("smith NOT john OR doe"),
            (
                r#"((("smith") NOT "john") OR "doe")"#.into(),
                "(('smith' & !'john') | 'doe')".into()
            )
        );
    }

    #[test]
    fn key_terms_match_the_key_text_only() {
        let q = Query::KeyTerm("smith".into());
        assert_eq!(to_fts5(&q), "key : \"smith\"");
        assert_eq!(to_tsquery(&q), "'smith':A");
    }

    #[test]
    fn quotes_and_operators_in_the_input_cannot_reach_the_engine_syntax() {
        let (fts, ts) = both("a'b \"c:d\" e&f");
        assert_eq!(fts, r#"("a b" AND "c d" AND "e f")"#);
        assert_eq!(ts, "(('a' <-> 'b') & ('c' <-> 'd') & ('e' <-> 'f'))");
    }
}
