/* admin/procfs.h — this process as /proc shows it, for the process_*
 * metrics every Prometheus client library exports. */
#ifndef GORT_ADMIN_PROCFS_H
#define GORT_ADMIN_PROCFS_H

#include <stdint.h>

struct proc_self {
    double cpu_seconds;    /* user + system */
    uint64_t rss_bytes;    /* resident set */
    uint64_t vsize_bytes;  /* virtual size */
    uint64_t open_fds;     /* entries in /proc/self/fd */
    uint64_t max_fds;      /* soft RLIMIT_NOFILE */
    uint64_t threads;      /* OS threads of the process */
    double start_time_sec; /* Unix time the process started */
};

/* Reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd. 0, or a
 * negative errno when /proc is not there (fields then stay 0). */
int proc_self_read(struct proc_self *p);

/* Parses the text of /proc/PID/stat; tick = sysconf(_SC_CLK_TCK), page =
 * the page size, btime = boot time (Unix seconds). 0 or -EINVAL. */
int proc_stat_parse(const char *text, long tick, long page, uint64_t btime,
                    struct proc_self *p);

#endif /* GORT_ADMIN_PROCFS_H */
