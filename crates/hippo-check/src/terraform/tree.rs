//! Terraform module trees: roots and local modules with their inputs, tfvars, and the
//! evaluation of every resource block (with `count`/`for_each` instances) into resources.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::eval::{Env, Eval, Memo};
use super::expand::{self, Scanned};
use super::{TfBlock, TfBody, TfFile};
use crate::model::{Format, Node, Origin, Resource, Val};

/// All Terraform module directories of a scan.
#[derive(Default)]
pub struct Tree {
    pub dirs: HashMap<PathBuf, Vec<TfFile>>,
    pub tfvars: HashMap<PathBuf, Vec<TfFile>>,
}

impl Tree {
    pub fn add(&mut self, path: &Path, file: TfFile) {
        // Keyed by the normalised directory, the same form module sources resolve to, so
        // `./x`, `a/../x` and `x` name one module whatever path the user scanned.
        let dir = normalize(path.parent().unwrap_or(Path::new(".")));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let name = name.strip_suffix(".json").unwrap_or(name);
        if name.ends_with(".tfvars") {
            if name == "terraform.tfvars" || name.ends_with(".auto.tfvars") {
                self.tfvars.entry(dir).or_default().push(file);
            }
        } else {
            self.dirs.entry(dir).or_default().push(file);
        }
    }

