"""netns.py — network namespaces for tests that need addresses of their own
(a fleet of gortd, a pod's IP) without touching the machine's network.

Every namespace a test makes is named PREFIX-PID-ROLE (PID: the test
process), made with `ip netns add` and linked with veth pairs created
inside the namespaces, so nothing is added to, or changed in, the
machine's own network namespace. remove() kills whatever runs in one (all
of it the test's: `ip netns pids`) and deletes it; remove_stale() deletes
those a killed earlier run left behind (their PID is gone).

    from netns import Namespaces
    with Namespaces("gortfleet") as ns:
        lb = ns.add("lb")
        ns.veth(lb, "vg1", "10.77.1.1/24", g1, "eth0", "10.77.1.2/24")
        subprocess.Popen(ns.exec_prefix(g1) + [gortd, ...],
                         preexec_fn=die_with_parent)
        pool = ThreadPoolExecutor(initializer=enter, initargs=(lb,))

A thread of this process can enter a namespace (enter): the network
namespace is per thread, and the sockets it makes from then on live there.
"""
import ctypes
import os
import re
import shutil
import signal
import subprocess

IP = shutil.which("ip") or "/usr/sbin/ip"

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


def run(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          check=check)


def die_with_parent():
    """preexec_fn: the child (and what it execs) gets SIGKILL when the
    thread that started it dies, however it dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def exec_prefix(ns):
    """argv prefix running a command in ns (`ip netns exec` enters ns and
    execs the command: its pid is the command's own)."""
    return [IP, "netns", "exec", ns]


def enter(ns):
    """Moves the calling thread (only it) into ns."""
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (ns, os.strerror(e)))
    finally:
        os.close(fd)


def remove(ns):
    """Kills whatever runs in ns, deletes ns (and the veth ends in it)."""
    p = run(IP, "netns", "pids", ns, check=False)
    for pid in p.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    run(IP, "netns", "del", ns, check=False)


def remove_stale(prefix):
    """Namespaces PREFIX-PID-* whose PID is gone (a run killed by a
    timeout before it could clean up)."""
    pat = re.compile(r"^%s-(\d+)-\w+" % re.escape(prefix))
    p = run(IP, "netns", "list", check=False)
    for line in p.stdout.splitlines():
        m = pat.match(line)
        if m and not os.path.exists("/proc/" + m.group(1)):
            remove(line.split()[0])


def unavailable(prefix):
    """None when namespaces can be made here, else why not (for a skip)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if not os.access(IP, os.X_OK):
        return "no ip(8) (Debian package iproute2)"
    probe = "%s-%d-probe" % (prefix, os.getpid())
    p = run(IP, "netns", "add", probe, check=False)
    if p.returncode != 0:
        return "cannot create a network namespace: " + p.stderr.strip()
    remove(probe)
    return None


class Namespaces:
    """The namespaces of one test, removed (with their processes) by
    close(), last made first."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.made = []

    def name(self, role):
        return "%s-%d-%s" % (self.prefix, os.getpid(), role)

    def add(self, role):
        ns = self.name(role)
        run(IP, "netns", "add", ns)
        self.made.append(ns)
        run(IP, "-n", ns, "link", "set", "lo", "up")
        return ns

    def veth(self, ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
        """A veth pair born in ns_a, its peer moved straight into ns_b
        (which may be ns_a), both addressed and up."""
        peer = ["peer", "name", dev_b]
        if ns_b != ns_a:
            peer += ["netns", ns_b]
        run(IP, "-n", ns_a, "link", "add", dev_a, "type", "veth", *peer)
        run(IP, "-n", ns_a, "addr", "add", addr_a, "dev", dev_a)
        if addr_b:
            run(IP, "-n", ns_b, "addr", "add", addr_b, "dev", dev_b)
        run(IP, "-n", ns_a, "link", "set", dev_a, "up")
        run(IP, "-n", ns_b, "link", "set", dev_b, "up")

    def close(self):
        for ns in reversed(self.made):
            remove(ns)
        self.made = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
