#!/usr/bin/env bash
# The test command: installs what the tests need (checkov, moto, cargo-lambda, pytest, the
# Velocity engine, boto3), starts moto_server on a free 127.0.0.1 port, runs every test
# including those that need the emulator or the Lambda Runtime API, the mapping-template
# tests and the Kinesis endpoint's boto3 tests, and stops what it started. `.ci/run` calls it.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-tf    # skip the Terraform checks (checkov, fmt)
set -euo pipefail
cd "$(dirname "$0")/.."

run_tf=1
for arg in "$@"; do
  case "$arg" in
    --no-tf) run_tf=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing Python test tools (scripts/requirements-test.txt)"
python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt >&2

# moto_server: real AWS APIs (DynamoDB, S3, Firehose, Kinesis) on 127.0.0.1, stopped on exit.
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "starting moto_server on 127.0.0.1:$moto_port"
moto_log=$(mktemp -t moto.XXXXXX.log)
moto_server -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $moto_port), 1)" 2>/dev/null; then break; fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto_server failed to start:" >&2; cat "$moto_log" >&2; exit 1; }
  sleep 0.2
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

# API Gateway's mapping templates rendered with a Velocity engine and run against moto's
# Kinesis (they use terraform for templatefile where it is installed).
step "mapping-template tests (python3 -m pytest terraform/tests/templates)"
python3 -m pytest -q -p no:cacheprovider terraform/tests/templates

# The ignored tests are the ones that need moto_server or cargo-lambda: both are here now.
step "cargo test --workspace (with the emulator tests)"
cargo test --workspace --locked -- --include-ignored

# The Kinesis endpoint of `pipeline up` with boto3 and a KPL-format aggregator, on the
# binary the step above built.
step "Python tests: pipeline up's Kinesis endpoint with boto3 (local/tests/python)"
PIPELINE_BIN="${CARGO_TARGET_DIR:-target}/debug/pipeline" python3 -m pytest -q local/tests/python

step "web tests: the OpenAPI contract, schemathesis, the dashboard in Chromium (scripts/web-tests.sh)"
scripts/web-tests.sh

if [ "$run_tf" = 1 ]; then
  step "checkov: Terraform security checks (offline)"
  checkov -d terraform --framework terraform --skip-download --quiet --compact
  if command -v terraform >/dev/null 2>&1; then
    step "terraform fmt -check"
    terraform -chdir=terraform fmt -check -recursive
  else
    echo "terraform is not installed: skipping terraform fmt -check" >&2
  fi
fi
echo "all tests passed" >&2
