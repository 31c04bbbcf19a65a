//! Canonical JSON and content hashes: one byte string per JSON value, so integrity hashes are reproducible.
//!
//! Canonical form: object keys sorted by code point, no insignificant whitespace, numbers and
//! strings as serde_json prints them. This is the form hashed for a record's `body_sha256`
//! (integrity, 164.312(c)(1)).

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

    proptest! {
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
    }
}
