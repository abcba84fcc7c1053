"""deploy/kubernetes/: the manifests parse, agree with each other and with
gortd's flags, and gortd started the way the Deployment starts it answers
the probes the way the kubelet asks them. No cluster here: the pod is a
network namespace with a pod IP of its own.

Static (python3-yaml):
  - every file parses; kustomization.yaml lists files that exist;
  - every flag in the container's args is one gortd --help lists;
  - the named container ports are the ports of --listen (http),
    --admin (admin) and --grpc-health (grpc-health); the gRPC probes use
    the grpc-health port; the Prometheus annotations name the admin port
    and /metrics; the /readyz patch names the admin port;
  - the Service selects the pod's labels and targets its http port;
  - prometheus.yml's relabelling, applied to the pod's annotations,
    scrapes the admin port's /metrics;
  - each ConfigMap key mounted with subPath lands in --plugins-dir as
    NAME.conf of a bundled plugin NAME.so.

Live (root, network namespaces): gortd runs with the container's args
and env, as runAsUser/runAsGroup, with TMPDIR on a mode-0777 directory
like the emptyDir, --plugins-dir replaced by a copy of the bundled plugins
plus the ConfigMap's files. From the pod's IP, as a kubelet would: the
gRPC probe (grpc.health.v1 Check, plaintext) is SERVING and the control
plane's methods are not served there; GET /readyz and /healthz on the
admin port are 200; the annotations' scrape target serves Prometheus
text; the Service's target port serves the plugins. `gortctl stats`
inside the pod (`kubectl exec`) reaches the default control socket.
SIGTERM, as the kubelet sends it: exit 0.

usage: test_kubernetes.py GORTD GORTCTL PLUGINS_DIR
"""
import concurrent.futures
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
import netns  # noqa: E402
from gortd import sanitizer_reports, wait_for  # noqa: E402

GORTD, GORTCTL, PLUGINS = (os.path.abspath(a) for a in sys.argv[1:4])
del sys.argv[1:4]

try:
    import yaml
except ImportError:  # Debian python3-yaml; scripts/install-deps.sh
    yaml = None

K8S = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "deploy", "kubernetes")
PREFIX = "gortk8s"
POD_IP = "10.78.0.2"
# gortd's flags that take no value (everything else in args takes one).
BOOL_FLAGS = {"--admin-insecure", "--control-insecure", "--reuseport",
              "--quiet", "--version"}


