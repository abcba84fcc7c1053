/* cli/duration.c — Go-syntax durations for gortd's and gortctl's flags and
 * output.
 *
 * Durations follow Go's time package so that operators type and read the same
 * thing in both worlds: "--timeout 1.5s", "--min-wait 2m", "took 812µs".
 * As in Go, the whole part is integer arithmetic and only the fraction goes
 * through a double (kept to 15 digits, so it is exact), so "0.1s" is
 * exactly 100000000 ns.
 */
#include "cli/duration.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek small mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60) * 1000000000},
    {"h", UINT64_C(3600) * 1000000000},
};

/* Longest unit name that prefixes s ("ms" before "m"); its length, or 0. */
static size_t unit_match(const char *s, uint64_t *ns)
{
    size_t best = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);
        if (n > best && strncmp(s, units[i].name, n) == 0) {
            best = n;
            *ns = units[i].ns;
        }
    }
    return best;
}

/* One "<digits>[.<digits>]<unit>" term at *sp; adds it to *total. */
static int term_parse(const char **sp, uint64_t *total)
{
    const char *s = *sp;
    uint64_t whole = 0, frac = 0, scale = 1, unit = 0;
    int digits = 0;

    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            if (scale < UINT64_C(1000000000000000)) { /* rest is below 1 ns */
                frac = frac * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
    }
    size_t ulen = digits ? unit_match(s, &unit) : 0;
    if (ulen == 0)
        return -1;
    if (whole > (uint64_t)INT64_MAX / unit)
        return -1;
    uint64_t part = whole * unit +
                    (uint64_t)((double)frac * ((double)unit / (double)scale));
    if (part > (uint64_t)INT64_MAX || *total > (uint64_t)INT64_MAX - part)
        return -1;
    *total += part;
    *sp = s + ulen;
    return 0;
}

int cli_duration_parse(const char *s, int64_t *ns)
{
    int neg = 0;
    uint64_t total = 0;

    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    while (*s)
        if (term_parse(&s, &total) < 0)
            return -1;
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* v / 10^prec as "I[.F]" with F's trailing zeros trimmed, then unit. */
static void frac_format(char *buf, size_t len, uint64_t v, int prec,
                        const char *unit)
{
    uint64_t div = 1;
    for (int i = 0; i < prec; i++)
        div *= 10;
    uint64_t whole = v / div, frac = v % div;
    if (frac == 0) {
        snprintf(buf, len, "%" PRIu64 "%s", whole, unit);
        return;
    }
    while (frac % 10 == 0) {
        frac /= 10;
        prec--;
    }
    snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64 "%s", whole, prec, frac, unit);
}

void cli_duration_format(int64_t ns, char *buf, size_t len)
{
    const char *sign = ns < 0 ? "-" : "";
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    char tail[40];

    if (u == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    if (u < 1000) {
        snprintf(buf, len, "%s%" PRIu64 "ns", sign, u);
        return;
    }
    if (u < 1000000 || u < 1000000000) {
        int micro = u < 1000000;
        frac_format(tail, sizeof tail, u, micro ? 3 : 6,
                    micro ? "\xc2\xb5s" : "ms");
        snprintf(buf, len, "%s%s", sign, tail);
        return;
    }
    uint64_t h = u / (UINT64_C(3600) * 1000000000);
    uint64_t m = u / (UINT64_C(60) * 1000000000) % 60;
    frac_format(tail, sizeof tail, u % (UINT64_C(60) * 1000000000), 9, "s");
    if (h)
        snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m%s", sign, h, m, tail);
    else if (m)
        snprintf(buf, len, "%s%" PRIu64 "m%s", sign, m, tail);
    else
        snprintf(buf, len, "%s%s", sign, tail);
}
