/* hello — the seed's main.go as gort handlers:
 *
 *   GET /       → {"Content-Type": "application/json"} "hello world\n"
 *   GET /about  → "About page\n"
 *
 * Linked into gortd for now; the plugin issue turns it into a .so.
 */
#include "hello.h"

#include "gort/http.h"

static void hello(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_set_header(w, "Content-Type", "application/json");
    gort_http_println(w, "hello world");
}

static void about(gort_http_response *w, gort_http_request *r, void *arg)
{
    (void)r;
    (void)arg;
    gort_http_println(w, "About page");
}

int gort_hello_register(struct gort_mux *mux, char *err, size_t errlen)
{
    int rc = gort_mux_handle(mux, "GET /{$}", (void *)hello, NULL, "hello", err,
                             errlen);
    if (rc == 0)
        rc = gort_mux_handle(mux, "GET /about", (void *)about, NULL, "hello",
                             err, errlen);
    return rc;
}
