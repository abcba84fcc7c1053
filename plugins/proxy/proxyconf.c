/* proxyconf.c — proxy.conf's parser (the syntax is in proxy.c's header),
 * apart from the plugin so that tests/fuzz can link it alone: it touches
 * no SDK function, and says what is wrong in a buffer that proxy.c's init
 * hands to gort_plugin_set_error.
 */
#include "proxyconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a refusal's message goes. */
struct conf_err {
    char *buf;
    size_t len;
};

/* Go's time.ParseDuration for the units a timeout needs: "1.5s", "300ms",
 * "1m30s". > 0 ns, or -EINVAL. */
static int64_t parse_duration(const char *s)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    double total = 0;
    if (!*s)
        return -EINVAL;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s) && *s != '.')
            return -EINVAL;
        double v = strtod(s, &end);
        size_t best = 0, k = sizeof units / sizeof units[0];
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, n) == 0 && n > best)
                best = n, k = i;
        }
        if (end == s || k == sizeof units / sizeof units[0])
            return -EINVAL;
        total += v * units[k].ns;
        s = end + best;
    }
    return total >= 1 && total < 9e18 ? (int64_t)total : -EINVAL;
}

/* "http[s]://host[:port]" with no path, query or user info: 0, or -EINVAL
 * with why in *why. An https upstream's certificate is checked against
 * the system's CAs (SSL_CERT_FILE names another bundle, as for Go). */
static int check_upstream(const char *u, const char **why)
{
    size_t skip = strncmp(u, "https://", 8) == 0  ? 8
                  : strncmp(u, "http://", 7) == 0 ? 7
                                                  : 0;
    if (!skip) {
        *why = "want http://HOST[:PORT] or https://HOST[:PORT]";
        return -EINVAL;
    }
    const char *host = u + skip;
    if (!*host || strpbrk(host, "/?#@")) {
        *why = "want http[s]://HOST[:PORT] without a path (the request's "
               "path and query are passed through unchanged)";
        return -EINVAL;
    }
    return 0;
}

struct line {
    int no;
    char *words[8];
    int n;
};

/* Splits the text of one line into words, '#' to the end dropped. */
static int split(char *text, struct line *ln)
{
    char *hash = strchr(text, '#');
    if (hash)
        *hash = '\0';
    ln->n = 0;
    char *save;
    for (char *w = strtok_r(text, " \t\r", &save); w;
         w = strtok_r(NULL, " \t\r", &save)) {
        if (ln->n == 8)
            return -E2BIG;
        ln->words[ln->n++] = w;
    }
    return 0;
}

static int fail(struct conf_err *e, int line, const char *fmt, const char *a,
                const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b ? b : "");
    snprintf(e->buf, e->len, "proxy.conf:%d: %s", line, msg);
    return -EINVAL;
}

static int global(struct conf_err *e, struct proxy *px, const struct line *ln)
{
    const char *k = ln->words[0];
    if (ln->n != 2)
        return fail(e, ln->no, "\"%s\" takes one value", k, NULL);
    if (strcmp(k, "timeout") == 0) {
        px->timeout = parse_duration(ln->words[1]);
        if (px->timeout < 0)
            return fail(e, ln->no,
                        "bad timeout \"%s\": want a duration like 5s or "
                        "250ms",
                        ln->words[1], NULL);
        return 0;
    }
    char *end;
    long n = strtol(ln->words[1], &end, 10);
    if (*end || n < 0 || n > 100000)
        return fail(e, ln->no,
                    "bad keepalive \"%s\": want 0..100000 idle connections",
                    ln->words[1], NULL);
    px->keepalive = (int)n;
    return 0;
}

/* The words from the upstream on: the upstream and its options. */
static int mapping_tail(struct conf_err *e, const struct line *ln, int at,
                        struct proxy_route *rt)
{
    const char *why;
    if (check_upstream(ln->words[at], &why) < 0)
        return fail(e, ln->no, "upstream \"%s\": %s", ln->words[at], why);
    for (int i = at + 1; i < ln->n; i++) {
        if (strncmp(ln->words[i], "timeout=", 8) != 0)
            return fail(e, ln->no,
                        "unknown option \"%s\" (want timeout=DURATION)",
                        ln->words[i], NULL);
        rt->timeout = parse_duration(ln->words[i] + 8);
        if (rt->timeout < 0)
            return fail(e, ln->no, "bad timeout \"%s\"", ln->words[i] + 8,
                        NULL);
    }
    size_t n = strlen(ln->words[at]);
    rt->upstream = strdup(ln->words[at]);
    if (rt->upstream && rt->upstream[n - 1] == '/')
        rt->upstream[n - 1] = '\0';
    return rt->upstream ? 0 : -ENOMEM;
}

/* PATTERN... UPSTREAM [timeout=D]: the upstream is the first word with
 * "://", the pattern every word before it. */
static int mapping(struct conf_err *e, struct proxy *px, const struct line *ln)
{
    int at = 0;
    while (at < ln->n && !strstr(ln->words[at], "://"))
        at++;
    if (at == ln->n)
        return fail(e, ln->no,
                    "\"%s\": want PATTERN http[s]://HOST[:PORT] (or timeout "
                    "DURATION, keepalive N)",
                    ln->words[0], NULL);
    if (at == 0)
        return fail(e, ln->no, "no pattern before the upstream \"%s\"",
                    ln->words[0], NULL);
    struct proxy_route *rt = calloc(1, sizeof *rt);
    if (!rt)
        return -ENOMEM;
    rt->line = ln->no;
    struct proxy_route **tail = &px->routes; /* in file order: a conflict names
                                          the later line */
    while (*tail)
        tail = &(*tail)->next;
    *tail = rt;
    char pat[512] = "";
    for (int i = 0; i < at; i++)
        snprintf(pat + strlen(pat), sizeof pat - strlen(pat), "%s%s",
                 i ? " " : "", ln->words[i]);
    rt->pattern = strdup(pat);
    if (!rt->pattern)
        return -ENOMEM;
    return mapping_tail(e, ln, at, rt);
}

static int parse_config(struct conf_err *e, struct proxy *px,
                        const char *config)
{
    char *text = strdup(config), *save = NULL;
    int no = 0, rc = text ? 0 : -ENOMEM;
    for (char *p = text; rc == 0 && p; p = save) {
        char *nl = strchr(p, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        struct line ln = {.no = ++no};
        if (split(p, &ln) < 0)
            rc = fail(e, no, "too many words%s%s", "", NULL);
        else if (ln.n == 0)
            continue;
        else if (!strcmp(ln.words[0], "timeout") ||
                 !strcmp(ln.words[0], "keepalive"))
            rc = global(e, px, &ln);
        else
            rc = mapping(e, px, &ln);
    }
    free(text);
    return rc;
}

int proxy_parse_config(struct proxy *px, const char *config, char *err,
                       size_t errlen)
{
    struct conf_err e = {err, errlen};

    if (errlen)
        err[0] = '\0';
    return parse_config(&e, px, config);
}
