/* debug.c — GORTDEBUG, the runtime's knobs (Go's GODEBUG for the scheduler).
 *
 *   GORTDEBUG=schedtrace=1000          a SCHED line every 1000 ms (stderr)
 *   GORTDEBUG=schedtrace=1000,scheddetail=1   plus a line per P, M and G
 *   GORTDEBUG=netpollidle=0            idle Ms do not poll the netpoller
 *   GORTDEBUG=asyncpreemptoff=1        long runners keep their P (Go's
 *                                      knob: sysmon still marks them)
 *   GORTDEBUG=stackhwm=1               at each goroutine exit, measure how
 *                                      deep its stack went (resident pages)
 *                                      and log each new deepest (stderr)
 *
 * Unknown keys are reported once and ignored, as Go does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct gort__debug gort__debug = {.netpollidle = true};

static void apply(const char *key, const char *val)
{
    char *end;
    long long v = strtoll(val, &end, 10);
    bool ok = *val && *end == '\0' && v >= 0;
    if (ok && strcmp(key, "schedtrace") == 0)
        gort__debug.schedtrace_ms = v;
    else if (ok && strcmp(key, "scheddetail") == 0)
        gort__debug.scheddetail = v != 0;
    else if (ok && strcmp(key, "netpollidle") == 0)
        gort__debug.netpollidle = v != 0;
    else if (ok && strcmp(key, "asyncpreemptoff") == 0)
        gort__debug.preemptoff = v != 0;
    else if (ok && strcmp(key, "stackhwm") == 0)
        gort__debug.stackhwm = v != 0;
    else
        fprintf(stderr, "gort: GORTDEBUG: ignoring %s=%s\n", key, val);
}

static void parse_once(void)
{
    const char *env = getenv("GORTDEBUG");
    if (!env)
        return;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", env);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "gort: GORTDEBUG: ignoring %s\n", kv);
            continue;
        }
        *eq = '\0';
        apply(kv, eq + 1);
    }
}

void gort__debug_parse(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, parse_once);
}
