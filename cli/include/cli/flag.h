/* cli/flag.h — command-line flags the way Go's flag package reads them.
 *
 * Shared by gortd and gortctl (library gort_cli); internal to gort,
 * prefix cli_, nothing here is part of the SDK.
 */
#ifndef GORT_CLI_FLAG_H
#define GORT_CLI_FLAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Go's flag package, enough of it: "-name" and "--name", "-name=value" and
 * "-name value" (not for bools), "--" ends the flags, the first non-flag
 * argument ends them too. -h, -help and --help ask for help. */

enum cli_flag_kind {
    CLI_FLAG_STRING,   /* value: const char ** */
    CLI_FLAG_BOOL,     /* value: int * */
    CLI_FLAG_INT,      /* value: long * */
    CLI_FLAG_DURATION, /* value: int64_t * (nanoseconds), Go syntax "1.5s" */
    CLI_FLAG_STRINGS,  /* value: struct cli_strings *; may be repeated */
};

/* A repeatable string flag ("-listen A -listen B"): the first use replaces
 * the defaults, each use appends; more than CLI_STRINGS_MAX is an error. */
#define CLI_STRINGS_MAX 16
struct cli_strings {
    const char *v[CLI_STRINGS_MAX];
    size_t n;
    int given; /* set by the parser: the defaults were replaced */
};

struct cli_flag {
    const char *name; /* without dashes: "control-tls-cert" */
    enum cli_flag_kind kind;
    void *value;       /* holds the default on entry */
    const char *usage; /* one line; a `word` in backquotes names the value */
    int *seen;         /* optional: set to 1 when the flag is given */
};

/* -h / -help / --help was given. */
#define CLI_FLAGS_HELP (-1)
/* err says why: print it and the usage, exit 2. */
#define CLI_FLAGS_ERROR (-2)

/* Parses argv[first..argc). Returns the index of the first argument that is
 * not a flag (argc when none), CLI_FLAGS_HELP or CLI_FLAGS_ERROR. */
int cli_flags_parse(const struct cli_flag *flags, size_t n, int argc,
                    char **argv, int first, char *err, size_t errlen);

/* Go's PrintDefaults: "  -name type\n    \tusage (default ...)". */
void cli_flags_print(FILE *f, const struct cli_flag *flags, size_t n);

#endif /* GORT_CLI_FLAG_H */
