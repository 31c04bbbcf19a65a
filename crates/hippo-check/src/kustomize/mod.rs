//! Kustomize overlays rendered into Kubernetes objects before the Kubernetes rules run, with
//! every value traced back to the file and line it came from.
//!
//! Written by hand on purpose: there is no maintained Rust crate that renders kustomize (the
//! reference implementation is the Go module `sigs.k8s.io/kustomize`), and a renderer that
//! emits plain YAML would lose what a gate needs most, the source line of each value.
//!
//! What is rendered (documented in docs/rules.md, "What hippo check evaluates"):
//! - every *root* kustomization of the scan (one that no other scanned kustomization uses as
//!   a base); bases are rendered as part of the overlays that use them;
//! - `resources` / `bases` (files and directories, recursively), `components`,
//!   `patchesStrategicMerge`, `patches` (strategic merge or JSON 6902, with `target`),
//!   `patchesJson6902`, `namePrefix`, `nameSuffix`, `namespace`, `commonLabels`, `labels`,
//!   `commonAnnotations`, `images`, `replicas`;
//! - remote bases (URLs) are not fetched: each is an info finding (HIPPO-KUST-001).
//!
//! Findings on a rendered object are reported in the overlay's kustomization file, at the
//! line of the entry that brought the offending value in, with `origin` naming the base or
//! patch `file:line` it comes from. Manifests that are bases are still checked on their
//! own; an overlay finding that merely repeats a base finding (same rule, same source line)
//! is dropped, so a problem is reported once, where it is written.

mod load;
mod patch;
mod transform;

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::ParseError;
use crate::findings::Finding;
use crate::model::{Node, Origin, Resource};

pub use load::Remote;

/// File names kustomize reads in a directory, in its order of preference.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Lines of rendered objects are tagged: the upper bits name the source file (an index
/// into the render's [`SourceMap`]), the lower bits hold the line in that file.
const LINE_BITS: u32 = 20;
const LINE_MASK: u32 = (1 << LINE_BITS) - 1;
const MAX_FILES: usize = (u32::MAX >> LINE_BITS) as usize;

fn tag(file: usize, line: u32) -> u32 {
    ((file as u32) << LINE_BITS) | line.min(LINE_MASK)
}

/// True if the file name is one kustomize reads as a kustomization.
pub fn is_kustomization_name(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES.contains(&n))
}

/// True if a YAML document declares itself a kustomization or a kustomize component.
pub fn is_kustomization_doc(doc: &Node) -> bool {
    doc.get("apiVersion")
        .and_then(Node::as_str)
        .is_some_and(|v| v.starts_with("kustomize.config.k8s.io/"))
}

/// The files a render read, so that tagged lines can be translated back.
#[derive(Debug, Default)]
pub struct SourceMap {
    /// Source file and the line, in the overlay's kustomization, of the entry that brought
    /// it in. Index 0 is the overlay's kustomization itself (its lines are untagged).
    files: Vec<(Arc<str>, u32)>,
}

/// A tagged line translated back to its source.
pub struct Located<'a> {
    pub file: &'a str,
    pub line: u32,
    /// Line in the overlay's kustomization to report the finding at.
    pub entry_line: u32,
}

impl SourceMap {
    pub fn locate(&self, tagged: u32) -> Located<'_> {
        let index = (tagged >> LINE_BITS) as usize;
        let line = tagged & LINE_MASK;
        match self.files.get(index) {
            Some((file, _)) if index == 0 => Located {
                file,
                line,
                entry_line: line,
            },
            Some((file, entry)) => Located {
                file,
                line,
                entry_line: *entry,
            },
            None => Located {
                file: "",
                line,
                entry_line: line,
            },
        }
    }
}

/// What rendering the kustomizations of a scan contributes.
#[derive(Default)]
pub struct Render {
    pub resources: Vec<Resource>,
    pub errors: Vec<ParseError>,
    pub remote: Vec<Remote>,
    /// Patch files (normalised paths): partial manifests, judged only inside a render.
    pub patch_files: HashSet<PathBuf>,
}

/// Lexical normalisation (no file system access), so that `overlay/../base/x.yaml` and
/// `./base/x.yaml` name the same file as the walk reports it.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Renders every root kustomization among `files` (paths as the walk reported them).
/// `failed` lists files that already have a parse error: they are not rendered again.
pub fn render_all(files: &[Arc<str>], failed: &HashSet<&str>) -> Render {
    let mut out = Render::default();
    let mut docs = BTreeMap::new();
    for f in files.iter().filter(|f| !failed.contains(f.as_ref())) {
        if let Ok(doc) = load::read_kustomization(Path::new(f.as_ref())) {
            docs.insert(f.clone(), doc);
        }
    }
    // Directories some kustomization uses as a base: those are rendered inside it.
    let mut used = HashSet::new();
    for (f, doc) in &docs {
        let dir = Path::new(f.as_ref()).parent().unwrap_or(Path::new(""));
        for entry in load::base_entries(doc) {
            used.insert(normalize(&dir.join(entry)));
        }
    }
    for (f, doc) in &docs {
        let path = Path::new(f.as_ref());
        let dir = normalize(path.parent().unwrap_or(Path::new("")));
        if is_kustomization_name(path) && used.contains(&dir) {
            continue;
        }
        match load::render_root(f, doc, &mut out) {
            Ok((objects, map)) => {
                let origin = Arc::new(Origin::Rendered(map));
                for obj in objects {
                    let mut rs = Vec::new();
                    crate::k8s::resources(&obj, f, &mut rs);
                    for mut r in rs {
                        r.address = format!("{}::kustomize::{}", f, r.name);
                        r.origin = Some(origin.clone());
                        out.resources.push(r);
                    }
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// Drops overlay findings that repeat a finding of the same rule at the same source line
/// of a manifest checked on its own: the problem is reported once, where it is written.
pub fn drop_repeats(findings: &mut Vec<Finding>) {
    let standalone: HashSet<(&str, String)> = findings
        .iter()
        .filter(|f| f.origin.is_none())
        .map(|f| {
            let at = format!(
                "{}:{}",
                normalize(Path::new(f.file.as_ref())).display(),
                f.line
            );
            (f.rule_id, at)
        })
        .collect();
    let repeats: HashSet<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.origin
                .as_ref()
                .is_some_and(|o| standalone.contains(&(f.rule_id, o.clone())))
        })
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    findings.retain(|_| {
        i += 1;
        !repeats.contains(&(i - 1))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_lines_translate_back_to_their_file_and_entry() {
        let map = SourceMap {
            files: vec![
                (Arc::from("overlay/kustomization.yaml"), 0),
                (Arc::from("base/deploy.yaml"), 4),
            ],
        };
        let at = map.locate(tag(1, 17));
        assert_eq!(
            (at.file, at.line, at.entry_line),
            ("base/deploy.yaml", 17, 4)
        );
        let own = map.locate(tag(0, 9));
        assert_eq!(
            (own.file, own.line, own.entry_line),
            ("overlay/kustomization.yaml", 9, 9)
        );
    }

    #[test]
    fn paths_normalise_lexically() {
        assert_eq!(normalize(Path::new("./a/b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(normalize(Path::new("/x/./y/..")), PathBuf::from("/x"));
    }
}