    /// Evaluates every root module (a directory no other directory calls), in parallel.
    pub fn resources(&self) -> Vec<Resource> {
        let mut called = HashSet::new();
        for (dir, files) in &self.dirs {
            for f in files {
                for b in f.body.blocks("module") {
                    if let Some(src) = local_source(b) {
                        called.insert(normalize(&dir.join(src)));
                    }
                }
            }
        }
        let mut roots: Vec<&PathBuf> = self
            .dirs
            .keys()
            .filter(|d| !called.contains(&normalize(d)))
            .collect();
        roots.sort();
        roots
            .par_iter()
            .flat_map_iter(|root| {
                let mut vars = HashMap::new();
                let empty = Instance::bare(self, root);
                for f in self.tfvars.get(*root).into_iter().flatten() {
                    for attr in &f.body.attrs {
                        vars.insert(
                            attr.key.clone(),
                            Eval::new(&empty, attr.line).eval(&attr.expr),
                        );
                    }
                }
                let prefix = format!("{}::", root.display());
                let inst = Instance::new(self, root, vars, prefix, String::new(), 0);
                let mut out = Vec::new();
                inst.emit(&mut out);
                out
            })
            .collect()
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn local_source(b: &TfBlock) -> Option<String> {
    match &b.body.attr("source")?.expr {
        hcl::Expression::String(s) if s.starts_with("./") || s.starts_with("../") => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn label(b: &TfBlock, i: usize) -> Option<&str> {
    b.labels.get(i).map(String::as_str)
}

/// One instantiation of a module directory, with its resolved inputs.
struct Instance<'t> {
    tree: &'t Tree,
    dir: PathBuf,
    files: &'t [TfFile],
    vars: HashMap<String, Node>,
    memo: Memo,
    prefix: String,
    display: String,
    depth: u32,
    /// The condition of the enclosing module calls' `count`/`for_each`, when some input
    /// could create this instance although the scanned inputs do not (see `expand`).
    condition: Option<String>,
}

impl<'t> Instance<'t> {
    fn bare(tree: &'t Tree, dir: &Path) -> Self {
        Instance {
            tree,
            dir: dir.to_path_buf(),
            files: &[],
            vars: HashMap::new(),
            memo: Memo::default(),
            prefix: String::new(),
            display: String::new(),
            depth: 0,
            condition: None,
        }
    }

    fn new(
        tree: &'t Tree,
        dir: &Path,
        inputs: HashMap<String, Node>,
        prefix: String,
        display: String,
        depth: u32,
    ) -> Self {
        let files = tree.dirs.get(dir).map(|v| v.as_slice()).unwrap_or(&[]);
        let bare = Instance::bare(tree, dir);
        let mut vars = HashMap::new();
        for f in files {
            for b in f.body.blocks("variable") {
                let Some(name) = label(b, 0) else { continue };
                let v = match inputs.get(name) {
                    Some(v) => v.clone(),
                    None => match b.body.attr("default") {
                        Some(d) => Eval::new(&bare, d.line).eval(&d.expr),
                        None => {
                            Node::new(b.line, Val::Unknown(format!("var.{name} has no default")))
                        }
                    },
                };
                vars.insert(name.to_string(), v);
            }
        }
        Instance {
            tree,
            dir: dir.to_path_buf(),
            files,
            vars,
            memo: Memo::default(),
            prefix,
            display,
            depth,
            condition: None,
        }
    }

    fn find_module(&self, name: &str) -> Option<(&'t TfBlock, PathBuf)> {
        for f in self.files {
            for b in f.body.blocks("module") {
                if label(b, 0) == Some(name) {
                    let src = local_source(b)?;
                    return Some((b, normalize(&self.dir.join(src))));
                }
            }
        }
        None
    }

    fn child(&self, name: &str) -> Option<Instance<'t>> {
        if self.depth > 8 {
            return None;
        }
        let (block, dir) = self.find_module(name)?;
        let mut inputs = HashMap::new();
        for attr in &block.body.attrs {
            let key = attr.key.as_str();
            if matches!(
                key,
                "source" | "version" | "count" | "for_each" | "providers" | "depends_on"
            ) {
                continue;
            }
            inputs.insert(key.to_string(), Eval::new(self, attr.line).eval(&attr.expr));
        }
        let display = format!("{}module.{name}.", self.display);
        let prefix = format!("{}module.{name}.", self.prefix);
        let mut child = Instance::new(self.tree, &dir, inputs, prefix, display, self.depth + 1);
        let (_, own) = self.expansion(&block.body);
        let own = own.map(|c| format!("{}module.{name} is {c}", self.display));
        child.condition = expand::both(self.condition.as_deref(), own);
        Some(child)
    }

    /// True unless the module call's `count`/`for_each` is a literal zero or empty: a
    /// module that some input could instantiate is judged (with its condition).
    fn module_created(&self, name: &str) -> bool {
        self.find_module(name)
            .is_none_or(|(block, _)| !self.expansion(&block.body).0.is_empty())
    }

    fn emit(&self, out: &mut Vec<Resource>) {
        for f in self.files {
            for b in &f.body.blocks {
                match b.ident.as_str() {
                    "resource" | "data" => self.emit_resource(f, b, out),
                    "module" => {
                        let created = label(b, 0).is_some_and(|n| self.module_created(n));
                        if let Some(child) =
                            label(b, 0).filter(|_| created).and_then(|n| self.child(n))
                        {
                            child.emit(out);
                        }
                    }
                    "terraform" => {
                        for be in b.body.blocks("backend") {
                            let kind = label(be, 0).unwrap_or("unknown");
                            let mut body = self.body(self, &be.body, be.line);
                            if let Val::Map(kv) = &mut body.val {
                                kv.push((
                                    "type".into(),
                                    Node::new(body.line, Val::Str(kind.into())),
                                ));
                            }
                            out.push(self.resource(
                                f,
                                be,
                                "terraform_backend",
                                &format!("backend.{kind}"),
                                body,
                            ));
                        }
                    }
                    "variable" if self.display.is_empty() => {
                        let name = label(b, 0).unwrap_or("");
                        let body = self.body(self, &b.body, b.line);
                        out.push(self.resource(
                            f,
                            b,
                            "terraform_variable",
                            &format!("var.{name}"),
                            body,
                        ));
                    }
                    _ => {}
                }
            }
        }
    }

    fn resource(&self, f: &TfFile, b: &TfBlock, rtype: &str, name: &str, body: Node) -> Resource {
        Resource {
            rtype: rtype.to_string(),
            source_type: rtype.to_string(),
            address: format!("{}{name}", self.prefix),
            name: format!("{}{name}", self.display),
            format: Format::Terraform,
            file: f.path.clone(),
            line: b.line,
            end_line: b.end_line,
            body,
            origin: None,
        }
    }

    fn emit_resource(&self, f: &TfFile, b: &TfBlock, out: &mut Vec<Resource>) {
        let (Some(t), Some(n)) = (label(b, 0), label(b, 1)) else {
            return;
        };
        let (rtype, name) = if b.ident == "data" {
            (format!("data.{t}"), format!("data.{t}.{n}"))
        } else {
            (t.to_string(), format!("{t}.{n}"))
        };
        let (instances, own) = self.expansion(&b.body);
        let origin = expand::both(self.condition.as_deref(), own)
            .map(|c| std::sync::Arc::new(Origin::Conditional(c)));
        let mut push = |env: &dyn Env, suffix: String| {
            let body = self.body(env, &b.body, b.line);
            let mut r = self.resource(f, b, &rtype, &name, body);
            r.source_type = t.to_string();
            r.name.push_str(&suffix);
            r.origin = origin.clone();
            out.push(r);
        };
        for inst in instances {
            match inst {
                Some((suffix, each)) => push(&each, suffix),
                None => push(self, String::new()),
            }
        }
    }

    /// The instances `for_each` or `count` create, and the condition under which they exist
    /// when the scanned inputs do not settle it. Known values give their instances; a value
    /// that depends on inputs but gives none (or cannot be known) gives one instance judged
    /// with the condition; a literal `count = 0` or empty `for_each` gives none (nothing
    /// can create the block). No `count`/`for_each`: one plain instance.
    fn expansion(&self, body: &TfBody) -> (Vec<Option<(String, Each<'_, 't>)>>, Option<String>) {
        let each = |key: Node, value: Node, index: Option<f64>| Each {
            inst: self,
            key,
            value,
            index,
        };
        if let Some(a) = body.attr("for_each") {
            let v = Eval::new(self, a.line).eval(&a.expr);
            let dynamic = expand::depends_on_inputs(&a.expr);
            if expand::is_empty_collection(&v) {
                if !dynamic {
                    return (Vec::new(), None);
                }
                let key = Node::new(a.line, Val::Unknown("each.key of an empty for_each".into()));
                let value = Node::new(
                    a.line,
                    Val::Unknown("each.value of an empty for_each".into()),
                );
                return (
                    vec![Some(("[each.key]".to_string(), each(key, value, None)))],
                    Some(expand::for_each_condition(&a.expr, Scanned::None)),
                );
            }
            return match &v.val {
                Val::Map(kv) => (
                    kv.iter()
                        .map(|(k, x)| {
                            Some((
                                format!("[\"{k}\"]"),
                                each(Node::new(a.line, Val::Str(k.clone())), x.clone(), None),
                            ))
                        })
                        .collect(),
                    None,
                ),
                Val::List(items) if items.iter().all(|i| i.as_str().is_some()) => (
                    items
                        .iter()
                        .map(|i| {
                            Some((
                                format!("[\"{}\"]", i.as_str().unwrap_or("")),
                                each(i.clone(), i.clone(), None),
                            ))
                        })
                        .collect(),
                    None,
                ),
                Val::Unknown(_) | Val::Ref(_) if dynamic => (
                    vec![None],
                    Some(expand::for_each_condition(&a.expr, Scanned::Unknown)),
                ),
                _ => (vec![None], None),
            };
        }
        if let Some(a) = body.attr("count") {
            let v = Eval::new(self, a.line).eval(&a.expr);
            let dynamic = expand::depends_on_inputs(&a.expr);
            let instance = |i: usize| {
                Some((
                    format!("[{i}]"),
                    each(
                        Node::new(a.line, Val::Null),
                        Node::new(a.line, Val::Null),
                        Some(i as f64),
                    ),
                ))
            };
            return match v.as_num() {
                Some(n) if n >= 1.0 => ((0..n.min(64.0) as usize).map(instance).collect(), None),
                Some(_) if dynamic => (
                    vec![instance(0)],
                    Some(expand::count_condition(&a.expr, Scanned::None)),
                ),
                Some(_) => (Vec::new(), None),
                None if dynamic => (
                    vec![None],
                    Some(expand::count_condition(&a.expr, Scanned::Unknown)),
                ),
                None => (vec![None], None),
            };
        }
        (vec![None], None)
    }

    fn body(&self, env: &dyn Env, body: &TfBody, line: u32) -> Node {
        let mut kv: Vec<(String, Node)> = Vec::with_capacity(body.attrs.len() + body.blocks.len());
        for a in &body.attrs {
            let mut v = Eval::new(env, a.line).eval(&a.expr);
            v.line = a.line;
            kv.push((a.key.clone(), v));
        }
        for b in &body.blocks {
            let (key, node) = if b.ident == "dynamic" {
                let k = label(b, 0).unwrap_or("dynamic").to_string();
                (
                    k.clone(),
                    Node::new(b.line, Val::Unknown(format!("dynamic \"{k}\" block"))),
                )
            } else {
                (b.ident.clone(), self.body(env, &b.body, b.line))
            };
            match kv.iter_mut().find(|(k, _)| *k == key) {
                Some((
                    _,
                    Node {
                        val: Val::List(items),
                        ..
                    },
                )) => items.push(node),
                _ => kv.push((key, Node::new(b.line, Val::List(vec![node])))),
            }
        }
        Node::new(line, Val::Map(kv))
    }
}

/// A `for_each` or `count` instance: the module's scope plus `each`/`count` values.
struct Each<'a, 't> {
    inst: &'a Instance<'t>,
    key: Node,
    value: Node,
    index: Option<f64>,
}

impl Env for Each<'_, '_> {
    fn var(&self, name: &str) -> Option<Node> {
        self.inst.var(name)
    }
    fn local(&self, name: &str) -> Option<Node> {
        self.inst.local(name)
    }
    fn module_output(&self, module: &str, output: &str) -> Option<Node> {
        self.inst.module_output(module, output)
    }
    fn prefix(&self) -> &str {
        self.inst.prefix()
    }
    fn module_dir(&self) -> &Path {
        self.inst.module_dir()
    }
    fn each(&self) -> Option<(Node, Node)> {
        self.index
            .is_none()
            .then(|| (self.key.clone(), self.value.clone()))
    }
    fn count_index(&self) -> Option<f64> {
        self.index
    }
}

impl Env for Instance<'_> {
    fn var(&self, name: &str) -> Option<Node> {
        self.vars.get(name).cloned()
    }

    fn local(&self, name: &str) -> Option<Node> {
        if let Some(v) = self.memo.values.borrow().get(name) {
            return v.clone();
        }
        self.memo.values.borrow_mut().insert(name.to_string(), None);
        let found = self
            .files
            .iter()
            .flat_map(|f| f.body.blocks("locals"))
            .find_map(|b| b.body.attr(name))
            .map(|a| Eval::new(self, a.line).eval(&a.expr));
        self.memo
            .values
            .borrow_mut()
            .insert(name.to_string(), found.clone());
        found
    }

    fn module_output(&self, module: &str, output: &str) -> Option<Node> {
        let child = self.child(module)?;
        let a = child
            .files
            .iter()
            .flat_map(|f| f.body.blocks("output"))
            .find(|b| label(b, 0) == Some(output))?
            .body
            .attr("value")?;
        Some(Eval::new(&child, a.line).eval(&a.expr))
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn module_dir(&self) -> &Path {
        &self.dir
    }
}
