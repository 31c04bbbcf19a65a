//! Strict parsing of JSON request bodies: one `serde_json::Value` per document, or a refusal naming where the document is ambiguous or cannot be stored exactly.
//!
//! On top of JSON's grammar (RFC 8259), a document is refused if
//!
//! * an object holds the same key twice (after unescaping: `"type"` and `"t\u0079pe"` are the
//!   same key). RFC 8259 leaves such documents' meaning open; for health data an ambiguous
//!   document must not be stored as whichever copy a parser happens to keep;
//! * a number cannot be stored as the value written. An integer (no fraction, no exponent)
//!   must fit `i64` or `u64` and is kept digit for digit. Any other number is stored as the
//!   IEEE 754 double nearest to it, so it must be finite in that format and carry no more
//!   precision than the double does: its significant digits (leading and trailing zeros
//!   dropped) may be no more than those of the shortest decimal that reads back to that
//!   double (as serde_json prints it). So `0.1`, `1.50`, `15e-1`, `3.128205159193269e+60` and
//!   every double printed by a shortest-round-trip printer (JavaScript, Python, Go, Rust) are
//!   accepted; `1.000000000000000000000001` (25 digits), `0.10000000000000001` (`%.17g` of
//!   0.1, precision the double does not have), `1e400` and `1e-400` (out of range) are not.
//!
//! An accepted number is stored as exactly the double its text denotes, and
//! [`crate::canonical`] prints it so it reads back as that double: parse -> canonical ->
//! parse -> canonical is a fixed point. When two shortest decimals read back to the same
//! double (its exact value lies half-way between them, e.g. 581997598278284.25), either is
//! accepted and the stored text is serde_json's choice (`581997598278284.2` for input
//! `581997598278284.3`): the same double, so the same value.
//!
//! Errors name the place as a JSON pointer (RFC 6901) built from object keys and array
//! indices, never a value: a key is schema, not data. Keys that do not look like identifiers
//! (1-64 ASCII letters, digits or `_ - . $ @ :`) are shown as `*`, because a client that keys
//! objects by, say, a patient's name would otherwise see it echoed into responses and logs.
//!
//! Hand-written rather than a crate because it needs each number's source text and each
//! object's keys with their position; serde_json exposes neither without its
//! `arbitrary_precision`/`preserve_order` features, which would change the canonical form.
//! The scan only checks; serde_json (with `float_roundtrip`) still builds the value.

use serde_json::Value;
use std::collections::HashSet;

/// Deepest nesting the scan follows; serde_json refuses deeper documents too.
const MAX_DEPTH: usize = 128;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    #[error("the request body is not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    #[error("the key at {pointer} appears more than once in its object; send each key once")]
    DuplicateKey { pointer: String },
    #[error(
        "the number at {pointer} cannot be stored exactly: integers must fit in 64 bits, other \
         numbers in an IEEE 754 double, without more significant digits than the double holds"
    )]
    UnrepresentableNumber { pointer: String },
}

/// Parses `bytes` as one JSON document under the rules of the module documentation.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    match scan(bytes) {
        Ok(()) => serde_json::from_slice(bytes).map_err(|e| syntax_from_serde(&e)),
        Err(Finding::Duplicate(pointer)) => Err(StrictJsonError::DuplicateKey { pointer }),
        Err(Finding::Number(pointer)) => Err(StrictJsonError::UnrepresentableNumber { pointer }),
        // serde_json reports the position as every other syntax error is reported; should it
        // accept what the scan refused, the scan's own position is given (fail closed).
        Err(Finding::Syntax(offset)) => Err(match serde_json::from_slice::<Value>(bytes) {
            Err(e) => syntax_from_serde(&e),
            Ok(_) => position(bytes, offset),
        }),
    }
}

/// True if the number token `token` (JSON grammar) is stored as exactly the value it denotes
/// (see the module documentation).
pub fn number_is_exact(token: &str) -> bool {
    let Ok(parsed) = serde_json::from_str::<serde_json::Number>(token) else {
        return false; // outside the finite f64 range
    };
    if !token.contains(['.', 'e', 'E']) {
        // serde_json keeps integer tokens as i64/u64 when they fit (and `-0` as -0.0, whose
        // value is still zero); others become a rounded f64.
        return parsed.is_i64() || parsed.is_u64() || token == "-0";
    }
    // Fewer digits than the shortest print cannot occur for a correct shortest printer; more
    // means precision the double does not hold (a nonzero that underflowed prints as 0.0,
    // which has none).
    significant_digits(token) <= significant_digits(&parsed.to_string())
}

