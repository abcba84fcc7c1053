#!/usr/bin/env python3
"""Hot plugin operations in the real gortd, while it serves.

Each test class runs its own gortd on a free port with a temporary plugins
directory holding hello.so and slow.so (bundled) and ver.so (tp_ver1.so, the
test plugin "ver" of tests/plugin/ver.c) with ver.conf "log=TMP/ver.log", so
each starts from a known state. When a class is done its gortd gets SIGTERM
and must exit 0 without a sanitizer report (the ASan tree checks leaks).

  ReplaceUnderLoad   20 replaces v1 <-> v2 under 4 keep-alive clients: no
                     failed request, each replace served at once, each old
                     version finished (fini)
  LoadUnloadUnderLoad  20 unload/load cycles while / is hammered
  UnloadWaitsForRequest  unload returns after the in-flight request ended
  ControlPlaneWhileDraining  other calls answer while an unload drains
  UnloadWaitsForGoroutine  ... and after a goroutine the plugin started; fini
                     runs after it (the code stayed mapped)
  DrainTimeout       --drain runs out: DEADLINE_EXCEEDED, routes already
                     gone, the request still completes, the old plugin is
                     finished by the next operation
  Errors             NOT_FOUND, ALREADY_EXISTS, a missing file, a
                     world-writable file
  Sighup             the directory rescanned: new, changed, removed files
  Grpcio             the RPCs through Python grpcio, reply fields checked
  Cycles             100 load/unload cycles, then a clean exit (no leaks)

Under ThreadSanitizer the repetitions shrink (20 -> 6, 100 -> 20). The
requests and goroutines an unload waits for are held by the test (Hold:
ver.so connects to the test's listener and stays until the test closes
it), never by a sleep: how long a gortctl run takes to start on a loaded
machine then decides nothing.

usage: test_hot.py GORTD GORTCTL BUNDLED_PLUGINS_DIR TEST_PLUGINS_DIR PROTO_DIR
"""
import collections
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
import time
import unittest

GORTD = GORTCTL = BUNDLED = TP = PROTO = None
grpc = pb = rpc = None  # the grpcio modules, once the stubs are generated

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, grpc_stubs, scale  # noqa: E402

# Generous bounds that only keep a broken run from hanging.
# What a path answers once its plugin is gone: hello.so's "/" (the seed's
# catch-all, every method) takes every path no other pattern matches.
UNROUTED = (200, "hello world\n")
WAIT = 30.0
# A held request's client waits as long as the test holds it (several
# gortctl runs, each seconds long under a sanitizer on a loaded machine).
HELD = 10 * WAIT
# Repetitions: fewer under ThreadSanitizer, where each plugin operation and
# request is many times slower (the runtime tests scale down the same way).
REPLACES = scale(20, tsan_max=6)
CYCLES = scale(20, tsan_max=6)
LONG_CYCLES = scale(100, tsan_max=20)


def gen_stubs():
    """Python stubs from the .proto files gortd was built from (the shared
    helper's, cached per build tree), then imports them."""
    global grpc, pb, rpc
    grpc_stubs(PROTO)
    import grpc as grpc_mod
    from gort.v1 import control_pb2, control_pb2_grpc
    grpc, pb, rpc = grpc_mod, control_pb2, control_pb2_grpc


def copy_mode(src, dst, mode=0o755):
    shutil.copyfile(src, dst)
    os.chmod(dst, mode)


