//! Output renderers: text, JSON, SARIF 2.1.0, JUnit XML, Markdown/HTML evidence, rule docs.

pub mod coverage;
pub mod docs;
pub mod evidence;
pub mod junit;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::engine::Outcome;

/// Output formats of `hippo check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, grouped by file (coloured on a terminal)
    Text,
    /// Machine-readable JSON with findings, errors and statistics
    Json,
    /// SARIF 2.1.0 for code-scanning UIs
    Sarif,
    /// JUnit XML for CI dashboards (one test case per rule)
    Junit,
    /// Markdown evidence report for auditors (per HIPAA citation)
    Markdown,
    /// HTML evidence report for auditors (per HIPAA citation)
    Html,
}

pub const TOOL: &str = "hippo check";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes a scan outcome to `w`. JSON and SARIF are streamed finding by finding so that a
/// large scan never holds a second copy of every finding in memory.
pub fn write(
    o: &Outcome,
    format: OutputFormat,
    color: bool,
    show_suppressed: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Text => w.write_all(text::render(o, color, show_suppressed).as_bytes()),
        OutputFormat::Json => json(o, w),
        OutputFormat::Sarif => sarif::write(o, w),
        OutputFormat::Junit => w.write_all(junit::render(o).as_bytes()),
        OutputFormat::Markdown => w.write_all(evidence::markdown(o).as_bytes()),
        OutputFormat::Html => w.write_all(evidence::html(o).as_bytes()),
    }
}

/// Renders a scan outcome into a string (convenience for callers and tests).
pub fn render(o: &Outcome, format: OutputFormat, color: bool, show_suppressed: bool) -> String {
    let mut buf = Vec::new();
    let _ = write(o, format, color, show_suppressed, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn json(o: &Outcome, w: &mut dyn Write) -> io::Result<()> {
    let open = o.findings.iter().filter(|f| f.suppressed.is_none()).count();
    let mut by_sev = serde_json::Map::new();
    for f in o.findings.iter().filter(|f| f.suppressed.is_none()) {
        let e = by_sev
            .entry(f.severity.label())
            .or_insert(serde_json::json!(0));
        *e = serde_json::json!(e.as_u64().unwrap_or(0) + 1);
    }
    let head = serde_json::json!({
        "tool": TOOL, "version": VERSION, "commit": o.commit, "date": o.date, "paths": o.paths,
        "summary": { "files": o.files, "resources": o.resources, "findings": open,
            "suppressed": o.findings.len() - open, "parse_errors": o.errors.len(), "by_severity": by_sev },
        "errors": o.errors, "helm_templates_not_scanned": o.helm_templates,
        "not_infrastructure_skipped": o.not_infrastructure,
        "rules_not_evaluated": o.not_evaluated, "rules": o.stats,
    });
    let mut text = serde_json::to_string_pretty(&head).map_err(io::Error::other)?;
    text.truncate(text.trim_end().len() - 1);
    w.write_all(text.as_bytes())?;
    w.write_all(b",\n  \"findings\": [")?;
    for (i, f) in o.findings.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *w, f).map_err(io::Error::other)?;
    }
    w.write_all(b"\n  ]\n}\n")
}

/// Escapes text for XML/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
