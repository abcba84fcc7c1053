"""The admin listener of the real gortd (--admin): /metrics scraped and read
by the real Prometheus client parser, /healthz and /readyz (503 while a
shutdown drains), the dashboard's stats.json, the dashboard itself rendered
by headless Chromium under load, and a non-loopback address refused.

usage: test_admin.py GORTD PLUGINS_DIR SCREENSHOT_PATH
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import unittest

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, scale, wait_for  # noqa: E402

GORTD, PLUGINS, SCREENSHOT = sys.argv[1:4]
del sys.argv[1:4]
ADMIN_RE = re.compile(r'msg="serving admin" addr=\S*:(\d+)')


def admin_port(d):
    """The admin port from gortd's log; the line follows "serving HTTP",
    which is all the helper waits for."""
    wait_for("the serving admin line",
             lambda: ADMIN_RE.search(d.log) or not d.alive())
    m = ADMIN_RE.search(d.log)
    assert m, "no serving admin line:\n" + d.tail()
    return int(m.group(1))


def get(port, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def scrape(port):
    st, h, body = get(port, "/metrics")
    assert st == 200, st
    assert h["Content-Type"].startswith("text/plain; version=0.0.4"), h
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def sample(fams, family, name=None, **labels):
    for s in fams[family].samples:
        if s.name == (name or family) and all(
                s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s%r" % (name or family, labels))


class Load:
    """Keep-alive GET / in a thread until stopped."""

    def __init__(self, port):
        self.port, self.stop, self.n = port, False, 0
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop:
            c.request("GET", "/")
            c.getresponse().read()
            self.n += 1
        c.close()

    def end(self):
        self.stop = True
        self.t.join(60)


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Gortd(GORTD, ["--admin", "127.0.0.1:0"], plugins_dir=PLUGINS,
                      env={"GOMAXPROCS": "2"}, name="admin")
        cls.admin = admin_port(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_health(self):
        self.assertEqual(get(self.admin, "/healthz")[::2], (200, b"ok\n"))
        self.assertEqual(get(self.admin, "/readyz")[::2], (200, b"ok\n"))

    def test_metrics_follow_traffic(self):
        before = scrape(self.admin)
        self.assertEqual(sample(before, "go_sched_gomaxprocs_threads"), 2)
        self.assertGreater(sample(before, "go_goroutines"), 0)
        self.assertEqual({s.labels["p"] for s in
                          before["gort_sched_p_runq_length"].samples},
                         {"0", "1"})
        self.assertGreater(sample(before, "process_resident_memory_bytes"),
                           0)
        # Batched sends: a batch carries at least one send.
        self.assertLessEqual(
            sample(before, "gort_netpoll_send_batches",
                   "gort_netpoll_send_batches_total"),
            sample(before, "gort_netpoll_sends_batched",
                   "gort_netpoll_sends_batched_total"))
        n = 25
        for _ in range(n):
            self.assertEqual(get(self.d.port, "/")[0], 200)
        resp = ("gort_http_responses", "gort_http_responses_total")
        req = ("gort_plugin_requests", "gort_plugin_requests_total")

        def grown(fams, key, **labels):
            return sample(fams, *key, **labels) - sample(before, *key,
                                                         **labels)

        # A response is counted once it is written, so the client can see
        # the last one a moment before the counter does: wait for it.
        last = {}

        def counted():
            last["f"] = scrape(self.admin)
            return (grown(last["f"], resp, code="2xx") >= n and
                    grown(last["f"], req, plugin="hello") >= n)

        wait_for("the responses counted", counted)
        # Only this test sends to hello; the admin's own requests are
        # served by another server and counted nowhere here.
        self.assertEqual(grown(last["f"], req, plugin="hello"), n)

    def test_stats_json(self):
        st, h, body = get(self.admin, "/debug/gort/stats.json")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "application/json")
        s = json.loads(body)
        self.assertEqual(s["gomaxprocs"], 2)
        self.assertEqual([p["id"] for p in s["procs"]], [0, 1])
        self.assertEqual(sorted(p["name"] for p in s["plugins"]),
                         ["echo", "hello", "kv", "slow"])
        self.assertEqual(len(s["sched_latency"]["counts"]),
                         len(s["sched_latency"]["bounds_ns"]) + 1)

    def test_dashboard_in_chromium(self):
        st, h, body = get(self.admin, "/debug/gort/")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        self.assertIn(b"<title>gortd</title>", body)
        self.assertNotIn(b"http://", body.replace(b"http://127.0.0.1", b""))
        chromium = shutil.which("chromium")
        if not chromium:
            self.skipTest("chromium is not installed "
                          "(scripts/install-deps.sh installs it)")
        url = "http://127.0.0.1:%d/debug/gort/" % self.admin
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--virtual-time-budget=5000", "--window-size=1200,800"]
        load = Load(self.d.port)
        try:
            wait_for("load", lambda: load.n > 100)
            dom = subprocess.run(base + ["--dump-dom", url], timeout=120,
                                 capture_output=True, text=True).stdout
            subprocess.run(base + ["--screenshot=" + SCREENSHOT, url],
                           timeout=120, capture_output=True)
        finally:
            load.end()
        self.assertIn('data-id="p0"', dom)
        self.assertIn('data-id="p1"', dom)
        self.assertRegex(dom, r'id="status"[^>]*>up \d+ s')
        live = re.search(r'<span class="label">live</span>.*?'
                         r'<span class="num">(\d+)</span>', dom)
        self.assertTrue(live and int(live.group(1)) > 0, dom[-2000:])
        rate = re.search(r'<td data-id="requests/s">(\d+)</td>', dom)
        self.assertTrue(rate and int(rate.group(1)) > 0, dom[-2000:])
        hello = re.search(r'data-id="plugin-hello">.*?'
                          r'<span class="num">(\d+)</span>', dom)
        self.assertTrue(hello and int(hello.group(1)) > 0, dom[-2000:])
        # Request goroutines come from the netpoller (off any P): they are
        # sampled too, so the latency histogram has something to draw.
        samples = re.search(r"(\d+) samples since start", dom)
        self.assertTrue(samples and int(samples.group(1)) > 0, dom[-2000:])
        self.assertTrue(os.path.getsize(SCREENSHOT) > 0)


class Refusals(unittest.TestCase):
    def test_non_loopback_refused(self):
        d = Gortd(GORTD, ["--admin", "0.0.0.0:0"], wait=None,
                  name="admin-open")
        d.wait_exit(expect_rc=2)
        self.assertIn("-admin 0.0.0.0:0: not a loopback address", d.log)

    def test_insecure_allows_it(self):
        d = Gortd(GORTD, ["--admin", "0.0.0.0:0", "--admin-insecure"],
                  name="admin-insecure")
        try:
            self.assertEqual(get(admin_port(d), "/healthz")[0], 200)
        finally:
            d.stop()


class Draining(unittest.TestCase):
    def test_readyz_503_while_draining(self):
        hold_ms = scale(3000) * (5 if os.environ.get("GORT_SANITIZER") else 1)
        d = Gortd(GORTD, ["--admin", "127.0.0.1:0"], plugins_dir=PLUGINS,
                  name="admin-drain")
        admin = admin_port(d)
        result = {}

        def slow():
            result["r"] = get(d.port, "/slow?ms=%d" % hold_ms, timeout=120)

        t = threading.Thread(target=slow)
        t.start()
        try:
            wait_for("the request in flight", lambda: sample(
                scrape(admin), "gort_http_requests_in_flight") == 1)
            self.assertEqual(get(admin, "/readyz")[0], 200)
            d.send_signal(signal.SIGTERM)
            wait_for("readyz 503",
                     lambda: get(admin, "/readyz")[0] == 503)
            self.assertTrue(t.is_alive(), "the drain ended before the check")
        finally:
            t.join(120)
        self.assertEqual(result["r"][0], 200)
        d.wait_exit(expect_rc=0)


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("%d passed, %d failed, %d skipped" %
          (r.testsRun - failed - len(r.skipped), failed, len(r.skipped)))
    sys.exit(1 if failed else 0)
