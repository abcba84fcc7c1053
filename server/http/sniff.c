/* http/sniff.c — the Content-Type of a body that names none, as net/http
 * picks it (DetectContentType, after the WHATWG MIME Sniffing standard).
 *
 * net/http gives a response whose handler set no Content-Type the type its
 * first bytes look like: up to 512 of them are matched against a fixed
 * list of signatures, in order, and the first match names the type. The
 * list is the standard's: HTML tags (case-insensitive, after leading
 * white space, followed by a space or '>'), XML, PDF, PostScript, the
 * Unicode byte order marks, image, audio, video, font and archive magic
 * numbers, WebAssembly; then "text/plain; charset=utf-8" when no byte is a
 * control character a text never holds, else "application/octet-stream".
 * A plugin that writes an HTML page without naming its type is thus
 * rendered by a browser as it would be behind Go.
 *
 * (A pattern's text after a \x escape is a separate literal: C would read
 * "\x00AIFF" as \x00A then "IFF".)
 *
 * Three kinds of signature: an exact prefix; a pattern under a mask (the
 * bytes a format leaves free, such as RIFF's length, are masked out),
 * optionally after leading white space; and two that need code: an HTML
 * tag, and MP4's "ftyp" box, whose brands are scanned for "mp4".
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gort/http.h"

#define SNIFF_LEN 512

enum sig_kind { SIG_EXACT, SIG_MASKED, SIG_MASKED_WS };

struct sig {
    enum sig_kind kind;
    const char *pat, *mask; /* mask: NULL for SIG_EXACT */
    uint8_t len;
    const char *type;
};

#define EXACT(p, t)                                                            \
    {                                                                          \
        SIG_EXACT, p, NULL, sizeof p - 1, t                                    \
    }
#define MASKED(p, m, t)                                                        \
    {                                                                          \
        SIG_MASKED, p, m, sizeof p - 1, t                                      \
    }

static const char *const html_tags[] = {
    "<!DOCTYPE HTML",
    "<HTML",
    "<HEAD",
    "<SCRIPT",
    "<IFRAME",
    "<H1",
    "<DIV",
    "<FONT",
    "<TABLE",
    "<A",
    "<STYLE",
    "<TITLE",
    "<B",
    "<BODY",
    "<BR",
    "<P",
    "<!--",
};

