//! Reading kustomizations and what they refer to (resources, bases, components, patch
//! files), with every loaded line tagged by its source file, and the order in which one
//! kustomization's patches and transformations are applied.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::patch::{self, field, Target};
use super::{normalize, tag, transform, Render, SourceMap, FILE_NAMES, LINE_MASK, MAX_FILES};
use crate::error::ParseError;
use crate::model::{Node, Val};
use crate::parse::yaml;

/// A remote base or resource (a URL): not fetched, reported as not evaluated.
pub struct Remote {
    pub file: Arc<str>,
    pub line: u32,
    pub url: String,
}

/// One rendered object, with the name it had before any `namePrefix`/`nameSuffix` (patch
/// targets may use either).
pub struct Obj {
    pub doc: Node,
    pub original_name: String,
}

impl Obj {
    fn new(doc: Node) -> Self {
        let original_name = name_of(&doc).to_string();
        Obj { doc, original_name }
    }
}

pub fn name_of(doc: &Node) -> &str {
    field(doc, "metadata")
        .and_then(|m| field(m, "name"))
        .and_then(Node::as_str)
        .unwrap_or("")
}

pub fn kind_of(doc: &Node) -> &str {
    field(doc, "kind").and_then(Node::as_str).unwrap_or("")
}

fn error(file: &str, line: u32, message: impl Into<String>) -> ParseError {
    ParseError {
        file: file.to_string(),
        line: line & LINE_MASK,
        message: format!("kustomize: {}", message.into()),
    }
}

fn parse(path: &Path) -> Result<Vec<Node>, ParseError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(&name, 0, format!("cannot read {name}: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    yaml::parse_docs(text).map_err(|e| error(&name, e.line, format!("YAML parse error: {}", e.msg)))
}

/// The kustomization document of a file: a YAML mapping.
pub fn read_kustomization(path: &Path) -> Result<Node, ParseError> {
    let docs = parse(path)?;
    match docs.into_iter().find(|d| d.val != Val::Null) {
        Some(d) if matches!(d.val, Val::Map(_)) => Ok(d),
        Some(d) => Err(error(
            &path.display().to_string(),
            d.line,
            "a kustomization must be a YAML mapping",
        )),
        None => Ok(Node::map(1)),
    }
}

/// The string entries of a list field; an entry or field of another shape is an error.
fn strings<'a>(doc: &'a Node, key: &str, file: &str) -> Result<Vec<(&'a str, u32)>, ParseError> {
    let Some(list) = field(doc, key) else {
        return Ok(Vec::new());
    };
    match &list.val {
        Val::Null => Ok(Vec::new()),
        Val::List(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(|s| (s, i.line))
                    .ok_or_else(|| error(file, i.line, format!("`{key}` entries must be strings")))
            })
            .collect(),
        _ => Err(error(file, list.line, format!("`{key}` must be a list"))),
    }
}

/// Entries of a list field that must be mappings (`patches`, `images`, ...).
pub fn mappings<'a>(doc: &'a Node, key: &str, file: &str) -> Result<Vec<&'a Node>, ParseError> {
    let Some(list) = field(doc, key) else {
        return Ok(Vec::new());
    };
    match &list.val {
        Val::Null => Ok(Vec::new()),
        Val::List(items) if items.iter().all(|i| matches!(i.val, Val::Map(_))) => {
            Ok(items.iter().collect())
        }
        _ => Err(error(
            file,
            list.line,
            format!("`{key}` must be a list of mappings"),
        )),
    }
}

/// Local entries that may name a base directory (`resources`, `bases`, `components`).
pub fn base_entries(doc: &Node) -> Vec<&str> {
    ["resources", "bases", "components"]
        .iter()
        .filter_map(|k| field(doc, k))
        .flat_map(|l| l.items())
        .filter_map(Node::as_str)
        .collect()
}

/// A resource entry kustomize would fetch: a URL, an scp-style git address, or
/// `host.tld/path` that is not a local path.
fn is_remote(entry: &str, dir: &Path) -> bool {
    if dir.join(entry).exists() {
        return false;
    }
    let first = entry.split('/').next().unwrap_or("");
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.contains("?ref=")
        || (entry.contains('/') && first.contains('.') && first != "." && first != "..")
}

