#!/usr/bin/env bash
# stackhwm.sh — how deep do real handlers go on their goroutine stacks?
#
# Runs gortd with GORTDEBUG=stackhwm=1 (at each goroutine exit the runtime
# reads, with mincore, how far down its stack pages were touched and logs
# each new deepest) and the shipped plugins: hello (the seed), proxy (to a
# Go upstream), fanout (two upstream calls under a deadline, select over
# channels), kv and echo, then drives every route with wrk and curl,
# including bodies, chunked uploads and large headers. Prints the deepest
# stack seen and the goroutine function that left it. Used to choose the
# default stack reservation (runtime/stack.c).
#
# Knobs: SECS per route (2), PORT (19950), UP_PORT (19949).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${SECS:-2}
PORT=${PORT:-19950}
UP_PORT=${UP_PORT:-19949}
dir=$OUT_DIR/stackhwm
rm -rf "$dir"
mkdir -p "$dir/plugins"

hello_go=$OUT_DIR/hello_go
bench_go_build hello "$hello_go"
"$hello_go" "127.0.0.1:$UP_PORT" >"$dir/upstream.log" 2>&1 &
UP_PID=$!
GORTD_PID=
stop() {
    [ -n "$GORTD_PID" ] && kill "$GORTD_PID" 2>/dev/null
    kill "$UP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT

for p in hello proxy fanout kv echo; do
    cp "$BUILD_DIR/plugins/$p.so" "$dir/plugins/"
done
echo "/p/ http://127.0.0.1:$UP_PORT" >"$dir/plugins/proxy.conf"
cat >"$dir/plugins/fanout.conf" <<CONF
route GET /fanout
upstream users  http://127.0.0.1:$UP_PORT/users
upstream orders http://localhost:$UP_PORT/orders
deadline 250ms
CONF
GORTDEBUG=stackhwm=1 "$BUILD_DIR/server/gortd" --listen "127.0.0.1:$PORT" \
    --control "unix:$dir/ctl.sock" --plugins-dir "$dir/plugins" \
    >"$dir/gortd.log" 2>&1 &
GORTD_PID=$!
base=http://127.0.0.1:$PORT
for _ in $(seq 200); do
    curl -sf "$base/" >/dev/null 2>&1 && break
    sleep 0.05
done

for path in / /about /p/x /fanout /kv/a /echo/x; do
    bench_log "wrk $path"
    wrk -t1 -c20 -d"${SECS}s" "$base$path" >/dev/null 2>&1 || true
done
head -c 200000 /dev/zero | tr '\0' x >"$dir/body"
hdr=$(head -c 7000 /dev/zero | tr '\0' h)
for i in $(seq 20); do
    curl -s -X PUT --data "value-$i" "$base/kv/k$i" >/dev/null
    curl -s "$base/kv/k$i" >/dev/null
    curl -s -X DELETE "$base/kv/k$i" >/dev/null
    curl -s --data-binary @"$dir/body" "$base/echo/x" >/dev/null
    curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$dir/body" "$base/echo/raw/y" >/dev/null
    curl -s -H "X-Big: $hdr" "$base/p/big" >/dev/null
    curl -s -X POST --data-binary @"$dir/body" "$base/p/post" >/dev/null
    curl -s "$base/fanout" >/dev/null
done
kill "$GORTD_PID"
wait "$GORTD_PID" 2>/dev/null || true
GORTD_PID=
grep 'gort: stackhwm:' "$dir/gortd.log" | tee "$dir/hwm.txt" >&2 || true
deepest=$(tail -1 "$dir/hwm.txt")
echo "deepest goroutine stack: ${deepest#gort: stackhwm: }"
