#!/usr/bin/env python3
"""gRPC server reflection (issue 13) against the real gortd, with a client
built from the public reflection.proto only (proto/grpc/reflection/): no
grpc_tools (Debian has none), stubs from protoc --python_out and
grpc_python_plugin, the way tests/lib/gortd.py makes the control stubs.

One ServerReflectionInfo stream carries several requests, as grpcurl sends
them: list the services, fetch gort.v1.Control's file by symbol, check its
methods against the .proto gortd was built from, look up methods, messages
and enums, ask for a missing symbol (an ErrorResponse; the stream goes on),
fetch health.proto by file name. Then, like grpcurl, it calls GetStats with
a message class built from the fetched descriptor alone. v1alpha answers
the same.

usage: test_reflection.py GORTD PROTO_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, grpc_stubs  # noqa: E402

GORTD = PROTO_DIR = None
grpc = None
CONTROL_METHODS = ["GetStats", "WatchStats", "SetMaxProcs", "DumpGoroutines",
                   "ListRoutes", "ListPlugins", "LoadPlugin", "UnloadPlugin",
                   "ReplacePlugin"]


def reflection_stubs(out):
    """Python modules gort_reflection.{v1,v1alpha}.reflection_pb2[_grpc]
    (renamed from grpc/...: a top-level "grpc" package of our own would
    shadow grpcio; the .proto package, hence the method path, stays
    grpc.reflection.*)."""
    src = os.path.join(out, "src")
    py = os.path.join(out, "py")
    os.makedirs(py)
    for v in ("v1", "v1alpha"):
        d = os.path.join(src, "gort_reflection", v)
        os.makedirs(d)
        shutil.copy(os.path.join(PROTO_DIR, "grpc", "reflection", v,
                                 "reflection.proto"), d)
    plugin = shutil.which("grpc_python_plugin")
    if not plugin:
        raise unittest.SkipTest("grpc_python_plugin is not installed")
    subprocess.run(["protoc", "--plugin=protoc-gen-grpc_python=" + plugin,
                    "-I", src, "--python_out=" + py, "--grpc_python_out=" + py,
                    "gort_reflection/v1/reflection.proto",
                    "gort_reflection/v1alpha/reflection.proto"], check=True)
    sys.path.insert(0, py)


class Reflection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Gortd(GORTD, wait="control", name="gortd-reflect")
        cls.ch = grpc.insecure_channel(cls.d.control)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.d.stop()
        cls.d.cleanup()

    def ask(self, version, requests):
        """Sends requests on one stream; returns the responses in order."""
        mod = __import__("gort_reflection.%s.reflection_pb2_grpc" % version,
                         fromlist=["x"])
        stub = mod.ServerReflectionStub(self.ch)
        return list(stub.ServerReflectionInfo(iter(requests), timeout=30))

    def req(self, version, **kw):
        mod = __import__("gort_reflection.%s.reflection_pb2" % version,
                         fromlist=["x"])
        return mod.ServerReflectionRequest(host="gortd", **kw)

    @staticmethod
    def file_proto(resp):
        from google.protobuf import descriptor_pb2
        files = resp.file_descriptor_response.file_descriptor_proto
        assert len(files) == 1, resp
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(files[0])
        return fd

    def conversation(self, version):
        r = lambda **kw: self.req(version, **kw)  # noqa: E731
        resps = self.ask(version, [
            r(list_services=""),
            r(file_containing_symbol="gort.v1.Control"),
            r(file_containing_symbol="gort.v1.Control.WatchStats"),
            r(file_containing_symbol="gort.v1.Stats"),
            r(file_containing_symbol="gort.v1.PStatus"),
            r(file_containing_symbol="gort.v1.NoSuchThing"),
            r(file_by_filename="grpc/health/v1/health.proto"),
            r(file_by_filename="nope.proto"),
            r(all_extension_numbers_of_type="gort.v1.Stats"),
        ])
        self.assertEqual(len(resps), 9)
        for resp, want in zip(resps, ["list_services", "file_containing_symbol",
                                      "file_containing_symbol",
                                      "file_containing_symbol",
                                      "file_containing_symbol",
                                      "file_containing_symbol",
                                      "file_by_filename", "file_by_filename",
                                      "all_extension_numbers_of_type"]):
            self.assertEqual(resp.valid_host, "gortd")
            self.assertEqual(resp.original_request.WhichOneof(
                "message_request"), want)

        names = sorted(s.name for s in resps[0].list_services_response.service)
        self.assertEqual(names, ["gort.v1.Control", "grpc.health.v1.Health",
                                 "grpc.reflection.v1.ServerReflection",
                                 "grpc.reflection.v1alpha.ServerReflection"])

        control = self.file_proto(resps[1])
        self.assertEqual(control.name, "gort/v1/control.proto")
        self.assertEqual(control.package, "gort.v1")
        svc = [s for s in control.service if s.name == "Control"]
        self.assertEqual(len(svc), 1)
        self.assertEqual([m.name for m in svc[0].method], CONTROL_METHODS)
        # The same methods as the .proto these stubs were compiled from.
        from gort.v1 import control_pb2
        built = control_pb2.DESCRIPTOR.services_by_name["Control"]
        self.assertEqual([m.name for m in svc[0].method],
                         [m.name for m in built.methods])
        watch = [m for m in svc[0].method if m.name == "WatchStats"][0]
        self.assertTrue(watch.server_streaming)
        self.assertEqual(watch.output_type, ".gort.v1.Stats")
        for i in (2, 3, 4):  # method, message, enum: the same file
            self.assertEqual(self.file_proto(resps[i]).name,
                             "gort/v1/control.proto")

        self.assertEqual(resps[5].WhichOneof("message_response"),
                         "error_response")
        self.assertEqual(resps[5].error_response.error_code,
                         grpc.StatusCode.NOT_FOUND.value[0])
        self.assertIn("gort.v1.NoSuchThing", resps[5].error_response
                      .error_message)

        health = self.file_proto(resps[6])
        self.assertEqual(health.name, "grpc/health/v1/health.proto")
        self.assertEqual([m.name for m in health.service[0].method],
                         ["Check", "Watch"])
        self.assertEqual(resps[7].error_response.error_code,
                         grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(resps[8].all_extension_numbers_response
                         .base_type_name, "gort.v1.Stats")
        self.assertEqual(list(resps[8].all_extension_numbers_response
                              .extension_number), [])
        return control

    def test_v1(self):
        self.conversation("v1")

    def test_v1alpha(self):
        self.conversation("v1alpha")

    def test_call_from_the_fetched_descriptor(self):
        """What grpcurl does: no .proto, only what reflection served."""
        from google.protobuf import descriptor_pool, message_factory
        control = self.conversation("v1")
        pool = descriptor_pool.DescriptorPool()
        pool.Add(control)
        get = lambda n: message_factory.GetMessageClass(  # noqa: E731
            pool.FindMessageTypeByName(n)) if hasattr(
                message_factory, "GetMessageClass") else \
            message_factory.MessageFactory(pool).GetPrototype(
                pool.FindMessageTypeByName(n))
        Req, Stats = get("gort.v1.GetStatsRequest"), get("gort.v1.Stats")
        call = self.ch.unary_unary("/gort.v1.Control/GetStats",
                                   request_serializer=Req.SerializeToString,
                                   response_deserializer=Stats.FromString)
        s = call(Req(), timeout=30)
        self.assertGreaterEqual(s.gomaxprocs, 1)
        self.assertNotEqual(s.version, "")

    def test_half_close_ends_the_stream_ok(self):
        self.assertEqual(self.ask("v1", []), [])


def main():
    global GORTD, PROTO_DIR, grpc
    GORTD, PROTO_DIR = sys.argv[1:3]
    grpc_stubs(PROTO_DIR)
    tmp = tempfile.mkdtemp(prefix="gort-reflect-stubs-")
    try:
        reflection_stubs(tmp)
        import grpc as g
        grpc = g
        prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
