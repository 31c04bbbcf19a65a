//! The HIPAA rule pack: rule metadata, the registry, and the resource index rules query.

pub mod analytics;
pub mod backup;
pub mod cloudtrail;
pub mod compute;
pub mod datastores;
pub mod defaults;
pub mod docker;
pub mod ecs;
pub mod eks;
pub mod elb;
pub mod formats;
pub mod github;
pub mod gitlab;
pub mod helpers;
pub mod iam_grants;
pub mod identity;
pub mod k8s;
pub mod kms;
pub mod kustomize;
pub mod logs;
pub mod messaging;
pub mod meta;
pub mod neptune;
pub mod network;
pub mod pipeline;
pub mod rbac;
pub mod rds;
pub mod s3;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{Format, Node, Resource, Val};

/// Finding severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A rule's verdict on one resource: where and why it fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub line: u32,
    pub message: String,
    /// The verdict rests on a value that cannot be known statically (a variable without
    /// default, a data source, a module output, another resource's computed attribute):
    /// reported at `info`, saying what could not be resolved, never at the rule's severity.
    pub unresolved: bool,
}

/// A finding's message, and whether it rests on an unresolvable value (see [`Hit`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub text: String,
    pub unresolved: bool,
}

impl From<String> for Msg {
    fn from(text: String) -> Self {
        Msg {
            text,
            unresolved: false,
        }
    }
}

impl From<&str> for Msg {
    fn from(text: &str) -> Self {
        Msg::from(text.to_string())
    }
}

pub type CheckFn = fn(&Resource, &Index) -> Vec<Hit>;

/// How a rule is evaluated.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Evaluated per resource of the listed types.
    Resource(CheckFn),
    /// Evaluated by the secret scanner over raw text.
    Secret,
    /// Produced by suppression handling.
    Meta,
    /// A note on input the gate could not evaluate (e.g. a remote kustomize base).
    Coverage,
}

/// One rule of the pack.
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub hipaa: &'static [&'static str],
    pub types: &'static [&'static str],
    pub formats: &'static [Format],
    pub expected: &'static str,
    pub remediation: &'static str,
    /// Requirement sources: seed checklist items, AWS Config HIPAA pack / Prowler HIPAA checks.
    pub sources: &'static [&'static str],
    pub kind: Kind,
}

impl Rule {
    /// True if this rule evaluates the resource.
    pub fn applies(&self, r: &Resource) -> bool {
        let fmt = if r.format == Format::TerraformPlan {
            Format::Terraform
        } else {
            r.format
        };
        matches!(self.kind, Kind::Resource(_))
            && self.formats.contains(&fmt)
            && self.types.contains(&r.rtype.as_str())
    }
}

pub const TF: &[Format] = &[Format::Terraform];
pub const TF_CFN: &[Format] = &[Format::Terraform, Format::CloudFormation];
pub const TF_CFN_ECS: &[Format] = &[Format::Terraform, Format::CloudFormation, Format::EcsJson];

/// All built-in rules, in id order.
pub fn registry() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut v = Vec::new();
        v.extend(s3::rules());
        v.extend(rds::rules());
        v.extend(kms::rules());
        v.extend(network::rules());
        v.extend(elb::rules());
        v.extend(cloudtrail::rules());
        v.extend(logs::rules());
        v.extend(ecs::rules());
        v.extend(eks::rules());
        v.extend(backup::rules());
        v.extend(datastores::rules());
        v.extend(neptune::rules());
        v.extend(analytics::rules());
        v.extend(compute::rules());
        v.extend(identity::rules());
        v.extend(iam_grants::rules());
        v.extend(messaging::rules());
        v.extend(k8s::rules());
        v.extend(rbac::rules());
        v.extend(kustomize::rules());
        v.extend(docker::rules());
        v.extend(pipeline::rules());
        v.extend(meta::rules());
        v.sort_by_key(|r| r.id);
        v
    })
}

pub fn find(id: &str) -> Option<&'static Rule> {
    registry().iter().find(|r| r.id == id)
}

