/* cli/duration.h — Go-syntax durations, as gortd and gortctl print them.
 * (The clocks are in common/clock.h.)
 *
 * Shared by gortd and gortctl (library gort_cli); internal to gort,
 * prefix cli_, nothing here is part of the SDK.
 */
#ifndef GORT_CLI_DURATION_H
#define GORT_CLI_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Go's time.ParseDuration ("300ms", "1.5s", "1h2m"); 0 or -1. */
int cli_duration_parse(const char *s, int64_t *ns);

/* Go's Duration.String: "1h2m3.5s", "1.5ms", "0s". */
void cli_duration_format(int64_t ns, char *buf, size_t len);

#endif /* GORT_CLI_DURATION_H */
