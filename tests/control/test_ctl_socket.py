#!/usr/bin/env python3
"""Where the control socket lives, and who may pose as gortd (issue 10,
item 11), against the real gortd and gortctl.

Without XDG_RUNTIME_DIR or RUNTIME_DIRECTORY the default socket is
$TMPDIR/gortd-UID/gortd.sock in a private directory gortd creates mode
0700; a directory squatted there first (wrong mode, someone else's, a
symlink) makes gortd refuse to start, naming it. TMPDIR points into a
directory of the test's own, so nothing touches the machine's /tmp.
gortctl checks who serves a Unix socket (SO_PEERCRED) and refuses another
user's. Cases that need a second user chown to nobody, which needs root.

usage: test_ctl_socket.py GORTD GORTCTL
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd, wait_for  # noqa: E402

GORTD = GORTCTL = None
NOBODY = 65534
ROOT = os.geteuid() == 0


def default_env(tmpdir):
    """The environment of a gortd/gortctl that uses the default address
    with its private directory under tmpdir."""
    e = dict(os.environ)
    e.pop("XDG_RUNTIME_DIR", None)
    e.pop("RUNTIME_DIRECTORY", None)
    e["TMPDIR"] = tmpdir
    return e


class DefaultSocket(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-sock-")
        self.priv = os.path.join(self.tmp, "gortd-%d" % os.geteuid())
        self.env = default_env(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, wait=True):
        """gortd without --control: the default address."""
        log = open(os.path.join(self.tmp, "gortd.log"), "wb")
        p = subprocess.Popen([GORTD, "--listen", "127.0.0.1:0"], stdout=log,
                             stderr=log, env=self.env)
        log.close()
        return p

    def log(self):
        with open(os.path.join(self.tmp, "gortd.log")) as f:
            return f.read()

    def refused(self, *reasons):
        p = self.start()
        try:
            rc = p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("gortd started in a squatted directory:\n" + self.log())
        self.assertEqual(rc, 1, self.log())
        line = [x for x in self.log().splitlines()
                if 'msg="cannot start the control plane"' in x]
        self.assertEqual(len(line), 1, self.log())
        for r in reasons:
            self.assertIn(r, line[0])
        self.assertFalse(os.path.exists(os.path.join(self.priv,
                                                     "gortd.sock")))

    def test_creates_private_dir_and_serves(self):
        p = self.start()
        try:
            sock = os.path.join(self.priv, "gortd.sock")
            wait_for("the default socket", lambda: os.path.exists(sock)
                     and "control plane listening" in self.log())
            st = os.lstat(self.priv)
            self.assertEqual(st.st_mode & 0o7777, 0o700)
            self.assertEqual(st.st_uid, os.geteuid())
            self.assertIn("addr=unix:%s" % sock, self.log())
            # gortctl finds it by the same rule.
            r = subprocess.run([GORTCTL, "stats"], env=self.env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("GOMAXPROCS", r.stdout)
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(60), 0, self.log())

    def test_dir_with_wrong_mode(self):
        os.mkdir(self.priv, 0o755)
        os.chmod(self.priv, 0o755)
        self.refused("%s has mode 0755, want 0700" % self.priv)

    def test_dir_of_another_user(self):
        if not ROOT:
            self.skipTest("needs root to make a directory nobody owns")
        os.mkdir(self.priv, 0o700)
        os.chown(self.priv, NOBODY, NOBODY)
        self.refused("%s is owned by uid %d, not by this user" %
                     (self.priv, NOBODY), "someone else may have created it")

    def test_dir_is_a_symlink(self):
        os.mkdir(os.path.join(self.tmp, "elsewhere"), 0o700)
        os.symlink(os.path.join(self.tmp, "elsewhere"), self.priv)
        self.refused("%s is not a directory" % self.priv)


class ExplicitSocket(unittest.TestCase):
    """--control unix:PATH: the directory and the names in it must be ours."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-sock-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def refused(self, control, *reasons):
        g = Gortd(GORTD, control=control, wait=None, tmp=self.tmp)
        g.wait_exit(expect_rc=1)
        for r in reasons:
            self.assertIn(r, g.log)

    def test_world_writable_dir(self):
        d = os.path.join(self.tmp, "open")
        os.mkdir(d)
        os.chmod(d, 0o777)
        self.refused("unix:%s/ctl.sock" % d, "control socket directory %s "
                     "is writable by others (mode 0777)" % d)

    def test_lock_file_of_another_user(self):
        if not ROOT:
            self.skipTest("needs root to make a file nobody owns")
        d = os.path.join(self.tmp, "sticky")
        os.mkdir(d)
        os.chmod(d, 0o1777)  # /tmp's arrangement: the names can be squatted
        lock = os.path.join(d, "ctl.sock.lock")
        open(lock, "w").close()
        os.chown(lock, NOBODY, NOBODY)
        self.refused("unix:%s/ctl.sock" % d, "lock file %s is owned by uid "
                     "%d, not by this user" % (lock, NOBODY))


