/* status_text.c — prints "CODE\tTEXT" for every status code gortd names
 * (gort_http_status_text, server/http/response.c), 100 to 999, for
 * test_seed_oracle.py to compare with Go's http.StatusText. */
#include <stdio.h>

#include "gort/http.h"

int main(void)
{
    for (int code = 100; code < 1000; code++) {
        const char *text = gort_http_status_text(code);
        if (*text)
            printf("%d\t%s\n", code, text);
    }
    return 0;
}
