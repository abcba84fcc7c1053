#!/usr/bin/env bash
# runtime.sh — the runtime suite: bench_runtime (libgort) against the same
# four programs written in Go (bench/go/runtime), run alternately, pinned
# with taskset, REPS times each; prints the medians as a Markdown table and
# writes it to bench/out/runtime.md.
#
# Knobs (environment): REPS (3), RSS_REPS (1), PROCS ("1 2"), BENCHES ("spawn
# yield chan rss close timer"), RUN_TIMEOUT seconds per run (60; RSS_TIMEOUT,
# 600, for rss and close), N_SPAWN, N_YIELD, N_CHAN, N_RSS, N_CLOSE (300000),
# N_TIMER. close: ms from closing a channel until all N parked receivers ran
# (issue 12 item 5; the goal is Go's time or less).
#
# The rss benchmark runs once per GOMAXPROCS by default: it is a memory count,
# not a time (repeated runs agree within 1%), and with a million goroutines
# it is by far the slowest run — every stack page is a first-touch page
# fault, tens of microseconds each on a virtual machine.
#
# A gort run that crashes or times out is reported as FAIL in the table, with
# its log under bench/out/logs/runtime/; its remaining repetitions are
# skipped, the Go runs are not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPS=${REPS:-3}
RSS_REPS=${RSS_REPS:-1}
PROCS=${PROCS:-"1 2"}
BENCHES=${BENCHES:-"spawn yield chan rss close timer"}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
RSS_TIMEOUT=${RSS_TIMEOUT:-600}
declare -A N=([spawn]=${N_SPAWN:-1000000} [yield]=${N_YIELD:-1000000}
              [chan]=${N_CHAN:-500000} [rss]=${N_RSS:-1000000}
              [close]=${N_CLOSE:-300000} [timer]=${N_TIMER:-2000000})
declare -A METRIC=([spawn]=spawn_ns_per_op [yield]=yield_ns_per_switch
                   [chan]=chan_ns_per_roundtrip [rss]=rss_bytes_per_parked_g
                   [close]=close_ms [timer]=timer_ns_per_arm_stop)
declare -A LABEL=([spawn]="spawn+complete, ns/goroutine"
                  [yield]="yield switch, ns/switch"
                  [chan]="unbuffered chan round trip, ns"
                  [rss]="RSS per parked goroutine, bytes"
                  [close]="close with N parked receivers, ms"
                  [timer]="timer reset+stop, 100k armed, ns")

gort_bin=$(bench_c_binary bench_runtime)
go_bin=$OUT_DIR/bench_runtime_go
bench_log "building $go_bin"
bench_go_build runtime "$go_bin"

logs=$OUT_DIR/logs/runtime
rm -rf "$logs"
mkdir -p "$logs"
raw=$OUT_DIR/runtime.raw
echo "# benchmark GOMAXPROCS impl rep value" >"$raw"

# run_one IMPL BENCH PROCS REP: one run, pinned; prints value or FAIL:why.
run_one() {
    local bin=$gort_bin
    [ "$1" = go ] && bin=$go_bin
    local v limit=$RUN_TIMEOUT
    case $2 in rss | close) limit=$RSS_TIMEOUT ;; esac
    v=$(bench_metric "$limit" "${METRIC[$2]}" \
        "$logs/$2-p$3-$1-$4.log" \
        env GOMAXPROCS="$3" taskset -c "$(bench_cpus "$3")" \
        "$bin" "$2" "${N[$2]}")
    echo "$2 $3 $1 $4 $v" >>"$raw"
    echo "$v"
}

# cell VALUE BENCH: a table cell with its unit.
cell() {
    case $1 in
    FAIL:*) echo "FAIL (${1#FAIL:})" ;;
    *) case $2 in
       rss) printf '%.0f B' "$1" ;;
       close) printf '%.0f ms' "$1" ;;
       *) printf '%.1f ns' "$1" ;;
       esac ;;
    esac
}

