#!/usr/bin/env bash
# GOMAXPROCS retuned 1 -> 4 -> 2 through gortctl while wrk drives GET /:
# not one failed request, and stats report the final P count.
#
# usage: test_tune_under_load.sh GORTD GORTCTL PLUGINS_DIR
set -euo pipefail
gortd=$1 gortctl=$2 plugins=$3
. "$(dirname "$0")/../lib/gortd.sh"
dir=$(mktemp -d /tmp/gort-tune.XXXXXX)
ctl="unix:$dir/ctl.sock"
cleanup() {
    gortd_cleanup
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

# Port 0: the kernel picks a free port; gortd's log says which.
GOMAXPROCS=2 gortd_start "$dir/gortd.log" "$gortd" --control "$ctl" --quiet \
    --plugins-dir "$plugins" || fail "gortd did not start"
pid=$GORTD_PID port=$GORTD_PORT
curl -sf "http://127.0.0.1:$port/" >/dev/null ||
    fail "gortd does not serve: $(cat "$dir/gortd.log")"

wrk -t1 -c32 -d4s "http://127.0.0.1:$port/" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 0.5
for n in 1 4 2; do
    out=$("$gortctl" --addr "$ctl" tune --maxprocs "$n") || fail "tune $n: $out"
    echo "$out"
    grep -q -- "-> $n " <<<"$out" || fail "tune $n said: $out"
    sleep 0.7
done
wait "$wrk_pid" || fail "wrk failed: $(cat "$dir/wrk.out")"
cat "$dir/wrk.out"
grep -q "Requests/sec" "$dir/wrk.out" || fail "wrk printed no result"
if grep -Eq "Non-2xx|Socket errors" "$dir/wrk.out"; then
    fail "requests failed while GOMAXPROCS changed"
fi
procs=$("$gortctl" --addr "$ctl" stats --json | awk -F': *' '/"gomaxprocs"/ { gsub(/[ ,]/, "", $2); print $2; exit }')
[ "$procs" = 2 ] || fail "stats report gomaxprocs=$procs, want 2"
# The control plane lists what is being served.
routes=$("$gortctl" --addr "$ctl" routes) || fail "routes: $routes"
grep -Eq "^/about +hello " <<<"$routes" || fail "routes lack hello's /about: $routes"
plugins=$("$gortctl" --addr "$ctl" plugins list) || fail "plugins list: $plugins"
grep -Eq "^hello .* 2 routes" <<<"$plugins" || fail "plugins list lacks hello: $plugins"
# It served and was retuned under load: exit 0, no sanitizer report.
gortd_stop "$pid" "$dir/gortd.log" || fail "gortd did not exit cleanly"
echo "1 passed, 0 failed"
