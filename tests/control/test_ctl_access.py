#!/usr/bin/env python3
"""Who may call the control plane, and how many at once (issue 10, items 10
and 12), against the real gortd with Debian's grpcio.

Item 10: certificates made by openssl at test time (a CA, gortd's server
certificate, three clients). With mutual TLS and --control-allow-cn only
the listed identities (CN or subject alternative name) may call the
mutating methods; every other verified client gets PERMISSION_DENIED for
them and keeps the read-only ones. Plaintext TCP on loopback starts with a
warning; --control-allow-cn without --control-tls-ca does not start.

Item 12: --control-max-streams 8 and 20 WatchStats streams opened at once:
exactly 8 stream, 12 get RESOURCE_EXHAUSTED, HTTP keeps answering
meanwhile, and once the streams end the slots are free again.

usage: test_ctl_access.py GORTD PROTO_DIR PLUGINS_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, grpc_stubs, wait_for  # noqa: E402

GORTD = PROTO_DIR = PLUGINS = None
grpc = pb = rpc = None


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """ca, server (127.0.0.1) and clients: ops (CN listed), viewer (CN not
    listed), deployer (CN not listed, a listed DNS SAN)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=gort-test-ca",
            "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    certs = {"server": ("gort-server", "IP:127.0.0.1,DNS:localhost"),
             "ops": ("gort-ops", "DNS:ops.internal"),
             "viewer": ("gort-viewer", "DNS:viewer.internal"),
             "deployer": ("someone", "DNS:deployer.example")}
    for name, (cn, san) in certs.items():
        openssl("req", *ec, "-subj", "/CN=" + cn, "-keyout",
                "%s/%s.key" % (d, name), "-out", "%s/%s.csr" % (d, name))
        with open("%s/%s.ext" % (d, name), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", "%s/%s.csr" % (d, name), "-CA",
                d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
                "-days", "1", "-extfile", "%s/%s.ext" % (d, name), "-out",
                "%s/%s.pem" % (d, name))


def read(path):
    with open(path, "rb") as f:
        return f.read()


class AllowCN(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-access-")
        cls.pki = os.path.join(cls.tmp, "pki")
        os.mkdir(cls.pki)
        make_pki(cls.pki)
        p = cls.pki
        cls.d = Gortd(GORTD, [
            "--control-tls-ca", p + "/ca.pem",
            "--control-tls-cert", p + "/server.pem",
            "--control-tls-key", p + "/server.key",
            "--control-allow-cn", "gort-ops,deployer.example"],
            control="127.0.0.1:0", wait="control", name="gortd-mtls")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def stub(self, client):
        p = self.pki
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(p + "/ca.pem"),
            private_key=read("%s/%s.key" % (p, client)),
            certificate_chain=read("%s/%s.pem" % (p, client)))
        ch = grpc.secure_channel(self.d.control_addr(), creds)
        self.addCleanup(ch.close)
        return rpc.ControlStub(ch)

    def denied(self, fn, method, presented):
        with self.assertRaises(grpc.RpcError) as e:
            fn()
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("%s changes gortd and is allowed only to the client "
                      "identities in -control-allow-cn; this client "
                      "presented %s" % (method, presented),
                      e.exception.details())

    def test_listed_cn_may_mutate(self):
        c = self.stub("ops")
        r = c.SetMaxProcs(pb.SetMaxProcsRequest(maxprocs=2), timeout=10)
        self.assertEqual(r.current, 2)

    def test_listed_san_may_mutate(self):
        c = self.stub("deployer")
        r = c.SetMaxProcs(pb.SetMaxProcsRequest(maxprocs=1), timeout=10)
        self.assertEqual(r.current, 1)

    def test_other_client_reads_but_may_not_mutate(self):
        c = self.stub("viewer")
        s = c.GetStats(pb.GetStatsRequest(), timeout=10)
        self.assertGreaterEqual(s.gomaxprocs, 1)
        who = "CN=gort-viewer SAN=viewer.internal"
        self.denied(lambda: c.SetMaxProcs(
            pb.SetMaxProcsRequest(maxprocs=3), timeout=10), "SetMaxProcs", who)
        for m, req in (("LoadPlugin", pb.LoadPluginRequest(name="x")),
                       ("UnloadPlugin", pb.UnloadPluginRequest(name="x")),
                       ("ReplacePlugin", pb.ReplacePluginRequest(name="x"))):
            self.denied(lambda: getattr(c, m)(req, timeout=10), m, who)
        # Nothing changed, and gortd said who was refused.
        self.assertNotEqual(c.GetStats(pb.GetStatsRequest(),
                                       timeout=10).gomaxprocs, 3)
        self.assertIn('msg="control call refused" method=SetMaxProcs '
                      'client="CN=gort-viewer SAN=viewer.internal"',
                      self.d.log)

    def test_no_client_certificate_cannot_connect(self):
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(self.pki + "/ca.pem"))
        with grpc.secure_channel(self.d.control_addr(), creds) as ch:
            with self.assertRaises(grpc.RpcError) as e:
                rpc.ControlStub(ch).GetStats(pb.GetStatsRequest(), timeout=5)
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.UNAVAILABLE)


