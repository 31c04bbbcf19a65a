//! The query language, parsed by hand: a recursive-descent parser over a dozen tokens is
//! shorter than a grammar crate's setup, and it must report the exact character position of
//! every error without ever echoing the query (which may hold a patient's name).

use crate::text::tokens;

/// A parsed query. Words are folded (see [`crate::fold`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Term(String),
    Prefix(String),
    /// A word or others spelled like it (`smyth~`): typo-tolerant, for names. The stores
    /// expand it into the similar words of their key-text vocabulary (see `fuzzy`).
    Fuzzy(String),
    /// A word of the key text only (names, identifiers, titles, codes): what a fuzzy term
    /// expands into. Not written by users; `fuzzy::expand` makes it.
    KeyTerm(String),
    /// Words that must appear next to each other, in order.
    Phrase(Vec<String>),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
}

/// Bounds on queries, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest query, in characters.
    pub max_chars: usize,
    /// Most terms, phrases and prefixes in one query.
    pub max_terms: usize,
    /// Shortest prefix before `*`, in characters (short prefixes match half the index).
    pub min_prefix: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_chars: 512,
            max_terms: 32,
            min_prefix: 2,
        }
    }
}

/// Why a query was refused; `position` is the 0-based character offset of the problem. The
/// message never quotes the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct QueryError {
    pub position: usize,
    pub message: String,
}

fn err(position: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        position,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Prefix(String),
    Fuzzy(String),
    Phrase(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push((i, if c == '(' { Tok::Open } else { Tok::Close }));
            i += 1;
        } else if c == '"' {
            let start = i;
            let close = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .ok_or_else(|| err(start, "this quote is never closed; end the phrase with \""))?;
            let inner: String = chars[i + 1..i + 1 + close].iter().collect();
            out.push((start, Tok::Phrase(inner)));
            i += close + 2;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()\"".contains(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let tok = match word.as_str() {
                "AND" => Tok::And,
                "OR" => Tok::Or,
                "NOT" => Tok::Not,
                w => match (w.strip_suffix('*'), w.strip_suffix('~')) {
                    (Some(p), _) => Tok::Prefix(p.to_owned()),
                    (_, Some(f)) => Tok::Fuzzy(f.to_owned()),
                    _ => Tok::Word(w.to_owned()),
                },
            };
            out.push((start, tok));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    limits: Limits,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let start = self.pos();
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.at += 1;
                    parts.push(self.unary()?);
                }
                Some(Tok::Or | Tok::Close) | None => break,
                Some(_) => parts.push(self.unary()?),
            }
        }
        if parts.iter().all(|p| matches!(p, Query::Not(_))) {
            return Err(err(
                start,
                "NOT needs a term to exclude from, e.g. smith NOT john",
            ));
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if self.peek() == Some(&Tok::Not) {
            self.at += 1;
            return Ok(Query::Not(Box::new(self.primary()?)));
        }
        self.primary()
    }

    fn count(&mut self, pos: usize) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(err(
                pos,
                format!("a query may hold at most {} terms", self.limits.max_terms),
            ));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let pos = self.pos();
        let Some((_, tok)) = self.toks.get(self.at).cloned() else {
            return Err(err(pos, "the query ends where a term was expected"));
        };
        self.at += 1;
        match tok {
            Tok::Word(w) => {
                self.count(pos)?;
                let words = tokens(&w);
                match words.len() {
                    0 => Err(err(pos, "nothing searchable here: use letters or digits")),
                    1 => Ok(Query::Term(words.into_iter().next().expect("one"))),
                    _ => Ok(Query::Phrase(words)),
                }
            }
            Tok::Prefix(p) => {
                self.count(pos)?;
                let words = tokens(&p);
                match words.as_slice() {
                    [w] if w.chars().count() >= self.limits.min_prefix => {
                        Ok(Query::Prefix(w.clone()))
                    }
                    [_] | [] => Err(err(
                        pos,
                        format!(
                            "a prefix needs at least {} letters or digits before *",
                            self.limits.min_prefix
                        ),
                    )),
                    _ => Err(err(pos, "a prefix is one word followed by *")),
                }
            }
            Tok::Fuzzy(f) => {
                self.count(pos)?;
                let words = tokens(&f);
                match words.as_slice() {
                    [w] if w.chars().count() >= crate::fuzzy::MIN_CHARS => {
                        Ok(Query::Fuzzy(w.clone()))
                    }
                    [_] | [] => Err(err(
                        pos,
                        format!(
                            "a fuzzy term needs at least {} letters or digits before ~",
                            crate::fuzzy::MIN_CHARS
                        ),
                    )),
                    _ => Err(err(pos, "a fuzzy term is one word followed by ~")),
                }
            }
            Tok::Phrase(text) => {
                self.count(pos)?;
                let words = tokens(&text);
                match words.len() {
                    0 => Err(err(pos, "this phrase holds nothing searchable")),
                    1 => Ok(Query::Term(words.into_iter().next().expect("one"))),
                    _ => Ok(Query::Phrase(words)),
                }
            }
            Tok::Open => {
                let inner = self.or()?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(err(pos, "this parenthesis is never closed")),
                }
            }
            Tok::Close => Err(err(pos, "a closing parenthesis without an opening one")),
            Tok::And | Tok::Or | Tok::Not => Err(err(
                pos,
                "an operator here has nothing on one side; AND, OR and NOT join terms",
            )),
        }
    }
}

