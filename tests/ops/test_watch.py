"""`gortctl watch` shows what moves: under load from this test, the frames
after the first carry requests per second (in total and for the plugin
that serves them), switches, steals and netpoll wake-ups per second, and
each P's busy share; the first frame, with nothing to compare, says so.
And a fleet: `gortctl --addr A --addr B --addr C stats|tune` prints a row
per gortd, an unreachable one's row saying so (exit 1).

usage: test_watch.py GORTD GORTCTL PLUGINS_DIR
"""
import http.client
import os
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd  # noqa: E402

GORTD, GORTCTL, PLUGINS = sys.argv[1:4]
del sys.argv[1:4]
RATES = re.compile(r"^rates +(\d+) req/s \(2xx (\d+), 4xx (\d+), 5xx (\d+)\), "
                   r"(\d+) switches/s, (\d+) steals/s, (\d+) netpoll "
                   r"wake-ups/s$", re.M)
BUSY = re.compile(r"^P\d+ +\w+ +\d+ \|[# ]*\|[+ ] busy +(\d+)%$", re.M)
PLUGIN = re.compile(r"^hello +(\d+) +(\d+) +\d+$", re.M)


class Watch(unittest.TestCase):
    def test_rates_under_load(self):
        with Gortd(GORTD, plugins_dir=PLUGINS, wait="control") as d:
            stop = threading.Event()
            started = threading.Event()

            def load():
                c = http.client.HTTPConnection("127.0.0.1", d.port,
                                               timeout=30)
                while not stop.is_set():
                    c.request("GET", "/about")
                    c.getresponse().read()
                    started.set()
                c.close()

            t = threading.Thread(target=load)
            t.start()
            try:
                self.assertTrue(started.wait(60))
                out = subprocess.run(
                    [GORTCTL, "-addr", d.control, "watch", "--interval",
                     "200ms", "--count", "4"], capture_output=True,
                    timeout=120, check=True).stdout.decode()
            finally:
                stop.set()
                t.join(60)
        frames = out.split("\ngortd ")
        self.assertEqual(len(frames), 4, out)
        self.assertIn("rates         from the next frame on", frames[0])
        self.assertNotRegex(frames[0], r"busy +\d+%")
        for f in frames[1:]:
            m = RATES.search(f)
            self.assertTrue(m, f)
            total, ok, switches = int(m.group(1)), int(m.group(2)), \
                int(m.group(5))
            self.assertGreater(total, 0, f)
            self.assertEqual(total, ok)
            self.assertGreater(switches, 0, f)
            busy = [int(b) for b in BUSY.findall(f)]
            self.assertTrue(busy, f)
            self.assertTrue(all(0 <= b <= 100 for b in busy), f)
            p = PLUGIN.search(f)
            self.assertTrue(p, f)
            self.assertGreater(int(p.group(1)), 0, f)
            self.assertEqual(int(p.group(2)), 0)


ROW = re.compile(r"^(\S+) +(\S+) +(\S+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) "
                 r"+(\d+)$")


class ManyTargets(unittest.TestCase):
    def ctl(self, addrs, *args):
        argv = [GORTCTL]
        for a in addrs:
            argv += ["--addr", a]
        return subprocess.run(argv + list(args), capture_output=True,
                              timeout=120)

    def test_a_row_per_gortd(self):
        ds = [Gortd(GORTD, plugins_dir=PLUGINS, wait="control",
                    name="fleet%d" % i) for i in range(3)]
        try:
            for i, d in enumerate(ds):  # 0, 1, 2 requests: rows differ
                for _ in range(i):
                    c = http.client.HTTPConnection("127.0.0.1", d.port,
                                                   timeout=30)
                    c.request("GET", "/about")
                    c.getresponse().read()
                    c.close()
            addrs = [d.control for d in ds]
            p = self.ctl(addrs, "stats")
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.decode().splitlines()
            self.assertTrue(lines[0].startswith("ADDR "), lines)
            rows = [ROW.match(ln) for ln in lines[1:]]
            self.assertTrue(all(rows), lines)
            self.assertEqual([r.group(1) for r in rows], addrs)
            self.assertEqual([int(r.group(7)) for r in rows], [0, 1, 2])

            p = self.ctl(addrs[:2], "tune", "-maxprocs", "1")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(
                [ln.split()[0] for ln in p.stdout.decode().splitlines()],
                addrs[:2])
            p = self.ctl(addrs, "stats")
            procs = [int(ROW.match(ln).group(4))
                     for ln in p.stdout.decode().splitlines()[1:]]
            self.assertEqual(procs[:2], [1, 1])

            gone = "unix:" + os.path.join(ds[0].tmp, "nobody.sock")
            p = self.ctl([addrs[0], gone, addrs[2]], "stats")
            self.assertEqual(p.returncode, 1)
            lines = p.stdout.decode().splitlines()
            self.assertEqual(len(lines), 4, lines)
            self.assertEqual(lines[2], "%-24s error: UNAVAILABLE" % gone)
            self.assertTrue(ROW.match(lines[3]), lines)

            p = self.ctl(addrs, "plugins", "list")
            self.assertEqual(p.returncode, 2)
            self.assertIn(b"takes one -addr", p.stderr)
        finally:
            for d in ds:
                d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
