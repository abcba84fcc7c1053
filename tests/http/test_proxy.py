#!/usr/bin/env python3
"""proxy.so and fanout.so (plugins/proxy, plugins/fanout) in the real gortd
in front of real upstreams: a Python http.server that records what it was
sent and counts its connections, and Go's httputil.ReverseProxy
(tests/http/go_revproxy, built here) as the oracle for what a reverse
proxy sends on and sends back.

What it proves: the path and query reach the upstream unchanged; the
hop-by-hop fields are removed both ways (Connection and the fields it
names, Keep-Alive, Proxy-*, TE, Trailer, Upgrade) as Go's ReverseProxy
removes them; X-Forwarded-For is appended to, X-Forwarded-Host and -Proto
set; GET, HEAD, POST with a chunked body and with 100-continue answer as
the upstream asked directly; 32 MiB each way streams through with bounded
gortd memory; sequential requests share one upstream connection; 502 when
the upstream refuses or answers garbage, 504 past the mapping's timeout; a
client that leaves mid-body closes the upstream connection; a malformed
proxy.conf is refused with its line number, a missing one with a clear
message while the bundled hello.so still serves "/"; fanout.so merges two
upstreams, and marks a slow one missing at the deadline. The seed's Go
program as the upstream answers through proxy.so as it answers directly
(GET, HEAD, a 1 MiB POST, a chunked POST, 100-continue).

usage: test_proxy.py GORTD PLUGINS_DIR SOURCE_DIR
"""
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, sanitizer, wait_for  # noqa: E402

GORTD = PLUGINS = SOURCE = None
MIB = 1 << 20
HOP = ("connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade")


# Bodies sent without a Content-Type, by what each starts like.
UNTYPED = {"html": b"\n<!DOCTYPE html><title>t</title><p>hi</p>\n",
           "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
           "bin": b"\x00\x01\x02\x03 binary",
           "text": b"plain words\n"}


