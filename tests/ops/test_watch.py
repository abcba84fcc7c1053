"""`gortctl watch` shows what moves: under load from this test, the frames
after the first carry requests per second (in total and for the plugin
that serves them), switches, steals and netpoll wake-ups per second, and
each P's busy share; the first frame, with nothing to compare, says so.

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
