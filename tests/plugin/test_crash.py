#!/usr/bin/env python3
"""A misbehaving plugin in the real gortd (fixtures/crash.c, plugin "crash"
1.0.0, next to tp_good.so as "good").

Crash (label nosan: ASan and TSan own the fault signals):
  NULL deref, abort(), divide by zero: the report on stderr has the signal
  line ([signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=...]),
  the plugin and route being served, the faulting goroutine's header first,
  a frame naming the fixture's function with crash.c:LINE, the other
  goroutines, and gortd exits 2. A stack overflow keeps its own message and
  exits 2. SIGQUIT prints every goroutine and exits 2.
Quarantine (--plugin-faults=quarantine, also nosan): the faulting request
  gets 500, every route of that plugin 503 from then on, the other plugin's
  routes 200, `gortctl plugins list` says quarantined with the report, the
  fault's defer ran, the descriptor count is what it was, gortd exits 0.
Live (runs in sanitizer trees too):
  gort_http_defer: a handler that locks a gort_mutex and allocates, undoing
  both in defers, then aborts, lets the next request take the mutex (it
  would hang otherwise), and ASan reports no leak at exit. A dump taken
  while a handler spins names the spinning function with crash.c:LINE.

usage: test_crash.py GORTD GORTCTL TEST_PLUGINS_DIR [unittest args]
"""
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, wait_for  # noqa: E402

GORTD = GORTCTL = BUILT = None

SIGNAL_RE = (r"^\[signal %s code=(-?0x[0-9a-f]+) addr=(0x[0-9a-f]+) "
             r"pc=(0x[0-9a-f]+)\]$")
HEADER_RE = r"^goroutine (\d+) \[running\] \(http conn from 127\.0\.0\.1:\d+\):$"
FRAME_RE = r"^%s\(\.\.\.\)\n\t(/\S*/crash\.c):(\d+) \+0x[0-9a-f]+$"


class Daemon(Gortd):
    n = 0

    def __init__(self, tmp, extra=(), env=None):
        Daemon.n += 1
        super().__init__(GORTD, list(extra), env=env,
                         name="gortd-%d" % Daemon.n, tmp=tmp,
                         plugins_dir=os.path.join(tmp, "plugins"),
                         control="unix:" + os.path.join(
                             tmp, "ctl-%d.sock" % Daemon.n))

    def request(self, path, timeout=30):
        """(status, body); (None, error) when the connection broke."""
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            return r.status, r.read().decode()
        except (ConnectionError, http.client.HTTPException) as e:
            return None, repr(e)
        finally:
            c.close()

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def conn_sockets(self):
        """How many of gortd's descriptors are TCP connections (any state
        but LISTEN): a response can reach the client before gortd has
        closed the connection that carried it."""
        inodes = set()
        for name in ("tcp", "tcp6"):
            with open("/proc/%d/net/%s" % (self.pid, name)) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] != "0A":
                        inodes.add(cols[9])
        n = 0
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", target)
            if m and m.group(1) in inodes:
                n += 1
        return n

    def ctl(self, *args):
        return subprocess.run([GORTCTL, "-addr", self.control] + list(args),
                              capture_output=True, text=True, timeout=60)


def plugins_tmp():
    tmp = tempfile.mkdtemp(prefix="gort-crash-")
    d = os.path.join(tmp, "plugins")
    os.mkdir(d)
    for src, dst in (("tp_crash.so", "crash.so"), ("tp_good.so", "good.so")):
        shutil.copyfile(os.path.join(BUILT, src), os.path.join(d, dst))
        os.chmod(os.path.join(d, dst), 0o755)
    return tmp


