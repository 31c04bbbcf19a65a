//! Canonical JSON and content hashes: one byte string per JSON value, so integrity hashes are reproducible.
//!
//! This is the form hashed for a record's `body_sha256` (integrity, 164.312(c)(1)) and stored
//! as the record's body text. Precisely:
//!
//! * no insignificant whitespace anywhere;
//! * object members sorted by key, comparing the keys' UTF-8 bytes (that is, by Unicode code
//!   point); keys are unique (strict request parsing, [`crate::strict_json`], refuses
//!   duplicates, and a `serde_json` map cannot hold them);
//! * strings escaped as `serde_json` escapes them: `"`, `\` and U+0000..U+001F only (as `\"`,
//!   `\\`, `\b`, `\f`, `\n`, `\r`, `\t` or `\u00xx` with lower-case hex), everything else raw UTF-8;
//! * numbers in one of two forms. A number written without fraction or exponent that fits
//!   `i64` or `u64` is an integer, printed in plain decimal (`-12`, `18446744073709551615`).
//!   Every other number is an IEEE 754 double, printed as serde_json 1.0.154 prints it: the
//!   shortest decimal that reads back to the same double (on a tie between two, its choice),
//!   in plain notation with at least one fraction digit for magnitudes from 1e-5 to below
//!   1e16 (`1.0`, `0.1`, `-0.0`, `0.00001`, `1000000000000000.0`), otherwise as a mantissa
//!   (with a fraction only if it has more than one digit) and a signed exponent without
//!   leading zeros (`1e+16`, `3.128205159193269e+60`, `1e-6`, `5e-324`);
//! * `true`, `false`, `null` as themselves.
//!
//! The form is stable under re-parsing: serde_json's `float_roundtrip` feature (enabled for
//! the workspace) reads every decimal to its nearest double, so reading a printed double gives
//! the same double, and parse -> canonical is the identity on canonical text. Without the
//! feature about one double in six read back one unit in the last place off, so the text and
//! hash changed on every read (issue 10). The tests below fail without it when this crate is
//! tested alone (`cargo test -p hippo-core`); whole-workspace test builds get the feature from
//! a dev-dependency (jsonschema) regardless, so `.ci/run` also checks the binary's own graph.
//! Text stored by releases before that fix is canonical text of whatever double was parsed
//! then, so it reads back identically now and its hash still matches. The printing is part of
//! the stored hashes: a serde_json upgrade that changed it would make stored bodies fail
//! their integrity check, and the exact-text tests below would fail first.
//!
//! This is close to, but not, RFC 8785 (JCS): JCS sorts keys by UTF-16 code units and prints
//! numbers the ECMAScript way (no integer/double distinction, `1e+21` style exponents, `100`
//! for 100.0). Keys within the Basic Multilingual Plane sort the same either way.

use sha2::{Digest, Sha256};

/// Serialises `value` canonically.
pub fn to_canonical_bytes(value: &serde_json::Value) -> Vec<u8> {
    // serde_json's default `Map` is a BTreeMap, so serialisation already sorts keys; the
    // workspace must not enable serde_json's `preserve_order` feature (checked by a test below).
    serde_json::to_vec(value).expect("a serde_json::Value always serialises")
}

/// Hex SHA-256 of the canonical form of `value`.
pub fn sha256_hex(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(to_canonical_bytes(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1,2], "x": null}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(sha256_hex(&a), sha256_hex(&b));
        assert_eq!(
            to_canonical_bytes(&a),
            br#"{"a":{"x":null,"y":[1,2]},"b":1}"#
        );
    }

    #[test]
    fn different_content_gives_different_hash() {
        assert_ne!(sha256_hex(&json!({"a": 1})), sha256_hex(&json!({"a": 2})));
    }

    #[test]
    fn serde_json_features_keep_the_canonical_form() {
        // `preserve_order` would keep insertion order instead of sorting.
        let mut m = serde_json::Map::new();
        m.insert("b".into(), json!(1));
        m.insert("a".into(), json!(2));
        assert_eq!(
            to_canonical_bytes(&serde_json::Value::Object(m)),
            br#"{"a":2,"b":1}"#
        );
        // `arbitrary_precision` would keep the number's source text.
        let v: serde_json::Value = serde_json::from_str("[1.10, 1E2]").unwrap();
        assert_eq!(to_canonical_bytes(&v), b"[1.1,100.0]");
        // Without `float_roundtrip` this parses one unit in the last place off (issue 10).
        let v: serde_json::Value = serde_json::from_str("3.128205159193269e+60").unwrap();
        assert_eq!(to_canonical_bytes(&v), b"3.128205159193269e+60");
        // The printing stored hashes depend on (see the module documentation).
        let v: serde_json::Value =
            serde_json::from_str("[1e-5, 1e-6, 1e15, 1e16, 5e-324, -0.0, 1.7976931348623157e308]")
                .unwrap();
        assert_eq!(
            to_canonical_bytes(&v),
            b"[0.00001,1e-6,1000000000000000.0,1e+16,5e-324,-0.0,1.7976931348623157e+308]"
        );
    }

    /// A body stored by the previous release: its text was printed from the double that release
    /// parsed (here the issue's example, parsed inexactly, as the issue saw it echoed). It reads
    /// back to the same bytes and hash, so the record stays readable.
    #[test]
    fn text_stored_by_the_previous_release_rereads_identically() {
        let stored = br#"{"x":3.1282051591932688e+60}"#;
        let stored_hash = hex::encode(Sha256::digest(stored));
        let read: serde_json::Value = serde_json::from_slice(stored).unwrap();
        assert_eq!(to_canonical_bytes(&read), stored);
        assert_eq!(sha256_hex(&read), stored_hash);
        // Spelt without the `+` (never stored: this serde_json always prints it), it is the
        // same double.
        let unsigned: serde_json::Value =
            serde_json::from_str(r#"{"x":3.1282051591932688e60}"#).unwrap();
        assert_eq!(sha256_hex(&unsigned), stored_hash);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn canonical_form_is_a_fixed_point(keys in proptest::collection::vec("[a-z]{1,5}", 0..8), n in any::<i64>()) {
            let mut m = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                m.insert(k.clone(), json!([n, i, k]));
            }
            let v = serde_json::Value::Object(m);
            let bytes = to_canonical_bytes(&v);
            let reparsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(to_canonical_bytes(&reparsed), bytes);
        }

        /// Any double the previous release may have stored, printed as serde_json prints it,
        /// re-reads to the same bytes and the same hash.
        #[test]
        fn any_stored_double_rereads_identically(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(f.is_finite());
            let stored = serde_json::to_vec(&json!({"x": f})).unwrap();
            let read: serde_json::Value = serde_json::from_slice(&stored).unwrap();
            prop_assert_eq!(read["x"].as_f64().map(f64::to_bits), Some(bits));
            prop_assert_eq!(to_canonical_bytes(&read), stored.clone());
            prop_assert_eq!(sha256_hex(&read), hex::encode(Sha256::digest(&stored)));
        }
    }
}
