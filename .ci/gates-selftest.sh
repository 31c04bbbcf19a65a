#!/usr/bin/env bash
# Shows that each delivery gate fails closed: on a scratch copy of the repository, plant one
# fault, run the gate, and require that it fails and names the fault. Run by .ci/run after the
# gates themselves passed on the real tree.
#
#   a crate with a disallowed licence      -> cargo deny (licenses)
#   an advisory from the snapshot          -> cargo deny (advisories)
#   an expired advisory acceptance         -> policy check on deny.toml
#   a new duplicate crate version          -> policy check on Cargo.lock
#   a committed secret                     -> hippo check (secret scan)
#   an unsuppressed hippo check finding    -> hippo check
#   a Checkov failure not in the list      -> .ci/checkov.sh
#   an SBOM missing a crate                -> cargo xtask sbom --check
#   a tampered release binary, an unpinned base image, a foreign key -> cargo xtask verify-release
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
export HIPPO_ADVISORY_SNAPSHOT=${HIPPO_ADVISORY_SNAPSHOT:-$(cd "$root/.." && pwd)/shared/advisory-db}
export HIPPO_BIN=${HIPPO_BIN:-$CARGO_TARGET_DIR/debug/hippo}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0

# A copy of the tracked (and new, not ignored) files, without build output.
fresh_copy() {
    rm -rf "$scratch/repo"
    mkdir -p "$scratch/repo"
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 cp --parents -t "$scratch/repo" 2>/dev/null || true
    # The advisory database copy is reused rather than rebuilt per case.
    if [[ -d $root/target/advisory-dbs ]]; then
        mkdir -p "$scratch/repo/target"
        cp -R "$root/target/advisory-dbs" "$scratch/repo/target/"
    fi
}

# expect_failure NAME PATTERN COMMAND...: COMMAND must exit non-zero and print PATTERN.
expect_failure() {
    local name=$1 pattern=$2
    shift 2
    local out status=0
    out=$("$@" 2>&1) || status=$?
    if ((status == 0)); then
        echo "SELFTEST FAILED: $name: the gate passed" >&2
        printf '%s\n' "$out" | tail -20 >&2
        failures=$((failures + 1))
    elif ! grep -qE -- "$pattern" <<<"$out"; then
        echo "SELFTEST FAILED: $name: the gate failed without naming the fault ($pattern)" >&2
        printf '%s\n' "$out" | tail -20 >&2
        failures=$((failures + 1))
    else
        echo "ok: $name (refused: $(grep -m1 -oE -- "$pattern" <<<"$out"))"
    fi
}

in_copy() { (cd "$scratch/repo" && "$@"); }

# --- cargo deny ------------------------------------------------------------------------------
fresh_copy
mkdir -p "$scratch/repo/crates/scratch-gpl/src"
cat >"$scratch/repo/crates/scratch-gpl/Cargo.toml" <<'EOF'
[package]
name = "scratch-gpl"
version = "0.1.0"
edition = "2021"
license = "GPL-3.0-only"
publish = false
EOF
echo "pub fn f() {}" >"$scratch/repo/crates/scratch-gpl/src/lib.rs"
sed -i 's|^\[dependencies\]$|[dependencies]\nscratch-gpl = { path = "../scratch-gpl" }|' \
    "$scratch/repo/crates/hippo-core/Cargo.toml"
in_copy cargo update --quiet --offline --workspace
expect_failure "disallowed licence" "GPL-3.0-only" in_copy bash .ci/supply-chain.sh deny

fresh_copy
# base64 0.5.1 has RUSTSEC-2017-0004 (integer overflow leading to a heap overflow).
sed -i 's|^\[dependencies\]$|[dependencies]\nold-base64 = { package = "base64", version = "=0.5.1" }|' \
    "$scratch/repo/crates/hippo-core/Cargo.toml"
in_copy cargo update --quiet --workspace
in_copy cargo fetch --quiet
expect_failure "advisory from the snapshot" "RUSTSEC-2017-0004" in_copy bash .ci/supply-chain.sh deny

fresh_copy
python3 - "$scratch/repo/deny.toml" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read().replace(
    "ignore = [\n",
    'ignore = [\n    { id = "RUSTSEC-2017-0004", reason = "scratch case; expires 2020-01-01" },\n', 1)
