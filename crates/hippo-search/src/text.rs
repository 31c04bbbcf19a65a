//! Folding (lower case, accents removed, punctuation to spaces), the one way both stores and
//! every query turn text into words.

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

/// Largest searchable text kept per record and part (a long note is indexed up to here).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Müller-Lüdenscheidt"), "muller ludenscheidt");
        assert_eq!(tokens("O'Brien, JOSÉ"), ["o", "brien", "jose"]);
        assert_eq!(tokens("Ångström 12mg"), ["angstrom", "12mg"]);
    }
}
