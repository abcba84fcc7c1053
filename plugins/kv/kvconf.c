/* kvconf.c — kv.conf: see kvconf.h. */
#include "kvconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* max_keys=N's N, or 0 when the word is anything else. */
static unsigned long long max_keys_word(const char *p, size_t len)
{
    static const char opt[] = "max_keys=";
    const char *num = p + sizeof opt - 1;
    char *end = NULL;
    unsigned long long n;

    if (len < sizeof opt || strncmp(p, opt, sizeof opt - 1) != 0 ||
        *num < '0' || *num > '9')
        return 0;
    errno = 0;
    n = strtoull(num, &end, 10);
    if (errno || end != p + len || n > SIZE_MAX / 2)
        return 0;
    return n;
}

int kv_parse_config(const char *config, size_t *max_keys, char *err,
                    size_t errlen)
{
    static const char space[] = " \t\r\n";
    const char *p = config;
    int word = 0;

    *max_keys = KV_DEFAULT_KEYS;
    if (errlen)
        err[0] = '\0';
    while (p && *(p += strspn(p, space))) {
        size_t len = strcspn(p, space);
        unsigned long long n = max_keys_word(p, len);

        word++;
        if (n < 1) {
            snprintf(err, errlen,
                     "bad configuration word %d (bytes %zu..%zu of "
                     "kv.conf): want max_keys=N, N >= 1",
                     word, (size_t)(p - config), (size_t)(p - config) + len);
            return -EINVAL;
        }
        *max_keys = (size_t)n;
        p += len;
    }
    return 0;
}
