//! Secret scanning over raw text: AWS keys, private keys, secret-named assignments with
//! high entropy, database URLs with inline passwords, and JWTs. Values are masked.

use std::sync::OnceLock;

use regex::Regex;

/// One detected secret: rule id, line and a message with the value masked.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretHit {
    pub rule_id: &'static str,
    pub line: u32,
    pub message: String,
}

struct Patterns {
    aws_key: Regex,
    private_key: Regex,
    assign_quoted: Regex,
    assign_plain: Regex,
    db_url: Regex,
    jwt: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        aws_key: Regex::new(r"\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16})\b").unwrap(),
        private_key: Regex::new(r"-----BEGIN ((?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----").unwrap(),
        assign_quoted: Regex::new(r#"(?i)([A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key)[A-Za-z0-9_.\-]*)["']?\s*(?::=|=>|:|=)\s*["']([^"'\s]{8,})["']"#).unwrap(),
        assign_plain: Regex::new(r#"(?i)^\s*-?\s*([A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[A-Za-z0-9_.\-]*)\s*[:=]\s*([^\s"'#{}\[\],]{8,})\s*$"#).unwrap(),
        db_url: Regex::new(r"(?i)\b((?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|jdbc:[a-z]+)://)([^:/\s@'\x22]+):([^@/\s'\x22]+)@").unwrap(),
        jwt: Regex::new(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}").unwrap(),
    })
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Masks a secret, keeping at most its first four characters.
pub fn mask(s: &str) -> String {
    let keep: String = s
        .chars()
        .take(if s.chars().count() > 8 { 4 } else { 0 })
        .collect();
    format!("{keep}{}", "*".repeat(8))
}

fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    // A SCREAMING_SNAKE_CASE word is a constant's name (e.g. an AWS Config rule identifier),
    // and dots stand for an elided value in documentation.
    let constant_name = v.contains('_')
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    // An upper-case word (`PASSWORD` in `postgres://hippo:PASSWORD@db`) is a slot to fill in.
    let upper_word = v.len() >= 3 && v.chars().all(|c| c.is_ascii_uppercase());
    // A lower-case identifier joined by dots or underscores (`apikey.create`, `token_expired`)
    // is a name in source code: an event kind or an error code, not a credential. (A
    // passphrase joined by hyphens still counts as a possible secret.)
    let identifier = (v.contains('.') || v.contains('_'))
        && v.split(['.', '_'])
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
    constant_name
        || upper_word
        || identifier
        || v.parse::<f64>().is_ok()
        || v.contains('{')
        || ["password", "passwd", "pass", "secret", "pw"].contains(&l.as_str())
        || (!v.is_empty() && v.chars().all(|c| c == '.'))
        || v.contains("${")
        || v.contains("{{")
        || v.contains("$(")
        || v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with('%')
        || v.starts_with('*')
        || l.starts_with("arn:")
        || l.starts_with("var.")
        || l.starts_with("local.")
        || l.starts_with("data.")
        || l.starts_with("module.")
        || l.starts_with("aws_")
        || l.starts_with("random_")
        || l.starts_with("!ref")
        || l.contains("example")
        || l.starts_with("secretsmanager")
        || l.starts_with("ssm:")
        || l.starts_with("/")
}

/// True if an unquoted value reads as an expression rather than a literal: a function call
/// (`nonsensitive(var.pw)`) or a reference to another object's attribute
/// (`random_password.db.result`, `each.value.db_password`). HCL never leaves a literal string
/// unquoted, and a YAML password shaped like `type_name.name.attribute` is not plausible.
fn expression(v: &str) -> bool {
    const ROOTS: &[&str] = &[
        "each",
        "count",
        "self",
        "var",
        "local",
        "module",
        "data",
        "path",
        "terraform",
    ];
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '*')
    };
    // A call, also with a path and a statement's `;` (`secrets::scan(&text);` in source code).
    let v = v.strip_suffix(';').unwrap_or(v);
    if let Some((name, rest)) = v.split_once('(') {
        return rest.ends_with(')')
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':');
    }
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| ident(p))
        && parts[0].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && (ROOTS.contains(&parts[0]) || (parts[0].contains('_') && parts.len() >= 3))
}

fn ignored_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "name",
        "ref",
        "arn",
        "id",
        "path",
        "file",
        "type",
        "length",
        "prevention",
        "policy",
        "days",
        "enabled",
        "manager",
        "from",
        "url",
        "uri",
        "keyref",
        "secretname",
        "version",
        "rotation",
        "mode",
        "count",
        "prefix",
        "suffix",
        "header",
    ]
    .iter()
    .any(|s| k.ends_with(s))
}

/// True if a value by itself looks like a credential (used by env-var rules).
pub fn looks_secret(v: &str) -> bool {
    let p = patterns();
    p.aws_key.is_match(v)
        || p.private_key.is_match(v)
        || p.jwt.is_match(v)
        || db_password(v).is_some()
}

