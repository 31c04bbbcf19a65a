//! Dockerfiles: instructions with their lines, as one resource per file.

use std::sync::Arc;

use crate::model::{Format, Node, Resource, Val};

const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// True for file names that are Dockerfiles.
pub fn is_dockerfile(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // `Dockerfile.dockerignore` is an ignore list for that Dockerfile, not a Dockerfile.
    if n.ends_with(".dockerignore") {
        return false;
    }
    n == "dockerfile"
        || n == "containerfile"
        || n.starts_with("dockerfile.")
        || n.ends_with(".dockerfile")
}

/// Parses a Dockerfile; an unknown instruction is a parse error (line, message).
pub fn parse(text: &str, file: &Arc<str>) -> Result<Resource, (u32, String)> {
    let mut items = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line = (i + 1) as u32;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut full = t.to_string();
        while full.ends_with('\\') {
            full.pop();
            match lines.next() {
                Some((_, next)) if next.trim_start().starts_with('#') => continue,
                Some((_, next)) => {
                    full.push(' ');
                    full.push_str(next.trim());
                }
                None => break,
            }
        }
        let (ins, args) = full
            .split_once(char::is_whitespace)
            .unwrap_or((full.as_str(), ""));
        let ins = ins.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&ins.as_str()) {
            return Err((line, format!("unknown Dockerfile instruction '{ins}'")));
        }
        if let Some(delim) = heredoc_delimiter(args) {
            for (_, l) in lines.by_ref() {
                if l.trim() == delim {
                    break;
                }
            }
        }
        let kv = vec![
            ("instruction".to_string(), Node::new(line, Val::Str(ins))),
            (
                "args".to_string(),
                Node::new(line, Val::Str(args.trim().to_string())),
            ),
        ];
        items.push(Node::new(line, Val::Map(kv)));
    }
    if items.is_empty() {
        return Err((1, "Dockerfile has no instructions".into()));
    }
    Ok(Resource {
        rtype: "dockerfile".into(),
        source_type: "Dockerfile".into(),
        address: format!("{file}::Dockerfile"),
        name: "Dockerfile".into(),
        format: Format::Dockerfile,
        file: file.clone(),
        line: 1,
        end_line: text.lines().count() as u32,
        body: Node::new(1, Val::List(items)),
        origin: None,
    })
}

fn heredoc_delimiter(args: &str) -> Option<String> {
    let i = args.find("<<")?;
    let rest = args[i + 2..].trim_start_matches('-');
    let word: String = rest
        .trim_matches(|c| c == '"' || c == '\'')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn dockerignore_files_are_not_dockerfiles() {
        assert!(super::is_dockerfile("Dockerfile.prod"));
        assert!(!super::is_dockerfile("Dockerfile.dockerignore"));
    }
}
