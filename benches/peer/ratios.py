"""Prints the peer comparison table from the JSON lines of compare.sh (Rust 1 thread first)."""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
rust = rows[0]["events_per_s"]
print(f"\n{rows[0]['events']} events of the reference workload (seed 42), best of several passes\n")
print(f"{'stack':<40} {'events/s':>12} {'valid':>8}   rust 1 thread is")
for r in rows:
    print(f"{r['stack']:<40} {r['events_per_s']:>12,.0f} {r['valid']:>8}   {rust / r['events_per_s']:.1f}x")
