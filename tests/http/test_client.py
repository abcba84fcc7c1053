#!/usr/bin/env python3
"""The HTTP client (server/http/client.c) from a plugin in the real gortd:
the fetch fixture (tests/plugin/fixtures/fetch.c) calls an upstream and
relays what it got. Upstreams: the seed's Go program (bench/go/hello) and
a Python http.server that counts the connections it accepts and closes and
can answer chunked, slowly, until close, malformed, or drop a request.

What it proves: keep-alive reuse (one upstream connection for sequential
calls), the idle bound per host (2), the idle timeout, chunked and until-close bodies, a
1 MiB body each way, HEAD and 204 without a body, a stale idle connection
skipped, Go's retry rule (a GET retried once on a new connection, a POST
not, unless it has an Idempotency-Key), 502 for a refused connection, a
malformed response or an unknown host, 504 for a deadline and for the
response-header timeout, "localhost" resolved, and a clean exit (fini frees
the clients; any sanitizer report fails).

usage: test_client.py GORTD FETCH_DIR SOURCE_DIR
       (FETCH_DIR holds tp_fetch.so; SOURCE_DIR is the source tree, for
       bench/go/hello)
"""
import hashlib
import http.client
import http.server
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
from gortd import Gortd, GortdError  # noqa: E402

GORTD = FETCH_DIR = SOURCE_DIR = None
G = {}  # the gortd under test: proc, port, log
MIB = 1 << 20


def big_body(n=MIB):
    return bytes(i % 251 for i in range(n))


# ---- gortd ------------------------------------------------------------------

def gortd_log():
    return G["d"].log


def fetch(path, method="GET", body=None, headers=None, timeout=30):
    """One request to gortd on a new connection: (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", G["port"], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


# ---- the Python upstream ------------------------------------------------------

class Upstream(http.server.ThreadingHTTPServer):
    """Counts connections accepted and closed; `drop` armed makes it read
    the next request that arrives on a connection that served one before,
    and close that connection without an answer (a server's idle timeout
    firing as the request arrives)."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Condition()
        self.accepted = self.closed = self.drops = 0
        self.drop = False
        self.barrier = None
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def url(self, path, host="127.0.0.1"):
        return "http://%s:%d%s" % (host, self.port, path)

    def count(self, field, delta=1):
        with self.lock:
            setattr(self, field, getattr(self, field) + delta)
            self.lock.notify_all()

    def shutdown_request(self, request):
        """Counts a close once the socket is shut: counted when the handler
        finished, a test waiting for the close could run before the FIN
        was sent (and find the idle connection still open)."""
        try:
            super().shutdown_request(request)
        finally:
            self.count("closed")

    def wait_for(self, pred, what, timeout=20):
        with self.lock:
            if not self.lock.wait_for(pred, timeout):
                raise AssertionError("upstream: %s never happened "
                                     "(accepted %d, closed %d)" %
                                     (what, self.accepted, self.closed))

    def stop(self):
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        """The client hanging up on a malformed answer is expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.nreq = 0
        self.server.count("accepted")

    def query(self):
        q = self.path.partition("?")[2]
        return dict(p.partition("=")[::2] for p in q.split("&") if p)

    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def chunked(self, pieces):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        for p in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
        self.wfile.write(b"0\r\n\r\n")

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def read_body(self):
        """(bytes, 'chunked' or 'length')."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out, "chunked"
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n), "length"

    def dropped(self):
        srv = self.server
        self.nreq += 1
        with srv.lock:
            drop = srv.drop and self.nreq > 1
            if drop:
                srv.drop = False
        if drop:
            if self.command == "POST":
                self.read_body()
            self.close_connection = True
            srv.count("drops")
        return drop

    def do_GET(self):
        if self.dropped():
            return
        path, q = self.path.partition("?")[0], self.query()
        if path == "/hello":
            self.send(200, b"hello from python\n",
                      [("Content-Type", "text/plain")])
        elif path == "/hello-then-close":
            self.send(200, b"bye\n")
            self.close_connection = True  # without saying so
        elif path == "/chunked":
            self.chunked([b"chunk %d\n" % i for i in range(int(q["n"]))])
        elif path == "/big":
            body = big_body()
            if q.get("mode") == "chunked":
                self.chunked([body[i:i + 65536]
                              for i in range(0, len(body), 65536)])
            else:
                self.send(200, body)
        elif path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close\n" * 1000)
            self.close_connection = True
        elif path == "/nocontent":
            self.send(204, None)
        elif path == "/slow":
            time.sleep(int(q["ms"]) / 1000)
            self.send(200, b"slow\n")
        elif path == "/slowbody":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"12345")
            self.wfile.flush()
            time.sleep(3)
            self.wfile.write(b"67890")
        elif path == "/barrier":
            self.server.barrier.wait(20)
            self.send(200, b"together\n")
        elif path == "/bad":
            self.raw({
                "cl-conflict": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                               b"Content-Length: 6\r\n\r\nhello!",
                "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n"
                            b"Content-Length: 0\r\n\r\n",
                "not-http": b"SSH-2.0-OpenSSH_9.2\r\n",
                "chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                              b"chunked\r\n\r\nzz\r\n",
            }[q["kind"]])
        else:
            self.send(404, b"no\n")

    def do_HEAD(self):
        if self.dropped():
            return
        self.send_response(200)
        self.send_header("Content-Length", "1234")
        self.end_headers()

    def do_POST(self):
        if self.dropped():
            return
        body, how = self.read_body()
        self.send(200, b"%s %d %s\n" % (how.encode(), len(body),
                                        hashlib.sha256(body).hexdigest()
                                        .encode()))


