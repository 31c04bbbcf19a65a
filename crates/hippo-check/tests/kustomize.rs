//! Kustomize overlays are rendered before the Kubernetes rules run: a violation an overlay
//! introduces is reported in the overlay (with the base or patch line it comes from), one an
//! overlay fixes is not, remote bases are noted, and a broken kustomization is an error that
//! does not stop the rest of the scan.

mod common;

use common::*;
use hippo_check::engine::{Finding, Outcome};
use hippo_check::report::{render, OutputFormat};

fn dir(name: &str) -> std::path::PathBuf {
    fixtures().join("kustomize").join(name)
}

fn in_file<'a>(o: &'a Outcome, suffix: &str) -> Vec<&'a Finding> {
    open(o)
        .into_iter()
        .filter(|f| f.file.ends_with(suffix))
        .collect()
}

#[test]
fn a_violation_the_overlay_introduces_is_reported_in_the_overlay() {
    let o = scan_paths(&[dir("")]);
    let overlay = in_file(&o, "overlays/privileged/kustomization.yaml");
    let privileged = overlay
        .iter()
        .find(|f| f.rule_id == "HIPPO-K8S-002")
        .expect("privileged container reported in the overlay");
    assert_eq!(privileged.line, 12, "the `patches` entry that brings it in");
    assert!(privileged
        .origin
        .as_deref()
        .is_some_and(|o| o.ends_with("overlays/privileged/privileged.yaml:11")));
    assert_eq!(
        privileged.resource.as_deref(),
        Some("Deployment/phi-prod/prod-api"),
        "namePrefix and namespace applied"
    );
    // The JSON 6902 patch removed allowPrivilegeEscalation: false; the container is in the base.
    let escalation = overlay
        .iter()
        .find(|f| f.rule_id == "HIPPO-K8S-003")
        .expect("escalation reported in the overlay");
    assert_eq!(escalation.line, 10, "the `resources` entry of the base");
    assert!(escalation
        .origin
        .as_deref()
        .is_some_and(|o| o.contains("kustomize/base/deployment.yaml:")));
    // The overlay's image digest pins the image; nothing else fires.
    let mut ids: Vec<&str> = overlay.iter().map(|f| f.rule_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["HIPPO-K8S-002", "HIPPO-K8S-003"], "{overlay:#?}");
    // Patch files are partial manifests: judged only inside the render.
    assert!(in_file(&o, "privileged.yaml").is_empty());
    assert!(in_file(&o, "escalation.yaml").is_empty());
    // The compliant base stays silent on its own.
    assert!(in_file(&o, "kustomize/base/deployment.yaml").is_empty());
}

#[test]
fn a_violation_the_overlay_fixes_is_not_reported_for_the_overlay() {
    let o = scan_paths(&[dir("")]);
    let base = in_file(&o, "base-readonly-missing/deployment.yaml");
    assert_eq!(
        base.iter().map(|f| f.rule_id).collect::<Vec<_>>(),
        ["HIPPO-K8S-004"],
        "the base is a valid manifest and is still checked on its own"
    );
    assert!(in_file(&o, "overlays/fixed/kustomization.yaml").is_empty());
    // An overlay that deploys the base unchanged does not repeat the base's finding.
    assert!(in_file(&o, "overlays/inherits/kustomization.yaml").is_empty());

    // Alone, the fixed overlay is judged (not skipped) and silent.
    let fixed = scan_paths(&[dir("overlays/fixed")]);
    assert!(open(&fixed).is_empty(), "{:#?}", open(&fixed));
    assert!(fixed.stats["HIPPO-K8S-004"].evaluated >= 1);
    // Alone, the unchanged overlay reports the base's problem, pointing at the base line.
    let inherits = scan_paths(&[dir("overlays/inherits")]);
    let f = open(&inherits);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule_id, "HIPPO-K8S-004");
    assert!(f[0].file.ends_with("overlays/inherits/kustomization.yaml"));
    assert_eq!(f[0].resource.as_deref(), Some("Deployment/phi/worker-v2"));
    assert!(f[0]
        .origin
        .as_deref()
        .is_some_and(|o| o.ends_with("base-readonly-missing/deployment.yaml:22")));
}

#[test]
fn remote_bases_are_noted_at_info_and_local_ones_still_rendered() {
    let o = scan_paths(&[dir("overlays/remote")]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let remote: Vec<(u32, &str)> = open(&o)
        .iter()
        .filter(|f| f.rule_id == "HIPPO-KUST-001")
        .map(|f| (f.line, f.message.as_str()))
        .collect();
    assert_eq!(remote.len(), 2, "{remote:?}");
    assert_eq!(remote[0].0, 3);
    assert!(remote[0]
        .1
        .contains("github.com/example-org/platform-manifests"));
    assert_eq!(remote[1].0, 4);
    assert!(open(&o)
        .iter()
        .filter(|f| f.rule_id == "HIPPO-KUST-001")
        .all(|f| f.severity == hippo_check::Severity::Info));
    assert!(
        o.stats["HIPPO-K8S-002"].evaluated >= 1,
        "the local base is rendered"
    );
}

#[test]
fn a_broken_kustomization_is_an_error_that_does_not_stop_the_scan() {
    let o = scan_paths(&[dir("")]);
    assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
    let e = &o.errors[0];
    assert!(e.file.ends_with("broken/kustomization.yaml"), "{e}");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("`resources` must be a list"), "{e}");
    // Every other overlay was still judged.
    assert!(!in_file(&o, "overlays/privileged/kustomization.yaml").is_empty());
}

#[test]
fn renders_show_their_origin_in_text_and_sarif() {
    let o = scan_paths(&[dir("overlays/privileged")]);
    let text = render(&o, OutputFormat::Text, false, false);
    assert!(text.contains("rendered from: "), "{text}");
    let sarif: serde_json::Value =
        serde_json::from_str(&render(&o, OutputFormat::Sarif, false, false)).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results
        .iter()
        .any(
            |r| r["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("privileged.yaml"))
        ));
}
