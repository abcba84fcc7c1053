#!/usr/bin/python3
"""gortd's range checks of its numeric flags, seen as an operator sees
them: a value out of range exits 2 with exactly one line on stderr, the
flag's own message; the bounds themselves are accepted (the run goes on to
a later check, an -admin address that is not loopback, and stops there);
with several bad values the first check in gortd's order speaks.

usage: test_flags_gortd.py GORTD
"""
import subprocess
import sys
import unittest

GORTD = sys.argv[1]
del sys.argv[1]

HEADER = "-max-header-bytes must be at least 1024"
BODY = "-max-body-bytes must be >= 0 (0: no limit)"
CONNS = "-max-conns must be between 1 and 2147483647"
BUFFER = ("-max-buffer-bytes must hold one largest head: at least "
          "-max-header-bytes + 4096")
TIMEOUTS = "timeouts must be >= 0 (0: no bound)"
STREAMS = "-control-max-streams must be 1..100000"
THREADS = ("-max-threads must be from 2 to 1000000, -max-blocking-threads "
           "from 1 to 1000000")
# The check after the ranges: it proves every range above let the run by.
LATER = ("-admin 192.0.2.1:1: not a loopback address; use a loopback "
         "address (127.0.0.1:PORT) or add -admin-insecure")

TIMEOUT_FLAGS = ("read-header-timeout", "read-timeout", "body-idle-timeout",
                 "idle-timeout", "write-timeout", "shutdown-timeout")


def gortd(*args):
    """(exit status, stderr) of gortd ARGS, which must stop at its checks
    (the -admin check stops it when the ranges pass)."""
    r = subprocess.run([GORTD, "--admin", "192.0.2.1:1"] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


class Ranges(unittest.TestCase):
    def refused(self, message, *args):
        self.assertEqual(gortd(*args), (2, "gortd: %s\n" % message), args)

    def test_out_of_range(self):
        cases = [
            (HEADER, "--max-header-bytes", "1023"),
            (HEADER, "--max-header-bytes", "-1"),
            (BODY, "--max-body-bytes", "-1"),
            (CONNS, "--max-conns", "0"),
            (CONNS, "--max-conns", "2147483648"),
            (BUFFER, "--max-header-bytes", "1024", "--max-buffer-bytes",
             "5119"),
            (BUFFER, "--max-buffer-bytes", str((1 << 20) + 4095)),
            # The sum must not wrap (UBSan's signed overflow before).
            (BUFFER, "--max-header-bytes", str((1 << 63) - 1)),
            (STREAMS, "--control-max-streams", "0"),
            (STREAMS, "--control-max-streams", "100001"),
            (THREADS, "--max-threads", "1"),
            (THREADS, "--max-threads", "1000001"),
            (THREADS, "--max-blocking-threads", "0"),
            (THREADS, "--max-blocking-threads", "1000001"),
        ] + [(TIMEOUTS, "--" + f, "-1ns") for f in TIMEOUT_FLAGS]
        for message, *args in cases:
            with self.subTest(args=args):
                self.refused(message, *args)

    def test_bounds_accepted(self):
        self.refused(LATER, "--max-header-bytes", "1024",
                     "--max-buffer-bytes", "5120", "--max-body-bytes", "0",
                     "--max-conns", "1", "--control-max-streams", "1",
                     "--max-threads", "2", "--max-blocking-threads", "1",
                     *[a for f in TIMEOUT_FLAGS for a in ("--" + f, "0")])
        self.refused(LATER, "--max-conns", "2147483647",
                     "--control-max-streams", "100000",
                     "--max-threads", "1000000",
                     "--max-blocking-threads", "1000000")

    def test_first_in_order_speaks(self):
        self.refused(HEADER, "--max-threads", "1", "--max-conns", "0",
                     "--max-header-bytes", "1")
        self.refused(CONNS, "--max-threads", "1", "--read-timeout", "-1s",
                     "--max-conns", "0")
        self.refused(TIMEOUTS, "--max-threads", "1",
                     "--control-max-streams", "0", "--idle-timeout", "-1s")
        self.refused(STREAMS, "--max-blocking-threads", "0",
                     "--control-max-streams", "0")


def gortd_alone(*args):
    """(exit status, stderr) of gortd ARGS without the -admin stop."""
    r = subprocess.run([GORTD] + list(args), capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stderr


class Addresses(unittest.TestCase):
    """Listen addresses are checked before anything starts: getaddrinfo
    took a port over 65535 modulo 65536, and gortd served elsewhere."""

    def test_listen_port_out_of_range_refused(self):
        for flag in ("-listen", "-listen-tls"):
            for addr, port in (("127.0.0.1:65536", "65536"),
                               ("127.0.0.1:99999", "99999"),
                               (":1234567", "1234567"),
                               ("127.0.0.1:nosuchservice", "nosuchservice")):
                with self.subTest(flag=flag, addr=addr):
                    want = ('gortd: %s %s: invalid port "%s": want 0 to '
                            '65535 or a service name\n' % (flag, addr, port))
                    self.assertEqual(gortd_alone("-" + flag, addr),
                                     (2, want))
        self.assertEqual(
            gortd_alone("--listen", "nonsense"),
            (2, 'gortd: -listen nonsense: invalid listen address '
                '"nonsense": want HOST:PORT or :PORT\n'))

    def test_listen_ports_in_range_accepted(self):
        # both pass; the TLS flags' check after them stops the run
        self.assertEqual(
            gortd_alone("--listen", "127.0.0.1:65535", "--listen-tls",
                        "127.0.0.1:0"),
            (2, "gortd: -listen-tls, -tls-cert and -tls-key go together: "
                "give all three\n"))

    def test_admin_and_health_ports(self):
        self.assertEqual(
            gortd_alone("--admin", "127.0.0.1:99999"),
            (2, "gortd: -admin 127.0.0.1:99999: bad port in address "
                "127.0.0.1:99999\n"))
        self.assertEqual(
            gortd_alone("--grpc-health", "127.0.0.1:65536"),
            (2, "gortd: -grpc-health 127.0.0.1:65536: bad port in address "
                "127.0.0.1:65536\n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
