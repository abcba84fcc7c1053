#!/usr/bin/env bash
# scrape.sh — does scraping /metrics move gortd's latency under load?
# (issue 13: "a scrape under wrk load must not move p99").
#
# One gortd (hello plugin, --admin on loopback), wrk --latency against it
# at CONNS connections; each round runs wrk three times back to back:
# quiet, while a scraper fetches /healthz every SCRAPE_MS (the control),
# and while the same scraper fetches /metrics every SCRAPE_MS (10 per
# second by default: ten times a 1 s Prometheus interval). The scraper
# shares wrk's CPU (there are two), so it delays wrk itself: the control
# arm costs wrk the same, gortd next to nothing, and the ratio of the
# /metrics p99 to the control's is what rendering /metrics costs gortd's
# requests. Ratios are taken within each round, since this machine's
# speed drifts between rounds; the table gives the medians. Report
# ratios from one side-by-side run only, and say how loaded the machine
# was.
#
# gortd runs alone on SRV_CPU (GOMAXPROCS=1); wrk and the scraper (one
# process, one keep-alive connection) share WRK_CPU.
#
# Knobs: ROUNDS (3), SECS (5), CONNS (50), SCRAPE_MS (100), PORT (19841),
# SRV_CPU (0), WRK_CPU (1), GORTD (default: the build tree's).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-50}
SCRAPE_MS=${SCRAPE_MS:-100}
PORT=${PORT:-19841}
SRV_CPU=${SRV_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
ADMIN=$((PORT + 1))
GORTD=${GORTD:-$BUILD_DIR/server/gortd}
[ -x "$GORTD" ] || { bench_log "no gortd at $GORTD"; exit 1; }
tmp=$(mktemp -d /tmp/gort-bench-scrape.XXXXXX)
gortd_pid= scraper_pid=

cleanup() {
    [ -n "$scraper_pid" ] && kill "$scraper_pid" 2>/dev/null || true
    [ -n "$gortd_pid" ] && kill "$gortd_pid" 2>/dev/null &&
        wait "$gortd_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -m 0755 "$tmp/plugins"
cp "$BUILD_DIR/plugins/hello.so" "$tmp/plugins/"
GOMAXPROCS=1 taskset -c "$SRV_CPU" "$GORTD" --listen "127.0.0.1:$PORT" --admin "127.0.0.1:$ADMIN" \
    --control "unix:$tmp/ctl.sock" --plugins-dir "$tmp/plugins" \
    >"$tmp/gortd.log" 2>&1 &
gortd_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$ADMIN/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

# p99 of one wrk run, in µs.
p99() {
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$PORT/" |
        awk 'function us(v) { if (v ~ /us$/) return v + 0
                              if (v ~ /ms$/) return v * 1000
                              return v * 1000000 }
             $1 == "99%" { print us($2) }'
}

# One scraper process with a keep-alive connection, as Prometheus keeps
# one per target (a curl per scrape would measure fork and exec on the
# shared CPUs instead). It shares wrk's CPU, never gortd's.
# scrape_loop PATH PERIOD_MS [COUNT]: COUNT scrapes (0 or none: until
# killed). It execs, so the caller's PID is the scraper's and a kill stops
# it; call it in a subshell or in the background.
scrape_loop() {
    exec taskset -c "$WRK_CPU" /usr/bin/python3 - "$ADMIN" "$2" "$tmp/scrapes" "$1" "${3:-0}" <<'PY'
import http.client, sys, time
port, period, out = int(sys.argv[1]), int(sys.argv[2]) / 1000, sys.argv[3]
path, count = sys.argv[4], int(sys.argv[5])
c, n = http.client.HTTPConnection("127.0.0.1", port, timeout=10), 0
while count == 0 or n < count:
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    n += r.status == 200
    with open(out, "w") as f:
        f.write("%d\n" % n)
    time.sleep(period)
PY
}

# scraped_p99 PATH: p99 of one wrk run while PATH is scraped.
scraped_p99() {
    scrape_loop "$1" "$SCRAPE_MS" &
    scraper_pid=$!
    p99
    kill "$scraper_pid"
    wait "$scraper_pid" 2>/dev/null || true
    scraper_pid=
}

quiet=() control=() scraped=() ratios=() quiet_ratios=()
for r in $(seq "$ROUNDS"); do
    q=$(p99)
    c=$(scraped_p99 /healthz)
    s=$(scraped_p99 /metrics)
    quiet+=("$q") control+=("$c") scraped+=("$s")
    ratios+=("$(bench_ratio "$s" "$c")") quiet_ratios+=("$(bench_ratio "$s" "$q")")
    bench_log "round $r: p99 quiet ${q} µs, scraping /healthz ${c} µs, /metrics ${s} µs ($(cat "$tmp/scrapes" 2>/dev/null || echo 0) scrapes)"
done

# gortd's CPU per /metrics render, idle, over RENDERS back-to-back scrapes.
RENDERS=500
t0=$(bench_cpu_ticks "$gortd_pid")
(scrape_loop /metrics 0 "$RENDERS")
t1=$(bench_cpu_ticks "$gortd_pid")
render_us=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$RENDERS" \
    'BEGIN { printf "%.0f", d / hz / n * 1e6 }')

load=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT_DIR"
{
    echo "| wrk -c$CONNS, ${SECS}s × $ROUNDS rounds | p99 quiet | p99, /healthz every ${SCRAPE_MS} ms (control) | p99, /metrics every ${SCRAPE_MS} ms | /metrics / control | /metrics / quiet |"
    echo "|---|---|---|---|---|---|"
    echo "| gortd, hello | $(bench_median "${quiet[@]}") µs | $(bench_median "${control[@]}") µs | $(bench_median "${scraped[@]}") µs | $(bench_median "${ratios[@]}") | $(bench_median "${quiet_ratios[@]}") |"
    echo
    echo "gortd CPU per /metrics render (idle, $RENDERS scrapes): ${render_us} µs. Ratios: medians of the round-by-round ratios."
    echo
    echo "load average at the end: $load ($(nproc) CPUs, shared)"
} | tee "$OUT_DIR/scrape.md"
