//! The release's provenance statement: an in-toto Statement v1 carrying a SLSA Provenance v1
//! predicate (source commit, builder, inputs with digests), and the base images of the
//! container definition, pinned or not.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// Names this tool's build recipe (SLSA asks for a URI; the recipe is docs/deploy.md,
/// "Signed releases", and crates/xtask).
pub const BUILD_TYPE: &str = "urn:hippo:build-type:cargo-xtask-release:v1";

/// One artifact the statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub sha256: String,
}

/// A `FROM` image of the container definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// As written, e.g. `debian:12.12-slim` or `debian:12.12-slim@sha256:…`.
    pub reference: String,
    /// The `sha256:` digest when the reference is pinned.
    pub digest: Option<String>,
}

/// Everything the statement records about how the release was made.
#[derive(Debug, Clone)]
pub struct BuildFacts {
    pub version: String,
    pub source_uri: String,
    pub commit: String,
    pub dirty: bool,
    pub cargo_lock_sha256: String,
    pub rustc: String,
    pub cargo: String,
    /// True when this run compiled the binary; false when `--binary` handed one in.
    pub built_here: bool,
    pub base_images: Vec<BaseImage>,
    pub builder_id: String,
    pub invocation_id: String,
    pub started: OffsetDateTime,
    pub finished: OffsetDateTime,
}

pub fn statement(facts: &BuildFacts, subjects: &[Subject]) -> Value {
    let mut dependencies = vec![
        json!({
            "uri": format!("git+{}@{}", facts.source_uri, facts.commit),
            "digest": { "gitCommit": facts.commit },
        }),
        json!({ "name": "Cargo.lock", "digest": { "sha256": facts.cargo_lock_sha256 } }),
    ];
    for image in &facts.base_images {
        let mut entry = json!({ "uri": format!("docker://{}", image.reference) });
        match &image.digest {
            Some(digest) => {
                let hex = digest.trim_start_matches("sha256:");
                entry["digest"] = json!({ "sha256": hex });
            }
            None => entry["annotations"] = json!({ "pinned": false }),
        }
        dependencies.push(entry);
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects.iter().map(|s| json!({
            "name": s.name,
            "digest": { "sha256": s.sha256 },
        })).collect::<Vec<_>>(),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "source": { "uri": facts.source_uri, "commit": facts.commit, "dirty": facts.dirty },
                    "package": "hippo",
                    "version": facts.version,
                    "profile": "release",
                    "locked": true,
                },
                "internalParameters": {
                    "rustc": facts.rustc,
                    "cargo": facts.cargo,
                    "builtHere": facts.built_here,
                    "baseImagesPinned": facts.base_images.iter().all(|i| i.digest.is_some()),
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": { "id": facts.builder_id },
                "metadata": {
                    "invocationId": facts.invocation_id,
                    "startedOn": rfc3339(facts.started),
                    "finishedOn": rfc3339(facts.finished),
                },
            },
        },
    })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// What verification reads back from a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subjects: Vec<Subject>,
    pub version: String,
    pub commit: String,
    pub base_images_pinned: bool,
}

