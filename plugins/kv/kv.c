/* kv — an in-memory key-value store over HTTP:
 *
 *   GET    /kv/{key}  → 200, the value (application/octet-stream), or 404
 *                       "no such key\n"
 *   PUT    /kv/{key}  → 201 created / 204 replaced; the body (Content-Length
 *                       or chunked) is the value, at most KV_MAX_VALUE bytes
 *                       (413 beyond); 507 when creating a key would pass
 *                       max_keys
 *   DELETE /kv/{key}  → 204, or 404 "no such key\n"
 *
 * Any other method gets the mux's 405 with Allow. Configuration (the plugin's
 * config string, kv.conf next to kv.so): "max_keys=N", N >= 1; 100000
 * without it. A bad string refuses the plugin.
 *
 * The map is a chained hash table, doubled when it passes 3/4 full, under
 * one gort_mutex: contention parks the goroutine, never its thread. Nothing
 * slow runs under the lock: a PUT reads its body first, a GET takes a
 * reference to the value and writes it after unlocking. A value is
 * immutable once stored and reference-counted, so a GET still writing an
 * old value while a PUT replaces it (or a DELETE removes it) keeps it alive
 * until it is done. Keys are the path segment as the mux gives it. Built as
 * kv.so.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gort/plugin.h"
#include "kvconf.h"

#define KV_MAX_VALUE (1 << 20) /* bytes in one value; 413 beyond */
#define KV_MIN_BUCKETS 64      /* a power of two */

/* A stored value: written once by the PUT that made it, then read-only. */
struct kv_value {
    atomic_size_t refs; /* the map's reference + one per GET writing it;
                           relaxed increments (taken under the map's lock,
                           from a live reference), acq_rel decrements so
                           the last one sees every other user's reads */
    size_t len;
    unsigned char data[];
};

struct kv_entry {
    struct kv_entry *next; /* chain in its bucket */
    uint64_t hash;
    struct kv_value *val; /* the map's reference */
    size_t klen;
    char key[]; /* NUL-terminated */
};

struct kv {
    gort_mutex mu;             /* guards everything below */
    struct kv_entry **buckets; /* nbuckets chains */
    size_t nbuckets;           /* a power of two */
    size_t n;                  /* keys stored */
    size_t max_keys;           /* set by init, read-only after */
};

enum { KV_CREATED, KV_REPLACED, KV_FULL };

/* ---- values ------------------------------------------------------------- */

static void value_ref(struct kv_value *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

static void value_unref(struct kv_value *v)
{
    if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
        free(v);
}

static struct kv_value *value_new(size_t cap)
{
    struct kv_value *v = malloc(sizeof *v + cap);
    if (v) {
        atomic_init(&v->refs, 1);
        v->len = 0;
    }
    return v;
}

/* ---- the map (callers hold mu) ------------------------------------------ */

static uint64_t hash_key(const char *key, size_t n) /* FNV-1a */
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h;
}

