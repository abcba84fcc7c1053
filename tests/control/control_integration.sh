#!/usr/bin/env bash
# control_integration.sh — the real gortd, driven by gortctl and by Python
# grpcio over a temporary Unix socket (and loopback TCP, TLS, mutual TLS).
#
#   control_integration.sh GORTD GORTCTL PROTO_DIR [PYTHON] [GRPCIO_CLIENT_PY]
#
# Every daemon this script starts is recorded and stopped on exit, whatever
# happens (trap); all traffic stays on this machine (Unix sockets, 127.0.0.1).
# Prints one line per check and "N passed, N failed"; exit 1 on any failure.
set -uo pipefail

GORTD=$1 GORTCTL=$2 PROTO=$3
PY=${4:-/usr/bin/python3}
CLIENT=${5:-$(dirname "$0")/grpcio_client.py}
LIB=$(dirname "$0")/../lib
. "$LIB/gortd.sh"

# Short: a Unix socket path must fit in 108 bytes.
TMP=$(mktemp -d /tmp/gortctl-test.XXXXXX)
SOCK=$TMP/g.sock
ADDR=unix:$SOCK
passed=0 failed=0

cleanup() {
    gortd_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# check NAME WANT_RC PATTERN CMD...: runs CMD, wants its exit code and
# PATTERN (grep -E) somewhere in its stdout+stderr ("" = anything).
check() {
    local name=$1 want=$2 pat=$3
    shift 3
    check_without "$name" "$want" "$pat" "" "$@"
}

# check_without NAME WANT_RC PATTERN ABSENT CMD...: check, and ABSENT
# (grep -E) nowhere in the output ("" = no such condition).
check_without() {
    local name=$1 want=$2 pat=$3 absent=$4 out rc
    shift 4
    out=$("$@" 2>&1)
    rc=$?
    # A gortd or gortctl that reported (a leak on an exit path) fails too.
    if gortd_sanitizer_report /dev/stdin <<<"$out" >/dev/null; then
        bad "$name" "sanitizer report: $(grep -E "$GORTD_SANITIZER_RE" <<<"$out" | head -5)"
    elif [ "$rc" != "$want" ]; then
        bad "$name" "exit $rc, want $want: $(echo "$out" | head -5)"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" <<<"$out"; then
        bad "$name" "no /$pat/ in: $(echo "$out" | head -5)"
    elif [ -n "$absent" ] && grep -Eq -- "$absent" <<<"$out"; then
        bad "$name" "/$absent/ in: $(echo "$out" | head -5)"
    else
        ok "$name"
    fi
}

# gRPC core's own log lines ("E1207 01:42:04.034730868 3889 file.cc:1501]"):
# gortctl silences them unless GRPC_VERBOSITY or GRPC_TRACE is set.
GRPC_LOG_RE='^[EIWD][0-9]{4} [0-9:.]+ +[0-9]+ [^ ]+:[0-9]+\]'

ctl() { "$GORTCTL" --addr "$ADDR" "$@"; }

# start_gortd LOG ARGS...: starts a daemon (tests/lib/gortd.sh), sets $GPID
# and $GLOG; 0 once it serves.
start_gortd() {
    GLOG=$1
    shift
    gortd_start "$GLOG" "$GORTD" "$@" >/dev/null
    GPID=$GORTD_PID
    [ -n "$GORTD_PORT" ]
}

# stop_gortd SIGNAL: signals $GPID, sets $GRC and $GMS (exit time in ms);
# 0 when it exited 0 without a sanitizer report in its log.
stop_gortd() {
    gortd_stop "$GPID" "$GLOG" "$1"
    local ok=$?
    GRC=$GORTD_RC GMS=$GORTD_MS
    return $ok
}

# The control plane's TCP port, from the log.
listen_port() { local a; a=$(gortd_control_addr "$1"); echo "${a##*:}"; }

# ---- before any daemon ----------------------------------------------------

check "gortd -help" 0 "-control-tls-cert" "$GORTD" -help
check "gortd bad flag is a usage error" 2 "flag provided but not defined: -nope" "$GORTD" -nope
check "gortctl -help" 0 "tune .*GOMAXPROCS" "$GORTCTL" -help
for c in stats watch plugins; do
    check "gortctl $c -help" 0 "Usage: gortctl .* $c" "$GORTCTL" "$c" -help
done
check "gortctl unknown command" 2 "unknown command frob" "$GORTCTL" frob
check "gortctl no daemon: is it running?" 1 \
    "gortctl: cannot reach gortd at unix:$TMP/none.sock: is it running\?" \
    "$GORTCTL" --addr "unix:$TMP/none.sock" stats
check "refuse non-loopback without TLS" 1 "refusing to serve the control plane on non-loopback address 0.0.0.0:0 without mutual TLS" \
    "$GORTD" --control 0.0.0.0:0
: >"$TMP/file.sock"
check "refuse to replace a non-socket" 1 "is not a socket" "$GORTD" --control "unix:$TMP/file.sock"

# A path that exists but is no socket: Linux refuses the connection as if
# nothing listened, but "is it running?" is not the question.
mkdir "$TMP/dir.sock" && mkfifo "$TMP/fifo.sock"
for k in "file:regular file" "dir:directory" "fifo:FIFO"; do
    check_without "gortctl: a ${k#*:} is not a socket" 1 \
        "^gortctl: unix:$TMP/${k%%:*}.sock is not a socket but a ${k#*:}\$" \
        "is it running" "$GORTCTL" --addr "unix:$TMP/${k%%:*}.sock" stats
done

# Values no gortd would take are usage errors (exit 2), refused before
# dialling (README: 2 = usage).
check "gortctl -addr without unix:" 2 \
    "^gortctl: bad -addr $TMP/g.sock: a Unix socket is written unix:$TMP/g.sock\$" \
    "$GORTCTL" --addr "$TMP/g.sock" stats
check "gortctl -addr port 99999" 2 "^gortctl: bad port in address 127.0.0.1:99999\$" \
    "$GORTCTL" --addr 127.0.0.1:99999 stats
check "gortctl -addr port 0" 2 "port 0 cannot be dialled" \
    "$GORTCTL" --addr 127.0.0.1:0 stats
check "gortctl one bad -addr of several" 2 "bad port" \
    "$GORTCTL" --addr "$ADDR" --addr 127.0.0.1:65536 stats
check "gortctl -timeout -1s" 2 "^gortctl: -timeout must be >= 0" \
    "$GORTCTL" --addr "$ADDR" --timeout -1s stats
echo "not a certificate" >"$TMP/garbage.pem"
check "gortctl -tls-cert without -tls-key" 2 "^gortctl: -tls-cert and -tls-key go together\$" \
    "$GORTCTL" --addr 127.0.0.1:1 --tls-cert "$TMP/garbage.pem" stats
check "gortctl -tls-key without -tls-cert" 2 "^gortctl: -tls-cert and -tls-key go together\$" \
    "$GORTCTL" --addr 127.0.0.1:1 --tls-key "$TMP/garbage.pem" stats
# Before any connection: nothing listens on port 1, and gRPC's log stays quiet.
check_without "gortctl -tls-ca without certificates" 2 \
    "^gortctl: -tls-ca $TMP/garbage.pem holds no PEM certificate\$" "$GRPC_LOG_RE|is it running" \
    "$GORTCTL" --addr 127.0.0.1:1 --tls-ca "$TMP/garbage.pem" stats
check "gortctl -tls-ca missing" 2 "^gortctl: cannot read -tls-ca $TMP/none.pem: No such file" \
    "$GORTCTL" --addr 127.0.0.1:1 --tls-ca "$TMP/none.pem" stats

# ---- the main daemon on a Unix socket --------------------------------------

if ! start_gortd "$TMP/gortd.log" --control "$ADDR"; then
    bad "gortd starts" "$(cat "$TMP/gortd.log")"
    echo "$passed passed, $((failed)) failed"
    exit 1
fi
ok "gortd starts on $ADDR"
MAIN=$GPID

mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] && ok "socket mode 0600" || bad "socket mode 0600" "mode $mode"
check "second gortd on the same socket" 1 "in use by a running gortd \(pid $MAIN\)" \
    "$GORTD" --control "$ADDR"

