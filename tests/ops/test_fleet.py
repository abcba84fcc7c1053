"""A fleet on one machine: three gortd behind nginx, one Prometheus, one
operator's gortctl, each gortd in a network namespace of its own.

    namespace lb (127.0.0.1 is its own loopback)
      nginx 127.0.0.1:8000  upstream: 10.77.{1,2,3}.2:8080, keepalive,
                            proxy_next_upstream error timeout
      Prometheus 127.0.0.1:9090 scraping 10.77.{1,2,3}.2:9090 every second
      the load generator (threads of this process that entered lb)
      gortctl --addr 10.77.1.2:50051 --addr ... stats (mutual TLS)
        | veth lb:vg1 10.77.1.1/24 <-> g1:eth0 10.77.1.2/24 (g2, g3 alike)
    namespaces g1, g2, g3
      gortd --listen IP:8080 --admin IP:9090 --control IP:50051

Every link is made inside the test's namespaces (the veth pairs are created
in lb and their far ends moved straight into gN), so nothing is added to,
or changed in, the machine's own network namespace.

The control plane is reached the way an operator reaches a fleet: from
one management host (lb here) with a client certificate, over mutual TLS,
since a non-loopback control address needs it (README, Security notes).
Running gortctl inside each gortd's namespace on a Unix socket would also
work, but would not be one command over the fleet and is not what a fleet
is operated with. The certificates (a CA, one server certificate per
gortd for its IP, the operator's client certificate, listed in
--control-allow-cn) are made by openssl at test time.

Then, under load: gortd 2 is killed with SIGKILL (a crash), nginx retries
the requests that were on it on another upstream, so no request fails;
Prometheus's API reports up == 0 for its target; started again on the
same addresses it rejoins: up == 1, nginx sends it requests again, and
gortctl reaches all three.

Namespaces and everything running in them are removed on every exit path
(the processes in a namespace are all this test's: `ip netns pids`);
namespaces left by a run that was killed outright are removed by the next
run (their names carry the dead runner's pid). Every child also dies with
this process (PR_SET_PDEATHSIG). Skips, saying why, where network
namespaces cannot be made (not root, no CAP_SYS_ADMIN, no `ip`).

usage: test_fleet.py GORTD GORTCTL PLUGINS_DIR
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import netns  # noqa: E402
from gortd import Gortd, wait_for  # noqa: E402
from netns import die_with_parent, exec_prefix as in_ns  # noqa: E402

GORTD, GORTCTL, PLUGINS = (os.path.abspath(a) for a in sys.argv[1:4])
del sys.argv[1:4]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

PREFIX = "gortfleet"
GORTDS = 3
NGINX_PORT = 8000
PROM_PORT = 9090
CLIENTS = 6  # load generator threads, each on a keep-alive connection
OPS_CN = "gort-fleet-ops"
SERVING = ["echo.so", "hello.so", "kv.so", "slow.so"]


def gortd_ip(i):
    return "10.77.%d.2" % i


class Net:
    """lb and g1..gN, linked by veth pairs made inside the namespaces."""

    def __init__(self):
        self.ns = netns.Namespaces(PREFIX)
        self.lb = self.ns.name("lb")
        self.g = [self.ns.name("g%d" % i) for i in range(1, GORTDS + 1)]

    def up(self):
        self.ns.add("lb")
        for i, g in enumerate(self.g, 1):
            self.ns.add("g%d" % i)
            self.ns.veth(self.lb, "vg%d" % i, "10.77.%d.1/24" % i,
                         g, "eth0", gortd_ip(i) + "/24")

    def down(self):
        self.ns.close()


# ---- certificates -------------------------------------------------------------

def openssl(*args):
    subprocess.run([OPENSSL] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """ca.pem; gN.pem/key for gortd N (SAN its IP); ops.pem/key, the
    operator (CN listed in --control-allow-cn)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=gort-fleet-ca",
            "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    certs = {"ops": (OPS_CN, "DNS:ops.fleet.test")}
    for i in range(1, GORTDS + 1):
        certs["g%d" % i] = ("gortd-%d" % i, "IP:" + gortd_ip(i))
    for name, (cn, san) in certs.items():
        base = os.path.join(d, name)
        openssl("req", *ec, "-subj", "/CN=" + cn, "-keyout", base + ".key",
                "-out", base + ".csr")
        with open(base + ".ext", "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", base + ".csr", "-CA", d + "/ca.pem",
                "-CAkey", d + "/ca.key", "-CAcreateserial", "-days", "1",
                "-extfile", base + ".ext", "-out", base + ".pem")


# ---- the fleet's programs -----------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream gortd {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://gortd;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""

PROM_CONF = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gortd
    static_configs:
      - targets: [{targets}]
