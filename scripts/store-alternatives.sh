#!/usr/bin/env bash
# Local mode's events store against SQLite (one table; one file per hour), fjall and RocksDB
# on the same load: the commands behind docs/PERFORMANCE.md's "The store against the
# alternatives". The benchmark is its own crate (benches/store-alternatives, a workspace of
# its own) so that the main workspace and CI never build RocksDB or fjall.
#
#   scripts/store-alternatives.sh [BACKEND...]   # default: ours sqlite sqlite-hourly fjall rocksdb
#
# Environment: EVENTS (valid events per run, default 10000000), RUNS (rounds over the
# backends, default 3: each round runs every backend once, one after another), WORK (default
# /tmp/store-alternatives: the events file, each run's data dir, results.ndjson),
# MIN_FREE_GB (default 25: a run stops writing and reports what it stored when the disk has
# less free; it is killed at 5 GB less, during its compactions say), RESULTS (default
# $WORK/results.ndjson, appended to: one JSON line a run), CARGO_TARGET_DIR.
# Each run's data dir is deleted after it; the events file is kept for the next rounds.
#
# RocksDB is Debian's build (`apt-get install librocksdb-dev libclang-dev`: RocksDB 7.8.3),
# linked by the `rocksdb` crate (0.20, the release whose bundled C API is 7.9) through
# ROCKSDB_LIB_DIR: compiling the crate's own RocksDB takes hours of a busy 2-core machine.
set -euo pipefail
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/store-alternatives}
MIN_FREE_GB=${MIN_FREE_GB:-25}
RESULTS=${RESULTS:-$WORK/results.ndjson}
BACKENDS=("$@")
[ ${#BACKENDS[@]} -gt 0 ] || BACKENDS=(ours sqlite sqlite-hourly fjall rocksdb)
export ROCKSDB_LIB_DIR=${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/benches/store-alternatives/target}

(cd "$ROOT/benches/store-alternatives" && CARGO_TARGET_DIR=$TARGET cargo build --release)
BIN=$TARGET/release/store-alternatives
mkdir -p "$WORK"
FILE=$WORK/events-$EVENTS.bin.zst
[ -s "$FILE" ] || "$BIN" generate --events "$EVENTS" --out "$FILE"

free_gb() { df --output=avail -BG "$WORK" | tail -1 | tr -dc 0-9; }

for round in $(seq 1 "$RUNS"); do
  for backend in "${BACKENDS[@]}"; do
    data=$WORK/data-$backend
    rm -rf "$data"
    before=$(uptime | sed 's/.*load average: //')
    echo "== round $round $backend ($(date -u +%H:%M:%S) UTC, load $before, $(free_gb) GB free)" >&2
    "$BIN" run --backend "$backend" --events-file "$FILE" --data-dir "$data" --min-free-gb "$MIN_FREE_GB" > "$WORK/run.json" &
    pid=$!
    # The disk is shared: stop a run that would leave others too little room.
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$(free_gb)" -lt $((MIN_FREE_GB - 5)) ]; then
        echo "   killed: less than $((MIN_FREE_GB - 5)) GB free" >&2
        kill "$pid"
      fi
      sleep 2
    done
    status=0; wait "$pid" || status=$?
    after=$(uptime | sed 's/.*load average: //')
    if [ "$status" -eq 0 ]; then
      python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(round=int(sys.argv[2]), load_before=sys.argv[3], load_after=sys.argv[4], at=sys.argv[5]); print(json.dumps(r))' \
        "$WORK/run.json" "$round" "$before" "$after" "$(date -u +%FT%TZ)" >> "$RESULTS"
      tail -1 "$RESULTS" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("   %s: %.2f µs CPU/event, %d events/s, %.0f B written, %.0f B on disk per event; first/last 1M: %s / %s events/s; query p50 %s ms" % (r["backend"], r["cpu_us_per_event"], r["events_per_s"], r["written_bytes_per_event"], r["disk_bytes_per_event"], (r["first_window"] or {}).get("events_per_s"), (r["last_window"] or {}).get("events_per_s"), (r["query"] or {}).get("p50_ms")))' >&2
    else
      echo "   $backend failed (exit $status)" >&2
    fi
    rm -rf "$data"
  done
done

# Medians per backend over the rounds.
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in runs:
    by.setdefault(r["backend"], []).append(r)
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| backend | runs | CPU µs/event | events/s | written B/event | on disk B/event | first 1M events/s | last 1M events/s | query p50 ms |")
print("|---|---|---|---|---|---|---|---|---|")
for b, rs in by.items():
    w = lambda k: [r[k]["events_per_s"] for r in rs if r.get(k)]
    print("| %s | %d | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f | %.3f |" % (
        b, len(rs), med([r["cpu_us_per_event"] for r in rs]), med([r["events_per_s"] for r in rs]),
        med([r["written_bytes_per_event"] for r in rs]), med([r["disk_bytes_per_event"] for r in rs]),
        med(w("first_window")), med(w("last_window")), med([r["query"]["p50_ms"] for r in rs if r.get("query")])))
PY
