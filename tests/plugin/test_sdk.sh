#!/usr/bin/env bash
# test_sdk.sh — the plugin SDK as an author outside the tree uses it:
#   1. `cmake --install BUILD --prefix TMP/prefix`: libgort with its SONAME,
#      the public headers and nothing of gortd's, gort.pc, the CMake package;
#   2. the README's example plugin (between <!-- plugin-example:begin/end -->)
#      built in a directory outside the source tree, once with exactly
#      `cc -shared -fPIC $(pkg-config --cflags --libs gort)`, once with the
#      README's find_package(gort) snippet;
#   3. each .so deployed alone into a fresh --plugins-dir of the real gortd
#      from the build tree, its route queried with curl, gortd stopped with
#      SIGTERM: exit 0 (under ASan that includes no leak report);
#   4. the README's service example (between <!-- service-example:begin/
#      end -->: a context with a deadline, two goroutines, a channel) built
#      the same way and served: GET /fan answers "fast: ok" then "slow:
#      deadline exceeded", 200.
#
# usage: test_sdk.sh CMAKE BUILD_DIR GORTD README
#
# In a sanitizer tree gortd and libgort are instrumented and the plugin is
# not: that works because gortd is the executable (the sanitizer runtime is
# already in the process, no LD_PRELOAD needed) and the plugin's
# NEEDED libgort.so.0 is the libgort gortd already loaded (same SONAME), so
# the installed copy is only linked against, never loaded.
set -euo pipefail

CMAKE=$1 BUILD=$2 GORTD=$3 README=$4
. "$(dirname "$0")/../lib/gortd.sh"
tmp=$(mktemp -d /tmp/gort-sdk.XXXXXX)

cleanup() {
    gortd_cleanup
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

step() { echo "--- $*"; }

# ---- 1. install ---------------------------------------------------------------
step "cmake --install $BUILD --prefix $tmp/prefix"
prefix=$tmp/prefix
"$CMAKE" --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install"; }

pc=$(find "$prefix" -path '*/pkgconfig/gort.pc' | head -n 1)
[ -n "$pc" ] || fail "no lib*/pkgconfig/gort.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in libgort.so libgort.so.0 cmake/gort/gortConfig.cmake \
    cmake/gort/gortConfigVersion.cmake cmake/gort/gortTargets.cmake; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f not installed"
done
soname=$(readelf -d "$libdir/libgort.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgort.so.0 ] || fail "SONAME of libgort.so is '$soname'"
for h in gort.h http.h net.h plugin.h stats.h; do
    [ -f "$prefix/include/gort/$h" ] || fail "include/gort/$h not installed"
done
# Only the public API: no server/ or runtime/ internals, no static archives.
extra=$(cd "$prefix" && find . -type f \( -name '*.h' -o -name '*.a' \) |
    grep -v '^\./include/gort/[a-z]*\.h$' || true)
[ -z "$extra" ] || fail "internals installed: $extra"

export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --variable=prefix gort)" = "$prefix" ] ||
    fail "gort.pc prefix is $(pkg-config --variable=prefix gort), want $prefix"
[ "$(pkg-config --variable=includedir gort)" = "$prefix/include" ] ||
    fail "gort.pc includedir is $(pkg-config --variable=includedir gort)"
[ "$(pkg-config --variable=libdir gort)" = "$libdir" ] ||
    fail "gort.pc libdir is $(pkg-config --variable=libdir gort)"
unset PKG_CONFIG_PATH

# ---- 2. build the README's example out of the tree ----------------------------
src=$tmp/src
mkdir -p "$src"
# The ```c block between the markers, without the fences.
awk '/<!-- plugin-example:begin -->/ { on = 1; next }
     /<!-- plugin-example:end -->/   { on = 0 }
     on && !/^```/' "$README" >"$src/greet.c"
grep -q 'GORT_PLUGIN(' "$src/greet.c" ||
    fail "no plugin example between the markers in $README"
grep -q 'gort_plugin_handle' "$src/greet.c" ||
    fail "the README example registers no route"
# The first ```cmake block after the example: the find_package snippet.
awk '/<!-- plugin-example:end -->/ { after = 1 }
     after && /^```cmake$/ { on = 1; next }
     on && /^```$/ { exit }
     on' "$README" >"$tmp/snippet.cmake"
grep -q 'find_package(gort' "$tmp/snippet.cmake" ||
    fail "no find_package(gort) snippet after the example in $README"

step "cc -shared -fPIC \$(pkg-config --cflags --libs gort) -o greet.so greet.c"
(
    cd "$src"
    cc -shared -fPIC $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags \
        --libs gort) -o greet.so greet.c
) || fail "pkg-config build"

