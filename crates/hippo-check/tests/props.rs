//! Property tests for the parsers and the suppression syntax.

use proptest::prelude::*;

use hippo_check::model::{Node, Val};
use hippo_check::parse::{json, yaml};
use hippo_check::suppress::{civil_from_days, parse_directive, valid_date};

fn to_serde(n: &Node) -> serde_json::Value {
    match &n.val {
        Val::Null => serde_json::Value::Null,
        Val::Bool(b) => (*b).into(),
        Val::Num(x) => serde_json::json!(x),
        Val::Str(s) => s.clone().into(),
        Val::List(l) => l.iter().map(to_serde).collect(),
        Val::Map(kv) => kv
            .iter()
            .map(|(k, v)| (k.clone(), to_serde(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => unreachable!(),
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-1_000_000i64..1_000_000).prop_map(|n| serde_json::json!(n as f64)),
        "[ -~\\n\\t\u{e9}\u{1F600}]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn json_parser_agrees_with_serde(v in arb_json(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
        let node = json::parse(&text).unwrap();
        prop_assert_eq!(to_serde(&node), v);
    }

    #[test]
    fn json_lines_are_within_the_document(v in arb_json()) {
        let text = serde_json::to_string_pretty(&v).unwrap();
        let lines = text.lines().count() as u32;
        fn check(n: &Node, max: u32) -> bool {
            n.line >= 1 && n.line <= max && match &n.val {
                Val::List(l) => l.iter().all(|x| check(x, max)),
                Val::Map(kv) => kv.iter().all(|(_, x)| check(x, max)),
                _ => true,
            }
        }
        prop_assert!(check(&json::parse(&text).unwrap(), lines.max(1)));
    }

    #[test]
    fn json_parser_never_panics(s in "\\PC{0,64}") {
        let _ = json::parse(&s);
    }

    #[test]
    fn yaml_parser_never_panics(s in "[ -~\\n]{0,80}") {
        let _ = yaml::parse_docs(&s);
    }

    #[test]
    fn suppression_directive_roundtrip(
        ids in prop::collection::vec("HIPPO-[A-Z]{2,4}-[0-9]{3}", 1..3),
        reason in proptest::option::of("[a-zA-Z0-9 .,:/-]{1,40}"),
        days in 0i64..40_000,
        prefix in prop_oneof![Just("#"), Just("//"), Just("  # trailing")],
    ) {
        let until = civil_from_days(days);
        let mut line = format!("{prefix} hippo:ignore {}", ids.join(","));
        if let Some(r) = &reason { line.push_str(&format!(" reason=\"{r}\"")); }
        line.push_str(&format!(" until={until}"));
        let d = parse_directive(&line).expect("directive parsed");
        prop_assert_eq!(d.rule_ids, ids);
        prop_assert_eq!(d.reason, reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()));
        prop_assert_eq!(d.until.as_deref(), Some(until.as_str()));
        prop_assert!(valid_date(&until));
    }

    #[test]
    fn dates_are_ordered_like_days(a in 0i64..60_000, b in 0i64..60_000) {
        prop_assert_eq!(civil_from_days(a).cmp(&civil_from_days(b)), a.cmp(&b));
    }
}

#[test]
fn civil_dates_known_values() {
    assert_eq!(civil_from_days(0), "1970-01-01");
    assert_eq!(civil_from_days(19_723), "2024-01-01");
    assert_eq!(civil_from_days(11_016), "2000-02-29");
}

#[test]
fn cloudformation_short_tags_become_long_form() {
    let docs =
        yaml::parse_docs("A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub \"a-${X}\"\nD: !If [c, 1, 2]\n")
            .unwrap();
    let d = &docs[0];
    assert_eq!(d.get("A").unwrap().get("Ref").unwrap().as_str(), Some("X"));
    let ga = d.get("B").unwrap().get("Fn::GetAtt").unwrap();
    assert!(matches!(&ga.val, Val::List(l) if l.len() == 2));
    assert!(d.get("C").unwrap().get("Fn::Sub").is_some());
    assert!(d.get("D").unwrap().get("Fn::If").is_some());
    assert_eq!(d.get("C").unwrap().line, 3);
}

proptest! {
    /// Variables with defaults, tfvars overrides and string templates evaluate to the
    /// literal the user would expect, and the value carries the attribute's line.
    #[test]
    fn terraform_templates_resolve_variables(
        default in "[a-z0-9-]{1,12}",
        over in proptest::option::of("[a-z0-9-]{1,12}"),
        suffix in "[a-z0-9]{0,8}",
        blank in 0usize..4,
    ) {
        use hippo_check::terraform::{parse_hcl, TfFile, Tree};
        use std::path::Path;
        let text = format!(
            "variable \"v\" {{\n  default = \"{default}\"\n}}\n{}resource \"aws_s3_bucket\" \"b\" {{\n  bucket = \"${{var.v}}{suffix}\"\n}}\n",
            "\n".repeat(blank)
        );
        let mut tree = Tree::default();
        let dir = Path::new("/virtual/root");
        tree.add(&dir.join("main.tf"), TfFile { path: "main.tf".into(), body: parse_hcl(&text).unwrap() });
        if let Some(o) = &over {
            let vars = format!("v = \"{o}\"\n");
            tree.add(&dir.join("terraform.tfvars"), TfFile { path: "terraform.tfvars".into(), body: parse_hcl(&vars).unwrap() });
        }
        let res = tree.resources();
        let b = res.iter().find(|r| r.rtype == "aws_s3_bucket").unwrap();
        let bucket = b.get("bucket").unwrap();
        let expected = format!("{}{suffix}", over.unwrap_or(default));
        prop_assert_eq!(bucket.as_str(), Some(expected.as_str()));
        prop_assert_eq!(bucket.line, 5 + blank as u32);
        prop_assert_eq!(b.line, 4 + blank as u32);
    }
}
