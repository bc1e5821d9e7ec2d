#!/usr/bin/env bash
# Local mode under load: the commands behind docs/PERFORMANCE.md's "Local mode under load".
# Release binaries (cargo build --release --bin pipeline --bin loadtest); BIN points at them.
#
#   scripts/local-load.sh headline DIR [RUNS]   # pipeline up (defaults) in DIR + loadtest
#                                               # --rate 100000 --duration 10m --batch-size 250
#                                               # --verify --archive-dir; DIR is kept (a pre-fill)
#   scripts/local-load.sh drain DIR [SECONDS]   # pipeline up --pause-consumers 15s on DIR (empty
#                                               # or pre-filled) + 100,000 events/s for SECONDS
#                                               # (default 60): the consumers' drain rate
#   scripts/local-load.sh cost DIR [SECONDS]    # 100,000 events/s for SECONDS (default 30) on a
#                                               # fresh DIR: CPU seconds per thread group and
#                                               # bytes written and kept, per processed event
#
# Environment: BIN (default target/release), PORT (default 18080), DURATION (headline, 10m),
# PIPELINE (the pipeline binary, default $BIN/pipeline: another version for a side-by-side).
# Each run prints `uptime` (the machine is shared), loadtest's summary, the consumers' rate
# from the progress lines, the data dir's size and /metrics' bytes per event.
set -euo pipefail
BIN=${BIN:-target/release}
PORT=${PORT:-18080}
BASE="http://127.0.0.1:$PORT"

PIPELINE=${PIPELINE:-$BIN/pipeline}

usage() { sed -n '2,17p' "$0"; exit 2; }
[ $# -ge 2 ] || usage
mode=$1 dir=$2

start_up() {  # start_up LOG [flags]: pipeline up on $dir, waits for /health
  local log=$1; shift
  mkdir -p "$dir"
  "$PIPELINE" up --data-dir "$dir" --listen "127.0.0.1:$PORT" --api-key k --read-key r --progress 1 "$@" >"$log" 2>&1 &
  up_pid=$!
  for _ in $(seq 300); do curl -sf "$BASE/health" >/dev/null && return; sleep 0.1; done
  echo "pipeline up did not answer /health; see $log" >&2; exit 1
}

stop_up() {  # SIGTERM: the pipeline processes what it accepted and finishes the archive files
  kill -TERM "$up_pid"; wait "$up_pid" || true; up_pid=
}
up_pid=
trap '[ -z "$up_pid" ] || kill "$up_pid" 2>/dev/null || true' EXIT

metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# The consumers' rate from the progress lines (one a second): the mean of each 30 s, then
# the mean and median of the seconds after the first SKIP while a backlog was left.
rates() {
  local skip=$1 log=$2
  awk '/processed/ {for (i = 1; i <= NF; i++) {if ($i == "processed") r = $(i + 2)}; gsub(/[(\/s)]/, "", r);
         n++; s += r; if (n % 30 == 0) {printf "%ds:%.0f ", n, s / 30; s = 0}} END {printf "\n"}' "$log"
  awk '/processed/ {for (i = 1; i <= NF; i++) {if ($i == "processed") r = $(i + 2); if ($i == "lag") l = $(i + 1)};
         gsub(/[(\/s)]/, "", r); if (++n > skip && l > 0 && r > 0) print r}' skip="$skip" "$log" | sort -n |
    awk -v skip="$skip" '{a[++k] = $1; m += $1} END {if (k) printf "while a backlog was left (after %d s): mean %.0f/s, median %.0f/s over %d s\n", skip, m / k, a[int((k + 1) / 2)], k}'
}

report() {  # report LOG: what a run leaves
  echo "processed $(metric pipeline_records_processed_total), stored $(metric pipeline_store_events) events," \
    "$(metric pipeline_disk_bytes_per_stored_event) B on disk per stored event," \
    "$(metric pipeline_disk_written_bytes_per_processed_event) B written per processed event"
  echo "data dir: $(du -sb "$dir" | cut -f1) bytes ($(du -sh "$dir" | cut -f1)); by part:" \
    "$(curl -s "$BASE/metrics" | awk '/^pipeline_disk_bytes\{/ {printf "%s=%s ", $1, $2}')"
  echo "consumers (events/s, mean per 30 s):"; rates 0 "$1"
}

