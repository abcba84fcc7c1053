#!/usr/bin/env python3
"""The kv plugin (plugins/kv/kv.c) in the real gortd, over loopback:
create/replace/get/delete, 404 and 405, chunked and binary values, the
1 MiB value limit (413), 50 concurrent clients, and a clean exit (fini frees
the map: no leak report under ASan). A second gortd serves copies of kv.so
with configurations (NAME.conf next to NAME.so): max_keys=3 (507 past it),
and bad strings, each refused naming the word.

usage: test_kv.py GORTD PLUGINS_DIR  (ctest passes the built gortd and the
       directory of the bundled plugins, kv.so among them)
"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, GortdError  # noqa: E402

GORTD = PLUGINS_DIR = PORT = None
LIMIT = 1 << 20  # KV_MAX_VALUE in kv.c


def start_gortd(plugins_dir):
    """gortd on a port the kernel picks (tests/lib/gortd.py)."""
    return Gortd(GORTD, plugins_dir=plugins_dir, name="kv")


def stop_gortd(d):
    """SIGTERM; None when gortd exited 0 without a sanitizer report (a leak
    in fini is one), else what went wrong and its log."""
    try:
        d.stop()
    except GortdError as e:
        return str(e)
    return None


class Conn:
    """A keep-alive client connection that parses one response at a time."""

    def __init__(self, timeout=20, port=None):
        self.sock = socket.create_connection(("127.0.0.1", port or PORT),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; have %r" % self.buf[:200])
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def response(self, head_only=False):
        """(status, headers with lowercased names, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            h[k.strip().lower()] = v.strip()
        if head_only or status in (204, 304):
            return status, h, b""
        if "content-length" in h:
            return status, h, self._take(int(h["content-length"]))
        body = b""
        while True:  # chunked: the only other framing gortd uses here
            size = int(self._line().split(b";")[0], 16)
            body += self._take(size)
            self._take(2)
            if size == 0:
                return status, h, body

    def send(self, method, path, body=None, headers=()):
        head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        self.sock.sendall(head.encode() + b"\r\n" + (body or b""))

    def do(self, method, path, body=None, headers=()):
        self.send(method, path, body, headers)
        return self.response(head_only=method == "HEAD")


def do(method, path, body=None, headers=()):
    with Conn() as c:
        return c.do(method, path, body, headers)


def chunked(pieces):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + \
        b"0\r\n\r\n"


class Basics(unittest.TestCase):
    def test_create_replace_get_delete(self):
        with Conn() as c:
            self.assertEqual(c.do("GET", "/kv/basic")[::2],
                             (404, b"no such key\n"))
            self.assertEqual(c.do("PUT", "/kv/basic", b"one")[0], 201)
            st, h, body = c.do("GET", "/kv/basic")
            self.assertEqual((st, body), (200, b"one"))
            self.assertEqual(h["content-type"], "application/octet-stream")
            self.assertEqual(h["content-length"], "3")
            self.assertEqual(c.do("PUT", "/kv/basic", b"two!")[0], 204)
            self.assertEqual(c.do("GET", "/kv/basic")[::2], (200, b"two!"))
            self.assertEqual(c.do("DELETE", "/kv/basic")[0], 204)
            self.assertEqual(c.do("GET", "/kv/basic")[::2],
                             (404, b"no such key\n"))
            self.assertEqual(c.do("DELETE", "/kv/basic")[::2],
                             (404, b"no such key\n"))
            # created again after the delete, not replaced
            self.assertEqual(c.do("PUT", "/kv/basic", b"3")[0], 201)
            self.assertEqual(c.do("DELETE", "/kv/basic")[0], 204)

    def test_keys_are_distinct(self):
        with Conn() as c:
            for k in ("a", "b", "ab", "ba", "A"):
                self.assertEqual(c.do("PUT", "/kv/d-" + k, k.encode())[0], 201)
            for k in ("a", "b", "ab", "ba", "A"):
                self.assertEqual(c.do("GET", "/kv/d-" + k)[::2],
                                 (200, k.encode()))
                self.assertEqual(c.do("DELETE", "/kv/d-" + k)[0], 204)

    def test_empty_value(self):
        self.assertEqual(do("PUT", "/kv/empty", b"")[0], 201)
        st, h, body = do("GET", "/kv/empty")
        self.assertEqual((st, h["content-length"], body), (200, "0", b""))
        self.assertEqual(do("DELETE", "/kv/empty")[0], 204)

    def test_head(self):
        self.assertEqual(do("PUT", "/kv/head", b"12345")[0], 201)
        st, h, _ = do("HEAD", "/kv/head")
        self.assertEqual((st, h["content-length"]), (200, "5"))
        self.assertEqual(do("DELETE", "/kv/head")[0], 204)

    def test_post_is_405_with_allow(self):
        st, h, _ = do("POST", "/kv/x", b"v")
        self.assertEqual(st, 405)
        allow = [m.strip() for m in h["allow"].split(",")]
        for m in ("GET", "PUT", "DELETE"):
            self.assertIn(m, allow)
        self.assertNotIn("POST", allow)
        self.assertEqual(do("GET", "/kv/x")[0], 404)  # nothing was stored

    def test_keys_left_for_fini(self):
        # Never deleted: gortd's exit runs kv's fini, which must free these
        # entries and values (LeakSanitizer checks it in the ASan tree).
        with Conn() as c:
            for i in range(100):
                self.assertEqual(c.do("PUT", "/kv/left-%d" % i,
                                      b"v" * (i * 10))[0], 201)

    def test_no_key_is_not_a_route(self):
        self.assertEqual(do("PUT", "/kv/", b"v")[0], 404)
        self.assertEqual(do("GET", "/kv/a/b")[0], 404)


class Bodies(unittest.TestCase):
    def test_chunked_put(self):
        pieces = [b"hello, ", b"chunked ", b"x" * 5000, b" world"]
        with Conn() as c:
            c.sock.sendall(b"PUT /kv/chunky HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" +
                           chunked(pieces))
            self.assertEqual(c.response()[0], 201)
            self.assertEqual(c.do("GET", "/kv/chunky")[::2],
                             (200, b"".join(pieces)))
            self.assertEqual(c.do("DELETE", "/kv/chunky")[0], 204)

    def test_binary_value_round_trip(self):
        value = bytes(range(256)) * 64 + b"\0\0\r\n\r\n\0"
        with Conn() as c:
            self.assertEqual(c.do("PUT", "/kv/bin", value)[0], 201)
            st, _, body = c.do("GET", "/kv/bin")
            self.assertEqual(st, 200)
            self.assertEqual(body, value)
            self.assertEqual(c.do("DELETE", "/kv/bin")[0], 204)

    def test_limit_exactly(self):
        value = os.urandom(LIMIT)
        with Conn() as c:
            self.assertEqual(c.do("PUT", "/kv/big", value)[0], 201)
            self.assertEqual(c.do("GET", "/kv/big")[::2], (200, value))
            self.assertEqual(c.do("DELETE", "/kv/big")[0], 204)

    def test_content_length_over_limit_is_413(self):
        # Refused from the head: the body is never sent.
        st, _, body = do("PUT", "/kv/huge", None,
                         [("Content-Length", str(LIMIT + 1))])
        self.assertEqual((st, body), (413, b"value too large\n"))
        self.assertEqual(do("GET", "/kv/huge")[0], 404)

    def test_chunked_over_limit_is_413(self):
        pieces = [b"y" * 65536] * (LIMIT // 65536) + [b"!"]
        with Conn() as c:
            c.sock.sendall(b"PUT /kv/huge2 HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" +
                           chunked(pieces))
            st, _, body = c.response()
            self.assertEqual((st, body), (413, b"value too large\n"))
        self.assertEqual(do("GET", "/kv/huge2")[0], 404)

    def test_chunked_at_limit(self):
        pieces = [b"z" * 65536] * (LIMIT // 65536)
        with Conn() as c:
            c.sock.sendall(b"PUT /kv/edge HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" +
                           chunked(pieces))
            self.assertEqual(c.response()[0], 201)
            st, _, body = c.do("GET", "/kv/edge")
            self.assertEqual((st, len(body)), (200, LIMIT))
            self.assertEqual(c.do("DELETE", "/kv/edge")[0], 204)


class Concurrency(unittest.TestCase):
    CLIENTS = 50
    KEYS = 20

    def client(self, i, errors):
        try:
            with Conn() as c:
                keys = ["c%d-%d" % (i, k) for k in range(self.KEYS)]
                vals = {k: os.urandom(1 + (i * 37 + n * 101) % 3000)
                        for n, k in enumerate(keys)}
                for k in keys:
                    st = c.do("PUT", "/kv/" + k, vals[k])[0]
                    if st != 201:
                        errors.append("PUT %s: %d" % (k, st))
                for k in keys:
                    vals[k] = vals[k][::-1] + b"\0"
                    st = c.do("PUT", "/kv/" + k, vals[k])[0]
                    if st != 204:
                        errors.append("re-PUT %s: %d" % (k, st))
                for k in keys:
                    st, _, body = c.do("GET", "/kv/" + k)
                    if (st, body) != (200, vals[k]):
                        errors.append("GET %s: %d, %d bytes, want %d" %
                                      (k, st, len(body), len(vals[k])))
                for k in keys:
                    st = c.do("DELETE", "/kv/" + k)[0]
                    if st != 204:
                        errors.append("DELETE %s: %d" % (k, st))
                for k in keys:
                    st = c.do("GET", "/kv/" + k)[0]
                    if st != 404:
                        errors.append("GET %s after DELETE: %d" % (k, st))
        except Exception as e:  # noqa: BLE001 - recorded and asserted
            errors.append("client %d: %r" % (i, e))

    def test_50_clients_own_keys(self):
        errors = []
        threads = [threading.Thread(target=self.client, args=(i, errors))
                   for i in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "clients hung")
        self.assertEqual(errors, [])


class Config(unittest.TestCase):
    """Copies of kv.so, each NAME.so with NAME.conf, in a directory of their
    own: the bad ones sort first and are refused in init (so the name kv is
    free for kv.so, which loads with max_keys=3)."""
    BAD = {"bad1": "max_keys=0\n", "bad2": "max_keys=12abc",
           "bad3": "colour=blue\n", "bad4": "max_keys=5 max_keys=-1\n"}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="gort-kv-conf-")
        os.chmod(cls.dir, 0o755)
        for name, conf in list(cls.BAD.items()) + [("kv", " max_keys=3\n")]:
            so = os.path.join(cls.dir, name + ".so")
            shutil.copyfile(os.path.join(PLUGINS_DIR, "kv.so"), so)
            os.chmod(so, 0o644)
            with open(os.path.join(cls.dir, name + ".conf"), "w") as f:
                f.write(conf)
        cls.d = start_gortd(cls.dir)
        cls.port, cls.log = cls.d.port, cls.d.log_path

    @classmethod
    def tearDownClass(cls):
        cls.stopped = stop_gortd(cls.d)
        shutil.rmtree(cls.dir, ignore_errors=True)
        if cls.stopped:
            raise AssertionError(cls.stopped)

    def test_bad_configurations_refused(self):
        with open(self.log) as f:
            log = f.read()
        for name, conf in self.BAD.items():
            path = os.path.join(self.dir, name + ".so")
            lines = [line for line in log.splitlines()
                     if ('msg="plugin refused" file=%s ' % path) in line]
            self.assertEqual(len(lines), 1, log)
            words = conf.split()
            bad = [w for w in words if w != "max_keys=5"][0]
            at = conf.index(bad)
            self.assertIn("bad configuration word %d (bytes %d..%d of "
                          "kv.conf): want max_keys=N"
                          % (words.index(bad) + 1, at, at + len(bad)),
                          lines[0])
            # Never the configuration's text (issue 10, item 14).
            self.assertNotIn(bad, lines[0].split("err=", 1)[1])
        self.assertIn('msg="plugin loaded" plugin=kv version=1.0.0 file=' +
                      os.path.join(self.dir, "kv.so"), log)

    def test_max_keys(self):
        steps = [("PUT", "a", b"1", 201), ("PUT", "b", b"2", 201),
                 ("PUT", "c", b"3", 201), ("PUT", "d", b"4", 507),
                 ("PUT", "a", b"1b", 204),  # replacing needs no new key
                 ("DELETE", "b", None, 204), ("PUT", "d", b"4", 201),
                 ("GET", "d", None, 200), ("PUT", "e", b"5", 507),
                 ("GET", "a", None, 200), ("GET", "e", None, 404)]
        with Conn(port=self.port) as c:
            for method, key, value, want in steps:
                st, _, body = c.do(method, "/kv/" + key, value)
                self.assertEqual(st, want, "%s /kv/%s" % (method, key))
                if want == 507:
                    self.assertEqual(body, b"too many keys\n")
            self.assertEqual(c.do("GET", "/kv/a")[2], b"1b")
            self.assertEqual(c.do("GET", "/kv/d")[2], b"4")


def kv_only(plugins_dir):
    """A plugins directory holding kv.so alone: hello.so's "/" (the seed's
    catch-all, every method) would answer what kv leaves to the mux's 404
    and 405."""
    d = tempfile.mkdtemp(prefix="gort-kv-only-")
    shutil.copyfile(os.path.join(plugins_dir, "kv.so"),
                    os.path.join(d, "kv.so"))
    return d


def main():
    global GORTD, PLUGINS_DIR, PORT
    GORTD, PLUGINS_DIR = sys.argv[1], sys.argv[2]
    only = kv_only(PLUGINS_DIR)
    d = start_gortd(only)
    PORT = d.port
    try:
        prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    finally:
        stopped = stop_gortd(d)
        shutil.rmtree(only, ignore_errors=True)
    res = prog.result
    failed = len(res.failures) + len(res.errors)
    if stopped:
        print(stopped)
    print("%d passed, %d failed" % (res.testsRun - failed,
                                    failed + bool(stopped)))
    sys.exit(1 if failed or stopped else 0)


if __name__ == "__main__":
    main()
