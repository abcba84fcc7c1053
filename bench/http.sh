#!/usr/bin/env bash
# http.sh — the HTTP suite (issues 4 and 12): wrk against gortd (hello
# plugin), the seed's Go program (bench/go/hello, net/http) and nginx (one
# worker, `return 200`, keepalive_requests unlimited), side by side in one
# run: the server pinned to SRV_CPUS (CPU 0), wrk -t1 pinned to WRK_CPU
# (CPU 1), at -c 50 and -c 256, hello world over keep-alive.
#
# This VM's speed drifts between rounds (±25 %), so absolute figures from
# different rounds do not compare. Each round runs the three servers back
# to back at each concurrency, and the ratios gortd/nginx and gortd/Go are
# taken within the round; the table gives the median of each absolute and
# the median of each round's ratio (a measured value, never a mean).
#
# Per server and round:
#   req/s, p50 and p99 latency   wrk --latency
#   server CPU µs per request    utime+stime of the whole server process
#                                (/proc/PID/stat, every thread; in clock
#                                ticks) over the wrk run, / requests
#   system calls per request     a second, shorter wrk run under `perf
#                                stat -e raw_syscalls:sys_enter,...` (or
#                                `strace -c -f` where perf's tracepoints are
#                                not readable): counts, not time, so the
#                                tracer's overhead does not matter
# Then memory per idle keep-alive connection: IDLE of them
# (bench/idle_conns.c), server RSS before and after.
#
# Knobs: ROUNDS (5), SECS (5), WARM (1: seconds of wrk before measuring),
# SYS_SECS (2), CONNS ("50 256"), PROCS (1: GOMAXPROCS and nginx workers),
# SRV_CPUS (0), WRK_CPU (1), IDLE (10000; 0 skips), KINDS ("gort nginx go"),
# GORTD (the gortd binary; default the build tree's).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
WARM=${WARM:-1}
SYS_SECS=${SYS_SECS:-2}
CONNS=${CONNS:-"50 256"}
PROCS=${PROCS:-1}
SRV_CPUS=${SRV_CPUS:-0}
WRK_CPU=${WRK_CPU:-1}
IDLE=${IDLE:-10000}
KINDS=${KINDS:-"gort nginx go"}
PORT=${PORT:-19801}
LOGS=$OUT_DIR/logs/http
mkdir -p "$LOGS"

if [ -z "${GORTD:-}" ]; then
    bench_c_binary gortd >/dev/null 2>&1 || true
    GORTD=$BUILD_DIR/server/gortd
fi
[ -x "$GORTD" ] || { bench_log "no gortd at $GORTD"; exit 1; }
idle_bin=
[ "$IDLE" -gt 0 ] && idle_bin=$(bench_c_binary idle_conns)
go_bin=$OUT_DIR/hello_go
bench_log "building $go_bin"
bench_go_build hello "$go_bin"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
TCK=$(getconf CLK_TCK)

nginx_conf() { # PORT DIR
    cat <<CONF
worker_processes $PROCS;
daemon off;
master_process $([ "$PROCS" -gt 1 ] && echo on || echo off);
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
    gort) GOMAXPROCS=$PROCS taskset -c "$SRV_CPUS" "$GORTD" \
              --listen "127.0.0.1:$port" --control "unix:$dir/ctl.sock" \
              --quiet --max-conns 30000 --plugins-dir "$BUILD_DIR/plugins" \
              >"$dir/out.log" 2>&1 & ;;
    go) GOMAXPROCS=$PROCS taskset -c "$SRV_CPUS" "$go_bin" "127.0.0.1:$port" \
            >"$dir/out.log" 2>&1 & ;;
    nginx) nginx_conf "$port" "$dir" >"$dir/nginx.conf"
           taskset -c "$SRV_CPUS" "$NGINX" -c "$dir/nginx.conf" -p "$dir" \
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

stop_server() {
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
}

# The process doing the serving: nginx with a master forks its workers,
# and their CPU time is not in the master's utime until they exit. Prints
# the PIDs whose CPU time counts.
server_pids() {
    local kids
    kids=$(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null | tr -s ' \n' ' ')
    echo "$SRV_PID $kids"
}

# wrk_run PORT CONNS SECS: prints "REQS RPS P50_US P99_US" (FAIL on error).
wrk_run() {
    local out
    out=$(taskset -c "$WRK_CPU" wrk -t1 -c"$2" -d"$3s" --latency \
          "http://127.0.0.1:$1/" 2>&1) || { echo "FAIL FAIL FAIL FAIL"; return; }
    awk '
        function us(v,   u) { u = 1
            if (v ~ /us$/) u = 1; else if (v ~ /ms$/) u = 1000; else if (v ~ /s$/) u = 1000000
            sub(/[a-z]+$/, "", v); return v * u }
        / requests in / { n = $1 }
        /Requests\/sec/ { r = $2 }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        /Non-2xx|Socket errors/ { bad = 1 }
        END { if (r == "" || bad) print "FAIL FAIL FAIL FAIL"
              else printf "%d %.0f %.0f %.0f\n", n, r, p50, p99 }' <<<"$out"
}