/// Parses a query. Operators are the upper-case words `AND`, `OR`, `NOT`; anything else is
/// searched for (so lower-case "and" is a word).
pub fn parse(q: &str, limits: Limits) -> Result<Query, QueryError> {
    let len = q.chars().count();
    if len > limits.max_chars {
        return Err(err(
            limits.max_chars,
            format!("the query is longer than {} characters", limits.max_chars),
        ));
    }
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(err(0, "the query is empty"));
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: len,
        limits,
        terms: 0,
    };
    let query = p.or()?;
    match p.toks.get(p.at) {
        None => Ok(query),
        Some((pos, Tok::Close)) => Err(err(*pos, "a closing parenthesis without an opening one")),
        Some((pos, _)) => Err(err(*pos, "unexpected here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Query {
        parse(s, Limits::default()).unwrap()
    }

    fn e(s: &str) -> QueryError {
        parse(s, Limits::default()).unwrap_err()
    }

    #[test]
    fn terms_phrases_prefixes_and_operators() {
        use Query::*;
        assert_eq!(q("Smith"), Term("smith".into()));
        assert_eq!(
            q("\"chest pain\""),
            Phrase(vec!["chest".into(), "pain".into()])
        );
        assert_eq!(q("smi*"), Prefix("smi".into()));
        assert_eq!(q("Smyth~"), Fuzzy("smyth".into()));
        assert_eq!(q("a b"), And(vec![Term("a".into()), Term("b".into())]));
        assert_eq!(
            q("a OR b c"),
            Or(vec![
                Term("a".into()),
                And(vec![Term("b".into()), Term("c".into())])
            ])
        );
        assert_eq!(
            q("smith NOT john"),
            And(vec![
                Term("smith".into()),
                Not(Box::new(Term("john".into())))
            ])
        );
        assert_eq!(
            q("(a OR b) AND c"),
            And(vec![
                Or(vec![Term("a".into()), Term("b".into())]),
                Term("c".into())
            ])
        );
        assert_eq!(q("O'Brien"), Phrase(vec!["o".into(), "brien".into()]));
        assert_eq!(q("and"), Term("and".into()), "lower case is a word");
    }

    #[test]
    fn errors_name_the_position_and_never_the_text() {
        assert_eq!(e("smith \"chest").position, 6);
        assert_eq!(e("smith AND").position, 9);
        assert_eq!(e("OR smith").position, 0);
        assert_eq!(e("NOT smith").position, 0);
        assert_eq!(e("(smith").position, 0);
        assert_eq!(e("smith)").position, 5);
        assert_eq!(e("s*").position, 0);
        assert_eq!(e("a sm~").position, 2);
        assert_eq!(e("o'brien~").position, 0);
        assert_eq!(e("   ").position, 0);
        assert_eq!(e(&"x ".repeat(400)).position, 512);
        assert_eq!(e(&"x ".repeat(33)).position, 64);
        let secret = e("Zebediah \"Quux");
        assert!(!secret.to_string().contains("Zebediah") && !secret.to_string().contains("Quux"));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_errors_stay_in_bounds(s in "\\PC{0,80}") {
            if let Err(e) = parse(&s, Limits::default()) {
                prop_assert!(e.position <= s.chars().count());
            }
        }

        #[test]
        fn any_plain_words_parse(words in proptest::collection::vec("[a-z]{1,8}", 1..10)) {
            let q = words.join(" ");
            prop_assert!(parse(&q, Limits::default()).is_ok());
        }
    }
}