open(p, "w").write(s)
EOF
expect_failure "expired advisory acceptance" "expired on 2020-01-01" \
    in_copy python3 .ci/policy_checks.py accepted-advisories deny.toml

fresh_copy
sed -i '/^base64$/d' "$scratch/repo/.ci/duplicate-crates.txt"
expect_failure "new duplicate crate version" "base64 now has versions" \
    in_copy python3 .ci/policy_checks.py duplicates Cargo.lock .ci/duplicate-crates.txt

# --- hippo check -----------------------------------------------------------------------------
fresh_copy
# An AWS key pair in a committed file (a made-up key in AWS's documented format).
printf 'AWS_ACCESS_KEY_ID=AKIA%s\nAWS_SECRET_ACCESS_KEY=%s\n' "Q7ZX4LM2PN5RT8VW" \
    "u8Gq2Vn5Zk1Rb7Wm3Ty9Pc4Xs6Hd0Jf2La8Ne5Qo" >"$scratch/repo/deploy/prod.env"
expect_failure "committed secret" "HIPPO-SECRET-00[0-9]" in_copy bash .ci/supply-chain.sh hippo-check

fresh_copy
cat >"$scratch/repo/deploy/terraform/scratch_bucket.tf" <<'EOF'
resource "aws_s3_bucket" "scratch_phi" {
  bucket = "scratch-phi"
}
EOF
expect_failure "unsuppressed hippo check finding" "HIPPO-AWS-S3-[0-9]+" \
    in_copy bash .ci/supply-chain.sh hippo-check

# --- Checkov ---------------------------------------------------------------------------------
# (same planted bucket: Checkov flags it, and it is not in docs/deploy.md's list)
expect_failure "Checkov failure not in the reasoned list" "CKV2?_AWS_[0-9]+ fails on aws_s3_bucket.scratch_phi" \
    in_copy bash .ci/checkov.sh

# --- SBOM ------------------------------------------------------------------------------------
mkdir -p "$scratch/sbom"
cp "$root"/target/sbom/*.cdx.json "$scratch/sbom/"
python3 - "$scratch/sbom" <<'EOF'
import json, pathlib, sys
for path in pathlib.Path(sys.argv[1]).glob("*.cdx.json"):
    bom = json.loads(path.read_text())
    bom["components"] = [c for c in bom.get("components", []) if c.get("name") != "serde_json"]
    path.write_text(json.dumps(bom))
EOF
expect_failure "SBOM missing a crate" "serde_json@[0-9.]+ is not in the SBOM" \
    cargo xtask sbom --check "$scratch"/sbom/*.cdx.json

# --- signed release --------------------------------------------------------------------------
cargo xtask keygen --out "$scratch/key" >/dev/null
cargo xtask keygen --out "$scratch/other-key" >/dev/null
cargo xtask release --binary "$HIPPO_BIN" --key "$scratch/key/release-signing.key.pem" \
    --out "$scratch/dist" --allow-dirty --allow-unpinned-base-images >/dev/null
release=$(ls -d "$scratch"/dist/hippo-*)
cargo xtask verify-release "$release" --public-key "$scratch/key/release-signing.pub.pem" \
    --allow-unpinned-base-images >/dev/null
echo "ok: an untouched release verifies"
# An independent implementation agrees: OpenSSL checks the same signature over the binary.
openssl pkeyutl -verify -pubin -inkey "$scratch/key/release-signing.pub.pem" -rawin \
    -in "$release/hippo" -sigfile "$release/hippo.sig" >/dev/null
echo "ok: openssl verifies the binary's signature"
expect_failure "release with unpinned base images" "not pinned by digest" \
    cargo xtask verify-release "$release" --public-key "$scratch/key/release-signing.pub.pem"
expect_failure "release checked with a foreign key" "signature does not match" \
    cargo xtask verify-release "$release" --public-key "$scratch/other-key/release-signing.pub.pem" \
    --allow-unpinned-base-images
python3 - "$release/hippo" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096)
    byte = f.read(1)
    f.seek(4096)
    f.write(bytes([byte[0] ^ 0xFF]))
EOF
expect_failure "tampered release binary" "hippo: the signature does not match" \
    cargo xtask verify-release "$release" --public-key "$scratch/key/release-signing.pub.pem" \
    --allow-unpinned-base-images

if ((failures > 0)); then
    echo "$failures gate self-test(s) failed" >&2
    exit 1
fi
echo "all gate self-tests passed: every planted fault was refused"