check "health" 0 "^SERVING$" ctl health
check "health unknown service" 1 "NOT_FOUND: unknown service x" ctl health --service x
check "stats" 0 "GOMAXPROCS +[0-9]+" ctl stats
check "stats -json" 0 "" sh -c "'$GORTCTL' --addr '$ADDR' stats --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); assert d[\"gomaxprocs\"]>=1 and d[\"procs\"]'"
check "stats: batched sends" 0 "^sends +[0-9]+ batched in [0-9]+ submissions$" ctl stats
check "stats -json: a batch carries a send" 0 "" sh -c "'$GORTCTL' --addr '$ADDR' stats --json | '$PY' -c 'import json,sys; n=json.load(sys.stdin)[\"netpoll\"]; assert n.get(\"send_batches\",0)<=n.get(\"sends_batched\",0)'"

for n in 1 4 2; do
    check "tune --maxprocs $n" 0 "-> $n " ctl tune --maxprocs $n
    got=$(ctl stats --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["gomaxprocs"])')
    [ "$got" = $n ] && ok "stats shows GOMAXPROCS $n" || bad "stats shows GOMAXPROCS $n" "got $got"
done
# gortd's range (1..256, SetMaxProcs's INVALID_ARGUMENT; grpcio_client.py
# checks it) is checked by gortctl first: one line, exit 2, the number as
# typed (4294967298 used to reach gortd as 2147483647).
for n in 0 -1 257 99999 4294967298 99999999999999999999; do
    check_without "tune -maxprocs $n: out of range" 2 \
        "^gortctl: tune: GOMAXPROCS $n is out of range: allowed 1..256\$" \
        "SetMaxProcs|Usage|2147483647" ctl tune --maxprocs "$n"
    check_without "tune $n (operand): out of range" 2 \
        "^gortctl: tune: GOMAXPROCS $n is out of range: allowed 1..256\$" \
        "SetMaxProcs|Usage|not defined" ctl tune "$n"
