"""soaklib.py — what the soak and fault scenarios (tests/soak/soak.py)
share: wrk in the background with its figures parsed, a process's
resources from /proc, the admin listener's metrics, a pool of many raw
keep-alive connections driven by one epoll loop, and the scenario's
bookkeeping (checks counted, figures printed).

Every bound in these helpers only keeps a broken run from hanging; the
scenarios assert on counts and on ratios measured in the same run.
"""
import os
import re
import resource
import selectors
import socket
import subprocess
import time
import urllib.request

WRK = "/usr/bin/wrk"

# ---- scale -------------------------------------------------------------------

SCALE = float(os.environ.get("SOAK_SCALE", "1"))


def dur(full, least=1.0):
    """A duration of the issue's full bound, scaled by SOAK_SCALE."""
    return max(least, full * SCALE)


def count(full, least=1):
    """A count of the issue's full bound, scaled by SOAK_SCALE."""
    return max(least, int(full * SCALE))


# ---- /proc -------------------------------------------------------------------

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def maps_lines(pid):
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for _ in f)


def raise_nofile():
    """The test process's soft descriptor limit raised to its hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---- the admin listener ------------------------------------------------------

ADMIN_RE = re.compile(r'msg="serving admin" addr=\S*:(\d+)')


def admin_port(d):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = ADMIN_RE.search(d.log)
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    raise AssertionError("no serving admin line:\n" + d.tail())


def metric(port, name):
    """The sum of every sample of metric name on /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=30) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---- wrk ---------------------------------------------------------------------

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


class Wrk:
    """wrk -t threads -c conns -d secs --latency URL, started at once;
    wait() returns its figures: requests, errors (socket errors of every
    kind), non2xx (non-2xx/3xx responses), p99_ms, rps."""

    def __init__(self, url, secs, conns=16, threads=2, timeout="10s"):
        self.proc = subprocess.Popen(
            [WRK, "-t%d" % threads, "-c%d" % conns, "-d%ds" % max(1, secs),
             "--timeout", timeout, "--latency", url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.result = None

    def running(self):
        return self.proc.poll() is None

    def wait(self):
        if self.result is None:
            out, _ = self.proc.communicate(timeout=600)
            self.result = parse_wrk(out)
        return self.result

    def stop(self):
        """SIGINT: wrk prints what it has and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        return self.wait()


def parse_wrk(out):
    r = {"out": out, "requests": 0, "errors": 0, "non2xx": 0,
         "p99_ms": None, "rps": 0.0}
    m = re.search(r"^\s*(\d+) requests in", out, re.M)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
        r["socket_errors"] = m.group(0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if m:
        r["p99_ms"] = _ms(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    return r


# ---- raw HTTP ----------------------------------------------------------------

def request_bytes(path="/", host="soak", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
            (path, host, extra)).encode()


def split_response(buf):
    """(status, whole response length) of the first complete response in
    buf (Content-Length or chunked bodies), or None if incomplete; raises
    ValueError on bytes that are no response."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise ValueError("no head end in %d bytes" % len(buf))
        return None
    head = buf[:end].decode("latin-1")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", head)
    if not m:
        raise ValueError("not a status line: %r" % head[:80])
    status = int(m.group(1))
    body = end + 4
    cl = re.search(r"(?im)^content-length:\s*(\d+)\s*$", head)
    if cl:
        total = body + int(cl.group(1))
        return (status, total) if len(buf) >= total else None
    if re.search(r"(?im)^transfer-encoding:\s*chunked\s*$", head):
        i = body
        while True:
            j = buf.find(b"\r\n", i)
            if j < 0:
                return None
            size = int(buf[i:j].split(b";")[0], 16)
            if size == 0:
                k = buf.find(b"\r\n\r\n", j)
                return (status, k + 4) if k >= 0 else None
            i = j + 2 + size + 2
            if len(buf) < i:
                return None
    return status, body  # no body (204, 304, ...)


def read_responses(sock, want=None, timeout=30):
    """Reads responses until want of them arrived, the peer closed or
    timeout; returns (statuses, how the read ended: "done", "eof",
    "reset", "timeout", "bad")."""
    sock.settimeout(timeout)
    buf, statuses = b"", []
    while want is None or len(statuses) < want:
        try:
            while True:
                got = split_response(buf)
                if not got:
                    break
                statuses.append(got[0])
                buf = buf[got[1]:]
                if want is not None and len(statuses) >= want:
                    return statuses, "done"
            data = sock.recv(262144)
        except socket.timeout:
            return statuses, "timeout"
        except ConnectionResetError:
            return statuses, "reset"
        except ValueError:
            return statuses, "bad"
        if not data:
            return statuses, "eof" if not buf else "bad"
        buf += data
    return statuses, "done"


class Pool:
    """n keep-alive connections to 127.0.0.1:port held by one epoll loop.
    round() sends one request on each and reads every response: it counts
    the 200s and everything else as errors."""

    def __init__(self, port, n, path="/"):
        self.port, self.req = port, request_bytes(path)
        self.socks, self.errors = [], 0
        self.sel = selectors.DefaultSelector()
        pending = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, 115):  # EINPROGRESS
                s.close()
                self.errors += 1
                continue
            pending.append(s)
            # Let the backlog drain now and then rather than fill it.
            if len(pending) % 256 == 0:
                self._finish_connects(pending)
                pending = []
        self._finish_connects(pending)

    def _finish_connects(self, pending):
        sel = selectors.DefaultSelector()
        for s in pending:
            sel.register(s, selectors.EVENT_WRITE)
        left = len(pending)
        deadline = time.monotonic() + 60
        while left and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                s = key.fileobj
                sel.unregister(s)
                left -= 1
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    s.close()
                    self.errors += 1
                else:
                    self.socks.append(s)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
            self.errors += 1
        sel.close()

    def round(self, timeout=60):
        """One request on every connection; returns the 200s."""
        bufs = {}
        for s in self.socks:
            try:
                s.send(self.req)
            except OSError:
                self.errors += 1
                continue
            bufs[s] = b""
            self.sel.register(s, selectors.EVENT_READ)
        ok = 0
        deadline = time.monotonic() + timeout
        while bufs and time.monotonic() < deadline:
            for key, _ in self.sel.select(1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.errors += 1
                    self._drop(s, bufs)
                    continue
                bufs[s] += data
                try:
                    got = split_response(bufs[s])
                except ValueError:
                    got = (0, 0)
                if got:
                    if got[0] == 200:
                        ok += 1
                    else:
                        self.errors += 1
                    self.sel.unregister(s)
                    del bufs[s]
        for s in list(bufs):
            self.errors += 1
            self._drop(s, bufs)
        return ok

    def _drop(self, s, bufs):
        self.sel.unregister(s)
        del bufs[s]
        self.socks.remove(s)
        s.close()

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []
        self.sel.close()


# ---- bookkeeping -------------------------------------------------------------

class Scenario:
    """One scenario's checks and figures; prints its summary line."""

    def __init__(self, num, title):
        self.num, self.title = num, title
        self.passed, self.failed = 0, 0
        self.figures = {}
        print("\n== scenario %d: %s (SOAK_SCALE=%g)" % (num, title, SCALE),
              flush=True)

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("  ok    %s" % what, flush=True)
        else:
            self.failed += 1
            print("  FAIL  %s %s" % (what, detail), flush=True)
        return ok

    def fig(self, name, value):
        self.figures[name] = value
        print("  fig   %s = %s" % (name, value), flush=True)

    def summary(self):
        line = "scenario %d (%s): %d passed, %d failed" % (
            self.num, self.title, self.passed, self.failed)
        print(line, flush=True)
        return line
