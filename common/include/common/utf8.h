/* common/utf8.h — decoding one UTF-8 sequence, strictly (RFC 3629).
 *
 * gort writes strings that come from outside (plugin names, paths, header
 * values, route patterns) into formats that require valid UTF-8: JSON log
 * records, the Prometheus page, the dashboard's stats. Each writer replaces
 * or escapes what this says is invalid, so one definition of "valid" serves
 * them all: no overlong forms, no surrogates, nothing past U+10FFFF, no
 * sequence cut short.
 *
 * Internal to gort (header-only, library gort_common), not the SDK.
 */
#ifndef GORT_COMMON_UTF8_H
#define GORT_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the valid sequence at s, n > 0 bytes available,
 * with its code point in *cp; 0 when the bytes there are not valid UTF-8. */
static inline size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf)
        len = 2, c = b & 0x1f, min = 0x80;
    else if (b >= 0xe0 && b <= 0xef)
        len = 3, c = b & 0x0f, min = 0x800;
    else if (b >= 0xf0 && b <= 0xf4)
        len = 4, c = b & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

#endif /* GORT_COMMON_UTF8_H */
