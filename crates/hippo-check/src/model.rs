//! The normalised resource model every parser produces and every rule reads.

use std::sync::Arc;

/// A value with the 1-based source line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub val: Val,
}

/// A configuration value. `Ref` and `Unknown` are never treated as compliant values.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
    /// A reference to another resource, by its qualified address.
    Ref(String),
    /// A value that cannot be known from the code (e.g. a variable without default).
    Unknown(String),
}

/// How an unknown string with literal text around its unresolved part describes itself
/// (`"arn:aws:ecr:${var.region}:123456789012:repository/x"`). Rules that look for a bare
/// value such as the wildcard `"*"` can rule it out: whatever the unresolved part turns out
/// to be, the literal text stays.
const PARTIAL_STRING: &str = "a string interpolating ";

/// The `Val::Unknown` description of a partially known string built around `what`.
pub fn partial_string(what: &str) -> String {
    if what.starts_with(PARTIAL_STRING) {
        what.to_string()
    } else {
        format!("{PARTIAL_STRING}{what}")
    }
}

/// Three-valued truth used by rules: unknown is never compliant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

/// Key comparison that ignores case and underscores, so `StorageEncrypted`,
/// `storageEncrypted` and `storage_encrypted` are the same key.
pub fn key_eq(a: &str, b: &str) -> bool {
    let mut x = a.bytes().filter(|c| *c != b'_' && *c != b'-');
    let mut y = b.bytes().filter(|c| *c != b'_' && *c != b'-');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(&q) => {}
            _ => return false,
        }
    }
}

impl Node {
    pub fn new(line: u32, val: Val) -> Self {
        Node { line, val }
    }

    pub fn map(line: u32) -> Self {
        Node::new(line, Val::Map(Vec::new()))
    }

    /// Looks up a key in a map (case- and underscore-insensitive).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Val::Map(kv) => kv.iter().find(|(k, _)| key_eq(k, key)).map(|(_, v)| v),
            Val::List(items) if items.len() == 1 => items[0].get(key),
            _ => None,
        }
    }

    /// First present key among alternatives.
    pub fn get_any(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// Follows a path of keys; lists are entered through their first element.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for k in keys {
            cur = match &cur.val {
                Val::List(items) => items.first()?.get(k)?,
                _ => cur.get(k)?,
            };
        }
        Some(cur)
    }

    /// Elements of a list, or the node itself if it is a map (single nested block).
    pub fn items(&self) -> Vec<&Node> {
        match &self.val {
            Val::List(items) => items.iter().collect(),
            Val::Map(_) => vec![self],
            _ => Vec::new(),
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.val {
            Val::Map(kv) => kv,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.val {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_num(&self) -> Option<f64> {
        match &self.val {
            Val::Num(n) => Some(*n),
            Val::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// True for an unknown string that has literal text around its unknown part (see
    /// [`partial_string`]): it cannot equal a bare value such as `"*"`.
    pub fn is_partial_string(&self) -> bool {
        matches!(&self.val, Val::Unknown(u) if u.starts_with(PARTIAL_STRING))
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.val, Val::Unknown(_) | Val::Ref(_))
    }

    pub fn truth(&self) -> Tri {
        match &self.val {
            Val::Bool(b) => tri(*b),
            Val::Num(n) => tri(*n != 0.0),
            Val::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "enabled" | "yes" | "on" | "1" => Tri::Yes,
                "false" | "disabled" | "no" | "off" | "0" | "" => Tri::No,
                _ => Tri::Unknown,
            },
            Val::Null => Tri::No,
            _ => Tri::Unknown,
        }
    }

    /// Short description of an unknown value, for messages.
    pub fn describe(&self) -> String {
        match &self.val {
            Val::Unknown(e) => format!("unknown ({e})"),
            Val::Ref(a) => format!("a reference to {a}"),
            Val::Str(s) => format!("\"{s}\""),
            Val::Num(n) => format!("{n}"),
            Val::Bool(b) => format!("{b}"),
            Val::Null => "null".into(),
            Val::List(_) => "a list".into(),
            Val::Map(_) => "an object".into(),
        }
    }

    /// Converts to JSON for the Rego input and JSON outputs.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.val {
            Val::Null => J::Null,
            Val::Bool(b) => J::Bool(*b),
            Val::Num(n) => serde_json::Number::from_f64(*n)
                .map(J::Number)
                .unwrap_or(J::Null),
            Val::Str(s) => J::String(s.clone()),
            Val::List(l) => J::Array(l.iter().map(Node::to_json).collect()),
            Val::Map(kv) => J::Object(kv.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Val::Ref(a) => serde_json::json!({ "$ref": a }),
            Val::Unknown(e) => serde_json::json!({ "$unknown": e }),
        }
    }
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

/// Which family of input a resource came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Terraform,
    TerraformPlan,
    CloudFormation,
    Kubernetes,
    Dockerfile,
    EcsJson,
    /// GitHub Actions workflows (`.github/workflows/*.yml`).
    GithubActions,
    /// GitLab CI pipelines (`.gitlab-ci.yml` and the files it includes).
    GitlabCi,
    /// Any text file (secret scanning).
    Text,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Terraform => "terraform",
            Format::TerraformPlan => "terraform-plan",
            Format::CloudFormation => "cloudformation",
            Format::Kubernetes => "kubernetes",
            Format::Dockerfile => "dockerfile",
            Format::EcsJson => "ecs-task-definition",
            Format::GithubActions => "github-actions",
            Format::GitlabCi => "gitlab-ci",
            Format::Text => "any-text",
        }
    }
}

/// One resource in the normalised model.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Canonical type (Terraform names for AWS; `k8s_workload`, `dockerfile`, ...).
    pub rtype: String,
    /// Type as written in the source (e.g. `AWS::S3::Bucket`).
    pub source_type: String,
    /// Qualified address, unique within a scan; references point at it.
    pub address: String,
    /// Human name (e.g. `aws_s3_bucket.phi`).
    pub name: String,
    pub format: Format,
    pub file: Arc<str>,
    pub line: u32,
    pub end_line: u32,
    pub body: Node,
    /// Why the resource is judged beyond its own text: the inputs that create it, or the
    /// kustomize overlay that rendered it. `None` for a plainly declared resource.
    pub origin: Option<Arc<Origin>>,
}

/// Where a resource comes from when its source text alone does not say.
#[derive(Debug)]
pub enum Origin {
    /// A Terraform resource that `count`/`for_each` creates only for some inputs; the
    /// sentence names the expression and what the scanned inputs gave.
    Conditional(String),
    /// An object rendered by a kustomize overlay: its lines are tagged with the file they
    /// came from (see [`crate::kustomize::SourceMap`]).
    Rendered(crate::kustomize::SourceMap),
}

impl Resource {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.body.get(key)
    }
    pub fn get_any(&self, keys: &[&str]) -> Option<&Node> {
        self.body.get_any(keys)
    }

    /// The resource's line in `file` as a reader sees it: a kustomize-rendered object's
    /// tagged line is translated to the overlay entry that brought it in.
    pub fn display_line(&self) -> u32 {
        match self.origin.as_deref() {
            Some(Origin::Rendered(map)) => map.locate(self.line).entry_line,
            _ => self.line,
        }
    }
}
