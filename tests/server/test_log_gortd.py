#!/usr/bin/python3
"""gortd's log as its readers see it: the real daemon, both formats.

A plugins directory whose name holds a quote, a space, '=', a newline and a
byte that is not UTF-8 (hello.so loads from it, a bad plugin is refused),
a malformed request, SIGTERM. Every line gortd wrote must be one whole
record: with --log-format json each line is a JSON object (Python's json
module), the hostile path comes back as written (invalid bytes as U+FFFD);
in logfmt the number of lines is the number of records and the serving
line has its documented shape. Bad -log-format/-log-level values exit 2.

usage: test_log_gortd.py GORTD PLUGINS_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

GORTD = None
PLUGINS = None
SERVING = re.compile(r'^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z '
                     r'level=info msg="serving HTTP" '
                     r'addr=127\.0\.0\.1:(\d+) gomaxprocs=\d+$')


class Run:
    """gortd over a hostile plugins directory; .lines once stopped."""

    def __init__(self, tmp, fmt):
        self.dir = os.path.join(tmp.encode(), b'we"ird =dir\nx\xff')
        os.mkdir(self.dir, 0o755)
        for name in (b"hello.so", b"bad.so"):
            dst = os.path.join(self.dir, name)
            if name == b"hello.so":
                shutil.copy(os.path.join(PLUGINS.encode(), name), dst)
            else:
                with open(dst, "wb") as f:
                    f.write(b"not an ELF file\n")
            os.chmod(dst, 0o644)
        self.logpath = os.path.join(tmp, "gortd-%s.log" % fmt)
        args = [GORTD.encode(), b"--listen", b"127.0.0.1:0",
                b"--control", ("unix:%s/ctl-%s.sock" % (tmp, fmt)).encode(),
                b"--plugins-dir", self.dir, b"--log-format", fmt.encode()]
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "strict")  # always valid UTF-8

    def wait_for(self, pred):
        deadline = time.time() + 20
        while time.time() < deadline:
            v = pred(self.text())
            if v:
                return v
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("gortd log: " + self.text())

    def bad_request(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
            self.reply = s.recv(4096)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        self.lines = self.text().split("\n")
        assert self.lines[-1] == "", "no newline after the last record"
        self.lines.pop()
        return rc


class Json(unittest.TestCase):
    def test_every_line_is_json(self):
        tmp = tempfile.mkdtemp(prefix="gort-log-")
        try:
            r = Run(tmp, "json")
            port = r.wait_for(lambda t: [
                json.loads(line)["addr"] for line in t.splitlines()
                if '"msg":"serving HTTP"' in line])[0].rsplit(":", 1)[1]
            r.bad_request(int(port))
            self.assertIn(b" 400 ", r.reply)
            self.assertEqual(r.stop(), 0)
            recs = [json.loads(line) for line in r.lines]
            for rec in recs:
                self.assertEqual(list(rec)[:3], ["time", "level", "msg"])
                self.assertRegex(rec["time"],
                                 r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            msgs = [rec["msg"] for rec in recs]
            for m in ("control plane listening", "plugin loaded",
                      "plugin refused", "plugins loaded", "serving HTTP",
                      "request refused", "shutting down"):
                self.assertIn(m, msgs)
            path = r.dir.decode("utf-8", "replace")
            loaded = recs[msgs.index("plugin loaded")]
            self.assertEqual(loaded["file"], path + "/hello.so")
            self.assertEqual((loaded["plugin"], loaded["routes"]),
                             ("hello", 2))
            refused = recs[msgs.index("plugin refused")]
            self.assertEqual(refused["level"], "error")
            self.assertEqual(refused["file"], path + "/bad.so")
            self.assertIn("dlopen", refused["err"])
            bad = recs[msgs.index("request refused")]
            self.assertEqual((bad["level"], bad["status"]), ("info", 400))
            self.assertTrue(bad["peer"].startswith("127.0.0.1:"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Logfmt(unittest.TestCase):
    def test_one_line_per_record(self):
        tmp = tempfile.mkdtemp(prefix="gort-log-")
        try:
            r = Run(tmp, "logfmt")
            r.wait_for(lambda t: 'msg="serving HTTP"' in t)
            self.assertEqual(r.stop(), 0)
            self.assertEqual([line.split(" ")[2] for line in r.lines], [
                'msg="open', 'msg="control', 'msg="plugin', 'msg="plugin',
                'msg="plugins', 'msg="serving', 'msg="shutting'])
            for line in r.lines:
                self.assertRegex(line, r"^time=\S+Z level=(info|error) msg=")
            self.assertRegex(r.lines[0],
                             r'msg="open files limit" nofile=\d+ was=\d+$')
            self.assertRegex(r.lines[5], SERVING)
            quoted = tmp + '/we\\"ird =dir\\nx\\xff/'
            self.assertIn('level=error msg="plugin refused" file="%sbad.so" '
                          'err="dlopen: ' % quoted, r.lines[2])
            self.assertIn('level=info msg="plugin loaded" plugin=hello '
                          'version=1.0.0 file="%shello.so" routes=2' % quoted,
                          r.lines[3])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Flags(unittest.TestCase):
    def test_bad_values_exit_2(self):
        for flag, val, want in (
                ("--log-format", "xml", "want logfmt or json"),
                ("--log-level", "verbose",
                 "want debug, info, warn or error")):
            p = subprocess.run([GORTD, flag, val], capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn('invalid value "%s" for flag -%s: %s' %
                          (val, flag[2:], want), p.stderr)

    def test_level_warn_hides_info(self):
        tmp = tempfile.mkdtemp(prefix="gort-log-")
        try:
            with socket.socket() as s:  # a free port (info would name it)
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            log = os.path.join(tmp, "gortd.log")
            with open(log, "w") as f:
                p = subprocess.Popen(
                    [GORTD, "--listen", "127.0.0.1:%d" % port, "--control",
                     "unix:%s/c.sock" % tmp, "--log-level", "warn"],
                    stdout=f, stderr=f)
            deadline = time.time() + 20
            while time.time() < deadline and p.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(20)
            with open(log) as f:
                lines = f.read().splitlines()
            self.assertEqual(rc, 0, lines)
            # Started, served, stopped: of all that, only the warning that
            # no -plugins-dir was given is at warn or above.
            self.assertEqual(len(lines), 1, lines)
            self.assertRegex(lines[0], r'^time=\S+Z level=warn '
                             r'msg="serving no routes" '
                             r'reason="no -plugins-dir"$')
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    GORTD, PLUGINS = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
