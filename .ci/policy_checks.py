#!/usr/bin/env python3
"""Policy checks that the gate tools do not make themselves (called by .ci/supply-chain.sh and
.ci/checkov.sh). Each exits 1 with one line per violation, naming what to change.

  accepted-advisories DENY_TOML    every ignored advisory has a reason ending in
                                   "expires YYYY-MM-DD", and the date has not passed
  duplicates CARGO_LOCK LIST       no crate outside LIST has two versions; LIST has no stale line
  checkov REPORT_JSON DEPLOY_MD    every Checkov failure on deploy/ is in the reasoned table of
                                   docs/deploy.md, and every table row still fails
"""
import datetime
import json
import re
import sys
import tomllib
from collections import defaultdict

EXPIRES = re.compile(r"expires (\d{4}-\d{2}-\d{2})\s*$")


def accepted_advisories(deny_toml):
    with open(deny_toml, "rb") as f:
        config = tomllib.load(f)
    problems = []
    today = datetime.date.today()
    for entry in config.get("advisories", {}).get("ignore", []):
        if isinstance(entry, str):
            problems.append(f"{entry}: an accepted advisory needs {{ id, reason }} with a reason")
            continue
        name = entry.get("id") or entry.get("crate") or "?"
        match = EXPIRES.search(entry.get("reason", ""))
        if not match:
            problems.append(f'{name}: the reason must end with "expires YYYY-MM-DD"')
            continue
        expires = datetime.date.fromisoformat(match.group(1))
        if expires < today:
            problems.append(f"{name}: the acceptance expired on {expires}; fix it or review and renew")
    return problems


def duplicates(cargo_lock, listed_file):
    with open(cargo_lock, "rb") as f:
        lock = tomllib.load(f)
    versions = defaultdict(set)
    for package in lock.get("package", []):
        versions[package["name"]].add(package["version"])
    duplicated = {name for name, v in versions.items() if len(v) > 1}
    with open(listed_file) as f:
        listed = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    problems = [
        f"{name} now has versions {', '.join(sorted(versions[name]))}: unify them, or add it to "
        f"{listed_file} after review"
        for name in sorted(duplicated - listed)
    ]
    problems += [
        f"{name} has one version now: remove it from {listed_file}" for name in sorted(listed - duplicated)
    ]
    return problems


TABLE_BEGIN = "<!-- checkov-accepted:begin -->"
TABLE_END = "<!-- checkov-accepted:end -->"


def accepted_checkov(deploy_md):
    text = open(deploy_md, encoding="utf-8").read()
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise SystemExit(f"{deploy_md} has no {TABLE_BEGIN} ... {TABLE_END} table")
    table = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    accepted = {}
    for line in table.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("CKV"):
            continue
        if not cells[2]:
            raise SystemExit(f"{deploy_md}: {cells[0]} on {cells[1]} has no reason")
        accepted[(cells[0], cells[1])] = cells[2]
    return accepted


def checkov_failures(report_json):
    with open(report_json) as f:
        report = json.load(f)
    # One framework gives an object, several give a list of objects.
    reports = report if isinstance(report, list) else [report]
    failures = set()
    for r in reports:
        for check in r.get("results", {}).get("failed_checks", []):
            failures.add((check["check_id"], check["resource"]))
    return failures


def checkov(report_json, deploy_md):
    accepted = accepted_checkov(deploy_md)
    failures = checkov_failures(report_json)
    problems = [
        f"Checkov {cid} fails on {res}: fix it, or add it with the reason it does not apply to "
        f"the table in {deploy_md}"
        for cid, res in sorted(failures - accepted.keys())
    ]
    problems += [
        f"{cid} on {res} no longer fails: remove its row from {deploy_md}"
        for cid, res in sorted(accepted.keys() - failures)
    ]
    print(f"Checkov: {len(failures)} failed checks on deploy/, {len(accepted)} accepted with a reason")
    return problems


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    command, args = argv[1], argv[2:]
    problems = {
        "accepted-advisories": accepted_advisories,
        "duplicates": duplicates,
        "checkov": checkov,
    }[command](*args)
    for p in problems:
        print(f"policy: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
