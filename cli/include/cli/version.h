/* cli/version.h — what `gortd --version` and `gortctl --version` print.
 *
 * Shared by gortd and gortctl (library gort_clirpc); internal to gort,
 * prefix cli_, nothing here is part of the SDK.
 */
#ifndef GORT_CLI_VERSION_H
#define GORT_CLI_VERSION_H

#include <stdio.h>

/* "PROG VERSION (commit C)" then the libraries it runs with:
 *   gortd 0.1.0 (commit 1a2b3c4d5e6f)
 *   gRPC core 29.0.0, protobuf-c 1.4.1, built with gcc 12.2.0 */
void cli_version_print(FILE *f, const char *prog);

#endif /* GORT_CLI_VERSION_H */
