//! The scanned git commit, read from .git without running git.

use std::path::Path;

/// Returns the commit id of HEAD for the repository containing `start`, if any.
pub fn head_commit(start: &Path) -> Option<String> {
    let mut dir = std::fs::canonicalize(start).ok()?;
    if dir.is_file() {
        dir.pop();
    }
    loop {
        let git = dir.join(".git");
        if git.is_dir() {
            return resolve(&git);
        }
        if !dir.pop() {
            return None;
        }
    }
}

fn resolve(git: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(r) = head.strip_prefix("ref: ") else {
        return Some(head.to_string());
    };
    if let Ok(id) = std::fs::read_to_string(git.join(r)) {
        return Some(id.trim().to_string());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed
        .lines()
        .find_map(|l| l.strip_suffix(r).map(|id| id.trim().to_string()))
}
