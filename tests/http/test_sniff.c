/* test_sniff.c — gort_http_detect_content_type (server/http/sniff.c)
 * against net/http's DetectContentType. Each row's answer is what Go 1.19
 * (Debian's golang-go) printed for the same bytes; 200 random short
 * inputs besides these agreed too when the table was made. Also: only
 * the first 512 bytes count, and leading white space is skipped for
 * markup but not for magic numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "gort/http.h"

static void go_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "text/plain; charset=utf-8"},
        {"hello", 5, "text/plain; charset=utf-8"},
        {"  <html>", 8, "text/html; charset=utf-8"},
        {"<HTML>", 6, "text/html; charset=utf-8"},
        {"<html", 5, "text/plain; charset=utf-8"},
        {"<htmlx", 6, "text/plain; charset=utf-8"},
        {"\n\t<!DOCTYPE html>", 17, "text/html; charset=utf-8"},
        {"<!doctype HTML ", 15, "text/html; charset=utf-8"},
        {"<!--x", 5, "text/plain; charset=utf-8"},
        {"<!-- x", 6, "text/html; charset=utf-8"},
        {"<a href", 7, "text/html; charset=utf-8"},
        {"<b>", 3, "text/html; charset=utf-8"},
        {"<br/>", 5, "text/plain; charset=utf-8"},
        {"<p>", 3, "text/html; charset=utf-8"},
        {"<P ", 3, "text/html; charset=utf-8"},
        {"<h1>", 4, "text/html; charset=utf-8"},
        {"<div>", 5, "text/html; charset=utf-8"},
        {"<script>", 8, "text/html; charset=utf-8"},
        {"<iframe ", 8, "text/html; charset=utf-8"},
        {"<title>", 7, "text/html; charset=utf-8"},
        {"<style>", 7, "text/html; charset=utf-8"},
        {"<font>", 6, "text/html; charset=utf-8"},
        {"<table>", 7, "text/html; charset=utf-8"},
        {"<head>", 6, "text/html; charset=utf-8"},
        {"<body>", 6, "text/html; charset=utf-8"},
        {"<?xml version", 13, "text/xml; charset=utf-8"},
        {"  <?xml", 7, "text/xml; charset=utf-8"},
        {"%PDF-1.4", 8, "application/pdf"},
        {"%!PS-Adobe-3.0", 14, "application/postscript"},
        {"\xFE\xFF\x00"
         "a",
         4, "text/plain; charset=utf-16be"},
        {"\xFF\xFE\x00"
         "a",
         4, "text/plain; charset=utf-16le"},
        {"\xEF\xBB\xBFhi", 5, "text/plain; charset=utf-8"},
        {"\x00\x00\x01\x00", 4, "image/x-icon"},
        {"\x00\x00\x02\x00", 4, "image/x-icon"},
        {"BMxx", 4, "image/bmp"},
        {"GIF87a", 6, "image/gif"},
        {"GIF89a", 6, "image/gif"},
        {"RIFF\x00\x00\x00\x00WEBPVP8 ", 16, "image/webp"},
        {"\x89PNG\r\n\x1A\nxx", 10, "image/png"},
        {"\xFF\xD8\xFF\xE0", 4, "image/jpeg"},
        {"FORM\x00\x00\x00\x00"
         "AIFF",
         12, "audio/aiff"},
        {"ID3\x03", 4, "audio/mpeg"},
        {"OggS\x00", 5, "application/ogg"},
        {"MThd\x00\x00\x00\x06", 8, "audio/midi"},
        {"RIFF\x00\x00\x00\x00"
         "AVI ",
         12, "video/avi"},
        {"RIFF\x00\x00\x00\x00WAVE", 12, "audio/wave"},
        {"\x00\x00\x00\x18"
         "ftypmp42\x00\x00\x00\x00mp41isom",
         24, "video/mp4"},
        {"\x00\x00\x00\x18"
         "ftypisom\x00\x00\x00\x00mp41mp42",
         24, "video/mp4"},
        {"\x00\x00\x00\x14"
         "ftypiso5\x00\x00\x02\x00iso6",
         20, "application/octet-stream"},
        {"\x1A"
         "E\xDF\xA3",
         4, "video/webm"},
        {"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
         "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00L"
         "P",
         36, "application/vnd.ms-fontobject"},
        {"\x00\x01\x00\x00", 4, "font/ttf"},
        {"OTTO", 4, "font/otf"},
        {"ttcf", 4, "font/collection"},
        {"wOFF", 4, "font/woff"},
        {"wOF2", 4, "font/woff2"},
        {"\x1F\x8B\x08", 3, "application/x-gzip"},
        {"PK\x03\x04", 4, "application/zip"},
        {"Rar!\x1A\x07\x00", 7, "application/x-rar-compressed"},
        {"Rar!\x1A\x07\x01\x00", 8, "application/x-rar-compressed"},
        {"\x00"
         "asm\x01",
         5, "application/wasm"},
        {"text\x1B with esc", 14, "text/plain; charset=utf-8"},
        {"bin\x00", 4, "application/octet-stream"},
        {"bin\x01", 4, "application/octet-stream"},
        {"tab\tnl\nff\x0C"
         "cr\r",
         13, "text/plain; charset=utf-8"},
        {"\x0B", 1, "application/octet-stream"},
        {"\x1C", 1, "application/octet-stream"},
        {"\x7F\x80\xFF", 3, "text/plain; charset=utf-8"},
        {"   ", 3, "text/plain; charset=utf-8"},
        {"{\x22"
         "a\x22:1}",
         7, "text/plain; charset=utf-8"},
        {"\x00\x00\x00\x0C"
         "ftypmp4",
         11, "application/octet-stream"},
        {"pfh\x1B"
         "4RppH4<Rxt\n",
         15, "text/plain; charset=utf-8"},
        {"RftRPpt\nptB\x89", 12, "text/plain; charset=utf-8"},
        {"", 0, "text/plain; charset=utf-8"},
        {"mp!F", 4, "text/plain; charset=utf-8"},
        {"P", 1, "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got =
            gort_http_detect_content_type(cases[i].in, cases[i].len);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%zu bytes): got %s, Go says %s", i,
                     cases[i].len, got, cases[i].want);
    }
}

static void first_512_bytes(void **state)
{
    (void)state;
    char b[600];
    memset(b, 'x', sizeof b);
    b[511] = '\0'; /* a binary byte inside the window */
    assert_string_equal(gort_http_detect_content_type(b, sizeof b),
                        "application/octet-stream");
    b[511] = 'x';
    b[512] = '\0'; /* one past it: not looked at */
    assert_string_equal(gort_http_detect_content_type(b, sizeof b),
                        "text/plain; charset=utf-8");
    assert_string_equal(gort_http_detect_content_type(NULL, 0),
                        "text/plain; charset=utf-8");
}

static void white_space(void **state)
{
    (void)state;
    assert_string_equal(gort_http_detect_content_type(" \n<?xml ", 8),
                        "text/xml; charset=utf-8");
    /* Magic numbers are at the very start, never after white space. */
    assert_string_equal(gort_http_detect_content_type(" %PDF-1.4", 9),
                        "text/plain; charset=utf-8");
    assert_string_equal(gort_http_detect_content_type(" GIF89a", 7),
                        "text/plain; charset=utf-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(go_table),
        cmocka_unit_test(first_512_bytes),
        cmocka_unit_test(white_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
