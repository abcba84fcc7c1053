"""gortd.py — what every black-box test of gortd shares: start the real
daemon, learn its port, stop it and hold it to a clean exit.

Every gortd a test starts goes through Gortd, and every one is stopped
through Gortd.stop() (or Gortd.wait_exit() when the test made it exit
itself), which asserts the exit status (0 unless the test says otherwise)
and fails on any sanitizer report in its log: a leak on an error path, a
UB report or a data race fails the test that caused it, with the log's tail
printed, instead of passing quietly because nobody looked at the log.

    from gortd import Gortd
    with Gortd(GORTD, ["--plugins-dir", plugins]) as d:   # stop() on exit
        http.client.HTTPConnection("127.0.0.1", d.port) ...

The port: gortd listens on 127.0.0.1:0 and the kernel's pick is read from
its log line ("serving HTTP on HOST:PORT (...)" or, in logfmt,
msg="serving HTTP" addr=HOST:PORT), so no other process can take the port
in between. Output (stdout and stderr) goes to a log file in the daemon's
own temporary directory, which also holds its control socket.

grpc_stubs(PROTO_DIR) generates the Python gRPC stubs of the control-plane
protos (grpc_tools when installed, else protoc and grpc_python_plugin, as
Debian ships them), once per build tree: they are cached under
$GORT_TEST_CACHE (CMake points it into the build tree) by a hash of the
.proto files, so a proto change regenerates them.

Run as a script, it prints the stub directory for the shell tests:
    python3 gortd.py stubs PROTO_DIR
"""
import atexit
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# Bounds that only keep a broken run from hanging (sanitizer builds start
# and stop slowly; the shutdown timeout is 30 s by default).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
LOG_TAIL = 8000  # characters of the log shown when a check fails

# Both log formats: "serving HTTP on HOST:PORT (GOMAXPROCS=N)" and logfmt
# msg="serving HTTP" addr=HOST:PORT. HOST may be [v6].
SERVING_RE = re.compile(r'serving HTTP(?: on |" addr=)"?\S*:(\d+)\b')
CONTROL_RE = re.compile(
    r'control plane listening(?: on |" addr=)"?(\S+?)"?(?:\s|$)', re.M)

# A report from any sanitizer gort is built with (-fno-sanitize-recover:
# ASan and UBSan abort, TSan reports and goes on, exiting 66 at the end).
SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
    r"UndefinedBehaviorSanitizer|runtime error:|WARNING: ThreadSanitizer|"
    r"ThreadSanitizer: reported")


def sanitizer(name):
    """True when this tree is built with sanitizer name ("address",
    "thread", "undefined"): CMake passes GORT_SANITIZER to the tests."""
    return name in os.environ.get("GORT_SANITIZER", "").split(",")


