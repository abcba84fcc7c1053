/* control/listen.c — the control plane's listening address and its safety
 * rules.
 *
 * This API loads code into gortd, so where it listens is an access-control
 * decision:
 *
 *  - Unix socket (the default) in a directory only its owner can change:
 *    the default's private $TMPDIR/gortd-UID is created mode 0700 and
 *    refused unless it is ours, a real directory and closed to others; any
 *    socket's directory must be owned by root or us and not writable by
 *    others unless sticky; the lock file and a stale socket must be ours.
 *  - The socket file is created mode 0600 (owner only).
 *    gRPC has no option for the mode and creates it with the umask, so the
 *    umask is narrowed to 0177 around the bind (no window where the socket is
 *    wider) and the mode is set and checked again afterwards. That umask
 *    change is process-wide; it is safe because ctl_start runs before the
 *    runtime or any other thread that creates files.
 *
 *  - Taking the path over: gRPC unlinks whatever sits at the path before it
 *    binds, so a second gortd would silently steal a live daemon's socket.
 *    We hold an flock on "PATH.lock" for as long as we serve; a second
 *    daemon fails on that lock and names the holder's pid. With the lock
 *    held, a socket file left at PATH is probed with connect(): refused
 *    means a crashed daemon's leftover (removed, with a note), accepted
 *    means some other server lives there (refused, never taken over), and
 *    a non-socket file is never touched. The lock file itself stays behind:
 *    unlinking it would let two starters lock different inodes.
 *
 *  - TCP only when asked. A non-loopback address without mutual TLS
 *    (-control-tls-ca: every client shows a certificate that CA signed) is
 *    refused unless --control-insecure, and then it warns: server-only TLS
 *    hides the traffic but lets anyone who reaches the port in. Plaintext
 *    on loopback starts with a warning: every local user can connect, where
 *    the Unix socket admits only its owner. Which verified clients may call
 *    the mutating methods is authz.c's business.
 *  - The health-only listener (-grpc-health) serves grpc.health.v1 alone,
 *    so it may be plaintext on any TCP address (health_policy).
 */
#include "cli/addr.h"
#include "control/listen.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_listen_tls(const struct ctl_config *cfg)
{
    return cfg->tls_cert && *cfg->tls_cert && cfg->tls_key && *cfg->tls_key;
}

static int tls_flags_check(const struct ctl_config *cfg, char *err,
                           size_t errlen)
{
    int cert = cfg->tls_cert && *cfg->tls_cert,
        key = cfg->tls_key && *cfg->tls_key;
    if (cert != key) {
        snprintf(err, errlen,
                 "-control-tls-cert and -control-tls-key go together");
        return -1;
    }
    if (cfg->allow_ids && *cfg->allow_ids && !(cfg->tls_ca && *cfg->tls_ca)) {
        snprintf(err, errlen,
                 "-control-allow-cn names client certificates: it needs "
                 "mutual TLS (-control-tls-ca)");
        return -1;
    }
    if (cfg->tls_ca && *cfg->tls_ca && !cert) {
        snprintf(err, errlen,
                 "-control-tls-ca (mutual TLS) needs -control-tls-cert "
                 "and -control-tls-key");
        return -1;
    }
    return 0;
}

/* ---- TCP ---------------------------------------------------------------- */

static int tcp_policy(const struct ctl_listener *l,
                      const struct ctl_config *cfg, char *err, size_t errlen)
{
    int lo = cli_addr_is_loopback(&l->addr, err, errlen);
    int mtls = cfg->tls_ca && *cfg->tls_ca;
    if (lo < 0)
        return -1;
    if (lo) {
        if (!ctl_listen_tls(cfg))
            glog_warn("control plane on plaintext loopback TCP",
                      GLOG_STR("addr", l->addr.target),
                      GLOG_STR("reason",
                               "every local user can call it (SetMaxProcs, "
                               "plugin load/replace/unload); a Unix socket "
                               "(the default) admits only this user"));
        return 0;
    }
    if (mtls)
        return 0;
    if (!cfg->insecure) {
        snprintf(
            err, errlen,
            "refusing to serve the control plane on non-loopback address %s "
            "without mutual TLS: whoever reaches it could load code into "
            "this process. Give -control-tls-cert, -control-tls-key and "
            "-control-tls-ca (clients must then present a certificate that "
            "CA signed), or -control-insecure to do it anyway",
            l->addr.target);
        return -1;
    }
    glog_warn(ctl_listen_tls(cfg) ? "control plane without client certificates"
                                  : "control plane without TLS",
              GLOG_STR("addr", l->addr.target),
              GLOG_STR("reason", "-control-insecure: anyone who can reach it "
                                 "can load code into this process"));
    return 0;
}