class Daemon:
    """gortd over a fresh plugins directory; .log is what it printed."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-hot-")
        self.dir = os.path.join(self.tmp, "plugins")
        os.mkdir(self.dir)
        copy_mode(os.path.join(BUNDLED, "hello.so"),
                  os.path.join(self.dir, "hello.so"))
        copy_mode(os.path.join(BUNDLED, "slow.so"),
                  os.path.join(self.dir, "slow.so"))
        copy_mode(os.path.join(TP, "tp_ver1.so"),
                  os.path.join(self.dir, "ver.so"))
        self.ver_log = os.path.join(self.tmp, "ver.log")
        with open(os.path.join(self.dir, "ver.conf"), "w") as f:
            f.write("log=" + self.ver_log)
        os.chmod(os.path.join(self.dir, "ver.conf"), 0o644)
        self.sock = os.path.join(self.tmp, "ctl.sock")
        # The shared helper: the port is the kernel's pick, from the log.
        self.g = Gortd(GORTD, ["--quiet"], plugins_dir=self.dir,
                       control="unix:" + self.sock, wait="control",
                       tmp=self.tmp)
        self.port, self.proc, self.logpath = (self.g.port, self.g.proc,
                                              self.g.log_path)
        self.channel = grpc.insecure_channel("unix:" + self.sock)
        self.stub = rpc.ControlStub(self.channel)

    @property
    def log(self):
        return self.g.log

    def ver_lines(self):
        try:
            with open(self.ver_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def ctl(self, *args):
        """gortctl ARGS against this gortd: the CompletedProcess."""
        return subprocess.run([GORTCTL, "--addr", "unix:" + self.sock] +
                              list(args), capture_output=True, text=True,
                              timeout=60)

    def ctl_ok(self, tc, *args):
        r = self.ctl(*args)
        tc.assertEqual(r.returncode, 0, "gortctl %s: %s%s" %
                       (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def request(self, path, method="GET", body=None, timeout=WAIT):
        """(status, body) on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            return r.status, r.read().decode()
        finally:
            conn.close()

    def plugins(self):
        """name -> Plugin message, from ListPlugins."""
        rep = self.stub.ListPlugins(pb.ListPluginsRequest(), timeout=WAIT)
        return {p.name: p for p in rep.plugins}

    def wait_for(self, what, pred):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.01)
        raise AssertionError("timed out waiting for " + what)

    def wait_in_flight(self, name, n):
        self.wait_for("%d request(s) in %s" % (n, name),
                      lambda: name in self.plugins() and
                      self.plugins()[name].stats.in_flight == n)

    def install_ver(self, v):
        """Puts tp_verV.so at ver.so by rename (a new inode), never by
        writing into the file gortd may have mapped."""
        tmp = os.path.join(self.dir, ".ver.so.tmp")
        copy_mode(os.path.join(TP, "tp_ver%d.so" % v), tmp)
        os.rename(tmp, os.path.join(self.dir, "ver.so"))

    def stop(self):
        """SIGTERM; fails (GortdError, with the log's tail) unless gortd
        exits 0 without a sanitizer report."""
        self.channel.close()
        self.g.stop()


class Loader(threading.Thread):
    """GETs paths in turn on one keep-alive connection until stopped;
    counts every (path, status), (path, body) and connection error."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.statuses = collections.Counter()
        self.bodies = collections.Counter()
        self.errors = []
        self.closes = 0  # responses after which the server closed
        self.done = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self):
        conn = None
        while not self.stopping.is_set():
            for p in self.paths:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=WAIT)
                try:
                    conn.request("GET", p)
                    r = conn.getresponse()
                    body = r.read().decode()
                    with self.lock:
                        self.statuses[(p, r.status)] += 1
                        self.bodies[(p, body)] += 1
                        self.done += 1
                    if r.will_close:
                        self.closes += 1
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as e:
                    with self.lock:
                        self.errors.append((p, repr(e)))
                    conn.close()
                    conn = None
        if conn is not None:
            conn.close()

    def count(self):
        with self.lock:
            return self.done

    def stop(self):
        self.stopping.set()
        self.join(WAIT)


class Load:
    """n Loaders on paths; merged results after stop()."""

    def __init__(self, port, paths, n=4):
        self.loaders = [Loader(port, paths) for _ in range(n)]
        for ld in self.loaders:
            ld.start()

    def count(self):
        return sum(ld.count() for ld in self.loaders)

    def progress(self, d, n):
        """Waits until every loader answered n more requests: the load
        overlaps what comes next."""
        start = [ld.count() for ld in self.loaders]
        d.wait_for("client progress", lambda: all(
            ld.count() >= s + n for ld, s in zip(self.loaders, start)))

    def stop(self):
        for ld in self.loaders:
            ld.stop()
        alive = [ld for ld in self.loaders if ld.is_alive()]
        statuses, bodies, errors = (collections.Counter(),
                                    collections.Counter(), [])
        for ld in self.loaders:
            statuses.update(ld.statuses)
            bodies.update(ld.bodies)
            errors += ld.errors
        return (statuses, bodies, errors,
                sum(ld.closes for ld in self.loaders), alive)


class Request(threading.Thread):
    """One GET on its own connection, in the background: a held one (Hold),
    answered when the test releases it, after as many gortctl runs as the
    test makes meanwhile."""

    def __init__(self, d, path):
        super().__init__(daemon=True)
        self.d, self.path = d, path
        self.result = self.error = None
        self.t0 = time.monotonic()
        self.start()

    def run(self):
        try:
            self.result = self.d.request(self.path, timeout=HELD)
        except (OSError, http.client.HTTPException) as e:
            self.error = repr(e)

    def finish(self):
        self.join(WAIT)
        return self.result, self.error


class Hold:
    """The test's end of a hold (tests/plugin/fixtures/ver.c): a listener
    the plugin's request or goroutine connects to and stays connected to
    until release(). The test, not a clock, ends what it holds."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.ls.settimeout(WAIT)
        self.port = self.ls.getsockname()[1]
        self.held = []

    def wait_held(self, n=1):
        """Waits until n holds are connected."""
        while len(self.held) < n:
            self.held.append(self.ls.accept()[0])

    def release(self):
        for c in self.held:
            c.close()
        self.ls.close()