/// All resources of a scan, for cross-resource rules; lookups are hash-based so that
/// cross-resource rules stay linear in the size of the tree.
pub struct Index<'a> {
    pub by_addr: HashMap<&'a str, &'a Resource>,
    pub by_type: HashMap<&'a str, Vec<&'a Resource>>,
    /// Target address -> resources that reference it anywhere in their body.
    pub referenced_by: HashMap<&'a str, Vec<&'a Resource>>,
    /// Literal string value -> resources with a top-level attribute of that value.
    pub by_value: HashMap<&'a str, Vec<&'a Resource>>,
}

fn collect<'a>(n: &'a Node, refs: &mut Vec<&'a str>, strs: &mut Vec<&'a str>) {
    match &n.val {
        Val::Ref(a) => refs.push(a),
        Val::Str(s) if s.len() < 256 => strs.push(s),
        Val::List(items) => items.iter().for_each(|i| collect(i, refs, strs)),
        Val::Map(kv) => kv.iter().for_each(|(_, v)| collect(v, refs, strs)),
        _ => {}
    }
}

impl<'a> Index<'a> {
    pub fn new(resources: &'a [Resource]) -> Self {
        let mut by_addr = HashMap::new();
        let mut by_type: HashMap<&str, Vec<&Resource>> = HashMap::new();
        let mut referenced_by: HashMap<&str, Vec<&Resource>> = HashMap::new();
        let mut by_value: HashMap<&str, Vec<&Resource>> = HashMap::new();
        let (mut refs, mut strs) = (Vec::new(), Vec::new());
        for r in resources {
            by_addr.insert(r.address.as_str(), r);
            by_type.entry(r.rtype.as_str()).or_default().push(r);
            refs.clear();
            strs.clear();
            collect(&r.body, &mut refs, &mut Vec::new());
            for (_, v) in r.body.entries() {
                match &v.val {
                    Val::Str(s) if s.len() < 256 => strs.push(s.as_str()),
                    Val::List(items) => strs.extend(items.iter().filter_map(Node::as_str)),
                    _ => {}
                }
            }
            refs.sort_unstable();
            refs.dedup();
            strs.sort_unstable();
            strs.dedup();
            for a in &refs {
                referenced_by.entry(a).or_default().push(r);
            }
            for s in &strs {
                by_value.entry(s).or_default().push(r);
            }
        }
        Index {
            by_addr,
            by_type,
            referenced_by,
            by_value,
        }
    }

    /// Resources that may point at `target`: by reference, or by one of its names.
    pub fn candidates(&self, target: &Resource, names: &[&str]) -> Vec<&'a Resource> {
        let mut out: Vec<&Resource> = self
            .referenced_by
            .get(target.address.as_str())
            .cloned()
            .unwrap_or_default();
        for k in names {
            if let Some(name) = target.get(k).and_then(Node::as_str) {
                out.extend(self.by_value.get(name).into_iter().flatten());
            }
        }
        out.sort_by_key(|r| r.address.as_str());
        out.dedup_by_key(|r| r.address.as_str());
        out
    }

    /// Resources of type `t` a setting points at (by reference or literal name/id).
    pub fn resolve(&self, n: &Node, t: &str) -> Vec<&'a Resource> {
        let mut out = Vec::new();
        match &n.val {
            Val::Ref(a) => out.extend(self.get(a).filter(|r| r.rtype == t)),
            Val::Str(s) => out.extend(
                self.by_value
                    .get(s.as_str())
                    .into_iter()
                    .flatten()
                    .filter(|r| r.rtype == t),
            ),
            Val::List(items) => items.iter().for_each(|i| out.extend(self.resolve(i, t))),
            _ => {}
        }
        out
    }

    pub fn of_type(&self, t: &str) -> &[&'a Resource] {
        self.by_type.get(t).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn get(&self, addr: &str) -> Option<&'a Resource> {
        self.by_addr.get(addr).copied()
    }
}
