# gortd.sh — the shell tests' counterpart of gortd.py (source it): start
# the real gortd, learn its port, stop it and hold it to a clean exit.
#
#   gortd_start LOG GORTD ARGS...   starts GORTD --listen 127.0.0.1:0 ARGS
#                                   (ARGS may override --listen), stdout and
#                                   stderr into LOG; returns 0 once it serves
#                                   HTTP, 1 (log printed) if it exits or does
#                                   not start in time. Sets GORTD_PID,
#                                   GORTD_LOG, GORTD_PORT.
#   gortd_stop PID LOG [SIG] [RC]   SIG (TERM) to PID, waits (bounded); 0 when
#                                   it exited RC (0) and LOG holds no
#                                   sanitizer report, else 1 with the log's
#                                   tail printed. Sets GORTD_RC, GORTD_MS
#                                   (milliseconds from signal to exit).
#   gortd_wait_exit PID LOG [RC]    the same for an exit the test caused
#   gortd_sanitizer_report FILE     0 (and the report lines printed) when
#                                   FILE holds a sanitizer report
#   gortd_http_port LOG, gortd_control_addr LOG
#                                   from its log, in either log format
#   gortd_cleanup                   kills what is still running (trap EXIT)
#
# Every daemon started is recorded: gortd_cleanup kills what a failing test
# left running. The bound is generous: it only keeps a broken run from
# hanging (sanitizer builds are slow; the shutdown timeout is 30 s).
GORTD_START_TIMEOUT=${GORTD_START_TIMEOUT:-60}
GORTD_STOP_TIMEOUT=${GORTD_STOP_TIMEOUT:-60}
GORTD_PIDS=()
GORTD_SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|WARNING: ThreadSanitizer|ThreadSanitizer: reported'

gortd_http_port() {
    sed -En '/serving HTTP( on |" addr=)/{s/.*serving HTTP( on |" addr=)"?[^ ]*:([0-9]+)([^0-9].*)?$/\2/p;q}' "$1"
}

gortd_control_addr() {
    sed -En '/control plane listening/{s/.*control plane listening( on |" addr=)"?([^ "]+).*/\2/p;q}' "$1"
}

gortd_tail() {
    echo "--- $1 (tail):"
    tail -c 8000 "$1"
    echo "---"
}

gortd_start() {
    local log=$1 bin=$2 deadline
    shift 2
    GORTD_LOG=$log GORTD_PORT=
    "$bin" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    GORTD_PID=$!
    GORTD_PIDS+=("$GORTD_PID")
    deadline=$((SECONDS + GORTD_START_TIMEOUT))
    while [ "$SECONDS" -le "$deadline" ]; do
        GORTD_PORT=$(gortd_http_port "$log")
        [ -n "$GORTD_PORT" ] && return 0
        if ! kill -0 "$GORTD_PID" 2>/dev/null; then
            echo "gortd exited while starting: $bin $*"
            gortd_tail "$log"
            return 1
        fi
        sleep 0.02
    done
    echo "gortd did not start within ${GORTD_START_TIMEOUT} s: $bin $*"
    gortd_tail "$log"
    return 1
}

gortd_sanitizer_report() {
    grep -E "$GORTD_SANITIZER_RE" "$1"
}

# Waits for PID (a child of this shell) within the bound; sets GORTD_RC.
gortd_wait_bounded() {
    local pid=$1 waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((GORTD_STOP_TIMEOUT * 50)) ]; do
        sleep 0.02
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        GORTD_RC=timeout
        return
    fi
    GORTD_RC=0
    wait "$pid" || GORTD_RC=$?
}

gortd_wait_exit() {
    local pid=$1 log=$2 want=${3:-0} t0=${GORTD_T0:-$(date +%s%N)}
    gortd_wait_bounded "$pid"
    GORTD_MS=$((($(date +%s%N) - t0) / 1000000))
    GORTD_T0=
    if [ "$GORTD_RC" != "$want" ]; then
        echo "gortd (pid $pid) exit status $GORTD_RC, want $want"
        gortd_tail "$log"
        return 1
    fi
    if gortd_sanitizer_report "$log" >/dev/null; then
        echo "gortd (pid $pid) sanitizer report:"
        gortd_tail "$log"
        return 1
    fi
    return 0
}

gortd_stop() {
    local pid=$1 log=$2 sig=${3:-TERM} want=${4:-0}
    GORTD_T0=$(date +%s%N)
    kill -"$sig" "$pid" 2>/dev/null
    gortd_wait_exit "$pid" "$log" "$want"
}

gortd_cleanup() {
    local p
    for p in "${GORTD_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    return 0
}