/* In net/http's order, after the HTML tags; MP4 goes before WebM. */
static const struct sig sigs_before_mp4[] = {
    {SIG_MASKED_WS, "<?xml", "\xFF\xFF\xFF\xFF\xFF", 5,
     "text/xml; charset=utf-8"},
    EXACT("%PDF-", "application/pdf"),
    EXACT("%!PS-Adobe-", "application/postscript"),
    MASKED("\xFE\xFF\x00\x00", "\xFF\xFF\x00\x00",
           "text/plain; charset=utf-16be"),
    MASKED("\xFF\xFE\x00\x00", "\xFF\xFF\x00\x00",
           "text/plain; charset=utf-16le"),
    MASKED("\xEF\xBB\xBF\x00", "\xFF\xFF\xFF\x00", "text/plain; charset=utf-8"),
    EXACT("\x00\x00\x01\x00", "image/x-icon"),
    EXACT("\x00\x00\x02\x00", "image/x-icon"),
    EXACT("BM", "image/bmp"),
    EXACT("GIF87a", "image/gif"),
    EXACT("GIF89a", "image/gif"),
    MASKED("RIFF\x00\x00\x00\x00"
           "WEBPVP",
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
           "image/webp"),
    EXACT("\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    EXACT("\xFF\xD8\xFF", "image/jpeg"),
    MASKED("FORM\x00\x00\x00\x00"
           "AIFF",
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "audio/aiff"),
    MASKED("ID3", "\xFF\xFF\xFF", "audio/mpeg"),
    MASKED("OggS\x00", "\xFF\xFF\xFF\xFF\xFF", "application/ogg"),
    MASKED("MThd\x00\x00\x00\x06", "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
           "audio/midi"),
    MASKED("RIFF\x00\x00\x00\x00"
           "AVI ",
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "video/avi"),
    MASKED("RIFF\x00\x00\x00\x00"
           "WAVE",
           "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "audio/wave"),
};

/* 34 zero bytes (masked out) then "LP": an embedded OpenType font. */
#define Z34                                                                    \
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"     \
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

static const struct sig sigs_after_mp4[] = {
    EXACT("\x1A\x45\xDF\xA3", "video/webm"),
    MASKED(Z34 "LP", Z34 "\xFF\xFF", "application/vnd.ms-fontobject"),
    EXACT("\x00\x01\x00\x00", "font/ttf"),
    EXACT("OTTO", "font/otf"),
    EXACT("ttcf", "font/collection"),
    EXACT("wOFF", "font/woff"),
    EXACT("wOF2", "font/woff2"),
    EXACT("\x1F\x8B\x08", "application/x-gzip"),
    EXACT("PK\x03\x04", "application/zip"),
    EXACT("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    EXACT("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    EXACT("\x00\x61\x73\x6D", "application/wasm"),
};

static bool is_ws(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\x0c' || c == '\r' || c == ' ';
}

/* tag (upper case) starts d[0..n), case-insensitively, and a space or '>'
 * follows it. */
static bool html_tag_at(const unsigned char *d, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    if (n < tl + 1)
        return false;
    for (size_t i = 0; i < tl; i++) {
        unsigned char want = (unsigned char)tag[i], got = d[i];
        if (want >= 'A' && want <= 'Z')
            got &= 0xDF; /* folds a-z onto A-Z, as the standard does */
        if (got != want)
            return false;
    }
    return d[tl] == ' ' || d[tl] == '>';
}

static bool sig_matches(const struct sig *s, const unsigned char *d, size_t n,
                        size_t ws)
{
    if (s->kind == SIG_MASKED_WS) {
        d += ws;
        n -= ws;
    }
    if (n < s->len)
        return false;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char b = s->mask ? d[i] & (unsigned char)s->mask[i] : d[i];
        if (b != (unsigned char)s->pat[i])
            return false;
    }
    return true;
}

static const char *first_match(const struct sig *sigs, size_t count,
                               const unsigned char *d, size_t n, size_t ws)
{
    for (size_t i = 0; i < count; i++)
        if (sig_matches(&sigs[i], d, n, ws))
            return sigs[i].type;
    return NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* An "ftyp" box that fits in d, whose major brand or a compatible one
 * (every 4 bytes from 8, skipping the minor version at 12) is "mp4". */
static bool is_mp4(const unsigned char *d, size_t n)
{
    if (n < 12)
        return false;
    uint32_t box = be32(d);
    if (n < box || box % 4 != 0 || memcmp(d + 4, "ftyp", 4) != 0)
        return false;
    for (uint32_t at = 8; at < box; at += 4)
        if (at != 12 && memcmp(d + at, "mp4", 3) == 0)
            return true;
    return false;
}

/* No byte a text never holds: C0 controls but TAB, LF, FF, CR and ESC. */
static bool is_text(const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = d[i];
        if (b <= 0x08 || b == 0x0B || (b >= 0x0E && b <= 0x1A) ||
            (b >= 0x1C && b <= 0x1F))
            return false;
    }
    return true;
}

const char *gort_http_detect_content_type(const void *data, size_t n)
{
    const unsigned char *d = data;
    if (!d || n == 0)
        return "text/plain; charset=utf-8"; /* as net/http's, for no bytes */
    if (n > SNIFF_LEN)
        n = SNIFF_LEN;
    size_t ws = 0;
    while (ws < n && is_ws(d[ws]))
        ws++;
    for (size_t i = 0; i < sizeof html_tags / sizeof html_tags[0]; i++)
        if (html_tag_at(d + ws, n - ws, html_tags[i]))
            return "text/html; charset=utf-8";
    const char *t = first_match(
        sigs_before_mp4, sizeof sigs_before_mp4 / sizeof sigs_before_mp4[0], d,
        n, ws);
    if (t)
        return t;
    if (is_mp4(d, n))
        return "video/mp4";
    t = first_match(sigs_after_mp4,
                    sizeof sigs_after_mp4 / sizeof sigs_after_mp4[0], d, n, ws);
    if (t)
        return t;
    return is_text(d + ws, n - ws) ? "text/plain; charset=utf-8"
                                   : "application/octet-stream";
}
