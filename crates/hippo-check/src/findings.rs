//! The finding record every rule, the secret scanner, Rego and the suppression checks produce.

use std::sync::Arc;

use crate::model::Resource;
use crate::rules::Severity;
use crate::suppress;

/// How a finding was suppressed.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Suppressed {
    pub kind: &'static str,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// One finding.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Finding {
    pub rule_id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub hipaa: &'static [&'static str],
    pub file: Arc<str>,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    pub message: String,
    pub fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
    /// First line of the resource the finding is about (inline suppressions above it apply).
    #[serde(skip)]
    pub resource_line: Option<u32>,
}

#[allow(clippy::too_many_arguments)]
pub fn finding(
    id: &'static str,
    title: &'static str,
    sev: Severity,
    hipaa: &'static [&'static str],
    file: &Arc<str>,
    line: u32,
    r: Option<&Resource>,
    message: String,
) -> Finding {
    let res = r.map(|r| r.name.clone());
    let fp = suppress::fingerprint(&[id, file, res.as_deref().unwrap_or(""), &message]);
    Finding {
        rule_id: id,
        title,
        severity: sev,
        hipaa,
        file: file.clone(),
        line,
        resource: res,
        resource_type: r.map(|r| r.source_type.clone()),
        message,
        fingerprint: fp,
        suppressed: None,
        resource_line: r.map(|r| r.line),
    }
}
