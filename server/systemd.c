/* systemd.c — sd_notify and sd_listen_fds for gortd, through libsystemd
 * when the build found it (GORT_HAVE_SYSTEMD), else the same protocol's
 * no-op: without NOTIFY_SOCKET there is nobody to tell.
 *
 * Readiness is what Type=notify waits for: READY=1 once the HTTP listener
 * accepts and the plugins are loaded, so that `systemctl start` returns
 * when gortd serves, not when it forked. The watchdog ping is sent by the
 * main goroutine, so a runtime that no longer schedules goroutines stops
 * pinging and systemd restarts it (WatchdogSec=).
 */
#include "systemd.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#ifdef GORT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static uint64_t watchdog_usec; /* 0: no watchdog; main goroutine only */
static int64_t watchdog_last;

/* CLOCK_MONOTONIC in µs, which RELOADING=1 carries (systemd 253+). */
static unsigned long long monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL +
           (unsigned long long)ts.tv_nsec / 1000;
}

void sysd_ready(const char *status)
{
    uint64_t usec;
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_usec = usec;
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sysd_reloading(void)
{
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=rescanning plugins",
               monotonic_usec());
}

void sysd_stopping(const char *status)
{
    sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

void sysd_watchdog(int64_t now_ns)
{
    if (!watchdog_usec ||
        now_ns - watchdog_last < (int64_t)watchdog_usec * 1000 / 2)
        return;
    watchdog_last = now_ns;
    sd_notify(0, "WATCHDOG=1");
}

int sysd_listen_fds(void)
{
    return sd_listen_fds(1);
}

int sysd_is_listening_stream(int fd)
{
    return sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
}

#else /* no libsystemd: nothing to notify, only the fds of --listen-fd */

void sysd_ready(const char *status)
{
    (void)status;
}

void sysd_reloading(void) {}

void sysd_stopping(const char *status)
{
    (void)status;
}

void sysd_watchdog(int64_t now_ns)
{
    (void)now_ns;
}

int sysd_listen_fds(void)
{
    return 0;
}

int sysd_is_listening_stream(int fd)
{
    int type, acc;
    socklen_t l = sizeof type, la = sizeof acc;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &la) < 0)
        return errno == ENOTSOCK ? 0 : -errno;
    return type == SOCK_STREAM && acc;
}
#endif
