#!/usr/bin/env bash
# The test command: installs what the tests need (checkov, moto, cargo-lambda, pytest, the
# Velocity engine, boto3), starts moto_server on a free 127.0.0.1 port, runs every test
# including those that need the emulator or the Lambda Runtime API (with cargo-nextest where
# it is installed), the mapping-template tests and the Kinesis endpoint's boto3 tests, and
# stops what it started. `.ci/run` calls it.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-tf    # skip the Terraform checks (checkov, fmt)
set -euo pipefail
cd "$(dirname "$0")/.."

run_tf=1
for arg in "$@"; do
  case "$arg" in
    --no-tf) run_tf=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
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

# Checks that run beside the others, each in the background with its output in a log that
# `show_beside` prints (in the order they were started) once they are done: the machine's
# cores are mostly idle while tests wait on moto, sockets and child processes.
beside_pids=() beside_logs=() beside_names=()
beside() {
  local name=$1 log
  shift
  log=$(mktemp -t beside.XXXXXX.log)
  ( set -e; "$@" ) >"$log" 2>&1 &
  beside_pids+=("$!") beside_logs+=("$log") beside_names+=("$name")
  step "started in the background: $name"
}
show_beside() {
  local i failed=()
  for i in "${!beside_pids[@]}"; do
    if ! wait "${beside_pids[$i]}"; then failed+=("${beside_names[$i]}"); fi
    step "${beside_names[$i]} (ran in the background)"
    cat "${beside_logs[$i]}" >&2
    rm -f "${beside_logs[$i]}"
  done
  beside_pids=() beside_logs=() beside_names=()
  [ "${#failed[@]}" = 0 ] || { printf 'FAILED: %s\n' "${failed[@]}" >&2; return 1; }
}
trap 'kill "${beside_pids[@]}" "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT

# Beside the Rust build, the checks that need no build: API Gateway's mapping templates
# rendered with a Velocity engine and run against moto's Kinesis (they use terraform for
# templatefile where it is installed), and checkov over the Terraform, offline.
beside "mapping-template tests (python3 -m pytest terraform/tests/templates)" \
  python3 -m pytest -q -p no:cacheprovider terraform/tests/templates
if [ "$run_tf" = 1 ]; then
  beside "checkov: Terraform security checks (offline)" \
    checkov -d terraform --framework terraform --skip-download --quiet --compact
fi

step "building every test and binary (cargo test --workspace --no-run)"
cargo test --workspace --locked --no-run

# Beside the Rust tests, the ones of the binary just built: the Kinesis endpoint of
# `pipeline up` with boto3 and a KPL-format aggregator, and the web tests (the OpenAPI
# document, schemathesis, the dashboard in Chromium).
bin="${CARGO_TARGET_DIR:-target}/debug/pipeline"
beside "Python tests: pipeline up's Kinesis endpoint with boto3 (local/tests/python)" \
  env PIPELINE_BIN="$bin" python3 -m pytest -q -p no:cacheprovider local/tests/python
beside "web tests: the OpenAPI contract, schemathesis, the dashboard in Chromium (scripts/web-tests.sh)" \
  scripts/web-tests.sh

# The ignored tests are the ones that need moto_server or cargo-lambda: both are here now.
# cargo-nextest runs every test in its own process, several at once (.config/nextest.toml):
# most of them wait on moto, sockets or a `pipeline up` child, so this takes less than half
# the time of `cargo test`, which runs one test binary after the other.
rust_status=0
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run --workspace (with the emulator tests; settings in .config/nextest.toml)"
  cargo nextest run --workspace --locked --run-ignored all || rust_status=$?
  step "doc tests (cargo test --doc)"
  cargo test --workspace --locked --doc || rust_status=$?
else
  step "cargo test --workspace (with the emulator tests; cargo-nextest is not installed: cargo install cargo-nextest --locked runs them side by side)"
  cargo test --workspace --locked -- --include-ignored || rust_status=$?
fi

show_beside
[ "$rust_status" = 0 ] || { echo "FAILED: the Rust tests (above)" >&2; exit 1; }

if [ "$run_tf" = 1 ]; then
  if command -v terraform >/dev/null 2>&1; then
    step "terraform fmt -check"
    terraform -chdir=terraform fmt -check -recursive
  else
    echo "terraform is not installed: skipping terraform fmt -check" >&2
  fi
fi
echo "all tests passed" >&2
