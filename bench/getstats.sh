#!/usr/bin/env bash
# getstats.sh — control-plane numbers against a gortd of its own:
#   GetStats round trip over the Unix socket, p50/p90/p99 over N calls
#   (gortctl's hidden bench-stats: sequential calls after 100 warm-ups), and
#   the time gort_gomaxprocs takes inside SetMaxProcs, over 200 changes.
#
#   bench/getstats.sh [BUILD_DIR] [N]     (defaults: build, 10000)
#
# A benchmark, not a test: it prints numbers and checks nothing. The daemon
# runs on a temporary socket and is stopped on exit, whatever happens.
set -euo pipefail

BUILD=${1:-build}
N=${2:-10000}
GORTD=$BUILD/server/gortd
GORTCTL=$BUILD/client/gortctl
TMP=$(mktemp -d /tmp/gort-bench.XXXXXX)
ADDR=unix:$TMP/g.sock
PID=

cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

"$GORTD" --control "$ADDR" 2>"$TMP/gortd.log" &
PID=$!
for _ in $(seq 100); do
    grep -q 'msg="control plane listening"' "$TMP/gortd.log" && break
    sleep 0.05
done

"$GORTCTL" --addr "$ADDR" bench-stats -n "$N"

for i in $(seq 200); do
    "$GORTCTL" --addr "$ADDR" tune --maxprocs $((i % 4 + 1)) --json
done | /usr/bin/python3 -c '
import json, sys
s = json.loads("[" + sys.stdin.read().replace("}\n{", "},{") + "]")
t = sorted(x["took_ns"] for x in s)
us = lambda v: "%.1fus" % (v / 1000)
print("SetMaxProcs (gort_gomaxprocs, idle runtime, 1..4): %d changes, p50 %s, p99 %s, max %s"
      % (len(t), us(t[len(t) // 2]), us(t[int(len(t) * .99) - 1]), us(t[-1])))'
