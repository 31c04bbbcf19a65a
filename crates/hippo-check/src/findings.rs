//! The finding record every rule, the secret scanner, Rego and the suppression checks produce.

use std::sync::Arc;

use crate::model::{Origin, Resource};
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
    /// The inputs under which the resource exists, when the scanned inputs do not create it
    /// (Terraform `count`/`for_each`): the finding holds for those inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// For a kustomize-rendered object (`file` is then the overlay's kustomization): the
    /// `file:line` the offending value comes from (a base manifest or a patch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
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
    let f = Finding {
        rule_id: id,
        title,
        severity: sev,
        hipaa,
        file: file.clone(),
        line,
        resource: res,
        resource_type: r.map(|r| r.source_type.clone()),
        message,
        condition: None,
        origin: None,
        fingerprint: fp,
        suppressed: None,
        resource_line: r.map(|r| r.line),
    };
    match r {
        Some(r) => with_origin(f, r),
        None => f,
    }
}

/// Carries a resource's origin into its finding: the condition that creates a conditional
/// Terraform resource, or the overlay location of a kustomize-rendered object (whose lines
/// are tagged with their source file and must be translated before anyone reads them).
pub fn with_origin(mut f: Finding, r: &Resource) -> Finding {
    match r.origin.as_deref() {
        Some(Origin::Conditional(c)) => f.condition = Some(c.clone()),
        Some(Origin::Rendered(map)) => {
            let at = map.locate(f.line);
            f.line = at.entry_line;
            f.resource_line = Some(r.display_line());
            f.origin = Some(format!("{}:{}", at.file, at.line));
            // Same rule, same overlay, same message, different source line: keep them apart.
            f.fingerprint = suppress::fingerprint(&[&f.fingerprint, at.file]);
        }
        None => {}
    }
    f
}
