/* fuzz_conf.c — libFuzzer target for the plugin-directory configuration
 * files: proxy.conf (plugins/proxy/proxyconf.c), fanout.conf
 * (plugins/fanout/fanoutconf.c) and kv.conf (plugins/kv/kvconf.c), the
 * text gortd's loader reads from NAME.conf next to NAME.so and hands to
 * the plugin's init.
 *
 * Every input goes through both parsers, as the loader would pass it: the
 * file's bytes up to the first NUL. Checked, besides "no crash, no UB":
 *   - the answer is 0 or -EINVAL (never -ENOMEM here), and a refusal names
 *     "proxy.conf:LINE: " or "fanout.conf:LINE: " with a LINE the file has;
 *   - what a success produced is what init relies on: proxy mappings with
 *     a one-space-separated pattern, an upstream http://HOST[:PORT] with no
 *     path, query, fragment or user info, timeouts > 0, keepalive in
 *     0..100000, lines in file order; fanout's two upstreams (a name, an
 *     http:// URL), a deadline in (0, 1 h], a pattern on one line;
 *   - each pattern then registers in a mux (as init does through
 *     gort_plugin_handle) or is refused with a message: no crash there;
 *   - kv.conf: a success gives max_keys >= 1 (the default when the file
 *     has no word); a refusal is exactly "bad configuration word W (bytes
 *     FROM..TO of kv.conf): ..." with FROM..TO a word of the file, and
 *     nothing of the file's text in it.
 *
 *   build-asan/tests/fuzz/fuzz_conf -dict=tests/fuzz/conf.dict \
 *       /tmp/corpus tests/fuzz/corpus/conf
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanoutconf.h"
#include "http/mux.h"
#include "kvconf.h"
#include "proxyconf.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_conf: %s:%d: check failed: %s\n", __FILE__,  \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int count_lines(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* "NAME.conf:LINE: " with 1 <= LINE <= lines. */
static void check_refusal(const char *err, const char *file, int lines)
{
    size_t fl = strlen(file);
    char *end;

    CHECK(strncmp(err, file, fl) == 0 && err[fl] == ':');
    long line = strtol(err + fl + 1, &end, 10);
    CHECK(end != err + fl + 1 && end[0] == ':' && end[1] == ' ');
    CHECK(line >= 1 && line <= lines);
}

static void try_pattern(struct mux *m, const char *pattern)
{
    char err[256];
    int rc = mux_handle(m, pattern, (void *)1, NULL, pattern, err, sizeof err);

    CHECK(rc == 0 || rc == -EINVAL || rc == -EEXIST);
    if (rc != 0)
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
}

static void fuzz_proxy(const char *conf, int lines)
{
    struct proxy px = {.timeout = 60000000000LL, .keepalive = 32};
    char err[1024];
    int rc = proxy_parse_config(&px, conf, err, sizeof err);

    CHECK(rc == 0 || rc == -EINVAL);
    if (rc < 0)
        check_refusal(err, "proxy.conf", lines);
    else
        CHECK(err[0] == '\0');
    if (rc == 0) {
        CHECK(px.timeout >= 1 && px.keepalive >= 0 && px.keepalive <= 100000);
        struct mux *m = mux_new();
        CHECK(m != NULL);
        int last = 0;
        for (struct proxy_route *rt = px.routes; rt; rt = rt->next) {
            CHECK(rt->line > last && rt->line <= lines);
            last = rt->line;
            CHECK(rt->pattern && rt->pattern[0] && rt->pattern[0] != ' ');
            CHECK(!strstr(rt->pattern, "  ") &&
                  !strpbrk(rt->pattern, "\t\r\n#"));
            CHECK(strncmp(rt->upstream, "http://", 7) == 0 ||
                  strncmp(rt->upstream, "https://", 8) == 0);
            const char *host = rt->upstream + (rt->upstream[4] == 's' ? 8 : 7);
            CHECK(host[0] && !strpbrk(host, "/?#@ \t\r\n"));
            CHECK(rt->timeout == 0 || rt->timeout >= 1);
            CHECK(rt->client == NULL);
            try_pattern(m, rt->pattern);
        }
        mux_free(m);
    }
    while (px.routes) {
        struct proxy_route *rt = px.routes;
        px.routes = rt->next;
        free(rt->pattern);
        free(rt->upstream);
        free(rt);
    }
}

static void fuzz_fanout(const char *conf, int lines)
{
    struct fanout fo = {.deadline = 1000000000LL};
    char err[512];
    int rc = fanout_parse_config(&fo, conf, err, sizeof err);

    CHECK(rc == 0 || rc == -EINVAL);
    if (rc < 0)
        check_refusal(err, "fanout.conf", lines);
    else
        CHECK(err[0] == '\0');
    if (rc == 0) {
        CHECK(fo.nup == 2);
        for (int i = 0; i < 2; i++) {
            CHECK(fo.up[i].name[0] && !strpbrk(fo.up[i].name, " \t\r\n#"));
            CHECK(strncmp(fo.up[i].url, "http://", 7) == 0);
            CHECK(!strpbrk(fo.up[i].url, " \t\r\n#"));
        }
        CHECK(fo.deadline > 0 && fo.deadline <= 3600000000000LL);
        if (fo.pattern) {
            CHECK(!strpbrk(fo.pattern, "\r\n#"));
            struct mux *m = mux_new();
            CHECK(m != NULL);
            try_pattern(m, fo.pattern);
            mux_free(m);
        }
    }
    CHECK(fo.nup >= 0 && fo.nup <= 2);
    for (int i = 0; i < fo.nup; i++)
        free(fo.up[i].name), free(fo.up[i].url);
    free(fo.pattern);
}

static bool only_space(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

static void fuzz_kv(const char *conf)
{
    size_t max_keys = 0, from = 0, to = 0;
    int word = 0, used = 0;
    char err[256];
    int rc = kv_parse_config(conf, &max_keys, err, sizeof err);

    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        CHECK(err[0] == '\0' && max_keys >= 1);
        CHECK(!only_space(conf) || max_keys == KV_DEFAULT_KEYS);
        return;
    }
    CHECK(sscanf(err, "bad configuration word %d (bytes %zu..%zu of kv.conf)%n",
                 &word, &from, &to, &used) == 3);
    CHECK(strcmp(err + used, ": want max_keys=N, N >= 1") == 0);
    size_t len = strlen(conf);
    CHECK(word >= 1 && from < to && to <= len);
    CHECK(!strchr(" \t\r\n", conf[from]) && conf[to - 1] != ' ');
    CHECK(from == 0 || strchr(" \t\r\n", conf[from - 1]));
    CHECK(to == len || strchr(" \t\r\n", conf[to]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *conf = malloc(size + 1);

    CHECK(conf != NULL);
    memcpy(conf, data, size);
    conf[size] = '\0';
    int lines = count_lines(conf);
    fuzz_proxy(conf, lines);
    fuzz_fanout(conf, lines);
    fuzz_kv(conf);
    free(conf);
    return 0;
}
