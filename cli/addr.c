/* cli/addr.c — control-plane addresses: the default, parsing, and whether a
 * TCP address stays on this machine.
 *
 * The default is a Unix socket, never TCP: the control plane can load code
 * into gortd, so it is reachable only by who may open a mode-0600 file in a
 * directory nobody else can write. In order: $RUNTIME_DIRECTORY (systemd's
 * RuntimeDirectory=, e.g. /run/gortd), $XDG_RUNTIME_DIR (the per-user
 * mode-0700 /run/user/UID), else a private directory $TMPDIR/gortd-UID
 * (TMPDIR defaulting to /tmp) that gortd creates mode 0700 and checks
 * (control/listen.c). Never a bare file in /tmp: another user could create
 * the name first and stop gortd from starting or pose as it.
 *
 * "Loopback" is decided on the resolved addresses, not the spelling: a host
 * name counts as loopback only if every address it resolves to is one, since
 * gRPC would listen on all of them.
 */
#include "cli/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The first absolute entry of a colon-separated list (systemd passes
 * RUNTIME_DIRECTORY that way when a unit names several), or NULL. */
static const char *first_abs(const char *list, char *buf, size_t len)
{
    if (!list || list[0] != '/')
        return NULL;
    size_t n = strcspn(list, ":");
    if (n >= len)
        return NULL;
    memcpy(buf, list, n);
    buf[n] = '\0';
    return buf;
}

const char *cli_addr_private_dir(char *buf, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    snprintf(buf, len, "%s/gortd-%u", tmp, (unsigned)geteuid());
    return buf;
}

const char *cli_addr_default(char *buf, size_t len)
{
    char dir[160];
    const char *d = first_abs(getenv("RUNTIME_DIRECTORY"), dir, sizeof dir);
    if (!d)
        d = first_abs(getenv("XDG_RUNTIME_DIR"), dir, sizeof dir);
    if (!d)
        d = cli_addr_private_dir(dir, sizeof dir);
    snprintf(buf, len, "unix:%s/gortd.sock", d);
    return buf;
}

static int unix_parse(const char *path, struct cli_addr *a, char *err,
                      size_t errlen)
{
    size_t n = strlen(path);
    if (n == 0) {
        snprintf(err, errlen, "unix: address without a path");
        return -1;
    }
    if (n >= sizeof a->path) {
        snprintf(err, errlen,
                 "unix socket path is %zu bytes, the limit is %zu: %s", n,
                 sizeof a->path - 1, path);
        return -1;
    }
    a->kind = CLI_ADDR_UNIX;
    memcpy(a->path, path, n + 1);
    snprintf(a->target, sizeof a->target, "unix:%s", path);
    return 0;
}

/* Splits "host:port" or "[v6]:port"; host without brackets. */
static int hostport_split(const char *s, struct cli_addr *a, char *err,
                          size_t errlen)
{
    const char *colon, *host = s;
    size_t hlen;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            goto bad;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            goto bad; /* none, or an IPv6 address without brackets */
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof a->host) {
        snprintf(err, errlen,
                 "address %s has no host: use 127.0.0.1:PORT for this "
                 "machine only, 0.0.0.0:PORT for every interface",
                 s);
        return -1;
    }
    if (strlen(colon + 1) >= sizeof a->port) {
        snprintf(err, errlen, "bad port in address %s", s);
        return -1;
    }
    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    strcpy(a->port, colon + 1);
    return 0;
bad:
    snprintf(err, errlen,
             "bad address %s: want unix:PATH, HOST:PORT or "
             "[IPV6]:PORT",
             s);
    return -1;
}

static int tcp_parse(const char *s, struct cli_addr *a, char *err,
                     size_t errlen)
{
    char *end;
    if (hostport_split(s, a, err, errlen) < 0)
        return -1;
    long port = strtol(a->port, &end, 10);
    if (a->port[0] == '\0' || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "bad port in address %s", s);
        return -1;
    }
    a->kind = CLI_ADDR_TCP;
    snprintf(a->target, sizeof a->target, "%s", s);
    return 0;
}

int cli_addr_parse(const char *s, struct cli_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strncmp(s, "unix:", 5) == 0)
        return unix_parse(s + 5, a, err, errlen);
    if (strncmp(s, "unix-abstract:", 14) == 0 || strstr(s, "://")) {
        snprintf(err, errlen,
                 "unsupported address %s: want unix:PATH, "
                 "HOST:PORT or [IPV6]:PORT",
                 s);
        return -1;
    }
    if (strlen(s) >= sizeof a->target) {
        snprintf(err, errlen, "address too long");
        return -1;
    }
    return tcp_parse(s, a, err, errlen);
}

static int sockaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            return a6->s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(a6);
    }
    return 0;
}

int cli_addr_is_loopback(const struct cli_addr *a, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res, *ai;

    if (a->kind == CLI_ADDR_UNIX)
        return 1;
    int rc = getaddrinfo(a->host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", a->host,
                 gai_strerror(rc));
        return -1;
    }
    int all = 1;
    for (ai = res; ai; ai = ai->ai_next)
        all &= sockaddr_is_loopback(ai->ai_addr);
    freeaddrinfo(res);
    return all;
}
