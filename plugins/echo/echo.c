/* echo — answers with the request as JSON:
 *
 *   ANY /echo/...  → {"method": "...", "path": "...", "query": "...",
 *                     "proto": "...", "remote": "...",
 *                     "headers": [["Name", "value"], ...], "body": "..."}
 *
 * The body is read whole (Content-Length or chunked) and echoed as a JSON
 * string; /echo/raw/... streams it back unchanged instead (a chunked
 * response of whatever size). Built as echo.so.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/plugin.h"

static void json_string(gort_http_response *w, const char *s, size_t n)
{
    gort_http_write(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            gort_http_printf(w, "\\%c", ch);
        else if (ch < 0x20)
            gort_http_printf(w, "\\u%04x", ch);
        else
            gort_http_write(w, &s[i], 1);
    }
    gort_http_write(w, "\"", 1);
}

static void json_field(gort_http_response *w, const char *name, const char *v)
{
    gort_http_printf(w, "\"%s\": ", name);
    json_string(w, v, strlen(v));
    gort_http_write(w, ", ", 2);
}

static void echo_headers(gort_http_response *w, gort_http_request *r)
{
    const char *name, *value;
    gort_http_write(w, "\"headers\": [", 12);
    for (size_t i = 0; (name = gort_http_header_at(r, i, &value)); i++) {
        gort_http_write(w, i ? ", [" : "[", i ? 3 : 1);
        json_string(w, name, strlen(name));
        gort_http_write(w, ", ", 2);
        json_string(w, value, strlen(value));
        gort_http_write(w, "]", 1);
    }
    gort_http_write(w, "], ", 3);
}

/* Answers a body that could not be read, before anything was written:
 * the client's mistake gets its 4xx, not an echo of half a body. */
static void body_error(gort_http_response *w, ssize_t err)
{
    if (err == -EBADMSG)
        gort_http_error(w, "malformed request body", 400);
    else if (err == -EFBIG)
        gort_http_error(w, "Request Entity Too Large", 413);
    else if (err == -ETIMEDOUT)
        gort_http_error(w, "Request Timeout", 408);
    else
        gort_http_abort(w, "request body broken");
}

/* Reads the whole body into *out (*n bytes); 0, or the read's error or
 * -ENOMEM (nothing kept). */
static ssize_t read_body(gort_http_request *r, char **out, size_t *n)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t got = 0;
    while (buf && (got = gort_http_body_read(r, buf + len, cap - len)) > 0) {
        len += (size_t)got;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
    }
    if (!buf || got < 0) {
        ssize_t rc = buf ? got : -ENOMEM;
        free(buf);
        return rc;
    }
    *out = buf;
    *n = len;
    return 0;
}

static void echo_json(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    size_t blen = 0;
    char *body = NULL;
    ssize_t rc = read_body(r, &body, &blen);
    if (rc == -ENOMEM) {
        gort_http_error(w, "out of memory", 500);
        return;
    }
    if (rc < 0) {
        body_error(w, rc);
        return;
    }
    gort_http_set_header(w, "Content-Type", "application/json");
    gort_http_write(w, "{", 1);
    json_field(w, "method", gort_http_method(r));
    json_field(w, "path", gort_http_path(r));
    json_field(w, "query", gort_http_query(r));
    json_field(w, "proto", gort_http_proto(r));
    json_field(w, "remote", gort_http_remote_addr(r));
    echo_headers(w, r);
    gort_http_write(w, "\"body\": ", 8);
    json_string(w, body, blen);
    gort_http_write(w, "}\n", 2);
    free(body);
}

static void echo_raw(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)arg;
    char buf[8192];
    ssize_t n;
    bool wrote = false;
    gort_http_set_header(w, "Content-Type", "application/octet-stream");
    while ((n = gort_http_body_read(r, buf, sizeof buf)) > 0) {
        if (gort_http_write(w, buf, (size_t)n) < 0)
            return;
        wrote = true;
    }
    if (n < 0 && !wrote)
        body_error(w, n);
    else if (n < 0) /* half an echo is out: cut the connection */
        gort_http_abort(w, "request body broken");
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    int rc = gort_plugin_handle(reg, "/echo/", echo_json, NULL);
    if (rc == 0)
        rc = gort_plugin_handle(reg, "/echo/raw/", echo_raw, NULL);
    return rc;
}

GORT_PLUGIN("echo", "1.0.0", init, NULL);
