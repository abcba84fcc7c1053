"""Request contexts in the real gortd (the reqctx fixture,
tests/plugin/fixtures/reqctx.c): a handler waiting on its request's done
channel is cancelled when the client closes the connection (with and
without a body read first), not while the client stays; the handler's
return cancels a context a goroutine still holds; an upstream call made
with the request's context is abandoned when the client leaves, and the
upstream sees its connection closed. At gortd's shutdown bound, a handler
still waiting is cancelled, answers, and gortd exits; with no bound
(--shutdown-timeout 0) the drain waits for the handler's own answer.

usage: test_reqctx.py GORTD FIXTURES_DIR
"""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rawhttp  # noqa: E402
from gortd import wait_for  # noqa: E402

GORTD, FIXTURES = sys.argv[1:3]
del sys.argv[1:3]

ECANCELED = 125


class ReqCtx(rawhttp.FixtureTest):
    GORTD, FIXTURES, FIXTURE = GORTD, FIXTURES, "reqctx"

    def stats(self):
        with rawhttp.connect(self.d.port) as s:
            r = rawhttp.get(s, b"/stats")
        self.assertEqual(r.status, 200)
        return {k: int(v) for k, v in
                (f.split("=") for f in r.body.decode().split())}

    def wait_stat(self, name, value):
        wait_for("%s == %d" % (name, value),
                 lambda: self.stats()[name] == value, timeout=30)

    def test_client_close_cancels(self):
        before = self.stats()
        s = self.conn()
        s.sendall(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        self.wait_stat("started", before["started"] + 1)
        # The client stays: the handler keeps waiting.
        time.sleep(0.3)
        self.assertEqual(self.stats()["cancelled"], before["cancelled"])
        s.close()
        self.wait_stat("cancelled", before["cancelled"] + 1)
        self.assertEqual(self.stats()["last_err"], -ECANCELED)
        self.assertEqual(self.stats()["timedout"], before["timedout"])

    def test_client_close_after_body(self):
        before = self.stats()
        s = self.conn()
        s.sendall(b"POST /wait HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Length: 5\r\n\r\nhello")
        self.wait_stat("started", before["started"] + 1)
        s.shutdown(socket.SHUT_WR)  # a half close is a close (net/http)
        self.wait_stat("cancelled", before["cancelled"] + 1)
        s.close()

    def test_reset_cancels(self):
        before = self.stats()
        s = self.conn()
        s.sendall(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        self.wait_stat("started", before["started"] + 1)
        # SO_LINGER 0: close sends a reset, not a FIN.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        self.wait_stat("cancelled", before["cancelled"] + 1)

    def test_handler_return_cancels(self):
        before = self.stats()
        s = self.conn()
        self.assertEqual(rawhttp.get(s, b"/quick").status, 200)
        self.wait_stat("after", before["after"] + 1)
        # The connection is still good for the next request.
        self.assertEqual(rawhttp.get(s, b"/quick").status, 200)
        self.wait_stat("after", before["after"] + 2)

    def test_upstream_call_abandoned(self):
        before = self.stats()
        up = socket.socket()
        self.addCleanup(up.close)
        up.bind(("127.0.0.1", 0))
        up.listen(4)
        up.settimeout(30)
        s = self.conn()
        s.sendall(b"GET /upstream?port=%d HTTP/1.1\r\nHost: t\r\n\r\n"
                  % up.getsockname()[1])
        u, _ = up.accept()
        self.addCleanup(u.close)
        u.settimeout(30)
        req = b""
        while b"\r\n\r\n" not in req:
            b = u.recv(4096)
            self.assertTrue(b, "upstream closed before the request")
            req += b
        self.assertTrue(req.startswith(b"GET / HTTP/1.1\r\n"))
        s.close()  # the client leaves: the upstream call must end
        self.assertEqual(u.recv(1), b"", "the upstream saw no close")
        self.wait_stat("upstream", before["upstream"] + 1)
        self.assertEqual(self.stats()["last_err"], -ECANCELED)


class ShutdownBound(rawhttp.FixtureTest):
    """A gortd of its own with a 1 s drain bound: a SIGTERM while a handler
    waits on its request's context (60 s otherwise) cancels that context at
    the bound, the handler's answer still reaches the client, and gortd
    exits having said that the shutdown timed out."""

    GORTD, FIXTURES, FIXTURE = GORTD, FIXTURES, "reqctx"
    ARGS = ("--shutdown-timeout", "1s")

    def test_drain_bound_cancels(self):
        s = self.conn()
        s.sendall(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        with rawhttp.connect(self.d.port) as c:
            wait_for("the handler waiting",
                     lambda: b"started=1 " in rawhttp.get(c, b"/stats").body)
        self.d.send_signal(signal.SIGTERM)
        s.settimeout(30)  # the handler's own bound is 60 s
        r = rawhttp.read_response(s)
        self.assertEqual((r.status, r.body), (200, b"cancelled\n"))
        self.d.wait_exit()
        self.assertIn("shutdown timed out", self.d.log)
        # gortd waited for the cancelled handler and its connection, and
        # then finished the plugin as after a clean drain (ASan's leak
        # check sees the rest).
        self.assertRegex(self.d.log, r'shutdown timed out" reason="requests '
                         r'cancelled" timeout=1s connections=0 handlers=0')


class ShutdownUnbounded(rawhttp.FixtureTest):
    """--shutdown-timeout 0 is no bound, as 0 is for every gortd timeout
    (and as Go's Shutdown under a context without a deadline): a SIGTERM
    while a handler waits 5 s on its own timer leaves its context alone,
    the handler answers when its timer fires, and gortd exits 0 without
    saying that the shutdown timed out."""

    GORTD, FIXTURES, FIXTURE = GORTD, FIXTURES, "reqctx"
    ARGS = ("--shutdown-timeout", "0")

    def test_drain_waits_for_the_handler(self):
        s = self.conn()
        s.sendall(b"GET /wait?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n")
        with rawhttp.connect(self.d.port) as c:
            wait_for("the handler waiting",
                     lambda: b"started=1 " in rawhttp.get(c, b"/stats").body)
        t0 = time.monotonic()
        self.d.send_signal(signal.SIGTERM)
        s.settimeout(30)
        r = rawhttp.read_response(s)
        self.assertEqual((r.status, r.body), (200, b"timed out\n"))
        self.assertEqual(self.d.wait_exit(), 0)
        self.assertGreater(time.monotonic() - t0, 1.0)
        self.assertNotIn("shutdown timed out", self.d.log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
