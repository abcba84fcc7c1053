"""idle_dump.py — idle keep-alive connections are goroutines in a dump.

Usage: idle_dump.py GORTD GORTCTL PROTO_DIR PLUGINS_DIR [NCONNS]

Starts the real gortd with the bundled plugins, opens NCONNS (100)
keep-alive connections that each complete one `GET /`, and checks that
`gortctl dump --state "IO wait"` (text and --json) and Python grpcio's
DumpGoroutines all list exactly NCONNS idle-connection goroutines in IO
wait, one per connection, labelled with its remote address, each with a
frame naming http_conn_serve, under the same ids. An idle connection has no
goroutine of its own (the netpoller starts one at its next byte); the dump
lists the pending start as the goroutine it will be. Then: the next request
on a connection runs under the id the dump showed, and closing the clients
leaves no entry behind. Prints one line per check; exits 1 on any failure.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, GortdError, grpc_stubs, sanitizer  # noqa: E402

GORTD, GORTCTL, PROTO, PLUGINS = sys.argv[1:5]
NCONNS = int(sys.argv[5]) if len(sys.argv) > 5 else 100
LABEL = "http conn from "
# How long /slow holds its goroutine while gortctl looks: a gortctl run
# takes about a second under ThreadSanitizer.
SLOW_MS = 1500 * (5 if sanitizer("thread") else 1)
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name +
          ("" if ok else ": " + str(detail)[:2000]), flush=True)


def recv_response(s, buf=b""):
    """Reads one response with a Content-Length body; returns (status, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside a response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside a body")
        rest += chunk
    return int(head.split(b" ", 2)[1]), rest[need:]


def get(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return recv_response(s)[0]


def ctl(addr, *args):
    return subprocess.run([GORTCTL, "--addr", addr] + list(args),
                          capture_output=True, text=True, timeout=30)


def ctl_json_idle(addr):
    """The idle-connection goroutines of `dump --state "IO wait" --json`."""
    r = ctl(addr, "dump", "--state", "IO wait", "--json")
    if r.returncode != 0:
        raise RuntimeError("gortctl dump --json: %d %s" % (r.returncode, r.stderr))
    gs = json.loads(r.stdout).get("goroutines", [])
    return [g for g in gs if g.get("label", "").startswith(LABEL)]


def parse_text(text):
    """Blocks of Go's traceback text: (id, state, label, [func...])."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        m = re.match(r"goroutine (\d+) \[([^\],]+)[^\]]*\](?: \((.*)\))?:$",
                     lines[0]) if lines else None
        if not m:
            continue
        funcs = [ln[:-5] for ln in lines[1:]
                 if ln.endswith("(...)") and not ln.startswith("\t")]
        out.append((int(m.group(1)), m.group(2), m.group(3) or "", funcs))
    return out


def main():
    # The shared helper: gortd's port from its log; at the end, exit 0 and
    # no sanitizer report (the idle connections' goroutines started and
    # ended: a leak there fails here).
    d = Gortd(GORTD, ["--quiet", "--shutdown-timeout", "2s"],
              plugins_dir=PLUGINS, name="idle", wait="control")
    conns = []
    try:
        run(d, d.control, conns)
    finally:
        for s in conns:
            s.close()
        try:
            d.stop()
            check("gortd exits 0, no sanitizer report", True)
        except GortdError as e:
            check("gortd exits 0, no sanitizer report", False, e)
        if results["failed"]:
            print("gortd log:\n" + d.tail(3000))
        else:
            d.cleanup()
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


def wait_for(pred, secs=10):
    deadline = time.time() + secs
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def run(d, addr, conns):
    port = d.port
    statuses = []
    for _ in range(NCONNS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        conns.append(s)
        statuses.append(get(s, b"/"))
    check("%d keep-alive connections served GET /" % NCONNS,
          statuses == [200] * NCONNS, statuses)
    want = {"%s:%d" % s.getsockname() for s in conns}

    # A connection's goroutine goes idle just after its response is out.
    idle = wait_for(lambda: (lambda g: g if len(g) == NCONNS else None)(
        ctl_json_idle(addr))) or ctl_json_idle(addr)
    labels = sorted(g["label"][len(LABEL):] for g in idle)
    check("dump --json: %d idle connections in IO wait" % NCONNS,
          len(idle) == NCONNS and set(labels) == want and
          len(set(labels)) == NCONNS, (len(idle), sorted(want - set(labels))))
    check("dump --json: state and wait_reason IO wait",
          all(g["state"] == "IO wait" and g["wait_reason"] == "IO wait"
              for g in idle), idle[:1])
    check("dump --json: each has a frame naming http_conn_serve",
          all(any(f.get("func") == "http_conn_serve" for f in g["frames"])
              for g in idle), [g for g in idle if not any(
                  f.get("func") == "http_conn_serve" for f in g["frames"])][:2])
    ids = {g["id"]: g["label"][len(LABEL):] for g in idle}
    check("dump --json: distinct ids", len(ids) == NCONNS, len(ids))

    r = ctl(addr, "dump", "--state", "IO wait")
    blocks = [b for b in parse_text(r.stdout) if b[2].startswith(LABEL)]
    check("dump text: %d idle connections in IO wait" % NCONNS,
          r.returncode == 0 and len(blocks) == NCONNS and
          all(b[1] == "IO wait" for b in blocks) and
          {b[2][len(LABEL):] for b in blocks} == want,
          (r.returncode, len(blocks), r.stderr))
    check("dump text: each names http_conn_serve, same ids as --json",
          all("http_conn_serve" in b[3] for b in blocks) and
          {b[0] for b in blocks} == set(ids), blocks[:2])

    grpc_stubs(PROTO)
    import grpc
    from gort.v1 import control_pb2 as pb, control_pb2_grpc as rpc
    c = rpc.ControlStub(grpc.insecure_channel(addr))
    d = c.DumpGoroutines(pb.DumpGoroutinesRequest(
        state="IO wait", view=pb.DumpGoroutinesRequest.STRUCTURED), timeout=10)
    gi = [g for g in d.goroutines if g.label.startswith(LABEL)]
    check("grpcio DumpGoroutines: the same %d goroutines" % NCONNS,
          len(gi) == NCONNS and {g.id: g.label[len(LABEL):] for g in gi} == ids
          and all(g.wait_reason == "IO wait" and
                  any(f.func == "http_conn_serve" for f in g.frames)
                  for g in gi), (len(gi), d.matched))
    st = c.GetStats(pb.GetStatsRequest(), timeout=10).goroutines
    check("grpcio GetStats: they count as live, waiting, IO wait",
          st.io_waiting >= NCONNS and st.waiting >= st.io_waiting and
          st.live >= st.waiting and d.live >= NCONNS, st)

    # The next request on a connection runs under the id the dump showed:
    # /slow parks its goroutine on a timer, where a dump finds it.
    s = conns[NCONNS // 2]
    mine = "%s:%d" % s.getsockname()
    was = [i for i, a in ids.items() if a == mine]
    s.sendall(b"GET /slow?ms=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % SLOW_MS)
    seen = wait_for(lambda: [g for g in json.loads(
        ctl(addr, "dump", "--label", mine, "--json").stdout).get(
            "goroutines", []) if g["label"] == LABEL + mine and
        g["state"] != "IO wait"], SLOW_MS / 1000 * 3)
    check("the next request runs as the goroutine the dump listed",
          len(was) == 1 and len(seen) == 1 and seen[0]["id"] == was[0],
          (was, seen))
    check("GET /slow on the idle connection", recv_response(s)[0] == 200)

    # Clients go away: every entry goes with them.
    for s in conns:
        s.close()
    conns.clear()
    left = wait_for(lambda: not ctl_json_idle(addr)) or ctl_json_idle(addr)
    check("closed connections leave no entry", left is True, left)


if __name__ == "__main__":
    sys.exit(main())
