"""/debug/gort/goroutines on the admin listener of the real gortd: debug=1
(grouped by identical stacks, Go's legacy goroutine profile, read back by
Go's own `go tool pprof`) and debug=2 (every goroutine's traceback, Go's
text), with known goroutines in place: kept-alive idle connections and
requests parked in a slow handler.

usage: test_goroutines.py GORTD PLUGINS_DIR
"""
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, scale, wait_for  # noqa: E402

GORTD, PLUGINS = sys.argv[1:3]
del sys.argv[1:3]
ADMIN_RE = re.compile(r'msg="serving admin" addr=\S*:(\d+)')
HEAD1 = re.compile(r"^goroutine profile: total (\d+)$")
ENTRY1 = re.compile(r"^(\d+) @((?: 0x[0-9a-f]+)+)$")
FRAME1 = re.compile(r"^#\t(0x[0-9a-f]+)\t(\S+)\+(0x[0-9a-f]+|0)\t(\S+)$")
HEAD2 = re.compile(r"^goroutine (\d+) \[([a-zA-Z ]+)(?:, (\d+) minutes?)?\]"
                   r"(?: \((.*)\))?:$")
FUNC2 = re.compile(r"^(\S+)\(\.\.\.\)$")
LOC2 = re.compile(r"^\t(\S+) \+(0x[0-9a-f]+|0)$")
CREATED2 = re.compile(r"^created by (\S+) in goroutine (\d+)$")


def get(port, query):
    with urllib.request.urlopen(
            "http://127.0.0.1:%d/debug/gort/goroutines%s" % (port, query),
            timeout=60) as r:
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
        return r.read().decode()


def parse1(text):
    """debug=1, strictly: [(count, key, [(func, object)])], total (key: the
    pcs, and the "no backtrace" line when there is one). A
    goroutine without a backtrace (running) has its start function only,
    after a "# STATE: no backtrace" line."""
    lines = text.split("\n")
    m = HEAD1.match(lines[0])
    assert m, lines[0]
    total, entries, i = int(m.group(1)), [], 1
    while i < len(lines) and lines[i]:
        m = ENTRY1.match(lines[i])
        assert m, "not an entry: %r" % lines[i]
        pcs = m.group(2).split()
        frames = []
        nobt = lines[i + 1] if lines[i + 1].startswith("# ") else None
        if nobt:
            assert nobt.endswith(": no backtrace, its start function"), nobt
            assert len(pcs) == 1, nobt
            i += 1
        for pc in pcs:
            i += 1
            f = FRAME1.match(lines[i])
            assert f and f.group(1) == pc, "frame of %s: %r" % (pc, lines[i])
            frames.append((f.group(2), f.group(4)))
        i += 1
        assert lines[i] == "", "no blank line after an entry: %r" % lines[i]
        i += 1
        entries.append((int(m.group(1)), pcs + [nobt] * bool(nobt), frames))
    assert lines[i:] == [""], "trailing text: %r" % lines[i:]
    return entries, total


def parse2(text):
    """debug=2, strictly: [(id, state, label, [func], creator)]."""
    out = []
    for block in text.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        m = HEAD2.match(lines[0])
        assert m, "not a goroutine header: %r" % lines[0]
        funcs, i, creator = [], 1, None
        while i < len(lines) and not lines[i].startswith("created by "):
            f = FUNC2.match(lines[i])
            assert f and LOC2.match(lines[i + 1]), lines[i:i + 2]
            funcs.append(f.group(1))
            i += 2
        if i < len(lines):
            c = CREATED2.match(lines[i])
            assert c and LOC2.match(lines[i + 1]) and i + 2 == len(lines), \
                lines[i:]
            creator = (c.group(1), int(c.group(2)))
        out.append((int(m.group(1)), m.group(2), m.group(4), funcs, creator))
    assert text.endswith("\n\n")
    return out


