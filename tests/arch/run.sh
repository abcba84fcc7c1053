#!/usr/bin/env bash
# Cross-compiles the runtime and arch_smoke.c for an architecture other than
# the build machine's and runs them under qemu-user: the context switch of
# that architecture (ctx_aarch64.S on an x86-64 host, ctx_x86_64.S on an
# aarch64 one) is otherwise never executed by the test suite.
#
# usage: run.sh RUNTIME_DIR SDK_INCLUDE_DIR COMMON_INCLUDE_DIR
set -euo pipefail
rt=$1
inc=$2
common=$3
here=$(cd "$(dirname "$0")" && pwd)
case $(uname -m) in
x86_64) cc=aarch64-linux-gnu-gcc qemu=qemu-aarch64 ctx=ctx_aarch64.S ;;
aarch64) cc=x86_64-linux-gnu-gcc qemu=qemu-x86_64 ctx=ctx_x86_64.S ;;
*) echo "no cross target for $(uname -m)"; echo "0 passed, 0 failed"; exit 0 ;;
esac
for t in "$cc" "$qemu"; do
    command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/install-deps.sh)"; exit 1; }
done
out=$(mktemp -d /tmp/gort-arch.XXXXXX)
trap 'rm -rf "$out"' EXIT
srcs=$(ls "$rt"/*.c | grep -v '/ctx_')
# GORT_NO_LIBDW: no libdw for the target; frames are object+offset there.
"$cc" -O2 -g -fno-omit-frame-pointer -D_GNU_SOURCE -DGORT_NO_LIBDW -std=gnu11 -I"$inc" -I"$common" -I"$rt" \
    $srcs "$rt/$ctx" "$here/arch_smoke.c" -o "$out/arch_smoke" -lpthread -ldl -static \
    2>"$out/cc.log" || { cat "$out/cc.log"; exit 1; }
echo "== $ctx under $qemu"
timeout 300 "$qemu" "$out/arch_smoke"
set +e
timeout 120 "$qemu" "$out/arch_smoke" overflow 2>"$out/ovf.err"
st=$?
set -e
cat "$out/ovf.err"
if [ "$st" -ne 0 ] && grep -q "stack overflow" "$out/ovf.err" &&
   grep -q "arch-victim" "$out/ovf.err"; then
    echo "overflow reported: 1 passed, 0 failed"
else
    echo "FAIL: overflow not reported (exit $st)"
    echo "0 passed, 1 failed"
    exit 1
fi
