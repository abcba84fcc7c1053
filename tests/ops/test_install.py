"""`cmake --install` for operators: into a temporary prefix, the units and
the logrotate snippet land where systemd and logrotate look, name the
installed gortd and plugins, pass `systemd-analyze verify` (where it is
installed), and the installed gortd, started the way the unit starts it,
serves the installed plugins and answers the installed gortctl.

The README's plugin example (between its plugin-example markers) is built
against the installed SDK as the README says, once with pkg-config (the
prefix's gort.pc) and once with its find_package(gort) snippet (the
prefix's CMake package), and the installed gortd serves both: the first
loaded from --plugins-dir at start, the second dropped into the directory
of a running gortd and loaded with the installed `gortctl plugins load`.
(tests/plugin/test_sdk.sh does the same against the build tree's gortd.)

usage: test_install.py CMAKE BUILD_DIR
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gortd import Gortd  # noqa: E402

CMAKE, BUILD = sys.argv[1:3]
del sys.argv[1:3]
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "README.md")


def readme_plugin():
    """The README's example plugin (the C block between the markers) and
    the first ```cmake block after it (the find_package snippet)."""
    with open(README) as f:
        text = f.read()
    m = re.search(r"<!-- plugin-example:begin -->\n```c\n(.*?)```\n"
                  r"<!-- plugin-example:end -->(.*?)```cmake\n(.*?)```",
                  text, re.S)
    assert m, "no plugin example between the markers in " + README
    return m.group(1), m.group(3)


def read(path):
    with open(path) as f:
        return f.read()


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=30) as r:
        return r.read()


def exec_start(unit):
    """The service's ExecStart as an argv (continuation lines joined)."""
    with open(unit) as f:
        text = f.read().replace("\\\n", " ")
    line = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")][0]
    return shlex.split(line[len("ExecStart="):])


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        subprocess.run([CMAKE, "--install", BUILD, "--prefix", cls.prefix],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
        cls.units = os.path.join(cls.prefix, "lib", "systemd", "system")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_units_name_the_installed_files(self):
        argv = exec_start(os.path.join(self.units, "gortd.service"))
        self.assertEqual(argv[0], os.path.join(self.prefix, "bin", "gortd"))
        plugins = argv[argv.index("--plugins-dir") + 1]
        self.assertEqual(sorted(os.listdir(plugins)),
                         ["echo.so", "fanout.so", "hello.so", "kv.so",
                          "proxy.so", "slow.so"])
        service = read(os.path.join(self.units, "gortd.service"))
        for want in ["Type=notify", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "PrivateTmp=yes",
                     "RuntimeDirectory=gortd", "LimitNOFILE=",
                     "WatchdogSec=", "Restart=on-failure"]:
            self.assertIn(want, service)
        socket_unit = read(os.path.join(self.units, "gortd.socket"))
        self.assertIn("ListenStream=", socket_unit)
        rot = read(os.path.join(self.prefix, "etc", "logrotate.d", "gortd"))
        self.assertIn("--signal=SIGUSR1", rot)
        self.assertIn("/var/log/gortd/", rot)

    @unittest.skipUnless(shutil.which("systemd-analyze"),
                         "systemd-analyze is not installed")
    def test_systemd_analyze_verify(self):
        p = subprocess.run(
            ["systemd-analyze", "verify",
             os.path.join(self.units, "gortd.service"),
             os.path.join(self.units, "gortd.socket")],
            capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stderr.decode().strip(), "")

    def test_installed_gortd_and_gortctl(self):
        argv = exec_start(os.path.join(self.units, "gortd.service"))
        plugins = argv[argv.index("--plugins-dir") + 1]
        with Gortd(argv[0], plugins_dir=plugins) as d:
            with urllib.request.urlopen("http://127.0.0.1:%d/about" % d.port,
                                        timeout=30) as r:
                self.assertEqual(r.read(), b"About page\n")
            out = subprocess.run(
                [os.path.join(self.prefix, "bin", "gortctl"), "-addr",
                 d.control, "plugins", "list"], capture_output=True, timeout=60,
                check=True).stdout.decode()
            for name in ["hello", "echo", "kv", "slow"]:
                self.assertIn(name, out)

    def build_readme_plugin(self):
        """greet.so twice, against the installed SDK only: (pkg-config
        build, CMake build)."""
        src, snippet = readme_plugin()
        self.assertIn("find_package(gort", snippet)
        work = os.path.join(self.tmp, "greet")
        os.makedirs(work)
        with open(os.path.join(work, "greet.c"), "w") as f:
            f.write(src)
        pcdirs = [os.path.dirname(os.path.join(root, "gort.pc"))
                  for root, _, files in os.walk(self.prefix)
                  if "gort.pc" in files]
        self.assertEqual(len(pcdirs), 1, pcdirs)
        env = dict(os.environ, PKG_CONFIG_PATH=pcdirs[0])
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gort"],
                               env=env, capture_output=True, text=True,
                               check=True, timeout=60).stdout.split()
        self.assertTrue(any(f.startswith("-I" + self.prefix) for f in flags),
                        flags)
        subprocess.run(["cc", "-shared", "-fPIC"] + flags +
                       ["-o", "greet.so", "greet.c"], cwd=work, check=True,
                       timeout=120)
        cm = os.path.join(self.tmp, "greet-cmake")
        os.makedirs(cm)
        shutil.copy(os.path.join(work, "greet.c"), cm)
        with open(os.path.join(cm, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.16)\n"
                    "project(greet C)\n" + snippet)
        out = os.path.join(cm, "build")
        subprocess.run([CMAKE, "-S", cm, "-B", out,
                        "-DCMAKE_PREFIX_PATH=" + self.prefix],
                       check=True, capture_output=True, timeout=120)
        with open(os.path.join(out, "CMakeCache.txt")) as f:
            found = re.search(r"^gort_DIR:PATH=(.*)$", f.read(), re.M)
        self.assertTrue(found and found.group(1).startswith(self.prefix),
                        found and found.group(1))
        subprocess.run([CMAKE, "--build", out], check=True,
                       capture_output=True, timeout=120)
        return (os.path.join(work, "greet.so"),
                os.path.join(out, "greet.so"))

    def test_readme_plugin_in_the_installed_gortd(self):
        pc_so, cmake_so = self.build_readme_plugin()
        gortd = os.path.join(self.prefix, "bin", "gortd")
        gortctl = os.path.join(self.prefix, "bin", "gortctl")
        installed = exec_start(os.path.join(self.units, "gortd.service"))
        installed = installed[installed.index("--plugins-dir") + 1]
        for so, at_start in [(pc_so, True), (cmake_so, False)]:
            pdir = os.path.join(self.tmp, "plugins-%d" % at_start)
            os.makedirs(pdir)
            os.chmod(pdir, 0o755)
            shutil.copy(os.path.join(installed, "hello.so"), pdir)
            if at_start:
                shutil.copy(so, pdir)
            with Gortd(gortd, plugins_dir=pdir, wait="control") as d:
                if not at_start:
                    shutil.copy(so, pdir)
                    subprocess.run([gortctl, "--addr", d.control, "plugins",
                                    "load", "greet"], check=True,
                                   capture_output=True, timeout=60)
                self.assertEqual(get(d.port, "/greet/world"),
                                 b"hello, world\n")
                self.assertEqual(get(d.port, "/about"), b"About page\n")
                self.assertIn('plugin=greet version=1.0.0 file=%s/greet.so'
                              % pdir, d.log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
