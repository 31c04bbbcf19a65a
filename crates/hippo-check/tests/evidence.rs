//! Signed evidence end to end: `--evidence` on a fixture tree verifies; a flipped byte in
//! the document, a changed or deleted scanned file, an edited report and the wrong public key
//! are each refused with a message that names what is wrong.

mod common;

use std::path::{Path, PathBuf};

use clap::Parser;
use hippo_check::attest::verify::{self, VerifyError};
use hippo_check::attest::{self, keys, DOCUMENT, PUBLIC_KEY, REPORT};
use hippo_check::cli::{run, CheckArgs, CheckCommand};

/// A scratch copy of a few fixtures, so tests can change scanned files.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Self {
        let root =
            std::env::temp_dir().join(format!("hippo-evidence-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let src = common::fixtures().join("rules");
        for (from, to) in [
            ("terraform/s3_bad.tf", "infra/s3.tf"),
            (
                "github-actions/deploy_good.yml",
                ".github/workflows/deploy.yml",
            ),
            ("kubernetes/deploy_bad.yaml", "k8s/deploy.yaml"),
        ] {
            let dest = root.join("tree").join(to);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(src.join(from), dest).unwrap();
        }
        Tree { root }
    }

    fn scanned(&self) -> PathBuf {
        self.root.join("tree")
    }

    fn bundle(&self) -> PathBuf {
        self.root.join("evidence")
    }

    /// Runs `hippo check --evidence` the way the binary does.
    fn check(&self, extra: &[&str]) -> i32 {
        let out = self.root.join("report.json");
        let mut argv = vec![
            "check".to_string(),
            self.scanned().display().to_string(),
            "--format".into(),
            "json".into(),
            "-o".into(),
            out.display().to_string(),
            "--evidence".into(),
            self.bundle().display().to_string(),
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        run(&parse(&argv))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `hippo check` is mounted in the `hippo` binary as a subcommand taking [`CheckArgs`];
/// this wrapper parses command lines exactly that way.
#[derive(Parser)]
struct Hippo {
    #[command(subcommand)]
    command: Top,
}

#[derive(clap::Subcommand)]
enum Top {
    Check(CheckArgs),
}

fn parse(argv: &[String]) -> CheckArgs {
    let mut full = vec!["hippo".to_string()];
    full.extend(argv.iter().cloned());
    let Top::Check(a) = Hippo::try_parse_from(full).expect("parses").command;
    a
}

fn verify_at(tree: &Tree, public_key: Option<&Path>) -> Result<verify::Verified, VerifyError> {
    let mut a = verify::args(&tree.bundle());
    a.root = PathBuf::from("/");
    a.public_key = public_key.map(Path::to_path_buf);
    verify::verify(&a)
}

#[test]
fn evidence_of_a_fixture_tree_verifies() {
    let t = Tree::new("ok");
    assert_eq!(t.check(&[]), 1, "the fixture tree has findings");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.bundle().join(DOCUMENT)).unwrap()).unwrap();
    assert_eq!(doc["kind"], attest::KIND);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        let bytes = std::fs::read(f["path"].as_str().unwrap()).unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
        );
    }
    assert!(!doc["findings"].as_array().unwrap().is_empty());
    assert_eq!(doc["signature"]["key_origin"], "generated");
    assert!(std::fs::read_to_string(t.bundle().join(REPORT))
        .unwrap()
        .contains("# HIPAA infrastructure evidence report"));
    // Paths are absolute here, so any root resolves them; the bundle's own key is used.
    let v = verify_at(&t, None).expect("verifies");
    assert_eq!(v.files_checked, 3);
    assert!(v.key_from_bundle);
}

#[test]
fn a_flipped_byte_in_the_document_is_refused() {
    let t = Tree::new("tamper");
    t.check(&[]);
    let p = t.bundle().join(DOCUMENT);
    let mut bytes = std::fs::read(&p).unwrap();
    // Turn one finding's severity from `high` into `hig` + space: still valid JSON.
    let at = bytes
        .windows(6)
        .position(|w| w == b"\"high\"")
        .expect("a high finding");
    bytes[at + 4] = b'x';
    std::fs::write(&p, bytes).unwrap();
    match verify_at(&t, None) {
        Err(VerifyError::BadSignature { .. }) => {}
        other => panic!("expected a bad signature, got {other:?}"),
    }
}

