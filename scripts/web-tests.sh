#!/usr/bin/env bash
# The web tests, run by scripts/test.sh after the cargo tests (which build the binary):
#   1. docs/openapi.yaml is a valid OpenAPI 3.1 document;
#   2. schemathesis fuzzes a fresh `pipeline up` from it (seeded, bounded): no 5xx, every
#      answer as the spec says, every error a JSON body;
#   3. the dashboard in headless Chromium (tests/web/).
# Its Python tools live in a venv of their own ($WEB_VENV). Chromium comes from Debian's
# packages (chromium, chromium-driver); where none can be had, the browser test is skipped
# with a message and the rest still runs.
#
#   scripts/web-tests.sh                       # all three
#   CONTRACT_EXAMPLES=200 scripts/web-tests.sh # more fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*" >&2; }

target="${CARGO_TARGET_DIR:-target}"
bin="$target/debug/pipeline"
[ -x "$bin" ] || { echo "no $bin: run cargo build --workspace first" >&2; exit 2; }
venv="${WEB_VENV:-$HOME/.cache/event-pipeline/venv-web}"

step "installing the web test tools into $venv (scripts/requirements-web.txt)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-web.txt >&2

step "openapi-spec-validator docs/openapi.yaml"
"$venv/bin/openapi-spec-validator" docs/openapi.yaml

step "schemathesis against pipeline up (seed 42, ${CONTRACT_EXAMPLES:-50} examples per operation)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d -t contract.XXXXXX)
export PIPELINE_API_KEY=contract-ingest-key PIPELINE_READ_KEY=contract-read-key
"$bin" up --data-dir "$data" --listen "127.0.0.1:$port" --progress 0 >"$data.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 1 150); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "pipeline up failed to start:" >&2; cat "$data.log" >&2; exit 1; }
  sleep 0.2
done
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run docs/openapi.yaml \
  --url "http://127.0.0.1:$port" --max-examples "${CONTRACT_EXAMPLES:-50}" --seed 42 --checks all \
  --no-color
kill "$pid"; wait "$pid" 2>/dev/null || true
trap - EXIT
rm -rf "$data" "$data.log"

step "the dashboard in headless Chromium (tests/web)"
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    ( $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver ) >&2 \
      || echo "could not install chromium and chromium-driver with apt-get" >&2
  fi
fi
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  PIPELINE_BIN="$bin" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/web
else
  echo "SKIPPED the browser test: no Chromium can be had here (apt-get install chromium chromium-driver)" >&2
fi
