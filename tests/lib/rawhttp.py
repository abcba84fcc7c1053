"""rawhttp.py — HTTP/1.1 over a raw socket, for the tests that write
requests byte by byte and must see exactly what came back (the status line,
every field, the body framing), which http.client would hide or normalise.

    read_response(s)  the next response on s, read by its framing
    connect(port)     a client socket to 127.0.0.1:port
    get(s, path)      sends a GET on s and reads its response
    closed(s)         whether the server closed s
    FixtureTest       a unittest.TestCase base holding one gortd that serves
                      one test plugin (tests/plugin/fixtures/NAME.c)
"""
import collections
import os
import shutil
import socket
import tempfile
import unittest

from gortd import Gortd


class Response(collections.namedtuple("Response", "line fields body")):
    """line: the status line; fields: [(name, value)...] in order; body:
    the bytes as framed (chunked kept encoded)."""

    @property
    def status(self):
        return int(self.line.split()[1])

    @property
    def headers(self):
        """Field names lowercased (the last value of a repeated one)."""
        return {k.lower(): v for k, v in self.fields}

    @property
    def head(self):
        """The head as sent, without its final CRLF CRLF."""
        return "\r\n".join([self.line] + ["%s: %s" % f
                                           for f in self.fields]).encode(
                                               "latin-1")


def read_response(s, head_only=False):
    """The next Response on socket s. The body is read by its framing:
    Content-Length, chunked, none after a 1xx/204/304 head or for HEAD
    (head_only), else until the server closes."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise AssertionError("connection closed before a full head: %r"
                                 % buf)
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(ln.split(": ", 1)) for ln in lines[1:]]
    hd = {k.lower(): v for k, v in fields}
    status = lines[0].split()[1]
    if head_only or status in ("204", "304") or status.startswith("1"):
        return Response(lines[0], fields, b"")
    if "content-length" in hd:
        want = int(hd["content-length"])
        while len(body) < want:
            b = s.recv(65536)
            if not b:
                break
            body += b
    elif hd.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            b = s.recv(65536)
            if not b:
                break
            body += b
    else:
        while True:
            b = s.recv(65536)
            if not b:
                break
            body += b
    return Response(lines[0], fields, body)


def connect(port, timeout=10):
    """A client socket to 127.0.0.1:port (timeout bounds every recv)."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def get(s, path, host=b"t"):
    """Sends GET path on s (keep-alive) and returns its Response."""
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    return read_response(s)


def closed(s, wait=2):
    """True when the server closed (or reset) s within wait seconds; False
    while it stays open. Reads at most one byte."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


class FixtureTest(unittest.TestCase):
    """One gortd for the whole class, serving the test plugin FIXTURE
    (tp_FIXTURE.so, copied alone into a plugins directory of its own).
    A subclass sets GORTD, FIXTURES (the built fixtures' directory) and
    FIXTURE; ARGS adds gortd flags."""

    GORTD = FIXTURES = FIXTURE = None
    ARGS = ()

    @classmethod
    def plugins_dir(cls):
        """A fresh directory holding only the fixture (the caller removes
        it)."""
        tmp = tempfile.mkdtemp(prefix="gort-%s-" % cls.FIXTURE)
        shutil.copy(os.path.join(cls.FIXTURES, "tp_%s.so" % cls.FIXTURE),
                    os.path.join(tmp, cls.FIXTURE + ".so"))
        return tmp

    @classmethod
    def setUpClass(cls):
        cls.tmp = cls.plugins_dir()
        cls.d = Gortd(cls.GORTD, args=cls.ARGS, plugins_dir=cls.tmp,
                      name=cls.FIXTURE)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def conn(self, port=None):
        """A socket to this class's gortd (or port), closed after the
        test."""
        s = connect(port or self.d.port)
        self.addCleanup(s.close)
        return s