fn db_password(line: &str) -> Option<String> {
    let c = patterns().db_url.captures(line)?;
    let pw = c.get(3)?.as_str();
    // One or two characters (`postgres://u:p@localhost`) only illustrate the URL form.
    if placeholder(pw) || pw.len() <= 2 || pw.chars().all(|c| c == '*' || c == 'x' || c == 'X') {
        return None;
    }
    Some(pw.to_string())
}

/// Scans text line by line.
pub fn scan(text: &str) -> Vec<SecretHit> {
    let p = patterns();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ln = (i + 1) as u32;
        if line.len() > 4096 {
            continue;
        }
        for c in p.aws_key.captures_iter(line) {
            let k = &c[1];
            if !k.contains("EXAMPLE") {
                out.push(SecretHit {
                    rule_id: "HIPPO-SECRET-001",
                    line: ln,
                    message: format!("AWS access key ID {} in source", mask(k)),
                });
            }
        }
        if p.private_key.is_match(line) {
            out.push(SecretHit {
                rule_id: "HIPPO-SECRET-002",
                line: ln,
                message: "private key block in source".into(),
            });
        }
        if let Some(pw) = db_password(line) {
            out.push(SecretHit {
                rule_id: "HIPPO-SECRET-004",
                line: ln,
                message: format!("database URL with inline password {}", mask(&pw)),
            });
        } else if let Some((c, unquoted)) = p
            .assign_quoted
            .captures(line)
            .map(|c| (c, false))
            .or_else(|| p.assign_plain.captures(line).map(|c| (c, true)))
        {
            let (k, v) = (&c[1], &c[2]);
            // An unquoted expression (a reference or a function call) is not a literal.
            let reference = unquoted && expression(v);
            let literal = !ignored_key(k) && !placeholder(v) && !reference;
            if literal && entropy(v) >= 3.0 && !p.aws_key.is_match(v) {
                out.push(SecretHit {
                    rule_id: "HIPPO-SECRET-003",
                    line: ln,
                    message: format!("{k} is assigned a literal secret {}", mask(v)),
                });
            }
        }
        if let Some(m) = p.jwt.find(line) {
            out.push(SecretHit {
                rule_id: "HIPPO-SECRET-005",
                line: ln,
                message: format!("JWT {} in source", mask(m.as_str())),
            });
        }
    }
    out
}

#[cfg(test)]
mod fix_tests {
    use super::*;

    #[test]
    fn references_and_calls_are_not_literals() {
        for line in [
            "  password = random_password.db.result",
            "  master_password = aws_secretsmanager_secret_version.db.secret_string",
            "  password = each.value.db_password",
            "  master_password = nonsensitive(var.docdb_password_from_vault)",
        ] {
            assert!(scan(line).is_empty(), "{line}");
        }
        // Quoted, the same text is a literal string.
        assert_eq!(
            scan("  password = \"each.value.Xk9pQ2vL7\"")[0].rule_id,
            "HIPPO-SECRET-003"
        );
        assert_eq!(
            scan("  password: Xk9pQ2vL7.mZ")[0].rule_id,
            "HIPPO-SECRET-003"
        );
    }

    #[test]
    fn placeholders_names_and_numbers_are_not_secrets() {
        for line in [
            "export URL='postgres://hippo:PASSWORD@db.internal:5432/hippo'",
            "\"postgres://user:password@host/db?sslmode=verify-full\"",
            "\"postgres://u:p@localhost/db\"",
            "format!(\"postgres://hippo:{secret}@db.example.com/hippo\")",
            "ApiKeyCreate => \"apikey.create\",",
            "TokenExpired => \"token_expired\",",
            "token = \"0.2081129e-32\"",
            "    out.secrets = secrets::scan(&text);",
        ] {
            assert!(scan(line).is_empty(), "{line}: {:?}", scan(line));
        }
        // Real-looking values still fire.
        assert_eq!(
            scan("password = \"correct-horse-battery\"")[0].rule_id,
            "HIPPO-SECRET-003"
        );
        assert_eq!(
            scan("api_key = \"q8Zt2LmV0pXw\"")[0].rule_id,
            "HIPPO-SECRET-003"
        );
        assert_eq!(
            // hippo:ignore HIPPO-SECRET-004 reason="the scanner test input: a made-up password that must be found"
            scan("\"postgres://hippo:s3cr3t-Pa55@db.example.com/hippo\"")[0].rule_id,
            "HIPPO-SECRET-004"
        );
    }

    #[test]
    fn constant_names_and_elisions_are_not_secrets() {
        assert!(scan("\"ecs-no-environment-secrets\" = \"ECS_NO_ENVIRONMENT_SECRETS\"").is_empty());
        assert!(scan("# postgres://hippo_service:...@db:5432/hippo").is_empty());
        assert_eq!(
            // hippo:ignore HIPPO-SECRET-004 reason="the scanner test input: a made-up password that must be found"
            scan("url = \"postgres://app:Xk9#pQ2vL7@db:5432/hippo\"")[0].rule_id,
            "HIPPO-SECRET-004"
        );
    }
}
