//! Property test: after redaction, no plaintext of any sensitive value of a realistic mix of audit event details appears anywhere in the serialised output.

use hippo_audit::redact::Redactor;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Sensitive plaintext: starts with `Zq` (never produced by hex, numbers or the fixed
/// vocabulary below) and is at least 6 characters long.
fn secret() -> impl Strategy<Value = String> {
    "Zq[A-Za-z0-9 @.'-]{4,24}"
}

/// Sensitive keys in the spellings clients use.
fn sensitive_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "name",
        "Name",
        "given",
        "family",
        "given_name",
        "familyName",
        "birthDate",
        "birth_date",
        "DOB",
        "address",
        "Address",
        "phone",
        "telecom",
        "email",
        "patient_email",
        "identifier",
        "MRN",
        "ssn",
        "text",
        "note",
        "notes",
        "q",
        "query",
        "search",
        "searchTerms",
        "comment",
        "postalCode",
        "homePhone",
    ])
    .prop_map(str::to_string)
}

/// Non-sensitive keys of the same events.
fn plain_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "resource_type",
        "action",
        "outcome",
        "params",
        "request",
        "resource",
        "items",
        "meta",
        "entry",
        "reason",
        "count",
        "method",
        "path",
        "status",
    ])
    .prop_map(str::to_string)
}

/// Any JSON value that may carry secrets, with the secrets collected alongside.
fn sensitive_value() -> impl Strategy<Value = (Value, Vec<String>)> {
    prop_oneof![
        secret().prop_map(|s| (Value::String(s.clone()), vec![s])),
        prop::collection::vec(secret(), 1..4).prop_map(|v| (json!(v), v)),
        (secret(), secret()).prop_map(|(a, b)| (
            json!({"line": [a.clone()], "city": b.clone(), "use": "home"}),
            vec![a, b]
        )),
        (secret(), secret()).prop_map(|(a, b)| (
            json!([{"system": "urn:mrn", "value": a.clone()}, {"given": [b.clone()]}]),
            vec![a, b]
        )),
    ]
}

/// A details document mixing plain and sensitive members at several depths.
fn details() -> impl Strategy<Value = (Value, Vec<String>)> {
    let leaf = prop_oneof![
        (sensitive_key(), sensitive_value()).prop_map(|(k, (v, s))| {
            let mut m = Map::new();
            m.insert(k, v);
            (Value::Object(m), s)
        }),
        (plain_key(), "[a-y0-9/_]{0,12}").prop_map(|(k, v)| (json!({ k: v }), vec![])),
        (plain_key(), any::<i64>()).prop_map(|(k, v)| (json!({ k: v }), vec![])),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            (plain_key(), prop::collection::vec(inner.clone(), 1..5)).prop_map(|(k, items)| {
                let mut secrets = vec![];
                let arr: Vec<Value> = items
                    .into_iter()
                    .map(|(v, s)| {
                        secrets.extend(s);
                        v
                    })
                    .collect();
                (json!({ k: arr }), secrets)
            }),
            prop::collection::vec((plain_key(), inner), 1..5).prop_map(|members| {
                let mut m = Map::new();
                let mut secrets = vec![];
                for (k, (v, s)) in members {
                    // Later duplicate keys replace earlier ones: keep only live secrets.
                    m.insert(k, v);
                    let _ = s;
                }
                for v in m.values() {
                    collect_secrets(v, &mut secrets);
                }
                (Value::Object(m), secrets)
            }),
        ]
    })
}

/// Every `Zq...` string in a value (what the generator put there).
fn collect_secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("Zq") => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_sensitive_plaintext_survives((doc, _) in details(), key in prop::collection::vec(any::<u8>(), 32)) {
        let mut secrets = vec![];
        collect_secrets(&doc, &mut secrets);
        let red = Redactor::new(&key);
        let (out, outcome) = red.redact(&doc);
        let text = serde_json::to_string(&out).unwrap();
        for s in &secrets {
            prop_assert!(!text.contains(s.as_str()), "{} leaked: {}", s, text);
            // Not even a long fragment of it.
            if s.len() >= 8 {
                prop_assert!(!text.contains(&s[..8]), "prefix of {} leaked: {}", s, text);
            }
        }
        prop_assert!(!text.contains("Zq"));
        prop_assert_eq!(outcome.any(), !secrets.is_empty());
    }
}

/// A realistic request mix, as the API would log it.
#[test]
fn realistic_request_mix() {
    let red = Redactor::new(&[42u8; 32]);
    let requests = vec![
        json!({"method": "GET", "path": "/v1/Patient", "params": {"family": "Okonkwo", "given": "Adaeze", "birthdate": "1984-03-07", "_count": 20}}),
        json!({"method": "POST", "path": "/v1/Patient", "resource": {"resourceType": "Patient", "name": [{"family": "Lindqvist", "given": ["Maja", "Elin"]}], "telecom": [{"system": "phone", "value": "+46 70 123 45 67"}, {"system": "email", "value": "maja.lindqvist@example.se"}], "address": [{"line": ["Storgatan 12"], "city": "Uppsala", "postalCode": "753 20"}], "identifier": [{"system": "urn:oid:1.2.752.129.2.1.3.1", "value": "19840307-1234"}], "gender": "female"}}),
        json!({"method": "GET", "path": "/v1/search", "params": {"q": "HIV test results Rafael Gomez"}}),
        json!({"method": "PATCH", "path": "/v1/Observation/obs-9", "patch": [{"op": "replace", "path": "/note/0/text", "value": "Patient reports chest pain since Tuesday"}], "note": [{"text": "Called daughter Ana at 555-0199"}]}),
        json!({"method": "GET", "path": "/v1/Patient", "params": {"identifier": "MRN|00424242", "ssn": "078-05-1120", "email": "r.gomez@example.com", "phone": "(555) 010-7788"}}),
    ];
    let secrets = [
        "Okonkwo",
        "Adaeze",
        "1984-03-07",
        "Lindqvist",
        "Maja",
        "Elin",
        "+46 70 123 45 67",
        "maja.lindqvist@example.se",
        "Storgatan",
        "Uppsala",
        "753 20",
        "19840307-1234",
        "HIV test",
        "Rafael",
        "Called daughter",
        "555-0199",
        "00424242",
        "078-05-1120",
        "r.gomez@example.com",
        "(555) 010-7788",
    ];
    let mut stored = String::new();
    for r in &requests {
        let (out, outcome) = red.redact(r);
        assert!(outcome.any(), "{r}");
        stored.push_str(&serde_json::to_string(&out).unwrap());
        stored.push('\n');
    }
    for s in secrets {
        assert!(
            !stored.contains(s),
            "{s} reached the audit store:\n{stored}"
        );
    }
    // What is kept is still useful for the audit.
    assert!(
        stored.contains("/v1/Patient")
            && stored.contains("\"gender\":\"female\"")
            && stored.contains("\"_count\":20")
    );
}
