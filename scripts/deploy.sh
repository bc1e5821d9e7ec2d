#!/usr/bin/env bash
# Build the Lambda functions and deploy the pipeline to one environment.
#
#   scripts/deploy.sh ENV [terraform apply options...]
#
# ENV is dev or prod: it selects terraform/envs/ENV.tfvars (the variables) and
# terraform/envs/ENV.backend.hcl (the S3 state). Extra arguments go to
# `terraform apply`, e.g. scripts/deploy.sh dev -auto-approve.
# AWS credentials come from the usual places (AWS_PROFILE, environment, SSO);
# the target account is reached through assume_role_arn in ENV.tfvars.
set -euo pipefail

usage() {
  echo "usage: $0 ENV [terraform apply options...]   (ENV: dev | prod)" >&2
  exit 2
}

die() {
  echo "deploy: $*" >&2
  exit 1
}

[[ $# -ge 1 ]] || usage
env_name="$1"
shift
case "$env_name" in
  dev | prod) ;;
  -h | --help) usage ;;
  *) echo "deploy: unknown environment '$env_name'" >&2; usage ;;
esac

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

tf_dir="terraform"
var_file="envs/${env_name}.tfvars"
backend_file="envs/${env_name}.backend.hcl"
[[ -f "$tf_dir/$var_file" ]] || die "missing $tf_dir/$var_file"
[[ -f "$tf_dir/$backend_file" ]] || die "missing $tf_dir/$backend_file"

command -v cargo >/dev/null 2>&1 \
  || die "cargo not found: install Rust from https://rustup.rs"
cargo lambda --version >/dev/null 2>&1 \
  || die "cargo-lambda not found: install it with 'pip install cargo-lambda' or 'cargo install --locked cargo-lambda' (it cross-compiles for arm64 with Zig)"
command -v terraform >/dev/null 2>&1 \
  || die "terraform not found: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)"

functions=(processor aggregator query)

echo "==> Building ${functions[*]} for Lambda (arm64, release)"
bin_args=()
for f in "${functions[@]}"; do
  bin_args+=(--bin "$f")
done
cargo lambda build --release --arm64 --output-format zip "${bin_args[@]}"

for f in "${functions[@]}"; do
  zip="target/lambda/$f/bootstrap.zip"
  [[ -f "$zip" ]] || die "build did not produce $zip"
done

echo "==> terraform init ($env_name state)"
terraform -chdir="$tf_dir" init -input=false -reconfigure -backend-config="$backend_file"

echo "==> terraform apply ($env_name)"
terraform -chdir="$tf_dir" apply -var-file="$var_file" "$@"

echo "==> Deployed $env_name"
terraform -chdir="$tf_dir" output api_invoke_url
echo "API key value: terraform -chdir=$tf_dir output -raw api_key_value"
