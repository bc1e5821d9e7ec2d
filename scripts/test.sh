#!/usr/bin/env bash
# The test command: installs what the tests need, starts the emulators they use on
# 127.0.0.1, runs every test, and stops what it started. `.ci/run` calls this script.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-tf    # skip the Terraform checks (checkov, fmt)
set -euo pipefail
cd "$(dirname "$0")/.."

run_tf=1
for arg in "$@"; do
  case "$arg" in
    --no-tf) run_tf=0 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing Python test tools (scripts/requirements-test.txt)"
python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt >&2

step "cargo test --workspace"
cargo test --workspace --locked --all-targets

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
