//! Envelope validation: turns a client's JSON into a [`RecordInput`] or precise, value-free errors.
//!
//! Error messages name the field and the rule, never the offending value, because the value
//! may be PHI and errors end up in responses and logs.

use crate::record::RecordInput;
use serde_json::{Map, Value};

pub const MAX_TYPE_LEN: usize = 64;
pub const MAX_SUBJECT_LEN: usize = 128;
pub const MAX_LABELS: usize = 32;
pub const MAX_LABEL_LEN: usize = 64;

/// The fields a record envelope may carry.
pub const ENVELOPE_FIELDS: [&str; 4] = ["type", "subject", "labels", "body"];

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// JSON pointer-ish path of the field, e.g. `type` or `labels[3]`.
    pub field: String,
    /// Stable machine-readable code, e.g. `missing`, `unknown_field`, `too_long`.
    pub code: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record envelope is invalid ({} problem(s))", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

fn err(field: impl Into<String>, code: &'static str, message: &'static str) -> FieldError {
    FieldError {
        field: field.into(),
        code,
        message,
    }
}

/// Validates a record envelope `{type, subject?, labels?, body}` and reports every problem at once.
pub fn record_input(value: Value) -> Result<RecordInput, ValidationErrors> {
    let Value::Object(mut obj) = value else {
        return Err(ValidationErrors(vec![err(
            "",
            "not_an_object",
            "the request body must be a JSON object with fields type, subject, labels and body",
        )]));
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !ENVELOPE_FIELDS.contains(&key.as_str()) {
            errors.push(err(
                safe_field_name(key),
                "unknown_field",
                "unknown envelope field; allowed fields are type, subject, labels and body (put your data inside body)",
            ));
        }
    }
    let record_type = take_type(&mut obj, &mut errors);
    let subject = take_subject(&mut obj, &mut errors);
    let labels = take_labels(&mut obj, &mut errors);
    let body = take_body(&mut obj, &mut errors);
    if errors.is_empty() {
        Ok(RecordInput {
            record_type: record_type.unwrap_or_default(),
            subject,
            labels,
            body: body.unwrap_or_default(),
        })
    } else {
        Err(ValidationErrors(errors))
    }
}

/// Field names come from the client; only identifier-like names are echoed back.
fn safe_field_name(key: &str) -> String {
    let ok = !key.is_empty()
        && key.len() <= 40
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        key.to_owned()
    } else {
        "(unprintable field name)".to_owned()
    }
}

/// True for a record type name: starts with a letter, then letters, digits, `_`, `.` or `-`.
pub fn is_valid_type(t: &str) -> bool {
    (1..=MAX_TYPE_LEN).contains(&t.len())
        && t.starts_with(|c: char| c.is_ascii_alphabetic())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn take_type(obj: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match obj.remove("type") {
        None | Some(Value::Null) => {
            errors.push(err("type", "missing", "type is required, e.g. \"Patient\""));
            None
        }
        Some(Value::String(t)) if is_valid_type(&t) => Some(t),
        Some(Value::String(_)) => {
            errors.push(err(
                "type",
                "invalid",
                "type must be 1-64 characters: a letter, then letters, digits, '_', '.' or '-'",
            ));
            None
        }
        Some(_) => {
            errors.push(err("type", "wrong_type", "type must be a string"));
            None
        }
    }
}

fn take_subject(obj: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match obj.remove("subject") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() || s.len() > MAX_SUBJECT_LEN => {
            errors.push(err(
                "subject",
                "invalid_length",
                "subject must be 1-128 bytes",
            ));
            None
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            errors.push(err(
                "subject",
                "invalid",
                "subject must not contain control characters",
            ));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(err(
                "subject",
                "wrong_type",
                "subject must be a string or null",
            ));
            None
        }
    }
}

/// True for a label: 1-64 characters of lowercase letters, digits and `_ - . : /`.
pub fn is_valid_label(l: &str) -> bool {
    (1..=MAX_LABEL_LEN).contains(&l.len())
        && l.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | ':' | '/')
        })
}

fn take_labels(obj: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> Vec<String> {
    let items = match obj.remove("labels") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(err(
                "labels",
                "wrong_type",
                "labels must be an array of strings",
            ));
            return Vec::new();
        }
    };
    if items.len() > MAX_LABELS {
        errors.push(err("labels", "too_many", "at most 32 labels per record"));
        return Vec::new();
    }
    let mut labels = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(l) if is_valid_label(&l) => labels.push(l),
            _ => errors.push(err(
                format!("labels[{i}]"),
                "invalid",
                "each label is 1-64 characters of a-z, 0-9, '_', '-', '.', ':' or '/'",
            )),
        }
    }
    labels.sort();
    labels.dedup();
    labels
}

fn take_body(
    obj: &mut Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<Map<String, Value>> {
    match obj.remove("body") {
        None | Some(Value::Null) => {
            errors.push(err(
                "body",
                "missing",
                "body is required and must be a JSON object",
            ));
            None
        }
        Some(Value::Object(b)) => Some(b),
        Some(_) => {
            errors.push(err("body", "wrong_type", "body must be a JSON object"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn accepts_a_full_envelope() {
        let r = record_input(json!({
            "type": "Patient", "subject": "p-1", "labels": ["b", "a", "a"],
            "body": {"name": "x"}
        }))
        .unwrap();
        assert_eq!(r.record_type, "Patient");
        assert_eq!(r.labels, vec!["a", "b"]);
        assert_eq!(r.subject.as_deref(), Some("p-1"));
    }

    #[test]
    fn reports_every_problem_and_never_the_values() {
        let canary = "CANARY Jane Doe 1970";
        let e = record_input(json!({
            "type": canary, "subject": 5, "labels": [canary], "body": canary, "extra": canary
        }))
        .unwrap_err();
        let codes: Vec<_> = e.0.iter().map(|f| (f.field.as_str(), f.code)).collect();
        assert!(codes.contains(&("extra", "unknown_field")));
        assert!(codes.contains(&("type", "invalid")));
        assert!(codes.contains(&("subject", "wrong_type")));
        assert!(codes.contains(&("labels[0]", "invalid")));
        assert!(codes.contains(&("body", "wrong_type")));
        let text = serde_json::to_string(&e.0).unwrap();
        assert!(!text.contains("CANARY"), "{text}");
    }

    #[test]
    fn missing_fields_are_named() {
        let e = record_input(json!({})).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["type", "body"]);
        assert_eq!(
            record_input(json!([1])).unwrap_err().0[0].code,
            "not_an_object"
        );
    }

    #[test]
    fn unknown_field_names_that_could_carry_data_are_not_echoed() {
        let e = record_input(json!({"type": "A", "body": {}, "Jane Doe": 1})).unwrap_err();
        assert_eq!(e.0[0].field, "(unprintable field name)");
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_never_echoes_strings(s in "\\PC{1,40}") {
            let v = json!({"type": s, "subject": s, "labels": [s], "body": {"k": s}});
            if let Err(e) = record_input(v) {
                for f in e.0 {
                    prop_assert!(!f.message.contains(&s) || s.len() < 3);
                }
            }
        }
    }
}
