"""gortd under a service manager, without one: sd_notify's messages read
from a NOTIFY_SOCKET the test made (READY=1, RELOADING=1 on SIGHUP,
STOPPING=1, WATCHDOG=1 with WATCHDOG_USEC), socket activation by a launcher
that passes a listening socket at fd 3 the way systemd does (LISTEN_FDS,
LISTEN_PID), --listen-fd, a kill -9 and restart on the same socket with no
connection refused, --reuseport with two gortd on one port, several
--listen.

usage: test_systemd.py GORTD PLUGINS_DIR
"""
import errno
import http.client
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, scale, wait_for  # noqa: E402

GORTD, PLUGINS = sys.argv[1:3]
del sys.argv[1:3]
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "listen_launcher.py")
SERVING_ALL = re.compile(r'msg="serving HTTP" addr=(\S+):(\d+) '
                         r'gomaxprocs=\d+( inherited=true)?$', re.M)


def get(port, path="/about", close=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers={"Connection": "close"} if close
                  else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    return s


class Notify(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-notify-")
        self.path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(60)
        self.addCleanup(self.sock.close)

    def until(self, key):
        """The notifications up to the first that sets key=..."""
        got = []
        while True:
            msg = dict(line.split("=", 1) for line in
                       self.sock.recv(4096).decode().splitlines())
            got.append(msg)
            if key in msg:
                return got

    def test_ready_reloading_stopping_watchdog(self):
        d = Gortd(GORTD, plugins_dir=PLUGINS,
                  env={"NOTIFY_SOCKET": self.path,
                       "WATCHDOG_USEC": "200000", "WATCHDOG_PID": None})
        try:
            ready = self.until("READY")[-1]
            self.assertEqual(ready["READY"], "1")
            self.assertEqual(ready["STATUS"],
                             "serving HTTP on 127.0.0.1:%d" % d.port)
            # The main goroutine pings at half of WatchdogSec.
            self.until("WATCHDOG")
            self.until("WATCHDOG")
            d.send_signal(signal.SIGHUP)
            rel = self.until("RELOADING")[-1]
            self.assertEqual(rel["RELOADING"], "1")
            self.assertRegex(rel["MONOTONIC_USEC"], r"^\d+$")
            self.assertEqual(self.until("READY")[-1]["READY"], "1")
            d.send_signal(signal.SIGTERM)
            stop = self.until("STOPPING")[-1]
            self.assertEqual(stop["STOPPING"], "1")
            d.wait_exit(0)
        finally:
            d.stop()

    def test_silent_without_notify_socket(self):
        with Gortd(GORTD, env={"NOTIFY_SOCKET": None}) as d:
            self.assertEqual(get(d.port, "/")[0], 404)
        self.sock.settimeout(0)
        with self.assertRaises(BlockingIOError):
            self.sock.recv(4096)


class SocketActivation(unittest.TestCase):
    def launch(self, sock, extra=(), listen_pid=None, name="activated"):
        """gortd through the launcher: sock at fd 3, LISTEN_FDS=1 and
        LISTEN_PID its own pid (or listen_pid)."""
        pre = [sys.executable, LAUNCHER, str(sock.fileno())]
        if listen_pid is not None:
            pre += ["--pid", str(listen_pid)]
        return Gortd(GORTD, extra, listen=None, name=name, prefix=pre,
                     pass_fds=[sock.fileno()])

    def test_serves_the_passed_socket(self):
        s = listening_socket()
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        with self.launch(s, ["--plugins-dir", PLUGINS]) as d:
            self.assertEqual(d.port, port)
            lines = SERVING_ALL.findall(d.log)
            self.assertEqual(lines, [("127.0.0.1", str(port), " inherited=true")])
            self.assertEqual(get(port), (200, b"About page\n"))

    def test_other_pid_ignored(self):
        """LISTEN_FDS meant for another process is not ours: gortd listens
        on --listen as usual."""
        s = listening_socket()
        self.addCleanup(s.close)
        with self.launch(s, ["--listen", "127.0.0.1:0"], listen_pid=1) as d:
            lines = SERVING_ALL.findall(d.log)
            self.assertEqual(len(lines), 1)
            self.assertEqual(lines[0][2], "")
            self.assertNotEqual(d.port, s.getsockname()[1])

    def test_listen_fd_and_listen(self):
        s = listening_socket()
        self.addCleanup(s.close)
        fd = s.fileno()
        with Gortd(GORTD, ["--listen-fd", str(fd), "--listen", "127.0.0.1:0"],
                   plugins_dir=PLUGINS, listen=None,
                   pass_fds=[fd]) as d:
            lines = SERVING_ALL.findall(d.log)
            self.assertEqual([ln[2] for ln in lines], [" inherited=true", ""])
            for _, p, _ in lines:
                self.assertEqual(get(int(p))[0], 200)

    def test_listen_fd_not_a_socket(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        p = subprocess.run([GORTD, "--listen-fd", str(r)], pass_fds=[r],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.decode(),
                         "gortd: -listen-fd %d: not a listening stream "
                         "socket\n" % r)

    def test_kill9_restart_refuses_nothing(self):
        """The socket outlives gortd (here the test holds it, under systemd
        the .socket unit does): while no gortd runs, the kernel queues the
        connections, and the next gortd serves them. A connection the
        killed gortd had accepted may be reset; none is ever refused."""
        s = listening_socket()
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        stop = threading.Event()
        counts = {"ok": 0, "refused": 0, "reset": 0}
        lock = threading.Lock()

        def client():
            while not stop.is_set():
                try:
                    st, _ = get(port, close=True)
                    k = "ok" if st == 200 else "bad %d" % st
                except ConnectionRefusedError:
                    k = "refused"
                except (ConnectionResetError, http.client.RemoteDisconnected,
                        BrokenPipeError):
                    k = "reset"
                except OSError as e:
                    k = "refused" if e.errno == errno.ECONNREFUSED else \
                        "error %s" % e
                with lock:
                    counts[k] = counts.get(k, 0) + 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        d = self.launch(s, ["--plugins-dir", PLUGINS], name="first")
        for t in threads:
            t.start()
        try:
            wait_for("requests served", lambda: counts["ok"] >= 50)
            d.kill()
            before = counts["ok"]
            d2 = self.launch(s, ["--plugins-dir", PLUGINS], name="second")
            wait_for("requests served again",
                     lambda: counts["ok"] >= before + scale(50, asan_div=2))
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        d2.stop()
        print("kill -9 and restart under load:", counts)
        self.assertEqual(counts["refused"], 0)
        self.assertEqual(set(counts), {"ok", "refused", "reset"}, counts)


class ReusePort(unittest.TestCase):
    def test_two_gortd_one_port(self):
        tmp = tempfile.mkdtemp(prefix="gort-reuseport-")
        self.addCleanup(shutil.rmtree, tmp, True)
        logs = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]
        a = Gortd(GORTD, ["--reuseport", "--access-log", logs[0]],
                  plugins_dir=PLUGINS, name="a")
        try:
            b = Gortd(GORTD, ["--reuseport", "--access-log", logs[1]],
                      plugins_dir=PLUGINS, name="b",
                      listen="127.0.0.1:%d" % a.port)
            try:
                self.assertEqual(b.port, a.port)
                # New connections, new source ports: the kernel hashes
                # them over both listeners.
                for i in range(200):
                    self.assertEqual(get(a.port, "/about?i=%d" % i,
                                         close=True)[0], 200)
            finally:
                b.stop()
        finally:
            a.stop()
        served = []
        for p in logs:
            with open(p) as f:
                served.append(len(f.read().splitlines()))
        print("requests served by each gortd:", served)
        self.assertEqual(sum(served), 200)
        self.assertGreater(min(served), 0)

    def test_without_reuseport_the_port_is_taken(self):
        with Gortd(GORTD, name="a") as a:
            b = Gortd(GORTD, name="b", listen="127.0.0.1:%d" % a.port,
                      wait=None)
            b.wait_exit(1)
            self.assertIn("Address already in use", b.log)


class SeveralListen(unittest.TestCase):
    def test_two_addresses(self):
        with Gortd(GORTD, ["--listen", "[::1]:0"], plugins_dir=PLUGINS,
                   listen="127.0.0.1:0") as d:
            lines = SERVING_ALL.findall(d.log)
            self.assertEqual([h for h, _, _ in lines], ["127.0.0.1", "[::1]"])
            self.assertEqual(get(int(lines[0][1]))[0], 200)
            c = http.client.HTTPConnection("::1", int(lines[1][1]),
                                           timeout=30)
            c.request("GET", "/about")
            self.assertEqual(c.getresponse().status, 200)
            c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
