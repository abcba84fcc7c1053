"""The access log of the real gortd (--access-log): curl's requests logged
one line each in nginx's combined format plus $request_time, parsed
strictly; values escaped as nginx escapes them; SIGUSR1 after an mv moves
the next lines to a new file and loses none; the admin listener's
requests logged beside the traffic's; and the buffering proven by
counting gortd's write(2) calls to the log under strace.

usage: test_accesslog.py GORTD PLUGINS_DIR
"""
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import SERVING_RE, Gortd, sanitizer, scale, wait_for  # noqa: E402

GORTD, PLUGINS = sys.argv[1:3]
del sys.argv[1:3]

# nginx's combined format plus $request_time, every field strict: the
# address, "- -" ($remote_user is never set), $time_local, the request
# line, status, body bytes, referer and agent (quoted, escaped: no raw '"'
# or '\' inside), seconds with exactly three decimals.
LINE_RE = re.compile(
    r'^(?P<addr>[0-9.]+|[0-9a-f:]+) - - '
    r'\[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?:(?P<method>[A-Z]+) (?P<target>[^" ]+) (?P<proto>HTTP/1\.[01])|-)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>(?:[^"\\]|\\x[0-9A-F]{2})*)" '
    r'"(?P<agent>(?:[^"\\]|\\x[0-9A-F]{2})*)" '
    r'(?P<rt>\d+\.\d{3})$')


