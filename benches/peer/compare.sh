#!/usr/bin/env bash
# Runs the Rust batch flow and the Python peers on the same reference file and prints the
# ratios. Usage: benches/peer/compare.sh [EVENTS]   (default 200000; seed 42)
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-200000}
out=target/peer
mkdir -p "$out"

echo "building the release benches ..." >&2
cargo build --release --locked -p pipeline-benches --bin workload --bin flow_throughput >&2
target/release/workload --events "$events" --out "$out/reference.ndjson"

venv=benches/peer/.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "installing the Python peers into $venv ..." >&2
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r benches/peer/requirements.txt >&2

{
  # The peers do what the core did before the enrichments: compare like with like.
  target/release/flow_throughput "$out/reference.ndjson" --threads 1 --enrichments off
  target/release/flow_throughput "$out/reference.ndjson" --threads 2 --enrichments off
  "$venv/bin/python" benches/peer/peer.py --stack stdlib "$out/reference.ndjson"
  "$venv/bin/python" benches/peer/peer.py --stack fast "$out/reference.ndjson"
} | tee "$out/results.jsonl" | python3 benches/peer/ratios.py
