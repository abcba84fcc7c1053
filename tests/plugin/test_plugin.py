#!/usr/bin/env python3
"""The plugin loader in the real gortd: a plugins directory holding hello.so,
a good plugin and one bad plugin per refusal. Each bad one is refused with a
message naming its file and the reason; gortd serves the rest.

usage: test_plugin.py GORTD BUNDLED_PLUGINS_DIR TEST_PLUGINS_DIR
"""
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd  # noqa: E402

GORTD = BUNDLED = BUILT = None


class Daemon(Gortd):
    """gortd with extra flags (tests/lib/gortd.py): .log is what it printed
    so far; stop() wants exit 0 and no sanitizer report."""

    n = 0  # daemons started: names their log and socket

    def __init__(self, tmp, extra, wait="http"):
        Daemon.n += 1
        super().__init__(GORTD, extra, name="gortd-%d" % Daemon.n, tmp=tmp,
                         control="unix:" + os.path.join(
                             tmp, "ctl-%d.sock" % Daemon.n), wait=wait)

    def get(self, path):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def install(src_dir, src, dst_dir, dst, mode=0o755):
    path = os.path.join(dst_dir, dst)
    shutil.copyfile(os.path.join(src_dir, src), path)
    os.chmod(path, mode)
    return path


class Refusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-plugin-")
        d = cls.dir = os.path.join(cls.tmp, "plugins")
        out = os.path.join(cls.tmp, "outside")
        os.mkdir(d)
        os.mkdir(out)
        install(BUNDLED, "hello.so", d, "hello.so")
        install(BUILT, "tp_good.so", d, "good.so")
        install(BUILT, "tp_nodesc.so", d, "nodesc.so")
        install(BUILT, "tp_abi999.so", d, "abi999.so")
        install(BUILT, "tp_initfail.so", d, "initfail.so")
        # after hello.so in sorted order, so that hello's /about is taken
        install(BUILT, "tp_conflict.so", d, "z_conflict.so")
        install(BUILT, "tp_good.so", d, "writable.so", 0o757)
        install(BUILT, "tp_good.so", d, "groupw.so", 0o775)
        install(BUILT, "tp_good.so", out, "evil.so")
        os.symlink("../outside/evil.so", os.path.join(d, "escape.so"))
        os.mkdir(os.path.join(d, "adir.so"))
        # Configurations (issue 10, item 14): a symlink is never followed,
        # one others can write is refused with its plugin.
        install(BUILT, "tp_good.so", d, "symconf.so")
        with open(os.path.join(out, "secret"), "w") as f:
            f.write("max_keys=1 password=hunter2\n")
        os.symlink(os.path.join(out, "secret"),
                   os.path.join(d, "symconf.conf"))
        install(BUILT, "tp_good.so", d, "gwconf.so")
        with open(os.path.join(d, "gwconf.conf"), "w") as f:
            f.write("x\n")
        os.chmod(os.path.join(d, "gwconf.conf"), 0o664)
        if os.geteuid() == 0:  # another user's file, as sshd refuses it
            install(BUILT, "tp_good.so", d, "nobody.so", 0o755)
            os.chown(os.path.join(d, "nobody.so"), 65534, 65534)
        cls.gortd = Daemon(cls.tmp, ["--plugins-dir", d])

    @classmethod
    def tearDownClass(cls):
        cls.gortd.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def refused(self, name, *reasons):
        """The refusal line for name, holding every one of reasons."""
        path = os.path.join(self.dir, name)
        lines = [line for line in self.gortd.log.splitlines()
                 if ('msg="plugin refused" file=%s ' % path) in line]
        self.assertEqual(len(lines), 1, self.gortd.log)
        for r in reasons:
            self.assertIn(r, lines[0])

    def test_no_descriptor(self):
        self.refused("nodesc.so", "no gort_plugin_descriptor symbol")

    def test_abi_999(self):
        self.refused("abi999.so", "built for plugin ABI 999",
                     "this gortd speaks ABI 1")

    def test_init_fails(self):
        self.refused("initfail.so", "init of plugin initfail failed",
                     "no database at localhost:5432")
        # Nothing of it is routed: hello.so's "/" (the seed's catch-all)
        # answers the path.
        self.assertEqual(self.gortd.get("/initfail"), (200, "hello world\n"))

    def test_conflicting_route(self):
        self.refused("z_conflict.so", r'pattern \"/about\"',
                     "owned by plugin hello from " +
                     os.path.join(self.dir, "hello.so"))
        self.assertIn("conflict: fini called", self.gortd.log)
        self.assertEqual(self.gortd.get("/conflict-first"),
                         (200, "hello world\n"))  # hello.so's "/"
        self.assertEqual(self.gortd.get("/about"), (200, "About page\n"))

    def test_symlink_out(self):
        self.refused("escape.so", "resolves to",
                     "outside the plugins directory")

    def test_world_writable(self):
        self.refused("writable.so", "writable by others")

    def test_group_writable(self):
        self.refused("groupw.so", "writable by group")

    def test_not_a_file(self):
        self.refused("adir.so", "not a regular file")

    def test_config_symlink(self):
        self.refused("symconf.so", "symconf.conf: configuration is a "
                     "symbolic link: refusing it")
        self.assertNotIn("hunter2", self.gortd.log)

    def test_config_group_writable(self):
        self.refused("gwconf.so", "gwconf.conf: writable by group (mode "
                     "0664): refusing a configuration others can change")

    def test_other_owner(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a file another user owns")
        self.refused("nobody.so", "err=\"owned by uid 65534, neither "
                     "root nor gortd's uid 0: refusing this plugin")

    def test_still_serves(self):
        self.assertEqual(self.gortd.get("/"), (200, "hello world\n"))
        self.assertEqual(self.gortd.get("/good"), (200, "good -\n"))
        self.assertIn('msg="plugins loaded" dir=%s plugins=2 routes=3' % self.dir,
                      self.gortd.log)


class StrictDir(unittest.TestCase):
    """The plugins directory and the ones above it (issue 10, item 14):
    gortd refuses to start on a directory others can write, naming it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-plugin-")
        self.dir = os.path.join(self.tmp, "top", "plugins")
        os.makedirs(self.dir)
        install(BUNDLED, "hello.so", self.dir, "hello.so")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def refuses(self, *reasons):
        g = Daemon(self.tmp, ["--plugins-dir", self.dir], wait=None)
        g.wait_exit(expect_rc=1)
        line = [x for x in g.log.splitlines()
                if 'msg="cannot open plugins directory"' in x]
        self.assertEqual(len(line), 1, g.log)
        for r in reasons:
            self.assertIn(r, line[0])

    def test_group_writable_dir(self):
        os.chmod(self.dir, 0o775)
        self.refuses("err=\"%s: writable by group (mode 0775)" % self.dir)

    def test_world_writable_parent(self):
        top = os.path.dirname(self.dir)
        os.chmod(top, 0o777)
        self.refuses("err=\"%s: writable by others (mode 0777)" % top)

    def test_sticky_parent_is_fine(self):
        # /tmp's arrangement: others may add entries, not rename ours.
        os.chmod(os.path.dirname(self.dir), 0o1777)
        g = Daemon(self.tmp, ["--plugins-dir", self.dir])
        self.assertIn('msg="plugins loaded"', g.log)
        g.stop()

    def test_other_owner_dir(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a directory another user owns")
        os.chown(self.dir, 65534, 65534)
        self.refuses("err=\"%s: owned by uid 65534" % self.dir)

    def test_dir_turns_writable_after_start(self):
        g = Daemon(self.tmp, ["--plugins-dir", self.dir])
        install(BUNDLED, "hello.so", self.dir, "later.so")
        os.chmod(self.dir, 0o777)
        g.send_signal(signal.SIGHUP)
        want = 'msg="rescan step failed" plugin=later.so'
        deadline = time.monotonic() + 30
        while want not in g.log and time.monotonic() < deadline:
            time.sleep(0.05)
        line = [x for x in g.log.splitlines() if want in x]
        self.assertEqual(len(line), 1, g.log)
        self.assertIn('err="%s: writable by others (mode 0777)' % self.dir,
                      line[0])
        os.chmod(self.dir, 0o755)
        g.stop()


class NoPlugins(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gort-plugin-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_no_flag_no_routes(self):
        g = Daemon(self.tmp, [])
        try:
            self.assertIn("no -plugins-dir", g.log)
            self.assertEqual(g.get("/")[0], 404)
        finally:
            g.stop()

    def test_missing_dir(self):
        g = Daemon(self.tmp, ["--plugins-dir", self.tmp + "/nope"],
                   wait=None)
        self.assertEqual(g.wait_exit(expect_rc=1), 1)
        self.assertIn('dir=%s/nope err="No such file' % self.tmp,
                      g.log)


def main():
    global GORTD, BUNDLED, BUILT
    GORTD, BUNDLED, BUILT = sys.argv[1:4]
    prog = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    res = prog.result
    print("%d passed, %d failed" % (res.testsRun - len(res.failures) -
                                    len(res.errors),
                                    len(res.failures) + len(res.errors)))
    sys.exit(0 if res.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