/* The health-only listener (-grpc-health) may be plaintext anywhere: all it
 * tells is SERVING or NOT_SERVING, as /healthz does on the admin port, and
 * its callers (a kubelet's gRPC probe, a balancer) speak no TLS. It is TCP
 * only: a Unix socket is the control plane's, which serves health too. */
static int health_policy(const struct ctl_listener *l, char *err, size_t errlen)
{
    if (l->addr.kind != CLI_ADDR_TCP) {
        snprintf(err, errlen, "-grpc-health %s: want HOST:PORT (TCP)",
                 l->addr.target);
        return -1;
    }
    return 0;
}

/* ---- Unix socket: its directory ---------------------------------------- */

static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* The default's private directory: made mode 0700 if missing, and refused
 * unless it is a real directory (lstat: no symlink), ours, and closed to
 * everyone else. Anyone can create a name in /tmp first; that is exactly
 * the squat this refuses instead of serving in it. */
static int private_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "create private directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) < 0) {
        snprintf(err, errlen, "stat %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen,
                 "%s is not a directory (a symbolic link or a file): refusing "
                 "to put the control socket there; remove it",
                 dir);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "%s is owned by uid %u, not by this user (uid %u): someone "
                 "else may have created it to take over gortd's socket; "
                 "refusing it (remove it, or give -control)",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "%s has mode %04o, want 0700: others could reach or "
                 "replace the control socket in it; refusing it (chmod "
                 "700 it, or remove it)",
                 dir, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* Any socket's directory: owned by root or us, and not open for others to
 * create names in unless sticky (then they cannot rename or remove ours;
 * the lock and socket owner checks catch a name they made first). */
static int socket_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        snprintf(err, errlen, "control socket directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "control socket directory %s is owned by uid %u, neither "
                 "root nor this user (uid %u): refusing it",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        snprintf(err, errlen,
                 "control socket directory %s is writable by others (mode "
                 "%04o): anyone could replace the socket; refusing it",
                 dir, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

static int unix_dir_check(const struct ctl_listener *l, char *err,
                          size_t errlen)
{
    char dir[sizeof l->addr.path], priv[sizeof l->addr.path];
    dir_of(l->addr.path, dir, sizeof dir);
    if (strcmp(dir, cli_addr_private_dir(priv, sizeof priv)) == 0 &&
        private_dir(dir, err, errlen) < 0)
        return -1;
    return socket_dir(dir, err, errlen);
}

/* A file we are about to lock or remove must be ours: in a sticky
 * directory someone else may have made the name first. */
static int owned(const struct stat *st, const char *path, const char *what,
                 char *err, size_t errlen)
{
    if (st->st_uid == geteuid())
        return 0;
    snprintf(err, errlen,
             "%s %s is owned by uid %u, not by this user (uid %u): refusing "
             "to use it",
             what, path, (unsigned)st->st_uid, (unsigned)geteuid());
    return -1;
}

/* ---- Unix socket: lock, stale file, mode -------------------------------- */

/* 1: something accepts connections at path; 0: refused (stale); -1: errno. */
static int unix_probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    errno = e;
    return -1;
}

static int unix_clear_stale(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "%s exists and is not a socket; refusing to replace it", path);
        return -1;
    }
    if (owned(&st, path, "socket", err, errlen) < 0)
        return -1;
    int live = unix_probe(path);
    if (live != 0) {
        if (live > 0)
            snprintf(err, errlen,
                     "a server that is not a gortd already listens on "
                     "%s; refusing to take it over",
                     path);
        else
            snprintf(err, errlen, "probe %s: %s", path, strerror(errno));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "remove stale socket %s: %s", path,
                 strerror(errno));
        return -1;
    }
    glog_info("removed stale control socket", GLOG_STR("path", path));
    return 0;
}

static void lock_holder(int fd, char *buf, size_t len)
{
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    snprintf(buf, len, "%s", pid[0] ? pid : "unknown");
}

