#!/usr/bin/env bash
# plugins.sh — swapping handler code under load: gortd's hot plugin replace
# against nginx's configuration reload (the nginx way to change what it
# serves: new workers, old ones drain), side by side in one run.
#
# Each server (one worker / GOMAXPROCS=1, pinned to CPU 1) serves "/" to
# wrk -t1 -c$CONNS on CPU 0 for $SECS s twice: once quietly (baseline), once
# while a loop on CPU 0 swaps the code every $EVERY s (gortd: `gortctl
# plugins replace hello`; nginx: `nginx -s reload`). Reported: req/s while
# swapping relative to the baseline, failed requests (non-2xx + socket
# errors) while swapping, and how many swaps ran. A swap's own latency is
# gortctl's "in …" figure (the server's side) for gortd; nginx's reload is
# asynchronous, so only the count is comparable there.
#
#   bash bench/plugins.sh            (SECS=5 CONNS=50 EVERY=0.1 by default)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECS=${SECS:-5}
CONNS=${CONNS:-50}
EVERY=${EVERY:-0.1}
LOGS=$OUT_DIR/plugins
rm -rf "$LOGS"
mkdir -p "$LOGS"
gortd=$BUILD_DIR/server/gortd
gortctl=$BUILD_DIR/client/gortctl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PORT=18690

nginx_conf() { # DIR
    cat <<CONF
worker_processes 1;
daemon off;
error_log $1/error.log;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    server {
        listen 127.0.0.1:$PORT;
        location = / { default_type application/json; return 200 "hello world\n"; }
    }
}
CONF
}

SRV_PID=
start() { # KIND
    local dir=$LOGS/$1
    mkdir -p "$dir/plugins"
    case $1 in
    gort) install -m 0644 "$BUILD_DIR/plugins/hello.so" "$dir/plugins/"
          GOMAXPROCS=1 taskset -c 1 "$gortd" --listen "127.0.0.1:$PORT" \
              --control "unix:$dir/ctl.sock" --quiet \
              --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 & ;;
    nginx) nginx_conf "$dir" >"$dir/nginx.conf"
           taskset -c 1 "$NGINX" -c "$dir/nginx.conf" -p "$dir" \
               >"$dir/out.log" 2>&1 & ;;
    esac
    SRV_PID=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    bench_log "$1 did not start: $(tail -3 "$dir/out.log")"
    return 1
}

stop() {
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}
trap stop EXIT

swap() { # KIND
    case $1 in
    gort) taskset -c 0 "$gortctl" --addr "unix:$LOGS/gort/ctl.sock" \
              plugins replace hello ;;
    nginx) taskset -c 0 "$NGINX" -c "$LOGS/nginx/nginx.conf" -p "$LOGS/nginx" \
               -s reload 2>/dev/null && echo reloaded ;;
    esac
}

# wrk_run: prints "REQS FAILED".
wrk_run() {
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PORT/" |
        awk '/Requests\/sec/ { r = $2 }
             /Non-2xx/ { f += $NF }
             /Socket errors/ { gsub(/,/, ""); f += $4 + $6 + $8 + $10 }
             END { printf "%s %d\n", r, f }'
}

declare -A BASE LOADED FAILED SWAPS TOOK
for kind in gort nginx; do
    start "$kind"
    read -r BASE[$kind] _ < <(wrk_run)
    swaps=$LOGS/$kind.swaps
    (end=$((SECONDS + SECS)); while [ $SECONDS -lt $end ]; do
        swap "$kind" >>"$swaps" 2>&1 || echo "swap failed" >>"$swaps"
        sleep "$EVERY"
    done) &
    loop=$!
    read -r LOADED[$kind] FAILED[$kind] < <(wrk_run)
    wait "$loop"
    SWAPS[$kind]=$(grep -c -E '^(replaced|reloaded)' "$swaps" || true)
    TOOK[$kind]=$(grep -o 'in [0-9.]*[µm]*s$' "$swaps" | awk '{print $2}' |
                  sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }' || true)
    if grep -q "swap failed" "$swaps"; then
        bench_log "$kind: some swaps failed (see $swaps)"
    fi
    stop
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
    echo "| swapping code under wrk -t1 -c$CONNS, one worker on CPU 1 | gortd (plugins replace) | nginx (-s reload) |"
    echo "|---|---:|---:|"
    echo "| req/s, quiet | ${BASE[gort]} | ${BASE[nginx]} |"
    echo "| req/s, swapping every ${EVERY}s | ${LOADED[gort]} | ${LOADED[nginx]} |"
    echo "| swapping / quiet | $(ratio "${LOADED[gort]}" "${BASE[gort]}")x | $(ratio "${LOADED[nginx]}" "${BASE[nginx]}")x |"
    echo "| swaps done in ${SECS}s | ${SWAPS[gort]} | ${SWAPS[nginx]} |"
    echo "| failed requests while swapping | ${FAILED[gort]} | ${FAILED[nginx]} |"
    echo "| one swap, server side (median) | ${TOOK[gort]} | (asynchronous) |"
    echo
    echo "$("$NGINX" -v 2>&1 | awk -F/ '{print "nginx " $2}'), $(date -u +%F), ${SECS}s per run."
} | tee "$OUT_DIR/plugins.md"