done
check "tune -- -1: out of range" 2 "^gortctl: tune: GOMAXPROCS -1 is out of range: allowed 1..256\$" \
    ctl tune -- -1
check "tune -json -1: out of range" 2 "^gortctl: tune: GOMAXPROCS -1 is out of range: allowed 1..256\$" \
    ctl tune -json -1
check "tune without -maxprocs" 2 "-maxprocs N \\(or N\\) is required" ctl tune
check "tune bad number" 2 "^gortctl: tune: GOMAXPROCS must be a whole number from 1 to 256, not \"four\"\$" \
    ctl tune --maxprocs four
# "gortctl tune N": the operand is N, through the same checks.
check "tune 3 (operand)" 0 "-> 3 " ctl tune 3
check "tune four (operand)" 2 "GOMAXPROCS must be a whole number" ctl tune four
check_without "tune 3x: one line, no leftover default" 2 \
    "GOMAXPROCS must be a whole number from 1 to 256, not \"3x\"" "default|Usage" ctl tune 3x
check "tune 2 3" 2 "too many arguments" ctl tune 2 3
# The usage after an error shows the defaults, not what was typed.
check_without "tune 2 with -maxprocs" 2 "too many arguments" "\\(default" ctl tune --maxprocs 2 2
check_without "dump: usage without typed values" 2 "too many arguments" "\\(default" \
    ctl dump --limit 5 --json extra
check_without "global usage without typed values" 2 "flag provided but not defined: -nope" \
    "\\(default \"$ADDR\"\\)|\\(default 3s\\)" ctl --timeout 3s --nope stats

check "dump (Go text)" 0 "^goroutine [0-9]+ \[" ctl dump
check "dump -state sleep" 0 "^goroutine [0-9]+ \[sleep" ctl dump --state sleep
check "dump -state, any case" 0 "^goroutine [0-9]+ \\[IO wait" ctl dump --state "io WAIT"
check "dump -label no match" 0 "no goroutine matched" ctl dump --label "no such label"
check_without "dump -state unknown" 2 "^gortctl: dump: unknown -state \"bogus\": want one of \"runnable\", \"running\"" \
    "no goroutine matched" ctl dump --state bogus
# gortctl's list of states holds every wait reason of the runtime's.
states=$(ctl dump --state bogus 2>&1)
proc=$(dirname "$0")/../../runtime/proc.c
missing=$(sed -n '/gort__waitreason_str\[WR_COUNT\] = {/,/^};/s/.*= "\(.\+\)",$/\1/p' "$proc" |
    while read -r r; do grep -qF "\"$r\"" <<<"$states" || echo "$r"; done)
