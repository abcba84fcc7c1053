/* cli/flag.c — command-line flags the way Go's flag package reads them.
 *
 * gortd and gortctl are used by people who also run Go programs, so they take
 * flags the same way: one or two dashes, "-name=value" or "-name value",
 * booleans only as "-name" or "-name=false", parsing stops at the first
 * argument that is not a flag (a gortctl subcommand) or at "--". The help
 * text is Go's PrintDefaults layout. A table of struct cli_flag describes a
 * command; nothing is registered globally, so each gortctl subcommand has
 * its own table.
 */
#include "cli/flag.h"
#include "cli/duration.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_flag *flag_find(const struct cli_flag *flags, size_t n,
                                        const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(flags[i].name) == len &&
            strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Go's strconv.ParseBool. */
static int bool_parse(const char *s, int *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int long_parse(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int strings_add(struct cli_strings *l, const char *v)
{
    if (!l->given) {
        l->given = 1;
        l->n = 0;
    }
    if (l->n == CLI_STRINGS_MAX)
        return -1;
    l->v[l->n++] = v;
    return 0;
}

static int flag_set(const struct cli_flag *f, const char *v, char *err,
                    size_t errlen)
{
    int rc = 0;
    switch (f->kind) {
    case CLI_FLAG_STRING:
        *(const char **)f->value = v;
        break;
    case CLI_FLAG_BOOL:
        rc = bool_parse(v, (int *)f->value);
        break;
    case CLI_FLAG_INT:
        rc = long_parse(v, (long *)f->value);
        break;
    case CLI_FLAG_DURATION:
        rc = cli_duration_parse(v, (int64_t *)f->value);
        break;
    case CLI_FLAG_STRINGS:
        rc = strings_add(f->value, v);
        if (rc < 0) {
            snprintf(err, errlen, "flag -%s given more than %d times", f->name,
                     CLI_STRINGS_MAX);
            return rc;
        }
        break;
    }
    if (rc < 0)
        snprintf(err, errlen, "invalid value \"%s\" for flag -%s: parse error",
                 v, f->name);
    else if (f->seen)
        *f->seen = 1;
    return rc;
}

static int is_help(const char *name, size_t len)
{
    return (len == 1 && name[0] == 'h') ||
           (len == 4 && strncmp(name, "help", 4) == 0);
}

/* One flag at argv[*i]; advances *i past its value. */
static int flag_one(const struct cli_flag *flags, size_t n, int argc,
                    char **argv, int *i, char *err, size_t errlen)
{
    const char *name = argv[*i] + 1 + (argv[*i][1] == '-');
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_flag *f = flag_find(flags, n, name, len);

    if (!f && is_help(name, len))
        return CLI_FLAGS_HELP;
    if (!f || len == 0 || name[0] == '-') {
        snprintf(err, errlen, "flag provided but not defined: -%.*s", (int)len,
                 name);
        return CLI_FLAGS_ERROR;
    }
    if (eq)
        return flag_set(f, eq + 1, err, errlen) < 0 ? CLI_FLAGS_ERROR : 0;
    if (f->kind == CLI_FLAG_BOOL)
        return flag_set(f, "true", err, errlen) < 0 ? CLI_FLAGS_ERROR : 0;
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "flag needs an argument: -%s", f->name);
        return CLI_FLAGS_ERROR;
    }
    *i += 1;
    return flag_set(f, argv[*i], err, errlen) < 0 ? CLI_FLAGS_ERROR : 0;
}

/* " (default ...)" for f's value as it is now, or "" for a zero value. */
static void default_format(const struct cli_flag *f, char *buf, size_t len)
{
    char d[64];
    size_t at = 0;
    buf[0] = '\0';
    switch (f->kind) {
    case CLI_FLAG_STRING: {
        const char *v = *(const char **)f->value;
        if (v && *v)
            snprintf(buf, len, " (default \"%s\")", v);
        break;
    }
    case CLI_FLAG_BOOL:
        if (*(int *)f->value)
            snprintf(buf, len, " (default true)");
        break;
    case CLI_FLAG_INT:
        if (*(long *)f->value)
            snprintf(buf, len, " (default %ld)", *(long *)f->value);
        break;
    case CLI_FLAG_DURATION:
        if (*(int64_t *)f->value) {
            cli_duration_format(*(int64_t *)f->value, d, sizeof d);
            snprintf(buf, len, " (default %s)", d);
        }
        break;
    case CLI_FLAG_STRINGS: {
        const struct cli_strings *l = f->value;
        for (size_t i = 0; i < l->n && at < len; i++)
            at += (size_t)snprintf(buf + at, len - at, "%s\"%s\"%s",
                                   i ? ", " : " (default ", l->v[i],
                                   i + 1 == l->n ? ")" : "");
        break;
    }
    }
}