#[test]
fn changed_and_missing_scanned_files_are_named() {
    let t = Tree::new("files");
    t.check(&[]);
    let changed = t.scanned().join("infra/s3.tf");
    let mut text = std::fs::read_to_string(&changed).unwrap();
    text.push_str("\n# edited after the scan\n");
    std::fs::write(&changed, text).unwrap();
    std::fs::remove_file(t.scanned().join("k8s/deploy.yaml")).unwrap();
    let Err(VerifyError::Mismatch(problems)) = verify_at(&t, None) else {
        panic!("expected mismatches");
    };
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("changed: ") && problems[0].contains("infra/s3.tf"));
    assert!(problems[1].starts_with("missing: ") && problems[1].contains("k8s/deploy.yaml"));
    // The signature alone still holds.
    let mut a = verify::args(&t.bundle());
    a.signature_only = true;
    assert!(verify::verify(&a).is_ok());
}

#[test]
fn an_edited_report_is_refused() {
    let t = Tree::new("report");
    t.check(&[]);
    let p = t.bundle().join(REPORT);
    let text = std::fs::read_to_string(&p).unwrap().replace("FAIL", "PASS");
    std::fs::write(&p, text).unwrap();
    let Err(VerifyError::Mismatch(problems)) = verify_at(&t, None) else {
        panic!("expected a report mismatch");
    };
    assert!(problems[0].contains(REPORT), "{problems:?}");
}

#[test]
fn a_provided_key_signs_and_only_its_public_key_verifies() {
    let t = Tree::new("keys");
    std::fs::create_dir_all(&t.root).unwrap();
    let key = t.root.join("signing.key");
    std::fs::write(&key, [42u8; 32]).unwrap();
    assert_eq!(t.check(&["--signing-key", key.to_str().unwrap()]), 1);
    let ours = t.root.join("ours.pem");
    let signer = keys::read_signing_key(&key).unwrap();
    std::fs::write(&ours, keys::public_pem(&signer.verifying_key())).unwrap();
    let v = verify_at(&t, Some(&ours)).expect("verifies under the signer's key");
    assert!(!v.key_from_bundle);

    let other = t.root.join("other.pem");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
    std::fs::write(&other, keys::public_pem(&stranger.verifying_key())).unwrap();
    match verify_at(&t, Some(&other)) {
        Err(VerifyError::BadSignature { fingerprint, .. }) => {
            assert_eq!(fingerprint, keys::fingerprint(&stranger.verifying_key()))
        }
        r => panic!("expected a bad signature, got {r:?}"),
    }
    // Replacing the bundle's public key with a stranger's does not help a forger either.
    std::fs::copy(&other, t.bundle().join(PUBLIC_KEY)).unwrap();
    assert!(matches!(
        verify_at(&t, None),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[test]
fn verify_evidence_is_a_subcommand_of_check_and_exits_by_outcome() {
    let t = Tree::new("cli");
    t.check(&[]);
    let argv = |extra: &[&str]| {
        let mut v = vec![
            "check".to_string(),
            "verify-evidence".into(),
            t.bundle().display().to_string(),
            "--root".into(),
            "/".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let a = parse(&argv(&[]));
    assert!(matches!(a.command, Some(CheckCommand::VerifyEvidence(_))));
    assert_eq!(run(&a), 0);
    std::fs::write(t.scanned().join("infra/s3.tf"), "# emptied\n").unwrap();
    assert_eq!(run(&parse(&argv(&[]))), 1);
    assert_eq!(run(&parse(&argv(&["--signature-only"]))), 0);
    assert_eq!(
        run(&parse(&argv(&["--public-key", "/nonexistent/key.pem"]))),
        2
    );
    // A plain scan path still parses as a path, not as a subcommand.
    let plain = parse(&["check".to_string(), "deploy".to_string()]);
    assert!(plain.command.is_none() && plain.paths == [PathBuf::from("deploy")]);
}

#[test]
fn suppressions_carry_their_reason_and_expiry_into_the_evidence() {
    let t = Tree::new("sup");
    let f = t.scanned().join("infra/s3.tf");
    let text = std::fs::read_to_string(&f).unwrap();
    let first_resource = text.find("resource ").unwrap();
    let mut edited = text.clone();
    edited.insert_str(
        first_resource,
        // Split so that `hippo check .` over this repository does not read it as a directive.
        concat!(
            "# hippo:",
            "ignore HIPPO-AWS-S3-001 reason=\"public website bucket, no PHI\" until=2099-01-01\n"
        ),
    );
    std::fs::write(&f, edited).unwrap();
    t.check(&[]);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.bundle().join(DOCUMENT)).unwrap()).unwrap();
    let sups = doc["suppressions"].as_array().unwrap();
    assert!(
        sups.iter().any(|s| s["rule_id"] == "HIPPO-AWS-S3-001"
            && s["reason"] == "public website bucket, no PHI"
            && s["until"] == "2099-01-01"),
        "{sups:#?}"
    );
}