step "find_package(gort) build"
{
    echo 'cmake_minimum_required(VERSION 3.16)'
    echo 'project(greet C)'
    cat "$tmp/snippet.cmake"
    echo 'target_compile_options(greet PRIVATE -Wall -Wextra -Werror)'
} >"$src/CMakeLists.txt"
"$CMAKE" -S "$src" -B "$tmp/cmbuild" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure"; }
gort_dir=$(sed -n 's/^gort_DIR:PATH=//p' "$tmp/cmbuild/CMakeCache.txt")
[ "$gort_dir" = "$libdir/cmake/gort" ] ||
    fail "find_package(gort) found $gort_dir, want $libdir/cmake/gort"
"$CMAKE" --build "$tmp/cmbuild" >"$tmp/cmbuild.log" 2>&1 ||
    { cat "$tmp/cmbuild.log"; fail "cmake build"; }
[ -f "$tmp/cmbuild/greet.so" ] || fail "the CMake build made no greet.so"

# ---- 3. serve each from the real gortd ----------------------------------------
# serve SO MODE: gortd with SO alone in its plugins dir (file mode MODE).
serve() {
    local so=$1 mode=$2 dir port log body
    dir=$(mktemp -d "$tmp/plugins.XXXXXX")
    chmod 0755 "$dir"
    install -m "$mode" "$so" "$dir/greet.so"
    log=$dir.log
    step "gortd --plugins-dir $dir (greet.so mode $mode) on a free port"
    gortd_start "$log" "$GORTD" --control "unix:$dir.ctl.sock" \
        --plugins-dir "$dir" || fail "gortd did not start"
    port=$GORTD_PORT
    grep -q "msg=\"plugin loaded\" plugin=greet version=1.0.0 file=$dir/greet.so routes=1" "$log" ||
        { cat "$log"; fail "greet.so not loaded"; }

    body=$(curl -sS --max-time 10 -w '|%{http_code}' \
        "http://127.0.0.1:$port/greet/world") || fail "curl"
    [ "$body" = "hello, world
|200" ] || { cat "$log"; fail "GET /greet/world answered '$body'"; }
    body=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/greet/") || fail "curl"
    [ "$body" = 404 ] || fail "GET /greet/ answered $body, want 404"

    gortd_stop "$GORTD_PID" "$log" ||
        fail "gortd did not exit 0 without a sanitizer report after SIGTERM"
}

serve "$src/greet.so" 0644
serve "$tmp/cmbuild/greet.so" 0755

# ---- 4. the README's service example ------------------------------------------
awk '/<!-- service-example:begin -->/ { on = 1; next }
     /<!-- service-example:end -->/   { on = 0 }
     on && !/^```/' "$README" >"$src/fan.c"
grep -q 'gort_ctx_with_timeout' "$src/fan.c" ||
    fail "no service example between the markers in $README"
step "cc -shared -fPIC -Wall -Wextra -Werror \$(pkg-config ...) -o fan.so fan.c"
(
    cd "$src"
    cc -shared -fPIC -Wall -Wextra -Werror $(PKG_CONFIG_PATH=$libdir/pkgconfig \
        pkg-config --cflags --libs gort) -o fan.so fan.c
) || fail "service example build"
dir=$(mktemp -d "$tmp/plugins.XXXXXX")
chmod 0755 "$dir"
install -m 0644 "$src/fan.so" "$dir/fan.so"
step "gortd with fan.so, GET /fan"
gortd_start "$dir.log" "$GORTD" --control "unix:$dir.ctl.sock" \
    --plugins-dir "$dir" || fail "gortd did not start"
body=$(curl -sS --max-time 10 -w '|%{http_code}' \
    "http://127.0.0.1:$GORTD_PORT/fan") || fail "curl"
[ "$body" = "fast: ok
slow: deadline exceeded
|200" ] || { cat "$dir.log"; fail "GET /fan answered '$body'"; }
gortd_stop "$GORTD_PID" "$dir.log" ||
    fail "gortd did not exit 0 without a sanitizer report after SIGTERM"
echo "PASS"
