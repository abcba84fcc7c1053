/* admin/prom.c — the Prometheus text exposition format 0.0.4.
 *
 * Everything goes through put() into a textbuf: a failed allocation fails
 * the page (it is not served half-written).
 * Escaping follows the format's rules: in HELP text a backslash and a line
 * feed are escaped; in label values also the double quote. Prometheus wants
 * UTF-8, and label values here come from plugins and requests, so a byte
 * that does not start a well-formed UTF-8 sequence is written as U+FFFD
 * rather than passed on for the scraper to reject the whole page.
 */
#include "admin/prom.h"

#include "common/utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(struct prom_writer *w)
{
    memset(w, 0, sizeof *w);
}

void prom_free(struct prom_writer *w)
{
    textbuf_free(&w->out);
    w->dropped = 0;
}

static void put(struct prom_writer *w, const char *s, size_t n)
{
    textbuf_put(&w->out, s, n);
}

static void puts_(struct prom_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Writes s escaped: \\ and \n always, \" when quoted (label values). */
static void put_escaped(struct prom_writer *w, const char *s, bool quoted)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t run = 0;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '\\' &&
               !(quoted && p[run] == '"'))
            run++;
        put(w, (const char *)p, run);
        p += run;
        n -= run;
        if (n == 0)
            break;
        uint32_t cp;
        size_t u = utf8_decode(p, n, &cp);
        if (*p == '\\')
            puts_(w, "\\\\");
        else if (*p == '"')
            puts_(w, "\\\"");
        else if (*p == '\n')
            puts_(w, "\\n");
        else if (u > 1)
            put(w, (const char *)p, u);
        else if (u == 1)
            put(w, (const char *)p, 1); /* other control bytes are legal */
        else
            puts_(w, "\xEF\xBF\xBD"); /* U+FFFD */
        size_t step = u > 1 ? u : 1;
        p += step;
        n -= step;
    }
}

static bool label_name_valid(const char *s)
{
    if (!s ||
        !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (s++; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

bool prom_name_valid(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

void prom_family(struct prom_writer *w, const char *name, enum prom_type type,
                 const char *help)
{
    static const char *const types[] = {
        [PROM_COUNTER] = "counter",
        [PROM_GAUGE] = "gauge",
        [PROM_HISTOGRAM] = "histogram",
        [PROM_UNTYPED] = "untyped",
    };
    if (!prom_name_valid(name)) {
        w->dropped++;
        return;
    }
    puts_(w, "# HELP ");
    puts_(w, name);
    puts_(w, " ");
    put_escaped(w, help ? help : "", false);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    puts_(w, " ");
    puts_(w, types[type]);
    puts_(w, "\n");
}

/* name{a="x",b="y"[,extra="v"]} — extra is the histogram's le. */
static bool put_series(struct prom_writer *w, const char *name,
                       const struct prom_label *labels, size_t nlabels,
                       const struct prom_label *extra)
{
    if (!prom_name_valid(name)) {
        w->dropped++;
        return false;
    }
    for (size_t i = 0; i < nlabels; i++)
        if (!label_name_valid(labels[i].name)) {
            w->dropped++;
            return false;
        }
    puts_(w, name);
    if (nlabels == 0 && !extra)
        return true;
    puts_(w, "{");
    for (size_t i = 0; i < nlabels + (extra != NULL); i++) {
        const struct prom_label *l = i < nlabels ? &labels[i] : extra;
        if (i > 0)
            puts_(w, ",");
        puts_(w, l->name);
        puts_(w, "=\"");
        put_escaped(w, l->value ? l->value : "", true);
        puts_(w, "\"");
    }
    puts_(w, "}");
    return true;
}

/* The shortest %g form that reads back as v, without C's exponent for
 * small round numbers: Go's strconv.FormatFloat(v, 'g', -1, 64), what
 * Prometheus's Go client writes, spells 10 "10" where C's shortest %g is
 * "1e+01" (Go keeps the plain form up to an exponent of 6). Prometheus's
 * spellings of the non-finite values. */
static void format_f64(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) != v)
            continue;
        /* C switches to the exponent once it reaches the precision. */
        int exp = v != 0 ? (int)floor(log10(fabs(v))) : 0;
        if (exp >= prec && exp < 6)
            snprintf(buf, len, "%.*g", exp + 1, v);
        return;
    }
}

void prom_sample_u64(struct prom_writer *w, const char *name,
                     const struct prom_label *labels, size_t nlabels,
                     uint64_t v)
{
    char num[32];
    if (!put_series(w, name, labels, nlabels, NULL))
        return;
    snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    puts_(w, num);
}

void prom_sample_f64(struct prom_writer *w, const char *name,
                     const struct prom_label *labels, size_t nlabels, double v)
{
    char num[40];
    if (!put_series(w, name, labels, nlabels, NULL))
        return;
    num[0] = ' ';
    format_f64(v, num + 1, sizeof num - 2);
    strcat(num, "\n");
    puts_(w, num);
}

/* name + suffix into buf; false when it does not fit. */
static bool suffixed(char *buf, size_t len, const char *name,
                     const char *suffix)
{
    return (size_t)snprintf(buf, len, "%s%s", name, suffix) < len;
}

void prom_histogram(struct prom_writer *w, const char *name,
                    const struct prom_label *labels, size_t nlabels,
                    const double *bounds, const uint64_t *counts,
                    size_t nbounds, double sum)
{
    char bucket[256], sumname[256], countname[256], le[40];
    if (!suffixed(bucket, sizeof bucket, name, "_bucket") ||
        !suffixed(sumname, sizeof sumname, name, "_sum") ||
        !suffixed(countname, sizeof countname, name, "_count")) {
        w->dropped++;
        return;
    }
    uint64_t cum = 0;
    for (size_t i = 0; i <= nbounds; i++) {
        cum += counts[i];
        if (i < nbounds)
            format_f64(bounds[i], le, sizeof le);
        else
            snprintf(le, sizeof le, "+Inf");
        struct prom_label l = {.name = "le", .value = le};
        char num[32];
        if (!put_series(w, bucket, labels, nlabels, &l))
            return;
        snprintf(num, sizeof num, " %" PRIu64 "\n", cum);
        puts_(w, num);
    }
    prom_sample_f64(w, sumname, labels, nlabels, sum);
    prom_sample_u64(w, countname, labels, nlabels, cum);
}