# ---- the tests ----------------------------------------------------------------

class ClientTest(unittest.TestCase):
    def setUp(self):
        self.up = Upstream()

    def tearDown(self):
        self.up.stop()

    def get(self, path, opts="", **kw):
        return fetch("/fetch?%surl=%s" % (opts, self.up.url(path)), **kw)

    def test_keepalive_reuse(self):
        reused = []
        for _ in range(10):
            st, h, body = self.get("/hello")
            self.assertEqual((st, body), (200, b"hello from python\n"))
            self.assertEqual(h["content-type"], "text/plain")
            reused.append(h["x-upstream-reused"])
        self.assertEqual(reused, ["0"] + ["1"] * 9)
        self.assertEqual(self.up.accepted, 1)

    def test_idle_bound_per_host(self):
        """4 calls at once need 4 connections; 2 stay idle (Go's
        MaxIdleConnsPerHost), the other 2 are closed; the next 4 at once
        reuse the 2 and dial 2."""
        def batch():
            self.up.barrier = threading.Barrier(4)
            out = []
            ts = [threading.Thread(target=lambda: out.append(
                self.get("/barrier"))) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual([r[0] for r in out], [200] * 4)
            return sorted(r[1]["x-upstream-reused"] for r in out)

        self.assertEqual(batch(), ["0"] * 4)
        self.assertEqual(self.up.accepted, 4)
        self.up.wait_for(lambda: self.up.closed == 2, "2 closed")
        self.assertEqual(batch(), ["0", "0", "1", "1"])
        self.assertEqual(self.up.accepted, 6)

    def test_chunked_body(self):
        st, h, body = self.get("/chunked?n=200")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"".join(b"chunk %d\n" % i for i in range(200)))
        self.assertEqual(h["x-upstream-length"], "-1")
        st, h, _ = self.get("/chunked?n=1")
        self.assertEqual(h["x-upstream-reused"], "1")

    def test_big_bodies(self):
        for mode, length in (("length", str(MIB)), ("chunked", "-1")):
            st, h, body = self.get("/big?mode=" + mode)
            self.assertEqual(st, 200)
            self.assertEqual(h["x-upstream-length"], length)
            self.assertEqual(len(body), MIB, mode)
            self.assertEqual(hashlib.sha256(body).digest(),
                             hashlib.sha256(big_body()).digest(), mode)
        self.assertEqual(self.up.accepted, 1)

    def test_post_streamed_and_buffered(self):
        data = big_body()
        want = hashlib.sha256(data).hexdigest().encode()
        st, _, body = self.get("/echo", method="POST", body=data)
        self.assertEqual((st, body), (200, b"chunked %d %s\n" % (MIB, want)))
        st, _, body = self.get("/echo", opts="body=buffer&", method="POST",
                               body=data)
        self.assertEqual((st, body), (200, b"length %d %s\n" % (MIB, want)))
        st, _, body = self.get("/echo", opts="body=buffer&", method="POST",
                               body=b"")
        self.assertEqual(body, b"length 0 %s\n" %
                         hashlib.sha256(b"").hexdigest().encode())

    def test_until_close(self):
        for _ in range(2):
            st, h, body = self.get("/close")
            self.assertEqual((st, body), (200, b"until close\n" * 1000))
            self.assertEqual(h["x-upstream-reused"], "0")
        self.assertEqual(self.up.accepted, 2)

    def test_no_body_responses(self):
        st, h, body = self.get("/hello", opts="method=HEAD&")
        self.assertEqual((st, body, h["x-upstream-length"]), (200, b"", "0"))
        st, h, body = self.get("/nocontent")
        self.assertEqual((st, body), (204, b""))
        self.assertEqual(h["x-upstream-reused"], "1")
        st, h, body = self.get("/hello")
        self.assertEqual((st, h["x-upstream-reused"]), (200, "1"))
        self.assertEqual(self.up.accepted, 1)

    def test_stale_idle_connection_skipped(self):
        self.assertEqual(self.get("/hello-then-close")[0], 200)
        self.up.wait_for(lambda: self.up.closed == 1, "the close")
        st, h, _ = self.get("/hello")
        self.assertEqual((st, h["x-upstream-reused"]), (200, "0"))
        self.assertEqual((self.up.accepted, self.up.drops), (2, 0))

    def test_stale_idle_connection_skipped_post(self):
        # A GET finds a dead idle connection by using it (and is sent again,
        # above); a POST cannot be sent twice, so it looks first.
        self.assertEqual(self.get("/hello-then-close")[0], 200)
        self.up.wait_for(lambda: self.up.closed == 1, "the close")
        st, h, body = self.get("/echo", opts="body=buffer&", method="POST",
                               body=b"x")
        self.assertEqual(st, 200, body)
        self.assertEqual(h["x-upstream-reused"], "0")
        self.assertEqual((self.up.accepted, self.up.drops), (2, 0))

    def arm_drop(self):
        self.assertEqual(self.get("/hello")[0], 200)  # a connection idles
        self.up.drop = True

    def test_retry_idempotent_once(self):
        self.arm_drop()
        st, h, body = self.get("/hello")
        self.assertEqual((st, body), (200, b"hello from python\n"))
        self.assertEqual(h["x-upstream-reused"], "0")  # the new connection
        self.assertEqual((self.up.drops, self.up.accepted), (1, 2))

    def test_no_retry_post(self):
        self.arm_drop()
        st, _, body = self.get("/echo", opts="body=buffer&", method="POST",
                               body=b"x")
        self.assertEqual(st, 502, body)
        self.assertIn(b"closed the connection", body)
        self.assertEqual(self.up.drops, 1)
        # With an Idempotency-Key it is safe to send twice.
        self.arm_drop()
        st, _, body = self.get("/echo", opts="body=buffer&idem=1&",
                               method="POST", body=b"x")
        self.assertEqual(st, 200, body)
        self.assertEqual(self.up.drops, 2)

    def test_malformed_responses(self):
        for kind, word in (("cl-conflict", b"malformed"),
                           ("obs-fold", b"malformed"),
                           ("not-http", b"malformed")):
            st, _, body = self.get("/bad?kind=" + kind)
            self.assertEqual(st, 502, kind)
            self.assertIn(word, body, kind)

    def body_failed(self, path, opts, error):
        """The body failed after the head: the fixture aborts, and gortd,
        having sent nothing yet (the body is buffered), answers 500; its
        log names the client's error."""
        before = gortd_log().count(error)
        st, _, body = self.get(path, opts=opts)
        self.assertEqual(st, 500, body)
        self.assertEqual(gortd_log().count(error), before + 1)

    def test_bad_chunked_body(self):
        self.body_failed("/bad?kind=chunk-size", "",
                         "upstream body failed: Bad message")

    def test_deadline_504(self):
        st, _, body = self.get("/slow?ms=3000", opts="timeout_ms=200&")
        self.assertEqual(st, 504, body)
        self.assertIn(b"timeout", body)

    def test_response_header_timeout_504(self):
        st, _, body = self.get("/slow?ms=3000", opts="client=tight&")
        self.assertEqual(st, 504, body)
        st, _, body = self.get("/slow?ms=0", opts="client=tight&")
        self.assertEqual(st, 200, body)

    def test_deadline_during_body(self):
        self.body_failed("/slowbody", "timeout_ms=500&",
                         "upstream body failed: deadline exceeded")

    def test_idle_timeout(self):
        """An idle connection older than idle_timeout (300 ms for the tight
        client) is closed, not reused."""
        st, h, _ = self.get("/hello", opts="client=tight&")
        self.assertEqual((st, h["x-upstream-reused"]), (200, "0"))
        time.sleep(0.6)
        st, h, _ = self.get("/hello", opts="client=tight&")
        self.assertEqual((st, h["x-upstream-reused"]), (200, "0"))
        self.up.wait_for(lambda: self.up.closed >= 1, "the expired close")
        self.assertEqual(self.up.accepted, 2)

    def test_localhost_resolved(self):
        st, _, body = fetch("/fetch?url=" + self.up.url("/hello", "localhost"))
        self.assertEqual((st, body), (200, b"hello from python\n"))