class Crash(unittest.TestCase):
    def setUp(self):
        self.tmp = plugins_tmp()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def crash(self, path):
        d = Daemon(self.tmp)
        self.assertEqual(d.request("/crash/ok"), (200, "ok\n"))
        status, _ = d.request(path)
        self.assertIsNone(status, "a crash answered")
        d.wait_exit(2)
        return d.log

    def check_report(self, log, sig, route, func):
        self.assertIn("fatal error: unexpected signal\n", log)
        m = re.search(SIGNAL_RE % re.escape(sig), log, re.M)
        self.assertTrue(m, "no signal line for %s:\n%s" % (sig, log))
        after = log[m.end():]
        self.assertTrue(after.startswith(
            "\nserving: plugin crash 1.0.0, route GET %s\n\n" % route),
            after[:300])
        # The faulting goroutine comes first, then the others.
        heads = re.findall(r"^goroutine (\d+) \[([^\]]*)\]", after, re.M)
        self.assertGreaterEqual(len(heads), 2, after)
        self.assertEqual(heads[0][1], "running")
        first = re.search(HEADER_RE, after, re.M)
        self.assertTrue(first, after[:500])
        block = after[first.end():].split("\n\n")[0]
        f = re.search(FRAME_RE % func, block, re.M)
        self.assertTrue(f, "no %s frame with file:line:\n%s" % (func, block))
        self.assertGreater(int(f.group(2)), 0)
        self.assertIn("trampoline(...)\n", block)
        self.assertRegex(block, r"\ncreated by \S+ in goroutine \d+\n\t\S+")
        self.assertIn("(main):", after)  # another goroutine: main
        return m

    def test_null(self):
        log = self.crash("/crash/null")
        m = self.check_report(log, "SIGSEGV: segmentation violation",
                              "/crash/null", "crash_store")
        self.assertEqual((m.group(1), m.group(2)), ("0x1", "0x0"))
        block = log[m.end():]
        self.assertRegex(block, "(?m)" + FRAME_RE % "crash_null")

    def test_abort(self):
        log = self.crash("/crash/abort")
        self.check_report(log, "SIGABRT: abort", "/crash/abort",
                          "crash_abort")

    def test_fpe(self):
        log = self.crash("/crash/fpe")
        self.check_report(log, "SIGFPE: floating-point exception",
                          "/crash/fpe", "crash_fpe")

    def test_overflow(self):
        log = self.crash("/crash/overflow")
        self.assertRegex(log, r"fatal error: stack overflow \(guard page "
                         r"hit\)\n\ngoroutine \d+ \[running\] \(http conn")

    def test_stripped(self):
        """Without DWARF: the function and its offset, with the object;
        without any symbol table: the object and the offset from its
        load address."""
        strip = shutil.which("strip")
        if not strip:
            self.skipTest("no strip")
        so = os.path.join(self.tmp, "plugins", "crash.so")
        subprocess.run([strip, "--strip-debug", so], check=True)
        log = self.crash("/crash/null")
        self.assertRegex(log, r"\ncrash_store\(\.\.\.\)\n\t\S+/crash\.so "
                         r"\+0x[0-9a-f]+\ncrash_null\(\.\.\.\)\n")
        subprocess.run([strip, "--strip-all", so], check=True)
        log = self.crash("/crash/null")
        m = re.search(HEADER_RE, log, re.M)
        self.assertTrue(m, log)
        self.assertRegex(log[m.end():], r"^\n\?\(\.\.\.\)\n\t\S+/crash\.so "
                         r"\+0x[0-9a-f]+\n")

    def test_sigquit(self):
        d = Daemon(self.tmp)
        self.assertEqual(d.request("/crash/ok"), (200, "ok\n"))
        d.send_signal(signal.SIGQUIT)
        d.wait_exit(2)
        log = d.log
        i = log.find("SIGQUIT: quit\n\n")
        self.assertGreaterEqual(i, 0, log)
        dump = log[i:]
        self.assertRegex(dump, r"\ngoroutine 1 \[[^\]]+\] \(main\):\n")
        self.assertRegex(dump, r"\nmain_goroutine\(\.\.\.\)\n\t\S+/gortd\.c:"
                         r"\d+ \+0x[0-9a-f]+\n")
        self.assertRegex(dump, r"\(http listener\):\n")


class Quarantine(unittest.TestCase):
    def test_quarantine(self):
        tmp = plugins_tmp()
        d = Daemon(tmp, ["--plugin-faults", "quarantine"])
        with d:
            self.assertEqual(d.request("/good"), (200, "good -\n"))
            self.assertEqual(d.request("/crash/ok"), (200, "ok\n"))
            wait_for("gortd to close the earlier connections",
                     lambda: d.conn_sockets() == 0)
            before = d.fds()
            status, body = d.request("/crash/null")
            self.assertEqual(status, 500, body)
            self.assertTrue(d.alive())
            for path in ("/crash/null", "/crash/ok", "/crash/defer"):
                self.assertEqual(d.request(path)[0], 503, path)
            for _ in range(3):
                self.assertEqual(d.request("/good"), (200, "good -\n"))
            wait_for("the descriptor count back to %d" % before,
                     lambda: d.fds() == before)
            log = d.log
            self.assertIn("crash: defer ran\n", log)
            self.assertRegex(log, r'msg="plugin quarantined: fault in its '
                             r'code" plugin=crash version=1\.0\.0')
            out = d.ctl("plugins", "list")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, r"(?m)^crash\s+1\.0\.0\s.*"
                             r"quarantined$")
            self.assertRegex(out.stdout, r"(?m)^good\s+\S+\s.*\.so$")
            self.assertRegex(out.stdout, "(?m)" + SIGNAL_RE %
                             "SIGSEGV: segmentation violation")
            self.assertRegex(out.stdout, "(?m)" + FRAME_RE % "crash_null")
        shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_mode(self):
        tmp = tempfile.mkdtemp(prefix="gort-crash-")
        r = subprocess.run([GORTD, "--plugin-faults", "ignore"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn('invalid value "ignore" for flag -plugin-faults',
                      r.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


class Live(unittest.TestCase):
    def setUp(self):
        self.tmp = plugins_tmp()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_defer_on_abort(self):
        with Daemon(self.tmp) as d:
            for _ in range(5):
                status, _ = d.request("/crash/defer?abort=1")
                self.assertEqual(status, 500)
                # Would wait forever on the mutex had the defer not run.
                self.assertEqual(d.request("/crash/defer"),
                                 (200, "deferred\n"))
        # Leaving `with` stopped it: exit 0, and no leak report from ASan.

    def test_dump_names_spinning_handler(self):
        with Daemon(self.tmp) as d:
            t = threading.Thread(target=d.request,
                                 args=("/crash/spin?ms=60000",))
            t.start()
            pat = re.compile(r"\[running[^\]]*\] \(http conn from [^)]*\):\n"
                             r"(?:\S+\(\.\.\.\)\n\t\S+ \+0x[0-9a-f]+\n)*?"
                             r"crash_spin_loop\(\.\.\.\)\n\t/\S*/crash\.c:"
                             r"\d+ \+0x[0-9a-f]+\ncrash_spin\(\.\.\.\)\n")
            seen = []

            def named():
                out = d.ctl("dump")
                seen[:] = [out.stdout + out.stderr]
                return pat.search(out.stdout)

            try:
                wait_for("a dump naming crash_spin_loop", named)
            except AssertionError:
                self.fail("last dump:\n%s" % (seen[:1] or [""])[0][:4000])
            finally:
                self.assertEqual(d.request("/crash/unspin"),
                                 (200, "unspun\n"))
                t.join()


def main():
    global GORTD, GORTCTL, BUILT
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    GORTD, GORTCTL, BUILT = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)


if __name__ == "__main__":
    main()