class StartRules(unittest.TestCase):
    def test_plaintext_loopback_warns(self):
        with Gortd(GORTD, control="127.0.0.1:0", wait="control") as g:
            self.assertIn('level=warn msg="control plane on plaintext '
                          'loopback TCP" addr=127.0.0.1:0 reason="every '
                          'local user can call it', g.log)

    def test_unix_socket_does_not_warn(self):
        with Gortd(GORTD, wait="control") as g:
            self.assertNotIn("every local user", g.log)

    def test_allow_cn_needs_mutual_tls(self):
        g = Gortd(GORTD, ["--control-allow-cn", "ops"], control="127.0.0.1:0",
                  wait=None)
        g.wait_exit(expect_rc=1)
        self.assertIn("-control-allow-cn names client certificates: it needs "
                      "mutual TLS (-control-tls-ca)", g.log)
        g.cleanup()

    def test_max_streams_checked(self):
        for bad in ("0", "-3", "100001"):
            r = subprocess.run([GORTD, "--control-max-streams", bad],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stderr, "gortd: -control-max-streams must be "
                             "1..100000\n")


class Flood(unittest.TestCase):
    MAX, OPEN = 8, 20

    def test_streams_beyond_the_bound_are_refused(self):
        with Gortd(GORTD, ["--control-max-streams", str(self.MAX)],
                   plugins_dir=PLUGINS, wait="control") as g:
            ch = grpc.insecure_channel(g.control)
            c = rpc.ControlStub(ch)
            streams = [c.WatchStats(pb.WatchStatsRequest(interval_ms=1000))
                       for _ in range(self.OPEN)]
            ok, exhausted = [], []
            for s in streams:
                try:
                    next(s)
                    ok.append(s)
                except grpc.RpcError as e:
                    self.assertEqual(e.code(),
                                     grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     e.details())
                    self.assertIn("gortd serves at most %d control calls and "
                                  "streams at once (-control-max-streams)"
                                  % self.MAX, e.details())
                    exhausted.append(s)
            self.assertEqual((len(ok), len(exhausted)),
                             (self.MAX, self.OPEN - self.MAX))
            # Unary calls count too while the bound is taken ...
            with self.assertRaises(grpc.RpcError) as e:
                c.GetStats(pb.GetStatsRequest(), timeout=10)
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.RESOURCE_EXHAUSTED)
            # ... and HTTP is not the control plane's to block.
            for _ in range(20):
                url = "http://127.0.0.1:%d/" % g.port
                with urllib.request.urlopen(url, timeout=10) as r:
                    self.assertEqual(r.status, 200)
            for s in ok:
                s.cancel()

            # Slots come back as the streams end.
            def free():
                try:
                    c.GetStats(pb.GetStatsRequest(), timeout=10)
                    return True
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    return False
            wait_for("control slots freed", free)
            ch.close()


def main():
    global GORTD, PROTO_DIR, PLUGINS, grpc, pb, rpc
    GORTD, PROTO_DIR, PLUGINS = sys.argv[1:4]
    grpc_stubs(PROTO_DIR)
    import grpc as g
    from gort.v1 import control_pb2, control_pb2_grpc
    grpc, pb, rpc = g, control_pb2, control_pb2_grpc
    prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
