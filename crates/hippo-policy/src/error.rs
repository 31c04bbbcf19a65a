//! Why a policy directory was refused at load. Each message names the file and the fix.
//!
//! Load-time messages may quote the policy's own source and the synthetic sample request it was
//! checked against; they never carry a real request's facts (decide-time failures are not
//! errors at all: they deny with rule `policy-error`).

use std::path::PathBuf;

/// `file:line` when the line is known, `file` otherwise.
fn at(path: &std::path::Path, line: &Option<u32>) -> String {
    match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy.dir = {}: directory not found; create it with one <tenant>.rego file per tenant, or remove policy.dir to use the built-in policy only", path.display())]
    DirMissing { path: PathBuf },

    #[error("policy.dir = {}: cannot list it ({source}); make it readable by the server's user", path.display())]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: policy.dir may hold only <tenant>.rego files, not directories; move it out of the policy directory", path.display())]
    Subdirectory { path: PathBuf },

    #[error("{}: not a .rego file; policy.dir may hold only <tenant>.rego files, move it out of the policy directory", path.display())]
    NotRego { path: PathBuf },

    #[error("{}: the file name must be <tenant-id>.rego, where a tenant id is 1-63 characters of a-z, 0-9 and '-', starting with a letter; rename the file after the tenant it governs", path.display())]
    BadTenantName { path: PathBuf },

    #[error("{}: cannot read it ({source}); make it readable by the server's user", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: Rego syntax error: {detail}; fix the policy (Rego v1: rules need `if`, partial sets `contains`)", at(path, line))]
    Parse {
        path: PathBuf,
        line: Option<u32>,
        detail: String,
    },

    #[error("{}: declares package {found}; a tenant policy must declare `package hippo.tenant`", path.display())]
    WrongPackage { path: PathBuf, found: String },

    #[error("{}: declares neither `deny` nor `remove_fields` in package hippo.tenant, so it would change nothing; add one of them (check their spelling)", path.display())]
    NoRules { path: PathBuf },

    #[error("{}: fails to evaluate on a sample request ({sample}): {detail}; every rule must evaluate for every request (guard optional facts such as input.resource.type, which may be null)", at(path, line))]
    Eval {
        path: PathBuf,
        line: Option<u32>,
        sample: String,
        detail: String,
    },

    #[error("{}: on a sample request ({sample}), {detail}", path.display())]
    BadResult {
        path: PathBuf,
        sample: String,
        detail: String,
    },
}

/// Pulls the line number and the final message out of a regorus error, which reads
/// `\n--> <file>:<line>:<col>\n<source excerpt>\nerror: <message>`.
pub(crate) fn split_regorus_error(e: &str) -> (Option<u32>, String) {
    let line = e.lines().find_map(|l| {
        let loc = l.trim().strip_prefix("--> ")?;
        let mut parts = loc.rsplitn(3, ':');
        let _col = parts.next()?;
        parts.next()?.parse::<u32>().ok()
    });
    let detail = e
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| e.trim())
        .to_owned();
    (line, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_regorus_messages_into_line_and_detail() {
        let e = "\n--> /p/acme.rego:5:1\n  |\n5 | }\n  | ^\nerror: expecting expression";
        assert_eq!(
            split_regorus_error(e),
            (Some(5), "expecting expression".to_owned())
        );
        assert_eq!(
            split_regorus_error("not a valid rule path"),
            (None, "not a valid rule path".to_owned())
        );
    }
}
