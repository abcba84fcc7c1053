#!/usr/bin/env bash
# spin.sh — "when a handler misbehaves" (issue 11): the latency of GET
# /about while /spin handlers compute for SPIN_MS without a scheduling
# point, in gortd (tests/plugin/fixtures/spin.c, built as tp_spin.so) and in
# Go net/http with the same two handlers (bench/go/spin), at GOMAXPROCS=1
# with one spin and GOMAXPROCS=2 with two. Servers pinned as in http.sh
# (bench_cpus); the client (spin_client.py) is not. Prints a table of
# /about latency percentiles in ms, measured only while every spin still ran.
#
# Knobs: REPS (3: rounds per cell, the table shows the median round),
# SPIN_MS (2000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
SPIN_MS=${SPIN_MS:-2000}
LOGS=$OUT_DIR/logs/spin
mkdir -p "$LOGS"
PY=/usr/bin/python3

cmake --build "$BUILD_DIR" --target gortd tp_spin -j "$(nproc)" \
    >"$OUT_DIR/build-spin.log" 2>&1 || { tail -20 "$OUT_DIR/build-spin.log" >&2; exit 1; }
gortd=$BUILD_DIR/server/gortd
spin_dir=$BUILD_DIR/tests/plugin/so-spin
go_bin=$OUT_DIR/spin_go
bench_log "building $go_bin"
bench_go_build spin "$go_bin"

# start_server NAME PROCS LOG: starts it pinned, prints "PID PORT".
start_server() {
    local cpus; cpus=$(bench_cpus "$2")
    if [ "$1" = gortd ]; then
        GOMAXPROCS=$2 taskset -c "$cpus" "$gortd" --listen 127.0.0.1:0 \
            --control "unix:$LOGS/ctl.sock" --plugins-dir "$spin_dir" \
            --quiet >"$3" 2>&1 &
    else
        GOMAXPROCS=$2 taskset -c "$cpus" "$go_bin" 127.0.0.1:0 >"$3" 2>&1 &
    fi
    local pid=$! port=""
    for _ in $(seq 200); do
        port=$(grep -oE '(serving HTTP.*addr=|listening on )[^ ]*:[0-9]+' "$3" \
            | grep -oE '[0-9]+$' | head -1 || true)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { bench_log "$1 did not start:"; cat "$3" >&2; kill "$pid"; return 1; }
    echo "$pid $port"
}

declare -A cell
for procs in 1 2; do
    for server in go gortd; do
        rounds=()
        for rep in $(seq "$REPS"); do
            log=$LOGS/$server-p$procs-$rep.log
            read -r pid port < <(start_server "$server" "$procs" "$log")
            line=$($PY "$BENCH_DIR/spin_client.py" "$port" "$procs" "$SPIN_MS")
            kill "$pid"; wait "$pid" 2>/dev/null || true
            bench_log "$server GOMAXPROCS=$procs round $rep: $line"
            rounds+=("$(echo "$line" | grep -oE 'p50=[0-9.]+' | cut -d= -f2) $line")
        done
        # the median round by p50
        cell[$server,$procs]=$(printf '%s\n' "${rounds[@]}" | sort -g | \
            awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }' | cut -d' ' -f2-)
    done
done

printf '\n/about latency (ms) during %d ms spins, median of %d rounds\n' "$SPIN_MS" "$REPS"
printf '%-28s %-44s %s\n' "case" "Go 1.19 net/http" "gortd"
for procs in 1 2; do
    printf '%-28s %-44s %s\n' "GOMAXPROCS=$procs, $procs spin(s)" \
        "${cell[go,$procs]}" "${cell[gortd,$procs]}"
done
