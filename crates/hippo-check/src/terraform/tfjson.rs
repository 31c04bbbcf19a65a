//! Terraform JSON syntax (`*.tf.json`, `*.tfvars.json`, e.g. CDKTF output) converted to the
//! same compact body as HCL, so one evaluator and one rule pack serve both.

use hcl::expr::{Expression, ObjectKey, TemplateExpr};

use super::{TfAttr, TfBlock, TfBody};
use crate::model::{Node, Val};
use crate::parse::json;

/// Parses a Terraform JSON file; the error carries the 1-based line.
pub fn parse(text: &str, tfvars: bool) -> Result<TfBody, (u32, String)> {
    let doc = json::parse(text).map_err(|e| (e.line, e.msg))?;
    if !matches!(doc.val, Val::Map(_)) {
        return Err((doc.line, "Terraform JSON must be an object".into()));
    }
    let mut body = TfBody::default();
    if tfvars {
        body.attrs = attrs(&doc);
        return Ok(body);
    }
    for (key, value) in doc.entries() {
        match key.as_str() {
            "resource" | "data" => {
                for (t, named) in value.entries() {
                    for (name, b) in named.entries() {
                        for item in b.items() {
                            body.blocks
                                .push(block(key, vec![t.clone(), name.clone()], item));
                        }
                    }
                }
            }
            "variable" | "module" | "output" => {
                for (name, b) in value.entries() {
                    body.blocks.push(block(key, vec![name.clone()], b));
                }
            }
            "locals" => {
                for item in value.items() {
                    body.blocks.push(block("locals", vec![], item));
                }
            }
            "terraform" => {
                let mut t = block("terraform", vec![], &Node::map(value.line));
                for item in value.items() {
                    for (kind, cfg) in item.get("backend").map(|b| b.entries()).unwrap_or_default()
                    {
                        t.body
                            .blocks
                            .push(block("backend", vec![kind.clone()], cfg));
                    }
                }
                body.blocks.push(t);
            }
            _ => {}
        }
    }
    Ok(body)
}

fn block(ident: &str, labels: Vec<String>, n: &Node) -> TfBlock {
    TfBlock {
        ident: ident.to_string(),
        labels,
        line: n.line,
        end_line: last_line(n),
        body: TfBody {
            attrs: attrs(n),
            blocks: Vec::new(),
        },
    }
}

fn last_line(n: &Node) -> u32 {
    match &n.val {
        Val::List(items) => items.iter().map(last_line).max().unwrap_or(n.line),
        Val::Map(kv) => kv.iter().map(|(_, v)| last_line(v)).max().unwrap_or(n.line),
        _ => n.line,
    }
}

fn attrs(n: &Node) -> Vec<TfAttr> {
    n.entries()
        .iter()
        .filter(|(k, _)| k != "//")
        .map(|(k, v)| TfAttr {
            key: k.clone(),
            line: v.line,
            expr: expr(v),
        })
        .collect()
}

/// JSON values become HCL expressions; strings with `${...}` are templates.
fn expr(n: &Node) -> Expression {
    match &n.val {
        Val::Null => Expression::Null,
        Val::Bool(b) => Expression::Bool(*b),
        Val::Num(x) => hcl::Number::from_f64(*x)
            .map(Expression::Number)
            .unwrap_or(Expression::Null),
        Val::Str(s) if s.contains("${") => {
            Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(s.clone())))
        }
        Val::Str(s) => Expression::String(s.clone()),
        Val::List(items) => Expression::Array(items.iter().map(expr).collect()),
        Val::Map(kv) => Expression::Object(
            kv.iter()
                .map(|(k, v)| {
                    (
                        ObjectKey::Expression(Expression::String(k.clone())),
                        expr(v),
                    )
                })
                .collect(),
        ),
        Val::Ref(_) | Val::Unknown(_) => Expression::Null,
    }
}
