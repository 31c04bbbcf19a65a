#!/bin/sh
# Benchmark `hippo check` against Checkov on generated trees, one tool after the other.
# Usage: examples/bench/run.sh OUT_DIR [SIZES...]   (defaults: 1000 2500 5000 10000)
# Needs: `cargo build --release -p hippo` and `cargo build --release -p hippo-check --example gen_tree`,
# Checkov in $CHECKOV (e.g. a scratch venv: python3 -m venv /tmp/ck && /tmp/ck/bin/pip install checkov),
# GNU time at /usr/bin/time.
# SKIP_CHECKOV=1 re-measures only hippo check and reuses the Checkov results in OUT_DIR.
set -eu
OUT=${1:?out dir}
shift
SIZES=${*:-"1000 2500 5000 10000"}
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=${CARGO_TARGET_DIR:-$HERE/../../../../target}
HIPPO="$TARGET/release/hippo check"
GEN=$TARGET/release/examples/gen_tree
CHECKOV=${CHECKOV:-checkov}
mkdir -p "$OUT"
for n in $SIZES; do
  [ -d "$OUT/tree-$n" ] || "$GEN" "$OUT/tree-$n" "$n" >/dev/null
done
for n in $SIZES; do
  for rep in 1 2 3; do
    /usr/bin/time -v $HIPPO "$OUT/tree-$n" --format json -o "$OUT/hippo-$n.json" 2> "$OUT/hippo-$n.time.$rep" || true
  done
  [ "${SKIP_CHECKOV:-0}" = 1 ] || /usr/bin/time -v "$CHECKOV" -d "$OUT/tree-$n" --skip-download -o json --quiet > "$OUT/checkov-$n.json" 2> "$OUT/checkov-$n.time" || true
  echo "size $n done $(date -u +%H:%M:%S)"
done
python3 "$HERE/compare.py" "$OUT" $SIZES
