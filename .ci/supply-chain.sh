#!/usr/bin/env bash
# Supply-chain and infrastructure gates (issue 17), called by .ci/run; each fails closed.
#
#   .ci/supply-chain.sh tools        install cargo-deny and cargo-cyclonedx (pinned, idempotent)
#   .ci/supply-chain.sh deny         licences, sources, bans, yanked crates, RustSec advisories
#                                    (offline, from the snapshot), accepted-advisory expiry,
#                                    no new duplicate crate versions
#   .ci/supply-chain.sh sbom         CycloneDX SBOM of the workspace; every Cargo.lock crate with
#                                    licence and checksum
#   .ci/supply-chain.sh hippo-check  `hippo check .` over the whole repository (IaC, Dockerfiles,
#                                    pipeline definitions, secrets); .hippocheckignore is the only
#                                    exclusion list, each entry justified
#   .ci/supply-chain.sh checkov      Checkov on deploy/ against the reasoned list in docs/deploy.md
#   .ci/supply-chain.sh all          all of the above, in that order
#
# Evidence (reports) goes to target/ci-evidence/. The advisory snapshot is
# $HIPPO_ADVISORY_SNAPSHOT, by default ../shared/advisory-db beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
evidence="$root/target/ci-evidence"
mkdir -p "$evidence"

CARGO_DENY_VERSION=0.20.2
CARGO_CYCLONEDX_VERSION=0.5.9

log() { printf '\n==> %s\n' "$*"; }

tools() {
    install_tool cargo-deny "$CARGO_DENY_VERSION"
    install_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"
}

# cargo install with a quick release profile (these are build tools, not shipped code; the
# packages' own LTO settings would double a fresh machine's CI time).
install_tool() {
    local name=$1 version=$2
    if command -v "$name" >/dev/null 2>&1 && cargo "${name#cargo-}" --version 2>/dev/null | grep -q " $version$"; then
        return 0
    fi
    log "installing $name $version"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
        CARGO_TARGET_DIR="${HIPPO_TOOLS_TARGET_DIR:-$root/target/tools}" \
        cargo install --locked --quiet "$name" --version "$version"
}

# cargo-deny opens its advisory databases as git repositories under db-path, in a directory
# named after the database URL. The snapshot is a plain read-only copy, so it is copied into
# such a repository once per snapshot content.
prepare_advisory_db() {
    local snapshot=${HIPPO_ADVISORY_SNAPSHOT:-$root/../shared/advisory-db}
    if [[ ! -d $snapshot/crates ]]; then
        echo "no RustSec advisory snapshot at $snapshot (set HIPPO_ADVISORY_SNAPSHOT)" >&2
        return 1
    fi
    export HIPPO_ADVISORY_DB_ROOT="$root/target/advisory-dbs"
    local db="$HIPPO_ADVISORY_DB_ROOT/$ADVISORY_DB_DIR"
    local stamp
    stamp=$(cd "$snapshot" && find . -type f -printf '%P %s\n' | sort | sha256sum | cut -c1-16)
    if [[ -f $db.stamp && -d $db/.git && $(cat "$db.stamp") == "$stamp" ]]; then
        return 0
    fi
    rm -rf "$db"
    mkdir -p "$db"
    cp -R "$snapshot/." "$db/"
    chmod -R u+w "$db"
    git -C "$db" init -q -b main
    git -C "$db" add -A
    git -C "$db" -c user.name=hippo-ci -c user.email=ci@hippo.invalid \
        commit -q -m "RustSec advisory-db snapshot" --date="$(snapshot_date "$snapshot")"
    echo "$stamp" >"$db.stamp"
}

# The directory cargo-deny $CARGO_DENY_VERSION derives from db-urls in deny.toml.
ADVISORY_DB_DIR=advisory-db-3157b0e258782691

snapshot_date() {
    # The snapshot README names its date; otherwise today.
    local readme=${1%/}.README.md date
    date=$(grep -oE '20[0-9]{2}-[0-9]{2}-[0-9]{2}' "$readme" 2>/dev/null | head -1 || true)
    echo "${date:-$(date -u +%F)}T00:00:00Z"
}

deny() {
    prepare_advisory_db
    log "cargo deny check (advisories offline from the snapshot)"
    # Every locked package, for every platform (cargo metadata reads them all), from crates.io;
    # the advisories stay offline.
    cargo fetch --locked >/dev/null
    cargo deny --locked --offline check --show-stats \
        advisories bans licenses sources 2>&1 | tee "$evidence/cargo-deny.txt"
    local status=${PIPESTATUS[0]}
    python3 .ci/policy_checks.py accepted-advisories deny.toml
    python3 .ci/policy_checks.py duplicates Cargo.lock .ci/duplicate-crates.txt
    return "$status"
}

sbom() {
    log "SBOM (cargo cyclonedx) covering every crate of Cargo.lock"
    cargo xtask sbom --out target/sbom
}

hippo_check() {
    local hippo=${HIPPO_BIN:-$root/target/debug/hippo}
    if [[ ! -x $hippo ]]; then
        cargo build --quiet -p hippo
    fi
    log "hippo check over the whole repository"
    "$hippo" check --format json --output "$evidence/hippo-check.json" . || true
    "$hippo" check .
}

checkov() {
    bash .ci/checkov.sh
}

case "${1:-all}" in
tools) tools ;;
deny) deny ;;
sbom) sbom ;;
hippo-check) hippo_check ;;
checkov) checkov ;;
all)
    tools
    deny
    sbom
    hippo_check
    checkov
    ;;
*)
    echo "usage: .ci/supply-chain.sh [tools|deny|sbom|hippo-check|checkov|all]" >&2
    exit 2
    ;;
esac
