//! Terraform sources (HCL and JSON syntax) parsed into a compact body with source lines;
//! `tree` evaluates module trees into normalised resources.

pub mod eval;
pub mod expand;
pub mod plan;
pub mod tfjson;
mod tree;

pub use tree::Tree;

use std::sync::Arc;

use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

/// Maps byte offsets to 1-based line numbers.
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    pub fn new(text: &str) -> Self {
        LineIndex(text.match_indices('\n').map(|(i, _)| i).collect())
    }
    pub fn line(&self, offset: usize) -> u32 {
        (self.0.partition_point(|&nl| nl < offset) + 1) as u32
    }
}

/// One parsed `.tf` or `.tfvars` file, in a compact form (no formatting/decor kept).
pub struct TfFile {
    pub path: Arc<str>,
    pub body: TfBody,
}

/// A block or file body: attributes (with lines) and nested blocks.
#[derive(Debug, Default)]
pub struct TfBody {
    pub attrs: Vec<TfAttr>,
    pub blocks: Vec<TfBlock>,
}

#[derive(Debug)]
pub struct TfAttr {
    pub key: String,
    pub line: u32,
    pub expr: hcl::Expression,
}

#[derive(Debug)]
pub struct TfBlock {
    pub ident: String,
    pub labels: Vec<String>,
    pub line: u32,
    pub end_line: u32,
    pub body: TfBody,
}

impl TfBody {
    /// Converts a parsed hcl-edit body, keeping only what evaluation needs.
    pub fn from_edit(body: Body, lines: &LineIndex) -> TfBody {
        let mut out = TfBody::default();
        for s in body.into_iter() {
            match s {
                Structure::Attribute(a) => {
                    let line = span_line(lines, a.span());
                    out.attrs.push(TfAttr {
                        key: a.key.as_str().to_string(),
                        line,
                        expr: a.value.into(),
                    });
                }
                Structure::Block(b) => {
                    let span = b.span();
                    let line = span_line(lines, span.clone());
                    let end_line = span.map(|s| lines.line(s.end)).unwrap_or(line);
                    out.blocks.push(TfBlock {
                        ident: b.ident.as_str().to_string(),
                        labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                        line,
                        end_line,
                        body: TfBody::from_edit(b.body, lines),
                    });
                }
            }
        }
        out
    }

    pub fn attr(&self, key: &str) -> Option<&TfAttr> {
        self.attrs.iter().find(|a| a.key == key)
    }

    pub fn blocks<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a TfBlock> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }
}

/// Parses HCL text into the compact form; the error carries the 1-based line.
pub fn parse_hcl(text: &str) -> Result<TfBody, (u32, String)> {
    let body = hcl_edit::parser::parse_body(text)
        .map_err(|e| (e.location().line() as u32, e.message().to_string()))?;
    Ok(TfBody::from_edit(body, &LineIndex::new(text)))
}

fn span_line(lines: &LineIndex, span: Option<std::ops::Range<usize>>) -> u32 {
    span.map(|s| lines.line(s.start)).unwrap_or(1)
}
