#!/usr/bin/env bash
# test_shadow.sh — through the real gortd, a plugin that defines functions
# named like gortd's internals calls its own (tests/plugin/fixtures/shadow.c
# says why that fails when gortd exports its internals).
#
# usage: test_shadow.sh GORTD TP_SHADOW_SO
set -euo pipefail

GORTD=$1 SO=$2
tmp=$(mktemp -d /tmp/gort-shadow.XXXXXX)
gortd_pid=

cleanup() {
    if [ -n "$gortd_pid" ] && kill -0 "$gortd_pid" 2>/dev/null; then
        kill -KILL "$gortd_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/log" ] && cat "$tmp/log" >&2
    exit 1
}

mkdir -m 0755 "$tmp/plugins"
install -m 0644 "$SO" "$tmp/plugins/shadow.so"
"$GORTD" --listen "127.0.0.1:0" --control "unix:$tmp/ctl.sock" \
    --plugins-dir "$tmp/plugins" >"$tmp/log" 2>&1 &
gortd_pid=$!
for _ in $(seq 200); do
    grep -q 'msg="serving HTTP"' "$tmp/log" && break
    kill -0 "$gortd_pid" 2>/dev/null || break
    sleep 0.05
done
grep -q 'msg="serving HTTP"' "$tmp/log" || fail "gortd did not start"
grep -q 'msg="plugin loaded" plugin=shadow version=0.1.0' "$tmp/log" || fail "shadow.so not loaded"
port=$(sed -n 's/.*msg="serving HTTP" addr=[^ ]*:\([0-9]*\) .*/\1/p' "$tmp/log")

want="mux_count=own httpd_local_addr=own http_log=own plugins_owner_name=own cli_now_ns=own ctl_fail=own"
body=$(curl -sS --max-time 10 "http://127.0.0.1:$port/shadow") || fail "curl"
[ "$body" = "$want" ] || fail "GET /shadow: got '$body', want '$want'"

kill -TERM "$gortd_pid"
rc=0
wait "$gortd_pid" || rc=$?
gortd_pid=
[ "$rc" = 0 ] || fail "gortd exited $rc after SIGTERM"
echo "PASS: the plugin's calls reached its own functions"
