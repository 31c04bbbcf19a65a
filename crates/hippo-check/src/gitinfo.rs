//! The scanned git commit, read from .git without running git (plain checkouts, and
//! worktrees or submodules whose `.git` is a file naming their git directory).

use std::path::{Path, PathBuf};

/// Returns the commit id of HEAD for the repository containing `start`, if any.
pub fn head_commit(start: &Path) -> Option<String> {
    let mut dir = std::fs::canonicalize(start).ok()?;
    if dir.is_file() {
        dir.pop();
    }
    loop {
        let git = dir.join(".git");
        if git.is_dir() {
            return resolve(&git, &git);
        }
        if git.is_file() {
            let (own, common) = linked_git_dir(&dir, &git)?;
            return resolve(&own, &common);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// For a `.git` file (`gitdir: PATH`): the worktree's own git directory (its HEAD) and the
/// common one (branches and packed refs), named by its `commondir` file when there is one.
fn linked_git_dir(work: &Path, dot_git: &Path) -> Option<(PathBuf, PathBuf)> {
    let text = std::fs::read_to_string(dot_git).ok()?;
    let own = work.join(text.trim().strip_prefix("gitdir:")?.trim());
    let common = match std::fs::read_to_string(own.join("commondir")) {
        Ok(c) => own.join(c.trim()),
        Err(_) => own.clone(),
    };
    Some((own, common))
}

fn resolve(own: &Path, common: &Path) -> Option<String> {
    let head = std::fs::read_to_string(own.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(r) = head.strip_prefix("ref: ") else {
        return Some(head.to_string());
    };
    for dir in [own, common] {
        if let Ok(id) = std::fs::read_to_string(dir.join(r)) {
            return Some(id.trim().to_string());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed
        .lines()
        .find_map(|l| l.strip_suffix(r).map(|id| id.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worktree_resolves_its_branch_through_the_common_git_dir() {
        let root = std::env::temp_dir().join(format!("hippo-gitinfo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let common = root.join("main/.git");
        let own = common.join("worktrees/wt");
        std::fs::create_dir_all(common.join("refs/heads")).unwrap();
        std::fs::create_dir_all(&own).unwrap();
        std::fs::create_dir_all(root.join("wt/sub")).unwrap();
        let id = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(common.join("refs/heads/topic"), format!("{id}\n")).unwrap();
        std::fs::write(own.join("HEAD"), "ref: refs/heads/topic\n").unwrap();
        std::fs::write(own.join("commondir"), "../..\n").unwrap();
        std::fs::write(root.join("wt/.git"), format!("gitdir: {}\n", own.display())).unwrap();
        assert_eq!(head_commit(&root.join("wt/sub")).as_deref(), Some(id));
        let _ = std::fs::remove_dir_all(&root);
    }
}
