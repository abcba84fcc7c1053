"""grpcio_client.py — drives a running gortd with Python grpcio, using stubs
that control_integration.sh generated from the same .proto files gortd was
built from.

Usage: grpcio_client.py STUBDIR TARGET
Prints one line per check and "N passed, N failed" at the end; exits 1 if
any check failed. Every RPC of gort.v1.Control and grpc.health.v1.Health is
called, including each bad-input status the control plane promises.
"""
import sys
import time

STUBS, TARGET = sys.argv[1], sys.argv[2]
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from gort.v1 import control_pb2 as pb, control_pb2_grpc as rpc  # noqa: E402
# health.proto is compiled under gort_health/: a top-level "grpc" package
# of our own would shadow grpcio's.
from gort_health import health_pb2 as hpb, health_pb2_grpc as hrpc  # noqa: E402

Code = grpc.StatusCode
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))


def expect_error(name, fn, code, text=""):
    try:
        fn()
    except grpc.RpcError as e:
        ok = e.code() == code and text in (e.details() or "")
        check(name, ok, "%s %r" % (e.code(), e.details()))
        return
    check(name, False, "no error")


def main():
    channel = grpc.insecure_channel(TARGET)
    c = rpc.ControlStub(channel)
    h = hrpc.HealthStub(channel)
    t = 5  # seconds per call

    s = c.GetStats(pb.GetStatsRequest(), timeout=t)
    check("GetStats", s.gomaxprocs >= 1 and len(s.procs) >= s.gomaxprocs
          and s.version != "" and s.goroutines.live >= 1
          and len(s.sched_latency.counts) == len(s.sched_latency.bounds_ns) + 1,
          s)

    # SetMaxProcs: the tune 1 -> 4 -> 2 sequence, each seen by GetStats.
    prev = s.gomaxprocs
    for n in (1, 4, 2):
        r = c.SetMaxProcs(pb.SetMaxProcsRequest(maxprocs=n), timeout=t)
        now = c.GetStats(pb.GetStatsRequest(), timeout=t).gomaxprocs
        check("SetMaxProcs %d" % n, r.previous == prev and r.current == n
              and now == n and r.took_ns >= 0, (r, now))
        prev = n
    for bad in (0, -1, 257, 2**31 - 1):
        expect_error("SetMaxProcs(%d) INVALID_ARGUMENT" % bad,
                     lambda: c.SetMaxProcs(pb.SetMaxProcsRequest(maxprocs=bad), timeout=t),
                     Code.INVALID_ARGUMENT, "allowed 1..256")

    # WatchStats: count-bounded stream, paced by the interval.
    t0 = time.monotonic()
    msgs = list(c.WatchStats(pb.WatchStatsRequest(interval_ms=50, count=3), timeout=t))
    took = time.monotonic() - t0
    check("WatchStats count=3", len(msgs) == 3 and 0.08 < took < 3
          and msgs[0].timestamp_unix_ns < msgs[2].timestamp_unix_ns, (len(msgs), took))
    expect_error("WatchStats interval 5ms INVALID_ARGUMENT",
                 lambda: list(c.WatchStats(pb.WatchStatsRequest(interval_ms=5), timeout=t)),
                 Code.INVALID_ARGUMENT, "allowed 10..3600000")
    it = c.WatchStats(pb.WatchStatsRequest(interval_ms=20))
    next(it)
    it.cancel()
    check("WatchStats cancel", c.GetStats(pb.GetStatsRequest(), timeout=t).gomaxprocs >= 1)
    expect_error("WatchStats deadline DEADLINE_EXCEEDED",
                 lambda: list(c.WatchStats(pb.WatchStatsRequest(interval_ms=100), timeout=0.25)),
                 Code.DEADLINE_EXCEEDED)

    # DumpGoroutines: both views, the filters.
    d = c.DumpGoroutines(pb.DumpGoroutinesRequest(), timeout=t)
    check("DumpGoroutines", d.matched >= 1 and len(d.goroutines) == d.matched
          and d.text.startswith("goroutine ") and d.live >= 1, d.text[:200])
    g = d.goroutines[0]
    d2 = c.DumpGoroutines(pb.DumpGoroutinesRequest(
        state=g.state.upper(), view=pb.DumpGoroutinesRequest.STRUCTURED), timeout=t)
    check("DumpGoroutines state filter", d2.matched >= 1 and d2.text == ""
          and all(x.state == g.state or x.wait_reason == g.state for x in d2.goroutines))
    d3 = c.DumpGoroutines(pb.DumpGoroutinesRequest(limit=1, view=pb.DumpGoroutinesRequest.TEXT),
                          timeout=t)
    check("DumpGoroutines limit", d3.matched == 1 and len(d3.goroutines) == 0
          and d3.text.count("goroutine ") >= 1 and d3.truncated == (d.matched > 1))
    d4 = c.DumpGoroutines(pb.DumpGoroutinesRequest(label="no such label"), timeout=t)
    check("DumpGoroutines label filter", d4.matched == 0 and d4.text == "")
    expect_error("DumpGoroutines min_wait<0 INVALID_ARGUMENT",
                 lambda: c.DumpGoroutines(pb.DumpGoroutinesRequest(min_wait_ns=-1), timeout=t),
                 Code.INVALID_ARGUMENT)

    # Plugins: this gortd runs without --plugins-dir: empty lists, and the
    # operations have nothing to manage (tests/plugin/test_hot.py loads).
    check("ListRoutes empty", len(c.ListRoutes(pb.ListRoutesRequest(), timeout=t).routes) == 0)
    check("ListPlugins empty", len(c.ListPlugins(pb.ListPluginsRequest(), timeout=t).plugins) == 0)
    for name, fn in (("LoadPlugin", lambda: c.LoadPlugin(pb.LoadPluginRequest(name="hello"), timeout=t)),
                     ("UnloadPlugin", lambda: c.UnloadPlugin(pb.UnloadPluginRequest(name="hello"), timeout=t)),
                     ("ReplacePlugin", lambda: c.ReplacePlugin(pb.ReplacePluginRequest(name="hello"), timeout=t))):
        expect_error(name + " FAILED_PRECONDITION", fn, Code.FAILED_PRECONDITION,
                     "without -plugins-dir")
    expect_error("LoadPlugin ../x INVALID_ARGUMENT",
                 lambda: c.LoadPlugin(pb.LoadPluginRequest(name="../x"), timeout=t),
                 Code.INVALID_ARGUMENT)

    # Health.
    for svc in ("", "gort.v1.Control", "grpc.health.v1.Health"):
        r = h.Check(hpb.HealthCheckRequest(service=svc), timeout=t)
        check("Health.Check %r SERVING" % svc, r.status == hpb.HealthCheckResponse.SERVING)
    expect_error("Health.Check unknown NOT_FOUND",
                 lambda: h.Check(hpb.HealthCheckRequest(service="no.Such"), timeout=t),
                 Code.NOT_FOUND)
    w = h.Watch(hpb.HealthCheckRequest())
    first = next(w)
    w.cancel()
    check("Health.Watch SERVING", first.status == hpb.HealthCheckResponse.SERVING)
    w = h.Watch(hpb.HealthCheckRequest(service="no.Such"))
    first = next(w)
    w.cancel()
    check("Health.Watch unknown SERVICE_UNKNOWN",
          first.status == hpb.HealthCheckResponse.SERVICE_UNKNOWN)

    # Raw bytes: undecodable requests, unknown methods and services.
    raw = lambda path, body: channel.unary_unary(path)(body, timeout=t)  # noqa: E731
    expect_error("undecodable INVALID_ARGUMENT",
                 lambda: raw("/gort.v1.Control/SetMaxProcs", b"\xff\xff\xff"),
                 Code.INVALID_ARGUMENT, "cannot parse gort.v1.SetMaxProcsRequest")
    expect_error("unknown method UNIMPLEMENTED",
                 lambda: raw("/gort.v1.Control/Nope", b""), Code.UNIMPLEMENTED,
                 "unknown method Nope")
    expect_error("unknown service UNIMPLEMENTED",
                 lambda: raw("/other.Svc/GetStats", b""), Code.UNIMPLEMENTED,
                 "unknown service other.Svc")
    # (A unary call with a 1 us deadline is not a test: its reply may arrive
    # before the client's deadline timer fires. The Watch above and the
    # dispatcher's unit test cover deadlines deterministically.)
    check("still serving", c.GetStats(pb.GetStatsRequest(), timeout=t).gomaxprocs == 2)
    channel.close()

    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