def pattern(n, seed=0):
    block = bytes((i * 7 + seed) % 251 for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


# ---- the upstream ------------------------------------------------------------

class Upstream(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.cond = threading.Condition()
        self.accepted = 0
        self.seen = []         # (method, path, [(name, value)], body sha)
        self.release = threading.Event()
        self.cut = 0           # streams that found their client gone
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def get_request(self):
        conn = super().get_request()
        with self.cond:
            self.accepted += 1
        return conn

    def note(self, **kw):
        with self.cond:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)
            self.cond.notify_all()

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return b"".join(out)
                out.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        total = 0
        while total < n:
            b = self.rfile.read(min(MIB, n - total))
            if not b:
                break
            h.update(b)
            total += len(b)
        return (total, h.hexdigest())

    def reply(self, status, body, fields=()):
        self.send_response(status)
        for k, v in fields:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_one(self):
        b = self.body()
        if isinstance(b, bytes):
            b = (len(b), hashlib.sha256(b).hexdigest())
        rec = {"method": self.command, "path": self.path,
               "fields": [[k, v] for k, v in self.headers.items()],
               "len": b[0], "sha": b[1]}
        srv = self.server
        with srv.cond:
            srv.seen.append(rec)
        p = self.path
        if "/slow" in p:
            srv.release.wait(60)
            return self.reply(200, b"late\n")
        if "/garbage" in p:
            self.wfile.write(b"SPDY/9 what\r\n\r\n")
            self.close_connection = True
            return
        if "/big" in p:
            n = int(p.split("n=")[1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            data = pattern(n, 3)
            for i in range(0, n, 256 * 1024):
                c = data[i:i + 256 * 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
            return
        if "/stream" in p:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b"%x\r\n%s\r\n" % (4096, b"s" * 4096))
                    self.wfile.flush()
                    srv.release.wait(0.01)
            except (BrokenPipeError, ConnectionResetError):
                srv.note(cut=1)
            self.close_connection = True
            return
        if "/cut" in p:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"c" * 1000)
            self.close_connection = True
            return
        if "/len" in p:  # a Content-Length body of n bytes
            return self.reply(200, pattern(int(p.split("n=")[1]), 5))
        if "/eof" in p:  # a body that ends with the connection
            self.send_response(200)
            self.end_headers()
            self.wfile.write(pattern(int(p.split("n=")[1]), 6))
            self.close_connection = True
            return
        if "/many-conn" in p:  # more Connection fields than proxy.so
            # collects at once (8), each naming a field sent along
            f = [("Connection", " X-S%d\t, keep-alive" % i) for i in range(12)]
            f += [("x-s%d" % i, "s") for i in range(12)]
            return self.reply(200, b"ok", f + [("X-Kept", "yes")])
        if "/mid-head" in p:  # ~5.5 KiB, 50 fields: past the response's
            # inline room (2 KiB, 32 fields), so stored on the heap
            self.send_response(200)
            for i in range(50):
                self.send_header("X-Mid-%d" % i, "m" * 100)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/huge-head" in p:
            self.send_response(200)
            for i in range(200):
                self.send_header("X-Big-%d" % i, "v" * 100)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/same" in p:
            return self.reply(201 if self.command == "POST" else 200,
                              json.dumps({"len": b[0], "sha": b[1]}).encode(),
                              [("Content-Type", "application/json"),
                               ("X-Kept", "yes"),
                               ("Connection", "keep-alive, X-Secret"),
                               ("X-Secret", "s"), ("Keep-Alive", "timeout=5"),
                               ("Proxy-Authenticate", "x"),
                               ("Trailer", "X-T"), ("Upgrade", "h2c"),
                               ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        if "/junk-after" in p:  # a 204, then bytes nobody asked for on
            self.send_response(204)  # the idle connection (RFC 9112 6.3:
            self.end_headers()  # a 204 has no body)
            self.wfile.flush()
            time.sleep(0.05)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n"
                             b"X-Smuggled: 1\r\n\r\nSMUGGLED")
            self.wfile.flush()
            return
        if "/dup-length" in p:  # the same Content-Length twice (RFC 9112
            self.send_response(200)  # §6.3 lets a recipient take it)
            self.send_header("Content-Length", "2")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        if "/nobody/" in p:  # framing fields a head without a body drops
            code = int(p.rsplit("/", 1)[1])
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.send_header("Content-Type", "text/plain")
            self.send_header("ETag", '"e"')
            self.end_headers()
            return
        if "/untyped/" in p:  # no Content-Type: the proxy's server sniffs
            return self.reply(200, UNTYPED[p.rsplit("/", 1)[1]])
        if "/fan/" in p:
            return self.reply(200, b'{"from":"%s"}' % p.encode(),
                              [("Content-Type", "application/json")])
        fields = [("Content-Type", "application/json"),
                  ("Connection", "keep-alive, X-Secret"), ("X-Secret", "s"),
                  ("Keep-Alive", "timeout=5"), ("Proxy-Authenticate", "x"),
                  ("Trailer", "X-T"), ("Upgrade", "h2c"),
                  ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                  ("X-Kept", "yes")]
        self.reply(201 if self.command == "POST" else 200,
                   json.dumps(rec).encode(), fields)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_one


# ---- helpers -------------------------------------------------------------------

def request(port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def raw(port, data, timeout=30):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
            if b"\r\n\r\n" in out:
                head, rest = out.split(b"\r\n\r\n", 1)
                m = re.search(rb"content-length: (\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field + " not in /proc status")


def fields_of(headers):
    return {k.lower(): v for k, v in headers}


class Proxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-proxy-")
        cls.up = Upstream()
        cls.down = free_port()
        plug = os.path.join(cls.tmp, "plugins")
        os.mkdir(plug, 0o700)
        for so in ("proxy.so", "fanout.so"):
            shutil.copy(os.path.join(PLUGINS, so), plug)
        with open(os.path.join(plug, "proxy.conf"), "w") as f:
            f.write("# mappings for test_proxy.py\n\n"
                    "timeout 20s\n"
                    "/  %s   # everything\n"
                    "/t/  %s timeout=300ms\n"
                    "/down/ http://127.0.0.1:%d\n"
                    % (cls.up.url, cls.up.url, cls.down))
        with open(os.path.join(plug, "fanout.conf"), "w") as f:
            f.write("route GET /fanout/{which}\n"
                    "upstream a %s/fan/a\n"
                    "upstream b %s/fan/b\n"
                    "deadline 300ms\n" % (cls.up.url, cls.up.url))
        cls.gortd = Gortd(GORTD, plugins_dir=plug, name="proxy")
        cls.port = cls.gortd.port

    @classmethod
    def tearDownClass(cls):
        cls.up.release.set()
        cls.gortd.stop()
        cls.up.shutdown()
        cls.up.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def last_seen(self):
        with self.up.cond:
            return self.up.seen[-1]

    def test_path_and_query_unchanged(self):
        # Clean paths: an unclean one ("/a/./b") is the mux's to redirect
        # before any handler runs, as Go's ServeMux does.
        for target in ("/a/b?x=1&y=%2F+z", "/%7Euser/x?", "/q?a=1;b=2",
                       "/sp%20ace/x?%zz&&=", "/a%2Fb", "/"):
            with self.subTest(target=target):
                raw(self.port, b"GET %s HTTP/1.1\r\nHost: h\r\n"
                    b"Connection: close\r\n\r\n" % target.encode())
                self.assertEqual(self.last_seen()["path"], target)

    def test_raw_non_ascii_target_goes_escaped(self):
        # the parser lets obs-text through; upstream it goes %-escaped,
        # as Go's ReverseProxy sends it (it was a 502)
        out = raw(self.port, b"GET /caf\xc3\xa9?n=\xff HTTP/1.1\r\nHost: h\r\n"
                  b"Connection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:80])
        self.assertEqual(self.last_seen()["path"], "/caf%C3%A9?n=%FF")

    def test_long_target_unchanged(self):
        """A path and query longer than proxy.so's 1 KiB stack URL buffer
        (the URL is then built on the heap) arrive unchanged."""
        target = "/long/" + "x" * 3000 + "?q=" + "y" * 500
        out = raw(self.port, b"GET %s HTTP/1.1\r\nHost: h\r\n"
                  b"Connection: close\r\n\r\n" % target.encode())
        self.assertIn(b" 200 ", out.split(b"\r\n", 1)[0])
        self.assertEqual(self.last_seen()["path"], target)

    def test_hop_by_hop_removed_and_forwarded_fields(self):
        st, hdrs, body = request(self.port, "GET", "/hop", headers={
            "Connection": "keep-alive, X-Private", "X-Private": "p",
            "Keep-Alive": "300", "Proxy-Authorization": "Basic x",
            "TE": "gzip", "Upgrade": "websocket", "X-Forwarded-For":
            "10.0.0.1", "X-Keep": "k"})
        self.assertEqual(st, 200)
        seen = {k.lower(): v for k, v in json.loads(body)["fields"]}
        for name in HOP + ("x-private",):
            self.assertNotIn(name, seen, name)
        self.assertEqual(seen["x-keep"], "k")
        self.assertEqual(seen["x-forwarded-for"], "10.0.0.1, 127.0.0.1")
        self.assertEqual(seen["x-forwarded-host"], "127.0.0.1:%d" % self.port)
        self.assertEqual(seen["x-forwarded-proto"], "http")
        self.assertEqual(seen["host"], "127.0.0.1:%d" % self.port)
        back = fields_of(hdrs)
        for name in HOP + ("x-secret",):
            self.assertNotIn(name, back, name)
        self.assertEqual(back["x-kept"], "yes")
        self.assertEqual([v for k, v in hdrs if k.lower() == "set-cookie"],
                         ["a=1", "b=2"])

    def test_host_and_user_agent_as_go_sends_them(self):
        # absolute form: the target's authority is the host (RFC 9112
        # 3.2.2), in Host and X-Forwarded-Host alike
        raw(self.port, b"GET http://other.example:81/abs?q=1 HTTP/1.1\r\n"
            b"Host: example.com\r\nConnection: close\r\n\r\n")
        seen = self.last_seen()
        fields = {k.lower(): v for k, v in seen["fields"]}
        self.assertEqual(seen["path"], "/abs?q=1")
        self.assertEqual(fields["host"], "other.example:81")
        self.assertEqual(fields["x-forwarded-host"], "other.example:81")
        # no User-Agent from the client: none added (Go's ReverseProxy)
        self.assertNotIn("user-agent", fields)
        raw(self.port, b"GET /ua HTTP/1.1\r\nHost: h\r\n"
            b"User-Agent: probe/1\r\nConnection: close\r\n\r\n")
        fields = [(k.lower(), v) for k, v in self.last_seen()["fields"]]
        self.assertEqual([v for k, v in fields if k == "user-agent"],
                         ["probe/1"])
        self.assertEqual([v for k, v in fields if k == "host"], ["h"])

    def test_long_forwarded_for_keeps_the_client_ip(self):
        # a chain past any buffer: this client's IP is still appended (it
        # is the one entry an upstream may trust; a cut chain lost it)
        for n in (1014, 1020, 3000, 20000):
            with self.subTest(n=n):
                chain = "a" * n + ", 1.2.3.4"
                st, _, body = request(self.port, "GET", "/xff", headers={
                    "X-Forwarded-For": chain})
                self.assertEqual(st, 200)
                seen = {k.lower(): v for k, v in json.loads(body)["fields"]}
                self.assertEqual(seen["x-forwarded-for"],
                                 chain + ", 127.0.0.1")

    def test_many_large_fields_forwarded_whole(self):
        """Fields past the client request's first 256 bytes of field
        strings (then moved to the heap) and a head past the client's 1 KiB
        stack buffer arrive whole, in order."""
        sent = [("X-F%02d" % i, chr(ord("a") + i) * 300) for i in range(12)]
        st, _, body = request(self.port, "GET", "/fields",
                              headers=dict(sent))
        self.assertEqual(st, 200)
        seen = [(k.lower(), v) for k, v in json.loads(body)["fields"]
                if re.fullmatch(r"x-f\d\d", k.lower())]
        self.assertEqual(seen, [(k.lower(), v) for k, v in sent])

    def test_te_trailers_kept(self):
        st, _, body = request(self.port, "GET", "/te",
                              headers={"TE": "trailers"})
        seen = {k.lower(): v for k, v in json.loads(body)["fields"]}
        self.assertEqual(seen.get("te"), "trailers")

    def test_same_answer_as_upstream_directly(self):
        """GET, HEAD, POST with a chunked body and with 100-continue: the
        status, the end-to-end fields and the body the upstream gives."""
        up_port = self.up.server_address[1]
        chunked = (b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                   b"chunked\r\nConnection: close\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        for method, body, hdrs in (("GET", None, {}), ("HEAD", None, {}),
                                   ("POST", pattern(MIB), {}),
                                   ("POST", b"x" * 1000,
                                    {"Expect": "100-continue"})):
            with self.subTest(method=method, hdrs=hdrs):
                a = request(self.port, method, "/same", body, dict(hdrs))
                b = request(up_port, method, "/same", body, dict(hdrs))
                self.assertEqual(a[0], b[0])
                fa, fb = fields_of(a[1]), fields_of(b[1])
                for name in ("content-type", "content-length", "x-kept"):
                    self.assertEqual(fa.get(name), fb.get(name), name)
                if method == "HEAD":
                    self.assertEqual(a[2], b"")
                    continue
                ra, rb = json.loads(a[2]), json.loads(b[2])
                self.assertEqual((ra["len"], ra["sha"]), (rb["len"], rb["sha"]))
        out = raw(self.port, chunked)
        self.assertTrue(out.startswith(b"HTTP/1.1 201 "), out[:80])
        rec = json.loads(out.split(b"\r\n\r\n", 1)[1])
        self.assertEqual((rec["len"], rec["sha"]),
                         (11, hashlib.sha256(b"hello world").hexdigest()))
        chunked_seen = {k.lower(): v for k, v in rec["fields"]}
        self.assertEqual(chunked_seen.get("transfer-encoding"), "chunked")

    def test_large_bodies_stream_both_ways(self):
        n = 32 * MIB
        before = rss_kib(self.gortd.pid, "VmRSS")
        data = pattern(n, 1)
        st, _, body = request(self.port, "PUT", "/upload", data,
                              {"Content-Type": "application/octet-stream"})
        self.assertEqual(st, 200)
        rec = json.loads(body)
        self.assertEqual((rec["len"], rec["sha"]),
                         (n, hashlib.sha256(data).hexdigest()))
        st, hdrs, body = request(self.port, "GET", "/big?n=%d" % n)
        self.assertEqual(st, 200)
        self.assertEqual(len(body), n)
        self.assertEqual(body, pattern(n, 3))
        grown = rss_kib(self.gortd.pid, "VmHWM") - before
        if not sanitizer("address"):
            # Neither body was held whole: the peak grew by far less.
            self.assertLess(grown, n // 1024 // 2,
                            "gortd's peak RSS grew %d KiB" % grown)

    def test_upstream_keep_alive(self):
        request(self.port, "GET", "/warm")
        with self.up.cond:
            before = self.up.accepted
        for i in range(20):
            st, _, _ = request(self.port, "GET", "/ka/%d" % i)
            self.assertEqual(st, 200)
        with self.up.cond:
            self.assertEqual(self.up.accepted, before)

    def test_bodies_around_the_copy_buffers(self):
        """proxy.so copies a body known to fit 2 KiB through a stack
        buffer and moves to a 32 KiB heap one once a read fills the small
        one: every length around both edges, with a Content-Length, chunked
        and until the upstream closes, arrives whole."""
        for n in (0, 1, 2047, 2048, 2049, 4096, 32767, 32768, 32769, 100001):
            for kind in ("len", "big", "eof"):
                with self.subTest(n=n, kind=kind):
                    st, _, body = request(self.port, "GET",
                                          "/%s?n=%d" % (kind, n))
                    self.assertEqual(st, 200)
                    seed = {"len": 5, "big": 3, "eof": 6}[kind]
                    self.assertEqual(len(body), n)
                    self.assertEqual(body, pattern(n, seed))

    def test_pooled_connection_reused_many_times(self):
        """One upstream connection carries hundreds of requests while it
        keeps its read buffer and head parse between them: small answers,
        a head that grows the buffer past 4 KiB (it is then dropped, not
        pooled), request heads with more fields and bytes than a request
        holds inline, and bodies, all on the connection the first made."""
        request(self.port, "GET", "/warm")
        with self.up.cond:
            before = self.up.accepted
        many = {"X-F%d" % i: "v" * (i * 40) for i in range(20)}
        for i in range(300):
            if i % 50 == 7:
                st, hdrs, _ = request(self.port, "GET", "/mid-head")
                self.assertEqual(st, 200)
                mid = [v for k, v in hdrs if k.startswith("X-Mid-")]
                self.assertEqual(mid, ["m" * 100] * 50)
                continue
            hdrs = many if i % 3 == 0 else {"X-I": str(i)}
            st, _, body = request(self.port, "GET", "/reuse/%d" % i,
                                  headers=hdrs)
            self.assertEqual(st, 200)
            rec = json.loads(body)
            self.assertEqual(rec["path"], "/reuse/%d" % i)
            seen = {k.lower(): v for k, v in rec["fields"]}
            for k, v in hdrs.items():
                self.assertEqual(seen.get(k.lower()), v, (i, k))
            if i % 10 == 1:
                st, _, body = request(self.port, "GET", "/len?n=%d" % (i * 7))
                self.assertEqual(body, pattern(i * 7, 5))
        with self.up.cond:
            self.assertEqual(self.up.accepted, before)

    def test_many_connection_fields_named_fields_dropped(self):
        """More Connection fields than proxy.so collects in one walk (8),
        in either direction: every field any of them names is dropped,
        names matched without regard to case or the blanks around them,
        and nothing else."""
        conn = b"".join(b"Connection: keep-alive ,\tx-p%d \r\n" % i
                        for i in range(12))
        named = b"".join(b"X-P%d: p\r\n" % i for i in range(12))
        out = raw(self.port, b"GET /named HTTP/1.1\r\nHost: h\r\n" + conn +
                  named + b"X-Keep: k\r\nX-P: not named\r\n"
                  b"Connection: close\r\n\r\n")
        self.assertIn(b" 200 ", out.split(b"\r\n", 1)[0])
        seen = {k.lower(): v for k, v in
                json.loads(out.split(b"\r\n\r\n", 1)[1])["fields"]}
        for i in range(12):
            self.assertNotIn("x-p%d" % i, seen)
        self.assertEqual(seen.get("x-keep"), "k")
        self.assertEqual(seen.get("x-p"), "not named")
        st, hdrs, body = request(self.port, "GET", "/many-conn")
        self.assertEqual((st, body), (200, b"ok"))
        back = fields_of(hdrs)
        for i in range(12):
            self.assertNotIn("x-s%d" % i, back)
        self.assertNotIn("connection", back)
        self.assertEqual(back.get("x-kept"), "yes")

    def test_repeated_length_goes_on_once(self):
        out = raw(self.port, b"GET /dup-length HTTP/1.1\r\nHost: t\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(head.lower().count(b"\r\ncontent-length:"), 1, head)
        self.assertEqual(body, b"ok")

    def test_stray_bytes_on_an_idle_connection_reach_nobody(self):
        # they would be read as the next request's answer, for another
        # client: the connection is dropped, as Go's Transport and nginx do
        for method in ("GET", "HEAD", "POST"):
            with self.subTest(method=method):
                st, _, _ = request(self.port, "GET", "/junk-after")
                self.assertEqual(st, 204)
                time.sleep(0.3)  # the junk is in the idle connection now
                st, hdrs, body = request(self.port, method, "/after",
                                         body=b"" if method == "POST"
                                         else None)
                self.assertIn(st, (200, 201))
                self.assertNotIn("X-Smuggled", dict(hdrs))
                if method != "HEAD":
                    self.assertEqual(json.loads(body)["path"], "/after")

    def test_refused_is_502(self):
        st, _, body = request(self.port, "GET", "/down/x")
        self.assertEqual(st, 502)
        self.assertEqual(body, b"Bad Gateway\n")

    def test_garbage_is_502(self):
        st, _, _ = request(self.port, "GET", "/garbage")
        self.assertEqual(st, 502)

    def test_upstream_cut_short_cuts_the_client(self):
        """An upstream that dies mid-body: the client must not get a
        response that looks complete."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/cut")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()

    def test_head_too_large_is_a_clean_502(self):
        st, hdrs, body = request(self.port, "GET", "/huge-head")
        self.assertEqual(st, 502)
        self.assertFalse([k for k, _ in hdrs if k.startswith("X-Big")])
        self.assertEqual(body, b"Bad Gateway\n")

    def test_slow_upstream_is_504(self):
        st, _, body = request(self.port, "GET", "/t/slow")
        self.assertEqual(st, 504)
        self.assertEqual(body, b"Gateway Timeout\n")

    def test_client_leaving_closes_the_upstream(self):
        with self.up.cond:
            cut = self.up.cut
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        got = b""
        while len(got) < 64 * 1024:
            got += s.recv(65536)
        s.close()
        with self.up.cond:
            self.assertTrue(self.up.cond.wait_for(
                lambda: self.up.cut > cut, 60),
                "the upstream kept streaming to a client that left")

    def test_fanout_merges_both(self):
        st, hdrs, body = request(self.port, "GET", "/fanout/x")
        self.assertEqual(st, 200)
        doc = json.loads(body)
        self.assertEqual(doc["partial"], False)
        self.assertEqual(doc["results"]["a"],
                         {"status": 200, "body": '{"from":"/fan/a"}'})
        self.assertEqual(doc["results"]["b"],
                         {"status": 200, "body": '{"from":"/fan/b"}'})


class FanoutSlow(unittest.TestCase):
    """One upstream past the deadline: the answer is partial."""

    def test_partial_at_the_deadline(self):
        tmp = tempfile.mkdtemp(prefix="gort-fanout-")
        up = Upstream()
        try:
            plug = os.path.join(tmp, "plugins")
            os.mkdir(plug, 0o700)
            shutil.copy(os.path.join(PLUGINS, "fanout.so"), plug)
            with open(os.path.join(plug, "fanout.conf"), "w") as f:
                f.write("upstream fast %s/fan/fast\n"
                        "upstream slow %s/slow\n"
                        "deadline 200ms\n" % (up.url, up.url))
            with Gortd(GORTD, plugins_dir=plug, name="fanout") as d:
                st, _, body = request(d.port, "GET", "/fanout")
                up.release.set()
            self.assertEqual(st, 200)
            doc = json.loads(body)
            self.assertEqual(doc["partial"], True)
            self.assertEqual(doc["results"]["fast"]["status"], 200)
            self.assertEqual(doc["results"]["slow"],
                             {"error": "deadline exceeded"})
        finally:
            up.release.set()
            up.shutdown()
            up.server_close()
            shutil.rmtree(tmp, ignore_errors=True)


class Config(unittest.TestCase):
    def start_with(self, conf):
        tmp = tempfile.mkdtemp(prefix="gort-proxyconf-")
        plug = os.path.join(tmp, "plugins")
        os.mkdir(plug, 0o700)
        shutil.copy(os.path.join(PLUGINS, "proxy.so"), plug)
        if conf is not None:
            with open(os.path.join(plug, "proxy.conf"), "w") as f:
                f.write(conf)
        d = Gortd(GORTD, plugins_dir=plug, name="proxyconf")
        self.addCleanup(shutil.rmtree, tmp, True)
        return d

    def refused(self, conf):
        with self.start_with(conf) as d:
            wait_for("proxy refused", lambda: "plugin refused" in d.log)
            line = [ln for ln in d.log.splitlines()
                    if "plugin refused" in ln][0]
            self.assertEqual(request(d.port, "GET", "/")[0], 404)
            return line

    def test_bad_lines_refused_with_line_numbers(self):
        for conf, want in (
                ("# c\n/ http://127.0.0.1:1\n/x/ ftp://h\n",
                 "proxy.conf:3: upstream \\\"ftp://h\\\""),
                ("\n\n\n/ http://127.0.0.1:1/base\n", "proxy.conf:4:"),
                ("timeout soon\n/ http://h\n", "proxy.conf:1: bad timeout"),
                ("/ http://h timeout=0s\n", "proxy.conf:1: bad timeout"),
                ("/ http://h retries=3\n", "proxy.conf:1: unknown option"),
                ("/api\n", "proxy.conf:1:"),
                ("/ http://a\n/ http://b\n", "proxy.conf:2: pattern"),
                ("GET /{x http://a\n", "proxy.conf:1: pattern"),
                ("# only a comment\n", "no mapping")):
            with self.subTest(conf=conf):
                self.assertIn(want, self.refused(conf))

    def test_no_config_refused_clearly(self):
        self.assertIn("no proxy.conf next to proxy.so", self.refused(None))

    def test_bundled_dir_still_serves_hello(self):
        """`make run` loads every bundled .so: proxy.so and fanout.so,
        without their .conf, stay out of the way of hello.so's "/"."""
        with Gortd(GORTD, plugins_dir=PLUGINS, name="bundled") as d:
            st, _, body = request(d.port, "GET", "/")
            self.assertEqual((st, body), (200, b"hello world\n"))
            self.assertIn("no proxy.conf", d.log)
            self.assertIn("no fanout.conf", d.log)


class SeedUpstream(unittest.TestCase):
    """The seed's Go program (bench/go/hello) as the upstream: through
    proxy.so, every answer is the one it gives directly."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-proxyseed-")
        env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off",
                   GOFLAGS="-mod=mod", GOCACHE=os.path.join(cls.tmp, "gc"))
        exe = os.path.join(cls.tmp, "hello_go")
        subprocess.run(["go", "build", "-o", exe, "./hello"],
                       cwd=os.path.join(SOURCE, "bench/go"), env=env,
                       check=True)
        cls.go = subprocess.Popen([exe, "127.0.0.1:0"],
                                  stderr=subprocess.PIPE, text=True)
        m = re.search(r"listening on \S+:(\d+)", cls.go.stderr.readline())
        assert m, "the seed's Go program did not start"
        cls.go_port = int(m.group(1))
        plug = os.path.join(cls.tmp, "plugins")
        os.mkdir(plug, 0o700)
        shutil.copy(os.path.join(PLUGINS, "proxy.so"), plug)
        with open(os.path.join(plug, "proxy.conf"), "w") as f:
            f.write("/ http://127.0.0.1:%d\n" % cls.go_port)
        cls.gortd = Gortd(GORTD, plugins_dir=plug, name="proxyseed")

    @classmethod
    def tearDownClass(cls):
        cls.go.kill()
        cls.go.wait()
        cls.gortd.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_same_as_direct(self):
        for method, path, body, hdrs in (
                ("GET", "/", None, {}), ("GET", "/about", None, {}),
                ("GET", "/x/y?z=1", None, {}), ("HEAD", "/", None, {}),
                ("POST", "/", pattern(MIB), {}),
                # An iterable body: http.client sends it chunked.
                ("POST", "/about", [b"abc", b"def"], {}),
                ("PUT", "/", b"x" * 100, {"Expect": "100-continue"})):
            with self.subTest(method=method, path=path):
                got = []
                for port in (self.gortd.port, self.go_port):
                    b = iter(body) if isinstance(body, list) else body
                    st, h, data = request(port, method, path, b, dict(hdrs))
                    # Connection is hop-by-hop: Go closes its connection
                    # after a body its handler left unread, the proxy keeps
                    # the client's.
                    got.append((st, sorted((k.lower(), v) for k, v in h
                                           if k.lower() not in
                                           ("date", "connection")), data))
                self.assertEqual(got[0], got[1])


class GoOracle(unittest.TestCase):
    """What Go's httputil.ReverseProxy sends on and sends back, for the
    same requests, against the same upstream."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-revproxy-")
        cls.up = Upstream()
        env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off",
                   GO111MODULE="off", GOFLAGS="",
                   GOCACHE=os.path.join(cls.tmp, "gocache"))
        exe = os.path.join(cls.tmp, "revproxy")
        subprocess.run(["go", "build", "-o", exe, os.path.join(
            SOURCE, "tests/http/go_revproxy/main.go")], env=env, check=True)
        cls.go = subprocess.Popen([exe, "127.0.0.1:0", cls.up.url],
                                  stderr=subprocess.PIPE, text=True)
        m = re.search(r"listening on \S+:(\d+)", cls.go.stderr.readline())
        assert m, "Go's ReverseProxy did not start"
        cls.go_port = int(m.group(1))
        plug = os.path.join(cls.tmp, "plugins")
        os.mkdir(plug, 0o700)
        shutil.copy(os.path.join(PLUGINS, "proxy.so"), plug)
        with open(os.path.join(plug, "proxy.conf"), "w") as f:
            f.write("/ %s\n" % cls.up.url)
        cls.gortd = Gortd(GORTD, plugins_dir=plug, name="revproxy")

    @classmethod
    def tearDownClass(cls):
        cls.go.kill()
        cls.go.wait()
        cls.gortd.stop()
        cls.up.shutdown()
        cls.up.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # Go 1.19's ReverseProxy does not set X-Forwarded-Host/-Proto (1.20's
    # SetXForwarded does); its Transport adds Accept-Encoding: gzip and
    # sends no User-Agent when the client sent none.
    # Host is the client's, so each proxy's own address: checked alone.
    SKIP_UP = ("x-forwarded-host", "x-forwarded-proto", "accept-encoding",
               "user-agent", "host")

    def both(self, method, path, body=None, headers=None):
        out = []
        for port in (self.gortd.port, self.go_port):
            st, hdrs, data = request(port, method, path, body, headers)
            with self.up.cond:
                rec = self.up.seen[-1]
            self.assertIn(["Host", "127.0.0.1:%d" % port], rec["fields"])
            sent = sorted((k.lower(), v) for k, v in rec["fields"]
                          if k.lower() not in self.SKIP_UP)
            back = sorted((k.lower(), v) for k, v in hdrs
                          if k.lower() != "date")
            out.append((st, rec["method"], rec["path"], sent, back,
                        rec["len"], rec["sha"]))
        return out

    def test_like_go(self):
        cases = (
            ("GET", "/o/same?b=c&d", None, {}),
            ("GET", "/o/same/hop", None, {"Connection": "X-A, close", "X-A": "1",
                                     "Keep-Alive": "1", "TE": "trailers",
                                     "Proxy-Connection": "x",
                                     "X-Forwarded-For": "192.0.2.1"}),
            ("POST", "/o/same/post", b"k=v" * 100,
             {"Content-Type": "text/x"}),
            ("DELETE", "/o/same/d", None, {"X-Multi": "1"}),
            # net/http names an untyped body's type from its first bytes
            ("GET", "/o/untyped/html", None, {}),
            ("GET", "/o/untyped/png", None, {}),
            ("GET", "/o/untyped/bin", None, {}),
            ("GET", "/o/untyped/text", None, {}),
            # no Content-Length on a 204 or 304, no Content-Type on a 304
            ("GET", "/o/nobody/204", None, {}),
            ("GET", "/o/nobody/304", None, {}),
        )
        for method, path, body, hdrs in cases:
            with self.subTest(method=method, path=path):
                gort, go = self.both(method, path, body, hdrs)
                self.assertEqual(gort, go)


def main():
    global GORTD, PLUGINS, SOURCE
    GORTD, PLUGINS, SOURCE = sys.argv[1:4]
    del sys.argv[1:4]
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
