#!/usr/bin/env python3
"""Side-by-side run of `hippo check` and Checkov on generated and public infrastructure trees.

For each tree it times both tools (wall, CPU, peak RSS via GNU time -v), normalises both
reports to (file, resource, problem) triples, sorts every Checkov failure into HIPAA-relevant
or not with the hand-written tables in scripts/checkov_map.py, and lists the Checkov findings
that `hippo check` does not report on the same resource, each with its classification.

Usage (see docs/benchmarks.md, "`hippo check` vs Checkov on public infrastructure"):

    scripts/checkov-compare.py --hippo /work/target-bench/release/hippo \
        --checkov /work/checkov-venv/bin/checkov \
        --gen /work/target-bench/release/examples/gen_tree \
        --mirrors /work/.mirror --work /work/checkov-run

Trees are made under WORK/trees: the generated ones by the project's gen_tree example, the
public ones with `git archive` of the pinned commit from a bare mirror (the search tool's
`fetch` leaves them at MIRRORS/owner+name/repo). --reuse-checkov keeps Checkov results
already in WORK/out, so a re-run after rule changes only re-times hippo check.
Standard library only.
"""
import argparse
import collections
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the script in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkov_map  # noqa: E402  (the classification tables live beside this script)

# The trees compared. `files` is the generator's size; public trees are pinned to a commit.
TREES = [
    {"name": "generated-1000", "files": 1000},
    {"name": "modernisation-platform", "repo": "ministryofjustice/modernisation-platform",
     "commit": "ed8a7936d0d18f09f9ed74671d4884b3adfdc1aa"},
    {"name": "notification-terraform", "repo": "cds-snc/notification-terraform",
     "commit": "c446304ce2d4694eb82edf80f6a257eac02c404b"},
    {"name": "kube-prometheus", "repo": "prometheus-operator/kube-prometheus",
     "commit": "4d719f1dea8853540b3823ab1fbe6be74a9953b3",
     # Checkov 3.3.30's kustomize runner raises a YAML ConstructorError on this repository's
     # top-level kustomization (rendered by kubectl) and the run then hangs; the kustomization
     # only lists manifests/ without patches, so its Kubernetes runner sees the same resources.
     "checkov_args": ["--skip-framework", "kustomize"]},
    {"name": "deploy-sourcegraph-k8s", "repo": "sourcegraph/deploy-sourcegraph-k8s",
     "commit": "3adbbdd73c5d7e92d07ace2c2636d12bb6174f81"},
]


