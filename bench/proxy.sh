#!/usr/bin/env bash
# proxy.sh — the reverse-proxy suite (issue 14): wrk through three proxies
# in front of the same upstream (the seed's Go program, bench/go/hello):
# gortd with proxy.so, nginx proxy_pass with upstream keepalive (one
# worker), and Go's httputil.ReverseProxy (tests/http/go_revproxy). The
# proxy runs alone on CPU 1 with GOMAXPROCS=1; the upstream and wrk share
# CPU 0. Reported: req/s and the proxy's CPU time per request (utime +
# stime from /proc over the run, divided by the requests wrk counted).
# proxy.so and nginx keep the same number of idle upstream connections
# (keepalive 64 in both; proxy.so's own default is 32): with -c 50 and 32,
# proxy.so dialed a new upstream connection for ~8% of the requests while
# nginx dialed none, which measured the dial, not the proxy.
# Besides the medians, the table's note gives the median of the per-rep
# ratios: gortd and nginx run back to back in each rep, so a rep whose
# machine was slow is slow for both, where the medians of each column can
# pair a slow rep's figure with a quick one's.
#
# gortd batches the sends of a scheduling round into one io_uring_enter
# (runtime/sendq.c); NOBATCH=1 adds a fourth run per rep with
# GORTSENDBATCH=0 (every send a system call), reported in the note, so one
# run shows what the batching is worth against the same machine's drift.
#
# Each measured run follows WARM seconds of the same wrk load (as
# bench/http.sh and bench/https.sh do): the first second after a start
# dials the upstream pool and faults in stacks and buffers, which a
# long-running proxy pays once, not per request.
#
# Knobs: REPS (3), SECS (5), CONNS (50), NOBATCH (0), WARM (1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-50}
NOBATCH=${NOBATCH:-0}
WARM=${WARM:-1}
PORT=${PORT:-19901}
UP_PORT=19899
LOGS=$OUT_DIR/logs/proxy
mkdir -p "$LOGS"

[ -x "$BUILD_DIR/server/gortd" ] || { bench_log "no gortd"; exit 1; }
gortd=$BUILD_DIR/server/gortd
hello_go=$OUT_DIR/hello_go
revproxy_go=$OUT_DIR/revproxy_go
bench_go_build hello "$hello_go"
(cd "$ROOT/tests/http/go_revproxy" && GOPROXY=off GOFLAGS= GO111MODULE=off \
    go build -o "$revproxy_go" main.go)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TICK=$(getconf CLK_TCK)

nginx_conf() { # PORT DIR
    cat <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $2/error.log;
pid $2/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
CONF
}

SRV_PID=
start_proxy() { # KIND PORT
    local kind=$1 port=$2 dir=$LOGS/$1
    mkdir -p "$dir"
    case $kind in
    gort|gort0) mkdir -p "$dir/plugins"
          cp "$BUILD_DIR/plugins/proxy.so" "$dir/plugins/"
          printf 'keepalive 64\n/ http://127.0.0.1:%s\n' "$UP_PORT" \
              >"$dir/plugins/proxy.conf"
          GORTSENDBATCH=$([ "$kind" = gort0 ] && echo 0 || echo 1) \
          GOMAXPROCS=1 taskset -c 1 "$gortd" --listen "127.0.0.1:$port" \
              --control "unix:$dir/ctl.sock" --quiet \
              --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 & ;;
    go) GOMAXPROCS=1 taskset -c 1 "$revproxy_go" "127.0.0.1:$port" \
            "http://127.0.0.1:$UP_PORT" >"$dir/out.log" 2>&1 & ;;
    nginx) nginx_conf "$port" "$dir" >"$dir/nginx.conf"
           taskset -c 1 "$NGINX" -c "$dir/nginx.conf" -p "$dir" \
               >"$dir/out.log" 2>&1 & ;;
    esac
    SRV_PID=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    bench_log "$kind did not start; $(tail -3 "$dir/out.log")"
    return 1
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }


# run PORT: "REQ_PER_S CPU_US_PER_REQ" for the proxy $SRV_PID.
run() {
    local before after out
    [ "$WARM" -gt 0 ] && taskset -c 0 wrk -t1 -c"$CONNS" -d"${WARM}s" \
        "http://127.0.0.1:$1/" >/dev/null 2>&1
    before=$(bench_cpu_ticks "$SRV_PID")
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$1/" 2>&1) ||
        { echo "FAIL FAIL"; return; }
    after=$(bench_cpu_ticks "$SRV_PID")
    awk -v t=$((after - before)) -v hz="$TICK" '
        /Requests\/sec/ { r = $2 }
        / requests in / { n = $1 }
        /Non-2xx|Socket errors/ { bad = "!" }
        END { if (r == "" || n == 0) print "FAIL FAIL";
              else printf "%s%s %.1f\n", r, bad, t * 1e6 / hz / n }' <<<"$out"
}

GOMAXPROCS=1 taskset -c 0 "$hello_go" "127.0.0.1:$UP_PORT" >"$LOGS/upstream.log" 2>&1 &
UP_PID=$!
trap 'stop_pid $UP_PID' EXIT

declare -A REQ CPU LAST
PAIRED=() # gortd/nginx CPU per request within each rep: robust to drift
KINDS="gort nginx go"
[ "$NOBATCH" = 1 ] && KINDS="gort nginx go gort0"
for rep in $(seq "$REPS"); do
    for kind in $KINDS; do
        port=$PORT; PORT=$((PORT + 1))
        bench_log "proxy rep $rep/$REPS: $kind"
        if start_proxy "$kind" "$port"; then
            read -r r c < <(run "$port")
        else
            r=FAIL c=FAIL
        fi
        stop_pid "$SRV_PID"
        REQ[$kind]="${REQ[$kind]:-} $r"
        CPU[$kind]="${CPU[$kind]:-} $c"
        LAST[$kind]=$c
    done
    case "${LAST[gort]} ${LAST[nginx]}" in
    *FAIL*) ;;
    *) PAIRED+=("$(bench_ratio "${LAST[gort]}" "${LAST[nginx]}")") ;;
    esac
done

med() { bench_median $(printf '%s\n' $1 | tr -d '!' | grep -v FAIL || echo 0); }
{
    g=$(med "${REQ[gort]}") n=$(med "${REQ[nginx]}") o=$(med "${REQ[go]}")
    echo "| reverse proxy, one CPU, -c $CONNS | gortd proxy.so | nginx proxy_pass | Go ReverseProxy | gortd/nginx | gortd/Go |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| req/s | $g | $n | $o | $(bench_ratio "$g" "$n")x | $(bench_ratio "$g" "$o")x |"
    g=$(med "${CPU[gort]}") n=$(med "${CPU[nginx]}") o=$(med "${CPU[go]}")
    echo "| proxy CPU µs per request (lower is better) | $g | $n | $o | $(bench_ratio "$g" "$n")x | $(bench_ratio "$g" "$o")x |"
    echo
    echo "gortd/nginx CPU per request, paired within each rep: median $(bench_median "${PAIRED[@]:-0}") (per rep: ${PAIRED[*]:-none})."
    if [ "$NOBATCH" = 1 ]; then
        echo
        echo "gortd with GORTSENDBATCH=0 (every send a system call): CPU µs per request median $(med "${CPU[gort0]}"), req/s $(med "${REQ[gort0]}")."
    fi
    echo
    echo "Medians of $REPS runs of ${SECS}s (after ${WARM}s of warm-up). Raw: $(for k in $KINDS; do printf '%s req/s:%s cpu:%s; ' "$k" "${REQ[$k]}" "${CPU[$k]}"; done)"
} | tee "$OUT_DIR/proxy.md"