static struct kv_entry **map_slot(struct kv *kv, const char *key, size_t klen,
                                  uint64_t h)
{
    struct kv_entry **pp = &kv->buckets[h & (kv->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || (*pp)->klen != klen ||
                   memcmp((*pp)->key, key, klen) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the table. Out of memory leaves it as it is: longer chains, still
 * correct. */
static void map_grow(struct kv *kv)
{
    size_t nb = kv->nbuckets * 2;
    struct kv_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < kv->nbuckets; i++) {
        struct kv_entry *e = kv->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(kv->buckets);
    kv->buckets = b;
    kv->nbuckets = nb;
}

/* Stores v under key, taking the caller's reference; *old gets the value it
 * replaced (to unref after unlocking). KV_FULL (v not taken) at max_keys,
 * -ENOMEM. */
static int map_put(struct kv *kv, const char *key, struct kv_value *v,
                   struct kv_value **old)
{
    size_t klen = strlen(key);
    uint64_t h = hash_key(key, klen);
    struct kv_entry **pp = map_slot(kv, key, klen, h);

    *old = NULL;
    if (*pp) {
        *old = (*pp)->val;
        (*pp)->val = v;
        return KV_REPLACED;
    }
    if (kv->n >= kv->max_keys)
        return KV_FULL;
    struct kv_entry *e = malloc(sizeof *e + klen + 1);
    if (!e)
        return -ENOMEM;
    *e = (struct kv_entry){.hash = h, .val = v, .klen = klen};
    memcpy(e->key, key, klen + 1);
    *pp = e;
    if (++kv->n > kv->nbuckets / 4 * 3)
        map_grow(kv);
    return KV_CREATED;
}

static void map_free(struct kv *kv)
{
    for (size_t i = 0; i < kv->nbuckets; i++) {
        struct kv_entry *e = kv->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            value_unref(e->val);
            free(e);
        }
    }
    free(kv->buckets);
}

/* ---- handlers ----------------------------------------------------------- */

static void kv_get(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct kv *kv = arg;
    const char *key = gort_http_path_value(r, "key");
    size_t klen = strlen(key);

    gort_mutex_lock(&kv->mu);
    struct kv_entry *e = *map_slot(kv, key, klen, hash_key(key, klen));
    struct kv_value *v = e ? e->val : NULL;
    if (v)
        value_ref(v);
    gort_mutex_unlock(&kv->mu);

    if (!v) {
        gort_http_error(w, "no such key", 404);
        return;
    }
    gort_http_set_header(w, "Content-Type", "application/octet-stream");
    gort_http_write_header(w, 200);
    gort_http_write(w, v->data, v->len);
    value_unref(v);
}

/* Reads the whole body into a new value; NULL with *status set (413, 400,
 * 500) when it cannot. A broken connection aborts the handler. */
static struct kv_value *read_value(gort_http_response *w, gort_http_request *r,
                                   int *status)
{
    int64_t cl = gort_http_content_length(r);
    size_t cap = cl >= 0 ? (size_t)cl : 4096;
    struct kv_value *v;
    ssize_t got = 1;

    *status = 413;
    if (cl > KV_MAX_VALUE)
        return NULL;
    if (!(v = value_new(cap)))
        goto nomem;
    /* Chunked: grow up to one byte past the limit, which proves it passed. */
    while (got > 0) {
        if (v->len == cap && cl < 0) {
            if (cap > KV_MAX_VALUE)
                goto err;
            cap = cap * 2 > KV_MAX_VALUE ? KV_MAX_VALUE + 1 : cap * 2;
            struct kv_value *nv = realloc(v, sizeof *v + cap);
            if (!nv)
                goto nomem;
            v = nv;
        }
        got = v->len < cap
                  ? gort_http_body_read(r, v->data + v->len, cap - v->len)
                  : 0;
        v->len += got > 0 ? (size_t)got : 0;
    }
    if (got == 0)
        return v;
    if (got != -EFBIG && got != -EBADMSG) {
        free(v);
        gort_http_abort(w, "request body broken");
    }
    *status = got == -EFBIG ? 413 : 400;
    goto err;
nomem:
    *status = 500;
err:
    free(v);
    return NULL;
}

static const char *put_error(int status)
{
    switch (status) {
    case 400:
        return "malformed request body";
    case 413:
        return "value too large";
    case 507:
        return "too many keys";
    default:
        return "out of memory";
    }
}

static void kv_put(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct kv *kv = arg;
    struct kv_value *old, *v;
    int status, rc;

    if (!(v = read_value(w, r, &status))) {
        gort_http_error(w, put_error(status), status);
        return;
    }
    gort_mutex_lock(&kv->mu);
    rc = map_put(kv, gort_http_path_value(r, "key"), v, &old);
    gort_mutex_unlock(&kv->mu);
    value_unref(old);
    if (rc == KV_CREATED || rc == KV_REPLACED) {
        gort_http_write_header(w, rc == KV_CREATED ? 201 : 204);
        return;
    }
    free(v); /* not stored: still only ours */
    status = rc == KV_FULL ? 507 : 500;
    gort_http_error(w, put_error(status), status);
}

static void kv_delete(gort_http_response *w, gort_http_request *r, void *arg)
{
    struct kv *kv = arg;
    const char *key = gort_http_path_value(r, "key");
    size_t klen = strlen(key);

    gort_mutex_lock(&kv->mu);
    struct kv_entry **pp = map_slot(kv, key, klen, hash_key(key, klen));
    struct kv_entry *e = *pp;
    if (e) {
        *pp = e->next;
        kv->n--;
    }
    gort_mutex_unlock(&kv->mu);

    if (!e) {
        gort_http_error(w, "no such key", 404);
        return;
    }
    value_unref(e->val);
    free(e);
    gort_http_write_header(w, 204);
}

/* ---- life cycle --------------------------------------------------------- */

static void kv_fini(void *state)
{
    struct kv *kv = state;
    if (!kv)
        return;
    map_free(kv);
    free(kv);
}

static int kv_init(struct gort_plugin_registrar *reg, const char *config,
                   void **state)
{
    static const struct {
        const char *pattern;
        gort_http_handler h;
    } routes[] = {
        {"GET /kv/{key}", kv_get},
        {"PUT /kv/{key}", kv_put},
        {"DELETE /kv/{key}", kv_delete},
    };
    size_t max_keys;
    char err[256];
    int rc = kv_parse_config(config, &max_keys, err, sizeof err);
    if (rc < 0) {
        gort_plugin_set_error(reg, "%s", err);
        return rc;
    }

    struct kv *kv = calloc(1, sizeof *kv); /* mu: zero is unlocked */
    if (!kv || !(kv->buckets = calloc(KV_MIN_BUCKETS, sizeof *kv->buckets))) {
        free(kv);
        return -ENOMEM;
    }
    kv->nbuckets = KV_MIN_BUCKETS;
    kv->max_keys = max_keys;
    /* fini runs only when init succeeds: a failure here frees the state. */
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && rc == 0; i++)
        rc = gort_plugin_handle(reg, routes[i].pattern, routes[i].h, kv);
    if (rc < 0) {
        kv_fini(kv);
        return rc;
    }
    *state = kv;
    return 0;
}

GORT_PLUGIN("kv", "1.0.0", kv_init, kv_fini);