class PeerCheck(unittest.TestCase):
    """gortctl refuses a socket another (non-root) user serves."""

    def test_socket_served_by_nobody(self):
        if not ROOT:
            self.skipTest("needs root to serve a socket as nobody")
        tmp = tempfile.mkdtemp(prefix="gort-sock-")
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "fake.sock")
        # A listener as nobody: the impostor. It never answers; gortctl
        # must refuse before sending anything.
        code = ("import socket,sys,time\n"
                "s=socket.socket(socket.AF_UNIX)\n"
                "s.bind(sys.argv[1]); s.listen(8)\n"
                "print('up', flush=True); time.sleep(60)\n")

        def drop():
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        os.chmod(tmp, 0o777)  # nobody creates the socket here
        p = subprocess.Popen([sys.executable, "-c", code, path],
                             stdout=subprocess.PIPE, preexec_fn=drop)
        try:
            self.assertEqual(p.stdout.readline().strip(), b"up")
            os.chmod(tmp, 0o755)
            r = subprocess.run([GORTCTL, "--addr", "unix:" + path, "stats"],
                               capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("unix:%s is served by uid %d (pid %d), neither you "
                          "(uid 0) nor root nor the owner of its directory: "
                          "refusing to talk to it" % (path, NOBODY, p.pid),
                          r.stderr)
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_service_user_owning_the_path_accepted(self):
        """root's gortctl and a gortd running as a service user (systemd's
        User= with RuntimeDirectory=): the peer owns the directory, which
        nobody else can write, and the socket in it."""
        if not ROOT:
            self.skipTest("needs root to run gortd as nobody")
        tmp = tempfile.mkdtemp(prefix="gort-sock-")
        os.chmod(tmp, 0o755)
        run = os.path.join(tmp, "run")
        os.mkdir(run, 0o700)
        os.chown(run, NOBODY, NOBODY)

        def drop():
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        g = Gortd(GORTD, control="unix:%s/gortd.sock" % run, wait="control",
                  tmp=tmp, preexec=drop)
        try:
            r = subprocess.run([GORTCTL, "--addr", g.control, "stats"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("GOMAXPROCS", r.stdout)
            # The same gortd's socket in a directory others may write is
            # not trusted: anyone could have put it there.
            os.chmod(run, 0o777)
            r = subprocess.run([GORTCTL, "--addr", g.control, "stats"],
                               capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("neither you (uid 0) nor root nor the owner of its "
                          "directory", r.stderr)
            os.chmod(run, 0o700)
        finally:
            g.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_own_socket_accepted(self):
        with Gortd(GORTD, wait="control") as g:
            r = subprocess.run([GORTCTL, "--addr", g.control, "stats"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)


def main():
    global GORTD, GORTCTL
    GORTD, GORTCTL = sys.argv[1:3]
    prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
