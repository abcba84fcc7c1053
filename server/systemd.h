/* systemd.h — gortd under a service manager: readiness and watchdog
 * notifications (sd_notify) and listening sockets passed in (socket
 * activation, sd_listen_fds). Every call is a no-op outside systemd (no
 * NOTIFY_SOCKET, no LISTEN_FDS) and when gortd was built without
 * libsystemd. Prefix sysd_.
 */
#ifndef GORT_SERVER_SYSTEMD_H
#define GORT_SERVER_SYSTEMD_H

#include <stdint.h>

/* READY=1 with STATUS=status: gortd serves. */
void sysd_ready(const char *status);
/* RELOADING=1 (SIGHUP's rescan starts); sysd_ready ends it. */
void sysd_reloading(void);
/* STOPPING=1 with STATUS=status: a graceful shutdown starts. */
void sysd_stopping(const char *status);
/* Sends WATCHDOG=1 when half the service's WatchdogSec= has passed since
 * the last one; call it often (the main goroutine's loop). now_ns:
 * gort_nanotime(). */
void sysd_watchdog(int64_t now_ns);
/* How many listening sockets the service manager passed (LISTEN_FDS for
 * this process, LISTEN_PID checked), at fds 3, 4, ...; the variables are
 * removed from the environment so that nothing gortd starts inherits them.
 * 0 when none, or a negative errno. */
int sysd_listen_fds(void);
/* 1 when fd is a listening stream socket, 0 when not, or a negative errno. */
int sysd_is_listening_stream(int fd);

#endif /* GORT_SERVER_SYSTEMD_H */