case "$mode" in
headline)
  for run in $(seq "${3:-1}"); do
    rm -rf "$dir"
    echo "== headline run $run, $(date -u +%FT%TZ), uptime: $(uptime)"
    start_up "$dir.up.log"
    "$BIN/loadtest" --target "$BASE" --api-key k --read-key r --rate 100000 --duration "${DURATION:-10m}" \
      --batch-size 250 --verify --verify-timeout 300s --archive-dir "$dir/archive" --report "$dir.lt.json" --quiet \
      >"$dir.lt.log" 2>&1 || echo "loadtest: exit $?"
    echo "ended $(date -u +%FT%TZ) (verify included), uptime: $(uptime)"
    cat "$dir.lt.log"
    report "$dir.up.log"
    stop_up
  done ;;
drain)
  echo "== drain on $dir ($(du -sh "$dir" 2>/dev/null | cut -f1 || echo empty)), $(date -u +%FT%TZ), uptime: $(uptime)"
  start_up "$dir.drain.log" --pause-consumers 15s
  "$BIN/loadtest" --target "$BASE" --api-key k --read-key r --rate 100000 --duration "${3:-60}s" --batch-size 250 \
    --quiet >"$dir.lt-drain.log" 2>&1 || echo "loadtest: exit $?"
  for _ in $(seq 600); do [ "$(metric pipeline_records_processed_total)" = "$(metric pipeline_events_accepted_total)" ] && break; sleep 0.5; done
  echo "uptime at the end: $(uptime)"
  grep -E 'accepted|latency' "$dir.lt-drain.log" | head -2
  echo "consumers (events/s, mean per 30 s):"; rates 15 "$dir.drain.log"
  stop_up ;;
cost)
  rm -rf "$dir"
  echo "== cost of $PIPELINE, $(date -u +%FT%TZ), uptime: $(uptime)"
  start_up "$dir.up.log"
  "$BIN/loadtest" --target "$BASE" --api-key k --read-key r --rate 100000 --duration "${3:-30}s" --batch-size 250 \
    --quiet >"$dir.lt.log" 2>&1 || echo "loadtest: exit $?"
  for _ in $(seq 600); do [ "$(metric pipeline_records_processed_total)" = "$(metric pipeline_events_accepted_total)" ] && break; sleep 0.5; done
  sleep 11  # the upkeep's next measure of the disk
  processed=$(metric pipeline_records_processed_total)
  echo "uptime at the end: $(uptime)"
  grep -E 'accepted|latency' "$dir.lt.log" | head -2
  # CPU seconds by thread name (consumer-N together), and the process's bytes written.
  for t in /proc/"$up_pid"/task/*; do awk '{sub(/.*\) /, ""); print}' "$t/stat" | awk -v c="$(cat "$t/comm")" '{print c, ($12 + $13)}'; done |
    awk -v p="$processed" -v hz="$(getconf CLK_TCK)" '{sub(/-[0-9]+$/, "", $1); s[$1] += $2 / hz} END {for (k in s) if (s[k] > 0.05) printf "  %s: %.1f s CPU, %.2f us per event\n", k, s[k], s[k] / p * 1e6}' | sort
  written=$(awk '/^write_bytes/ {print $2}' /proc/"$up_pid"/io)
  stream=$(du -sb "$dir/stream" | cut -f1)
  stored=$(metric pipeline_events_stored_total)
  echo "processed $processed, stored $stored: written $((written / processed)) B per processed event (stream included);" \
    "kept $((($(du -sb "$dir" | cut -f1) - stream) / stored)) B per stored event (all but the stream)"
  stop_up ;;
*) usage ;;
esac
