#!/usr/bin/env bash
# http.sh — the HTTP suite (issue 4): wrk against gortd (hello plugin), the
# seed's Go program (bench/go/hello, net/http) and nginx (one worker,
# `return 200`), alternating, server pinned to CPU 1 and wrk to CPU 0, at
# -c 50 and -c 256. Then memory per idle keep-alive connection: 10,000 of
# them (bench/idle_conns.c), server RSS before and after.
#
# Knobs: REPS (3), SECS (5), CONNS ("50 256"), IDLE (10000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-"50 256"}
IDLE=${IDLE:-10000}
PORT=${PORT:-19801}
LOGS=$OUT_DIR/logs/http
mkdir -p "$LOGS"

gortd=$(bench_c_binary gortd 2>/dev/null || true)
[ -x "$BUILD_DIR/server/gortd" ] || { bench_log "no gortd"; exit 1; }
gortd=$BUILD_DIR/server/gortd
idle_bin=$(bench_c_binary idle_conns)
go_bin=$OUT_DIR/hello_go
bench_log "building $go_bin"
bench_go_build hello "$go_bin"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

nginx_conf() { # PORT DIR
    cat <<CONF
worker_processes 1;
daemon off;
master_process off;
worker_rlimit_nofile 30000;
error_log $2/error.log;
pid $2/nginx.pid;
events { worker_connections 30000; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$1 reuseport;
        location = / { default_type application/json; return 200 "hello world\n"; }
    }
}
CONF
}

SRV_PID=
start_server() { # KIND PORT
    local kind=$1 port=$2 dir=$LOGS/$1
    mkdir -p "$dir"
    case $kind in
    gort) GOMAXPROCS=1 taskset -c 1 "$gortd" --listen "127.0.0.1:$port" \
              --control "unix:$dir/ctl.sock" --quiet --max-conns 30000 \
              --plugins-dir "$BUILD_DIR/plugins" \
              >"$dir/out.log" 2>&1 & ;;
    go) GOMAXPROCS=1 taskset -c 1 "$go_bin" "127.0.0.1:$port" >"$dir/out.log" 2>&1 & ;;
    nginx) nginx_conf "$port" "$dir" >"$dir/nginx.conf"
           taskset -c 1 "$NGINX" -c "$dir/nginx.conf" -p "$dir" >"$dir/out.log" 2>&1 & ;;
    esac
    SRV_PID=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    bench_log "$kind did not start; $(tail -3 "$dir/out.log")"
    return 1
}

stop_server() {
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
}

# wrk_run PORT CONNS: prints "REQS P99_US" or "FAIL FAIL".
wrk_run() {
    local out
    out=$(taskset -c 0 wrk -t1 -c"$2" -d"${SECS}s" --latency \
          "http://127.0.0.1:$1/" 2>&1) || { echo "FAIL FAIL"; return; }
    awk '
        /Requests\/sec/ { r = $2 }
        $1 == "99%" { v = $2; u = 1
            if (v ~ /us$/) { u = 1 } else if (v ~ /ms$/) { u = 1000 } else if (v ~ /s$/) { u = 1000000 }
            sub(/[a-z]+$/, "", v); p = v * u }
        / [0-9]+ requests in/ { }
        /Non-2xx|Socket errors/ { bad = 1 }
        END { if (r == "") print "FAIL FAIL"; else printf "%s %.0f%s\n", r, p, bad ? "!" : "" }' <<<"$out"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# idle_run KIND: bytes per idle keep-alive connection.
idle_run() {
    local kind=$1 port=$PORT
    PORT=$((PORT + 1))
    start_server "$kind" "$port" || { echo FAIL; return; }
    sleep 0.3
    local before after fifo=$LOGS/idle.fifo
    before=$(rss_kib "$SRV_PID")
    rm -f "$fifo"; mkfifo "$fifo"
    "$idle_bin" "$port" "$IDLE" <"$fifo" >"$LOGS/idle.out" 2>&1 &
    local cpid=$!
    exec 7>"$fifo"
    for _ in $(seq 600); do
        grep -q ready "$LOGS/idle.out" 2>/dev/null && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.5
    if grep -q ready "$LOGS/idle.out"; then
        after=$(rss_kib "$SRV_PID")
        awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.0f\n", (a - b) * 1024 / n }'
    else
        echo FAIL
    fi
    exec 7>&-
    wait "$cpid" 2>/dev/null || true
    rm -f "$fifo"
    stop_server
}

declare -A REQ P99
for c in $CONNS; do
    for rep in $(seq "$REPS"); do
        for kind in gort go nginx; do
            port=$PORT; PORT=$((PORT + 1))
            bench_log "http c=$c rep $rep/$REPS: $kind"
            if start_server "$kind" "$port"; then
                read -r r p < <(wrk_run "$port" "$c")
            else
                r=FAIL p=FAIL
            fi
            stop_server
            REQ[$kind.$c]="${REQ[$kind.$c]:-} $r"
            P99[$kind.$c]="${P99[$kind.$c]:-} $p"
        done
    done
done

declare -A IDLEB
for kind in gort go nginx; do
    bench_log "idle connections: $kind"
    IDLEB[$kind]=$(idle_run "$kind")
done

med() { bench_median $(printf '%s\n' $1 | tr -d '!' | grep -v FAIL || echo 0); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
    echo "| HTTP, GOMAXPROCS=1, server on CPU 1, wrk -t1 on CPU 0 | gortd | Go net/http | nginx | gortd/Go | gortd/nginx |"
    echo "|---|---:|---:|---:|---:|---:|"
    for c in $CONNS; do
        g=$(med "${REQ[gort.$c]}") o=$(med "${REQ[go.$c]}") n=$(med "${REQ[nginx.$c]}")
        echo "| req/s, -c $c | $g | $o | $n | $(ratio "$g" "$o")x | $(ratio "$g" "$n")x |"
        g=$(med "${P99[gort.$c]}") o=$(med "${P99[go.$c]}") n=$(med "${P99[nginx.$c]}")
        echo "| p99 latency µs, -c $c (lower is better) | $g | $o | $n | $(ratio "$g" "$o")x | $(ratio "$g" "$n")x |"
    done
    echo "| bytes per idle keep-alive connection ($IDLE) | ${IDLEB[gort]} | ${IDLEB[go]} | ${IDLEB[nginx]} | $(ratio "${IDLEB[gort]}" "${IDLEB[go]}")x | $(ratio "${IDLEB[gort]}" "${IDLEB[nginx]}")x |"
    echo
    echo "Medians of $REPS runs of ${SECS}s, servers alternating. Raw req/s: $(for c in $CONNS; do for k in gort go nginx; do printf '%s c%s:%s; ' "$k" "$c" "${REQ[$k.$c]}"; done; done)"
    echo "$(go version | awk '{print $3}'), $("$NGINX" -v 2>&1 | awk -F/ '{print "nginx " $2}'), $(date -u +%F). A '!' in raw data marks a run with socket errors or non-2xx responses."
} | tee "$OUT_DIR/http.md"
