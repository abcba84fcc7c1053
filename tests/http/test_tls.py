"""HTTPS on gortd's front end (--listen-tls, --tls-cert, --tls-key) with
real clients, Python's ssl module and curl: TLS 1.2 and 1.3 each forced,
ALPN http/1.1, keep-alive over TLS, a 1 MiB chunked upload echoed back,
session resumption (ssl's session_reused) for both versions, the
certificate reloaded on SIGHUP while an open connection keeps working (and
a bad new pair leaving the old one in use), bad certificate paths and a
mismatched pair refused at start, Go's answer to plain HTTP on the TLS
port, a client stalled mid-handshake that neither blocks others nor
outlives the header timeout, and proxy.so in front of an https upstream
(resuming its sessions on new connections, TLS 1.2 and 1.3).

The certificates are made at test time with openssl(1) in a temporary
directory: a CA and two leaves it signed (for the reload).

usage: test_tls.py GORTD PLUGINS_DIR
"""
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, wait_for  # noqa: E402

GORTD, PLUGINS = sys.argv[1:3]
del sys.argv[1:3]

HTTPS_RE = re.compile(r'serving HTTPS" addr=\S*:(\d+)')
# net/http's answer to a plain request on a TLS port (checked against a Go
# ListenAndServeTLS program: bench/go/hellotls).
GO_PLAINTEXT = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                b"Client sent an HTTP request to an HTTPS server.\n")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """ca.pem; leaf1/leaf2 .pem/.key for localhost and 127.0.0.1."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=gort test CA",
            cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for leaf in ("leaf1", "leaf2"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                leaf + ".key", "-out", leaf + ".csr", "-subj", "/CN=localhost",
                cwd=d)
        openssl("x509", "-req", "-in", leaf + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", "san.ext", "-out", leaf + ".pem", cwd=d)


def serial_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in",
                          pem_path], check=True, capture_output=True,
                         text=True).stdout
    # openssl prints a leading 0 where the top bit is set; Python does not.
    return "%X" % int(out.strip().split("=", 1)[1], 16)


def https_port(d):
    wait_for("the HTTPS line", lambda: HTTPS_RE.search(d.log))
    return int(HTTPS_RE.search(d.log).group(1))


class ReuseUpstream:
    """An https upstream (Python's ssl, one TLS version) that answers each
    request with whether its handshake resumed a session, and closes."""

    def __init__(self, cert, key, version):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.minimum_version = self.ctx.maximum_version = version
        self.lis = socket.create_server(("127.0.0.1", 0))
        self.port = self.lis.getsockname()[1]
        self.versions = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                raw, _ = self.lis.accept()
            except OSError:
                return
            try:
                self.answer(raw)
            except (OSError, ssl.SSLError):
                pass
            finally:
                raw.close()

    def answer(self, raw):
        raw.settimeout(30)
        with self.ctx.wrap_socket(raw, server_side=True) as s:
            head = b""
            while b"\r\n\r\n" not in head:
                b = s.recv(4096)
                if not b:
                    return
                head += b
            self.versions.append(s.version())
            body = b"reused=%s" % str(s.session_reused).encode()
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))

    def close(self):
        self.lis.close()
        self.thread.join(10)


class TLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-tls-")
        make_pki(cls.tmp)
        cls.ca = os.path.join(cls.tmp, "ca.pem")
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        shutil.copy(os.path.join(cls.tmp, "leaf1.pem"), cls.cert)
        shutil.copy(os.path.join(cls.tmp, "leaf1.key"), cls.key)
        cls.plugins = os.path.join(cls.tmp, "plugins")
        os.mkdir(cls.plugins)
        for p in ("hello.so", "echo.so"):
            shutil.copy(os.path.join(PLUGINS, p), cls.plugins)
        cls.d = Gortd(GORTD, ["--listen-tls", "127.0.0.1:0", "--tls-cert",
                              cls.cert, "--tls-key", cls.key,
                              "--read-header-timeout", "2s"],
                      plugins_dir=cls.plugins, name="tls")
        cls.port = https_port(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----------------------------------------------------------

    def ctx(self, version=None):
        c = ssl.create_default_context(cafile=self.ca)
        c.set_alpn_protocols(["http/1.1"])
        if version:
            c.minimum_version = c.maximum_version = version
        return c

    def tls_socket(self, version=None, session=None, ctx=None):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        return (ctx or self.ctx(version)).wrap_socket(
            raw, server_hostname="localhost", session=session)

    def conn(self, version=None):
        return http.client.HTTPSConnection("localhost", self.port, timeout=30,
                                           context=self.ctx(version))

    def get(self, c, path="/"):
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()

    # ---- versions, ALPN, keep-alive --------------------------------------

    def test_versions_and_alpn(self):
        for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                        (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            with self.subTest(version=name):
                c = self.conn(v)
                self.assertEqual(self.get(c), (200, b"hello world\n"))
                self.assertEqual(c.sock.version(), name)
                self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")
                c.close()

    def test_alpn_without_http11_refused(self):
        # RFC 7301 3.2: no_application_protocol, as Go and nginx answer
        for offer in (["h2"], ["foo"]):
            with self.subTest(offer=offer):
                c = self.ctx()
                c.set_alpn_protocols(offer)
                with self.assertRaises(ssl.SSLError) as e:
                    self.tls_socket(ctx=c)
                self.assertIn("no application protocol", str(e.exception))
        c = self.ctx()
        c.set_alpn_protocols(["h2", "http/1.1"])
        s = self.tls_socket(ctx=c)
        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        s.close()

    def test_timeout_close_sends_close_notify(self):
        # the header timeout (2 s) ends a connection that sends nothing:
        # with close_notify, so the client sees a clean end, not a
        # truncation (OpenSSL 3 calls that "unexpected eof")
        c = self.ctx()
        c.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s = c.wrap_socket(raw, server_hostname="localhost",
                          suppress_ragged_eofs=False)
        self.assertEqual(s.recv(1), b"")
        s.close()

    def test_tls11_refused(self):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.load_verify_locations(self.ca)
        try:
            c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot offer TLS 1.1")
        with self.assertRaises((ssl.SSLError, OSError)):
            self.tls_socket(ctx=c)

    def test_curl_both_versions(self):
        for flags, want in ((["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"),
                            (["--tlsv1.3"], "TLSv1.3")):
            with self.subTest(version=want):
                url = "https://localhost:%d/" % self.port
                out = subprocess.run(
                    ["curl", "-sS", "-v", "--http1.1", "--cacert", self.ca] +
                    flags + [url, url, url], capture_output=True, text=True,
                    timeout=60)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(out.stdout, "hello world\n" * 3)
                self.assertIn("SSL connection using " + want, out.stderr)
                self.assertIn("ALPN: server accepted http/1.1", out.stderr)
                # keep-alive: one handshake, the connection reused
                self.assertEqual(out.stderr.count("Re-using existing"), 2,
                                 out.stderr)

    def test_keepalive_many(self):
        c = self.conn()
        self.get(c)
        sock = c.sock
        for i in range(20):
            self.assertEqual(self.get(c, "/x%d" % i), (200, b"hello world\n"))
        self.assertIs(c.sock, sock)  # one connection throughout
        c.close()

    def test_pipelined_records(self):
        # Three requests in three TLS records sent back to back: read-ahead
        # takes them from the socket together, and the two left inside
        # OpenSSL must be served without the socket turning readable again.
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=v.name):
                s = self.tls_socket(v)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                for i in range(3):
                    s.send(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                got = b""
                while got.count(b"hello world\n") < 3:
                    b = s.recv(4096)
                    self.assertTrue(b, got)
                    got += b
                self.assertEqual(got.count(b"HTTP/1.1 200 OK"), 3)
                s.close()

    def test_chunked_upload_1mib_echo(self):
        body = bytes((i * 7) & 0xFF for i in range(1 << 20))
        c = self.conn()

        def chunks():
            for i in range(0, len(body), 40000):
                yield body[i:i + 40000]
        c.request("POST", "/echo/raw/x", body=chunks(), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        got = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(got), len(body))
        self.assertEqual(got, body)
        # and the connection carries the next request
        self.assertEqual(self.get(c), (200, b"hello world\n"))
        c.close()

    def test_1mib_response_length(self):
        body = os.urandom(1 << 20)
        c = self.conn(ssl.TLSVersion.TLSv1_2)
        c.request("PUT", "/echo/raw/y", body=body)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read(), body)
        c.close()

    # ---- resumption --------------------------------------------------------

    def test_session_resumption(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=v.name):
                ctx = self.ctx(v)
                s = self.tls_socket(ctx=ctx)
                # TLS 1.3 tickets come after the handshake: a round trip
                # makes sure they have been read.
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"hello world", s.recv(4096))
                sess = s.session
                self.assertFalse(s.session_reused)
                s.close()
                s2 = self.tls_socket(ctx=ctx, session=sess)
                self.assertTrue(s2.session_reused)
                s2.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"hello world", s2.recv(4096))
                s2.close()

    # ---- plain HTTP to the TLS port ----------------------------------------

    def test_plaintext_gets_gos_answer(self):
        for req in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"POST /echo/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
                    b"\r\n\r\nhi", b"HEAD / HTTP/1.0\r\n\r\n"):
            with self.subTest(req=req[:5]):
                s = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=30)
                s.sendall(req)
                got = b""
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
                s.close()
                self.assertEqual(got, GO_PLAINTEXT)

    # ---- a stalled handshake -----------------------------------------------

    def test_stalled_handshake(self):
        stalled = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.sendall(b"\x16\x03\x01\x02\x00\x01")  # half a ClientHello
            stalled.append(s)
        quiet = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        start = time.monotonic()
        c = self.conn()
        self.assertEqual(self.get(c), (200, b"hello world\n"))
        c.close()
        # the header timeout (2 s here) closes them: EOF, not a hang
        for s in stalled + [quiet]:
            self.assertEqual(s.recv(100), b"")
            s.close()
        self.assertLess(time.monotonic() - start, 25)
        # each is logged, as Go's "TLS handshake error ... i/o timeout"
        self.assertGreaterEqual(
            self.d.log.count('msg="TLS handshake error" peer=127.0.0.1:'),
            4)
        self.assertIn('err="i/o timeout"', self.d.log)

    # ---- reload --------------------------------------------------------------

    def peer_serial(self, s):
        return "%X" % int(s.getpeercert()["serialNumber"], 16)

    def test_reload(self):
        s1 = serial_of(os.path.join(self.tmp, "leaf1.pem"))
        s2 = serial_of(os.path.join(self.tmp, "leaf2.pem"))
        old = self.conn()
        self.get(old)
        self.assertEqual(self.peer_serial(old.sock), s1)
        n = self.d.log.count("TLS certificate reloaded")
        shutil.copy(os.path.join(self.tmp, "leaf2.pem"), self.cert)
        shutil.copy(os.path.join(self.tmp, "leaf2.key"), self.key)
        self.d.send_signal(signal.SIGHUP)
        wait_for("the reload", lambda: self.d.log.count(
            "TLS certificate reloaded") > n)
        new = self.conn()
        self.assertEqual(self.get(new), (200, b"hello world\n"))
        self.assertEqual(self.peer_serial(new.sock), s2)
        # the connection made before keeps working, with its certificate
        self.assertEqual(self.get(old), (200, b"hello world\n"))
        self.assertEqual(self.peer_serial(old.sock), s1)
        new.close()
        # a bad new pair: logged, and the one in use stays
        n = self.d.log.count("TLS certificate not reloaded")
        shutil.copy(os.path.join(self.tmp, "leaf1.key"), self.key)
        self.d.send_signal(signal.SIGHUP)
        wait_for("the refused reload", lambda: self.d.log.count(
            "TLS certificate not reloaded") > n)
        self.assertIn("does not match", self.d.log)
        again = self.conn()
        self.assertEqual(self.get(again), (200, b"hello world\n"))
        self.assertEqual(self.peer_serial(again.sock), s2)
        self.assertEqual(self.get(old), (200, b"hello world\n"))
        again.close()
        old.close()
        shutil.copy(os.path.join(self.tmp, "leaf2.key"), self.key)


    # ---- proxy.so to an https upstream ------------------------------------

    def proxy(self, env, port=None):
        """A second gortd with proxy.so in front of this one's TLS port (or
        of port)."""
        pdir = tempfile.mkdtemp(prefix="proxy-", dir=self.tmp)
        shutil.copy(os.path.join(PLUGINS, "proxy.so"), pdir)
        with open(os.path.join(pdir, "proxy.conf"), "w") as f:
            f.write("/ https://localhost:%d timeout=10s\n"
                    % (port or self.port))
        return Gortd(GORTD, plugins_dir=pdir, name="proxy", env=env)

    def test_proxy_resumes_upstream_sessions(self):
        # The upstream closes after each answer, so every request through
        # proxy.so dials it anew; from the second on, the handshake resumes
        # the session the upstream issued (nginx's proxy_ssl_session_reuse),
        # as the upstream's own ssl reports, for TLS 1.2 and 1.3.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                up = ReuseUpstream(self.cert, self.key, version)
                try:
                    with self.proxy({"SSL_CERT_FILE": self.ca},
                                    up.port) as p:
                        seen = []
                        for i in range(3):
                            c = http.client.HTTPConnection(
                                "127.0.0.1", p.port, timeout=30)
                            c.request("GET", "/r%d" % i)
                            r = c.getresponse()
                            seen.append((r.status, r.read()))
                            c.close()
                finally:
                    up.close()
                self.assertEqual(seen, [(200, b"reused=False"),
                                        (200, b"reused=True"),
                                        (200, b"reused=True")])
                self.assertEqual(up.versions, [version.name.replace(
                    "TLSv1_", "TLSv1.")] * 3)

    def test_proxy_to_https(self):
        # the CA through SSL_CERT_FILE, as Go's crypto/x509 reads it
        with self.proxy({"SSL_CERT_FILE": self.ca}) as p:
            for i in range(5):  # upstream keep-alive over TLS
                c = http.client.HTTPConnection("127.0.0.1", p.port,
                                               timeout=30)
                c.request("GET", "/n%d" % i)
                r = c.getresponse()
                self.assertEqual((r.status, r.read()), (200, b"hello world\n"))
                c.close()
            body = os.urandom(300000)
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
            c.request("POST", "/echo/raw/p", body=body)
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, body))
            c.close()

    def test_proxy_untrusted_upstream(self):
        # the system's CAs do not know the test CA: 502 (the same gortd
        # and proxy.conf answer 200 above with the CA trusted)
        with self.proxy({"SSL_CERT_FILE": None}) as p:
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
            c.request("GET", "/")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (502, b"Bad Gateway\n"))
            c.close()


class Refused(unittest.TestCase):
    """Bad flags stop gortd at start with exit 2 and one clear line."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-tls-bad-")
        make_pki(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def refused(self, args, want):
        d = Gortd(GORTD, args, wait=None, name="tlsbad")
        d.wait_exit(2)
        self.assertIn(want, d.log)

    def test_missing_cert(self):
        self.refused(["--listen-tls", "127.0.0.1:0", "--tls-cert",
                      "/nonexistent/cert.pem", "--tls-key",
                      os.path.join(self.tmp, "leaf1.key")],
                     "gortd: TLS: cannot load certificate "
                     "/nonexistent/cert.pem: No such file or directory")

    def test_missing_key(self):
        self.refused(["--listen-tls", "127.0.0.1:0", "--tls-cert",
                      os.path.join(self.tmp, "leaf1.pem"), "--tls-key",
                      "/nonexistent/key.pem"],
                     "cannot load private key /nonexistent/key.pem: No "
                     "such file or directory")

    def test_not_pem(self):
        junk = os.path.join(self.tmp, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        self.refused(["--listen-tls", "127.0.0.1:0", "--tls-cert", junk,
                      "--tls-key", os.path.join(self.tmp, "leaf1.key")],
                     "cannot load certificate %s: no PEM data in the file"
                     % junk)
        self.refused(["--listen-tls", "127.0.0.1:0", "--tls-cert",
                      os.path.join(self.tmp, "leaf1.pem"), "--tls-key", junk],
                     "cannot load private key %s: no key in PEM form in the "
                     "file" % junk)

    def test_mismatched_pair(self):
        self.refused(["--listen-tls", "127.0.0.1:0", "--tls-cert",
                      os.path.join(self.tmp, "leaf1.pem"), "--tls-key",
                      os.path.join(self.tmp, "leaf2.key")],
                     "does not match certificate %s: key values mismatch"
                     % os.path.join(self.tmp, "leaf1.pem"))

    def test_flags_go_together(self):
        self.refused(["--listen-tls", "127.0.0.1:0"],
                     "-listen-tls, -tls-cert and -tls-key go together")
        self.refused(["--tls-cert", os.path.join(self.tmp, "leaf1.pem")],
                     "-listen-tls, -tls-cert and -tls-key go together")


if __name__ == "__main__":
    unittest.main(verbosity=2)
