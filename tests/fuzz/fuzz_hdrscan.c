/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_hdrscan.c
 * @brief libFuzzer target for fcgix_hdrscan(): whole, byte-by-byte and
 *        scheduled-chunk scanning agree with a line-by-line reference, on
 *        where the headers end and on the first byte refused.
 *
 * Input layout:
 *   byte 0   bits 0-1: kind of chunk schedule; all bits seed it
 *   rest     the start of a CGI response
 *
 * Every chunk lives in its own exactly-sized allocation, so ASan reports a
 * read outside it. Violations call abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"
#include "fuzz_common.h"

/** Outcome of one scan: found, and where the body starts. */
/* found: 1 headers end at off; -1 the byte at off is refused; 0 neither
 * yet. */
typedef struct {
    int found;
    size_t off;
} scan_t;

/* Reference: a line is the bytes up to "\n"; the headers end after the
 * first line that is empty or just "\r". */
static int ref_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '!' || c == '#' || c == '$'
           || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+'
           || c == '-' || c == '.' || c == '^' || c == '_' || c == '`'
           || c == '|' || c == '~';
}

#define NONE ((size_t)-1)

/* The offset of the first refused byte of the line s[0..len) (len
 * excludes its LF; @a ended says whether the LF is there; offset len is
 * the LF), or NONE. A line is NAME ":" VALUE: a token name; a value
 * without controls but HTAB, CR only right before the LF. */
static size_t ref_line_bad(const unsigned char *s, size_t len, int ended)
{
    size_t i = 0;

    while (i < len && ref_tchar(s[i])) {
        i++;
    }
    if (i == len) {
        return ended ? len : NONE; /* no colon: the LF is refused */
    }
    if (i == 0 || s[i] != ':') {
        return i;
    }
    for (i++; i < len; i++) {
        if (s[i] == '\r') {
            if (i + 1 < len) {
                return i + 1; /* a lone CR: the byte after it */
            }
            continue; /* before the LF, or at the end of the input */
        }
        if (s[i] != '\t' && (s[i] < 0x20 || s[i] == 0x7f)) {
            return i;
        }
    }
    return NONE;
}

static scan_t ref_scan(const unsigned char *s, size_t n)
{
    scan_t r = {0, 0};
    size_t pos = 0;

    while (pos < n) {
        const unsigned char *nl = memchr(s + pos, '\n', n - pos);
        size_t line = nl ? (size_t)(nl - (s + pos)) : n - pos;
        size_t bad;

        if (line == 0 || (line == 1 && s[pos] == '\r')) {
            if (nl != NULL) {
                r.found = 1;
                r.off = pos + line + 1;
            }
            return r; /* the blank line, or its CR at the end */
        }
        bad = s[pos] == '\r' ? 1 : ref_line_bad(s + pos, line, nl != NULL);
        if (bad != NONE) {
            r.found = -1;
            r.off = pos + bad;
            return r;
        }
        if (nl == NULL) {
            return r; /* a well-formed line, unfinished */
        }
        pos += line + 1;
    }
    return r;
}

static void check_shape(const unsigned char *s, scan_t r)
{
    size_t o = r.off;

    if (r.found != 1) {
        return;
    }
    CHECK(o >= 1 && s[o - 1] == '\n');
    CHECK(o == 1 || (o == 2 && s[0] == '\r') || (o >= 2 && s[o - 2] == '\n')
          || (o >= 3 && s[o - 2] == '\r' && s[o - 3] == '\n'));
}

/* Scans one chunk, held in an exactly-sized buffer, at stream offset
 * @a base; @return 1 when found. */
static int scan_chunk(fcgix_hdrscan_t *st, const unsigned char *b, size_t len,
                      size_t base, scan_t *r)
{
    size_t used = (size_t)-1;
    int rc = fcgix_hdrscan(st, (const char *)b, len, &used);

    CHECK(rc == 0 || rc == 1 || rc == -1);
    CHECK(used <= len);
    if (rc == 0) {
        CHECK(used == len);
        return 0;
    }
    if (rc == -1) {
        /* The refused byte is in this chunk; the scanner says why and
         * stays refused. */
        CHECK(used < len);
        CHECK(st->why != NULL && st->line >= 1);
        CHECK(fcgix_hdrscan(st, (const char *)b, len, &len) == -1 && len == 0);
        r->found = -1;
        r->off = base + used;
        return 1;
    }
    /* The blank line ends inside this chunk, never in an earlier one. */
    CHECK(used >= 1);
    r->found = 1;
    r->off = base + used;
    return 1;
}

static void scan_start(fcgix_hdrscan_t *st)
{
    memset(st, 0x5a, sizeof(*st));
    fcgix_hdrscan_init(st);
}

static scan_t run_whole(const unsigned char *s, size_t n)
{
    fcgix_hdrscan_t st;
    scan_t r = {0, 0};
    unsigned char *b = fuzz_copy_exact(s, n);

    scan_start(&st);
    scan_chunk(&st, b, n, 0, &r);
    free(b);
    return r;
}

static scan_t run_bytes(const unsigned char *s, size_t n)
{
    fcgix_hdrscan_t st;
    scan_t r = {0, 0};
    unsigned char *b = malloc(1);
    size_t i;

    CHECK(b != NULL);
    /* The header allows a zeroed scanner instead of fcgix_hdrscan_init. */
    memset(&st, 0, sizeof(st));
    for (i = 0; i < n; i++) {
        b[0] = s[i];
        if (scan_chunk(&st, b, 1, i, &r)) {
            break;
        }
    }
    free(b);
    return r;
}

/* Kinds: 0 chunks 1..3 (splits "\r\n\r\n" everywhere); 1 chunks 1..32;
 * 2 chunks 0..200 with empty calls; 3 chunks 0..2. */
static size_t next_chunk(fuzz_sched_t *s)
{
    uint32_t r = fuzz_sched_rand(s);

    switch (s->kind) {
    case 0:
        return 1 + r % 3;
    case 1:
        return 1 + r % 32;
    case 2:
        return r % 201;
    default:
        return r % 3;
    }
}

static scan_t run_sched(const unsigned char *s, size_t n, fuzz_sched_t *sc)
{
    fcgix_hdrscan_t st;
    scan_t r = {0, 0};
    size_t pos = 0, rounds = 0;

    scan_start(&st);
    while (pos < n) {
        size_t c = fuzz_clip(next_chunk(sc), n - pos);
        unsigned char *b;
        int found;

        CHECK(++rounds <= 64 * n + 64);
        b = fuzz_copy_exact(s + pos, c);
        found = scan_chunk(&st, b, c, pos, &r);
        free(b);
        if (found) {
            break;
        }
        pos += c;
    }
    return r;
}

static void check_same(scan_t a, scan_t b)
{
    CHECK(a.found == b.found);
    CHECK(!a.found || a.off == b.off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *s = data + 1;
    size_t n;
    fuzz_sched_t sc;
    scan_t want, got;

    if (size < 1) {
        return 0;
    }
    n = size - 1;
    fuzz_sched_init(&sc, data[0] & 3, data[0]);

    want = ref_scan(s, n);
    check_shape(s, want);
    got = run_whole(s, n);
    check_shape(s, got);
    check_same(got, want);
    check_same(run_bytes(s, n), want);
    check_same(run_sched(s, n, &sc), want);
    return 0;
}
