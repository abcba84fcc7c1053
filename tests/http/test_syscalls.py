#!/usr/bin/env python3
"""System calls per keep-alive request: the real gortd under strace.

usage: test_syscalls.py GORTD PLUGINS_DIR

An HTTP server's floor per keep-alive request is one read and one write
(nginx: recvfrom + writev). gortd runs under `strace -f`, one client sends
N requests in turn on one connection (each after the previous response),
and the test counts the system calls whose descriptor is that
connection's: at most 2 per request plus a constant (accept's fcntl,
getsockopt, epoll_ctl, setsockopt, the close). Counts, not time: strace
slows gortd, not what it calls. An idle keep-alive connection that peeked
at its socket before it parked (MSG_PEEK) made it 3 per request.

Run under `strace -o FILE gortd ...`, strace blocks fatal signals, so the
test stops gortd by signalling the traced child itself; strace then exits
with gortd's status, which the shared helper checks.
"""
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rawhttp  # noqa: E402
from gortd import Gortd, wait_for  # noqa: E402

GORTD, PLUGINS_DIR = sys.argv[1:3]
del sys.argv[1:3]

N = 1000
# Per connection, outside the requests: fcntl x2, getsockopt, epoll_ctl,
# setsockopt at accept; the read that finds end of file and the close at
# the end; a read that meets EAGAIN if a request is still in flight when
# the goroutine looks. Generous: the per-request rate is what is tested.
CONSTANT = 16

CALL_RE = re.compile(r"^\d+\s+(\w+)\((\d+)[,)]")
ACCEPT_RE = re.compile(r"accept4(?:\(| resumed>).*\)\s+=\s+(\d+)")


def conn_calls(trace, fd):
    """{syscall: count} of the calls in trace whose first argument is fd,
    each counted once (strace -f splits a call that another thread
    interrupts into `unfinished` and `resumed` lines: the first names the
    descriptor)."""
    counts = {}
    for line in trace.splitlines():
        m = CALL_RE.match(line)
        if m and int(m.group(2)) == fd:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


class Syscalls(unittest.TestCase):
    def setUp(self):
        if not shutil.which("strace"):
            self.fail("strace is not installed (scripts/install-deps.sh)")
        self.tmp = tempfile.mkdtemp(prefix="gort-syscalls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.trace = os.path.join(self.tmp, "strace.out")
        wrapper = os.path.join(self.tmp, "gortd-under-strace")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec strace -f -qq -o "%s" -e trace=%%net,'
                    '%%desc "%s" "$@"\n' % (self.trace, GORTD))
        os.chmod(wrapper, stat.S_IRWXU)
        self.d = Gortd(wrapper, ["--quiet"], plugins_dir=PLUGINS_DIR,
                       name="syscalls", env={"GOMAXPROCS": "1"})
        self.addCleanup(self.d.kill)

    def traced_gortd(self):
        """gortd's pid: the child of strace (the wrapper exec'd strace)."""
        path = "/proc/%d/task/%d/children" % (self.d.pid, self.d.pid)
        with open(path) as f:
            kids = f.read().split()
        self.assertEqual(len(kids), 1, "strace's children: %s" % kids)
        return int(kids[0])

    def read_trace(self):
        with open(self.trace, errors="replace") as f:
            return f.read()

    def conn_closed(self):
        text = self.read_trace()
        fds = ACCEPT_RE.findall(text)
        return bool(fds) and re.search(r"\bclose\(%s\)" % fds[0], text)

    def stop(self):
        os.kill(self.traced_gortd(), signal.SIGTERM)
        self.d.wait_exit(0)

    def test_two_system_calls_per_keep_alive_request(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(N):
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            r = rawhttp.read_response(s)
            self.assertEqual(r.status, 200, "request %d" % i)
            self.assertEqual(r.body, b"hello world\n")
        s.close()
        # gortd's side sees the close, reads end of file and closes too.
        wait_for("gortd to close the connection", self.conn_closed, 60)
        self.stop()
        text = self.read_trace()
        fds = [int(m) for m in ACCEPT_RE.findall(text)]
        self.assertEqual(len(fds), 1, "one connection accepted: %s" % fds)
        counts = conn_calls(text, fds[0])
        total = sum(counts.values())
        per = {k: v for k, v in sorted(counts.items())}
        print("%d requests on one connection: %d system calls on it (%.3f "
              "per request): %s" % (N, total, total / N, per))
        self.assertLessEqual(total, 2 * N + CONSTANT, per)
        # and the two are the read and the write
        self.assertLessEqual(counts.get("read", 0) + counts.get("recvfrom", 0),
                             N + CONSTANT, per)
        # (a stream socket's: recv, and sendmsg for the head and body; send
        # shows as sendto in strace)
        self.assertGreaterEqual(sum(counts.get(k, 0) for k in (
            "writev", "write", "sendmsg", "sendto")), N, per)


if __name__ == "__main__":
    unittest.main(verbosity=2)
