//! Canonical JSON: the one byte form of a `serde_json::Value` that redaction keys (its HMACs of
//! sensitive detail values). Merkle leaves are the canonical bytes of whole events, made by
//! `hippo_core::canonical` (the same form, byte for byte: see the test in hippo-store's
//! `audit_log` that compares them).
//!
//! The form is:
//!
//! * no insignificant whitespace anywhere;
//! * object members sorted by key, comparing the keys' UTF-8 bytes (equivalently, by
//!   Unicode code point); keys are unique because `serde_json::Value` objects are maps;
//! * strings (keys and values) escaped as `serde_json` escapes them: `"` and `\` and the
//!   control characters U+0000..U+001F only (as `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`
//!   or `\u00XX` with lower-case hex); every other character is written as raw UTF-8;
//! * numbers as `serde_json` prints them: integers (`i64`/`u64`) in plain decimal, with
//!   `-` for negatives only; doubles as the shortest decimal that reads back to the same
//!   `f64`, always with a `.` or an `e` (e.g. `1.0`, `-0.0`, `0.00001`, `1e-7`, `1e+20`;
//!   see hippo-core's `canonical` module for the exact layout);
//!   `true`, `false`, `null` as themselves. The workspace enables serde_json's
//!   `float_roundtrip`, so reading that text gives the same double and the form is a fixed
//!   point of parse -> canonical (without it some doubles re-read one unit in the last place
//!   off; the `floats_reread_identically` test fails then).
//!
//! The sort does not rely on `serde_json`'s map type (its `preserve_order` feature,
//! which another crate of the binary could switch on, would keep insertion order), so
//! the output is the same whatever features are unified. This is close to, but not
//! exactly, RFC 8785 (JCS): JCS sorts by UTF-16 code units and formats numbers the
//! ECMAScript way. The two agree for keys within the Basic Multilingual Plane and for
//! integers, which is what audit events contain. The module performs no I/O.

use serde_json::Value;

/// Canonical bytes of `value` (see the module documentation).
pub fn to_canonical_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out);
    out
}

/// Canonical form of `value` as a `String`.
pub fn to_canonical_string(value: &Value) -> String {
    // Only valid UTF-8 is ever written: raw UTF-8 from `str`s plus ASCII punctuation.
    String::from_utf8(to_canonical_vec(value)).expect("canonical JSON is UTF-8")
}

/// Appends the canonical bytes of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping is exactly the documented one; writing into a Vec
    // cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": null, "x": true}], "c": "d"}, "A": false});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"A":false,"a":{"c":"d","z":[3,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn escapes_minimally() {
        let v = json!({"k": "quote\" back\\ nl\n tab\t bell\u{7} é 😀 /"});
        assert_eq!(
            to_canonical_string(&v),
            "{\"k\":\"quote\\\" back\\\\ nl\\n tab\\t bell\\u0007 é 😀 /\"}"
        );
    }

    #[test]
    fn numbers() {
        let v = json!([0, -1, 18446744073709551615u64, 1.5, 1.0, -0.25]);
        assert_eq!(
            to_canonical_string(&v),
            "[0,-1,18446744073709551615,1.5,1.0,-0.25]"
        );
    }

    #[test]
    fn floats_reread_identically() {
        for text in [
            "3.1282051591932688e+60",
            "3.128205159193269e+60",
            "5e-324",
            "0.1",
            "-0.0",
            "1e+16",
            "1e-6",
            "0.00001",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(to_canonical_string(&v), text);
        }
    }

    #[test]
    fn same_value_same_bytes_whatever_the_input_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":[1,2],"z":{"q":"r","p":"s"}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{ "z" : { "p" : "s", "q" : "r" }, "y" : [ 1 , 2 ], "x" : 1 }"#)
                .unwrap();
        assert_eq!(to_canonical_vec(&a), to_canonical_vec(&b));
        let back: Value = serde_json::from_slice(&to_canonical_vec(&a)).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn key_order_is_by_code_point() {
        let v = json!({"é": 1, "z": 2, "Z": 3, "\u{1F600}": 4, "\u{FFFD}": 5});
        assert_eq!(
            to_canonical_string(&v),
            "{\"Z\":3,\"z\":2,\"é\":1,\"\u{FFFD}\":5,\"\u{1F600}\":4}"
        );
    }
}
