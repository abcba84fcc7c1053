"""listen_launcher.py FD [--pid PID] GORTD ARGS...: starts GORTD with the
listening socket FD at descriptor 3, LISTEN_FDS=1 and LISTEN_PID set the
way systemd passes sockets (socket activation, sd_listen_fds(3)). It execs,
so LISTEN_PID, its own pid, is gortd's (or PID, to test that sockets meant
for another process are left alone)."""
import os
import sys

fd = int(sys.argv[1])
rest = sys.argv[2:]
pid = os.getpid()
if rest[0] == "--pid":
    pid = int(rest[1])
    rest = rest[2:]
if fd != 3:
    os.dup2(fd, 3)  # not close-on-exec: gortd inherits it
    os.close(fd)
else:
    os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(pid)
os.environ.pop("LISTEN_FDNAMES", None)
os.execv(rest[0], rest)
