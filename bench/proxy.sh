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
#
# How a rep runs. This machine's speed drifts by +-10% within seconds, and
# a proxy's CPU per request also differs from one process start to the
# next (how its rounds line up with the upstream's). So each rep starts
# every proxy once, on its own port (an unloaded one sleeps in epoll), and
# then takes ALT turns: each proxy in turn gets WARM seconds of wrk, then
# SECS measured. A rep's figure is its proxy's ticks over its requests,
# summed over its turns; gortd and nginx alternate within seconds of each
# other, so a slow patch of the machine falls on both. The warm-up is as
# in bench/http.sh and bench/https.sh: after a start or a pause the first
# second dials the upstream pool and faults in stacks and buffers, which
# a long-running proxy pays once, not per request.
# Besides the medians, the table's note gives the median of the per-rep
# ratios, gortd/nginx within each rep, and how many reps were below 1.
#
# gortd batches the sends of a scheduling round into one io_uring_enter
# (runtime/sendq.c); NOBATCH=1 adds gortd with GORTSENDBATCH=0 (every send
# a system call) to each rep's turns, reported in the note, so one run
# shows what the batching is worth against the same machine's drift.
#
# Knobs: REPS (3), ALT (2), SECS (3), CONNS (50), NOBATCH (0), WARM (1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
ALT=${ALT:-2}
SECS=${SECS:-3}
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


# run PORT PID: "REQ_PER_S TICKS REQUESTS" for the proxy PID on PORT: its
# CPU ticks over one wrk run and the requests wrk counted.
run() {
    local before after out
    if [ "$WARM" -gt 0 ]; then
        taskset -c 0 wrk -t1 -c"$CONNS" -d"${WARM}s" \
            "http://127.0.0.1:$1/" >/dev/null 2>&1 || true
    fi
    before=$(bench_cpu_ticks "$2")
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$1/" 2>&1) ||
        { echo "FAIL FAIL FAIL"; return; }
    after=$(bench_cpu_ticks "$2")
    awk -v t=$((after - before)) '
        /Requests\/sec/ { r = $2 }
        / requests in / { n = $1 }
        /Non-2xx|Socket errors/ { bad = "!" }
        END { if (r == "" || n == 0) print "FAIL FAIL FAIL";
              else printf "%s%s %d %d\n", r, bad, t, n }' <<<"$out"
}

GOMAXPROCS=1 taskset -c 0 "$hello_go" "127.0.0.1:$UP_PORT" >"$LOGS/upstream.log" 2>&1 &
UP_PID=$!
declare -A PID PORTOF
stop_all() { for k in "${!PID[@]}"; do stop_pid "${PID[$k]}"; done; PID=(); }
trap 'stop_all; stop_pid $UP_PID' EXIT

declare -A REQ CPU
PAIRED=() # gortd/nginx CPU per request within each rep: robust to drift
KINDS="gort nginx go"
[ "$NOBATCH" = 1 ] && KINDS="gort nginx go gort0"
for rep in $(seq "$REPS"); do
    declare -A TK=() NR=() RS=()
    for kind in $KINDS; do
        port=$PORT; PORT=$((PORT + 1))
        if start_proxy "$kind" "$port"; then
            PID[$kind]=$SRV_PID PORTOF[$kind]=$port
        else
            stop_pid "$SRV_PID" # it may run without answering
        fi
    done
    for alt in $(seq "$ALT"); do
        for kind in $KINDS; do
            [ -n "${PID[$kind]:-}" ] || { RS[$kind]=FAIL; continue; }
            [ "${RS[$kind]:-}" = FAIL ] && continue
            bench_log "proxy rep $rep/$REPS, turn $alt/$ALT: $kind"
            read -r r t n < <(run "${PORTOF[$kind]}" "${PID[$kind]}") ||
                r=FAIL
            if [ "$r" = FAIL ]; then
                RS[$kind]=FAIL
                continue
            fi
            TK[$kind]=$(( ${TK[$kind]:-0} + t ))
            NR[$kind]=$(( ${NR[$kind]:-0} + n ))
            RS[$kind]="${RS[$kind]:-} $r"
        done
    done
    stop_all
    declare -A LAST=()
    for kind in $KINDS; do
        if [ "${RS[$kind]:-FAIL}" = FAIL ]; then
            r=FAIL c=FAIL
        else
            r=$(printf '%s\n' ${RS[$kind]} | tr -d '!' |
                awk '{ s += $1 } END { printf "%.2f", s / NR }')
            [[ "${RS[$kind]}" == *'!'* ]] && r="$r!"
            c=$(awk -v t="${TK[$kind]}" -v n="${NR[$kind]}" -v hz="$TICK" \
                'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
        fi
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
    below=$(printf '%s\n' "${PAIRED[@]:-}" | awk '$1 == $1 + 0 && $1 < 1 { b++ } END { print b + 0 }')
    echo "gortd/nginx CPU per request, paired within each rep: median $(bench_median "${PAIRED[@]:-0}"), below 1 in $below of ${#PAIRED[@]} reps (per rep: ${PAIRED[*]:-none})."
    if [ "$NOBATCH" = 1 ]; then
        echo
        echo "gortd with GORTSENDBATCH=0 (every send a system call): CPU µs per request median $(med "${CPU[gort0]}"), req/s $(med "${REQ[gort0]}")."
    fi
    echo
    echo "Medians of $REPS reps; each rep started every proxy once and gave each $ALT turns of ${SECS}s (each after ${WARM}s of warm-up). Raw: $(for k in $KINDS; do printf '%s req/s:%s cpu:%s; ' "$k" "${REQ[$k]}" "${CPU[$k]}"; done)"
} | tee "$OUT_DIR/proxy.md"
