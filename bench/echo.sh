#!/usr/bin/env bash
# echo.sh — the echo suite (issue 3): a loopback echo server, 64-byte
# messages over 100 connections, gort (bench/echo_server.c) against Go
# (bench/go/echo), both driven by the same load generator
# (bench/echo_client.c). Server and client are pinned to different CPUs;
# with two CPUs only GOMAXPROCS=1 can be pinned apart from the client, so
# that is the headline row. Runs alternate, REPS times; medians and ratio
# go to stdout and bench/out/echo.md.
#
# Knobs: REPS (3), CONNS (100), SECS (5), MSG (64).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
CONNS=${CONNS:-100}
SECS=${SECS:-5}
MSG=${MSG:-64}
PORT=${PORT:-19701}

gort_srv=$(bench_c_binary echo_server)
client=$(bench_c_binary echo_client)
go_srv=$OUT_DIR/echo_go
bench_log "building $go_srv"
bench_go_build echo "$go_srv"

# run_echo BIN: starts the server on CPU 1 with GOMAXPROCS=1, runs the
# client on CPU 0, prints messages/s (or FAIL:...).
run_echo() {
    local bin=$1 log=$OUT_DIR/logs/echo
    mkdir -p "$log"
    GOMAXPROCS=1 taskset -c 1 "$bin" "$PORT" >"$log/server.out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        grep -q listening "$log/server.out" 2>/dev/null && break
        sleep 0.05
    done
    bench_metric $((SECS + 30)) echo_msgs_per_sec "$log/client.err" \
        taskset -c 0 "$client" "$PORT" "$CONNS" "$SECS" "$MSG"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    PORT=$((PORT + 1))
}

g=() o=()
for rep in $(seq "$REPS"); do
    bench_log "echo rep $rep/$REPS: gort"
    g+=("$(run_echo "$gort_srv")")
    bench_log "echo rep $rep/$REPS: go"
    o+=("$(run_echo "$go_srv")")
done

num() { printf '%s\n' "$@" | grep -v FAIL || true; }
gm=$(bench_median $(num "${g[@]}"))
om=$(bench_median $(num "${o[@]}"))
ratio=$(awk -v a="$gm" -v b="$om" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
{
    echo "| echo, ${MSG}-byte messages, $CONNS connections, GOMAXPROCS=1 | gort | Go | gort/Go | goal |"
    echo "|---|---:|---:|---:|---|"
    echo "| messages/s (median of $REPS) | $gm | $om | ${ratio}x | >= 1.5x Go |"
    echo
    echo "Runs: gort ${g[*]}; Go ${o[*]}. Server on CPU 1, client (bench/echo_client.c) on CPU 0, ${SECS}s each, alternating. $(go version | awk '{print $3}'), $(date -u +%F)."
} | tee "$OUT_DIR/echo.md"