def scale(n, tsan_max=None, asan_div=None):
    """A count for this build, as the runtime tests' rt_scale: at most
    tsan_max under ThreadSanitizer, n / asan_div under AddressSanitizer."""
    if tsan_max is not None and sanitizer("thread"):
        return min(n, tsan_max)
    if asan_div and sanitizer("address"):
        return max(1, n // asan_div)
    return n


def wait_for(what, pred, timeout=60):
    """Polls pred until it is true; the bound only keeps a broken run from
    hanging (tests wait for a state, never for a time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def sanitizer_reports(text):
    """The lines of text that start or summarise a sanitizer report."""
    return [ln for ln in text.splitlines() if SANITIZER_RE.search(ln)]


# Temporary directories of daemons that exited cleanly: removed when the
# test process ends (tests may read a log after stop()). A failed daemon's
# directory stays for inspection; its path is in the failure message.
_clean_dirs = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True)
                         for d in _clean_dirs])


class GortdError(AssertionError):
    """gortd did not start, did not stop, exited wrongly or reported."""


class Gortd:
    """One gortd. Started by the constructor; .port is the HTTP port,
    .control the control-plane address, .log what it printed so far.

    args        extra flags (after --listen and --control)
    env         variables added to (or, when None, removed from) the
                inherited environment
    plugins_dir --plugins-dir, when given
    control     --control; default unix:TMP/ctl.sock
    prefix      argv before gortd's (a launcher that execs it)
    pass_fds    descriptors gortd inherits (subprocess's pass_fds)
    wait        "http" (the serving line), "control" (that and the control
                socket answering), or None (do not wait: a test that
                expects gortd to exit at once, see wait_exit)
    """

    def __init__(self, gortd, args=(), env=None, plugins_dir=None,
                 control=None, listen="127.0.0.1:0", wait="http",
                 name="gortd", preexec=None, tmp=None, prefix=(),
                 pass_fds=()):
        self.tmp = tmp or tempfile.mkdtemp(prefix="gort-%s-" % name)
        self.own_tmp = tmp is None
        self.name = name
        self.log_path = os.path.join(self.tmp, name + ".log")
        self.control = control or "unix:" + os.path.join(self.tmp, "ctl.sock")
        self.port = None
        self.rc = None
        argv = list(prefix) + [gortd]
        if listen is not None:
            argv += ["--listen", listen]
        argv += ["--control", self.control]
        if plugins_dir is not None:
            argv += ["--plugins-dir", plugins_dir]
        argv += list(args)
        self.argv = argv
        e = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=e,
                                         preexec_fn=preexec,
                                         pass_fds=pass_fds)
        self.pid = self.proc.pid
        if wait:
            try:
                self._wait_ready(wait)
            except BaseException:
                self.kill()
                raise

    # ---- starting --------------------------------------------------------

    @property
    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def tail(self, n=LOG_TAIL):
        log = self.log
        return log if len(log) <= n else "...\n" + log[-n:]

    def _wait_ready(self, what):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            log = self.log
            m = SERVING_RE.search(log)
            if m and (what != "control" or self._control_ready(log)):
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise GortdError("%s exited %s while starting: %s\nlog %s:\n%s"
                                 % (self.name, self.proc.returncode,
                                    " ".join(self.argv), self.log_path,
                                    self.tail()))
            time.sleep(0.02)
        raise GortdError("%s did not start within %.0f s; log %s:\n%s"
                         % (self.name, START_TIMEOUT, self.log_path,
                            self.tail()))

    def _control_ready(self, log):
        if not CONTROL_RE.search(log):
            return False
        if self.control.startswith("unix:"):
            return os.path.exists(self.control[5:])
        return True

    def control_addr(self):
        """The control plane's bound address from the log (TCP port 0 is
        the kernel's pick), or None."""
        m = CONTROL_RE.search(self.log)
        return m.group(1) if m else None

    # ---- stopping --------------------------------------------------------

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc.poll() is None

    def wait_exit(self, expect_rc=0, timeout=STOP_TIMEOUT):
        """Waits (bounded) for an exit the test caused; asserts its status
        and a log free of sanitizer reports. Returns the status."""
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise GortdError("%s did not exit within %.0f s (killed); log "
                             "%s:\n%s" % (self.name, timeout, self.log_path,
                                          self.tail()))
        self.check(expect_rc)
        return self.rc

    def check(self, expect_rc=0):
        """Asserts the exit status and a log without sanitizer reports."""
        reports = sanitizer_reports(self.log)
        if self.rc != expect_rc or reports:
            why = []
            if self.rc != expect_rc:
                why.append("exit status %s, want %s" % (self.rc, expect_rc))
            if reports:
                why.append("sanitizer report: " + "; ".join(reports[:5]))
            raise GortdError("%s (%s): %s; log %s:\n%s"
                             % (self.name, " ".join(self.argv[1:]),
                                ", ".join(why), self.log_path, self.tail()))
        if self.own_tmp:
            _clean_dirs.append(self.tmp)

    def cleanup(self):
        """Removes the temporary directory (log, socket) it made."""
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self, expect_rc=0, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """sig (SIGTERM), then wait_exit(expect_rc). A gortd that exited
        already is only checked. Returns the status."""
        if self.rc is not None:
            return self.rc  # stopped and checked before
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(expect_rc, timeout)

    def kill(self):
        """SIGKILL without checks: a test that failed already, or a crash
        the test means to cause."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, etype, e, tb):
        if etype is None:
            self.stop()
            self.cleanup()
        elif self.rc is None:
            # The test failed already: stop anyway, but report a bad exit
            # without hiding the test's own error.
            try:
                self.stop()
            except GortdError as err:
                sys.stderr.write("%s\n" % err)
        return False


# ---- gRPC stubs --------------------------------------------------------------

def _proto_hash(proto_dir, files):
    h = hashlib.sha1()
    for f in files:
        with open(os.path.join(proto_dir, f), "rb") as fp:
            h.update(f.encode() + b"\0" + fp.read())
    h.update(sys.executable.encode())
    return h.hexdigest()[:16]


def grpc_stubs(proto_dir, cache=None):
    """Python stubs of gort/v1/control.proto and grpc/health/v1/health.proto
    (compiled as gort_health/health.proto: a generated top-level "grpc"
    package would shadow grpcio's own). Generated once into the cache
    directory ($GORT_TEST_CACHE, else the system's temporary directory),
    put first on sys.path; returns the directory."""
    files = ["gort/v1/control.proto", "grpc/health/v1/health.proto"]
    cache = cache or os.environ.get("GORT_TEST_CACHE") or \
        os.path.join(tempfile.gettempdir(), "gort-test-cache-%d" % os.getuid())
    out = os.path.join(cache, "pystubs-" + _proto_hash(proto_dir, files))
    if not os.path.isdir(out):
        _generate(proto_dir, cache, out)
    if out not in sys.path:
        sys.path.insert(0, out)
    return out


def _generate(proto_dir, cache, out):
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gen-", dir=cache)
    try:
        src, py = os.path.join(work, "src"), os.path.join(work, "py")
        os.makedirs(os.path.join(src, "gort_health"))
        os.makedirs(py)
        shutil.copy(os.path.join(proto_dir, "grpc/health/v1/health.proto"),
                    os.path.join(src, "gort_health"))
        shutil.copytree(os.path.join(proto_dir, "gort"),
                        os.path.join(src, "gort"))
        try:
            import grpc_tools  # noqa: F401
            cmd = [sys.executable, "-m", "grpc_tools.protoc"]
        except ImportError:
            plugin = shutil.which("grpc_python_plugin")
            if not plugin:
                raise RuntimeError("neither grpc_tools nor grpc_python_plugin")
            cmd = ["protoc", "--plugin=protoc-gen-grpc_python=" + plugin]
        subprocess.run(cmd + ["-I", src, "--python_out=" + py,
                              "--grpc_python_out=" + py,
                              "gort/v1/control.proto",
                              "gort_health/health.proto"], check=True)
        # Tests running in parallel may generate at once: the first rename
        # wins, the others find the directory there and use it.
        try:
            os.rename(py, out)
        except OSError:
            if not os.path.isdir(out):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "stubs":
        print(grpc_stubs(*sys.argv[2:]))
    else:
        sys.exit("usage: gortd.py stubs PROTO_DIR [CACHE_DIR]")
