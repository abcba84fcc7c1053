# lib.sh — helpers shared by the benchmark suite scripts (runtime.sh, and the
# HTTP/echo suites to come). Sourced, not run.
#
# Sets BENCH_DIR, ROOT, BUILD_DIR and OUT_DIR unless the caller already did.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
ROOT=${ROOT:-$(cd "$BENCH_DIR/.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
mkdir -p "$OUT_DIR"

bench_log() { echo "bench: $*" >&2; }

# bench_c_binary NAME: path of a C benchmark built by bench/CMakeLists.txt,
# brought up to date first (a no-op after `make bench`'s build; run by hand,
# it configures and builds what is missing or stale rather than measure an
# old binary).
bench_c_binary() {
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        bench_log "configuring $BUILD_DIR"
        cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null
    fi
    local log="$OUT_DIR/build-$1.log"
    if ! cmake --build "$BUILD_DIR" --target "$1" -j "$(nproc)" >"$log" 2>&1; then
        bench_log "building $1 failed (full log: $log):"
        tail -n 20 "$log" >&2
        return 1
    fi
    echo "$BUILD_DIR/bench/$1"
}

# bench_go_build PKG OUTPUT: go build bench/go/PKG into OUTPUT. Keeps Go's
# cache and GOPATH under bench/out when $HOME is unusable (CI, sandboxes),
# and never touches the network (the module has no dependencies).
bench_go_build() {
    if [ -z "${GOCACHE:-}" ] && { [ -z "${HOME:-}" ] || [ ! -w "$HOME" ]; }; then
        export GOCACHE="$OUT_DIR/go/cache" GOPATH="$OUT_DIR/go/path"
    fi
    (cd "$BENCH_DIR/go" && GOPROXY=off GOFLAGS= GO111MODULE=on \
        go build -o "$2" "./$1")
}

# bench_cpus N: the CPUs a run with GOMAXPROCS=N is pinned to. One P runs on
# CPU 1 (CPU 0 takes most interrupts); N Ps on CPUs 0..N-1.
bench_cpus() {
    if [ "$1" -eq 1 ]; then
        if taskset -c 1 true 2>/dev/null; then echo 1; else echo 0; fi
    else
        echo "0-$(($1 - 1))"
    fi
}

# bench_cpu_ticks PID...: utime+stime of the processes, summed, in clock
# ticks (fields 14 and 15 of /proc/PID/stat, read after the command name,
# which may hold spaces); a PID that is gone counts 0.
bench_cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    done
    echo "$t"
}

# bench_ratio A B: A/B to two decimals, "-" when B is not positive.
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# bench_median V...: the median of numbers (the lower middle one for an even
# count, so it is always a measured value).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# bench_metric TIMEOUT METRIC LOG CMD...: runs CMD, prints the value of the
# "METRIC value" line it wrote on stdout, or FAIL:<why> (timeout, signal,
# exit status, no line). CMD's stderr goes to LOG.
bench_metric() {
    local limit=$1 metric=$2 log=$3 out rc
    shift 3
    out=$(timeout --kill-after=5 "$limit" "$@" 2>"$log") && rc=0 || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL:timeout(${limit}s)"
    elif [ "$rc" -gt 128 ]; then
        echo "FAIL:SIG$(kill -l $((rc - 128)))"
    elif [ "$rc" -ne 0 ]; then
        echo "FAIL:exit($rc)"
    else
        out=$(awk -v m="$metric" '$1 == m { print $2 }' <<<"$out")
        echo "${out:-FAIL:no-output}"
    fi
}
