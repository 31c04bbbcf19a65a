#!/usr/bin/env python3
"""Summarise a benchmark run: wall time and peak memory of both tools per tree size,
HIPAA-relevant finding counts, and every HIPAA-relevant Checkov failure that hippo check
does not report on the same file (by mapped rule)."""
import json
import os
import re
import statistics
import sys

# Checkov checks seen on the benchmark trees that are HIPAA-relevant, with the hippo rules
# that cover the same misconfiguration.
HIPAA_MAP = {
    "CKV_AWS_16": ["HIPPO-AWS-RDS-001"], "CKV_AWS_17": ["HIPPO-AWS-RDS-003"],
    "CKV_AWS_118": ["HIPPO-AWS-RDS-011"], "CKV_AWS_129": ["HIPPO-AWS-RDS-006"],
    "CKV_AWS_161": ["HIPPO-AWS-RDS-013"], "CKV_AWS_226": ["HIPPO-AWS-RDS-010"],
    "CKV_AWS_157": ["HIPPO-AWS-RDS-004"], "CKV_AWS_133": ["HIPPO-AWS-RDS-005"],
    "CKV_AWS_293": ["HIPPO-AWS-RDS-007"], "CKV2_AWS_30": ["HIPPO-AWS-RDS-009", "HIPPO-AWS-RDS-008"],
    "CKV_AWS_18": ["HIPPO-AWS-S3-005"], "CKV_AWS_21": ["HIPPO-AWS-S3-004"],
    "CKV_AWS_144": ["HIPPO-AWS-S3-011"], "CKV_AWS_145": ["HIPPO-AWS-S3-002"],
    "CKV2_AWS_61": ["HIPPO-AWS-S3-006"], "CKV2_AWS_6": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_53": ["HIPPO-AWS-S3-003"], "CKV_AWS_54": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_55": ["HIPPO-AWS-S3-003"], "CKV_AWS_56": ["HIPPO-AWS-S3-003"],
    "CKV_AWS_7": ["HIPPO-AWS-KMS-001"], "CKV2_AWS_10": ["HIPPO-AWS-CT-004"],
    "CKV_AWS_35": ["HIPPO-AWS-CT-003"], "CKV_AWS_36": ["HIPPO-AWS-CT-002"],
    "CKV_AWS_67": ["HIPPO-AWS-CT-001"], "CKV_AWS_338": ["HIPPO-AWS-CW-001"],
    "CKV_AWS_158": ["HIPPO-AWS-CW-002"], "CKV_AWS_24": ["HIPPO-AWS-NET-002"],
    "CKV_AWS_25": ["HIPPO-AWS-NET-002"],
    "CKV_DOCKER_3": ["HIPPO-DOCKER-001"], "CKV_DOCKER_7": ["HIPPO-DOCKER-002"],
    "CKV_K8S_14": ["HIPPO-K8S-007"], "CKV_K8S_16": ["HIPPO-K8S-002"],
    "CKV_K8S_20": ["HIPPO-K8S-003"], "CKV_K8S_22": ["HIPPO-K8S-004"],
    "CKV_K8S_23": ["HIPPO-K8S-001"], "CKV_K8S_28": ["HIPPO-K8S-010"],
    "CKV_K8S_37": ["HIPPO-K8S-010"], "CKV_K8S_29": ["HIPPO-K8S-001", "HIPPO-K8S-003", "HIPPO-K8S-012"],
    "CKV_K8S_31": ["HIPPO-K8S-012"], "CKV_K8S_38": ["HIPPO-K8S-013"],
    "CKV2_K8S_6": ["HIPPO-K8S-011"],
}

# HIPAA-relevant Checkov failures that hippo check deliberately does not report, with the reason.
EXPLAINED = {
    "CKV_AWS_226": "auto_minor_version_upgrade / AutoMinorVersionUpgrade is unset in these resources and "
                   "defaults to true in AWS, CloudFormation and the Terraform provider; Checkov fails the unset "
                   "attribute, HIPPO-AWS-RDS-010 fails only an explicit false",
}

# Checkov checks seen on the trees that are not HIPAA safeguards, with the reason.
NOT_HIPAA = {
    "CKV_AWS_23": "security group description (documentation)",
    "CKV2_AWS_60": "copy tags to snapshots (tagging)",
    "CKV2_AWS_62": "S3 event notifications (operations)",
    "CKV_AWS_252": "CloudTrail SNS topic (notification plumbing)",
    "CKV_AWS_353": "RDS performance insights (performance)",
    "CKV2_AWS_64": "explicit KMS key policy (default policy delegates to IAM; an over-broad policy is HIPPO-AWS-KMS-003)",
    "CKV_DOCKER_2": "HEALTHCHECK instruction (availability)",
    "CKV_K8S_8": "liveness probe (availability)", "CKV_K8S_9": "readiness probe (availability)",
    "CKV_K8S_10": "CPU requests (capacity)", "CKV_K8S_11": "CPU limits (capacity)",
    "CKV_K8S_12": "memory requests (capacity)", "CKV_K8S_13": "memory limits (capacity)",
    "CKV_K8S_15": "image pull policy Always (supply chain hygiene; pinning is HIPPO-K8S-007)",
    "CKV_K8S_21": "default namespace (organisation)",
    "CKV_K8S_40": "UID above 10000 (non-root is HIPPO-K8S-001)",
    "CKV_K8S_43": "image digest (pinned version tags are accepted by HIPPO-K8S-007)",
}


