/* bench.c — `gortctl bench-stats`: the GetStats round trip, measured.
 *
 * Sequential calls on one channel, each timed from before the request is
 * packed to after the reply is unpacked (what any client pays), after a
 * warm-up that opens the connection and fills the caches. Reports the
 * percentiles of the measured calls. Hidden from `gortctl -help`: it is a
 * tool for the numbers in the README, not for operators.
 */
#include <stdlib.h>

#include "cli/flag.h"
#include "cli/duration.h"
#include "common/clock.h"
#include "gort/v1/control.pb-c.h"

#include "gortctl.h"

#define WARMUP 100

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int64_t pct(const int64_t *v, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);
    return v[i];
}

static int one_call(struct app *a, int64_t *ns)
{
    Gort__V1__GetStatsRequest req = GORT__V1__GET_STATS_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct rpc_status st;
    int64_t t0 = now_mono_ns();
    if (rpc_unary(&a->cli, &gort__v1__control__descriptor, "GetStats",
                  &req.base, &resp, &st) < 0)
        return app_rpc_error(a, "GetStats", &st);
    *ns = now_mono_ns() - t0;
    protobuf_c_message_free_unpacked(resp, NULL);
    return EXIT_OK;
}

static void report(const struct app *a, const int64_t *v, long n, int64_t wall,
                   int json)
{
    char p50[32], p90[32], p99[32], max[32];
    double rate = (double)n / ((double)wall / 1e9);
    if (json) {
        printf("{\"calls\": %ld, \"p50_ns\": %lld, \"p90_ns\": %lld, "
               "\"p99_ns\": %lld, "
               "\"max_ns\": %lld, \"calls_per_s\": %.0f}\n",
               n, (long long)pct(v, n, .5), (long long)pct(v, n, .9),
               (long long)pct(v, n, .99), (long long)v[n - 1], rate);
        return;
    }
    cli_duration_format(pct(v, n, .5), p50, sizeof p50);
    cli_duration_format(pct(v, n, .9), p90, sizeof p90);
    cli_duration_format(pct(v, n, .99), p99, sizeof p99);
    cli_duration_format(v[n - 1], max, sizeof max);
    printf("GetStats over %s: %ld calls, p50 %s, p90 %s, p99 %s, max %s, %.0f "
           "calls/s\n",
           a->opts.addr, n, p50, p90, p99, max, rate);
}

int cmd_bench_stats(struct app *a, const struct cmd *c, int argc, char **argv)
{
    long n = 10000;
    int json = 0, rc;
    int64_t dummy;
    const struct cli_flag flags[] = {
        {.name = "json",
         .kind = CLI_FLAG_BOOL,
         .value = &json,
         .usage = "print the numbers as JSON"},
        {.name = "n",
         .kind = CLI_FLAG_INT,
         .value = &n,
         .usage = "measured `calls` (after 100 warm-up calls)"},
    };
    int i = cmd_parse(c, flags, 2, argc, argv, &rc);
    if (i < 0)
        return rc;
    if (i != argc || n < 1 || n > 100000000)
        return cmd_usage_error(c, flags, 2, "-n must be 1..100000000");
    if (app_connect(a) < 0)
        return EXIT_RPC;
    for (int w = 0; w < WARMUP; w++)
        if ((rc = one_call(a, &dummy)) != EXIT_OK)
            return rc;
    int64_t *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return EXIT_RPC;
    int64_t t0 = now_mono_ns();
    for (long k = 0; k < n && rc == EXIT_OK; k++)
        rc = one_call(a, &v[k]);
    int64_t wall = now_mono_ns() - t0;
    if (rc == EXIT_OK) {
        qsort(v, (size_t)n, sizeof *v, cmp_i64);
        report(a, v, n, wall, json);
    }
    free(v);
    return rc;
}
