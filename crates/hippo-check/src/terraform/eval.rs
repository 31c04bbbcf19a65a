//! Evaluation of Terraform expressions: variables, locals, module outputs, string
//! templates, conditionals and a small set of pure functions. Anything that cannot
//! be known from the code becomes `Val::Unknown`, never a guessed value.

use std::cell::RefCell;
use std::collections::HashMap;

use hcl::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl::template::{Element, Template};

use crate::model::{partial_string, Node, Val};

/// What an expression can see: variables, locals and the resource-address prefix.
pub trait Env {
    fn var(&self, name: &str) -> Option<Node>;
    fn local(&self, name: &str) -> Option<Node>;
    fn module_output(&self, module: &str, output: &str) -> Option<Node>;
    fn prefix(&self) -> &str;
    fn module_dir(&self) -> &std::path::Path;
    /// `each.key` and `each.value` inside a `for_each` instance.
    fn each(&self) -> Option<(Node, Node)> {
        None
    }
    /// `count.index` inside a `count` instance.
    fn count_index(&self) -> Option<f64> {
        None
    }
}

pub struct Eval<'a> {
    pub env: &'a dyn Env,
    pub line: u32,
    pub depth: RefCell<u32>,
}

fn unknown(line: u32, what: impl Into<String>) -> Node {
    Node::new(line, Val::Unknown(what.into()))
}

impl<'a> Eval<'a> {
    pub fn new(env: &'a dyn Env, line: u32) -> Self {
        Eval {
            env,
            line,
            depth: RefCell::new(0),
        }
    }

    pub fn eval(&self, e: &Expression) -> Node {
        let l = self.line;
        {
            let mut d = self.depth.borrow_mut();
            *d += 1;
            if *d > 64 {
                *d -= 1;
                return unknown(l, "expression too deep");
            }
        }
        let out = self.eval_inner(e);
        *self.depth.borrow_mut() -= 1;
        out
    }