nreasons=$(sed -n '/gort__waitreason_str\[WR_COUNT\] = {/,/^};/p' "$proc" | grep -c '= "..*",$')
[ "$nreasons" -ge 10 ] && [ -z "$missing" ] && ok "dump -state knows the runtime's $nreasons wait reasons" ||
    bad "dump -state knows the runtime's wait reasons" "$nreasons found, missing: $missing"
check "dump -limit 1" 0 "" ctl dump --limit 1
check "dump -json" 0 "" sh -c "'$GORTCTL' --addr '$ADDR' dump --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); assert d[\"goroutines\"][0][\"id\"]>=1'"

check "routes (no --plugins-dir: an empty table)" 0 "^PATTERN" ctl routes
check "plugins list (none loaded)" 0 "" ctl plugins list
check "plugins load: no -plugins-dir" 1 "LoadPlugin: FAILED_PRECONDITION: gortd runs without -plugins-dir" ctl plugins load hello
check "plugins unload: no -plugins-dir" 1 "UnloadPlugin: FAILED_PRECONDITION" ctl plugins unload hello
check "plugins replace: no -plugins-dir" 1 "ReplacePlugin: FAILED_PRECONDITION" ctl plugins replace hello
check "plugins load ../x: INVALID_ARGUMENT" 1 "LoadPlugin: INVALID_ARGUMENT" ctl plugins load ../x
check "plugins without subcommand" 2 "want list, load NAME" ctl plugins

