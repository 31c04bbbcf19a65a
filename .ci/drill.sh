#!/usr/bin/env bash
# Restore drill on a small data set (issue 14): a fresh deployment with continuous backup to a
# directory takes some writes, is stopped, and `hippo backup drill` restores the latest backup
# into a scratch directory, verifies it, serves it and reads records back over HTTPS, printing
# the achieved RTO and RPO. Uses target/debug/hippo as built by `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
hippo=${HIPPO_BIN:-target/debug/hippo}
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
data="$work/data"
"$hippo" --data-dir "$data" init > "$work/init.txt"
key=$(grep -o 'hpk_[A-Za-z0-9_-]*' "$work/init.txt" | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HIPPO_BACKUP__TO="[\"$work/backups\"]" HIPPO_LOG__LEVEL=warn \
    "$hippo" --data-dir "$data" serve --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -sf --cacert "$data/tls/ca.pem" "https://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.2
done
for i in $(seq 1 50); do
    curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d "{\"type\":\"Patient\",\"subject\":\"drill-$i\",\"body\":{\"name\":\"Drill Person $i\"}}" \
        "https://127.0.0.1:$port/v1/records" >/dev/null
done
kill -TERM "$server"
wait "$server" || true
"$hippo" --data-dir "$data" backup list --from "$work/backups"
"$hippo" --data-dir "$data" backup drill --sample 50 --from "$work/backups" | tee "$work/drill.txt"
grep -q "drill passed: 50 record(s)" "$work/drill.txt"