static int lock_file_check(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "lock file %s is not a regular file", path);
        return -1;
    }
    return owned(&st, path, "lock file", err, errlen);
}

static int unix_lock(struct ctl_listener *l, char *err, size_t errlen)
{
    char holder[32];
    snprintf(l->lock_path, sizeof l->lock_path, "%s.lock", l->addr.path);
    int fd =
        open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "open lock file %s: %s", l->lock_path,
                 strerror(errno));
        return -1;
    }
    if (lock_file_check(fd, l->lock_path, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        lock_holder(fd, holder, sizeof holder);
        close(fd);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "%s is in use by a running gortd (pid %s); stop it "
                     "or choose another -control address",
                     l->addr.target, holder);
        else
            snprintf(err, errlen, "lock %s: %s", l->lock_path, strerror(e));
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        glog_warn("cannot write pid to the lock file",
                  GLOG_STR("file", l->lock_path), GLOG_ERRNO("err", errno));
    l->lock_fd = fd;
    return 0;
}

static int unix_claim(struct ctl_listener *l, char *err, size_t errlen)
{
    if (unix_dir_check(l, err, errlen) < 0 || unix_lock(l, err, errlen) < 0)
        return -1;
    if (unix_clear_stale(l->addr.path, err, errlen) < 0) {
        close(l->lock_fd);
        l->lock_fd = -1;
        return -1;
    }
    return 0;
}

static int unix_bind(struct ctl_listener *l, grpc_server *srv,
                     grpc_server_credentials *creds, char *err, size_t errlen)
{
    struct stat st;
    mode_t old = umask(0177);
    int port = grpc_server_add_http2_port(srv, l->addr.target, creds);
    umask(old);
    if (port == 0) {
        snprintf(err, errlen, "cannot listen on %s (gRPC logged why above)",
                 l->addr.target);
        return -1;
    }
    l->bound = 1;
    if (chmod(l->addr.path, 0600) < 0 || lstat(l->addr.path, &st) < 0) {
        snprintf(err, errlen, "chmod 0600 %s: %s", l->addr.path,
                 strerror(errno));
        return -1;
    }
    if ((st.st_mode & 0777) != 0600) {
        snprintf(err, errlen, "%s has mode %03o, want 0600", l->addr.path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    snprintf(l->served, sizeof l->served, "%s", l->addr.target);
    return 0;
}

/* ---- the contract ------------------------------------------------------- */

int ctl_listen_prepare(struct ctl_listener *l, const struct ctl_config *cfg,
                       char *err, size_t errlen)
{
    char def[160];
    const char *addr =
        cfg->addr && *cfg->addr ? cfg->addr : cli_addr_default(def, sizeof def);

    memset(l, 0, sizeof *l);
    l->lock_fd = -1;
    if (cli_addr_parse(addr, &l->addr, err, errlen) < 0)
        return -1;
    if (cfg->health_only)
        return health_policy(l, err, errlen);
    if (tls_flags_check(cfg, err, errlen) < 0)
        return -1;
    if (l->addr.kind == CLI_ADDR_TCP)
        return tcp_policy(l, cfg, err, errlen);
    return unix_claim(l, err, errlen);
}

int ctl_listen_bind(struct ctl_listener *l, grpc_server *srv,
                    grpc_server_credentials *creds, char *err, size_t errlen)
{
    if (l->addr.kind == CLI_ADDR_UNIX)
        return unix_bind(l, srv, creds, err, errlen);
    int port = grpc_server_add_http2_port(srv, l->addr.target, creds);
    if (port == 0) {
        snprintf(err, errlen,
                 "cannot listen on %s: address in use or not "
                 "available here (gRPC logged why above)",
                 l->addr.target);
        return -1;
    }
    snprintf(l->served, sizeof l->served,
             strchr(l->addr.host, ':') ? "[%s]:%d" : "%s:%d", l->addr.host,
             port);
    return 0;
}

void ctl_listen_release(struct ctl_listener *l)
{
    /* gRPC removes the socket when its listener closes; this covers the
     * paths where the server never started. We hold the lock, so the file at
     * the path is still ours. */
    if (l->bound && unlink(l->addr.path) < 0 && errno != ENOENT)
        glog_warn("cannot remove control socket",
                  GLOG_STR("path", l->addr.path), GLOG_ERRNO("err", errno));
    l->bound = 0;
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    l->lock_fd = -1;
}