pub fn claims(statement: &Value) -> Result<Claims, String> {
    if statement["_type"] != STATEMENT_TYPE {
        return Err(format!("_type is not {STATEMENT_TYPE}"));
    }
    if statement["predicateType"] != PREDICATE_TYPE {
        return Err(format!("predicateType is not {PREDICATE_TYPE}"));
    }
    let subjects = statement["subject"]
        .as_array()
        .ok_or("subject is not a list")?
        .iter()
        .map(|s| {
            let name = s["name"].as_str().ok_or("a subject has no name")?;
            let sha256 = s["digest"]["sha256"]
                .as_str()
                .ok_or_else(|| format!("subject {name} has no sha256 digest"))?;
            Ok(Subject {
                name: name.to_string(),
                sha256: sha256.to_string(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let definition = &statement["predicate"]["buildDefinition"];
    let text = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{what} is missing"))
    };
    Ok(Claims {
        subjects,
        version: text(&definition["externalParameters"]["version"], "the version")?,
        commit: text(
            &definition["externalParameters"]["source"]["commit"],
            "the source commit",
        )?,
        base_images_pinned: definition["internalParameters"]["baseImagesPinned"]
            .as_bool()
            .ok_or("baseImagesPinned is missing")?,
    })
}

/// The `FROM` images of a Dockerfile, skipping references to earlier build stages.
pub fn base_images(dockerfile: &str) -> Vec<BaseImage> {
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for line in dockerfile.lines() {
        let Some((reference, stage)) = from_line(line) else {
            continue;
        };
        if !stages.iter().any(|s| s.eq_ignore_ascii_case(&reference)) {
            let digest = reference
                .split_once('@')
                .map(|(_, d)| d.to_string())
                .filter(|d| d.starts_with("sha256:"));
            images.push(BaseImage { reference, digest });
        }
        if let Some(stage) = stage {
            stages.push(stage);
        }
    }
    images
}

/// `FROM [--platform=…] image [AS name]` -> (image, name).
fn from_line(line: &str) -> Option<(String, Option<String>)> {
    let mut words = line.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("FROM") {
        return None;
    }
    let mut words = words.skip_while(|w| w.starts_with("--"));
    let image = words.next()?.to_string();
    let stage = match (words.next(), words.next()) {
        (Some(as_word), Some(name)) if as_word.eq_ignore_ascii_case("AS") => Some(name.to_string()),
        _ => None,
    };
    Some((image, stage))
}

/// The Dockerfile with every unpinned base image given its digest by `resolve`.
pub fn pin_dockerfile(
    dockerfile: &str,
    mut resolve: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let unpinned: Vec<String> = base_images(dockerfile)
        .into_iter()
        .filter(|i| i.digest.is_none())
        .map(|i| i.reference)
        .collect();
    let mut out = String::with_capacity(dockerfile.len() + 80 * unpinned.len());
    for line in dockerfile.split_inclusive('\n') {
        match from_line(line) {
            Some((image, _)) if unpinned.contains(&image) => {
                let digest = resolve(&image)?;
                anyhow::ensure!(
                    digest.starts_with("sha256:") && digest.len() == 71,
                    "the registry answered {digest:?} for {image}, not a sha256 digest"
                );
                out.push_str(&line.replacen(&image, &format!("{image}@{digest}"), 1));
            }
            _ => out.push_str(line),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "FROM rust:1.94.0-slim-bookworm AS builder\nRUN true\n\
        FROM --platform=linux/amd64 debian:12.12-slim@sha256:aaaa AS runtime\n\
        COPY --from=builder /out/hippo /usr/local/bin/hippo\nFROM builder AS again\n";

    #[test]
    fn base_images_skip_stage_references_and_see_digests() {
        let images = base_images(DOCKERFILE);
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].reference, "rust:1.94.0-slim-bookworm");
        assert_eq!(images[0].digest, None);
        assert_eq!(images[1].digest.as_deref(), Some("sha256:aaaa"));
    }

    #[test]
    fn pinning_rewrites_only_unpinned_from_lines() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let pinned = pin_dockerfile(DOCKERFILE, |_| Ok(digest.clone())).unwrap();
        assert!(pinned.contains(&format!(
            "FROM rust:1.94.0-slim-bookworm@{digest} AS builder"
        )));
        assert!(pinned.contains("debian:12.12-slim@sha256:aaaa AS runtime"));
        assert!(pinned.ends_with("FROM builder AS again\n"));
        assert!(pin_dockerfile(DOCKERFILE, |_| Ok("latest".into())).is_err());
    }

    #[test]
    fn a_statement_reads_back_to_its_claims() {
        let now = OffsetDateTime::now_utc();
        let facts = BuildFacts {
            version: "0.1.0".into(),
            source_uri: "https://example.invalid/hippo.git".into(),
            commit: "c".repeat(40),
            dirty: false,
            cargo_lock_sha256: "d".repeat(64),
            rustc: "rustc 1.95.0".into(),
            cargo: "cargo 1.95.0".into(),
            built_here: true,
            base_images: base_images(DOCKERFILE),
            builder_id: "local".into(),
            invocation_id: "1".into(),
            started: now,
            finished: now,
        };
        let subjects = vec![Subject {
            name: "hippo".into(),
            sha256: "e".repeat(64),
        }];
        let value = statement(&facts, &subjects);
        let claims = claims(&value).unwrap();
        assert_eq!(claims.subjects, subjects);
        assert_eq!(claims.version, "0.1.0");
        assert!(!claims.base_images_pinned);
        let mut wrong = value.clone();
        wrong["predicateType"] = json!("https://slsa.dev/provenance/v0.2");
        assert!(claims_err(&wrong).contains("predicateType"));
    }

    fn claims_err(v: &Value) -> String {
        claims(v).unwrap_err()
    }
}
