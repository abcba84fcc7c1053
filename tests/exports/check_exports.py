#!/usr/bin/env python3
"""check_exports.py — gortd and libgort export exactly the SDK.

include/gort/*.h is the whole public API: gort.h, net.h and stats.h are
implemented by libgort, http.h and plugin.h by gortd (plugins resolve them
from the executable at dlopen). This compares, as sets of names:

  nm -D --defined-only gortd     == declared in http.h + plugin.h
  nm -D --defined-only libgort   == declared in gort.h + net.h + stats.h
  server/gortd.exports           == declared in http.h + plugin.h

and prints what is extra and what is missing for each, then
"N passed, N failed".

What "declared" means. Functions: gcc -aux-info on a file that includes
every header lists each function prototype the compiler saw, with the file
and line it came from (macros expanded, attributes and line breaks
irrelevant); those from include/gort/X.h are X.h's. Objects: file-scope
`extern` declarations in the preprocessed header that are not functions.
A header declaring an object without `extern` would define it in every
file that includes it; there is none and there must be none.

What is not gort's, by rule rather than by name:
  * symbols of the toolchain: whatever an empty program linked like gortd
    (probe executable) or an empty shared library linked like libgort
    (probe library), built in this same tree with the same compiler, flags
    and shared libraries, exports. That is nothing in a plain tree; under
    ASan/TSan/UBSan it is the sanitizer runtime's interface and
    interceptors (__asan_*, malloc, pthread_create, ...) that the compiler
    driver exports from every executable it links, and those of its
    definitions the linked libraries reference (TSan's __cxa_guard_*).
  * copy relocations: a shared library's data object (libc's stderr) that
    the executable holds a copy of (readelf -r: R_*_COPY) is listed as
    defined there, but it is the library's.

usage: check_exports.py --cc GCC --include DIR --gortd EXE --libgort SO
                        --list FILE --probe-exe EXE --probe-lib SO
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

GORTD_HEADERS = ("http.h", "plugin.h")
LIBGORT_HEADERS = ("gort.h", "net.h", "stats.h")


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True,
                          text=True).stdout


def declared_functions(cc, incdir, headers):
    """{header: set(function names)} from gcc -aux-info."""
    out = {h: set() for h in headers}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "all.c")
        aux = os.path.join(tmp, "all.aux")
        with open(src, "w") as f:
            for h in headers:
                f.write('#include "gort/%s"\n' % h)
        run(cc, "-std=gnu11", "-D_GNU_SOURCE", "-I", incdir, "-fsyntax-only",
            "-aux-info", aux, src)
        with open(aux) as f:
            lines = f.read().splitlines()
    line_re = re.compile(r"^/\* (.*):\d+:[A-Z]+ \*/ (.*)$")
    # The declarator's name: the first identifier followed by a parameter
    # list, skipping "T (*" of a function returning a function pointer.
    name_re = re.compile(r"([A-Za-z_]\w*)\s*\((?!\s*\*)")
    incdir = os.path.realpath(incdir)
    for line in lines:
        m = line_re.match(line)
        if not m:
            continue
        path = os.path.realpath(m.group(1))
        if os.path.dirname(path) != os.path.join(incdir, "gort"):
            continue
        n = name_re.search(m.group(2))
        if not n:
            sys.exit("check_exports: cannot read the name in: " + line)
        out.setdefault(os.path.basename(path), set()).add(n.group(1))
    return out


def strip_attributes(text):
    """Removes __attribute__((...)) with balanced parentheses."""
    while True:
        i = text.find("__attribute__")
        if i < 0:
            return text
        j = text.index("(", i)
        depth = 0
        for k in range(j, len(text)):
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            if depth == 0:
                break
        text = text[:i] + " " + text[k + 1:]


def declared_objects(cc, incdir, header, functions):
    """File-scope extern declarations of header that are not functions."""
    text = run(cc, "-std=gnu11", "-D_GNU_SOURCE", "-E", "-I", incdir,
               os.path.join(incdir, "gort", header))
    # Keep the lines that come from header itself (line markers say which).
    own, mine = [], False
    for line in text.splitlines():
        m = re.match(r'^# \d+ "(.*)"', line)
        if m:
            mine = os.path.basename(m.group(1)) == header and \
                os.path.dirname(os.path.realpath(m.group(1))) == \
                os.path.join(os.path.realpath(incdir), "gort")
            continue
        if mine:
            own.append(line)
    body = strip_attributes(" ".join(own))
    objects, depth, stmt = set(), 0, ""
    for ch in body:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == ";" and depth == 0:
            s = stmt.strip()
            stmt = ""
            if re.match(r'extern\b(?!\s*")', s):
                names = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[.*?\]", "", s))
                if names and names[-1] not in functions:
                    objects.add(names[-1])
            continue
        stmt += ch
    return objects


def exported(path):
    """Names nm -D --defined-only lists, without copy relocations."""
    names = set()
    for line in run("nm", "-D", "--defined-only", path).splitlines():
        f = line.split()
        if len(f) >= 3:
            names.add(f[2].split("@")[0])
    copies = set()
    for line in run("readelf", "-rW", path).splitlines():
        f = line.split()
        if len(f) >= 5 and f[2].endswith("_COPY"):
            copies.add(f[4].split("@")[0])
    return names - copies


def read_list(path):
    """The symbols of a GNU ld --dynamic-list file."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    inner = text[text.index("{") + 1:text.rindex("}")]
    return {s.strip() for s in inner.split(";") if s.strip()}


class Result:
    passed = 0
    failed = 0


def compare(res, what, got, want):
    extra, missing = sorted(got - want), sorted(want - got)
    if not extra and not missing:
        res.passed += 1
        print("ok   %s: %d symbols, exactly the declared ones" % (what, len(got)))
        return
    res.failed += 1
    print("FAIL %s: %d extra, %d missing" % (what, len(extra), len(missing)))
    for n in extra:
        print("       extra:   " + n)
    for n in missing:
        print("       missing: " + n)


def main():
    ap = argparse.ArgumentParser()
    for a in ("cc", "include", "gortd", "libgort", "list", "probe-exe",
              "probe-lib"):
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()

    headers = GORTD_HEADERS + LIBGORT_HEADERS
    funcs = declared_functions(args.cc, args.include, headers)
    decl = {}
    for h in headers:
        decl[h] = funcs.get(h, set()) | declared_objects(
            args.cc, args.include, h, funcs.get(h, set()))
    gortd_api = set().union(*(decl[h] for h in GORTD_HEADERS))
    libgort_api = set().union(*(decl[h] for h in LIBGORT_HEADERS))

    res = Result()
    # The extraction itself: every SDK name is gort_-prefixed, no header
    # found empty (a broken extraction must not pass as "nothing declared").
    bad = sorted(n for n in gortd_api | libgort_api
                 if not n.startswith("gort_"))
    empty = [h for h in headers if not decl[h]]
    if bad or empty:
        res.failed += 1
        print("FAIL declarations: not gort_-prefixed %s, none found in %s"
              % (bad, empty))
    else:
        res.passed += 1
        print("ok   declarations: " + ", ".join(
            "%s %d" % (h, len(decl[h])) for h in headers))

    exe_tool = exported(args.probe_exe)
    lib_tool = exported(args.probe_lib)
    compare(res, "gortd exports (nm -D %s)" % args.gortd,
            exported(args.gortd) - exe_tool, gortd_api)
    compare(res, "libgort exports (nm -D %s)" % args.libgort,
            exported(args.libgort) - lib_tool, libgort_api)
    compare(res, "export list %s" % args.list, read_list(args.list),
            gortd_api)
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