/* Each flag's default as it was when its table was last parsed, as Go's
 * flag package keeps DefValue: a parse stores what was typed where the
 * default was, and a usage printed for a bad value ("-netpoll kqueue")
 * showed the bad value as the default. A record is found by the value's
 * address and kind, and used only while the value still holds what the
 * parse left there (a hash of it): a table on the stack may reuse the
 * address of one parsed earlier. Past DEFAULTS_MAX flags, and for a table
 * never parsed, the current value is printed. */
#define DEFAULTS_MAX 96
static struct {
    const void *value;
    enum cli_flag_kind kind;
    uint64_t after; /* the value's hash when the parse ended */
    char text[160];
} defaults[DEFAULTS_MAX];
static size_t ndefaults;

static size_t value_size(enum cli_flag_kind k)
{
    switch (k) {
    case CLI_FLAG_STRING:
        return sizeof(const char *);
    case CLI_FLAG_BOOL:
        return sizeof(int);
    case CLI_FLAG_INT:
        return sizeof(long);
    case CLI_FLAG_DURATION:
        return sizeof(int64_t);
    case CLI_FLAG_STRINGS:
        break;
    }
    return sizeof(struct cli_strings);
}

/* FNV-1a over the value's bytes. */
static uint64_t value_hash(const struct cli_flag *f)
{
    const unsigned char *p = f->value;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < value_size(f->kind); i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static long default_find(const struct cli_flag *f)
{
    for (size_t i = 0; i < ndefaults; i++)
        if (defaults[i].value == f->value && defaults[i].kind == f->kind)
            return (long)i;
    return -1;
}

static void defaults_remember(const struct cli_flag *flags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long k = default_find(&flags[i]);
        if (k < 0 && ndefaults == DEFAULTS_MAX)
            continue;
        if (k < 0) {
            k = (long)ndefaults++;
            defaults[k].value = flags[i].value;
            defaults[k].kind = flags[i].kind;
        }
        default_format(&flags[i], defaults[k].text, sizeof defaults[k].text);
    }
}

static void defaults_settle(const struct cli_flag *flags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long k = default_find(&flags[i]);
        if (k >= 0)
            defaults[k].after = value_hash(&flags[i]);
    }
}

static void default_print(FILE *out, const struct cli_flag *f)
{
    char now[160];
    long k = default_find(f);
    if (k >= 0 && defaults[k].after == value_hash(f)) {
        fputs(defaults[k].text, out);
        return;
    }
    default_format(f, now, sizeof now);
    fputs(now, out);
}

static int parse_args(const struct cli_flag *flags, size_t n, int argc,
                      char **argv, int first, char *err, size_t errlen)
{
    int i;
    for (i = first; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break; /* a subcommand, an operand, or "-" (stdin) */
        if (strcmp(a, "--") == 0)
            return i + 1;
        int rc = flag_one(flags, n, argc, argv, &i, err, errlen);
        if (rc < 0)
            return rc;
    }
    return i;
}

int cli_flags_parse(const struct cli_flag *flags, size_t n, int argc,
                    char **argv, int first, char *err, size_t errlen)
{
    defaults_remember(flags, n);
    int rc = parse_args(flags, n, argc, argv, first, err, errlen);
    defaults_settle(flags, n);
    return rc;
}

/* The value's name in the help: a `word` in the usage, else the kind. */
static void usage_split(const struct cli_flag *f, char *word, size_t wlen,
                        char *text, size_t tlen)
{
    static const char *const kinds[] = {"string", "", "int", "duration",
                                        "string"};
    const char *open = strchr(f->usage, '`');
    const char *close = open ? strchr(open + 1, '`') : NULL;

    if (!close) {
        snprintf(word, wlen, "%s", kinds[f->kind]);
        snprintf(text, tlen, "%s", f->usage);
        return;
    }
    snprintf(word, wlen, "%.*s", (int)(close - open - 1), open + 1);
    snprintf(text, tlen, "%.*s%.*s%s", (int)(open - f->usage), f->usage,
             (int)(close - open - 1), open + 1, close + 1);
}

void cli_flags_print(FILE *out, const struct cli_flag *flags, size_t n)
{
    char word[64], text[512];
    for (size_t i = 0; i < n; i++) {
        const struct cli_flag *f = &flags[i];
        usage_split(f, word, sizeof word, text, sizeof text);
        fprintf(out, "  -%s", f->name);
        if (*word)
            fprintf(out, " %s", word);
        /* Go keeps a one-letter flag's usage on its line. */
        fputs(strlen(f->name) == 1 && !*word ? "\t" : "\n    \t", out);
        fputs(text, out);
        default_print(out, f);
        fputc('\n', out);
    }
}
