#!/usr/bin/env bash
# One run of the Kinesis-vs-HTTP comparison of docs/PERFORMANCE.md, against a fresh
# `pipeline up` (HTTP API and --kinesis-listen), 100,000 events/s for 20 s, verified:
#
#   scripts/kinesis-vs-http.sh http|plain|kpl ROUND    # BIN=dir of release pipeline and loadtest
#   for r in 1 2 3; do for m in http plain kpl; do scripts/kinesis-vs-http.sh $m $r; done; done
set -u
B=${BIN:-target/release}
mode=$1; round=$2
d=$(mktemp -d /tmp/kb.XXXX)
load=$(cut -d' ' -f1 /proc/loadavg)
$B/pipeline up --data-dir $d --listen 127.0.0.1:18380 --api-key k --read-key r --kinesis-listen 127.0.0.1:18381 > $d/up.log 2>&1 &
pid=$!
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18380/health && break; sleep 0.1; done
case $mode in
  http) $B/loadtest --target http://127.0.0.1:18380 --api-key k --read-key r --rate 100000 --duration 20s --batch-size 250 --verify --report "${TMPDIR:-/tmp}/kb-$mode-$round.json" > $d/lt.log 2>&1 ;;
  plain) AWS_ENDPOINT_URL=http://127.0.0.1:18381 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x $B/loadtest --kinesis events --target http://127.0.0.1:18380 --read-key r --rate 100000 --duration 20s --batch-size 500 --verify --report "${TMPDIR:-/tmp}/kb-$mode-$round.json" > $d/lt.log 2>&1 ;;
  kpl) AWS_ENDPOINT_URL=http://127.0.0.1:18381 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x $B/loadtest --kinesis events --aggregate --target http://127.0.0.1:18380 --read-key r --rate 100000 --duration 20s --batch-size 1000 --verify --report "${TMPDIR:-/tmp}/kb-$mode-$round.json" > $d/lt.log 2>&1 ;;
esac
rc=$?
kill -TERM $pid; wait $pid
python3 - "$mode" "$round" "$load" "$rc" <<'PY'
import json,sys
m,r,load,rc=sys.argv[1:]
try:
    import os
    j=json.load(open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kb-{m}-{r}.json")))
    v=j.get("verify",{})
    print(f"{m} round {r} load {load} rc {rc}: achieved {j['achieved_events_per_s']:.0f}/s p50 {j['latency_ms']['p50']:.1f} p99 {j['latency_ms']['p99']:.1f} throttled {j.get('throttled')} failed {j.get('failed')} missing {v.get('missing')} stored {v.get('stored')} bad {v.get('bad_rows')}")
except Exception as e:
    print(m, r, "no report", e, "rc", rc)
PY
rm -rf $d
