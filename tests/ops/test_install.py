"""`cmake --install` for operators: into a temporary prefix, the units and
the logrotate snippet land where systemd and logrotate look, name the
installed gortd and plugins, pass `systemd-analyze verify` (where it is
installed), and the installed gortd, started the way the unit starts it,
serves the installed plugins and answers the installed gortctl.

usage: test_install.py CMAKE BUILD_DIR
"""
import os
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


def exec_start(unit):
    """The service's ExecStart as an argv (continuation lines joined)."""
    text = open(unit).read().replace("\\\n", " ")
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
        service = open(os.path.join(self.units, "gortd.service")).read()
        for want in ["Type=notify", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "PrivateTmp=yes",
                     "RuntimeDirectory=gortd", "LimitNOFILE=",
                     "WatchdogSec=", "Restart=on-failure"]:
            self.assertIn(want, service)
        socket_unit = open(os.path.join(self.units, "gortd.socket")).read()
        self.assertIn("ListenStream=", socket_unit)
        rot = open(os.path.join(self.prefix, "etc", "logrotate.d",
                                "gortd")).read()
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
