//! Unit tests of `hippo import`'s readers: line numbers, keys, mappings, rejections.

use super::*;
use serde_json::json;

fn entries(text: &str) -> Vec<Entry> {
    ndjson(text.as_bytes()).map(|e| e.unwrap()).collect()
}

fn key_of(e: &Entry) -> String {
    e.as_ref().unwrap().envelope[IDEMPOTENCY_KEY_FIELD]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn ndjson_lines_keep_their_numbers_and_bad_ones_are_rejected_without_content() {
    let text = "{\"type\":\"Patient\",\"body\":{\"n\":\"Zed\"}}\n\n{oops SECRET\n{\"type\":\"Patient\",\"body\":{},\"bogus\":1}\n";
    let got = entries(text);
    assert_eq!(got.len(), 3, "the blank line is no record");
    assert_eq!(got[0].as_ref().unwrap().line, 1);
    let bad = got[1].as_ref().unwrap_err();
    assert_eq!(bad.line, 3);
    assert!(bad.problem.starts_with("not valid JSON"), "{}", bad.problem);
    assert!(!bad.problem.contains("SECRET"));
    let unknown = got[2].as_ref().unwrap_err();
    assert_eq!(unknown.line, 4);
    assert!(
        unknown.problem.contains("unknown_field"),
        "{}",
        unknown.problem
    );
}

#[test]
fn keys_are_deterministic_and_identical_lines_stay_distinct() {
    let line = "{\"type\":\"Patient\",\"body\":{\"n\":\"Zed\"}}\n";
    let a = entries(&format!("{line}{line}"));
    let b = entries(&format!("{line}{line}"));
    assert_eq!(key_of(&a[0]), key_of(&b[0]));
    assert_eq!(key_of(&a[1]), key_of(&b[1]));
    assert_ne!(key_of(&a[0]), key_of(&a[1]));
    // Key order and spacing do not matter: the key hashes the canonical record.
    let c = entries("{ \"body\": {\"n\": \"Zed\"}, \"type\": \"Patient\" }\n");
    assert_eq!(key_of(&c[0]), key_of(&a[0]));
    assert!(!key_of(&a[0]).contains("Zed"));
    // A line's own key is kept.
    let own = entries("{\"type\":\"Patient\",\"body\":{},\"idempotency_key\":\"mine-1\"}\n");
    assert_eq!(key_of(&own[0]), "mine-1");
}

fn mapping(spec: &str) -> Mapping {
    Mapping::parse("Patient", spec, Some("mrn".into()), vec!["import".into()]).unwrap()
}

fn csv_entries(m: &Mapping, text: &str) -> Vec<Entry> {
    csv(text.as_bytes(), m, Path::new("t.csv"))
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
}

#[test]
fn csv_rows_map_to_nested_bodies_with_kinds() {
    let m = mapping("name.family=last, name.given=first\nage=age:number,active=act:bool");
    let got = csv_entries(
        &m,
        "mrn,last,first,age,act\nm-1,Quimby,Ada,42,yes\nm-2,\"Multi\nLine\",Bo,,no\n",
    );
    let first = &got[0].as_ref().unwrap();
    assert_eq!(first.line, 2);
    assert_eq!(first.envelope["subject"], "m-1");
    assert_eq!(first.envelope["labels"], json!(["import"]));
    assert_eq!(
        first.envelope["body"],
        json!({"name": {"family": "Quimby", "given": "Ada"}, "age": 42, "active": true})
    );
    let second = got[1].as_ref().unwrap();
    assert_eq!(second.line, 3);
    assert!(
        second.envelope["body"].get("age").is_none(),
        "an empty cell leaves its field out"
    );
}

#[test]
fn csv_rows_failing_the_mapping_are_rejected_by_line() {
    let m = mapping("name.family=last,age=age:number");
    let got = csv_entries(
        &m,
        "mrn,last,age\nm-1,Quimby,old\n,Quimby,3\nm-3,Quimby\nm-4,Quimby,4\n",
    );
    let problems: Vec<(u64, String)> = got
        .iter()
        .filter_map(|e| e.as_ref().err().map(|r| (r.line, r.problem.clone())))
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].0, 2);
    assert!(problems[0].1.contains("not a number") && !problems[0].1.contains("old"));
    assert_eq!(problems[1].0, 3);
    assert!(problems[1].1.contains("subject column"));
    assert_eq!(problems[2].0, 4);
    assert!(got[3].is_ok());
}

#[test]
fn bad_mappings_are_refused_up_front() {
    for (spec, why) in [
        ("name.family", "no `=`"),
        ("a=b:date", "unknown kind"),
        ("name=a,name.family=b", "overlap"),
        ("", "names no field"),
    ] {
        let e = Mapping::parse("Patient", spec, None, vec![]).unwrap_err();
        assert!(e.to_string().contains(why), "{spec}: {e}");
    }
    assert!(Mapping::parse("not a type!", "a=b", None, vec![]).is_err());
    let m = mapping("name.family=surname");
    let e = csv("mrn,last\n".as_bytes(), &m, Path::new("t.csv"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("no column `surname`"), "{e}");
}

#[test]
fn formats_come_from_extensions() {
    assert_eq!(Format::of(Path::new("a.NDJSON")), Some(Format::Ndjson));
    assert_eq!(Format::of(Path::new("a.jsonl")), Some(Format::Ndjson));
    assert_eq!(Format::of(Path::new("a.csv")), Some(Format::Csv));
    assert_eq!(Format::of(Path::new("a.txt")), None);
}