def load(name):
    with open(os.path.join(K8S, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert len(docs) == 1, "%s: %d documents" % (name, len(docs))
    return docs[0]


def parse_args(args):
    """--flag value ... -> {flag: value}; booleans map to True."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        assert a.startswith("--"), "not a flag: %r in %r" % (a, args)
        if a in BOOL_FLAGS:
            out[a] = True
            i += 1
        else:
            out[a] = args[i + 1]
            i += 2
    return out


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def container(dep, name="gortd"):
    return [c for c in dep["spec"]["template"]["spec"]["containers"]
            if c["name"] == name][0]


@unittest.skipUnless(yaml, "no python3-yaml (Debian package python3-yaml; "
                     "scripts/install-deps.sh installs it)")
class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kust = load("kustomization.yaml")
        cls.dep = load("deployment.yaml")
        cls.svc = load("service.yaml")
        cls.cm = load("configmap.yaml")
        cls.patch = load("readiness-readyz.yaml")
        cls.c = container(cls.dep)
        cls.flags = parse_args(cls.c["args"])
        cls.ports = {p["name"]: p["containerPort"] for p in cls.c["ports"]}

    def resolve(self, port):
        return self.ports[port] if isinstance(port, str) else port

    def test_kustomization_lists_the_files(self):
        for r in self.kust["resources"]:
            self.assertTrue(os.path.isfile(os.path.join(K8S, r)), r)
        self.assertEqual(sorted(self.kust["resources"]),
                         ["configmap.yaml", "deployment.yaml", "service.yaml"])
        with open(os.path.join(K8S, "kustomization.yaml")) as f:
            self.assertIn("readiness-readyz.yaml", f.read())
        names = {i["name"] for i in self.kust["images"]}
        self.assertIn(self.c["image"].split(":")[0], names)

    def test_flags_are_gortd_flags(self):
        helptext = subprocess.run([GORTD, "--help"], capture_output=True,
                                  text=True, timeout=60)
        known = set(re.findall(r"^  -([a-z-]+)", helptext.stdout +
                               helptext.stderr, re.M))
        for f in self.flags:
            self.assertIn(f[2:], known, "gortd --help has no " + f)
        self.assertEqual(os.path.basename(self.c["command"][0]), "gortd")

    def test_ports_match_the_flags(self):
        self.assertEqual(self.ports["http"], port_of(self.flags["--listen"]))
        self.assertEqual(self.ports["admin"], port_of(self.flags["--admin"]))
        self.assertEqual(self.ports["grpc-health"],
                         port_of(self.flags["--grpc-health"]))
        # Reachable on the pod IP: not loopback.
        for f in ["--admin", "--grpc-health"]:
            self.assertFalse(self.flags[f].startswith("127."), f)
        self.assertIs(self.flags.get("--admin-insecure"), True)
        self.assertNotIn("--control", self.flags)  # default Unix socket

    def test_grpc_probes_ask_grpc_health(self):
        for kind in ["startupProbe", "livenessProbe", "readinessProbe"]:
            probe = self.c[kind]
            self.assertIn("grpc", probe, kind)
            self.assertEqual(self.resolve(probe["grpc"]["port"]),
                             self.ports["grpc-health"], kind)

    def test_readyz_patch(self):
        self.assertEqual(self.patch["kind"], "Deployment")
        self.assertEqual(self.patch["metadata"]["name"],
                         self.dep["metadata"]["name"])
        probe = container(self.patch)["readinessProbe"]
        self.assertEqual(probe["httpGet"]["path"], "/readyz")
        self.assertEqual(self.resolve(probe["httpGet"]["port"]),
                         self.ports["admin"])
        self.assertIn("exec", probe)  # null: clears any other handler
        self.assertIsNone(probe["exec"])

    def test_prometheus_annotations(self):
        ann = self.dep["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(ann["prometheus.io/scrape"], "true")
        self.assertEqual(int(ann["prometheus.io/port"]), self.ports["admin"])
        self.assertEqual(ann["prometheus.io/path"], "/metrics")

    def test_prometheus_relabelling_finds_the_admin_port(self):
        """deploy/kubernetes/prometheus.yml's relabel_configs applied, as
        Prometheus applies them (anchored regexes, ; between source
        labels), to the meta labels of a pod of this Deployment."""
        with open(os.path.join(K8S, "prometheus.yml")) as f:
            job = yaml.safe_load(f)["scrape_configs"][0]
        self.assertEqual(job["kubernetes_sd_configs"], [{"role": "pod"}])
        meta = {"__address__": "10.1.2.3:8080",
                "__metrics_path__": "/metrics"}
        tmpl = self.dep["spec"]["template"]["metadata"]
        for k, v in tmpl["annotations"].items():
            # Prometheus turns every character outside [a-zA-Z0-9_] into _.
            meta["__meta_kubernetes_pod_annotation_" +
                 re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
        for k, v in tmpl["labels"].items():
            meta["__meta_kubernetes_pod_label_" +
                 re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
        meta["__meta_kubernetes_namespace"] = "default"
        meta["__meta_kubernetes_pod_name"] = "gortd-abc"
        for rule in job["relabel_configs"]:
            value = ";".join(meta.get(s, "") for s in rule["source_labels"])
            m = re.fullmatch(rule.get("regex", "(.*)"), value)
            action = rule.get("action", "replace")
            if action == "keep":
                self.assertTrue(m, "the pod is dropped at %s" % rule)
            elif m:
                repl = rule.get("replacement", "$1")
                meta[rule["target_label"]] = re.sub(
                    r"\$(\d+)", lambda g: m.group(int(g.group(1))), repl)
        self.assertEqual(meta["__address__"],
                         "10.1.2.3:%d" % self.ports["admin"])
        self.assertEqual(meta["__metrics_path__"], "/metrics")
        self.assertEqual(meta["app"], "gortd")

    def test_service_selects_the_pods(self):
        pod_labels = self.dep["spec"]["template"]["metadata"]["labels"]
        for k, v in self.svc["spec"]["selector"].items():
            self.assertEqual(pod_labels.get(k), v)
        self.assertEqual(self.dep["spec"]["selector"]["matchLabels"],
                         self.svc["spec"]["selector"])
        for p in self.svc["spec"]["ports"]:
            self.assertIn(self.resolve(p["targetPort"]),
                          self.ports.values())
        self.assertEqual(self.resolve(self.svc["spec"]["ports"][0]
                                      ["targetPort"]), self.ports["http"])

    def test_configmap_lands_in_the_plugins_dir(self):
        vols = {v["name"]: v for v in
                self.dep["spec"]["template"]["spec"]["volumes"]}
        mounted = 0
        for m in self.c["volumeMounts"]:
            cm = vols[m["name"]].get("configMap")
            if not cm:
                continue
            self.assertEqual(cm["name"], self.cm["metadata"]["name"])
            key = m["subPath"]  # a regular file, not a symlink
            self.assertIn(key, self.cm["data"])
            self.assertEqual(m["mountPath"], os.path.join(
                self.flags["--plugins-dir"], key))
            self.assertTrue(key.endswith(".conf"), key)
            self.assertTrue(os.path.exists(os.path.join(
                PLUGINS, key[:-len(".conf")] + ".so")), key)
            mounted += 1
        self.assertEqual(mounted, len(self.cm["data"]))
        self.assertTrue(self.flags["--plugins-dir"].endswith(
            "/lib/gort/plugins"))


# ---- the pod, live --------------------------------------------------------------

why_not = None


def setUpModule():
    global why_not
    if yaml is None:
        why_not = "no python3-yaml"
        return
    netns.remove_stale(PREFIX)
    why_not = netns.unavailable(PREFIX)


@unittest.skipUnless(yaml, "no python3-yaml")
class Pod(unittest.TestCase):
    def setUp(self):
        if why_not:
            self.skipTest(why_not)
        dep = load("deployment.yaml")
        self.c = container(dep)
        sc = dep["spec"]["template"]["spec"]["securityContext"]
        self.uid, self.gid = sc["runAsUser"], sc["runAsGroup"]
        self.ports = {p["name"]: p["containerPort"] for p in self.c["ports"]}
        self.tmp = tempfile.mkdtemp(prefix="gort-k8s-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)  # the pod's user reads the plugins
        self.ns = netns.Namespaces(PREFIX)
        self.addCleanup(self.ns.close)
        self.pod = self.ns.add("pod")
        # eth0 carries the pod IP; its peer stands for the node's side.
        self.ns.veth(self.pod, "eth0", POD_IP + "/24", self.pod, "node0",
                     "10.78.0.1/24")
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, initializer=netns.enter, initargs=(self.pod,))
        self.addCleanup(self.pool.shutdown, wait=True)
        self.plugins = self.make_plugins_dir(dep)
        self.emptydir = os.path.join(self.tmp, "emptydir")
        os.mkdir(self.emptydir)
        os.chmod(self.emptydir, 0o777)  # as an emptyDir is

    def make_plugins_dir(self, dep):
        """The image's plugins (the bundled ones that need no config, and
        those the ConfigMap configures) with the ConfigMap's files."""
        d = os.path.join(self.tmp, "plugins")
        os.mkdir(d, 0o755)
        data = load("configmap.yaml")["data"]
        want = {"echo.so", "hello.so", "kv.so", "slow.so"}
        for f in sorted(want):
            shutil.copy(os.path.join(PLUGINS, f), d)
            os.chmod(os.path.join(d, f), 0o644)
        for key, text in data.items():
            p = os.path.join(d, key)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o444)  # the volume's defaultMode
        return d

    def pod_env(self):
        env = dict(os.environ)
        for k in ["RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"]:
            env.pop(k, None)
        for e in self.c.get("env", []):
            env[e["name"]] = e["value"]
        # The container's /tmp is the emptyDir.
        if env.get("TMPDIR") == "/tmp":
            env["TMPDIR"] = self.emptydir
        return env

    def as_pod_user(self):
        """preexec_fn: into the pod's namespace while still root (setns
        needs CAP_SYS_ADMIN), then the pod's user and group."""
        netns.die_with_parent()
        netns.enter(self.pod)
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)

    def in_pod(self, argv, **kw):
        """argv in the pod's namespace as the pod's user."""
        return subprocess.run(argv,
                              capture_output=True, text=True, timeout=60,
                              env=self.pod_env(), preexec_fn=self.as_pod_user,
                              **kw)

    def get(self, port, path, method="GET", body=None):
        def do():
            c = http.client.HTTPConnection(POD_IP, port, timeout=30)
            try:
                c.request(method, path, body=body)
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()
        return self.pool.submit(do).result(timeout=60)

    def test_probes_as_the_kubelet_asks(self):
        args = list(self.c["args"])
        args[args.index("--plugins-dir") + 1] = self.plugins
        log_path = os.path.join(self.tmp, "gortd.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [GORTD] + args, stdout=log,
                stderr=log, env=self.pod_env(), preexec_fn=self.as_pod_user)

        def logtext():
            with open(log_path, errors="replace") as f:
                return f.read()

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        # The startup probe, polled the way the kubelet polls it.
        health = "%s:%d" % (POD_IP, self.ports["grpc-health"])

        def started():
            self.assertIsNone(proc.poll(), logtext())
            return self.in_pod([GORTCTL, "--addr", health,
                                "health"]).returncode == 0
        wait_for("the gRPC startup probe", started)
        p = self.in_pod([GORTCTL, "--addr", health, "health"])
        self.assertIn("SERVING", p.stdout)
        # The health port serves nothing else.
        p = self.in_pod([GORTCTL, "--addr", health, "stats"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("UNIMPLEMENTED", p.stdout + p.stderr)

        admin, http_port = self.ports["admin"], self.ports["http"]
        self.assertEqual(self.get(admin, "/readyz")[0], 200)
        self.assertEqual(self.get(admin, "/healthz")[0], 200)
        status, text = self.get(admin, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"\ngo_goroutines ", text)
        self.assertEqual(self.get(http_port, "/"), (200, b"hello world\n"))
        # kv.so loaded with the ConfigMap's kv.conf.
        self.assertRegex(logtext(), r'plugin loaded"?,?.*"?plugin"?[=:]"?kv\b')
        self.assertEqual(self.get(http_port, "/kv/k", "PUT", b"v")[0], 201)
        self.assertEqual(self.get(http_port, "/kv/k"), (200, b"v"))
        # `kubectl exec deploy/gortd -- gortctl stats`: the default socket.
        p = self.in_pod([GORTCTL, "stats"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(os.path.exists(os.path.join(
            self.emptydir, "gortd-%d" % self.uid, "gortd.sock")))

        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = proc.wait(60)
        self.assertEqual(rc, 0, logtext())
        self.assertEqual(sanitizer_reports(logtext()), [])
        sys.stderr.write("pod: exited 0 %.1f s after SIGTERM\n"
                         % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