def parse(path):
    """Every line of the file, parsed; a line that does not parse fails."""
    with open(path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n"), "a cut line: %r" % data[-80:]
    out = []
    for raw in data.decode("ascii").splitlines():
        m = LINE_RE.match(raw)
        assert m, "not combined+request_time: %r" % raw
        time.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z")
        out.append(m.groupdict())
    return out


def curl(port, paths, *extra):
    """One curl process, one kept-alive connection, the paths in order."""
    urls = ["http://127.0.0.1:%d%s" % (port, p) for p in paths]
    subprocess.run(["curl", "-sS", "--fail-with-body", "-o", "/dev/null"]
                   + list(extra) + urls, check=True, timeout=120)


class AccessLog(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-accesslog-")
        self.path = os.path.join(self.tmp, "access.log")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_lines_parse_and_count(self):
        n = scale(300, asan_div=3)
        with Gortd(GORTD, ["--access-log", self.path],
                   plugins_dir=PLUGINS) as d:
            curl(d.port, ["/about?i=%d" % i for i in range(n)])
            # nginx's escaping: '"', '\', control bytes and bytes over
            # 0x7e as \xHH (a header may hold a tab and UTF-8).
            curl(d.port, ['/about?q=%22x%22'], "-A", b'a"b\\c\td\xc3\xa9',
                 "-e", "http://ref.example/p")
            # Refused by the parser (a control byte in a header): logged
            # with its status, the request as "-", as nginx does.
            bad = subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                 "-H", "X-Bad: a\x01b", "http://127.0.0.1:%d/" % d.port],
                capture_output=True, timeout=60)
            self.assertEqual(bad.stdout, b"400")
            curl(d.port, ["/echo/raw/"], "--data-binary", "12345")
            curl(d.port, ["/nothing/here"], "-I")
        lines = parse(self.path)  # stop() flushed them all
        self.assertEqual(len(lines), n + 4)
        refused = [ln for ln in lines if ln["method"] is None]
        self.assertEqual([(r["status"], r["bytes"]) for r in refused],
                         [("400", "0")])
        lines = [ln for ln in lines if ln["method"]]
        plain = [ln for ln in lines if ln["target"].startswith("/about?i=")]
        self.assertEqual(sorted(int(ln["target"][9:]) for ln in plain),
                         list(range(n)))
        for ln in plain:
            self.assertEqual(ln["addr"], "127.0.0.1")
            self.assertEqual((ln["method"], ln["proto"], ln["status"]),
                             ("GET", "HTTP/1.1", "200"))
            self.assertEqual(ln["bytes"], str(len(b"About page\n")))
            self.assertEqual(ln["referer"], "-")
            self.assertTrue(ln["agent"].startswith("curl/"), ln)
        odd = [ln for ln in lines if ln["target"] == '/about?q=%22x%22'][0]
        self.assertEqual(odd["agent"], "a\\x22b\\x5Cc\\x09d\\xC3\\xA9")
        self.assertEqual(odd["referer"], "http://ref.example/p")
        post = [ln for ln in lines if ln["target"] == "/echo/raw/"][0]
        self.assertEqual((post["method"], post["bytes"]), ("POST", "5"))
        head = [ln for ln in lines if ln["target"] == "/nothing/here"][0]
        self.assertEqual((head["method"], head["bytes"]), ("HEAD", "0"))

    def test_admin_requests_logged(self):
        """The admin listener's requests go to the same log, as nginx logs
        every server's."""
        with Gortd(GORTD, ["--access-log", self.path, "--admin",
                           "127.0.0.1:0"], plugins_dir=PLUGINS) as d:
            admin = re.compile(r'msg="serving admin" addr=\S*:(\d+)')
            wait_for("the admin listener", lambda: admin.search(d.log))
            port = int(admin.search(d.log).group(1))
            curl(port, ["/metrics", "/healthz"])
            missing = subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                 "http://127.0.0.1:%d/no-such-admin-page" % port],
                capture_output=True, timeout=60)
            self.assertEqual(missing.stdout, b"404")
            curl(d.port, ["/about?traffic"])
        got = [(ln["target"], ln["status"]) for ln in parse(self.path)]
        self.assertEqual(sorted(got), [("/about?traffic", "200"),
                                       ("/healthz", "200"), ("/metrics", "200"),
                                       ("/no-such-admin-page", "404")])

    def test_flushed_without_shutdown(self):
        with Gortd(GORTD, ["--access-log", self.path],
                   plugins_dir=PLUGINS) as d:
            curl(d.port, ["/about?alone"])
            # No shutdown, no full buffer: the flusher's tick writes it.
            wait_for("the line", lambda: len(parse(self.path)) == 1)

    def test_sigusr1_reopens(self):
        n = scale(200, asan_div=2)
        d = Gortd(GORTD, ["--access-log", self.path], plugins_dir=PLUGINS)
        try:
            # The last request is a barrier: a connection logs a request
            # before it reads the next one, so when the barrier's answer
            # is back every earlier line is in gortd's buffers.
            curl(d.port, ["/about?a=%d" % i for i in range(n)] + ["/about?b"])
            rotated = self.path + ".1"
            os.rename(self.path, rotated)
            d.send_signal(signal.SIGUSR1)
            wait_for("the reopen", lambda: 'msg="logs reopened"' in d.log)
            self.assertTrue(os.path.exists(self.path))
            curl(d.port, ["/about?c=%d" % i for i in range(n)])
        finally:
            d.stop()
        old, new = parse(rotated), parse(self.path)
        ids = lambda lines, k: sorted(
            int(ln["target"].split("=")[1]) for ln in lines
            if ln["target"].startswith("/about?%s=" % k))
        self.assertEqual(ids(old, "a"), list(range(n)))
        self.assertEqual(ids(new, "a"), [])
        self.assertEqual(ids(new, "c"), list(range(n)))
        self.assertEqual(ids(old, "c"), [])
        self.assertEqual(len(old) + len(new), 2 * n + 1)

    def test_sigusr1_reopens_error_log(self):
        err_path = os.path.join(self.tmp, "error.log")
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with open(os.path.join(self.tmp, "out.log"), "wb") as out:
            p = subprocess.Popen(
                [GORTD, "--listen", "127.0.0.1:0", "--control",
                 "unix:" + os.path.join(self.tmp, "ctl.sock")],
                stdout=out, stderr=fd)
        os.close(fd)
        try:
            wait_for("serving", lambda: SERVING_RE.search(
                open(err_path).read()) or p.poll() is not None)
            os.rename(err_path, err_path + ".1")
            p.send_signal(signal.SIGUSR1)
            wait_for("a new error log", lambda: os.path.exists(err_path) and
                     'msg="logs reopened"' in open(err_path).read())
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(60), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        old = open(err_path + ".1").read()
        new = open(err_path).read()
        self.assertIn('msg="serving HTTP"', old)
        self.assertNotIn("logs reopened", old)
        self.assertIn('msg="shutting down"', new)

    def test_bad_path(self):
        p = subprocess.run([GORTD, "--access-log",
                            os.path.join(self.tmp, "no", "such", "dir")],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode().strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^gortd: -access-log: open .*No such file")


def strace_works():
    """strace is installed and may trace here (ptrace can be forbidden in
    a container)."""
    if not shutil.which("strace"):
        return False
    p = subprocess.run(["strace", "-qq", "-e", "trace=none", "true"],
                       capture_output=True, timeout=60)
    return p.returncode == 0


@unittest.skipIf(sanitizer("address"), "LeakSanitizer does not work under "
                 "ptrace: the plain build counts the writes")
@unittest.skipUnless(strace_works(), "strace is missing or cannot trace here")
class Buffered(unittest.TestCase):
    """Counts, not timing: gortd writes the log from a flusher that wakes
    once a second, or when an M's 64 KiB buffer fills, so the writes to the
    log are bounded by the seconds the run took plus the buffers filled,
    and are far fewer than the requests."""

    def test_writes_per_request(self):
        tmp = tempfile.mkdtemp(prefix="gort-accesslog-strace-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "access.log")
        trace = os.path.join(tmp, "trace")
        logp = os.path.join(tmp, "gortd.log")
        n = scale(3000, tsan_max=600, asan_div=5)
        with open(logp, "wb") as log:
            p = subprocess.Popen(
                ["strace", "-f", "-qq", "-y", "-e",
                 "trace=write,writev,pwrite64,pwritev", "-o", trace,
                 GORTD, "--listen", "127.0.0.1:0", "--plugins-dir", PLUGINS,
                 "--control", "unix:" + os.path.join(tmp, "ctl.sock"),
                 "--access-log", path], stdout=log, stderr=log)
        try:
            wait_for("serving", lambda: SERVING_RE.search(
                open(logp).read()) or p.poll() is not None, timeout=120)
            with open(logp) as f:
                port = int(SERVING_RE.search(f.read()).group(1))
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for i in range(n):
                c.request("GET", "/about?i=%d" % i)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
            c.close()
            elapsed = time.monotonic() - t0
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                gortd_pid = int(f.read().split()[0])
            os.kill(gortd_pid, signal.SIGTERM)
            self.assertEqual(p.wait(120), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        lines = parse(path)
        self.assertEqual(len(lines), n)
        target = re.compile(r"\bp?writev?\(\d+<%s>" % re.escape(path))
        with open(trace) as f:
            writes = sum(1 for ln in f if target.search(ln))
        size = os.path.getsize(path)
        bound = int(elapsed) + 2 + size // 40000
        print("%d requests, %d writes to the log (%.1f s, bound %d)"
              % (n, writes, elapsed, bound))
        self.assertGreaterEqual(writes, 1)
        self.assertLessEqual(writes, bound)
        self.assertLess(writes * 10, n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
