"""-grpc-health: grpc.health.v1 alone, in plaintext, for Kubernetes gRPC
probes and balancers; and health turning NOT_SERVING when gortd starts
draining (as /readyz turns 503), not only when the control plane stops
after the drain.

  - Check("") is SERVING on the health listener; every other method there
    (gort.v1.Control, reflection) is UNIMPLEMENTED, and the control
    plane's own service name is unknown (NOT_FOUND);
  - SIGTERM with a request still running (GET /slow?ms=...): both the
    health listener and the control plane's health answer NOT_SERVING, and
    a Watch stream on the health listener is told so, while that request is
    still being served; the request is then answered and gortd exits 0;
  - a Unix address for -grpc-health is refused at start.

usage: test_grpc_health.py GORTD PROTO_DIR PLUGINS_DIR
"""
import http.client
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, grpc_stubs, wait_for  # noqa: E402

GORTD, PROTO_DIR, PLUGINS = sys.argv[1:4]
del sys.argv[1:4]

grpc_stubs(PROTO_DIR)
import grpc  # noqa: E402
from gort.v1 import control_pb2 as pb, control_pb2_grpc as rpc  # noqa: E402
from gort_health import health_pb2 as hpb  # noqa: E402
from gort_health import health_pb2_grpc as hrpc  # noqa: E402

HEALTH_RE = re.compile(r'msg="gRPC health listening" addr=(\S+)')
SERVING = hpb.HealthCheckResponse.SERVING
NOT_SERVING = hpb.HealthCheckResponse.NOT_SERVING
# Long enough that the drain is still running when the test looks; the
# test never waits for it to elapse before it has looked.
SLOW_MS = 10000


def health_addr(d):
    m = HEALTH_RE.search(d.log)
    assert m, d.tail()
    return m.group(1)


class GrpcHealth(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-grpc-health-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.plugins = os.path.join(self.tmp, "plugins")
        os.makedirs(self.plugins)
        shutil.copy(os.path.join(PLUGINS, "slow.so"), self.plugins)

    def start(self):
        d = Gortd(GORTD, ["--grpc-health", "127.0.0.1:0"],
                  plugins_dir=self.plugins, wait="control")
        self.addCleanup(d.stop)
        wait_for("the health listener", lambda: HEALTH_RE.search(d.log))
        return d

    def channel(self, target):
        ch = grpc.insecure_channel(target)
        self.addCleanup(ch.close)
        return ch

    def test_health_alone_in_plaintext(self):
        d = self.start()
        ch = self.channel(health_addr(d))
        h = hrpc.HealthStub(ch)
        self.assertEqual(h.Check(hpb.HealthCheckRequest(), timeout=30).status,
                         SERVING)
        with self.assertRaises(grpc.RpcError) as e:
            h.Check(hpb.HealthCheckRequest(service="gort.v1.Control"),
                    timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        c = rpc.ControlStub(ch)
        for call, req in [(c.GetStats, pb.GetStatsRequest()),
                          (c.UnloadPlugin,
                           pb.UnloadPluginRequest(name="slow"))]:
            with self.assertRaises(grpc.RpcError) as e:
                call(req, timeout=30)
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.UNIMPLEMENTED)
        # The control plane itself still serves everything.
        ctl = self.channel(d.control)
        self.assertGreater(rpc.ControlStub(ctl).GetStats(
            pb.GetStatsRequest(), timeout=30).gomaxprocs, 0)

    def test_not_serving_from_the_start_of_the_drain(self):
        d = self.start()
        h = hrpc.HealthStub(self.channel(health_addr(d)))
        ctl_h = hrpc.HealthStub(self.channel(d.control))
        watch = h.Watch(hpb.HealthCheckRequest(), timeout=120)
        self.assertEqual(next(watch).status, SERVING)

        answer = {}

        def slow():
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
            c.request("GET", "/slow?ms=%d" % SLOW_MS)
            r = c.getresponse()
            answer["status"] = r.status
            r.read()
            c.close()
        t = threading.Thread(target=slow)
        t.start()
        self.addCleanup(t.join, 120)
        wait_for("the slow request to run",
                 lambda: self.in_flight(d) > 0)
        d.send_signal(signal.SIGTERM)

        def status(stub):
            return stub.Check(hpb.HealthCheckRequest(), timeout=30).status
        wait_for("NOT_SERVING on the health listener",
                 lambda: status(h) == NOT_SERVING)
        self.assertEqual(status(ctl_h), NOT_SERVING)
        self.assertEqual(next(watch).status, NOT_SERVING)
        # All of that while the drain still waits for the request.
        self.assertNotIn("status", answer)
        self.assertTrue(d.alive())
        t.join(120)
        self.assertEqual(answer.get("status"), 200)
        d.wait_exit(0)

    def in_flight(self, d):
        s = rpc.ControlStub(self.channel(d.control)).GetStats(
            pb.GetStatsRequest(), timeout=30)
        return s.http.in_flight

    def test_unix_address_refused(self):
        d = Gortd(GORTD, ["--grpc-health",
                          "unix:" + os.path.join(self.tmp, "h.sock")],
                  wait=None)
        d.wait_exit(2)  # a usage error, found before anything starts
        self.assertIn("-grpc-health unix:", d.log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
