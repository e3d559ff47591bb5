/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_reply.c
 * @brief libFuzzer target for the header-line splitter and the Status
 *        parser that judge an authorizer's reply: fcgix_header_next()
 *        and fcgix_status_code().
 *
 * Input: the start of a CGI response. (a) fcgix_header_next() walks the
 * raw input, which may be anything: it must stay inside it and only hand
 * out lines that are well formed. (b) When fcgix_hdrscan() accepts a
 * header block, walking it must take every line, in order, and end at the
 * blank line exactly where the scanner said. (c) fcgix_status_code() on
 * every value agrees with a reference.
 *
 * The input lives in an exactly-sized allocation, so ASan reports a read
 * past it. Violations call abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"
#include "fuzz_common.h"

static int ref_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ref_status(const char *v, size_t n)
{
    char digits[4];
    long code;

    if (n < 3 || (n > 3 && v[3] != ' ' && v[3] != '\t')) {
        return -1;
    }
    memcpy(digits, v, 3);
    digits[3] = '\0';
    if (strspn(digits, "0123456789") < 3) {
        return -1;
    }
    code = strtol(digits, NULL, 10);
    return code >= 100 && code <= 599 ? (int)code : -1;
}

/* A line handed out must be NAME ":" VALUE inside [line, line + used). */
static void check_line(const char *line, size_t used, const fcgix_header_t *h)
{
    size_t i;

    CHECK(used >= 3 && line[used - 1] == '\n');
    CHECK(h->name == line && h->name_len >= 1);
    CHECK(line[h->name_len] == ':');
    for (i = 0; i < h->name_len; i++) {
        CHECK(ref_tchar((unsigned char)h->name[i]));
    }
    CHECK(h->value >= line + h->name_len + 1);
    CHECK(h->value + h->value_len <= line + used - 1);
    for (i = 0; i < h->value_len; i++) {
        unsigned char c = (unsigned char)h->value[i];

        CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    if (h->value_len > 0) {
        CHECK(h->value[0] != ' ' && h->value[0] != '\t');
        CHECK(h->value[h->value_len - 1] != ' '
              && h->value[h->value_len - 1] != '\t');
    }
    CHECK(fcgix_status_code(h->value, h->value_len)
          == ref_status(h->value, h->value_len));
}

/* Walk @a n bytes; returns the offset past the blank line, or 0 when
 * the walk stopped at a malformed or incomplete line. */
static size_t walk(const char *s, size_t n)
{
    size_t pos = 0, used, rounds = 0;
    fcgix_header_t h;
    int rc;

    for (;;) {
        used = (size_t)-1;
        rc = fcgix_header_next(s + pos, n - pos, &used, &h);
        CHECK(rc >= -1 && rc <= 1);
        CHECK(++rounds <= n + 1);
        if (rc < 0) {
            return 0;
        }
        CHECK(used >= 1 && used <= n - pos);
        if (rc == 0) {
            CHECK(used <= 2 && s[pos + used - 1] == '\n');
            return pos + used;
        }
        check_line(s + pos, used, &h);
        pos += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = (char *)fuzz_copy_exact(data, size);
    fcgix_hdrscan_t scan;
    size_t end, used = 0;

    end = walk(s, size);
    fcgix_hdrscan_init(&scan);
    if (fcgix_hdrscan(&scan, s, size, &used) == 1) {
        /* An accepted block is walked whole, to the scanner's end. */
        CHECK(end == used);
    }
    CHECK(fcgix_status_code(s, size) == ref_status(s, size));
    free(s);
    return 0;
}
