//! YAML (multi-document) to line-annotated nodes; CloudFormation short-form tags
//! such as `!Ref`, `!Sub` and `!GetAtt` become their long form (`Ref`, `Fn::Sub`, ...).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::model::{Node, Val};

/// A YAML syntax error with its line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct YamlError {
    pub line: u32,
    pub msg: String,
}

/// Parses every document of a YAML stream.
pub fn parse_docs(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| YamlError {
        line: e.marker().line() as u32,
        msg: e.info().to_string(),
    })?;
    Ok(b.docs)
}

enum Frame {
    Seq(Node, Option<Tag>, usize),
    Map(Node, Option<Tag>, usize, Option<(String, u32)>),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(seq, _, _)) => {
                if let Val::List(items) = &mut seq.val {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, _, pending)) => match pending.take() {
                None => *pending = Some((key_text(&node), node.line)),
                Some((k, key_line)) => {
                    let mut node = node;
                    if matches!(node.val, Val::Map(_) | Val::List(_)) && key_line < node.line {
                        node.line = key_line;
                    }
                    if let Val::Map(kv) = &mut map.val {
                        kv.push((k, node));
                    }
                }
            },
        }
    }
}

fn key_text(n: &Node) -> String {
    match &n.val {
        Val::Str(s) => s.clone(),
        Val::Num(x) => x.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Null => "null".into(),
        _ => "<complex-key>".into(),
    }
}

fn plain_scalar(s: String) -> Val {
    match s.as_str() {
        "true" | "True" | "TRUE" => return Val::Bool(true),
        "false" | "False" | "FALSE" => return Val::Bool(false),
        "null" | "Null" | "NULL" | "~" | "" => return Val::Null,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if (first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.')
        && !s.contains(':')
        && !(s.len() > 1 && first == b'0' && s.as_bytes()[1].is_ascii_digit())
    {
        if let Ok(n) = s.parse::<f64>() {
            if n.is_finite() {
                return Val::Num(n);
            }
        }
    }
    Val::Str(s)
}

/// Wraps a tagged value into its CloudFormation long form, if the tag is one.
fn apply_tag(tag: Option<Tag>, node: Node) -> Node {
    let Some(tag) = tag else { return node };
    if tag.handle == "!!" {
        if tag.suffix == "str" {
            if let Val::Str(_) = node.val {
                return node;
            }
            let line = node.line;
            return Node::new(line, Val::Str(key_text(&node)));
        }
        return node;
    }
    if tag.handle != "!" {
        return node;
    }
    let name = match tag.suffix.as_str() {
        "Ref" => "Ref".to_string(),
        "Condition" => "Condition".to_string(),
        other => format!("Fn::{other}"),
    };
    let line = node.line;
    let mut inner = node;
    if name == "Fn::GetAtt" {
        if let Val::Str(s) = &inner.val {
            let parts = s
                .splitn(2, '.')
                .map(|p| Node::new(line, Val::Str(p.to_string())))
                .collect();
            inner = Node::new(line, Val::List(parts));
        }
    }
    Node::new(line, Val::Map(vec![(name, inner)]))
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line() as u32;
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let v = if style == TScalarStyle::Plain && tag.is_none() {
                    plain_scalar(s)
                } else {
                    Val::Str(s)
                };
                let node = apply_tag(tag, Node::new(line, v));
                self.push_value(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => self.stack.push(Frame::Seq(
                Node::new(line, Val::List(Vec::new())),
                tag,
                anchor,
            )),
            Event::MappingStart(anchor, tag) => {
                self.stack
                    .push(Frame::Map(Node::map(line), tag, anchor, None))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, tag, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(n, t, a)) | Some(Frame::Map(n, t, a, _)) => (n, t, a),
                    None => return,
                };
                let node = apply_tag(tag, node);
                self.push_value(node, anchor);
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or(Node::new(line, Val::Null));
                self.push_value(node, 0);
            }
            Event::DocumentEnd => {}
            _ => {}
        }
    }
}
