//! `count` and `for_each` as a compliance gate reads them: which blocks some input could
//! create although the scanned inputs create none, and the sentence that says under which
//! condition they exist.
//!
//! A gate that judged only the instances of the variable defaults would pass a resource that
//! production variables switch on (`count = var.replica ? 1 : 0`, default `false`). So a
//! block whose `count`/`for_each` depends on any input (variable, local, module output,
//! data source, function of those) is judged as if created once, and its findings carry the
//! condition. Only a block whose `count` is a literal `0` (or whose `for_each` is a literal
//! empty collection) is skipped: no input can create it.

use hcl::expr::{Expression, Operation};
use hcl::template::{Element, Template};

use crate::model::{Node, Val};

/// True if the expression reads anything besides literals (variables, locals, module
/// outputs, resources, function results of those): some input could change its value.
pub fn depends_on_inputs(e: &Expression) -> bool {
    match e {
        Expression::Null | Expression::Bool(_) | Expression::Number(_) | Expression::String(_) => {
            false
        }
        Expression::Array(items) => items.iter().any(depends_on_inputs),
        Expression::Object(obj) => obj.values().any(depends_on_inputs),
        Expression::TemplateExpr(t) => match Template::from_expr(t) {
            Ok(tpl) => tpl.elements().iter().any(|el| match el {
                Element::Literal(_) => false,
                Element::Interpolation(i) => depends_on_inputs(&i.expr),
                Element::Directive(_) => true,
            }),
            Err(_) => true,
        },
        Expression::Parenthesis(x) => depends_on_inputs(x),
        Expression::FuncCall(f) => f.args.iter().any(depends_on_inputs),
        Expression::Conditional(c) => {
            depends_on_inputs(&c.cond_expr)
                || depends_on_inputs(&c.true_expr)
                || depends_on_inputs(&c.false_expr)
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => depends_on_inputs(&u.expr),
            Operation::Binary(b) => {
                depends_on_inputs(&b.lhs_expr) || depends_on_inputs(&b.rhs_expr)
            }
        },
        // Variables, traversals, `for` expressions and anything newer: assume an input.
        _ => true,
    }
}

/// What the scanned inputs made of a `count`/`for_each` value, for the condition sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    /// The variable defaults and tfvars give no instance.
    None,
    /// The value cannot be known from the code.
    Unknown,
}

impl Scanned {
    fn words(self, what: &str) -> String {
        match self {
            Scanned::None => format!("the scanned inputs (defaults, tfvars) give {what}"),
            Scanned::Unknown => "its value is not known from the code".to_string(),
        }
    }
}

/// Source text of an expression on one line, for messages.
pub fn source_text(e: &Expression) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_number(e: &Expression, zero: bool) -> bool {
    match e {
        Expression::Number(n) => (n.as_f64() == Some(0.0)) == zero,
        Expression::Parenthesis(x) => is_number(x, zero),
        _ => false,
    }
}

/// The condition under which `count = <e>` creates the block. The common toggle
/// `cond ? N : 0` is named by its condition.
pub fn count_condition(e: &Expression, scanned: Scanned) -> String {
    let text = source_text(e);
    let why = scanned.words("count 0");
    if let Expression::Conditional(c) = e {
        let cond = source_text(&c.cond_expr);
        if is_number(&c.true_expr, false) && is_number(&c.false_expr, true) {
            return format!("created when {cond} is true (count = {text}; {why})");
        }
        if is_number(&c.true_expr, true) && is_number(&c.false_expr, false) {
            return format!("created when {cond} is false (count = {text}; {why})");
        }
    }
    format!("created when count = {text} is at least 1 ({why})")
}

/// The condition under which `for_each = <e>` creates the block.
pub fn for_each_condition(e: &Expression, scanned: Scanned) -> String {
    let text = source_text(e);
    let why = scanned.words("an empty collection");
    format!("created for each element of for_each = {text} ({why})")
}

/// True if an evaluated `for_each` value is an empty collection.
pub fn is_empty_collection(v: &Node) -> bool {
    match &v.val {
        Val::Map(kv) => kv.is_empty(),
        Val::List(items) => items.is_empty(),
        Val::Null => true,
        _ => false,
    }
}

/// Joins the condition of the enclosing module calls with the block's own.
pub fn both(outer: Option<&str>, inner: Option<String>) -> Option<String> {
    match (outer, inner) {
        (Some(o), Some(i)) => Some(format!("{i}; {o}")),
        (Some(o), None) => Some(o.to_string()),
        (None, inner) => inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> Expression {
        let body = crate::terraform::parse_hcl(&format!("x = {src}\n")).expect("parses");
        body.attrs[0].expr.clone()
    }

    #[test]
    fn literals_do_not_depend_on_inputs_but_references_do() {
        for lit in [
            "0",
            "3",
            "\"a\"",
            "[]",
            "{}",
            "{ a = 1 }",
            "(1 + 2)",
            "\"x-${1}\"",
        ] {
            assert!(!depends_on_inputs(&expr(lit)), "{lit}");
        }
        for dynamic in [
            "var.n",
            "local.on ? 1 : 0",
            "length(var.list)",
            "{ for k, v in var.m : k => v }",
            "\"${var.env}\"",
            "module.a.n + 1",
        ] {
            assert!(depends_on_inputs(&expr(dynamic)), "{dynamic}");
        }
    }

    #[test]
    fn toggles_are_named_by_their_condition() {
        assert_eq!(
            count_condition(&expr("var.replica ? 1 : 0"), Scanned::None),
            "created when var.replica is true (count = var.replica ? 1 : 0; the scanned \
             inputs (defaults, tfvars) give count 0)"
        );
        assert!(count_condition(&expr("var.off ? 0 : 2"), Scanned::None)
            .starts_with("created when var.off is false"));
        assert!(count_condition(&expr("var.n"), Scanned::Unknown)
            .starts_with("created when count = var.n is at least 1 (its value is not known"));
        assert!(for_each_condition(&expr("var.replicas"), Scanned::None)
            .contains("for_each = var.replicas"));
    }

    #[test]
    fn module_conditions_compose() {
        assert_eq!(both(None, None), None);
        assert_eq!(
            both(
                Some("module.m is created when a"),
                Some("created when b".into())
            )
            .as_deref(),
            Some("created when b; module.m is created when a")
        );
    }
}
