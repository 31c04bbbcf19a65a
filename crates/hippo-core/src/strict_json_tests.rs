//! Tests of strict request parsing: duplicate keys, exact numbers, syntax positions, and the
//! round trip of every accepted number through the canonical form.

use super::*;
use crate::canonical::to_canonical_bytes;
use proptest::prelude::*;
use serde_json::json;

fn dup(doc: &str) -> String {
    match parse(doc.as_bytes()) {
        Err(StrictJsonError::DuplicateKey { pointer }) => pointer,
        other => panic!("{doc}: expected a duplicate key, got {other:?}"),
    }
}

fn inexact(doc: &str) -> String {
    match parse(doc.as_bytes()) {
        Err(StrictJsonError::UnrepresentableNumber { pointer }) => pointer,
        other => panic!("{doc}: expected an unrepresentable number, got {other:?}"),
    }
}

#[test]
fn duplicate_keys_are_refused_with_their_pointer() {
    assert_eq!(dup(r#"{"type":"A","type":"B"}"#), "/type");
    assert_eq!(dup(r#"{"body":{"a":[1,{"k":1,"k":2}]}}"#), "/body/a/1/k");
    // Escapes are resolved before comparing.
    assert_eq!(dup(r#"{"type":1, "t\u0079pe":2}"#), "/type");
    // Keys that may carry data are not echoed.
    assert_eq!(dup(r#"{"Jane Doe":{"x":1,"x":2}}"#), "/*/x");
    // The same key in different objects is fine.
    let v = parse(br#"{"a":{"k":1},"b":{"k":2},"c":[{"k":3},{"k":4}]}"#).unwrap();
    assert_eq!(v["c"][1]["k"], 4);
}

#[test]
fn numbers_that_cannot_be_stored_exactly_are_refused_with_their_pointer() {
    // 25 significant digits.
    assert_eq!(
        inexact(r#"{"type":"T","body":{"x":1.000000000000000000000001}}"#),
        "/body/x"
    );
    assert_eq!(inexact(r#"[0, {"y": [1e400]}]"#), "/1/y/0");
    assert_eq!(inexact(r#"{"n":18446744073709551616}"#), "/n");
    assert_eq!(inexact(r#"{"n":-9223372036854775809}"#), "/n");
    assert_eq!(inexact(r#"{"n":1e-400}"#), "/n"); // underflows to zero
    assert_eq!(inexact(r#"{"n":-1.7976931348623159e308}"#), "/n");
    assert_eq!(inexact("12345678901234567890123456789.0"), "");
    // %.17g of 0.1: more precision than the double 0.1 holds.
    assert_eq!(inexact("[0.10000000000000001]"), "/0");
    // The value is never in the message.
    let e = parse(br#"{"x":1.000000000000000000000001}"#).unwrap_err();
    assert!(!e.to_string().contains("000001"), "{e}");
}

#[test]
fn exact_numbers_are_accepted_whatever_their_spelling() {
    for (token, printed) in [
        ("0.1", "0.1"),
        ("1.50", "1.5"),
        ("15e-1", "1.5"),
        ("1E+2", "100.0"),
        ("-0", "-0.0"),
        ("0e999999999999999999999", "0.0"),
        ("1.000000000000000000000000", "1.0"),
        ("100000000000000000000000000000.0", "1e+29"),
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("3.128205159193269e+60", "3.128205159193269e+60"),
        ("3.128205159193269E60", "3.128205159193269e+60"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        // A tie between two shortest forms: the same double, serde_json's spelling.
        ("-581997598278284.3", "-581997598278284.2"),
    ] {
        let v = parse(token.as_bytes()).unwrap_or_else(|e| panic!("{token}: {e}"));
        assert_eq!(String::from_utf8(to_canonical_bytes(&v)).unwrap(), printed);
    }
}

#[test]
fn the_issue_example_keeps_its_value() {
    let v = parse(br#"{"type":"T","body":{"x":3.128205159193269e+60}}"#).unwrap();
    assert_eq!(
        v["body"]["x"].as_f64().unwrap(),
        "3.128205159193269e+60".parse::<f64>().unwrap()
    );
    assert_eq!(
        to_canonical_bytes(&v),
        br#"{"body":{"x":3.128205159193269e+60},"type":"T"}"#
    );
}

#[test]
fn syntax_errors_carry_serde_json_positions() {
    for doc in [
        "",
        "{",
        r#"{"a":}"#,
        "[1,]",
        r#"{"a":1,}"#,
        "{\"a\":\n tru}",
        "01",
        "1.",
        "-",
        "\"a\u{1}\"",
        "[] []",
        r#"{"a" 1}"#,
        r#""\x""#,
    ] {
        let ours = parse(doc.as_bytes()).unwrap_err();
        let theirs = serde_json::from_str::<Value>(doc).unwrap_err();
        assert_eq!(
            ours,
            StrictJsonError::Syntax {
                line: theirs.line(),
                column: theirs.column()
            },
            "{doc:?}"
        );
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(matches!(
        parse(deep.as_bytes()),
        Err(StrictJsonError::Syntax { .. })
    ));
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(parse(ok.as_bytes()).is_ok());
}

/// Every JSON value, as serde_json builds them (numbers from any finite f64 or 64-bit integer).
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z\u{e9}]{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON number token: sign, integer digits, optional fraction and exponent.
fn any_number_token() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "(0|[1-9][0-9]{0,24})",
        proptest::option::of("[0-9]{1,25}"),
        proptest::option::of((
            proptest::sample::select(vec!["e", "E"]),
            proptest::sample::select(vec!["", "+", "-"]),
            0u32..400,
        )),
    )
        .prop_map(|(negative, int, frac, exp)| {
            let mut t = String::new();
            if negative {
                t.push('-');
            }
            t.push_str(&int);
            if let Some(f) = frac {
                t.push('.');
                t.push_str(&f);
            }
            if let Some((e, sign, n)) = exp {
                t.push_str(&format!("{e}{sign}{n}"));
            }
            t
        })
}

/// Significant digits of a token's mantissa (leading and trailing zeros dropped).
fn significant_digits(token: &str) -> usize {
    let mantissa = token
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap()
        .replace('.', "");
    mantissa.trim_start_matches('0').trim_end_matches('0').len()
}

/// The power of ten of the token's first significant digit (`None` for zero).
fn magnitude(token: &str) -> Option<i64> {
    let unsigned = token.trim_start_matches('-');
    let (mantissa, exp) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let first = digits.find(|c: char| c != '0')?;
    Some(int.len() as i64 - 1 - first as i64 + exp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The property the issue asks for: any number accepted is stored as its own value, and
    /// parse -> canonical -> parse -> canonical is a fixed point.
    #[test]
    fn accepted_numbers_keep_their_value_and_reread_identically(token in any_number_token()) {
        let doc = format!(r#"{{"x":{token}}}"#);
        let digits = significant_digits(&token);
        let is_float = token.contains(['.', 'e', 'E']);
        let in_normal_range = magnitude(&token).is_none_or(|m| (-300..=300).contains(&m));
        match parse(doc.as_bytes()) {
            Ok(first) => {
                if first["x"].is_i64() || first["x"].is_u64() {
                    // Integers are kept as integers, digit for digit.
                    prop_assert!(!is_float);
                    prop_assert_eq!(first["x"].to_string(), token.parse::<i128>().unwrap().to_string());
                } else {
                    // Rust's own parser rounds correctly: the stored double is the one the
                    // input denotes.
                    let stored = first["x"].as_f64().unwrap();
                    prop_assert_eq!(stored.to_bits(), token.parse::<f64>().unwrap().to_bits());
                    // No more digits than the double's shortest form (Rust's, independent of
                    // serde_json's printer), so never more than 17.
                    let shortest = format!("{stored:e}");
                    prop_assert!(digits <= significant_digits(&shortest), "{} accepted, shortest {}", token, shortest);
                    prop_assert!(digits <= 17);
                }
                let canonical = to_canonical_bytes(&first);
                let second = parse(&canonical).expect("the canonical form is strict JSON");
                prop_assert_eq!(&second, &first);
                prop_assert_eq!(to_canonical_bytes(&second), canonical);
            }
            Err(StrictJsonError::UnrepresentableNumber { pointer }) => {
                prop_assert_eq!(pointer, "/x");
                // Up to 15 significant digits always survive a double (DBL_DIG) in range;
                // integers within 64 bits are kept as integers.
                let fits_integer = !is_float && token.parse::<i128>().is_ok_and(|n| n >= i64::MIN as i128 && n <= u64::MAX as i128);
                let must_accept = fits_integer || (digits <= 15 && in_normal_range);
                prop_assert!(!must_accept, "{token} refused");
            }
            Err(e) => prop_assert!(false, "{token}: {e}"),
        }
    }

    /// Every double, however spelt exactly, is accepted as itself; one more significant digit
    /// than its shortest form makes it inexact and refused.
    #[test]
    fn every_double_survives_and_extra_digits_are_refused(bits in any::<u64>(), zeros in 0usize..4, upper in any::<bool>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let shortest = format!("{f:e}"); // e.g. 3.128205159193269e60: Rust prints the shortest round trip
        let (mantissa, exp) = shortest.split_once('e').unwrap();
        let mantissa = if mantissa.contains('.') { format!("{mantissa}{}", "0".repeat(zeros)) } else { format!("{mantissa}.{}", "0".repeat(zeros + 1)) };
        let spelt = format!("{mantissa}{}{exp}", if upper { "E" } else { "e" });
        let v = parse(spelt.as_bytes()).unwrap_or_else(|e| panic!("{spelt}: {e}"));
        prop_assert_eq!(v.as_f64().map(f64::to_bits), Some(bits));
        let canonical = to_canonical_bytes(&v);
        prop_assert_eq!(to_canonical_bytes(&parse(&canonical).unwrap()), canonical);
        if f != 0.0 {
            // 18 significant digits ending in 7: no shortest double print (at most 17) equals it.
            let (int, frac) = shortest.split_once('e').unwrap().0.split_once('.').unwrap_or((shortest.split_once('e').unwrap().0, ""));
            let pad = "0".repeat(17 - int.trim_start_matches('-').len() - frac.len());
            let longer = format!("{int}.{frac}{pad}7e{exp}");
            prop_assert!(matches!(parse(longer.as_bytes()), Err(StrictJsonError::UnrepresentableNumber { .. })), "{longer}");
        }
    }

    /// Whatever serde_json prints, strict parsing reads back as the same value.
    #[test]
    fn printed_values_are_accepted_unchanged(v in any_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_vec_pretty(&v).unwrap() } else { serde_json::to_vec(&v).unwrap() };
        let back = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&text)));
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(to_canonical_bytes(&back), to_canonical_bytes(&v));
    }

    /// On any input the scan neither panics nor accepts what serde_json refuses.
    #[test]
    fn never_accepts_what_serde_json_refuses(text in "[\\[\\]{}\",:0-9eE.+\\- a-z\\\\]{0,40}") {
        let ours = parse(text.as_bytes());
        if serde_json::from_str::<Value>(&text).is_err() {
            prop_assert!(ours.is_err(), "{text:?}");
        }
    }
}