check "watch -count 2" 0 "P0 " ctl watch --interval 50ms --count 2
# Waits (30 s at most) until watch, writing to FILE as PID, drew a frame.
wait_frame() {
    for _ in $(seq 1500); do
        grep -q "^P0 " "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

frames=$(ctl watch --interval 20ms --count 3 | grep -c "^gortd ")
[ "$frames" = 3 ] && ok "watch draws 3 frames" || bad "watch draws 3 frames" "$frames"
check "watch interval too short: INVALID_ARGUMENT" 1 "WatchStats: INVALID_ARGUMENT" ctl watch --interval 5ms
"$GORTCTL" --addr "$ADDR" watch --interval 50ms >"$TMP/watch.out" 2>&1 &
WPID=$!
# Ctrl-C once a frame is drawn (a sanitizer build starts slowly).
wait_frame "$TMP/watch.out" "$WPID"
kill -INT "$WPID"
wait "$WPID"
wrc=$?
[ "$wrc" = 0 ] && grep -q "^P0 " "$TMP/watch.out" && ok "watch exits 0 on Ctrl-C" \
    || bad "watch exits 0 on Ctrl-C" "exit $wrc: $(head -3 "$TMP/watch.out")"
grep -q "gortctl:" "$TMP/watch.out" && bad "watch: Ctrl-C is quiet" "$(grep gortctl: "$TMP/watch.out")" ||
    ok "watch: Ctrl-C is quiet"

# ---- Python grpcio, stubs generated from the same .proto files -------------

# The shared helper generates them (cached per build tree).
if STUBS=$("$PY" "$LIB/gortd.py" stubs "$PROTO" 2>"$TMP/gen.err"); then
    ok "python stubs generated"
    if "$PY" "$CLIENT" "$STUBS" "$ADDR" >"$TMP/py.out" 2>&1; then
        ok "grpcio client: $(tail -1 "$TMP/py.out")"
        sed "s/^/    /" "$TMP/py.out"
    else
        bad "grpcio client" "$(grep -E 'FAIL|Error|error' "$TMP/py.out" | head -10)"
    fi
else
    bad "python stubs generated" "$(cat "$TMP/gen.err")"
fi

GPID=$MAIN GLOG=$TMP/gortd.log
stop_gortd TERM && ok "SIGTERM: exit 0 in ${GMS} ms" ||
    bad "SIGTERM: exit 0, no sanitizer report" "exit $GRC"
[ "$GMS" -lt 2000 ] && ok "SIGTERM: exit under 2 s" || bad "SIGTERM: exit under 2 s" "$GMS ms"
[ ! -e "$SOCK" ] && ok "socket removed at exit" || bad "socket removed at exit" "still there"
check "gortctl after exit: is it running?" 1 "is it running\?" ctl stats

# ---- watch while gortd shuts down ------------------------------------------

# gortd ends the stream with OK at shutdown, as after -count frames: an
# early end is reported, exit 1.
if start_gortd "$TMP/watchstop.log" --control "$ADDR"; then
    "$GORTCTL" --addr "$ADDR" watch --interval 50ms >"$TMP/watch2.out" 2>"$TMP/watch2.err" &
    WPID=$!
    wait_frame "$TMP/watch2.out" "$WPID"
    stop_gortd TERM || bad "gortd stops under watch: exit 0" "exit $GRC"
    wait "$WPID"
    wrc=$?
    [ "$wrc" = 1 ] && grep -qx "gortctl: gortd closed the stream (shutting down?)" "$TMP/watch2.err" &&
        ok "watch: gortd shutting down is reported, exit 1" ||
        bad "watch: gortd shutting down is reported, exit 1" "exit $wrc: $(head -3 "$TMP/watch2.err")"
else
    bad "gortd starts (watch)" "$(cat "$TMP/watchstop.log")"
fi

# ---- stale socket left by a killed daemon ----------------------------------

start_gortd "$TMP/kill9.log" --control "$ADDR" || bad "gortd restarts" "$(cat "$TMP/kill9.log")"
kill -KILL "$GPID"
{ wait "$GPID"; } 2>/dev/null # no "Killed" job notice
[ -S "$SOCK" ] && ok "kill -9 leaves a stale socket" || bad "kill -9 leaves a stale socket" "no socket"
if start_gortd "$TMP/stale.log" --control "$ADDR"; then
    grep -q "msg=\"removed stale control socket\" path=$SOCK\$" "$TMP/stale.log" \
        && ok "stale socket removed and replaced" \
        || bad "stale socket removed and replaced" "$(cat "$TMP/stale.log")"
    check "health after stale takeover" 0 "^SERVING$" ctl health
    stop_gortd INT && ok "SIGINT: exit 0" || bad "SIGINT: exit 0" "exit $GRC"
else
    bad "gortd starts over a stale socket" "$(cat "$TMP/stale.log")"
fi

# ---- TCP on loopback; non-loopback only with -control-insecure -------------

if start_gortd "$TMP/tcp.log" --control 127.0.0.1:0; then
    port=$(listen_port "$TMP/tcp.log")
    check "TCP loopback: stats" 0 "GOMAXPROCS" "$GORTCTL" --addr "127.0.0.1:$port" stats
    stop_gortd TERM || bad "gortd stops: exit 0, no sanitizer report" "exit $GRC"
else
    bad "gortd on 127.0.0.1:0" "$(cat "$TMP/tcp.log")"
fi
if start_gortd "$TMP/insecure.log" --control 0.0.0.0:0 --control-insecure; then
    grep -q 'level=warn msg="control plane without TLS" addr=0.0.0.0:0 ' "$TMP/insecure.log" \
        && ok "-control-insecure warns" || bad "-control-insecure warns" "$(cat "$TMP/insecure.log")"
    port=$(listen_port "$TMP/insecure.log")
    check "-control-insecure serves (dialled on loopback)" 0 "^SERVING$" \
        "$GORTCTL" --addr "127.0.0.1:$port" health
    stop_gortd TERM || bad "gortd stops: exit 0, no sanitizer report" "exit $GRC"
else
    bad "gortd -control-insecure" "$(cat "$TMP/insecure.log")"
fi

# ---- TLS and mutual TLS (loopback only) ------------------------------------

pki() {
    local d=$TMP/pki
    mkdir -p "$d"
    # EC keys: RSA key generation would dominate this test's run time.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=gort-test-ca \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null || return 1
    # A CA that signed nothing here: gortd's certificate is not trusted.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=gort-other-ca \
        -keyout "$d/other.key" -out "$d/other.pem" 2>/dev/null || return 1
    local n
    for n in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=gort-$n" \
            -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null || return 1
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/$n.ext"
        openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 1 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null || return 1
    done
}
if ! command -v openssl >/dev/null || ! pki; then
    bad "TLS test certificates" "openssl missing or failed"
else
    P=$TMP/pki
    check "TLS: -control-tls-cert without key" 1 "go together" \
        "$GORTD" --control 127.0.0.1:0 --control-tls-cert "$P/server.pem"
    if start_gortd "$TMP/tls.log" --control 127.0.0.1:0 \
        --control-tls-cert "$P/server.pem" --control-tls-key "$P/server.key"; then
        port=$(listen_port "$TMP/tls.log")
        check "TLS: stats with -tls-ca" 0 "GOMAXPROCS" \
            "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/ca.pem" stats
        # gortd runs: each failure names its cause, never "is it
        # running?", and gRPC's own log lines stay out.
        check_without "TLS: plaintext client refused" 1 \
            "^gortctl: 127.0.0.1:$port closed the connection as it was set up: does it want TLS" \
            "is it running|$GRPC_LOG_RE" "$GORTCTL" --addr "127.0.0.1:$port" --timeout 2s stats
        check_without "TLS: certificate not trusted" 1 \
            "^gortctl: TLS handshake with 127.0.0.1:$port failed: the server's certificate is not trusted \\(see -tls-ca\\)\$" \
            "is it running|$GRPC_LOG_RE" "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/other.pem" stats
        check_without "TLS: certificate name does not match" 1 \
            "^gortctl: TLS handshake with 127.0.0.1:$port failed: the name in the server's certificate does not match" \
            "is it running|$GRPC_LOG_RE" "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/ca.pem" \
            --tls-server-name wrong.example stats
        check "TLS: GRPC_VERBOSITY shows gRPC's log" 1 "$GRPC_LOG_RE" \
            env GRPC_VERBOSITY=error "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/other.pem" stats
        hport=$GORTD_PORT
        check_without "gortd's HTTP port is not a gRPC server" 1 \
            "^gortctl: 127.0.0.1:$hport is not a gRPC server: it answers HTTP/1.x" \
            "is it running|$GRPC_LOG_RE" "$GORTCTL" --addr "127.0.0.1:$hport" stats
        check_without "TLS to a plaintext server" 1 \
            "^gortctl: TLS handshake with 127.0.0.1:$hport failed: the server does not speak TLS" \
            "is it running|$GRPC_LOG_RE" "$GORTCTL" --addr "127.0.0.1:$hport" --tls-ca "$P/ca.pem" stats
        stop_gortd TERM || bad "gortd stops: exit 0, no sanitizer report" "exit $GRC"
    else
        bad "gortd with TLS" "$(cat "$TMP/tls.log")"
    fi
    if start_gortd "$TMP/mtls.log" --control 127.0.0.1:0 --control-tls-ca "$P/ca.pem" \
        --control-tls-cert "$P/server.pem" --control-tls-key "$P/server.key"; then
        port=$(listen_port "$TMP/mtls.log")
        check "mTLS: client certificate accepted" 0 "^SERVING$" \
            "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/ca.pem" \
            --tls-cert "$P/client.pem" --tls-key "$P/client.key" health
        check_without "mTLS: no client certificate refused" 1 \
            "^gortctl: 127.0.0.1:$port closed the connection as it was set up: does it want a client certificate" \
            "is it running" "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/ca.pem" --timeout 2s health
        check "mTLS: a key that is not the certificate's" 2 \
            "^gortctl: -tls-key $P/server.key is not the key of the certificate in -tls-cert $P/client.pem\$" \
            "$GORTCTL" --addr "127.0.0.1:$port" --tls-ca "$P/ca.pem" \
            --tls-cert "$P/client.pem" --tls-key "$P/server.key" health
        stop_gortd TERM || bad "gortd stops: exit 0, no sanitizer report" "exit $GRC"
    else
        bad "gortd with mutual TLS" "$(cat "$TMP/mtls.log")"
    fi
    # Server-only TLS lets anyone who reaches the port in (issue 10, item
    # 10): off loopback, only mutual TLS will do.
    check "TLS without client certificates: non-loopback refused" 1 \
        "0.0.0.0:0 without mutual TLS" \
        "$GORTD" --control 0.0.0.0:0 \
        --control-tls-cert "$P/server.pem" --control-tls-key "$P/server.key"
    if start_gortd "$TMP/tls-any.log" --control 0.0.0.0:0 --control-tls-ca "$P/ca.pem" \
        --control-tls-cert "$P/server.pem" --control-tls-key "$P/server.key"; then
        stop_gortd TERM && ok "mutual TLS makes non-loopback acceptable" ||
            bad "mutual TLS makes non-loopback acceptable" "exit $GRC"
    else
        bad "mutual TLS makes non-loopback acceptable" "$(cat "$TMP/tls-any.log")"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