    fn eval_inner(&self, e: &Expression) -> Node {
        let l = self.line;
        match e {
            Expression::Null => Node::new(l, Val::Null),
            Expression::Bool(b) => Node::new(l, Val::Bool(*b)),
            Expression::Number(n) => Node::new(l, Val::Num(n.as_f64().unwrap_or(0.0))),
            Expression::String(s) => Node::new(l, Val::Str(s.clone())),
            Expression::Array(items) => {
                Node::new(l, Val::List(items.iter().map(|i| self.eval(i)).collect()))
            }
            Expression::Object(obj) => {
                let kv = obj
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            ObjectKey::Identifier(id) => id.as_str().to_string(),
                            ObjectKey::Expression(x) => match self.eval(x).val {
                                Val::Str(s) => s,
                                other => format!("{other:?}"),
                            },
                            _ => "<key>".to_string(),
                        };
                        (key, self.eval(v))
                    })
                    .collect();
                Node::new(l, Val::Map(kv))
            }
            Expression::TemplateExpr(t) => match Template::from_expr(t) {
                Ok(tpl) => self.template(&tpl),
                Err(_) => unknown(l, "template"),
            },
            Expression::Variable(v) => unknown(l, v.as_str()),
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators),
            Expression::FuncCall(f) => self.func(f.name.name.as_str(), &f.args),
            Expression::Parenthesis(x) => self.eval(x),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr);
                match cond.val {
                    Val::Bool(true) => self.eval(&c.true_expr),
                    Val::Bool(false) => self.eval(&c.false_expr),
                    _ => {
                        let a = self.eval(&c.true_expr);
                        let b = self.eval(&c.false_expr);
                        if a.val == b.val {
                            a
                        } else {
                            unknown(l, "conditional on an unknown value")
                        }
                    }
                }
            }
            Expression::Operation(op) => match op.as_ref() {
                hcl::expr::Operation::Unary(u) => {
                    let v = self.eval(&u.expr);
                    match (u.operator, &v.val) {
                        (UnaryOperator::Not, Val::Bool(b)) => Node::new(l, Val::Bool(!b)),
                        (UnaryOperator::Neg, Val::Num(n)) => Node::new(l, Val::Num(-n)),
                        _ => unknown(l, "unary operation on an unknown value"),
                    }
                }
                hcl::expr::Operation::Binary(b) => {
                    let x = self.eval(&b.lhs_expr);
                    let y = self.eval(&b.rhs_expr);
                    binary(b.operator, x, y, l)
                }
            },
            Expression::ForExpr(_) => unknown(l, "for expression"),
            _ => unknown(l, "unsupported expression"),
        }
    }

    fn template(&self, tpl: &Template) -> Node {
        // "${expr}" alone is the expression itself (Terraform unwraps it), not a string.
        if let [Element::Interpolation(i)] = tpl.elements() {
            return self.eval(&i.expr);
        }
        let mut out = String::new();
        for el in tpl.elements() {
            match el {
                Element::Literal(s) => out.push_str(s),
                Element::Interpolation(i) => match self.eval(&i.expr).val {
                    Val::Str(s) => out.push_str(&s),
                    Val::Num(n) => out.push_str(&fmt_num(n)),
                    Val::Bool(b) => out.push_str(&b.to_string()),
                    // Literal text around the unknown part: the value is some string with
                    // that text in it, never a bare wildcard or a whole list (see
                    // `partial_string`).
                    Val::Ref(r) => return unknown(self.line, partial_string(&r)),
                    Val::Unknown(u) => return unknown(self.line, partial_string(&u)),
                    _ => return unknown(self.line, partial_string("an interpolation")),
                },
                Element::Directive(_) => return unknown(self.line, "template directive"),
            }
        }
        Node::new(self.line, Val::Str(out))
    }

    fn traversal(&self, base: &Expression, ops: &[TraversalOperator]) -> Node {
        let l = self.line;
        let root = match base {
            Expression::Variable(v) => v.as_str().to_string(),
            other => return self.walk(self.eval(other), ops),
        };
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(id)) => Some(id.as_str().to_string()),
            _ => None,
        };
        match root.as_str() {
            "var" => match attr(0) {
                Some(n) => match self.env.var(&n) {
                    Some(v) => self.walk(v, &ops[1..]),
                    None => unknown(l, format!("var.{n}")),
                },
                None => unknown(l, "var"),
            },
            "local" => match attr(0) {
                Some(n) => match self.env.local(&n) {
                    Some(v) => self.walk(v, &ops[1..]),
                    None => unknown(l, format!("local.{n}")),
                },
                None => unknown(l, "local"),
            },
            "module" => match (attr(0), attr(1)) {
                (Some(m), Some(o)) => match self.env.module_output(&m, &o) {
                    Some(v) => self.walk(v, &ops[2..]),
                    None => unknown(l, format!("module.{m}.{o}")),
                },
                _ => unknown(l, "module output"),
            },
            "path" => match attr(0).as_deref() {
                Some("module") | Some("root") | Some("cwd") => {
                    Node::new(l, Val::Str(self.env.module_dir().display().to_string()))
                }
                _ => unknown(l, "path"),
            },
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) => {
                    Node::new(l, Val::Ref(format!("{}data.{t}.{n}", self.env.prefix())))
                }
                _ => unknown(l, "data source"),
            },
            "each" => match (attr(0).as_deref(), self.env.each()) {
                (Some("key"), Some((k, _))) => Node::new(l, k.val),
                (Some("value"), Some((_, v))) => self.walk(v, &ops[1..]),
                _ => unknown(l, "each value"),
            },
            "count" => match (attr(0).as_deref(), self.env.count_index()) {
                (Some("index"), Some(i)) => Node::new(l, Val::Num(i)),
                _ => unknown(l, "count value"),
            },
            "self" | "terraform" => unknown(l, format!("{root} value")),
            rtype => match attr(0) {
                Some(n) => Node::new(l, Val::Ref(format!("{}{rtype}.{n}", self.env.prefix()))),
                None => unknown(l, rtype.to_string()),
            },
        }
    }

    fn walk(&self, mut cur: Node, ops: &[TraversalOperator]) -> Node {
        for op in ops {
            cur = match (op, &cur.val) {
                (TraversalOperator::GetAttr(id), Val::Map(_)) => match cur.get(id.as_str()) {
                    Some(v) => v.clone(),
                    None => return unknown(self.line, format!("attribute {}", id.as_str())),
                },
                (TraversalOperator::Index(ix), Val::List(items)) => match self.eval(ix).as_num() {
                    Some(n) if (n as usize) < items.len() => items[n as usize].clone(),
                    _ => return unknown(self.line, "list index"),
                },
                (TraversalOperator::LegacyIndex(n), Val::List(items)) => {
                    match items.get(*n as usize) {
                        Some(v) => v.clone(),
                        None => return unknown(self.line, "list index"),
                    }
                }
                (TraversalOperator::Index(ix), Val::Map(_)) => match self.eval(ix).val {
                    Val::Str(k) => match cur.get(&k) {
                        Some(v) => v.clone(),
                        None => return unknown(self.line, format!("key {k}")),
                    },
                    _ => return unknown(self.line, "map key"),
                },
                (_, Val::Ref(_)) | (_, Val::Unknown(_)) => return cur,
                _ => return unknown(self.line, "traversal"),
            };
        }
        cur
    }

    fn func(&self, name: &str, args: &[Expression]) -> Node {
        let l = self.line;
        let vals: Vec<Node> = args.iter().map(|a| self.eval(a)).collect();
        let known = |v: &Node| !matches!(v.val, Val::Unknown(_) | Val::Ref(_));
        match name {
            "jsonencode" | "yamlencode" | "tolist" | "toset" | "tomap" | "sensitive"
            | "nonsensitive" => vals.into_iter().next().unwrap_or(unknown(l, name)),
            "jsondecode" => match vals.first().and_then(|v| v.as_str()) {
                Some(s) => crate::parse::json::parse(s)
                    .map(|n| relined(n, l))
                    .unwrap_or_else(|_| unknown(l, "jsondecode")),
                None => unknown(l, "jsondecode"),
            },
            "tostring" | "tonumber" | "tobool" => {
                vals.into_iter().next().unwrap_or(unknown(l, name))
            }
            "lower" | "upper" => match vals.first().and_then(|v| v.as_str()) {
                Some(s) if name == "lower" => Node::new(l, Val::Str(s.to_lowercase())),
                Some(s) => Node::new(l, Val::Str(s.to_uppercase())),
                None => unknown(l, name),
            },
            "try" | "coalesce" => vals
                .into_iter()
                .find(|v| known(v) && v.val != Val::Null && v.as_str() != Some(""))
                .unwrap_or(unknown(l, name)),
            "concat" => {
                let mut out = Vec::new();
                for v in &vals {
                    match &v.val {
                        Val::List(items) => out.extend(items.iter().cloned()),
                        _ => return unknown(l, "concat"),
                    }
                }
                Node::new(l, Val::List(out))
            }
            "merge" => {
                let mut out: Vec<(String, Node)> = Vec::new();
                for v in &vals {
                    match &v.val {
                        Val::Map(kv) => {
                            for (k, x) in kv {
                                out.retain(|(ok, _)| ok != k);
                                out.push((k.clone(), x.clone()));
                            }
                        }
                        _ => return unknown(l, "merge"),
                    }
                }
                Node::new(l, Val::Map(out))
            }
            "lookup" => match (vals.first(), vals.get(1).and_then(|k| k.as_str())) {
                (Some(m), Some(k)) if matches!(m.val, Val::Map(_)) => m
                    .get(k)
                    .cloned()
                    .or_else(|| vals.get(2).cloned())
                    .unwrap_or(unknown(l, "lookup")),
                _ => unknown(l, "lookup"),
            },
            "join" => match (vals.first().and_then(|s| s.as_str()), vals.get(1)) {
                (
                    Some(sep),
                    Some(Node {
                        val: Val::List(items),
                        ..
                    }),
                ) => {
                    let parts: Option<Vec<String>> = items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect();
                    parts
                        .map(|p| Node::new(l, Val::Str(p.join(sep))))
                        .unwrap_or(unknown(l, "join"))
                }
                _ => unknown(l, "join"),
            },
            "format" => self.format(&vals),
            "max" | "min" => {
                let nums: Option<Vec<f64>> = vals.iter().map(Node::as_num).collect();
                match nums {
                    Some(n) if !n.is_empty() => {
                        let r = if name == "max" {
                            n.iter().cloned().fold(f64::MIN, f64::max)
                        } else {
                            n.iter().cloned().fold(f64::MAX, f64::min)
                        };
                        Node::new(l, Val::Num(r))
                    }
                    _ => unknown(l, name),
                }
            }
            "file" => match vals.first().and_then(|v| v.as_str()) {
                Some(p) => {
                    let path = self.env.module_dir().join(p);
                    match std::fs::read_to_string(&path) {
                        Ok(s) => Node::new(l, Val::Str(s)),
                        Err(_) => unknown(l, format!("file({p})")),
                    }
                }
                None => unknown(l, "file"),
            },
            other => unknown(l, format!("{other}()")),
        }
    }

    fn format(&self, vals: &[Node]) -> Node {
        let l = self.line;
        let Some(fmt) = vals.first().and_then(|v| v.as_str()) else {
            return unknown(l, "format");
        };
        let mut out = String::new();
        let mut args = vals[1..].iter();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(_) => match args.next().map(|a| &a.val) {
                    Some(Val::Str(s)) => out.push_str(s),
                    Some(Val::Num(n)) => out.push_str(&fmt_num(*n)),
                    Some(Val::Bool(b)) => out.push_str(&b.to_string()),
                    _ => return unknown(l, "format"),
                },
                None => out.push('%'),
            }
        }
        Node::new(l, Val::Str(out))
    }
}