fn kustomization_in(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn retag(n: &mut Node, file: usize) {
    n.line = tag(file, n.line);
    match &mut n.val {
        Val::List(items) => items.iter_mut().for_each(|i| retag(i, file)),
        Val::Map(kv) => kv.iter_mut().for_each(|(_, v)| retag(v, file)),
        _ => {}
    }
}

/// Every node of an inline patch gets the line of the field that holds it.
fn reline(n: &mut Node, line: u32) {
    n.line = line;
    match &mut n.val {
        Val::List(items) => items.iter_mut().for_each(|i| reline(i, line)),
        Val::Map(kv) => kv.iter_mut().for_each(|(_, v)| reline(v, line)),
        _ => {}
    }
}

/// Renders the kustomization `doc` of `file` (a root: no other scanned kustomization uses
/// it) into objects, and the map that translates their tagged lines back.
pub fn render_root(
    file: &Arc<str>,
    doc: &Node,
    out: &mut Render,
) -> Result<(Vec<Node>, SourceMap), ParseError> {
    let dir = normalize(Path::new(file.as_ref()).parent().unwrap_or(Path::new("")));
    let mut r = Renderer {
        map: SourceMap {
            files: vec![(file.clone(), 0)],
        },
        entry: 0,
        stack: vec![dir.clone()],
        out,
    };
    let mut objs = Vec::new();
    r.kustomize_into(doc, &dir, file, true, &mut objs)?;
    Ok((objs.into_iter().map(|o| o.doc).collect(), r.map))
}

struct Renderer<'a> {
    map: SourceMap,
    /// Line, in the root kustomization, of the entry being rendered.
    entry: u32,
    /// Directories being rendered, to refuse cycles.
    stack: Vec<PathBuf>,
    out: &'a mut Render,
}