class Unload:
    """gortctl plugins ARGS in the background (an unload that drains), with
    a drain bound as long as a hold may last: the test's release ends the
    drain, not gortd's 10 s default, which the gortctl runs made while it
    holds can outlast under a sanitizer on a loaded machine."""

    def __init__(self, d, *args):
        self.p = subprocess.Popen(
            [GORTCTL, "--addr", "unix:" + d.sock, "plugins", "--drain",
             "%ds" % HELD] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def poll(self):
        return self.p.poll()

    def finish(self, tc):
        """Its output, once it exited 0."""
        out, err = self.p.communicate(timeout=WAIT)
        tc.assertEqual(self.p.returncode, 0, out + err)
        return out


class HotCase(unittest.TestCase):
    """One gortd per class; it must exit 0 without a sanitizer report."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()  # once only: Cycles stopped its own already
        shutil.rmtree(cls.d.tmp, ignore_errors=True)

    def assert_clean_load(self, result, paths_bodies):
        """Only 200s, no connection error or close, every body expected."""
        statuses, bodies, errors, closes, alive = result
        self.assertEqual(alive, [], "client threads still running")
        self.assertEqual(errors, [], "connection errors")
        self.assertEqual(closes, 0, "the server closed keep-alive connections")
        for (path, status), n in statuses.items():
            self.assertEqual(status, 200, "%d x %d on %s" % (n, status, path))
        for (path, body), n in bodies.items():
            self.assertIn(body, paths_bodies[path],
                          "%d x unexpected body on %s" % (n, path))
        for path in paths_bodies:
            self.assertGreater(sum(n for (p, _), n in statuses.items()
                                   if p == path), 0, path)


class ReplaceUnderLoad(HotCase):
    def test_replace_20_times(self):
        d = self.d
        ver_path = os.path.join(d.dir, "ver.so")
        load = Load(d.port, ["/", "/ver"])
        try:
            load.progress(d, 5)
            cur = 1
            for i in range(REPLACES):
                nxt = 3 - cur
                d.install_ver(nxt)
                out = d.ctl_ok(self, "plugins", "replace", "ver")
                self.assertRegex(out, r"^replaced ver %d -> %d from %s "
                                 r"\(3 routes\) in " %
                                 (cur, nxt, re.escape(ver_path)))
                self.assertEqual(d.request("/ver"), (200, "v%d\n" % nxt),
                                 "right after replace %d" % i)
                cur = nxt
                load.progress(d, 2)
        finally:
            result = load.stop()
        self.assert_clean_load(result, {"/": {"hello world\n"},
                                        "/ver": {"v1\n", "v2\n"}})
        bodies = result[1]
        self.assertGreater(bodies[("/ver", "v1\n")], 0)
        self.assertGreater(bodies[("/ver", "v2\n")], 0)
        # Each replaced version was finished before its replace returned.
        self.assertEqual(d.ver_lines(), ["fini v1", "fini v2"] * (REPLACES // 2))
        self.assertEqual(d.plugins()["ver"].version, "1")


class LoadUnloadUnderLoad(HotCase):
    def test_20_cycles(self):
        d = self.d
        load = Load(d.port, ["/"])
        try:
            load.progress(d, 5)
            for i in range(CYCLES):
                out = d.ctl_ok(self, "plugins", "unload", "ver")
                self.assertTrue(out.startswith("unloaded ver 1 from "), out)
                self.assertEqual(d.request("/ver"), UNROUTED, "cycle %d" % i)
                self.assertNotIn("ver", d.plugins())
                load.progress(d, 2)
                out = d.ctl_ok(self, "plugins", "load", "ver")
                self.assertTrue(out.startswith("loaded ver 1 from "), out)
                self.assertEqual(d.request("/ver"), (200, "v1\n"),
                                 "cycle %d" % i)
                load.progress(d, 2)
        finally:
            result = load.stop()
        self.assert_clean_load(result, {"/": {"hello world\n"}})
        self.assertEqual(d.ver_lines(), ["fini v1"] * CYCLES)


class UnloadWaitsForRequest(HotCase):
    def test_unload_held_in_flight(self):
        d = self.d
        h = Hold()
        req = Request(d, "/ver/hold?port=%d" % h.port)
        h.wait_held()
        unload = Unload(d, "--json", "unload", "ver")
        # Draining: the routes are gone, the held request still runs, and
        # the unload waits for it.
        d.wait_for("ver out of the list", lambda: "ver" not in d.plugins())
        self.assertEqual(d.request("/ver"), UNROUTED)
        self.assertIsNone(unload.poll())
        self.assertIsNone(req.result)
        h.release()
        rep = json.loads(unload.finish(self))
        # The request was running when the unload began.
        self.assertEqual(rep["plugin"]["stats"]["in_flight"], 1, rep)
        self.assertEqual(rep["plugin"]["name"], "ver")
        self.assertEqual(req.finish(), ((200, "released\n"), None))
        self.assertEqual(d.ver_lines(), ["fini v1"])
        d.ctl_ok(self, "plugins", "load", "ver")
        self.assertEqual(d.request("/ver"), (200, "v1\n"))


class ControlPlaneWhileDraining(HotCase):
    def test_other_calls_answer_during_an_unload(self):
        """An unload waiting for a held request runs on a worker thread:
        stats, dumps and listings answer meanwhile."""
        d = self.d
        h = Hold()
        req = Request(d, "/ver/hold?port=%d" % h.port)
        h.wait_held()
        unload = Unload(d, "unload", "ver")
        # Out of the list = its routes are gone and it is draining.
        d.wait_for("ver out of the list", lambda: "ver" not in d.plugins())
        self.assertIn("gomaxprocs", d.ctl_ok(self, "stats", "--json"))
        self.assertIn("goroutine", d.ctl_ok(self, "dump"))
        self.assertIn("hello", d.ctl_ok(self, "plugins", "list"))
        # All answered while the unload was still waiting for the request.
        self.assertIsNone(unload.poll())
        self.assertIsNone(req.result)
        h.release()
        unload.finish(self)
        self.assertEqual(req.finish(), ((200, "released\n"), None))
        d.ctl_ok(self, "plugins", "load", "ver")


class UnloadWaitsForGoroutine(HotCase):
    def test_unload_with_goroutine(self):
        d = self.d
        h = Hold()
        self.assertEqual(d.request("/ver/bg?hold=%d" % h.port),
                         (202, "started\n"))
        h.wait_held()
        unload = Unload(d, "--json", "unload", "ver")
        d.wait_for("ver out of the list", lambda: "ver" not in d.plugins())
        self.assertEqual(d.request("/ver"), UNROUTED)
        # No request is left, but the plugin's goroutine runs: no fini.
        self.assertIsNone(unload.poll())
        self.assertEqual(d.ver_lines(), [])
        h.release()
        rep = json.loads(unload.finish(self))
        self.assertEqual(rep["plugin"]["stats"]["goroutines"], 1, rep)
        # fini ran after the goroutine ended: the code stayed mapped.
        self.assertEqual(d.ver_lines(), ["bg done", "fini v1"])
        d.ctl_ok(self, "plugins", "load", "ver")
        self.assertEqual(d.request("/ver"), (200, "v1\n"))


class DrainTimeout(HotCase):
    def test_drain_runs_out(self):
        d = self.d
        h = Hold()
        req = Request(d, "/ver/hold?port=%d" % h.port)
        h.wait_held()
        # gortctl's flags come before the subcommand (Go's flag package).
        r = d.ctl("plugins", "--drain", "100ms", "unload", "ver")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("UnloadPlugin: DEADLINE_EXCEEDED", r.stderr)
        self.assertIn("1 request and 0 goroutines still run", r.stderr)
        # The routes are switched already.
        self.assertEqual(d.request("/ver"), UNROUTED)
        self.assertNotIn("ver", d.plugins())
        h.release()
        self.assertEqual(req.finish(), ((200, "released\n"), None))
        d.ctl_ok(self, "plugins", "load", "ver")
        self.assertEqual(d.request("/ver"), (200, "v1\n"))
        # The next operation found the drained plugin idle and finished it,
        # before loading the new copy.
        log = d.log
        fin = log.find('msg="drained plugin finished" plugin=ver version=1\n')
        self.assertGreaterEqual(fin, 0, log)
        unloaded = log.find('msg="plugin unloaded" plugin=ver version=1 file=')
        loaded = log.find('msg="plugin loaded" plugin=ver version=1 file=',
                          unloaded)
        self.assertTrue(0 <= unloaded < fin < loaded, log)
        self.assertEqual(d.ver_lines(), ["fini v1"])


class Errors(HotCase):
    def expect(self, args, code, *texts):
        r = self.d.ctl(*args)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(code, r.stderr)
        for t in texts:
            self.assertIn(t, r.stderr)

    def test_errors(self):
        d = self.d
        self.expect(["plugins", "unload", "nosuch"],
                    "gortctl: UnloadPlugin: NOT_FOUND: no plugin nosuch is "
                    "loaded")
        self.expect(["plugins", "replace", "nosuch"],
                    "gortctl: ReplacePlugin: NOT_FOUND: no plugin nosuch is "
                    "loaded")
        hello = os.path.join(d.dir, "hello.so")
        self.expect(["plugins", "load", "hello"],
                    "gortctl: LoadPlugin: ALREADY_EXISTS: ",
                    "a plugin named hello is already loaded from " + hello)
        missing = os.path.join(d.dir, "nosuch.so")
        self.expect(["plugins", "load", "nosuch"],
                    "gortctl: LoadPlugin: NOT_FOUND: ",
                    missing + ": No such file or directory")
        ww = os.path.join(d.dir, "ww.so")
        copy_mode(os.path.join(TP, "tp_good.so"), ww, 0o757)
        self.expect(["plugins", "load", "ww"],
                    "gortctl: LoadPlugin: PERMISSION_DENIED: ",
                    ww + ": writable by others")
        self.assertEqual(sorted(d.plugins()), ["hello", "slow", "ver"])
        self.assertEqual(d.request("/good"), UNROUTED)
        self.assertEqual(d.request("/"), (200, "hello world\n"))
        self.assertEqual(d.request("/ver"), (200, "v1\n"))


class Sighup(HotCase):
    def hup(self):
        """SIGHUP; waits for the rescan it caused to be reported done."""
        n = self.d.log.count('msg="rescan done"')
        self.d.proc.send_signal(signal.SIGHUP)
        self.d.wait_for("the rescan", lambda: self.d.log.count(
            'msg="rescan done"') > n)
        self.assertIn('msg="rescan done" failed=0 ',
                      self.d.log.split('msg="rescanning plugins"')[-1])

    def test_rescan(self):
        d = self.d
        echo = os.path.join(d.dir, "echo.so")
        copy_mode(os.path.join(BUNDLED, "echo.so"), echo)
        self.hup()
        d.wait_for("echo listed", lambda: "echo" in d.ctl_ok(
            self, "plugins", "list"))
        st, body = d.request("/echo/x", "POST", b"ping")
        self.assertEqual(st, 200, body)
        got = json.loads(body)
        self.assertEqual((got["method"], got["path"], got["body"]),
                         ("POST", "/echo/x", "ping"))

        d.install_ver(2)
        self.hup()
        self.assertEqual(d.request("/ver"), (200, "v2\n"))
        self.assertEqual(d.plugins()["ver"].version, "2")
        self.assertEqual(d.ver_lines(), ["fini v1"])

        os.unlink(echo)
        self.hup()
        self.assertNotIn("echo", d.ctl_ok(self, "plugins", "list"))
        self.assertEqual(d.request("/echo/x", "POST", b"ping"), UNROUTED)
        # Unchanged files stay as they were.
        self.hup()
        self.assertEqual(sorted(d.plugins()), ["hello", "slow", "ver"])
        self.assertEqual(d.request("/ver"), (200, "v2\n"))
        self.assertEqual(d.ver_lines(), ["fini v1"])


class Grpcio(HotCase):
    def check_plugin(self, p, version):
        self.assertEqual(p.name, "ver")
        self.assertEqual(p.version, version)
        self.assertEqual(p.path, os.path.join(self.d.dir, "ver.so"))
        self.assertEqual(sorted(p.routes),
                         ["GET /ver", "GET /ver/bg", "GET /ver/hold"])
        self.assertEqual(p.stats.name, "ver")
        self.assertGreater(p.loaded_unix_ns, 0)

    def expect_code(self, fn, code, text):
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        self.assertIn(text, cm.exception.details())

    def test_rpcs(self):
        d, c, t = self.d, self.d.stub, WAIT
        for _ in range(3):
            self.assertEqual(d.request("/"), (200, "hello world\n"))
        self.assertEqual(d.request("/ver"), (200, "v1\n"))

        rep = c.UnloadPlugin(pb.UnloadPluginRequest(name="ver"), timeout=t)
        self.check_plugin(rep.plugin, "1")
        self.assertEqual(rep.plugin.stats.requests, 1)
        self.assertGreater(rep.took_ns, 0)
        self.assertEqual(d.request("/ver"), UNROUTED)

        rep = c.LoadPlugin(pb.LoadPluginRequest(name="ver"), timeout=t)
        self.check_plugin(rep.plugin, "1")
        self.assertEqual(rep.plugin.stats.requests, 0)
        self.assertGreater(rep.took_ns, 0)
        self.assertEqual(d.request("/ver"), (200, "v1\n"))

        d.install_ver(2)
        rep = c.ReplacePlugin(pb.ReplacePluginRequest(name="ver"), timeout=t)
        self.check_plugin(rep.previous, "1")
        self.check_plugin(rep.current, "2")
        self.assertEqual(rep.previous.stats.requests, 1)
        self.assertGreater(rep.took_ns, 0)
        self.assertEqual(d.request("/ver"), (200, "v2\n"))
        self.assertEqual(d.ver_lines(), ["fini v1", "fini v1"])

        # By file name too.
        rep = c.ReplacePlugin(pb.ReplacePluginRequest(name="ver.so"),
                              timeout=t)
        self.check_plugin(rep.previous, "2")
        self.check_plugin(rep.current, "2")

        nf = grpc.StatusCode.NOT_FOUND
        self.expect_code(lambda: c.LoadPlugin(
            pb.LoadPluginRequest(name="nosuch"), timeout=t), nf,
            os.path.join(d.dir, "nosuch.so"))
        self.expect_code(lambda: c.UnloadPlugin(
            pb.UnloadPluginRequest(name="nosuch"), timeout=t), nf,
            "no plugin nosuch is loaded")
        self.expect_code(lambda: c.ReplacePlugin(
            pb.ReplacePluginRequest(name="nosuch"), timeout=t), nf,
            "no plugin nosuch is loaded")

        s = c.GetStats(pb.GetStatsRequest(), timeout=t)
        stats = {p.name: p for p in s.plugins}
        self.assertEqual(sorted(stats), ["hello", "slow", "ver"])
        self.assertGreaterEqual(stats["hello"].requests, 3)
        self.assertEqual(stats["hello"].errors, 0)
        self.assertEqual(stats["hello"].in_flight, 0)
        self.assertEqual(stats["ver"].requests, 0)


class Cycles(HotCase):
    def test_100_cycles_then_clean_exit(self):
        d = self.d
        for i in range(LONG_CYCLES):
            d.ctl_ok(self, "plugins", "unload", "ver")
            d.ctl_ok(self, "plugins", "load", "ver")
        self.assertEqual(d.request("/ver"), (200, "v1\n"))
        self.assertEqual(d.ver_lines(), ["fini v1"] * LONG_CYCLES)
        d.stop()  # exit 0, no sanitizer report
        # The last copy is finished at exit.
        self.assertEqual(d.ver_lines(), ["fini v1"] * (LONG_CYCLES + 1))


def main():
    global GORTD, GORTCTL, BUNDLED, TP, PROTO
    GORTD, GORTCTL, BUNDLED, TP, PROTO = sys.argv[1:6]
    gen_stubs()
    prog = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[6:], exit=False)
    res = prog.result
    # A class's gortd failing at exit is an error of "tearDownClass", not of
    # a test: count tests and class fixtures apart.
    bad = {t.id() for t, _ in res.failures + res.errors}
    fixtures = {i for i in bad if i.startswith(("setUpClass", "tearDownClass"))}
    print("%d passed, %d failed" % (res.testsRun - len(bad - fixtures),
                                    len(bad)))
    sys.exit(0 if res.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
