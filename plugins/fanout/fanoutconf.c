/* fanoutconf.c — fanout.conf's parser (the syntax is in fanout.c's
 * header), apart from the plugin so that tests/fuzz can link it alone: it
 * touches no SDK function, and says what is wrong in a buffer that
 * fanout.c's init hands to gort_plugin_set_error.
 */
#include "fanoutconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a refusal's message goes. */
struct conf_err {
    char *buf;
    size_t len;
};

/* "250ms", "2s", "500us": 1 ns to 1 h, or -EINVAL. The range is checked
 * so that NaN fails it ("nanms": converting NaN to an integer is undefined;
 * fuzz_conf found it) and so that a duration under 1 ns is not a deadline
 * of 0. */
static int64_t parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double unit = !strcmp(end, "ms")   ? 1e6
                  : !strcmp(end, "s")  ? 1e9
                  : !strcmp(end, "us") ? 1e3
                                       : -1;
    double ns = v * unit;
    if (end == s || unit < 0 || !(ns >= 1 && ns <= 3600e9))
        return -EINVAL;
    return (int64_t)ns;
}

static int bad(struct conf_err *e, int line, const char *what)
{
    snprintf(e->buf, e->len, "fanout.conf:%d: %s", line, what);
    return -EINVAL;
}

static int directive(struct conf_err *e, struct fanout *fo, int no, char *key,
                     char *rest)
{
    if (!strcmp(key, "route")) { /* the rest of the line, spaces and all */
        free(fo->pattern);
        fo->pattern = strdup(rest + strspn(rest, " \t"));
        return fo->pattern ? 0 : -ENOMEM;
    }
    char *save, *a = strtok_r(rest, " \t\r", &save);
    char *b = a ? strtok_r(NULL, " \t\r", &save) : NULL;
    if (!strcmp(key, "deadline")) {
        if (!a || b || (fo->deadline = parse_duration(a)) < 0)
            return bad(e, no, "deadline: want a duration (250ms, 2s)");
        return 0;
    }
    if (strcmp(key, "upstream") != 0)
        return bad(e, no,
                   "unknown directive (want route, upstream or "
                   "deadline)");
    if (!a || !b || strtok_r(NULL, " \t\r", &save) ||
        strncmp(b, "http://", 7) != 0)
        return bad(e, no, "upstream: want NAME http://HOST[:PORT]/PATH");
    if (fo->nup == 2)
        return bad(e, no, "a third upstream: fanout calls two");
    fo->up[fo->nup].name = strdup(a);
    fo->up[fo->nup].url = strdup(b);
    fo->nup++;
    return fo->up[fo->nup - 1].url ? 0 : -ENOMEM;
}

static int parse_config(struct conf_err *e, struct fanout *fo,
                        const char *config)
{
    char *text = strdup(config), *next;
    int no = 0, rc = text ? 0 : -ENOMEM;
    for (char *p = text; rc == 0 && p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        no++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        p += strspn(p, " \t\r");
        if (!*p)
            continue;
        size_t k = strcspn(p, " \t\r");
        char *rest = p + k + (p[k] ? 1 : 0);
        p[k] = '\0';
        rest[strcspn(rest, "\r")] = '\0';
        rc = directive(e, fo, no, p, rest);
    }
    free(text);
    if (rc == 0 && fo->nup != 2)
        rc = bad(e, no, "want two upstream lines");
    return rc;
}

int fanout_parse_config(struct fanout *fo, const char *config, char *err,
                        size_t errlen)
{
    struct conf_err e = {err, errlen};

    if (errlen)
        err[0] = '\0';
    return parse_config(&e, fo, config);
}