def peak(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): (\S+)", text).group(1)) for k in ("User", "System"))
    return secs, rss / 1024.0, cpu


def checkov_failures(path):
    data = json.load(open(path))
    runs = data if isinstance(data, list) else [data]
    out = []
    for run in runs:
        for f in run.get("results", {}).get("failed_checks", []):
            out.append((f["check_id"], f["check_name"], os.path.normpath(f["file_abs_path"]), f["resource"]))
    return out


def main():
    out_dir = sys.argv[1]
    sizes = [int(s) for s in sys.argv[2:]]
    summary = []
    for n in sizes:
        reps = [peak(os.path.join(out_dir, f"hippo-{n}.time.{r}")) for r in (1, 2, 3)]
        h_secs = statistics.median(r[0] for r in reps)
        h_mib = max(r[1] for r in reps)
        h_cpu = statistics.median(r[2] for r in reps)
        c_secs, c_mib, c_cpu = peak(os.path.join(out_dir, f"checkov-{n}.time"))
        hippo = json.load(open(os.path.join(out_dir, f"hippo-{n}.json")))
        h_open = [f for f in hippo["findings"] if "suppressed" not in f]
        fails = checkov_failures(os.path.join(out_dir, f"checkov-{n}.json"))
        relevant = [f for f in fails if f[0] in HIPAA_MAP]
        unknown = sorted({f[0] + " " + f[1] for f in fails if f[0] not in HIPAA_MAP and f[0] not in NOT_HIPAA})
        by_file = {}
        for f in h_open:
            by_file.setdefault(os.path.normpath(os.path.abspath(f["file"])), set()).add(f["rule_id"])
        missed = {}
        for cid, name, path, res in relevant:
            if cid in EXPLAINED:
                continue
            if not set(HIPAA_MAP[cid]) & by_file.get(path, set()):
                missed.setdefault(cid + " " + name, []).append(f"{path} {res}")
        summary.append({
            "files": n, "hippo_seconds": round(h_secs, 3), "hippo_peak_mib": round(h_mib, 1),
            "checkov_seconds": round(c_secs, 1), "checkov_peak_mib": round(c_mib, 1),
            "speedup": round(c_secs / h_secs, 1), "memory_ratio": round(c_mib / h_mib, 1),
            "hippo_cpu_seconds": round(h_cpu, 3), "checkov_cpu_seconds": round(c_cpu, 1),
            "cpu_speedup": round(c_cpu / max(h_cpu, 0.001), 1),
            "hippo_findings": len(h_open), "checkov_failed_checks": len(fails),
            "checkov_hipaa_relevant": len(relevant),
            "checkov_hipaa_missed_by_hippo": {k: len(v) for k, v in missed.items()},
            "missed_examples": {k: v[:3] for k, v in missed.items()},
            "checkov_unclassified": unknown,
            "explained": {k: sum(1 for f in relevant if f[0] == k) for k in EXPLAINED},
        })
    json.dump(summary, open(os.path.join(out_dir, "summary.json"), "w"), indent=2)
    print("| files | hippo check wall s | CPU s | peak MiB | Checkov wall s | CPU s | peak MiB | speed-up (wall) | speed-up (CPU) | memory ratio | hippo findings | Checkov HIPAA-relevant failures | missed by hippo |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        print(f"| {s['files']} | {s['hippo_seconds']} | {s['hippo_cpu_seconds']} | {s['hippo_peak_mib']} | {s['checkov_seconds']} | {s['checkov_cpu_seconds']} | {s['checkov_peak_mib']} | {s['speedup']}x | {s['cpu_speedup']}x | {s['memory_ratio']}x | {s['hippo_findings']} | {s['checkov_hipaa_relevant']} | {sum(s['checkov_hipaa_missed_by_hippo'].values())} |")
    for s in summary:
        if s["checkov_unclassified"]:
            print(f"unclassified Checkov checks at {s['files']}: {s['checkov_unclassified']}")
        for k, v in s["checkov_hipaa_missed_by_hippo"].items():
            print(f"missed at {s['files']}: {k}: {v} e.g. {s['missed_examples'][k][0]}")


if __name__ == "__main__":
    main()
