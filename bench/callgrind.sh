#!/usr/bin/env bash
# callgrind.sh — user-space instructions and cache misses per proxied
# request: gortd with proxy.so and nginx proxy_pass (upstream keepalive, one
# worker), each under valgrind's callgrind in front of the seed's Go hello
# server, driven by wrk -c50. Counting starts after a 2 s warm-up
# (callgrind_control -z) and ends with a dump, so start-up is not in the
# figures. Instruction counts do not depend on the machine's load, which is
# why proxy changes were checked with them (bench/proxy.sh gives the time).
#
# Knobs: SECS (6, the counted run), CACHE (1: simulate the caches too).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${SECS:-6}
CACHE=${CACHE:-1}
UP_PORT=19899
PORT=19931
LOGS=$OUT_DIR/logs/callgrind
mkdir -p "$LOGS"
command -v valgrind >/dev/null || { bench_log "no valgrind"; exit 1; }
gortd=$BUILD_DIR/server/gortd
[ -x "$gortd" ] || { bench_log "no gortd"; exit 1; }
hello_go=$OUT_DIR/hello_go
bench_go_build hello "$hello_go"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
VG=(valgrind --tool=callgrind)
[ "$CACHE" = 1 ] && VG+=(--cache-sim=yes)

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT

# measure KIND PORT: wrk against a server already under callgrind; prints
# "KIND requests Ir/req [I1mr D1mr D1mw per request]".
measure() {
    local kind=$1 port=$2 out=$LOGS/$1.cg n
    for _ in $(seq 120); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        sleep 0.5
    done
    taskset -c 0 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -z "${PIDS[-1]}" >/dev/null
    n=$(taskset -c 0 wrk -t1 -c50 -d"${SECS}s" "http://127.0.0.1:$port/" |
        awk '/requests in/ {print $1}')
    callgrind_control -d "${PIDS[-1]}" >/dev/null
    kill -INT "${PIDS[-1]}"
    wait "${PIDS[-1]}" 2>/dev/null || true
    # The dump holds the counts since the zeroing; its summary line gives
    # the events in the order of its "events:" line.
    local f
    f=$(ls -t "$out".* | head -1)
    awk -v n="$n" -v k="$kind" '
        /^events:/ { for (i = 2; i <= NF; i++) ev[i - 1] = $i; ne = NF - 1 }
        /^summary:/ { for (i = 2; i <= NF; i++) t[ev[i - 1]] = $i }
        END {
            printf "%s requests %d Ir/req %.0f", k, n, t["Ir"] / n
            if ("I1mr" in t)
                printf " I1mr/req %.0f D1mr/req %.0f D1mw/req %.0f",
                    t["I1mr"] / n, t["D1mr"] / n, t["D1mw"] / n
            printf "\n"
        }' "$f"
}

GOMAXPROCS=1 taskset -c 0 "$hello_go" "127.0.0.1:$UP_PORT" \
    >"$LOGS/upstream.log" 2>&1 &
PIDS+=($!)

dir=$LOGS/gort
mkdir -p "$dir/plugins"
cp "$BUILD_DIR/plugins/proxy.so" "$dir/plugins/"
printf 'keepalive 64\n/ http://127.0.0.1:%s\n' "$UP_PORT" >"$dir/plugins/proxy.conf"
rm -f "$LOGS"/gort.cg.*
GOMAXPROCS=1 taskset -c 1 "${VG[@]}" --callgrind-out-file="$LOGS/gort.cg" \
    "$gortd" --listen "127.0.0.1:$PORT" --control "unix:$dir/ctl.sock" \
    --quiet --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 &
PIDS+=($!)
measure gort "$PORT"

dir=$LOGS/nginx
mkdir -p "$dir"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$((PORT + 1));
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
CONF
rm -f "$LOGS"/nginx.cg.*
taskset -c 1 "${VG[@]}" --callgrind-out-file="$LOGS/nginx.cg" \
    "$NGINX" -c "$dir/nginx.conf" -p "$dir" >"$dir/out.log" 2>&1 &
PIDS+=($!)
measure nginx $((PORT + 1))
