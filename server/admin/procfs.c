/* admin/procfs.c — CPU time, memory, descriptors and start time of this
 * process from /proc, read at scrape time.
 *
 * /proc/self/stat's second field is the command name in parentheses and may
 * itself hold spaces and parentheses, so the fields are counted from the
 * last ')' (as procps does). Reading costs a few small files per scrape;
 * counting /proc/self/fd is linear in open descriptors (10,000 connections:
 * well under a millisecond), which a 15 s scrape interval does not notice.
 */
#include "admin/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int proc_stat_parse(const char *text, long tick, long page, uint64_t btime,
                    struct proc_self *p)
{
    const char *rp = strrchr(text, ')');
    unsigned long long utime, stime, start, vsize, threads;
    long long rss;
    if (!rp || tick <= 0 || page <= 0)
        return -EINVAL;
    /* After ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) cutime cstime priority nice
     * num_threads(20) itrealvalue starttime(22) vsize(23) rss(24). */
    int n = sscanf(rp + 1,
                   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                   "%*d %*d %*d %*d %llu %*d %llu %llu %lld",
                   &utime, &stime, &threads, &start, &vsize, &rss);
    if (n != 6)
        return -EINVAL;
    p->cpu_seconds = (double)(utime + stime) / (double)tick;
    p->threads = threads;
    p->start_time_sec = (double)btime + (double)start / (double)tick;
    p->vsize_bytes = vsize;
    p->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
    return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = '\0';
    return 0;
}

static uint64_t boot_time(void)
{
    char buf[8192];
    if (read_file("/proc/stat", buf, sizeof buf) < 0)
        return 0;
    const char *b = strstr(buf, "\nbtime ");
    return b ? strtoull(b + 7, NULL, 10) : 0;
}

static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the one opendir holds */
}

int proc_self_read(struct proc_self *p)
{
    char buf[1024];
    memset(p, 0, sizeof *p);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
    p->open_fds = count_fds();
    int rc = read_file("/proc/self/stat", buf, sizeof buf);
    if (rc < 0)
        return rc;
    return proc_stat_parse(buf, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
                           boot_time(), p);
}