class ErrorsTest(unittest.TestCase):
    def test_refused_502(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        st, _, body = fetch("/fetch?url=http://127.0.0.1:%d/" % port)
        self.assertEqual(st, 502)
        self.assertIn(b"connection refused", body.lower())

    def test_unknown_host_502(self):
        st, _, body = fetch("/fetch?url=http://nosuch.invalid/")
        self.assertEqual(st, 502)
        self.assertIn(b"lookup nosuch.invalid", body)

    def test_bad_urls_502(self):
        for url, word in (("gopher://127.0.0.1/", b"scheme"),
                          ("ftp://x/", b"scheme"),
                          ("http://u@h/", b"userinfo")):
            st, _, body = fetch("/fetch?url=" + url)
            self.assertEqual(st, 502, url)
            self.assertIn(word, body, url)


class GoUpstreamTest(unittest.TestCase):
    """The seed's Go program: net/http on the other side."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("go") is None:
            raise unittest.SkipTest("no go toolchain")
        cls.tmp = tempfile.mkdtemp(prefix="gort-hello-")
        exe = os.path.join(cls.tmp, "hello")
        env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off",
                   GOFLAGS="-mod=mod", GOCACHE=os.path.join(cls.tmp, "cache"))
        subprocess.run(["go", "build", "-o", exe, "./hello"], check=True,
                       cwd=os.path.join(SOURCE_DIR, "bench", "go"), env=env)
        cls.proc = subprocess.Popen([exe, "127.0.0.1:0"],
                                    stderr=subprocess.PIPE, text=True)
        line = cls.proc.stderr.readline()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            cls.proc.kill()
            raise RuntimeError("hello did not start: %r" % line)
        cls.addr = m.group(1)

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_go_hello(self):
        reused = []
        for path, want in (("/", b"hello world\n"),
                           ("/about", b"About page\n")) * 3:
            st, h, body = fetch("/fetch?url=http://%s%s" % (self.addr, path))
            self.assertEqual((st, body), (200, want))
            if path == "/":
                self.assertEqual(h["content-type"], "application/json")
            reused.append(h["x-upstream-reused"])
        self.assertEqual(reused, ["0"] + ["1"] * 5)


def main():
    global GORTD, FETCH_DIR, SOURCE_DIR
    GORTD, FETCH_DIR, SOURCE_DIR = sys.argv[1:4]
    G["d"] = Gortd(GORTD, plugins_dir=FETCH_DIR, name="client")
    G["port"] = G["d"].port
    prog = unittest.main(argv=sys.argv[:1], exit=False, verbosity=2)
    err = None
    try:
        G["d"].stop()  # exit 0, no sanitizer report
    except GortdError as e:
        err = str(e)
        print(err, file=sys.stderr)
    sys.exit(0 if prog.result.wasSuccessful() and not err else 1)


if __name__ == "__main__":
    main()
