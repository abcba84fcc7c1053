"""Response framing is the server's, whatever a handler does (the framing
fixture, tests/plugin/fixtures/framing.c, in the real gortd): a body past a
declared Content-Length is refused, a short one closes the connection, a
204's body never goes out, header names and values that would inject fields
are refused, and "Transfer-Encoding: chunked" from a handler gets a chunked
body the server frames. Each case is followed by a request on the same
connection where it stays open: the connection must still be in sync.

usage: test_framing.py GORTD FIXTURES_DIR
"""
import errno
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rawhttp  # noqa: E402
from rawhttp import closed  # noqa: E402

GORTD, FIXTURES = sys.argv[1:3]
del sys.argv[1:3]


def parts(r):
    """(status, {field: value}, body, raw head) of a rawhttp.Response."""
    return r.status, r.headers, r.body, r.head


class Framing(rawhttp.FixtureTest):
    GORTD, FIXTURES, FIXTURE = GORTD, FIXTURES, "framing"

    def ask(self, s, path):
        return parts(rawhttp.get(s, path))

    def still_in_sync(self, s):
        st, h, body, _ = self.ask(s, b"/bad-fields")
        self.assertEqual((st, body), (200, b"fields\n"))

    def test_write_past_content_length_is_refused(self):
        s = self.conn()
        st, h, body, _ = self.ask(s, b"/cl-long")
        self.assertEqual((st, h["content-length"], body), (200, "5", b"hello"))
        self.assertEqual(h["x-rc"], "5 %d" % -errno.EMSGSIZE)
        self.still_in_sync(s)

    def test_short_body_closes_the_connection(self):
        s = self.conn()
        # 5 of 10 bytes, then the close
        st, h, body, _ = self.ask(s, b"/cl-short")
        self.assertEqual((st, h["content-length"], body), (200, "10",
                                                          b"short"))
        self.assertTrue(closed(s))
        self.assertIn("handler wrote less than its Content-Length",
                      self.d.log)

    def test_no_body_after_204(self):
        s = self.conn()
        st, h, rest, head = self.ask(s, b"/no-content")
        self.assertEqual(st, 204)
        self.assertEqual(h["x-rc"], "%d 0" % -errno.EINVAL)
        self.assertEqual(rest, b"")  # nothing after the head
        self.assertNotIn("content-length", h)
        self.assertNotIn("transfer-encoding", h)
        self.still_in_sync(s)

    def test_injecting_fields_refused(self):
        s = self.conn()
        st, h, body, head = self.ask(s, b"/bad-fields")
        e = -errno.EINVAL
        self.assertEqual(h["x-rc"], "%d %d %d %d %d 0" % (e, e, e, e, e))
        self.assertEqual(h["x-ok"].encode("latin-1"), b"tab\tand obs-text \xe9")
        for bad in (b"X-A", b"X B", b"X-C:", b"gzip"):
            self.assertNotIn(bad, head)
        self.assertEqual(body, b"fields\n")

    def test_handler_chunked_is_framed_by_the_server(self):
        s = self.conn()
        st, h, body, _ = self.ask(s, b"/te-chunked")
        self.assertEqual(st, 200)
        self.assertEqual(h["transfer-encoding"], "chunked")
        self.assertNotIn("content-length", h)
        self.assertEqual(body, b"13\r\nchunked by request\n\r\n0\r\n\r\n")
        self.still_in_sync(s)

    def test_content_length_is_digits_only(self):
        # net/http's strconv.ParseInt refuses a space and an overflow too
        # (it takes "+7", which a handler here is told is invalid).
        s = self.conn()
        st, h, body, head = self.ask(s, b"/cl-values")
        e = -errno.EINVAL
        # 7 refused (20 digits and INT64_MAX + 1 among them), INT64_MAX
        # taken, then "7"
        self.assertEqual(h["x-rc"], " ".join([str(e)] * 7 + ["0", "0"]))
        self.assertEqual(self.fields(head, b"content-length"), ["7"])
        self.assertEqual(body, b"seven!\n")
        self.still_in_sync(s)

    def fields(self, head, name):
        """The values of every field called name (any case) in a raw head."""
        out = []
        for line in head.split(b"\r\n")[1:]:
            n, _, v = line.partition(b":")
            if n.strip().lower() == name:
                out.append(v.strip().decode("latin-1"))
        return out

    def test_handler_fields_in_any_case_are_not_doubled(self):
        s = self.conn()
        st, h, body, head = self.ask(s, b"/field-case")
        self.assertEqual((st, body), (200, b"body"))
        self.assertEqual(self.fields(head, b"date"),
                         ["Mon, 01 Jan 2001 00:00:00 GMT"])
        self.assertEqual(self.fields(head, b"content-type"), ["text/x-case"])
        self.assertEqual(self.fields(head, b"content-length"), ["4"])
        self.assertEqual(self.fields(head, b"xate"), ["1"])
        self.still_in_sync(s)

    def test_names_near_the_servers_fields_are_not_them(self):
        s = self.conn()
        st, h, body, head = self.ask(s, b"/field-near")
        self.assertEqual((st, body), (200, b"body"))
        self.assertEqual(len(self.fields(head, b"date")), 1)
        self.assertEqual(self.fields(head, b"content-type"),
                         ["text/plain; charset=utf-8"])
        self.assertEqual(self.fields(head, b"content-length"), ["4"])
        self.assertEqual(self.fields(head, b"xate"), ["1"])
        self.assertEqual(self.fields(head, b"content-typf"), ["2"])
        self.assertEqual(self.fields(head, b"content-lengtx"), ["3"])
        self.still_in_sync(s)

    def test_deleted_fields_are_the_servers_again(self):
        s = self.conn()
        st, h, body, head = self.ask(s, b"/field-del")
        self.assertEqual((st, body), (200, b"body"))
        dates = self.fields(head, b"date")
        self.assertEqual(len(dates), 1)
        self.assertNotIn("2001", dates[0])
        self.assertEqual(self.fields(head, b"content-type"),
                         ["text/plain; charset=utf-8"])
        self.assertEqual(self.fields(head, b"content-length"), ["4"])
        self.still_in_sync(s)

    def raw(self, data, wait=2):
        """Everything the server sends for data until it closes (or wait
        seconds pass): (bytes, how it ended: "fin", "reset" or "open")."""
        s = self.conn()
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    return out, "fin"
                out += b
        except socket.timeout:
            return out, "open"
        except ConnectionResetError:
            return out, "reset"

    def test_handler_connection_close_closes(self):
        # the pipelined second request must not be answered (RFC 9112 9.6)
        out, end = self.raw(b"GET /conn-close HTTP/1.1\r\nHost: t\r\n\r\n"
                            b"GET /bad-fields HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(end, "fin")
        self.assertEqual(out.count(b"HTTP/1.1 "), 1)
        self.assertEqual(out.lower().count(b"connection:"), 1)
        self.assertTrue(out.endswith(b"\r\n\r\ncc\n"))
        # HTTP/1.0 keep-alive: the handler's "close" alone, then the close
        out, end = self.raw(b"GET /conn-close HTTP/1.0\r\n"
                            b"Connection: keep-alive\r\n\r\n")
        self.assertEqual(end, "fin")
        self.assertIn(b"\r\nConnection: close\r\n", out)
        self.assertNotIn(b"keep-alive", out.lower())

    def test_interim_1xx_then_the_final_response(self):
        req = b"GET /interim HTTP/1.1\r\nHost: t\r\n\r\n"
        out, end = self.raw(req + req.replace(b"HTTP/1.1", b"HTTP/1.0"))
        self.assertEqual(end, "fin")
        interim = (b"HTTP/1.1 103 Early Hints\r\n"
                   b"Link: </s.css>; rel=preload\r\n\r\n")
        self.assertTrue(out.startswith(interim), out)
        rest = out[len(interim):]
        # the final 200 keeps the fields set before the 103 and after it
        final, second = rest.split(b"\r\n\r\nx\n", 1)
        self.assertTrue(final.startswith(b"HTTP/1.1 200 OK\r\n"), final)
        self.assertIn(b"\r\nLink: </s.css>; rel=preload\r\n", final)
        self.assertIn(b"\r\nX-After: 1\r\n", final)
        self.assertIn(b"\r\nContent-Length: 2", final)
        # an HTTP/1.0 client gets no 1xx (RFC 9110 15.2), only the 200
        self.assertTrue(second.startswith(b"HTTP/1.0 200 OK\r\n"), second)
        self.assertNotIn(b" 103 ", second)
        self.assertTrue(second.endswith(b"\r\n\r\nx\n"))

    def test_head_with_nothing_written_has_no_length(self):
        s = self.conn()
        s.sendall(b"HEAD /head-skip HTTP/1.1\r\nHost: t\r\n\r\n")
        r = rawhttp.read_response(s, head_only=True)
        self.assertEqual(r.status, 200)
        self.assertNotIn("content-length", r.headers)
        self.assertNotIn("transfer-encoding", r.headers)
        # a GET's length is its body's, and the connection is in sync
        st, h, body, _ = self.ask(s, b"/head-skip")
        self.assertEqual((st, h["content-length"], body), (200, "6",
                                                          b"hello\n"))

    def test_large_heads_go_out_whole(self):
        # 200 fields of 100 bytes: past the response's inline 32 fields and
        # 2 KiB (nginx's proxy takes 4-8 KiB of head, Go any)
        s = self.conn()
        st, h, body, head = self.ask(s, b"/many-fields?n=200")
        self.assertEqual((st, body), (200, b"200 0\n"))
        for i in (0, 31, 32, 199):
            self.assertEqual(self.fields(head, b"x-m%d" % i), ["v" * 100])
        self.still_in_sync(s)
        # the bound: 64 KiB of names and values
        st, h, body, head = self.ask(s, b"/many-fields?n=700")
        took, rc = body.split()
        self.assertLess(int(took), 700)
        self.assertGreater(int(took), 500)
        self.assertEqual(int(rc), -errno.ENOSPC)
        self.assertEqual(len([f for f in head.split(b"\r\n")
                              if f.lower().startswith(b"x-m")]), int(took))
        self.still_in_sync(s)

    def test_unread_body_closes_gracefully(self):
        # a 4 MB body the handler never reads: the server answers, sends
        # its FIN and drops what still comes, so the client can send it
        # all and then read the answer and a clean end, not a reset
        s = self.conn()
        s.settimeout(10)
        s.sendall(b"POST /no-read HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Length: 4000000\r\n\r\n")
        s.sendall(b"z" * 4000000)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except ConnectionResetError:
            self.fail("reset after %r" % out)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out)
        self.assertIn(b"\r\nConnection: close\r\n", out)
        self.assertTrue(out.endswith(b"noread\n"))


class WriteTimeout(rawhttp.FixtureTest):
    """--write-timeout bounds each write (nginx's send_timeout), not the
    handler's thinking: Go's WriteTimeout, from the request on, dropped an
    answer that took longer to make, unsent."""
    GORTD, FIXTURES, FIXTURE = GORTD, FIXTURES, "framing"
    ARGS = ("--write-timeout", "1s")

    def test_long_thinking_is_answered(self):
        s = self.conn()
        r = rawhttp.get(s, b"/think?ms=1500")
        self.assertEqual((r.status, r.body), (200, b"thought\n"))
        r = rawhttp.get(s, b"/think?ms=0")  # and the connection lives on
        self.assertEqual((r.status, r.body), (200, b"thought\n"))


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("%d passed, %d failed" % (r.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
