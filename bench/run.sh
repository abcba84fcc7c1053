#!/usr/bin/env bash
# run.sh — gort's side-by-side benchmarks: runs each suite script in turn.
#
#   bash bench/run.sh            every suite
#   bash bench/run.sh runtime    only the named suites
#
# `make bench` calls it after building; run by hand, it builds what it needs.
# Each suite prints a Markdown table and writes it to bench/out/<suite>.md.
# A suite is bench/<suite>.sh; add new ones (http, echo …) to SUITES.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
export BENCH_DIR
SUITES=(runtime echo http plugins proxy scrape)
[ "$#" -gt 0 ] && SUITES=("$@")

status=0
for suite in "${SUITES[@]}"; do
    if [ ! -f "$BENCH_DIR/$suite.sh" ]; then
        echo "bench: no suite $suite ($BENCH_DIR/$suite.sh)" >&2
        exit 2
    fi
    bash "$BENCH_DIR/$suite.sh" || status=$?
done
exit "$status"