fn relined(mut n: Node, line: u32) -> Node {
    n.line = line;
    match &mut n.val {
        Val::List(items) => {
            for i in items.iter_mut() {
                *i = relined(std::mem::replace(i, Node::new(0, Val::Null)), line);
            }
        }
        Val::Map(kv) => {
            for (_, v) in kv.iter_mut() {
                *v = relined(std::mem::replace(v, Node::new(0, Val::Null)), line);
            }
        }
        _ => {}
    }
    n
}

pub fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn binary(op: BinaryOperator, x: Node, y: Node, l: u32) -> Node {
    use BinaryOperator as B;
    let unknown_operand = x.is_unknown() || y.is_unknown();
    match op {
        B::Eq | B::NotEq => {
            if unknown_operand {
                return unknown(l, "comparison with an unknown value");
            }
            let eq = x.val == y.val;
            Node::new(l, Val::Bool(if op == B::Eq { eq } else { !eq }))
        }
        B::And | B::Or => match (&x.val, &y.val) {
            (Val::Bool(a), Val::Bool(b)) => {
                Node::new(l, Val::Bool(if op == B::And { *a && *b } else { *a || *b }))
            }
            (Val::Bool(false), _) | (_, Val::Bool(false)) if op == B::And => {
                Node::new(l, Val::Bool(false))
            }
            (Val::Bool(true), _) | (_, Val::Bool(true)) if op == B::Or => {
                Node::new(l, Val::Bool(true))
            }
            _ => unknown(l, "logical operation on an unknown value"),
        },
        _ => match (x.as_num(), y.as_num()) {
            (Some(a), Some(b)) => {
                let v = match op {
                    B::Plus => Val::Num(a + b),
                    B::Minus => Val::Num(a - b),
                    B::Mul => Val::Num(a * b),
                    B::Div => Val::Num(a / b),
                    B::Mod => Val::Num(a % b),
                    B::Less => Val::Bool(a < b),
                    B::LessEq => Val::Bool(a <= b),
                    B::Greater => Val::Bool(a > b),
                    B::GreaterEq => Val::Bool(a >= b),
                    _ => return unknown(l, "operation"),
                };
                Node::new(l, v)
            }
            _ => unknown(l, "arithmetic on an unknown value"),
        },
    }
}

/// Lazily evaluated, memoised locals with a recursion guard.
#[derive(Default)]
pub struct Memo {
    pub values: RefCell<HashMap<String, Option<Node>>>,
}
