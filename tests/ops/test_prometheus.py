"""gortd's /metrics for operators: the request families (duration
histogram, bytes, answers by plugin and by route and status class, plugin
operations) read with the real Prometheus client parser after known
traffic; the request-buffer budget and the idle connections evicted at
--max-conns moving as clients push on them; then a real Prometheus server
(Debian's prometheus, started here on a free port with a temporary config
and TSDB) scrapes the admin listener, and its HTTP API answers up == 1,
gortd's own counters, and a rate that moves under load.

usage: test_prometheus.py GORTD PLUGINS_DIR
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rawhttp  # noqa: E402
from gortd import Gortd, wait_for  # noqa: E402

GORTD, PLUGINS = sys.argv[1:3]
del sys.argv[1:3]
ADMIN_RE = re.compile(r'msg="serving admin" addr=\S*:(\d+)')
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def admin_port(d):
    wait_for("the serving admin line",
             lambda: ADMIN_RE.search(d.log) or not d.alive())
    return int(ADMIN_RE.search(d.log).group(1))


def requests(port, paths, sizes=None):
    """The paths on one kept-alive connection; their statuses (and the
    body sizes appended to sizes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for p in paths:
        c.request("GET", p)
        r = c.getresponse()
        body = r.read()
        out.append(r.status)
        if sizes is not None:
            sizes.append(len(body))
    c.close()
    return out


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=30) as r:
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, family, name=None, **labels):
    for s in fams[family].samples:
        if s.name == (name or family) and all(
                s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s%s" % (name or family, labels))


# The bundled plugins that load without a config file (proxy.so and
# fanout.so refuse to load without theirs, which counts as load failed).
SERVING = ["echo.so", "hello.so", "kv.so", "slow.so"]


def copy_plugins(dst):
    os.makedirs(dst)
    for f in SERVING:
        shutil.copy(os.path.join(PLUGINS, f), dst)


class Families(unittest.TestCase):
    def test_request_families(self):
        tmp = tempfile.mkdtemp(prefix="gort-metrics-")
        self.addCleanup(shutil.rmtree, tmp, True)
        pdir = os.path.join(tmp, "plugins")
        copy_plugins(pdir)
        with Gortd(GORTD, ["--admin", "127.0.0.1:0"],
                   plugins_dir=pdir) as d:
            port = admin_port(d)
            sizes = []
            self.assertEqual(set(requests(d.port, ["/about"] * 20, sizes)),
                             {200})
            self.assertEqual(
                set(requests(d.port, ["/kv/missing"] * 5, sizes)), {404})
            f = scrape(port)
            h = "gort_http_request_duration_seconds"
            self.assertEqual(value(f, h, h + "_count"), 25)
            self.assertEqual(value(f, h, h + "_bucket", le="+Inf"), 25)
            self.assertGreater(value(f, h, h + "_sum"), 0)
            les = [s.labels["le"] for s in f[h].samples
                   if s.name == h + "_bucket"]
            self.assertIn("10", les)  # Go's spelling, not "1e+01"
            self.assertEqual(value(f, "gort_http_sent_bytes", "gort_http_sent_bytes_total"), sum(sizes))
            # http.client's heads: the request line, Host and
            # Accept-Encoding.
            head = len("GET /about HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Accept-Encoding: identity\r\n\r\n" % d.port)
            self.assertEqual(value(f, "gort_http_received_bytes",
                                   "gort_http_received_bytes_total"),
                             20 * head + 5 * (head + len("/kv/missing") -
                                              len("/about")))
            pr = "gort_plugin_responses"
            self.assertEqual(value(f, pr, pr + "_total", plugin="hello",
                                   code="2xx"), 20)
            self.assertEqual(value(f, pr, pr + "_total", plugin="kv",
                                   code="4xx"), 5)
            self.assertEqual(value(f, pr, pr + "_total", plugin="kv",
                                   code="2xx"), 0)
            rr = "gort_http_route_responses"
            self.assertEqual(value(f, rr, rr + "_total", route="/about",
                                   plugin="hello", code="2xx"), 20)
            self.assertEqual(value(f, rr, rr + "_total",
                                   route="GET /kv/{key}", plugin="kv",
                                   code="4xx"), 5)
            ops = "gort_plugin_operations"
            self.assertEqual(value(f, ops, ops + "_total", op="load",
                                   result="ok"), 4)
            self.assertEqual(value(f, ops, ops + "_total", op="unload",
                                   result="ok"), 0)
            # SIGHUP after a file is gone: one unload, counted.
            os.remove(os.path.join(pdir, "slow.so"))
            d.send_signal(signal.SIGHUP)
            wait_for("the rescan", lambda: 'msg="rescan done"' in d.log)
            f = scrape(port)
            self.assertEqual(value(f, ops, ops + "_total", op="unload",
                                   result="ok"), 1)
            self.assertEqual(value(f, ops, ops + "_total", op="load",
                                   result="failed"), 0)


class Limits(unittest.TestCase):
    """The request-buffer budget (in use, limit, refusals) and the idle
    connections closed at --max-conns, as clients push on them. The budget
    is the smallest gortd takes: one largest head (1024 + 4096 bytes)."""

    BUF = "gort_http_request_buffer_bytes"
    LIMIT = "gort_http_request_buffer_limit_bytes"
    REFUSED = "gort_http_request_buffer_refusals"
    EVICTED = "gort_http_connections_evicted"

    def setUp(self):
        tmp = tempfile.mkdtemp(prefix="gort-limits-")
        self.addCleanup(shutil.rmtree, tmp, True)
        pdir = os.path.join(tmp, "plugins")
        copy_plugins(pdir)
        self.d = Gortd(GORTD, ["--admin", "127.0.0.1:0", "--max-conns", "2",
                               "--max-header-bytes", "1024",
                               "--max-buffer-bytes", "5120"],
                       plugins_dir=pdir)
        self.addCleanup(self.d.stop)
        self.admin = admin_port(self.d)

    def metric(self, family, name=None, **labels):
        return value(scrape(self.admin), family, name, **labels)

    def settles(self, what, family, want, name=None, **labels):
        wait_for("%s == %s" % (what, want),
                 lambda: self.metric(family, name, **labels) == want)

    def conn(self):
        s = rawhttp.connect(self.d.port)
        self.addCleanup(s.close)
        return s

    def test_buffer_budget(self):
        f = scrape(self.admin)
        self.assertEqual(f[self.BUF].type, "gauge")
        self.assertEqual(f[self.REFUSED].type, "counter")
        self.assertEqual(value(f, self.LIMIT), 5120)
        self.assertEqual(value(f, self.BUF), 0)
        self.assertEqual(value(f, self.REFUSED, self.REFUSED + "_total"), 0)
        # Half a head: its connection holds one 4 KiB read buffer.
        a = self.conn()
        a.sendall(b"GET /about HTTP/1.1\r\nHost: t\r\n")
        self.settles("the bytes a's head holds", self.BUF, 4096)
        # A second one does not fit beside it: 503, closed, counted.
        b = self.conn()
        b.sendall(b"GET /about HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(rawhttp.read_response(b).status, 503)
        self.assertTrue(rawhttp.closed(b, wait=30))
        self.assertEqual(self.metric(self.REFUSED, self.REFUSED + "_total"),
                         1)
        # a finishes its head and is served; idle, it holds nothing.
        a.sendall(b"\r\n")
        self.assertEqual(rawhttp.read_response(a).status, 200)
        self.settles("the bytes held once a is idle", self.BUF, 0)

    def test_idle_evicted_at_max_conns(self):
        f = scrape(self.admin)
        self.assertEqual(f[self.EVICTED].type, "counter")
        self.assertEqual(value(f, self.EVICTED, self.EVICTED + "_total"), 0)
        # Two idle keep-alive connections fill --max-conns 2; each new
        # client closes the one idle the longest.
        for n in range(1, 6):
            s = self.conn()
            self.assertEqual(rawhttp.get(s, b"/about").status, 200)
            self.settles("idle connections", "gort_http_connections",
                         min(n, 2), state="idle")
            self.assertEqual(self.metric(self.EVICTED,
                                         self.EVICTED + "_total"),
                             max(0, n - 2))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Prometheus:
    """A real Prometheus scraping targets every second: on a free port, a
    temporary config and TSDB, stopped and removed by close()."""

    def __init__(self, targets):
        self.tmp = tempfile.mkdtemp(prefix="gort-prometheus-")
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: gortd\n"
                    "    static_configs:\n      - targets: [%s]\n"
                    % ", ".join('"%s"' % t for t in targets))
        self.port = free_port()
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file", cfg,
             "--storage.tsdb.path", os.path.join(self.tmp, "data"),
             "--web.listen-address", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=self.log)
        wait_for("prometheus ready", self.ready)

    def ready(self):
        assert self.proc.poll() is None, self.tail()
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/-/ready" % self.port,
                    timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def tail(self):
        with open(os.path.join(self.tmp, "prometheus.log")) as f:
            return f.read()[-4000:]

    def query(self, q):
        """The instant vector of q: [(labels, value)]."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=30) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return [(s["metric"], float(s["value"][1]))
                for s in doc["data"]["result"]]

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@unittest.skipUnless(os.access(PROMETHEUS, os.X_OK),
                     "no prometheus binary (Debian package prometheus; "
                     "scripts/install-deps.sh installs it)")
class RealPrometheus(unittest.TestCase):
    def test_scrape(self):
        with Gortd(GORTD, ["--admin", "127.0.0.1:0"],
                   plugins_dir=PLUGINS) as d:
            port = admin_port(d)
            requests(d.port, ["/about"] * 10)
            prom = Prometheus(["127.0.0.1:%d" % port])
            try:
                self.check(prom, d, port)
            finally:
                prom.close()

    def check(self, prom, d, port):
        def has(q, pred):
            r = prom.query(q)
            return len(r) == 1 and pred(r[0][1])

        wait_for("up == 1", lambda: has('up{job="gortd"}', lambda v: v == 1))
        wait_for("gortd's goroutines",
                 lambda: has("go_goroutines", lambda v: v > 0))
        wait_for("hello's answers",
                 lambda: has('gort_plugin_responses_total{plugin="hello",'
                             'code="2xx"}', lambda v: v == 10))
        wait_for("the duration histogram",
                 lambda: has("gort_http_request_duration_seconds_count",
                             lambda v: v == 10))
        # Under load the rate moves: requests keep coming until Prometheus
        # has two scrapes that saw different totals.
        stop = threading.Event()

        def load():
            while not stop.is_set():
                requests(d.port, ["/about"] * 20)

        t = threading.Thread(target=load)
        t.start()
        try:
            wait_for("a non-zero rate", lambda: has(
                'rate(gort_http_responses_total{code="2xx"}[5s])',
                lambda v: v > 0))
            wait_for("a quantile", lambda: has(
                "histogram_quantile(0.99, rate("
                "gort_http_request_duration_seconds_bucket[5s]))",
                lambda v: v > 0))
            # Scheduling latency is sampled one transition in 64, the
            # request goroutines the netpoller makes runnable included:
            # every request is at least one transition, so 64 times the
            # samples cover at least a good part of the requests (before,
            # those were never sampled and this was near 0).
            wait_for("latency samples for the requests", lambda: has(
                "64 * sum(rate(go_sched_latencies_seconds_count[5s])) / "
                "sum(rate(gort_http_responses_total[5s]))",
                lambda v: v > 0.25))
        finally:
            stop.set()
            t.join(60)


@unittest.skipUnless(shutil.which("promtool"), "promtool is not installed")
class ExampleConfig(unittest.TestCase):
    def test_deploy_prometheus_yml(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "..", "deploy", "prometheus.yml")
        p = subprocess.run(["promtool", "check", "config", path],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