impl Renderer<'_> {
    /// Loads a YAML file with its lines tagged by a new source-map entry.
    fn load(&mut self, path: &Path, file: &str, line: u32) -> Result<Vec<Node>, ParseError> {
        let mut docs = parse(path)?;
        if self.map.files.len() >= MAX_FILES {
            return Err(error(file, line, "the render reads too many files"));
        }
        let index = self.map.files.len();
        let name: Arc<str> = Arc::from(normalize(path).display().to_string());
        self.map.files.push((name, self.entry));
        docs.iter_mut().for_each(|d| retag(d, index));
        Ok(docs)
    }

    /// Adds a kustomization's resources, bases and components to `objs`, then applies its
    /// patches and transformations to all of them.
    fn kustomize_into(
        &mut self,
        doc: &Node,
        dir: &Path,
        file: &Arc<str>,
        root: bool,
        objs: &mut Vec<Obj>,
    ) -> Result<(), ParseError> {
        for key in ["resources", "bases"] {
            for (entry, line) in strings(doc, key, file)? {
                if root {
                    self.entry = line;
                }
                self.resource(entry, line, dir, file, objs)?;
            }
        }
        for (entry, line) in strings(doc, "components", file)? {
            if root {
                self.entry = line;
            }
            if is_remote(entry, dir) {
                self.remote(file, line, entry);
                continue;
            }
            let (kdoc, kdir, kfile) = self.nested(entry, line, dir, file)?;
            self.stack.push(kdir.clone());
            let applied = self.kustomize_into(&kdoc, &kdir, &kfile, false, objs);
            self.stack.pop();
            applied?;
        }
        self.patches(doc, dir, file, root, objs)?;
        transform::apply(doc, file, objs).map_err(|(line, m)| error(file, line, m))
    }

    fn remote(&mut self, file: &Arc<str>, line: u32, url: &str) {
        self.out.remote.push(Remote {
            file: file.clone(),
            line: line & LINE_MASK,
            url: url.to_string(),
        });
    }

    /// The kustomization of a base or component directory.
    fn nested(
        &mut self,
        entry: &str,
        line: u32,
        dir: &Path,
        file: &str,
    ) -> Result<(Node, PathBuf, Arc<str>), ParseError> {
        let kdir = normalize(&dir.join(entry));
        if self.stack.contains(&kdir) {
            return Err(error(
                file,
                line,
                format!("{entry} includes itself (a cycle)"),
            ));
        }
        if self.stack.len() > 32 {
            return Err(error(file, line, "bases nest more than 32 deep"));
        }
        let Some(kpath) = kustomization_in(&kdir) else {
            return Err(error(
                file,
                line,
                format!("directory {entry} has no kustomization.yaml"),
            ));
        };
        let kname: Arc<str> = Arc::from(kpath.display().to_string());
        let doc = match self
            .load(&kpath, file, line)?
            .into_iter()
            .find(|d| d.val != Val::Null)
        {
            Some(d) if matches!(d.val, Val::Map(_)) => d,
            Some(d) => {
                return Err(error(
                    &kname,
                    d.line,
                    "a kustomization must be a YAML mapping",
                ))
            }
            None => Node::map(line),
        };
        Ok((doc, kdir, kname))
    }

    fn resource(
        &mut self,
        entry: &str,
        line: u32,
        dir: &Path,
        file: &Arc<str>,
        objs: &mut Vec<Obj>,
    ) -> Result<(), ParseError> {
        if is_remote(entry, dir) {
            self.remote(file, line, entry);
            return Ok(());
        }
        let path = normalize(&dir.join(entry));
        if path.is_dir() {
            let (kdoc, kdir, kfile) = self.nested(entry, line, dir, file)?;
            self.stack.push(kdir.clone());
            let mut sub = Vec::new();
            let rendered = self.kustomize_into(&kdoc, &kdir, &kfile, false, &mut sub);
            self.stack.pop();
            rendered?;
            objs.extend(sub);
            return Ok(());
        }
        if !path.is_file() {
            return Err(error(file, line, format!("resource {entry} not found")));
        }
        for doc in self.load(&path, file, line)? {
            add_manifest(doc, objs);
        }
        Ok(())
    }

    /// The documents of a patch given by `path:` (a file) or `patch:` (inline text).
    fn patch_docs(
        &mut self,
        entry: &Node,
        dir: &Path,
        file: &Arc<str>,
    ) -> Result<Vec<Node>, ParseError> {
        let path = field(entry, "path").and_then(Node::as_str);
        let inline = field(entry, "patch");
        match (path, inline) {
            (Some(p), _) => self.patch_file(p, entry.line, dir, file),
            (None, Some(n)) => inline_docs(n, file),
            (None, None) => Err(error(file, entry.line, "a patch needs `path` or `patch`")),
        }
    }

    fn patch_file(
        &mut self,
        entry: &str,
        line: u32,
        dir: &Path,
        file: &str,
    ) -> Result<Vec<Node>, ParseError> {
        let path = normalize(&dir.join(entry));
        if !path.is_file() {
            return Err(error(file, line, format!("patch file {entry} not found")));
        }
        self.out.patch_files.insert(path.clone());
        self.load(&path, file, line)
    }

    fn patches(
        &mut self,
        doc: &Node,
        dir: &Path,
        file: &Arc<str>,
        root: bool,
        objs: &mut [Obj],
    ) -> Result<(), ParseError> {
        let at = |line: u32, m: String| error(file, line, m);
        if let Some(list) = field(doc, "patchesStrategicMerge") {
            for item in list.items() {
                if root {
                    self.entry = item.line;
                }
                let docs = match item.as_str() {
                    Some(s) if s.contains('\n') => inline_docs(item, file)?,
                    Some(s) => self.patch_file(s, item.line, dir, file)?,
                    None => return Err(at(item.line, "patch entries must be strings".into())),
                };
                for p in docs.iter().filter(|d| d.val != Val::Null) {
                    patch::merge_by_identity(objs, p).map_err(|m| at(item.line, m))?;
                }
            }
        }
        for entry in mappings(doc, "patches", file)? {
            if root {
                self.entry = entry.line;
            }
            let docs = self.patch_docs(entry, dir, file)?;
            let target = field(entry, "target").map(Target::from_node);
            for p in docs.iter().filter(|d| d.val != Val::Null) {
                let applied = match (&p.val, &target) {
                    (Val::List(_), Some(t)) => patch::json6902_on(objs, t, p),
                    (Val::List(_), None) => Err("a JSON 6902 patch needs a `target`".into()),
                    (_, Some(t)) => {
                        patch::merge_on(objs, t, p);
                        Ok(())
                    }
                    (_, None) => patch::merge_by_identity(objs, p),
                };
                applied.map_err(|m| at(entry.line, m))?;
            }
        }
        for entry in mappings(doc, "patchesJson6902", file)? {
            if root {
                self.entry = entry.line;
            }
            let Some(target) = field(entry, "target").map(Target::from_node) else {
                return Err(at(
                    entry.line,
                    "patchesJson6902 entries need a `target`".into(),
                ));
            };
            for ops in self.patch_docs(entry, dir, file)? {
                patch::json6902_on(objs, &target, &ops).map_err(|m| at(entry.line, m))?;
            }
        }
        Ok(())
    }
}

/// An inline patch: YAML (or JSON) text in a string field; its nodes take the field's line.
fn inline_docs(n: &Node, file: &str) -> Result<Vec<Node>, ParseError> {
    let Some(text) = n.as_str() else {
        return Err(error(file, n.line, "an inline patch must be a string"));
    };
    let mut docs = yaml::parse_docs(text).map_err(|e| {
        error(
            file,
            n.line,
            format!("inline patch: YAML parse error: {}", e.msg),
        )
    })?;
    docs.iter_mut().for_each(|d| reline(d, n.line));
    Ok(docs)
}

fn add_manifest(doc: Node, objs: &mut Vec<Obj>) {
    if !crate::k8s::is_manifest(&doc) || super::is_kustomization_doc(&doc) {
        return;
    }
    if kind_of(&doc) == "List" {
        if let Some(Node {
            val: Val::List(items),
            ..
        }) = field(&doc, "items")
        {
            for item in items.clone() {
                add_manifest(item, objs);
            }
        }
        return;
    }
    objs.push(Obj::new(doc));
}