def prepare(tree, args, trees_dir):
    path = os.path.join(trees_dir, tree["name"])
    if os.path.isdir(path):
        return path
    if "files" in tree:
        subprocess.run([args.gen, path, str(tree["files"])], check=True, stdout=subprocess.DEVNULL)
        return path
    git_dir = os.path.join(args.mirrors, tree["repo"].replace("/", "+"), "repo")
    if not os.path.isdir(git_dir):
        sys.exit(f"missing mirror {git_dir}: fetch github:{tree['repo']} first")
    os.makedirs(path)
    archive = subprocess.Popen(["git", "--git-dir", git_dir, "archive", tree["commit"]], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", path], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        sys.exit(f"git archive {tree['commit']} failed in {git_dir}")
    return path


def count_files(path):
    total, by_kind = 0, collections.Counter()
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            total += 1
            low = name.lower()
            if low.endswith((".tf", ".tf.json", ".hcl")):
                by_kind["terraform"] += 1
            elif low.endswith((".yaml", ".yml")):
                by_kind["yaml"] += 1
            elif low.endswith(".json"):
                by_kind["json"] += 1
            elif low.startswith("dockerfile") or low.endswith(".dockerfile"):
                by_kind["dockerfile"] += 1
    return total, by_kind


def timed(cmd, time_file, stdout=subprocess.DEVNULL, timeout=None):
    """Runs cmd under GNU time -v and returns (exit code, wall s, cpu s, peak MiB).

    The command gets its own process group so that a hung run (Checkov's parallel runner can
    hang after a worker raises) is ended whole at the timeout; the exit code is then "timeout".
    """
    with open(time_file, "w") as err:
        proc = subprocess.Popen(["/usr/bin/time", "-v"] + cmd, stdout=stdout, stderr=err, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return ("timeout", float(timeout), float("nan"), float("nan"))
    return (rc,) + parse_time(time_file)


def parse_time(path):
    text = open(path, errors="replace").read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    secs = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): (\S+)", text).group(1)) for k in ("User", "System"))
    return secs, cpu, rss / 1024.0


def rel(path, root):
    path = os.path.normpath(path)
    if os.path.isabs(path):
        path = os.path.relpath(path, root)
    return path[2:] if path.startswith("./") else path


def resource_key(resource):
    """Normalises a resource name of either tool to a comparable key.

    Terraform: `module.a.aws_s3_bucket.b[0]` and `aws_s3_bucket.b["x"]` -> `aws_s3_bucket.b`
    (Checkov reports module resources in the module's own file, hippo check too).
    Kubernetes: Checkov `Kind.namespace.name[.labels]`, hippo check `Kind/namespace/name` -> `k8s:name`.
    CloudFormation: `AWS::S3::Bucket.Logical` -> `Logical`.
    """
    if not resource:
        return ""
    r = re.sub(r"\[[^\]]*\]", "", resource)
    r = re.sub(r"^(overlay:[^:]*:|base:)", "", r)  # Checkov kustomize: overlay:NAME:Kind.ns.name
    if "::" in r and "." in r:  # CloudFormation type.logical
        return r.rsplit(".", 1)[1].lower()
    if re.match(r"^[A-Z][A-Za-z]*\.", r):
        # Checkov Kubernetes Kind.namespace.name, graph checks append the pod labels; the
        # workload's name is the key (Checkov's NetworkPolicy check names the Pod of a Deployment).
        return "k8s:" + r.split(".")[2].lower()
    if re.match(r"^[A-Z][A-Za-z]*/[^/]*/[^/]+$", r):  # hippo check Kubernetes Kind/ns/name
        return "k8s:" + r.split("/")[2].lower()
    parts = r.split(".")
    if parts[0] == "module":
        while len(parts) > 2 and parts[0] == "module":
            parts = parts[2:]
    if len(parts) >= 2 and re.match(r"^[a-z0-9]+_[a-z0-9_]+$", parts[0]):
        return f"{parts[0]}.{parts[1]}".lower()
    return r.lower()


def checkov_file(failure, root):
    """The failing file relative to the tree root.

    Checkov's `file_abs_path` is sometimes the tree name joined twice, and `file_path` is either
    relative to the scanned directory or starts with the tree's own name, depending on the runner.
    """
    abs_path = failure.get("file_abs_path") or ""
    if os.path.isfile(abs_path):
        return rel(abs_path, root)
    parts = failure["file_path"].lstrip("/").split("/")
    for candidate in (parts, parts[1:]):
        if candidate and os.path.isfile(os.path.join(root, *candidate)):
            return "/".join(candidate)
    return failure["file_path"].lstrip("/")


def checkov_failures(path, root):
    try:
        data = json.load(open(path))
    except ValueError:  # an ended (timed-out) run leaves no or partial JSON
        return [], None
    runs = data if isinstance(data, list) else [data]
    out, parse_errors = [], 0
    for run in runs:
        if not isinstance(run, dict):
            continue
        parse_errors += run.get("summary", {}).get("parsing_errors", 0)
        for f in run.get("results", {}).get("failed_checks", []):
            out.append({
                "framework": run.get("check_type", "?"),
                "id": f["check_id"], "name": f["check_name"],
                "file": checkov_file(f, root),
                "resource": f["resource"], "key": resource_key(f["resource"]),
                "line": (f.get("file_line_range") or [0, 0])[0],
                "end": (f.get("file_line_range") or [0, 0])[-1],
            })
    return out, parse_errors


def hippo_findings(path, root):
    data = json.load(open(path))
    out = []
    for f in data["findings"]:
        if "suppressed" in f:
            continue
        out.append({"rule": f["rule_id"], "file": rel(os.path.join(root, f["file"]), root),
                    "resource": f.get("resource") or "", "key": resource_key(f.get("resource") or ""),
                    "severity": f["severity"], "line": f.get("line", 0)})
    return out


PATCH_KEYS = ("patches", "patchesStrategicMerge", "patchesJson6902")


def kustomize_patch_files(root):
    """Files that a kustomization lists as patches (partial documents merged into a base).

    Read line by line (no YAML library in the standard library): a path under a top-level
    `patches:`/`patchesStrategicMerge:`/`patchesJson6902:` key, as `- FILE` or `path: FILE`.
    """
    found = set()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            if name not in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
                continue
            section = None
            for line in open(os.path.join(dirpath, name), errors="replace"):
                top = re.match(r"^([A-Za-z0-9_]+):", line)
                if top:
                    section = top.group(1)
                    continue
                if section not in PATCH_KEYS:
                    continue
                m = re.match(r"^\s*(?:-\s*)?(?:path:\s*)?([\w./-]+\.ya?ml)\s*$", line)
                if m:
                    found.add(rel(os.path.join(dirpath, m.group(1)), root))
    return found


def is_patch(path, patch_files):
    """A listed patch, or a YAML file in a `patches/` directory (kustomize's convention; some
    patch files are kept there without being listed by any kustomization)."""
    return path in patch_files or "patches" in path.split("/")[:-1]


def classify(failures, findings, patch_files=frozenset()):
    """Splits Checkov failures into matched / matched in the same file / not reported, with the reason."""
    by_resource = collections.defaultdict(set)
    by_file = collections.defaultdict(set)
    by_key = collections.defaultdict(set)
    for f in findings:
        by_resource[(f["file"], f["key"])].add(f["rule"])
        by_file[f["file"]].add(f["rule"])
        by_key[f["key"]].add(f["rule"])
    by_line = collections.defaultdict(list)
    for rules in {tuple(sorted(v)) for v in checkov_map.HIPAA_MAP.values()}:
        for f in findings:
            if f["rule"] in rules:
                by_line[(f["file"], rules)].append(f["line"])
    rows = []
    for c in failures:
        cid = c["id"]
        if c["framework"] == "kubernetes" and is_patch(c["file"], patch_files):
            # Checkov's Kubernetes runner judges a kustomize patch as if it were a whole
            # manifest (a Deployment with no containers "runs as root"); the merged result is
            # judged by its kustomize runner, in the rows of that framework.
            rows.append(dict(c, verdict="patch-file"))
            continue
        note = checkov_map.INSTANCE_NOTES.get((cid, c["file"]))
        rules = set(checkov_map.HIPAA_MAP.get(cid, []))
        if rules and rules & by_resource.get((c["file"], c["key"]), set()):
            verdict = "matched"
        elif rules and c["framework"] == "secrets" and any(
                c["line"] <= line <= c["end"] for line in by_line.get((c["file"], tuple(sorted(rules))), [])):
            verdict = "matched"  # secrets are named by a hash: the same line counts
        elif rules and c["framework"] == "kustomize" and rules & by_key.get(c["key"], set()):
            # Checkov's rendered overlay; hippo check reports the same rule on the base manifest.
            verdict = "matched-base"
        elif rules and c["framework"] == "dockerfile" and rules & by_file.get(c["file"], set()):
            verdict = "matched-file"  # a Dockerfile is one resource; the tools name it differently
        elif note:
            verdict = note[0]
        elif cid in checkov_map.COVERED:
            verdict = "covered-differently"
        elif cid in checkov_map.GAPS:
            verdict = "gap"
        elif rules and c["framework"] == "kustomize":
            verdict = "overlay"  # the overlay changes what the base says; hippo check does not render kustomize
        elif rules:
            verdict = "missed"
        elif cid in checkov_map.NOT_HIPAA:
            verdict = "not-hipaa"
        else:
            verdict = "unclassified"
        rows.append(dict(c, verdict=verdict))
    return rows


def check_rule_ids(hippo):
    """Warns when the map names a rule the binary does not have (renamed or not merged yet)."""
    listed = subprocess.run([hippo, "check", "--list-rules", "--format", "json"], capture_output=True, text=True)
    known = {r["id"] for r in json.loads(listed.stdout)}
    for cid, rules in checkov_map.HIPAA_MAP.items():
        if not isinstance(rules, list):
            sys.exit(f"scripts/checkov_map.py: HIPAA_MAP[{cid}] must be a list of rule ids")
    named = {rule for rules in checkov_map.HIPAA_MAP.values() for rule in rules}
    for rule in sorted(named - known):
        print(f"warning: scripts/checkov_map.py names {rule}, which this hippo binary does not have", file=sys.stderr)


def reason(cid, verdict, row=None):
    note = checkov_map.INSTANCE_NOTES.get((cid, row["file"])) if row else None
    if note:
        return note[1]
    if verdict == "patch-file":
        return ("Checkov judged a patch file (a partial document that kustomize or kubeadm merges into a whole "
                "manifest) as if it were complete; not a finding")
    if verdict == "overlay":
        return ("gap: a kustomize overlay changes the base; hippo check reports the base only "
                "(mapped to " + "/".join(checkov_map.HIPAA_MAP[cid]) + ")")
    for table in (checkov_map.COVERED, checkov_map.NOT_HIPAA):
        if cid in table:
            return table[cid]
    if cid in checkov_map.GAPS:
        g = checkov_map.GAPS[cid]
        return f"gap: hippo check should report this ({g['resource']} {g['attribute']})"
    if cid in checkov_map.HIPAA_MAP:
        return "HIPAA-relevant, mapped to " + "/".join(checkov_map.HIPAA_MAP[cid]) + ", not reported on this resource"
    return "UNCLASSIFIED: add it to scripts/checkov_map.py"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hippo", required=True, help="release build of hippo")
    p.add_argument("--checkov", required=True)
    p.add_argument("--gen", help="gen_tree example binary (for the generated trees)")
    p.add_argument("--mirrors", default="/work/.mirror")
    p.add_argument("--work", default="/work/checkov-run")
    p.add_argument("--trees", help="comma-separated subset of tree names")
    p.add_argument("--reps", type=int, default=3, help="hippo check runs per tree (median reported)")
    p.add_argument("--reuse-checkov", action="store_true")
    p.add_argument("--checkov-timeout", type=float, default=600, help="seconds before a Checkov run is ended")
    args = p.parse_args()

    trees_dir, out_dir = os.path.join(args.work, "trees"), os.path.join(args.work, "out")
    os.makedirs(trees_dir, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    check_rule_ids(args.hippo)
    wanted = set(args.trees.split(",")) if args.trees else None
    started = time.time()
    summary = []
    for tree in TREES:
        if wanted and tree["name"] not in wanted:
            continue
        if "files" in tree and not args.gen:
            print(f"skip {tree['name']}: no --gen", file=sys.stderr)
            continue
        root = os.path.abspath(prepare(tree, args, trees_dir))
        name = tree["name"]
        files, kinds = count_files(root)
        runs = []
        hippo_json = os.path.join(out_dir, f"hippo-{name}.json")
        for rep in range(args.reps):
            runs.append(timed([args.hippo, "check", root, "--format", "json", "-o", hippo_json],
                              os.path.join(out_dir, f"hippo-{name}.time.{rep}")))
        ck_json = os.path.join(out_dir, f"checkov-{name}.json")
        ck_time = os.path.join(out_dir, f"checkov-{name}.time")
        if args.reuse_checkov and os.path.exists(ck_json) and os.path.exists(ck_time):
            ck = (None,) + parse_time(ck_time)
        else:
            with open(ck_json, "w") as out:
                ck = timed([args.checkov, "-d", root, "--skip-download", "-o", "json", "--quiet"]
                           + tree.get("checkov_args", []), ck_time, stdout=out, timeout=args.checkov_timeout)
        print(f"{name}: done at +{time.time() - started:.0f} s", file=sys.stderr)
        h_wall = statistics.median(r[1] for r in runs)
        h_cpu = statistics.median(r[2] for r in runs)
        h_mib = max(r[3] for r in runs)
        failures, ck_parse_errors = checkov_failures(ck_json, root)
        findings = hippo_findings(hippo_json, root)
        rows = classify(failures, findings, kustomize_patch_files(root))
        summary.append({
            "tree": name, "repo": tree.get("repo"), "commit": tree.get("commit"),
            "files": files, "kinds": dict(kinds),
            "hippo": {"exit": runs[0][0], "wall": h_wall, "cpu": h_cpu, "mib": h_mib, "findings": len(findings),
                      "by_rule": dict(collections.Counter(f["rule"] for f in findings))},
            "checkov": {"exit": ck[0], "wall": ck[1], "cpu": ck[2], "mib": ck[3], "failed": len(failures),
                        "parse_errors": ck_parse_errors},
            "verdicts": dict(collections.Counter(r["verdict"] for r in rows)),
            "rows": rows,
        })
    json.dump(summary, open(os.path.join(out_dir, "summary.json"), "w"), indent=1)
    report(summary)


def report(summary):
    print("| tree | files (tf/yaml/json/docker) | hippo check wall s | CPU s | peak MiB | exit | Checkov wall s | CPU s | peak MiB | speed-up (wall) | speed-up (CPU) | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        h, c, k = s["hippo"], s["checkov"], s["kinds"]
        kinds = f"{k.get('terraform', 0)}/{k.get('yaml', 0)}/{k.get('json', 0)}/{k.get('dockerfile', 0)}"
        print(f"| {s['tree']} | {s['files']:,} ({kinds}) | {h['wall']:.2f} | {h['cpu']:.2f} | {h['mib']:.1f} | {h['exit']} "
              f"| {c['wall']:.1f} | {c['cpu']:.1f} | {c['mib']:.1f} | **{c['wall'] / max(h['wall'], 0.01):.0f}x** "
              f"| {c['cpu'] / max(h['cpu'], 0.01):.0f}x | {c['mib'] / max(h['mib'], 0.1):.1f}x |")
    print()
    print("| tree | hippo check findings | Checkov failures | HIPAA-relevant: same resource | same Dockerfile | base of a kustomize overlay | covered differently | not reported (missed) | overlay not rendered | gap | not HIPAA | patch file | unclassified |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        v = s["verdicts"]
        print(f"| {s['tree']} | {s['hippo']['findings']:,} | {s['checkov']['failed']:,} | {v.get('matched', 0)} | {v.get('matched-file', 0)} | {v.get('matched-base', 0)} "
              f"| {v.get('covered-differently', 0)} | {v.get('missed', 0)} | {v.get('overlay', 0)} | {v.get('gap', 0)} | {v.get('not-hipaa', 0)} | {v.get('patch-file', 0)} | {v.get('unclassified', 0)} |")
    print()
    print("hippo check findings by rule (the eight most frequent per tree):")
    for s in summary:
        top = sorted(s["hippo"]["by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        print(f"- {s['tree']}: " + ", ".join(f"{rule} {n}" for rule, n in top))
    print()
    print("Checkov findings that hippo check does not report on the same resource, by check:")
    grouped = collections.defaultdict(list)
    for s in summary:
        for r in s["rows"]:
            if r["verdict"] not in ("matched", "matched-file", "matched-base"):
                grouped[(r["verdict"], r["id"])].append((s["tree"], r))
    order = ["missed", "overlay", "gap", "unclassified", "covered-differently", "patch-file", "not-hipaa"]
    for verdict in order:
        for (v, cid), items in sorted(grouped.items()):
            if v != verdict:
                continue
            trees = collections.Counter(t for t, _ in items)
            example = items[0][1]
            print(f"- [{verdict}] {cid} ({example['framework']}) {example['name'][:80]}: "
                  f"{len(items)} ({', '.join(f'{t} {n}' for t, n in sorted(trees.items()))}); "
                  f"e.g. {example['file']} {example['resource']}. {reason(cid, verdict, example)}")


if __name__ == "__main__":
    main()