class Goroutines(unittest.TestCase):
    def test_grouped_and_tracebacks(self):
        n = scale(40, asan_div=2)
        with Gortd(GORTD, ["--admin", "127.0.0.1:0"],
                   plugins_dir=PLUGINS) as d:
            wait_for("admin", lambda: ADMIN_RE.search(d.log))
            aport = int(ADMIN_RE.search(d.log).group(1))
            # n idle keep-alive connections: answered once, then idle.
            idle = []
            for _ in range(n):
                c = http.client.HTTPConnection("127.0.0.1", d.port,
                                               timeout=60)
                c.request("GET", "/about")
                c.getresponse().read()
                idle.append(c)
            ports = {c.sock.getsockname()[1] for c in idle}
            # 3 requests parked in the slow plugin's handler: a stream
            # that sleeps between chunks and ends when a write fails, once
            # the test closed its connection.
            slow = [socket.create_connection(("127.0.0.1", d.port))
                    for _ in range(3)]
            for s in slow:
                s.sendall(b"GET /stream?n=100000&ms=100 HTTP/1.1\r\n"
                          b"Host: x\r\n\r\n")
            try:
                wait_for("the slow requests in flight",
                         lambda: self.in_flight(aport) == 3)
                self.check1(aport, n)
                self.check2(aport, ports)
            finally:
                for s in slow:
                    s.close()
                for c in idle:
                    c.close()

    def in_flight(self, aport):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                                    timeout=30) as r:
            m = re.search(rb"^gort_http_requests_in_flight (\d+)$", r.read(),
                          re.M)
        return int(m.group(1))

    def check1(self, aport, n):
        text = get(aport, "?debug=1")
        entries, total = parse1(text)
        self.assertEqual(sum(c for c, _, _ in entries), total)
        counts = [c for c, _, _ in entries]
        self.assertEqual(counts, sorted(counts, reverse=True))
        # Every stack once: equal stacks were merged.
        stacks = [tuple(p) for _, p, _ in entries]
        self.assertEqual(len(stacks), len(set(stacks)))
        idle = [c for c, k, f in entries if len(k) == 1 and
                [fn for fn, _ in f] == ["http_conn_serve"]]
        self.assertEqual(idle, [n])
        slow = [c for c, _, f in entries
                if any(obj.endswith("/slow.so") for _, obj in f)]
        self.assertEqual(sum(slow), 3, text)
        # pprof keys on the pcs alone: a running goroutine merges there
        # with the ones parked at its start function.
        by_pcs = {}
        for c, k, _ in entries:
            pcs = tuple(x for x in k if x.startswith("0x"))
            by_pcs[pcs] = by_pcs.get(pcs, 0) + c
        self.check_pprof(text, list(by_pcs.values()))

    def check_pprof(self, text, counts):
        """Go's pprof reads it as a goroutine count profile."""
        go = shutil.which("go")
        if not go:
            print("go not installed: the pprof read-back is skipped")
            return
        tmp = tempfile.mkdtemp(prefix="gort-pprof-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "goroutine.txt")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "cache"),
                   GOFLAGS="", PPROF_TMPDIR=tmp)
        p = subprocess.run([go, "tool", "pprof", "-raw", "-symbolize=none",
                            path], capture_output=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = p.stdout.decode()
        self.assertIn("PeriodType: goroutine count", out)
        samples = out.split("Samples:\n")[1].split("Locations")[0]
        got = sorted(int(m) for m in
                     re.findall(r"^\s+(\d+):", samples, re.M))
        self.assertEqual(got, sorted(counts))

    def check2(self, aport, ports):
        gs = parse2(get(aport, "?debug=2"))
        ids = [g[0] for g in gs]
        self.assertEqual(len(ids), len(set(ids)))
        labelled = {}
        for gid, state, label, funcs, creator in gs:
            m = re.match(r"http conn from 127\.0\.0\.1:(\d+)$", label or "")
            if m:
                labelled[int(m.group(1))] = (state, funcs, creator)
        for p in ports:
            self.assertIn(p, labelled)
            state, funcs, creator = labelled[p]
            self.assertEqual(state, "IO wait")
            self.assertEqual(funcs, ["http_conn_serve"])
        main = [g for g in gs if g[4] is None]
        self.assertTrue(main, "no goroutine without a creator (main)")

    def test_bad_debug(self):
        with Gortd(GORTD, ["--admin", "127.0.0.1:0"]) as d:
            wait_for("admin", lambda: ADMIN_RE.search(d.log))
            aport = int(ADMIN_RE.search(d.log).group(1))
            for q in ["", "?debug=0", "?debug=3", "?debug=x"]:
                c = http.client.HTTPConnection("127.0.0.1", aport, timeout=30)
                c.request("GET", "/debug/gort/goroutines" + q)
                r = c.getresponse()
                self.assertEqual(r.status, 400, q)
                self.assertIn(b"?debug=1", r.read())
                c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