# ratio GORT GO BENCH: Go/gort, worded so that > 1 means gort is better.
ratio() {
    case "$1$2" in *FAIL*) echo "—"; return ;; esac
    awk -v g="$1" -v o="$2" -v b="$3" 'BEGIN {
        r = o / g
        if (b == "rss") w = (r >= 1) ? "smaller" : "(larger)"
        else            w = (r >= 1) ? "faster"  : "(slower)"
        printf "%.2fx %s", r, w }'
}

# goal GORT GO BENCH PROCS: issue 2's target for this row, met or missed.
goal() {
    local want test
    case $3 in
    spawn) want="≥3x Go"; test="o / g >= 3" ;;
    yield) want="≥3x Go"; test="o / g >= 3"
           [ "$4" -ne 1 ] && { echo "— (as measured)"; return; } ;;
    chan)  want="≥4x Go"; test="o / g >= 4" ;;
    rss)   want="≤4.5 KiB"; test="g <= 4608" ;;
    close) want="≤ Go (issue 12)"; test="g <= o" ;;
    timer) echo "— (issue 14: as measured)"; return ;;
    esac
    case "$1$2" in *FAIL*) echo "$want: not measured"; return ;; esac
    if awk -v g="$1" -v o="$2" "BEGIN { exit !($test) }"; then
        echo "$want: met"
    else
        echo "$want: missed"
    fi
}

rows=()
failures=()
for b in $BENCHES; do
    for p in $PROCS; do
        gort_vals=() go_vals=() gort_fail="" go_fail=""
        reps=$REPS
        case $b in rss | close) reps=$RSS_REPS ;; esac
        for rep in $(seq "$reps"); do
            gv=skipped
            if [ -z "$gort_fail" ]; then
                v=$(run_one gort "$b" "$p" "$rep")
                gv=$v
                case $v in
                FAIL:*) gort_fail=$v
                        failures+=("gort $b GOMAXPROCS=$p rep $rep: ${v#FAIL:}, log $logs/$b-p$p-gort-$rep.log") ;;
                *) gort_vals+=("$v") ;;
                esac
            fi
            v=$(run_one go "$b" "$p" "$rep")
            case $v in
            FAIL:*) go_fail=$v
                    failures+=("Go $b GOMAXPROCS=$p rep $rep: ${v#FAIL:}, log $logs/$b-p$p-go-$rep.log") ;;
            *) go_vals+=("$v") ;;
            esac
            bench_log "$b GOMAXPROCS=$p rep $rep: gort $gv Go $v"
        done
        g=${gort_fail:-$(bench_median "${gort_vals[@]}")}
        o=${go_fail:-$(bench_median "${go_vals[@]}")}
        rows+=("| ${LABEL[$b]} | $p | $(cell "$g" "$b") | $(cell "$o" "$b") | $(ratio "$g" "$o" "$b") | $(goal "$g" "$o" "$b" "$p") |")
    done
done

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "| benchmark | GOMAXPROCS | gort | Go | ratio (Go/gort) | goal (issue 2) |"
    echo "|---|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Median of $REPS runs (rss: $RSS_REPS), gort and Go alternating," \
         "pinned with taskset:$(for p in $PROCS; do
             printf ' GOMAXPROCS=%s on CPUs %s,' "$p" "$(bench_cpus "$p")"; done)" \
         "N:$(for b in $BENCHES; do printf ' %s %s' "$b" "${N[$b]}"; done)." \
         "$(go version | awk '{ print $3 }'), ${cpu_model:-unknown CPU}," \
         "Linux $(uname -r), $(date -u +%Y-%m-%d)."
    case " $BENCHES " in *" yield "*)
        echo
        echo "yield at GOMAXPROCS=2: the two goroutines may run on different" \
             "Ps, where a yield can find nothing else to run; that row is what" \
             "a yield costs then, not necessarily a switch." ;;
    esac
    for f in "${failures[@]}"; do
        echo "- FAILED: $f"
    done
} | tee "$OUT_DIR/runtime.md"
[ "${#failures[@]}" -eq 0 ]