# Tracepoints readable? (perf_event_paranoid, tracefs permissions)
PERF_OK=0
if command -v perf >/dev/null 2>&1 &&
   perf stat -e 'raw_syscalls:sys_enter' -- true >/dev/null 2>&1; then
    PERF_OK=1
fi
# The total from raw_syscalls:sys_enter (every system call), and the ones
# worth naming: opening all ~350 syscalls:sys_enter_* tracepoints per
# thread takes perf longer than a short run on a loaded machine.
SYS_NAMES="read readv recvfrom recvmsg write writev sendto sendmsg
epoll_wait epoll_pwait epoll_pwait2 epoll_ctl futex nanosleep
clock_nanosleep sched_yield accept4 close setsockopt getsockopt fcntl
mprotect madvise mmap munmap getpid tgkill rt_sigreturn"
SYS_EVENTS=raw_syscalls:sys_enter
if [ "$PERF_OK" = 1 ]; then
    for n in $SYS_NAMES; do
        perf list "syscalls:sys_enter_$n" 2>/dev/null | grep -q Tracepoint &&
            SYS_EVENTS="$SYS_EVENTS,syscalls:sys_enter_$n"
    done
fi

# sys_run PORT CONNS: system calls per request over a SYS_SECS wrk run,
# and the most frequent ("2.01 writev=1.00,read=1.00,..."). With perf, wrk
# is perf's workload: the counters are on before its first request.
sys_run() {
    local port=$1 c=$2 pids req top total out=$LOGS/sys.out wout=$LOGS/sys.wrk
    pids=$(server_pids | tr ' ' '\n' | grep . | paste -sd, -)
    local wrk_cmd=(taskset -c "$WRK_CPU" wrk -t1 -c"$c" -d"${SYS_SECS}s"
                   "http://127.0.0.1:$port/")
    if [ "$PERF_OK" = 1 ]; then
        perf stat -x, -e "$SYS_EVENTS" -p "$pids" -o "$out" -- \
            "${wrk_cmd[@]}" >"$wout" 2>&1 || true
        total=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$out")
        top=$(awk -F, '$1 ~ /^[0-9]+$/ && $1 > 0 && $3 ~ /sys_enter_/ {
                  e = $3; sub(/.*sys_enter_/, "", e); print $1, e }' "$out")
    else
        local spids=()
        for p in ${pids//,/ }; do spids+=(-p "$p"); done
        strace -c -f -o "$out" "${spids[@]}" >/dev/null 2>&1 &
        local tpid=$!
        sleep 0.5
        "${wrk_cmd[@]}" >"$wout" 2>&1 || true
        kill -INT "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null || true
        top=$(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
                  print $4, $NF }' "$out")
        total=$(awk '{ s += $1 } END { print s }' <<<"$top")
    fi
    req=$(awk '/ requests in / { print $1 }' "$wout")
    if [ -z "$req" ] || [ -z "$total" ] || grep -q "Socket errors\|Non-2xx" "$wout"; then
        echo "FAIL -"; return
    fi
    awk -v t="$total" -v n="$req" 'BEGIN { printf "%.2f ", t / n }'
    sort -rn <<<"$top" | head -4 |
        awk -v n="$req" '{ printf "%s%s=%.2f", (NR > 1 ? "," : ""), $2, $1 / n }'
    echo
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# idle_run KIND: bytes per idle keep-alive connection.
idle_run() {
    local kind=$1 port=$PORT
    PORT=$((PORT + 1))
    start_server "$kind" "$port" || { echo FAIL; return; }
    sleep 0.3
    local pid before after fifo=$LOGS/idle.fifo
    pid=$(server_pids | awk '{ print $NF }') # nginx: its worker
    before=$(rss_kib "$pid")
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
        after=$(rss_kib "$pid")
        awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.0f\n", (a - b) * 1024 / n }'
    else
        echo FAIL
    fi
    exec 7>&-
    wait "$cpid" 2>/dev/null || true
    rm -f "$fifo"
    stop_server
}

# R[kind.c.metric] = space-separated values, one per round; X[...] ratios.
declare -A R X
add() { R[$1]="${R[$1]:-} $2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.3f", a / b; else print "FAIL" }'; }
med() { local v; v=$(printf '%s\n' $1 | grep -v FAIL | grep .) || { echo "-"; return; }; bench_median $v; }

for round in $(seq "$ROUNDS"); do
    for c in $CONNS; do
        declare -A cur=()
        for kind in $KINDS; do
            port=$PORT; PORT=$((PORT + 1))
            bench_log "http round $round/$ROUNDS c=$c: $kind"
            n=FAIL rps=FAIL p50=FAIL p99=FAIL cpu=FAIL sys="FAIL -"
            if start_server "$kind" "$port"; then
                [ "$WARM" -gt 0 ] && wrk_run "$port" "$c" "$WARM" >/dev/null
                pids=$(server_pids)
                t0=$(bench_cpu_ticks $pids)
                read -r n rps p50 p99 < <(wrk_run "$port" "$c" "$SECS")
                t1=$(bench_cpu_ticks $pids)
                [ "$n" != FAIL ] && cpu=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v n="$n" \
                    'BEGIN { printf "%.2f", t * 1e6 / k / n }')
                sys=$(sys_run "$port" "$c")
            fi
            stop_server
            add "$kind.$c.rps" "$rps"; add "$kind.$c.p50" "$p50"
            add "$kind.$c.p99" "$p99"; add "$kind.$c.cpu" "$cpu"
            add "$kind.$c.sys" "${sys%% *}"
            R[$kind.$c.systop]="${sys#* }"
            cur[$kind.rps]=$rps cur[$kind.p99]=$p99 cur[$kind.cpu]=$cpu
            cur[$kind.sys]=${sys%% *}
        done
        for other in nginx go; do
            for m in rps p99 cpu sys; do
                X[$other.$c.$m]="${X[$other.$c.$m]:-} $(ratio "${cur[gort.$m]:-FAIL}" "${cur[$other.$m]:-FAIL}")"
            done
        done
        unset cur
    done
done

declare -A IDLEB
if [ "$IDLE" -gt 0 ]; then
    for kind in $KINDS; do
        bench_log "idle connections: $kind"
        IDLEB[$kind]=$(idle_run "$kind")
    done
fi

{
    echo "| HTTP hello, GOMAXPROCS=$PROCS / $PROCS nginx worker(s), server on CPU $SRV_CPUS, wrk -t1 on CPU $WRK_CPU | gortd | nginx | Go net/http | gortd/nginx | gortd/Go |"
    echo "|---|---:|---:|---:|---:|---:|"
    for c in $CONNS; do
        for m in rps p50 p99 cpu sys; do
            case $m in
            rps) label="req/s, -c $c" ;;
            p50) label="p50 latency µs, -c $c" ;;
            p99) label="p99 latency µs, -c $c" ;;
            cpu) label="server CPU µs per request, -c $c" ;;
            sys) label="system calls per request, -c $c" ;;
            esac
            rn=- rg=-
            [ -n "${X[nginx.$c.$m]:-}" ] && rn=$(med "${X[nginx.$c.$m]}")
            [ -n "${X[go.$c.$m]:-}" ] && rg=$(med "${X[go.$c.$m]}")
            [ "$m" = p50 ] && rn=- rg=-
            echo "| $label | $(med "${R[gort.$c.$m]:-}") | $(med "${R[nginx.$c.$m]:-}") | $(med "${R[go.$c.$m]:-}") | ${rn}x | ${rg}x |"
        done
    done
    if [ "$IDLE" -gt 0 ]; then
        echo "| bytes per idle keep-alive connection ($IDLE) | ${IDLEB[gort]:-} | ${IDLEB[nginx]:-} | ${IDLEB[go]:-} | | |"
    fi
    echo
    echo "Medians of $ROUNDS rounds of ${SECS}s (after ${WARM}s of warm-up); ratios are the median of the round-by-round ratios (lower is better for latency, CPU and system calls). System calls: $([ "$PERF_OK" = 1 ] && echo "perf stat -e raw_syscalls:sys_enter" || echo "strace -c -f") over a ${SYS_SECS}s run; the most frequent per request:"
    for c in $CONNS; do
        for kind in $KINDS; do
            echo "- -c $c $kind: ${R[$kind.$c.systop]:-}"
        done
    done
    echo
    echo "Raw, per round:"
    for c in $CONNS; do
        for kind in $KINDS; do
            echo "- -c $c $kind: req/s${R[$kind.$c.rps]:-}; p99${R[$kind.$c.p99]:-}; cpu/req${R[$kind.$c.cpu]:-}"
        done
        echo "- -c $c gortd/nginx: req/s${X[nginx.$c.rps]:-}; cpu/req${X[nginx.$c.cpu]:-}"
    done
    echo
    echo "$(go version | awk '{print $3}'), $("$NGINX" -v 2>&1 | awk -F/ '{print "nginx " $2}'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(nproc) CPUs, $(date -u +%F)."
} | tee "$OUT_DIR/http.md"
