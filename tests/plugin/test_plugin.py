#!/usr/bin/env python3
"""The plugin loader in the real gortd: a plugins directory holding hello.so,
a good plugin and one bad plugin per refusal. Each bad one is refused with a
message naming its file and the reason; gortd serves the rest.

usage: test_plugin.py GORTD BUNDLED_PLUGINS_DIR TEST_PLUGINS_DIR
"""
import os
import shutil
import sys
import tempfile
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

    def test_still_serves(self):
        self.assertEqual(self.gortd.get("/"), (200, "hello world\n"))
        self.assertEqual(self.gortd.get("/good"), (200, "good -\n"))
        self.assertIn('msg="plugins loaded" dir=%s plugins=2 routes=3' % self.dir,
                      self.gortd.log)


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