/// Significant digits of a number's text: its mantissa without sign, point, and leading or
/// trailing zeros (`0.00120e5` has 2).
fn significant_digits(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

fn syntax_from_serde(e: &serde_json::Error) -> StrictJsonError {
    // serde_json's messages can quote the input; only its position is kept.
    StrictJsonError::Syntax {
        line: e.line(),
        column: e.column(),
    }
}

fn position(bytes: &[u8], offset: usize) -> StrictJsonError {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    StrictJsonError::Syntax { line, column }
}

/// What the scan found first.
#[derive(Debug)]
enum Finding {
    Duplicate(String),
    Number(String),
    /// Not JSON at this byte offset.
    Syntax(usize),
}

/// One open container and where the scan is inside it.
enum Frame {
    Object {
        keys: HashSet<String>,
        current: String,
    },
    Array {
        index: usize,
    },
}

enum State {
    Value,
    AfterValue,
    Key,
}

/// Walks the document once without recursion, checking keys and numbers.
fn scan(bytes: &[u8]) -> Result<(), Finding> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut pos = 0;
    let mut state = State::Value;
    loop {
        pos = skip_whitespace(bytes, pos);
        let byte = bytes.get(pos).copied();
        state = match state {
            State::Value => match byte {
                Some(b'{') | Some(b'[') if stack.len() >= MAX_DEPTH => {
                    return Err(Finding::Syntax(pos))
                }
                Some(b'{') => {
                    pos = skip_whitespace(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b'}') {
                        pos += 1;
                        State::AfterValue
                    } else {
                        stack.push(Frame::Object {
                            keys: HashSet::new(),
                            current: String::new(),
                        });
                        State::Key
                    }
                }
                Some(b'[') => {
                    pos = skip_whitespace(bytes, pos + 1);
                    if bytes.get(pos) == Some(&b']') {
                        pos += 1;
                        State::AfterValue
                    } else {
                        stack.push(Frame::Array { index: 0 });
                        State::Value
                    }
                }
                Some(b'"') => {
                    pos = string_end(bytes, pos)?;
                    State::AfterValue
                }
                Some(b'-' | b'0'..=b'9') => {
                    let end = number_end(bytes, pos)?;
                    // The grammar allows only ASCII here, so this is valid UTF-8.
                    let token = std::str::from_utf8(&bytes[pos..end]).expect("ASCII");
                    if !number_is_exact(token) {
                        return Err(Finding::Number(pointer(&stack)));
                    }
                    pos = end;
                    State::AfterValue
                }
                Some(_) => {
                    let rest = &bytes[pos..];
                    let literal = ["true", "false", "null"]
                        .into_iter()
                        .find(|l| rest.starts_with(l.as_bytes()))
                        .ok_or(Finding::Syntax(pos))?;
                    pos += literal.len();
                    State::AfterValue
                }
                None => return Err(Finding::Syntax(pos)),
            },
            State::AfterValue => match (stack.last_mut(), byte) {
                (None, None) => return Ok(()),
                (None, Some(_)) => return Err(Finding::Syntax(pos)),
                (Some(Frame::Array { index }), Some(b',')) => {
                    *index += 1;
                    pos += 1;
                    State::Value
                }
                (Some(Frame::Object { .. }), Some(b',')) => {
                    pos += 1;
                    State::Key
                }
                (Some(Frame::Array { .. }), Some(b']'))
                | (Some(Frame::Object { .. }), Some(b'}')) => {
                    stack.pop();
                    pos += 1;
                    State::AfterValue
                }
                _ => return Err(Finding::Syntax(pos)),
            },
            State::Key => {
                if byte != Some(b'"') {
                    return Err(Finding::Syntax(pos));
                }
                let end = string_end(bytes, pos)?;
                let key: String =
                    serde_json::from_slice(&bytes[pos..end]).map_err(|_| Finding::Syntax(pos))?;
                let Some(Frame::Object { keys, current }) = stack.last_mut() else {
                    unreachable!("keys are read only inside objects");
                };
                *current = key.clone();
                if !keys.insert(key) {
                    return Err(Finding::Duplicate(pointer(&stack)));
                }
                pos = skip_whitespace(bytes, end);
                if bytes.get(pos) != Some(&b':') {
                    return Err(Finding::Syntax(pos));
                }
                pos += 1;
                State::Value
            }
        };
    }
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The offset just past the string starting at `start` (a `"`); escapes are checked later by
/// serde_json, only their extent here.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, Finding> {
    let mut pos = start + 1;
    loop {
        match bytes.get(pos) {
            Some(b'"') => return Ok(pos + 1),
            Some(b'\\') => pos += 2,
            Some(b) if *b < 0x20 => return Err(Finding::Syntax(pos)),
            Some(_) => pos += 1,
            None => return Err(Finding::Syntax(pos)),
        }
    }
}

/// The offset just past the number starting at `start`, following RFC 8259's grammar
/// exactly: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number_end(bytes: &[u8], start: usize) -> Result<usize, Finding> {
    let at = |p: usize| bytes.get(p).copied();
    let digits_from = |mut p: usize| {
        let first = p;
        while matches!(at(p), Some(b'0'..=b'9')) {
            p += 1;
        }
        (p > first).then_some(p).ok_or(Finding::Syntax(p))
    };
    let mut pos = start;
    if at(pos) == Some(b'-') {
        pos += 1;
    }
    pos = match at(pos) {
        Some(b'0') => pos + 1,
        Some(b'1'..=b'9') => digits_from(pos)?,
        _ => return Err(Finding::Syntax(pos)),
    };
    if at(pos) == Some(b'.') {
        pos = digits_from(pos + 1)?;
    }
    if matches!(at(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(at(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = digits_from(pos)?;
    }
    Ok(pos)
}

/// The JSON pointer of the innermost position of `stack` (see the module documentation).
fn pointer(stack: &[Frame]) -> String {
    let mut out = String::new();
    for frame in stack {
        out.push('/');
        match frame {
            Frame::Array { index } => out.push_str(&index.to_string()),
            // Identifier-like keys hold neither `~` nor `/`, so need no RFC 6901 escaping.
            Frame::Object { current, .. } if is_identifier_like(current) => out.push_str(current),
            Frame::Object { .. } => out.push('*'),
        }
    }
    out
}

fn is_identifier_like(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$' | b'@' | b':')
        })
}

#[cfg(test)]
#[path = "strict_json_tests.rs"]
mod tests;
