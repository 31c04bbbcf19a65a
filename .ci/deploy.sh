#!/usr/bin/env bash
# Deploy one environment from a verified release (called by .github/workflows/delivery.yml).
#
#   .ci/deploy.sh ENV                   verify, push image, plan, gate the plan, apply it
#   .ci/deploy.sh ENV --plan-only       ... stop after the gated plan (kept as evidence)
#   .ci/deploy.sh ENV --apply-approved  apply exactly the plan the approvers saw
#
# Needs: AWS credentials from OIDC federation (never stored keys), terraform, docker, cargo,
# RELEASE_PUBLIC_KEY (the trusted release key, SPKI PEM), TF_BACKEND_CONFIG (the backend
# settings, docs/deploy.md step 3) and TF_VARS (the environment's tfvars: certificate, alarm
# address, sizes; no secrets), and the release in dist/. Evidence goes to
# target/deploy/ENV/: the plan, its JSON, its SHA-256, the hippo check report, the apply log.
set -euo pipefail
cd "$(dirname "$0")/.."

env_name=${1:?usage: .ci/deploy.sh ENV [--plan-only|--apply-approved]}
mode=${2:-full}
case "$env_name" in staging | production) ;; *) echo "unknown environment $env_name" >&2; exit 2 ;; esac
evidence="target/deploy/$env_name"
tf="deploy/terraform"
mkdir -p "$evidence"

terraform_init() {
    local backend="$evidence/backend.hcl"
    (umask 077; printf '%s\n' "${TF_BACKEND_CONFIG:?TF_BACKEND_CONFIG is not set}" >"$backend")
    terraform -chdir="$tf" init -input=false -backend-config="$PWD/$backend"
    rm -f "$backend"
}

if [[ $mode == --apply-approved ]]; then
    # The approved plan, unchanged since the approvers saw it: its digest was recorded by the
    # plan job and travels with it as an artifact.
    (cd "$evidence" && sha256sum -c plan.bin.sha256)
    terraform_init
    terraform -chdir="$tf" apply -input=false "$PWD/$evidence/plan.bin" 2>&1 | tee "$evidence/apply.log"
    exit "${PIPESTATUS[0]}"
fi

release=$(ls -d dist/hippo-* | head -1)
printf '%s\n' "${RELEASE_PUBLIC_KEY:?RELEASE_PUBLIC_KEY is not set}" >"$evidence/release.pub.pem"
# Fail closed: a release whose signatures, digests or pins do not verify is never deployed.
cargo xtask verify-release "$release" --public-key "$evidence/release.pub.pem" | tee "$evidence/verify-release.log"
hippo="$release/hippo"
chmod +x "$hippo"

terraform_init
account=$(aws sts get-caller-identity --query Account --output text)
region=${AWS_REGION:?AWS_REGION is not set}
repo_url="$account.dkr.ecr.$region.amazonaws.com/hippo"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "${repo_url%%/*}"
# The image is built from the signed Dockerfile (base images pinned by digest) and the signed
# binary's source commit; its digest, not a tag, goes to Terraform.
commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["predicate"]["buildDefinition"]["externalParameters"]["source"]["commit"])' "$release/provenance.intoto.json")
test "$commit" = "$(git rev-parse HEAD)" || { echo "release commit $commit is not the checked-out commit" >&2; exit 1; }
docker buildx build -f "$release/Dockerfile" --platform linux/amd64 \
    --provenance=false --push -t "$repo_url:$commit" --metadata-file "$evidence/image.json" .
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["containerimage.digest"])' "$evidence/image.json")
# Image scan gate: ECR scans on push (ecs.tf, scan_on_push); no CRITICAL or HIGH finding may reach a plan.
aws ecr wait image-scan-complete --repository-name hippo --image-id imageDigest="$digest"
aws ecr describe-image-scan-findings --repository-name hippo --image-id imageDigest="$digest" \
    --output json >"$evidence/image-scan.json"
python3 - "$evidence/image-scan.json" <<'PY'
import json, sys
counts = json.load(open(sys.argv[1]))["imageScanFindings"].get("findingSeverityCounts", {})
blocking = {k: v for k, v in counts.items() if k in ("CRITICAL", "HIGH") and v}
if blocking:
    sys.exit(f"image scan: {blocking}; fix the base image or dependency before deploying")
print(f"image scan: {counts or 'no findings'}")
PY

printf '%s\n' "${TF_VARS:?TF_VARS is not set}" >"$evidence/$env_name.tfvars"
terraform -chdir="$tf" plan -input=false -lock-timeout=5m -var-file="$PWD/$evidence/$env_name.tfvars" \
    -var "environment=$env_name" -var "image_digest=$digest" -out="$PWD/$evidence/plan.bin"
terraform -chdir="$tf" show -json "$PWD/$evidence/plan.bin" >"$evidence/plan.json"
# The HIPAA gate on what would actually be applied (values resolved, modules expanded).
"$hippo" check "$evidence/plan.json" --format sarif --output "$evidence/hippo-check-plan.sarif"
"$hippo" check "$evidence/plan.json"
(cd "$evidence" && sha256sum plan.bin >plan.bin.sha256)

if [[ $mode == --plan-only ]]; then exit 0; fi
terraform -chdir="$tf" apply -input=false "$PWD/$evidence/plan.bin" 2>&1 | tee "$evidence/apply.log"
exit "${PIPESTATUS[0]}"