"""


class Daemon:
    """nginx or Prometheus in a namespace: output to a log file in tmp,
    SIGTERM then SIGKILL on close."""

    def __init__(self, ns, argv, log):
        self.log_path = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(in_ns(ns) + argv, stdout=f, stderr=f,
                                         preexec_fn=die_with_parent)

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Load:
    """CLIENTS threads in namespace lb, each sending GET / through nginx
    on one keep-alive connection until stop(); counts answers by the
    upstream that gave them (the last address of X-Upstream: nginx lists
    every upstream it tried) and every failure, with its first reasons."""

    def __init__(self, pool):
        self.lock = threading.Lock()
        self.ok = 0
        self.by_upstream = {}
        self.failed = 0
        self.reasons = []
        self.stopping = threading.Event()
        self.futures = [pool.submit(self.client) for _ in range(CLIENTS)]

    def fail(self, why):
        with self.lock:
            self.failed += 1
            if len(self.reasons) < 5:
                self.reasons.append(why)

    def client(self):
        conn = http.client.HTTPConnection("127.0.0.1", NGINX_PORT, timeout=30)
        while not self.stopping.is_set():
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.fail("%s: %s" % (type(e).__name__, e))
                conn.close()
                continue
            if r.status != 200 or body != b"hello world\n":
                self.fail("%d %r via %s" % (r.status, body[:80],
                                            r.getheader("X-Upstream")))
                continue
            up = (r.getheader("X-Upstream") or "?").split(",")[-1].strip()
            with self.lock:
                self.ok += 1
                self.by_upstream[up] = self.by_upstream.get(up, 0) + 1
        conn.close()

    def served_by(self, i):
        with self.lock:
            return self.by_upstream.get(gortd_ip(i) + ":8080", 0)

    def stop(self):
        self.stopping.set()
        for f in self.futures:
            f.result(timeout=60)


# ---- the test -----------------------------------------------------------------

why_not = None


def setUpModule():
    global why_not
    for path, pkg in [(NGINX, "nginx"), (PROMETHEUS, "prometheus"),
                      (OPENSSL, "openssl")]:
        if not os.access(path, os.X_OK):
            why_not = "no %s (Debian package %s; scripts/install-deps.sh)" % (
                path, pkg)
            return
    netns.remove_stale(PREFIX)
    why_not = netns.unavailable(PREFIX)


class Fleet(unittest.TestCase):
    def setUp(self):
        if why_not:
            self.skipTest(why_not)
        self.tmp = tempfile.mkdtemp(prefix="gort-fleet-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.net = Net()
        # Cleanups run last-in first-out: the namespaces go last, after
        # every process in them was stopped (or, failing that, killed by
        # netns.remove).
        self.addCleanup(self.net.down)
        self.net.up()
        self.pki = os.path.join(self.tmp, "pki")
        os.makedirs(self.pki)
        make_pki(self.pki)
        self.plugins = os.path.join(self.tmp, "plugins")
        os.makedirs(self.plugins)
        for f in SERVING:
            shutil.copy(os.path.join(PLUGINS, f), self.plugins)
        # Threads of this process inside lb: Prometheus's API and the load.
        self.lb_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=CLIENTS + 1, initializer=netns.enter,
            initargs=(self.net.lb,))
        self.addCleanup(self.lb_pool.shutdown, wait=True)
        self.gortd = {}
        for i in range(1, GORTDS + 1):
            self.start_gortd(i)
        self.nginx = self.start_nginx()
        self.addCleanup(self.nginx.close)
        self.prom = self.start_prometheus()
        self.addCleanup(self.prom.close)

    # ---- starting ------------------------------------------------------------

    def start_gortd(self, i):
        ip, pki = gortd_ip(i), self.pki
        d = Gortd(GORTD, [
            "--admin", ip + ":9090", "--admin-insecure",
            "--control-tls-cert", "%s/g%d.pem" % (pki, i),
            "--control-tls-key", "%s/g%d.key" % (pki, i),
            "--control-tls-ca", pki + "/ca.pem",
            "--control-allow-cn", OPS_CN],
            plugins_dir=self.plugins, listen=ip + ":8080",
            control=ip + ":50051", wait="control", name="g%d" % i,
            prefix=in_ns(self.net.g[i - 1]), preexec=die_with_parent)
        self.gortd[i] = d
        self.addCleanup(self.stop_gortd, d)
        return d

    def stop_gortd(self, d):
        if d.rc is None and d.alive():
            d.stop()  # exit 0, no sanitizer report

    def start_nginx(self):
        conf = os.path.join(self.tmp, "nginx.conf")
        servers = "\n".join(
            "        server %s:8080 max_fails=1 fail_timeout=1s;" % gortd_ip(i)
            for i in range(1, GORTDS + 1))
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=self.tmp, servers=servers,
                                      port=NGINX_PORT))
        n = Daemon(self.net.lb, [NGINX, "-p", self.tmp, "-e",
                                 os.path.join(self.tmp, "nginx-error.log"),
                                 "-c", conf],
                   os.path.join(self.tmp, "nginx.log"))

        def answers():
            self.assertTrue(n.alive(), n.tail())
            try:
                return self.http_lb("127.0.0.1", NGINX_PORT, "/")[0] == 200
            except OSError:
                return False
        wait_for("nginx to answer", answers)
        return n

    def start_prometheus(self):
        conf = os.path.join(self.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(PROM_CONF.format(targets=", ".join(
                '"%s:9090"' % gortd_ip(i) for i in range(1, GORTDS + 1))))
        p = Daemon(self.net.lb, [
            PROMETHEUS, "--config.file", conf,
            "--storage.tsdb.path", os.path.join(self.tmp, "tsdb"),
            "--web.listen-address", "127.0.0.1:%d" % PROM_PORT],
            os.path.join(self.tmp, "prometheus.log"))

        def ready():
            self.assertTrue(p.alive(), p.tail())
            try:
                return self.http_lb("127.0.0.1", PROM_PORT, "/-/ready")[0] \
                    == 200
            except OSError:
                return False
        wait_for("prometheus ready", ready)
        return p

    # ---- talking to lb -------------------------------------------------------

    def http_lb(self, host, port, path):
        """GET from inside lb: (status, body)."""
        def get():
            c = http.client.HTTPConnection(host, port, timeout=10)
            try:
                c.request("GET", path)
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()
        return self.lb_pool.submit(get).result(timeout=60)

    def up(self):
        """Prometheus's `up` by instance, from its HTTP API."""
        status, body = self.http_lb(
            "127.0.0.1", PROM_PORT,
            "/api/v1/query?" + urllib.parse.urlencode({"query": "up"}))
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "success", doc)
        return {s["metric"]["instance"]: float(s["value"][1])
                for s in doc["data"]["result"]}

    def wait_up(self, want):
        """Waits until Prometheus reports up == want[instance] for each."""
        def reached():
            self.assertTrue(self.prom.alive(), self.prom.tail())
            self.last_up = self.up()
            return all(self.last_up.get(k) == v for k, v in want.items())
        try:
            wait_for("prometheus up == %s" % want, reached, timeout=90)
        except AssertionError:
            raise AssertionError("prometheus up: %s, want %s"
                                 % (self.last_up, want))

    def gortctl_stats(self):
        """gortctl on the management host (lb): one row per gortd."""
        argv = in_ns(self.net.lb) + [GORTCTL]
        for i in range(1, GORTDS + 1):
            argv += ["--addr", gortd_ip(i) + ":50051"]
        argv += ["--tls-ca", self.pki + "/ca.pem",
                 "--tls-cert", self.pki + "/ops.pem",
                 "--tls-key", self.pki + "/ops.key", "stats"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        sys.stderr.write(p.stdout)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1 + GORTDS, p.stdout)
        self.assertEqual(lines[0].split()[:2], ["ADDR", "VERSION"], p.stdout)
        rows = {}
        for ln in lines[1:]:
            f = ln.split()
            self.assertEqual(len(f), 9, ln)  # not "ADDR error: ..."
            rows[f[0]] = int(f[6])  # REQUESTS
        self.assertEqual(sorted(rows), ["%s:50051" % gortd_ip(i)
                                        for i in range(1, GORTDS + 1)])
        return rows

    # ---- the scenario --------------------------------------------------------

    def test_kill_one_under_load_and_rejoin(self):
        targets = ["%s:9090" % gortd_ip(i) for i in range(1, GORTDS + 1)]
        self.wait_up({t: 1.0 for t in targets})
        self.gortctl_stats()

        load = Load(self.lb_pool)
        self.addCleanup(load.stopping.set)
        # nginx balances: every gortd serves.
        wait_for("every gortd to serve through nginx",
                 lambda: all(load.served_by(i) >= 20
                             for i in range(1, GORTDS + 1)))

        victim = 2
        self.gortd[victim].kill()  # SIGKILL, under load
        self.wait_up({targets[0]: 1.0, targets[1]: 0.0, targets[2]: 1.0})
        after_kill = load.ok
        wait_for("the others to serve on",
                 lambda: load.ok >= after_kill + 200)
        self.assertEqual(load.failed, 0, load.reasons)

        self.start_gortd(victim)  # same addresses, same flags
        self.wait_up({t: 1.0 for t in targets})
        rejoined = load.served_by(victim)
        wait_for("nginx to send the restarted gortd requests again",
                 lambda: load.served_by(victim) >= rejoined + 20)
        load.stop()

        self.assertEqual(load.failed, 0, load.reasons)
        rows = self.gortctl_stats()
        # The restarted gortd's own counter: it served since it came back.
        self.assertGreater(rows["%s:50051" % gortd_ip(victim)], 0, rows)
        sys.stderr.write("fleet: %d requests, 0 failed, by upstream %s\n"
                         % (load.ok, load.by_upstream))


if __name__ == "__main__":
    unittest.main(verbosity=2)
