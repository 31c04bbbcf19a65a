//! The benchmark commands docs/benchmarks.md shows for the console and telemetry, run as
//! written but small (few events, one short round): they start their own servers from this
//! binary on scratch directories and must finish with their figures, on any machine.

use super::BIN;
use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .env("HIPPO_LOG__LEVEL", "warn")
        .output()
        .expect("hippo bench runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "hippo bench {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn the_console_bench_renders_every_page_of_its_mix() {
    let out = bench(&[
        "--console",
        "--events",
        "300",
        "--clients",
        "1",
        "--seconds",
        "1",
    ]);
    for page in ["first page", "deep page", "emergency", "time window"] {
        assert!(out.contains(page), "{out}");
    }
    assert!(out.contains("p95") && out.contains("errors 0"), "{out}");
}

#[test]
fn the_telemetry_bench_prints_both_ratios() {
    let out = bench(&[
        "--telemetry",
        "--clients",
        "2",
        "--seconds",
        "1",
        "--rounds",
        "1",
    ]);
    assert!(
        out.contains("median ratio") && out.contains("pooled over all rounds"),
        "{out}"
    );
}
