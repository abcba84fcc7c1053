#!/usr/bin/env python3
"""Black-box tests of gortd's HTTP/1.1 front end: the real daemon, driven
with raw sockets and curl over loopback.

usage: test_http.py GORTD PLUGINS_DIR GORTCTL  (ctest passes the built gortd,
       the directory of the bundled plugins: hello, echo, slow, and gortctl)

Every gortd here is stopped through tests/lib/gortd.py: it must exit 0
with no sanitizer report in its log.
"""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import (Gortd, GortdError, sanitizer, scale,  # noqa: E402
                   wait_for)

GORTD = None
GORTCTL = None
PLUGINS_DIR = None
PORT = None
PROC = None


def start_gortd(extra=(), preexec=None):
    """gortd on a port the kernel picks (--listen 127.0.0.1:0), through
    the shared helper (tests/lib/gortd.py): .port, .log_path, .stop()."""
    return Gortd(GORTD, list(extra), plugins_dir=PLUGINS_DIR, name="http",
                 preexec=preexec)


def gortctl_stats(d):
    """gortctl stats --json of gortd d, parsed."""
    out = subprocess.run([GORTCTL, "--addr", d.control, "stats", "--json"],
                         capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return json.loads(out)


class Conn:
    """A client connection that keeps bytes read past one response."""

    def __init__(self, port=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port or PORT),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def sendall(self, data):
        self.sock.sendall(data)

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; have %r" % self.buf[:200])
        self.buf += chunk

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def connect(port=None, timeout=10):
    return Conn(port, timeout)


def recv_response(c, head_only=False):
    """Reads one response: (status, headers lowercased, body, raw head)."""
    while b"\r\n\r\n" not in c.buf:
        c.fill()
    head, c.buf = c.buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if head_only or status in (100, 204, 304):
        return status, headers, b"", head
    if "content-length" in headers:
        return status, headers, c.take(int(headers["content-length"])), head
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int(c.line().split(b";")[0], 16)
            body += c.take(size)
            c.take(2)
            if size == 0:
                return status, headers, body, head
    body = c.buf  # delimited by close
    c.buf = b""
    while True:
        chunk = c.sock.recv(65536)
        if not chunk:
            return status, headers, body, head
        body += chunk


def request(raw, port=None):
    with connect(port) as s:
        s.sendall(raw)
        return recv_response(s)


def closed_by_server(c):
    if c.buf:
        return False
    c.sock.settimeout(5)
    try:
        return c.sock.recv(1) == b""
    except ConnectionResetError:
        return True


class SeedRoutes(unittest.TestCase):
    def test_root_byte_for_byte(self):
        st, h, body, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"hello world\n")
        self.assertEqual(h["content-type"], "application/json")
        self.assertEqual(h["content-length"], "12")
        self.assertRegex(h["date"], r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_about_byte_for_byte(self):
        st, h, body, _ = request(b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"About page\n"))
        self.assertEqual(h["content-type"], "text/plain; charset=utf-8")

    def test_curl(self):
        out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/" % PORT],
                             capture_output=True, check=True).stdout
        self.assertEqual(out, b"hello world\n")

    def test_seed_patterns_match_every_method_and_path(self):
        # main.go's mux.HandleFunc("/", ...) and ("/about", ...): no method,
        # so every method; "/" catches every path no other pattern takes.
        # (404 and 405 from the mux: test_kv.py, on a gortd without hello.)
        st, _, body, _ = request(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"hello world\n"))
        st, _, body, _ = request(b"POST /about HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 0\r\n\r\n")
        self.assertEqual((st, body), (200, b"About page\n"))

    def test_head(self):
        with connect() as s:
            s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            st, h, _, _ = recv_response(s, head_only=True)
            self.assertEqual(st, 200)
            self.assertEqual(h["content-length"], "12")
            # no body follows: the next response comes right after the head
            self.assertEqual(s.buf, b"")
            s.sendall(b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n")
            st, _, body, _ = recv_response(s)
            self.assertEqual((st, body), (200, b"About page\n"))

    def test_subtree_redirect_and_cleaning(self):
        st, h, _, _ = request(b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 301)
        self.assertEqual(h["location"], "/echo/?a=1")
        st, h, _, _ = request(b"GET /x/../about HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 301)
        self.assertEqual(h["location"], "/about")

    def test_redirect_never_leaves_the_site(self):
        # A cleaned path that starts with "/\" is, for a browser, "//": the
        # host evil.example. The backslash goes out percent-encoded.
        for target in (b"/\\evil.example/.", b"/./\\evil.example/",
                       b"/a/../\\evil.example"):
            st, h, _, _ = request(b"GET " + target +
                                  b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(st, 301, target)
            loc = h["location"]
            self.assertEqual(loc.replace("/", "", 1)[:3], "%5C", loc)
            self.assertFalse(loc.startswith("//") or loc.startswith("/\\"))

    def test_redirect_body_is_escaped(self):
        st, h, body, _ = request(
            b'GET /a/../about?"><script>alert(1)</script> HTTP/1.1\r\n'
            b"Host: x\r\n\r\n")
        self.assertEqual(st, 301)
        self.assertNotIn(b"<script>", body)
        self.assertNotIn('"', h["location"])
        self.assertTrue(body.startswith(b'<a href="/about?%22%3E%3Cscript'),
                        body)


class Connections(unittest.TestCase):
    def test_keep_alive_reuse(self):
        with connect() as s:
            for _ in range(5):
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                st, h, body, _ = recv_response(s)
                self.assertEqual((st, body), (200, b"hello world\n"))
                self.assertNotIn("connection", h)

    def test_pipelining_three_in_one_write(self):
        with connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /echo/p?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
            bodies = []
            for _ in range(3):
                st, _, body, _ = recv_response(s)
                self.assertEqual(st, 200)
                bodies.append(body)
            self.assertEqual(bodies[0], b"hello world\n")
            self.assertEqual(bodies[1], b"About page\n")
            self.assertIn(b'"path": "/echo/p"', bodies[2])

    def test_http10_closes_without_keep_alive(self):
        with connect() as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            st, h, body, _ = recv_response(s)
            self.assertEqual((st, body), (200, b"hello world\n"))
            self.assertTrue(closed_by_server(s))

    def test_http10_keep_alive(self):
        with connect() as s:
            s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            st, h, _, _ = recv_response(s)
            self.assertEqual(h.get("connection", "").lower(), "keep-alive")
            s.sendall(b"GET /about HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            st, _, body, _ = recv_response(s)
            self.assertEqual(body, b"About page\n")

    def test_connection_close(self):
        with connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            st, h, _, _ = recv_response(s)
            self.assertEqual(h["connection"], "close")
            self.assertTrue(closed_by_server(s))


class Bodies(unittest.TestCase):
    def test_content_length_body(self):
        st, _, body, _ = request(b"POST /echo/raw/x HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 5\r\n\r\nhello")
        self.assertEqual((st, body), (200, b"hello"))

    def test_chunked_request(self):
        st, _, body, _ = request(b"POST /echo/raw/x HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                                 b"Trailer: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"hello world"))

    def test_malformed_chunked_body_is_400(self):
        # The handlers in the tree check gort_http_body_read's error: a
        # broken body is the client's 400, never a 200 echo of half of it.
        for path in (b"/echo/raw/x", b"/echo/x"):
            for chunks in (b"5\r\nhello\r\nZZ\r\n\r\n",   # not hex
                           b"5\nhello\r\n0\r\n\r\n"):      # bare LF
                with connect() as c:
                    c.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
                    st, _, body, _ = recv_response(c)
                    self.assertEqual((st, body),
                                     (400, b"malformed request body\n"),
                                     (path, chunks))
                    self.assertTrue(closed_by_server(c))

    def test_body_cut_short_is_not_200(self):
        with connect() as c:
            c.sendall(b"POST /echo/x HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 10\r\n\r\nhello")
            c.sock.shutdown(socket.SHUT_WR)
            st, _, _, _ = recv_response(c)
            self.assertNotEqual(st, 200)
            self.assertTrue(closed_by_server(c))

    def test_chunked_response(self):
        st, h, body, _ = request(b"GET /stream?n=50 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(h["transfer-encoding"], "chunked")
        self.assertEqual(body, b"".join(b"chunk %d\n" % i for i in range(50)))

    def test_large_body_roundtrip(self):
        data = os.urandom(900 << 10)  # under --max-body-bytes (1 MiB)
        st, _, body, _ = request(b"POST /echo/raw/big HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.assertEqual(st, 200)
        self.assertEqual(body, data)

    def test_expect_100_continue(self):
        with connect() as s:
            s.sendall(b"POST /echo/raw/c HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            st, _, _, _ = recv_response(s, head_only=True)
            self.assertEqual(st, 100)
            s.sendall(b"ping")
            st, _, body, _ = recv_response(s)
            self.assertEqual((st, body), (200, b"ping"))

    def test_expect_unknown_is_417(self):
        st, _, _, _ = request(b"POST /echo/raw/c HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 4\r\nExpect: teapot\r\n\r\nping")
        self.assertEqual(st, 417)

    def test_handler_abort_gives_500_and_server_goes_on(self):
        st, _, _, _ = request(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 500)
        st, _, body, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"hello world\n"))


class BadInput(unittest.TestCase):
    def expect(self, raw, status, closes=True):
        with connect() as s:
            s.sendall(raw)
            st, h, _, _ = recv_response(s)
            self.assertEqual(st, status, raw[:80])
            if closes:
                self.assertTrue(closed_by_server(s))
        # the server is unaffected
        st, _, body, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((st, body), (200, b"hello world\n"))

    def test_malformed_request_line(self):
        self.expect(b"GET\r\n\r\n", 400)

    def test_malformed_header(self):
        self.expect(b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400)

    def test_missing_host(self):
        self.expect(b"GET / HTTP/1.1\r\n\r\n", 400)

    def test_te_and_cl_is_400(self):
        self.expect(b"POST /echo/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)

    def test_differing_content_lengths_is_400(self):
        self.expect(b"POST /echo/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                    b"Content-Length: 4\r\n\r\nabcd", 400)

    def test_header_too_large_is_431(self):
        big = b"X-Big: " + b"a" * (1 << 20) + b"\r\n"
        self.expect(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n", 431)

    def test_uri_too_long_is_414(self):
        self.expect(b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    414)

    def test_body_too_large_is_413(self):
        self.expect(b"POST /echo/ HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 99999999999\r\n\r\n", 413)

    def test_unknown_transfer_coding_is_501(self):
        self.expect(b"POST /echo/ HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: gzip\r\n\r\n", 501)

    def test_http2_is_505(self):
        self.expect(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505)


class Slowloris(unittest.TestCase):
    # 1,000 trickling clients; 200 under ThreadSanitizer, which slows every
    # connection's goroutine down many times over.
    N = scale(1000, tsan_max=200)

    def test_trickling_clients_do_not_stop_a_normal_one(self):
        socks = []
        try:
            for _ in range(self.N):
                s = connect()
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(s)
            for rnd in range(3):
                for s in socks:
                    s.sendall(b"a")
                t0 = time.time()
                st, _, body, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual((st, body), (200, b"hello world\n"))
        finally:
            for s in socks:
                s.close()


class Timeouts(unittest.TestCase):
    """A second gortd with short timeouts."""

    @classmethod
    def setUpClass(cls):
        cls.d = start_gortd(
            ["--read-header-timeout", "300ms", "--idle-timeout", "500ms"])
        cls.port = cls.d.port

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_partial_head_gets_408_then_close(self):
        with connect(self.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # no blank line
            st, _, _, _ = recv_response(s)
            self.assertEqual(st, 408)
            self.assertTrue(closed_by_server(s))

    def test_silent_connection_is_closed(self):
        with connect(self.port) as s:
            t0 = time.time()
            self.assertTrue(closed_by_server(s))
            self.assertGreaterEqual(time.time() - t0, 0.25)

    def test_idle_keep_alive_is_closed(self):
        with connect(self.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            st, _, _, _ = recv_response(s)
            self.assertEqual(st, 200)
            t0 = time.time()
            self.assertTrue(closed_by_server(s))
            self.assertGreaterEqual(time.time() - t0, 0.4)

    def test_active_connection_outlives_idle_timeout(self):
        with connect(self.port) as s:
            for _ in range(4):  # 4 x 0.3 s > the 0.5 s idle timeout
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                st, _, _, _ = recv_response(s)
                self.assertEqual(st, 200)
                time.sleep(0.3)


class Limits(unittest.TestCase):
    """--max-conns, and running out of descriptors (EMFILE)."""

    def test_max_conns_pauses_accept(self):
        d = start_gortd(["--max-conns", "3"])
        port = d.port
        try:
            held = [connect(port) for _ in range(3)]
            for c in held:  # busy, not idle: each is inside a head
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            # The 4th connects (the kernel's backlog) but is not served
            # while three are open and none is idle.
            extra = connect(port, timeout=0.5)
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with self.assertRaises(socket.timeout):
                recv_response(extra)
            held.pop().close()
            extra.sock.settimeout(10)
            self.assertEqual(recv_response(extra)[0], 200)
            extra.close()
            for c in held:
                c.close()
        finally:
            d.stop()

    def test_max_conns_closes_the_oldest_idle_first(self):
        """At the limit, the connection idle the longest is closed for a
        new client (nginx's reuse); a busy one never is, however old."""
        d = start_gortd(["--max-conns", "4"])
        port = d.port
        try:
            busy = connect(port)  # the oldest connection, inside a head
            busy.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            a, b, c = connect(port), connect(port), connect(port)
            # Idle order b, c, a. A connection joins the idle list after
            # its response is out: each waits for its own turn there (a
            # loaded machine let c's goroutine get there before b's). a
            # left the list before its second answer, so its count is back
            # to 3 only once it is in again, last.
            for n, conn in ((1, a), (2, b), (3, c), (3, a)):
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(recv_response(conn)[0], 200)
                wait_for("%d idle connections" % n,
                         lambda: gortctl_stats(d)["http"]["conns_idle"] == n)
            newer = []
            for evicted in (b, c):
                newer.append(connect(port))
                newer[-1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(recv_response(newer[-1])[0], 200)
                self.assertTrue(closed_by_server(evicted))
            busy.sendall(b"\r\n")  # still open: its request is served
            self.assertEqual(recv_response(busy)[0], 200)
            a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(recv_response(a)[0], 200)
            for conn in [busy, a, b, c] + newer:
                conn.close()
        finally:
            d.stop()

    def test_emfile_backs_off_and_recovers(self):
        import resource

        def few_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

        d = start_gortd(["--max-conns", "1000"], few_fds)
        port, log = d.port, d.log_path
        try:
            socks = [connect(port) for _ in range(60)]
            for c in socks:
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            waits = []
            deadline = time.time() + 10
            while time.time() < deadline and len(set(waits)) < 4:
                time.sleep(0.2)
                with open(log) as f:
                    waits = [int(m[:-2]) if m.endswith("ms") else int(m[:-1]) * 1000
                             for m in re.findall(
                        r'msg="accept failed" .*backoff=(\d+m?s)', f.read())]
            # Go's backoff: 5 ms, doubling, capped at 1 s, never spinning;
            # back to 5 ms after an accept succeeds (a descriptor gortd
            # freed meanwhile lets one through).
            self.assertGreaterEqual(len(set(waits)), 4, waits)
            self.assertEqual(waits[0], 5, waits)
            for prev, cur in zip(waits, waits[1:]):
                self.assertIn(cur, (5, min(prev * 2, 1000)), waits)
            self.assertIn(40, waits)
            with open(log) as f:
                self.assertIn("open files", f.read())
            self.assertTrue(d.alive())
            for c in socks:
                c.close()
            # Descriptors freed: the listener accepts again (within its
            # current backoff) and serves.
            st, _, body, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                     port)
            self.assertEqual((st, body), (200, b"hello world\n"))
        finally:
            d.stop()


class Shutdown(unittest.TestCase):
    """SIGTERM is net/http's Server.Shutdown: the listener closes first,
    idle connections close, in-flight requests finish, then gortd exits 0.
    Each of those is checked *while* requests still drain: once gortd has
    exited the kernel has closed everything and nothing could fail. The
    requests sleep in the slow plugin's handler far longer than the checks
    take; a check is done "during the drain" when no request has finished
    yet."""

    N = 20
    # Each request's time in its handler: long enough for all N to be in
    # flight at once and for the checks (each gortctl run takes about a
    # second in a sanitizer tree, and longer on a loaded machine).
    MS = 3000 * (5 if sanitizer("thread") else
                 2 if sanitizer("address") else 1)

    def start_slow(self, d, ms):
        """N GET /slow?ms=ms on their own connections, each in its
        handler when this returns (gortd's in_flight counts N)."""
        self.results = []
        self.lock = threading.Lock()

        def slow_client():
            try:
                with connect(d.port, timeout=ms / 1000 + 60) as c:
                    c.sendall(b"GET /slow?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n"
                              % ms)
                    r = recv_response(c)
                out = (r[0], r[2])
            except Exception as e:  # noqa: BLE001 - recorded and asserted
                out = ("error", repr(e))
            with self.lock:
                self.results.append(out)

        self.threads = [threading.Thread(target=slow_client, daemon=True)
                        for _ in range(self.N)]
        for t in self.threads:
            t.start()
        wait_for("%d requests in their handlers" % self.N,
                 lambda: gortctl_stats(d)["http"]["in_flight"] == self.N or
                 self.finished())
        self.assertEqual(self.finished(), [], "a request ended before all "
                         "%d were in flight: hold them longer" % self.N)

    def finished(self):
        with self.lock:
            return list(self.results)

    def idle_keep_alive(self, d):
        """A connection that was served once and now waits, idle."""
        c = connect(d.port)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(recv_response(c)[:3:2], (200, b"hello world\n"))
        wait_for("an idle connection",
                 lambda: gortctl_stats(d)["http"]["conns_idle"] >= 1)
        return c

    def new_conn_refused(self, port):
        """True when a new connection is refused, or accepted by nobody:
        closed without a byte of response (what is left in the kernel's
        backlog when the listener closes)."""
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            return True
        try:
            c.settimeout(2)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return c.recv(1) == b""  # a response (or no answer) is False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        finally:
            c.close()

    def test_sigterm_under_load_loses_no_in_flight_request(self):
        d = start_gortd()
        try:
            idle = self.idle_keep_alive(d)
            self.start_slow(d, self.MS)
            d.send_signal(signal.SIGTERM)
            # (a) the listener is closed first: new connections are refused
            # while all N requests are still in their handlers.
            wait_for("new connections refused",
                     lambda: self.new_conn_refused(d.port) or
                     self.finished())
            self.assertEqual(self.finished(), [],
                             "new connections were accepted until the "
                             "drain ended")
            # (b) the idle keep-alive connection is closed by the server
            # during the drain.
            self.assertTrue(closed_by_server(idle))
            idle.close()
            self.assertEqual(self.finished(), [],
                             "the idle connection closed only once the "
                             "drain was over")
            self.assertTrue(d.alive(), "gortd exited before its requests")
            # (c) every in-flight request completes with its full response.
            for t in self.threads:
                t.join(60)
            self.assertEqual(self.finished(),
                             [(200, b"slept %d ms\n" % self.MS)] * self.N)
        except BaseException:
            d.kill()
            raise
        # (d) then exit status 0, no sanitizer report.
        d.wait_exit(0)
        self.assertIn("shutting down", d.log)

    def test_second_signal_exits_at_once(self):
        """A second SIGINT/SIGTERM during the drain exits at once (status
        1): gortd is gone while its requests would still run for a
        minute, and they end without a response."""
        d = start_gortd()
        try:
            self.start_slow(d, 60000)
            d.send_signal(signal.SIGTERM)
            wait_for("the drain to begin",
                     lambda: "shutting down" in d.log)
            t0 = time.monotonic()
            d.send_signal(signal.SIGINT)
            d.wait_exit(expect_rc=1)
            took = time.monotonic() - t0
            for t in self.threads:
                t.join(60)
            res = self.finished()
            self.assertEqual(len(res), self.N)
            for r in res:
                self.assertEqual(r[0], "error", r)  # cut, no response
            print("second signal: exit after %.3f s, %d requests cut"
                  % (took, len(res)))
        finally:
            d.kill()
        self.assertIn('msg="exiting now" signal=SIGINT reason="second signal"',
                      d.log)


class OpenFilesLimit(unittest.TestCase):
    def test_soft_limit_raised_to_hard(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low = min(256, hard)

        def lower():
            resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

        d = start_gortd(preexec=lower)
        try:
            with open("/proc/%d/limits" % d.pid) as f:
                line = [ln for ln in f if ln.startswith("Max open files")][0]
            self.assertEqual(line.split()[3:5], [str(hard), str(hard)])
            self.assertIn('msg="open files limit" nofile=%d was=%d' %
                          (hard, low), d.log)
        finally:
            d.stop()


def main():
    global GORTD, PLUGINS_DIR, GORTCTL, PORT, PROC
    GORTD, PLUGINS_DIR, GORTCTL = sys.argv[1], sys.argv[2], sys.argv[3]
    PROC = start_gortd(["--max-body-bytes", "1048576"])
    PORT = PROC.port
    stopped = None
    try:
        prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    finally:
        # The main daemon served /panic, pipelining, bad input and the
        # slowloris clients: it too must exit 0 without a report.
        try:
            PROC.stop()
        except GortdError as e:
            stopped = e
    res = prog.result
    failed = len(res.failures) + len(res.errors)
    if stopped:
        print("FAIL main gortd: %s" % stopped)
    print("%d passed, %d failed" % (res.testsRun - failed,
                                    failed + bool(stopped)))
    sys.exit(1 if failed or stopped else 0)


if __name__ == "__main__":
    main()
