/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_proto.c
 * @brief cmocka unit tests of fcgi_proto: golden bytes for every encoder,
 *        the PARAMS packer, the push decoder fed whole, byte by byte and
 *        split everywhere, the name-value codec, the CGI header scanner,
 *        and our constants cross-checked against libfcgi's fastcgi.h.
 *
 * Inputs are copied so that their last byte sits just before a PROT_NONE
 * page: an over-read crashes even without AddressSanitizer. Decoder test
 * streams are packed by hand here, never with our encoders, so that they
 * are an independent oracle.
 */

#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* libfcgi's header, included only to cross-check constants. */
#include <fastcgi.h>

#include "fcgi_proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Request id of most decoder streams; its two bytes differ so that a
 * byte-order mistake shows. */
#define RID 0x0102

/* Guard pages */

typedef struct {
    unsigned char *map;
    size_t room; /* usable bytes before the guard page */
    size_t page;
} guard_t;

/* A private mapping of /dev/zero: POSIX 2008 has no MAP_ANONYMOUS. Pages
 * cost nothing until written. */
static void *map_zero(size_t len, int prot)
{
    void *m;
    int fd;

    fd = open("/dev/zero", O_RDWR);
    assert_true(fd >= 0);
    m = mmap(NULL, len, prot, MAP_PRIVATE, fd, 0);
    close(fd);
    return m;
}

static void guard_init(guard_t *g, size_t room)
{
    long page = sysconf(_SC_PAGESIZE);

    assert_true(page > 0);
    g->page = (size_t)page;
    g->room = (room / g->page + 1) * g->page;
    g->map = map_zero(g->room + g->page, PROT_READ | PROT_WRITE);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + g->room, g->page, PROT_NONE), 0);
}

static void guard_free(guard_t *g)
{
    munmap(g->map, g->room + g->page);
}

/* Copy len bytes so that the last one sits just before the guard page. */
static const unsigned char *guard_put(guard_t *g, const void *src, size_t len)
{
    unsigned char *dst;

    assert_true(len <= g->room);
    dst = g->map + g->room - len;
    if (len > 0) {
        memcpy(dst, src, len);
    }
    return dst;
}

/* An output area of len bytes that ends at the guard page, filled with
 * 0xaa so that a byte an encoder forgets to write shows. */
static unsigned char *guard_out(guard_t *g, size_t len)
{
    unsigned char *dst;

    assert_true(len <= g->room);
    dst = g->map + g->room - len;
    memset(dst, 0xaa, len);
    return dst;
}

/* Split plans: one run of the code under test gets its input cut at
 * cuts[0..ncuts-1], ascending; equal cuts give empty chunks. */
typedef void (*plan_fn)(void *ctx, const size_t *cuts, size_t ncuts);

/* Inputs up to this size are split in three at every pair of offsets. */
#define SMALL_INPUT 96

static void plan_bytewise(size_t n, plan_fn fn, void *ctx)
{
    size_t *cuts;
    size_t i;

    if (n < 2) {
        return;
    }
    cuts = malloc((n - 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (i = 0; i + 1 < n; i++) {
        cuts[i] = i + 1;
    }
    fn(ctx, cuts, n - 1);
    free(cuts);
}

static void plan_two_way(size_t n, plan_fn fn, void *ctx)
{
    size_t i;

    for (i = 0; i <= n; i++) {
        fn(ctx, &i, 1);
    }
}

static void plan_three_way(size_t n, plan_fn fn, void *ctx)
{
    size_t cuts[2];
    size_t i;

    if (n <= SMALL_INPUT) {
        for (cuts[0] = 0; cuts[0] <= n; cuts[0]++) {
            for (cuts[1] = cuts[0]; cuts[1] <= n; cuts[1]++) {
                fn(ctx, cuts, 2);
            }
        }
    }
    else {
        const size_t few[][2] = {
            {1, 2},         {1, n - 1},         {7, 9},
            {8, 16},        {n / 3, 2 * n / 3}, {n / 2, n / 2 + 1},
            {n - 9, n - 8}, {n - 2, n - 1},
        };

        for (i = 0; i < ARRAY_LEN(few); i++) {
            fn(ctx, few[i], 2);
        }
    }
}

/* Whole, byte by byte, in two at every offset, in three. */
static void for_each_plan(size_t n, plan_fn fn, void *ctx)
{
    fn(ctx, NULL, 0);
    plan_bytewise(n, fn, ctx);
    plan_two_way(n, fn, ctx);
    plan_three_way(n, fn, ctx);
}

static void print_plan(const size_t *cuts, size_t ncuts)
{
    if (ncuts == 0) {
        print_error("fed whole\n");
    }
    else if (ncuts == 1) {
        print_error("split at %zu\n", cuts[0]);
    }
    else if (ncuts == 2) {
        print_error("split at %zu and %zu\n", cuts[0], cuts[1]);
    }
    else {
        print_error("fed in %zu chunks\n", ncuts + 1);
    }
}

/* Record encoders: golden bytes */

static void test_rec_header_golden(void **state)
{
    static const unsigned char stdout_rec[] = {
        0x01, 0x06, 0x00, 0x01, 0x00, 0x05, 0x03, 0x00,
    };
    static const unsigned char unknown_rec[] = {
        0x01, 0x0b, 0xab, 0xcd, 0x12, 0x34, 0xff, 0x00,
    };
    static const unsigned char max_rec[] = {
        0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    };
    unsigned char out[FCGIX_HEADER_LEN];

    (void)state;
    memset(out, 0xaa, sizeof(out));
    fcgix_rec_header(out, FCGIX_STDOUT, 1, 5, 3);
    assert_memory_equal(out, stdout_rec, sizeof(out));
    memset(out, 0xaa, sizeof(out));
    fcgix_rec_header(out, FCGIX_UNKNOWN_TYPE, 0xabcd, 0x1234, 0xff);
    assert_memory_equal(out, unknown_rec, sizeof(out));
    memset(out, 0xaa, sizeof(out));
    fcgix_rec_header(out, FCGIX_STDIN, 0xffff, 0xffff, 0);
    assert_memory_equal(out, max_rec, sizeof(out));
}

static void expect_begin_request(uint16_t id, uint16_t role, uint8_t flags,
                                 const unsigned char *want)
{
    unsigned char out[FCGIX_BEGIN_REQUEST_LEN];

    memset(out, 0xaa, sizeof(out));
    fcgix_rec_begin_request(out, id, role, flags);
    assert_memory_equal(out, want, sizeof(out));
}

static void test_begin_request_golden(void **state)
{
    static const unsigned char responder[] = {
        0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char responder_keep[] = {
        0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,
        0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char authorizer[] = {
        0x01, 0x01, 0x12, 0x34, 0x00, 0x08, 0x00, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char authorizer_keep[] = {
        0x01, 0x01, 0xff, 0xfe, 0x00, 0x08, 0x00, 0x00,
        0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char filter[] = {
        0x01, 0x01, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };

    (void)state;
    expect_begin_request(1, FCGIX_RESPONDER, 0, responder);
    expect_begin_request(1, FCGIX_RESPONDER, FCGIX_KEEP_CONN, responder_keep);
    expect_begin_request(0x1234, FCGIX_AUTHORIZER, 0, authorizer);
    expect_begin_request(0xfffe, FCGIX_AUTHORIZER, FCGIX_KEEP_CONN,
                         authorizer_keep);
    expect_begin_request(0x0100, FCGIX_FILTER, 0, filter);
}

static void test_abort_request_golden(void **state)
{
    static const unsigned char want[] = {
        0x01, 0x02, 0x12, 0x34, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char want_one[] = {
        0x01, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    };
    unsigned char out[FCGIX_HEADER_LEN];

    (void)state;
    memset(out, 0xaa, sizeof(out));
    fcgix_rec_abort_request(out, 0x1234);
    assert_memory_equal(out, want, sizeof(out));
    memset(out, 0xaa, sizeof(out));
    fcgix_rec_abort_request(out, 1);
    assert_memory_equal(out, want_one, sizeof(out));
}

static void test_padding_for_table(void **state)
{
    static const struct {
        size_t len;
        uint8_t pad;
    } cases[] = {
        {0, 0}, {1, 7},     {7, 1},     {8, 0},
        {9, 7}, {65528, 0}, {65529, 7}, {65535, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(fcgix_padding_for(cases[i].len), cases[i].pad);
    }
    assert_int_equal(FCGIX_MAX_PADDED_CONTENT_LEN, 65528);
}

/* Stream records */

typedef struct {
    uint8_t type;
    uint16_t id;
    size_t len;
    int pad8;
    int rc;
    unsigned char want[FCGIX_HEADER_LEN];
} stream_hdr_case_t;

static const stream_hdr_case_t stream_hdr_cases[] = {
    {FCGIX_PARAMS, 1, 0, 0, 0, {1, 4, 0, 1, 0, 0, 0, 0}},
    {FCGIX_PARAMS, 1, 0, 1, 0, {1, 4, 0, 1, 0, 0, 0, 0}},
    {FCGIX_PARAMS, 0x1234, 300, 1, 4, {1, 4, 0x12, 0x34, 0x01, 0x2c, 4, 0}},
    {FCGIX_STDIN, 0x0102, 5, 0, 0, {1, 5, 1, 2, 0, 5, 0, 0}},
    {FCGIX_STDIN, 0x0102, 5, 1, 3, {1, 5, 1, 2, 0, 5, 3, 0}},
    {FCGIX_STDIN, 1, 65528, 1, 0, {1, 5, 0, 1, 0xff, 0xf8, 0, 0}},
    {FCGIX_STDIN, 1, 65535, 0, 0, {1, 5, 0, 1, 0xff, 0xff, 0, 0}},
    {FCGIX_DATA, 0xffff, 1, 1, 7, {1, 8, 0xff, 0xff, 0, 1, 7, 0}},
    {FCGIX_DATA, 0xffff, 8, 1, 0, {1, 8, 0xff, 0xff, 0, 8, 0, 0}},
    {FCGIX_DATA, 2, 0, 1, 0, {1, 8, 0, 2, 0, 0, 0, 0}},
};

static const stream_hdr_case_t stream_hdr_errors[] = {
    {FCGIX_STDIN, 1, 65529, 1, FCGIX_ETOOLONG, {0}},
    {FCGIX_STDIN, 1, 65535, 1, FCGIX_ETOOLONG, {0}},
    {FCGIX_DATA, 1, 65536, 0, FCGIX_ETOOLONG, {0}},
    {FCGIX_PARAMS, 1, (size_t)-1, 0, FCGIX_ETOOLONG, {0}},
    /* content plus padding wraps around to 0 in size_t */
    {FCGIX_PARAMS, 1, (size_t)-1, 1, FCGIX_ETOOLONG, {0}},
    {FCGIX_STDIN, 1, (size_t)-7, 1, FCGIX_ETOOLONG, {0}},
    {FCGIX_STDOUT, 1, 5, 0, FCGIX_EINVAL, {0}},
    {FCGIX_STDERR, 1, 5, 1, FCGIX_EINVAL, {0}},
    {FCGIX_BEGIN_REQUEST, 1, 8, 0, FCGIX_EINVAL, {0}},
    {FCGIX_GET_VALUES, 0, 0, 0, FCGIX_EINVAL, {0}},
    {0, 1, 0, 0, FCGIX_EINVAL, {0}},
    {12, 1, 0, 0, FCGIX_EINVAL, {0}},
};

static void test_stream_header_golden(void **state)
{
    unsigned char out[FCGIX_HEADER_LEN];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(stream_hdr_cases); i++) {
        const stream_hdr_case_t *c = &stream_hdr_cases[i];

        memset(out, 0xaa, sizeof(out));
        assert_int_equal(
            fcgix_stream_header(out, c->type, c->id, c->len, c->pad8), c->rc);
        assert_memory_equal(out, c->want, sizeof(out));
    }
}

static void test_stream_header_errors(void **state)
{
    unsigned char out[FCGIX_HEADER_LEN];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(stream_hdr_errors); i++) {
        const stream_hdr_case_t *c = &stream_hdr_errors[i];

        assert_int_equal(
            fcgix_stream_header(out, c->type, c->id, c->len, c->pad8), c->rc);
    }
}

/* Encode "hello" (or nothing) into an output area that ends at a guard
 * page and is exactly as large as the expected record. */
static void expect_stream_record(uint8_t type, int pad8, const char *data,
                                 size_t len, const unsigned char *want,
                                 size_t want_len)
{
    unsigned char *out;
    guard_t g;

    guard_init(&g, want_len);
    out = guard_out(&g, want_len);
    assert_int_equal(
        fcgix_stream_record(out, want_len, type, RID, data, len, pad8),
        want_len);
    assert_memory_equal(out, want, want_len);
    guard_free(&g);
}

static void test_stream_record_golden(void **state)
{
    static const uint8_t types[] = {FCGIX_PARAMS, FCGIX_STDIN, FCGIX_DATA};
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(types); i++) {
        const uint8_t t = types[i];
        const unsigned char plain[] = {
            0x01, t,   0x01, 0x02, 0x00, 0x05, 0x00, 0x00, /* header */
            'h',  'e', 'l',  'l',  'o',                    /* content */
        };
        const unsigned char padded[] = {
            0x01, t,    0x01, 0x02, 0x00, 0x05, 0x03, 0x00, /* header */
            'h',  'e',  'l',  'l',  'o',                    /* content */
            0x00, 0x00, 0x00,                               /* padding */
        };
        const unsigned char empty[] = {
            0x01, t, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
        };

        expect_stream_record(t, 0, "hello", 5, plain, sizeof(plain));
        expect_stream_record(t, 1, "hello", 5, padded, sizeof(padded));
        expect_stream_record(t, 0, "", 0, empty, sizeof(empty));
        expect_stream_record(t, 1, "", 0, empty, sizeof(empty));
    }
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)(i * 31 + seed + i / 251);
    }
}

static void test_stream_record_largest(void **state)
{
    static const unsigned char hdr_max[] = {
        0x01, 0x05, 0x01, 0x02, 0xff, 0xff, 0x00, 0x00,
    };
    static const unsigned char hdr_padded[] = {
        0x01, 0x08, 0x01, 0x02, 0xff, 0xf8, 0x00, 0x00,
    };
    unsigned char *data = malloc(FCGIX_MAX_CONTENT_LEN);
    unsigned char *out;
    guard_t g;

    (void)state;
    assert_non_null(data);
    fill_pattern(data, FCGIX_MAX_CONTENT_LEN, 3);
    guard_init(&g, 8 + FCGIX_MAX_CONTENT_LEN);
    out = guard_out(&g, 8 + FCGIX_MAX_CONTENT_LEN);
    assert_int_equal(fcgix_stream_record(out, 8 + FCGIX_MAX_CONTENT_LEN,
                                         FCGIX_STDIN, RID, data,
                                         FCGIX_MAX_CONTENT_LEN, 0),
                     8 + FCGIX_MAX_CONTENT_LEN);
    assert_memory_equal(out, hdr_max, 8);
    assert_memory_equal(out + 8, data, FCGIX_MAX_CONTENT_LEN);
    out = guard_out(&g, 8 + 65528);
    assert_int_equal(
        fcgix_stream_record(out, 8 + 65528, FCGIX_DATA, RID, data, 65528, 1),
        8 + 65528);
    assert_memory_equal(out, hdr_padded, 8);
    assert_memory_equal(out + 8, data, 65528);
    guard_free(&g);
    free(data);
}

static void test_stream_record_errors(void **state)
{
    unsigned char *data = calloc(1, 65536);
    unsigned char *out;
    guard_t g;

    (void)state;
    assert_non_null(data);
    guard_init(&g, 70000);
    out = guard_out(&g, 70000);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_STDIN, RID, data, 65529, 1),
        FCGIX_ETOOLONG);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_STDIN, RID, data, 65535, 1),
        FCGIX_ETOOLONG);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_DATA, RID, data, 65536, 0),
        FCGIX_ETOOLONG);
    /* lengths whose sum with the padding wraps around */
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_DATA, RID, data, (size_t)-1, 1),
        FCGIX_ETOOLONG);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_STDIN, RID, data, (size_t)-7, 1),
        FCGIX_ETOOLONG);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_STDOUT, RID, "hello", 5, 0),
        FCGIX_EINVAL);
    assert_int_equal(
        fcgix_stream_record(out, 70000, FCGIX_GET_VALUES, 0, "", 0, 0),
        FCGIX_EINVAL);
    guard_free(&g);
    free(data);
}

/* Each too-small area ends at the guard page, so a write past out_len
 * crashes. */
static void test_stream_record_no_space(void **state)
{
    unsigned char *out;
    guard_t g;

    (void)state;
    guard_init(&g, 64);
    out = guard_out(&g, 12);
    assert_int_equal(
        fcgix_stream_record(out, 12, FCGIX_STDIN, RID, "hello", 5, 0),
        FCGIX_ENOSPC);
    out = guard_out(&g, 15);
    assert_int_equal(
        fcgix_stream_record(out, 15, FCGIX_STDIN, RID, "hello", 5, 1),
        FCGIX_ENOSPC);
    out = guard_out(&g, 7);
    assert_int_equal(fcgix_stream_record(out, 7, FCGIX_PARAMS, RID, "", 0, 0),
                     FCGIX_ENOSPC);
    out = guard_out(&g, 0);
    assert_int_equal(fcgix_stream_record(out, 0, FCGIX_DATA, RID, "x", 1, 1),
                     FCGIX_ENOSPC);
    guard_free(&g);
}

/* GET_VALUES */

static void test_get_values_golden(void **state)
{
    static const char *const names[] = {
        FCGIX_MAX_CONNS,
        FCGIX_MAX_REQS,
        FCGIX_MPXS_CONNS,
    };
    /* header; then each pair: name length, value length 0, name */
    static const char want[] = "\x01\x09\x00\x00\x00\x30\x00\x00"
                               "\x0e\x00"
                               "FCGI_MAX_CONNS"
                               "\x0d\x00"
                               "FCGI_MAX_REQS"
                               "\x0f\x00"
                               "FCGI_MPXS_CONNS";
    const size_t len = sizeof(want) - 1;
    unsigned char *out;
    guard_t g;

    (void)state;
    assert_int_equal(len, 56);
    guard_init(&g, len);
    out = guard_out(&g, len);
    assert_int_equal(fcgix_rec_get_values(out, len, names, 3), len);
    assert_memory_equal(out, want, len);
    out = guard_out(&g, len - 1);
    assert_int_equal(fcgix_rec_get_values(out, len - 1, names, 3),
                     FCGIX_ENOSPC);
    guard_free(&g);
}

static void test_get_values_one_name_golden(void **state)
{
    static const char *const names[] = {FCGIX_MAX_CONNS};
    static const char want[] = "\x01\x09\x00\x00\x00\x10\x00\x00"
                               "\x0e\x00"
                               "FCGI_MAX_CONNS";
    const size_t len = sizeof(want) - 1;
    unsigned char *out;
    guard_t g;

    (void)state;
    assert_int_equal(len, 24);
    guard_init(&g, len);
    out = guard_out(&g, len);
    assert_int_equal(fcgix_rec_get_values(out, len, names, 1), len);
    assert_memory_equal(out, want, len);
    guard_free(&g);
}

/* The header leaves GET_VALUES padding open: a 15-byte content may be
 * padded to 16 or not, but the record must describe itself. */
static void test_get_values_unaligned_content(void **state)
{
    static const char *const names[] = {FCGIX_MAX_REQS};
    /* the header up to its padding length, then the content */
    static const char want[] = "\x01\x09\x00\x00\x00\x0f"
                               "\x0d\x00"
                               "FCGI_MAX_REQS";
    unsigned char out[32];
    long n;

    (void)state;
    memset(out, 0xaa, sizeof(out));
    n = fcgix_rec_get_values(out, sizeof(out), names, 1);
    assert_true(out[6] == 0 || out[6] == fcgix_padding_for(15));
    assert_int_equal(n, 8 + 15 + out[6]);
    assert_memory_equal(out, want, 6);
    assert_int_equal(out[7], 0);
    assert_memory_equal(out + 8, want + 6, 15);
    if (out[6] == 1) {
        assert_int_equal(out[23], 0);
    }
}

/* What libfcgi and php-cgi answer (captured from both), in their two
 * orders. */
static void test_values_parse_real_answers(void **state)
{
    static const char libfcgi[] = "\x0e\x01"
                                  "FCGI_MAX_CONNS1"
                                  "\x0d\x01"
                                  "FCGI_MAX_REQS1"
                                  "\x0f\x01"
                                  "FCGI_MPXS_CONNS0";
    static const char php[] = "\x0f\x01"
                              "FCGI_MPXS_CONNS0"
                              "\x0d\x01"
                              "FCGI_MAX_REQS1"
                              "\x0e\x02"
                              "FCGI_MAX_CONNS16";
    fcgix_values_t v;

    (void)state;
    assert_int_equal(fcgix_values_parse((const unsigned char *)libfcgi,
                                        sizeof(libfcgi) - 1, &v),
                     FCGIX_OK);
    assert_int_equal(v.max_conns, 1);
    assert_int_equal(v.max_reqs, 1);
    assert_int_equal(v.mpxs, 0);
    assert_int_equal(
        fcgix_values_parse((const unsigned char *)php, sizeof(php) - 1, &v),
        FCGIX_OK);
    assert_int_equal(v.max_conns, 16);
    assert_int_equal(v.max_reqs, 1);
    assert_int_equal(v.mpxs, 0);
}

/* Go's net/http/fcgi says only FCGI_MPXS_CONNS; unknown names, empty or
 * non-numeric values and huge numbers; an empty answer; a truncated
 * pair keeps what came before it. */
static void test_values_parse_partial_and_bad(void **state)
{
    static const char go[] = "\x0f\x01"
                             "FCGI_MPXS_CONNS1";
    static const char odd[] = "\x05\x01"
                              "OTHER7"
                              "\x0e\x00"
                              "FCGI_MAX_CONNS"
                              "\x0d\x02"
                              "FCGI_MAX_REQS-1"
                              "\x0f\x19"
                              "FCGI_MPXS_CONNS9999999999999999999999999";
    static const char cut[] = "\x0e\x01"
                              "FCGI_MAX_CONNS2"
                              "\x0d\x05"
                              "FCGI_MAX_REQS1";
    fcgix_values_t v;

    (void)state;
    assert_int_equal(
        fcgix_values_parse((const unsigned char *)go, sizeof(go) - 1, &v),
        FCGIX_OK);
    assert_int_equal(v.max_conns, -1);
    assert_int_equal(v.max_reqs, -1);
    assert_int_equal(v.mpxs, 1);
    assert_int_equal(
        fcgix_values_parse((const unsigned char *)odd, sizeof(odd) - 1, &v),
        FCGIX_OK);
    assert_int_equal(v.max_conns, -1);
    assert_int_equal(v.max_reqs, -1);
    assert_int_equal(v.mpxs, 1000000);
    assert_int_equal(fcgix_values_parse(NULL, 0, &v), FCGIX_OK);
    assert_int_equal(v.max_conns, -1);
    assert_int_equal(
        fcgix_values_parse((const unsigned char *)cut, sizeof(cut) - 1, &v),
        FCGIX_ETRUNC);
    assert_int_equal(v.max_conns, 2);
    assert_int_equal(v.max_reqs, -1);
}

static void test_get_values_too_long(void **state)
{
    size_t cap = 200000;
    unsigned char *out = malloc(cap);
    char *big = malloc(70001);
    char *half = malloc(40001);
    const char *one[1];
    const char *two[2];

    (void)state;
    assert_non_null(out);
    assert_non_null(big);
    assert_non_null(half);
    memset(big, 'A', 70000);
    big[70000] = '\0';
    memset(half, 'B', 40000);
    half[40000] = '\0';
    one[0] = big;
    assert_int_equal(fcgix_rec_get_values(out, cap, one, 1), FCGIX_ETOOLONG);
    two[0] = half;
    two[1] = half;
    assert_int_equal(fcgix_rec_get_values(out, cap, two, 2), FCGIX_ETOOLONG);
    free(half);
    free(big);
    free(out);
}

/* Name-value encoder */

static void test_nv_size_table(void **state)
{
    static const struct {
        size_t name, value, size;
    } cases[] = {
        {0, 0, 2},         {1, 1, 4},         {127, 0, 129},
        {0, 127, 129},     {127, 127, 256},   {128, 0, 133},
        {0, 128, 133},     {128, 128, 264},   {127, 128, 260},
        {65535, 0, 65540}, {0, 65535, 65540}, {65535, 65535, 131078},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(fcgix_nv_size(cases[i].name, cases[i].value),
                         cases[i].size);
    }
}

static void test_nv_size_limits(void **state)
{
    (void)state;
    assert_int_equal(fcgix_nv_size(0x7fffffffUL, 0), 0x7fffffffUL + 5);
    assert_int_equal(fcgix_nv_size(0, 0x7fffffffUL), 0x7fffffffUL + 5);
#if SIZE_MAX > 0xffffffffUL
    assert_int_equal(fcgix_nv_size(0x7fffffffUL, 0x7fffffffUL),
                     (size_t)0x7fffffffUL * 2 + 8);
#endif
    assert_int_equal(fcgix_nv_size(0x80000000UL, 0), 0);
    assert_int_equal(fcgix_nv_size(0, 0x80000000UL), 0);
    assert_int_equal(fcgix_nv_size(0x80000000UL, 0x80000000UL), 0);
    assert_int_equal(fcgix_nv_size((size_t)-1, 0), 0);
    assert_int_equal(fcgix_nv_size(0, (size_t)-1), 0);
}

/* Encode into an area of exactly the expected size at the guard page, and
 * check that one byte less is refused. */
static void expect_nv_put(const char *name, size_t name_len, const char *value,
                          size_t value_len, const unsigned char *want,
                          size_t want_len)
{
    unsigned char *out;
    guard_t g;

    guard_init(&g, want_len);
    out = guard_out(&g, want_len);
    assert_int_equal(fcgix_nv_size(name_len, value_len), want_len);
    assert_int_equal(
        fcgix_nv_put(out, want_len, name, name_len, value, value_len),
        want_len);
    assert_memory_equal(out, want, want_len);
    out = guard_out(&g, want_len - 1);
    assert_int_equal(
        fcgix_nv_put(out, want_len - 1, name, name_len, value, value_len), 0);
    guard_free(&g);
}

static void test_nv_put_one_byte_lengths(void **state)
{
    static const unsigned char empty[] = {0x00, 0x00};
    static const unsigned char abc[] = {0x03, 0x02, 'a', 'b', 'c', 'x', 'y'};
    static const unsigned char name_only[] = {0x01, 0x00, 'N'};
    static const unsigned char value_only[] = {0x00, 0x01, 'V'};

    (void)state;
    expect_nv_put("", 0, "", 0, empty, sizeof(empty));
    expect_nv_put("abc", 3, "xy", 2, abc, sizeof(abc));
    expect_nv_put("N", 1, "", 0, name_only, sizeof(name_only));
    expect_nv_put("", 0, "V", 1, value_only, sizeof(value_only));
}

/* want = prefix (the literal length bytes) + name + value. */
static void expect_nv_put_long(size_t name_len, size_t value_len,
                               const unsigned char *prefix, size_t prefix_len)
{
    size_t len = prefix_len + name_len + value_len;
    unsigned char *name = malloc(name_len + 1);
    unsigned char *value = malloc(value_len + 1);
    unsigned char *want = malloc(len);

    assert_non_null(name);
    assert_non_null(value);
    assert_non_null(want);
    fill_pattern(name, name_len, 1);
    fill_pattern(value, value_len, 2);
    memcpy(want, prefix, prefix_len);
    memcpy(want + prefix_len, name, name_len);
    memcpy(want + prefix_len + name_len, value, value_len);
    expect_nv_put((const char *)name, name_len, (const char *)value, value_len,
                  want, len);
    free(want);
    free(value);
    free(name);
}

static void test_nv_put_length_boundaries(void **state)
{
    static const unsigned char n127[] = {0x7f, 0x00};
    static const unsigned char v127[] = {0x00, 0x7f};
    static const unsigned char n128[] = {0x80, 0x00, 0x00, 0x80, 0x01};
    static const unsigned char v128[] = {0x02, 0x80, 0x00, 0x00, 0x80};
    static const unsigned char both128[] = {
        0x80, 0x00, 0x00, 0x80, 0x80, 0x00, 0x00, 0x80,
    };
    static const unsigned char n65535[] = {0x80, 0x00, 0xff, 0xff, 0x00};
    static const unsigned char v65535[] = {
        0x80, 0x00, 0x00, 0x80, 0x80, 0x00, 0xff, 0xff,
    };

    (void)state;
    expect_nv_put_long(127, 0, n127, sizeof(n127));
    expect_nv_put_long(0, 127, v127, sizeof(v127));
    expect_nv_put_long(128, 1, n128, sizeof(n128));
    expect_nv_put_long(2, 128, v128, sizeof(v128));
    expect_nv_put_long(128, 128, both128, sizeof(both128));
    expect_nv_put_long(65535, 0, n65535, sizeof(n65535));
    expect_nv_put_long(128, 65535, v65535, sizeof(v65535));
}

/* 2^31 must be refused for its length, not for lack of room: the output
 * is a lazily mapped area larger than the pair would be. */
static void test_nv_put_rejects_2_31(void **state)
{
#if SIZE_MAX > 0xffffffffUL
    size_t big = 0x80000000UL;
    size_t cap = big + 64;
    unsigned char *out = map_zero(cap, PROT_READ | PROT_WRITE);
    char *src = map_zero(big, PROT_READ);

    (void)state;
    if (out == MAP_FAILED || src == MAP_FAILED) {
        skip();
    }
    assert_int_equal(fcgix_nv_put(out, cap, src, big, "v", 1), 0);
    assert_int_equal(fcgix_nv_put(out, cap, "n", 1, src, big), 0);
    munmap(src, big);
    munmap(out, cap);
#else
    (void)state;
    skip();
#endif
}

/* Name-value decoder */

/* Encode a pair by hand: 1-byte lengths below 128, else 4 bytes with the
 * top bit set. Returns the size. */
static size_t hand_len(unsigned char *p, size_t len)
{
    if (len < 128) {
        p[0] = (unsigned char)len;
        return 1;
    }
    p[0] = (unsigned char)(0x80 | (len >> 24));
    p[1] = (unsigned char)((len >> 16) & 0xff);
    p[2] = (unsigned char)((len >> 8) & 0xff);
    p[3] = (unsigned char)(len & 0xff);
    return 4;
}

static size_t hand_pair(unsigned char *p, size_t name_len, size_t value_len)
{
    size_t n = hand_len(p, name_len);

    n += hand_len(p + n, value_len);
    fill_pattern(p + n, name_len, 5);
    fill_pattern(p + n + name_len, value_len, 6);
    return n + name_len + value_len;
}

static void expect_nv_decodes(guard_t *g, const unsigned char *src, size_t len,
                              size_t name_len, size_t value_len)
{
    const unsigned char *in = guard_put(g, src, len);
    const unsigned char *p = in;
    size_t hdr = len - name_len - value_len;
    fcgix_nv_t nv;

    assert_int_equal(fcgix_nv_next(&p, in + len, &nv), 1);
    assert_ptr_equal(p, in + len);
    assert_int_equal(nv.name_len, name_len);
    assert_int_equal(nv.value_len, value_len);
    assert_ptr_equal(nv.name, in + hdr);
    assert_ptr_equal(nv.value, in + hdr + name_len);
    assert_int_equal(fcgix_nv_next(&p, in + len, &nv), 0);
    assert_ptr_equal(p, in + len);
}

static void test_nv_next_length_table(void **state)
{
    static const size_t lens[] = {0, 127, 128, 65535};
    unsigned char *buf = malloc(2 * 65535 + 8);
    size_t i, j, n;
    guard_t g;

    (void)state;
    assert_non_null(buf);
    guard_init(&g, 2 * 65535 + 8);
    for (i = 0; i < ARRAY_LEN(lens); i++) {
        for (j = 0; j < ARRAY_LEN(lens); j++) {
            n = hand_pair(buf, lens[i], lens[j]);
            expect_nv_decodes(&g, buf, n, lens[i], lens[j]);
        }
    }
    guard_free(&g);
    free(buf);
}

/* A 4-byte length below 128 is not what we emit but is valid. */
static void test_nv_next_long_form_small_length(void **state)
{
    static const unsigned char in[] = {
        0x80, 0x00, 0x00, 0x03, /* name length 3 */
        0x80, 0x00, 0x00, 0x00, /* value length 0 */
        'a',  'b',  'c',
    };
    guard_t g;

    (void)state;
    guard_init(&g, sizeof(in));
    expect_nv_decodes(&g, in, sizeof(in), 3, 0);
    guard_free(&g);
}

typedef struct {
    const char *bytes;
    size_t len;
} raw_t;

/* Fields of a raw_t from a string literal. */
#define RAW(lit) lit, sizeof(lit) - 1

/* Octal escapes: a hex escape would swallow the letters after it. */
static const raw_t truncated[] = {
    {RAW("\005")},                     /* value length missing */
    {RAW("\200")},                     /* 4-byte name length, 1 of 4 */
    {RAW("\200\000")},                 /* 2 of 4 */
    {RAW("\200\000\001")},             /* 3 of 4 */
    {RAW("\001\200")},                 /* 4-byte value length, 1 of 4 */
    {RAW("\001\200\000")},             /* 2 of 4 */
    {RAW("\001\200\000\000")},         /* 3 of 4 */
    {RAW("\200\000\000\200\200\000")}, /* both 4-byte, value 2 of 4 */
    {RAW("\002\000a")},                /* name runs past the end */
    {RAW("\001\002ab")},               /* value runs past the end */
    {RAW("\000\200\000\001\000abc")},  /* 256-byte value, 3 present */
    {RAW("\377\377\377\377\000a")},    /* name of 2^31 - 1 */
    {RAW("\001\377\377\377\377ab")},   /* value of 2^31 - 1 */
    {RAW("\377\377\377\377\377\377\377\377ab")}, /* both 2^31 - 1 */
};

static void expect_truncated(guard_t *g, const void *src, size_t len)
{
    const unsigned char *in = guard_put(g, src, len);
    const unsigned char *p = in;
    fcgix_nv_t nv;

    assert_int_equal(fcgix_nv_next(&p, in + len, &nv), FCGIX_ETRUNC);
    assert_ptr_equal(p, in);
}

static void test_nv_next_truncated_table(void **state)
{
    size_t i;
    guard_t g;

    (void)state;
    guard_init(&g, 64);
    for (i = 0; i < ARRAY_LEN(truncated); i++) {
        expect_truncated(&g, truncated[i].bytes, truncated[i].len);
    }
    guard_free(&g);
}

/* A good pair followed by a truncated one: the cursor stops between. */
static void test_nv_next_truncated_after_pair(void **state)
{
    unsigned char buf[64];
    const unsigned char *in, *p, *second;
    size_t i, n;
    fcgix_nv_t nv;
    guard_t g;

    (void)state;
    guard_init(&g, sizeof(buf));
    for (i = 0; i < ARRAY_LEN(truncated); i++) {
        n = hand_pair(buf, 2, 3);
        memcpy(buf + n, truncated[i].bytes, truncated[i].len);
        in = guard_put(&g, buf, n + truncated[i].len);
        p = in;
        second = in + n;
        assert_int_equal(fcgix_nv_next(&p, second + truncated[i].len, &nv), 1);
        assert_ptr_equal(p, second);
        assert_int_equal(fcgix_nv_next(&p, second + truncated[i].len, &nv),
                         FCGIX_ETRUNC);
        assert_ptr_equal(p, second);
    }
    guard_free(&g);
}

static void test_nv_next_end_of_buffer(void **state)
{
    const unsigned char *in, *p;
    fcgix_nv_t nv;
    guard_t g;

    (void)state;
    guard_init(&g, 8);
    in = guard_put(&g, "", 0);
    p = in;
    assert_int_equal(fcgix_nv_next(&p, in, &nv), 0);
    assert_ptr_equal(p, in);
    guard_free(&g);
}

/* nv_put then nv_next gives the pair back, for every boundary length. */
static void test_nv_round_trip(void **state)
{
    static const size_t lens[] = {0, 1, 127, 128, 65535};
    size_t cap = 2 * 65535 + 8;
    unsigned char *out = malloc(cap);
    char *src = malloc(65536);
    const unsigned char *p;
    size_t i, j, n;
    fcgix_nv_t nv;

    (void)state;
    assert_non_null(out);
    assert_non_null(src);
    fill_pattern((unsigned char *)src, 65536, 9);
    for (i = 0; i < ARRAY_LEN(lens); i++) {
        for (j = 0; j < ARRAY_LEN(lens); j++) {
            n = fcgix_nv_put(out, cap, src, lens[i], src + 1, lens[j]);
            assert_int_equal(n, fcgix_nv_size(lens[i], lens[j]));
            p = out;
            assert_int_equal(fcgix_nv_next(&p, out + n, &nv), 1);
            assert_ptr_equal(p, out + n);
            assert_int_equal(nv.name_len, lens[i]);
            assert_int_equal(nv.value_len, lens[j]);
            assert_memory_equal(nv.name, src, lens[i]);
            assert_memory_equal(nv.value, src + 1, lens[j]);
        }
    }
    free(src);
    free(out);
}

/* PARAMS packer */

#define POOL_LEN 70000
#define MAX_PAIRS 160

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} pair_t;

typedef struct {
    char *pool;
    pair_t pairs[MAX_PAIRS];
    size_t count;
} pairset_t;

/* Sizes chosen around max_content 64 and 65535: 60-byte pairs, pairs of
 * exactly 64 and 65 bytes, 1- and 4-byte lengths, a 65000-byte value, and
 * pairs of exactly 65535 and 65536 bytes. */
static const size_t mixed_lens[][2] = {
    {1, 0},     {0, 0},     {4, 5},     {10, 48},    {30, 28},
    {0, 62},    {62, 0},    {1, 62},    {127, 0},    {0, 127},
    {128, 0},   {0, 128},   {60, 60},   {15, 65000}, {5, 3},
    {0, 65530}, {0, 65531}, {200, 300}, {3, 60},     {2, 58},
};

static void pairs_add(pairset_t *ps, size_t name_len, size_t value_len)
{
    size_t k = ps->count;
    pair_t *p;

    assert_true(k < MAX_PAIRS);
    p = &ps->pairs[ps->count++];
    p->name = ps->pool + (k * 13) % 4096;
    p->name_len = name_len;
    p->value = ps->pool + (k * 29) % 4096;
    p->value_len = value_len;
}

static void pairs_init(pairset_t *ps)
{
    size_t i;

    ps->pool = malloc(POOL_LEN);
    assert_non_null(ps->pool);
    fill_pattern((unsigned char *)ps->pool, POOL_LEN, 11);
    ps->count = 0;
    for (i = 0; i < ARRAY_LEN(mixed_lens); i++) {
        pairs_add(ps, mixed_lens[i][0], mixed_lens[i][1]);
    }
    for (i = 0; i < 40; i++) {
        pairs_add(ps, 20, 38);
        pairs_add(ps, i % 9, i % 13);
    }
}

static int pair_fits(const pair_t *p, size_t max_content)
{
    size_t n = fcgix_nv_size(p->name_len, p->value_len);

    return n != 0 && n <= max_content;
}

/* Walks PARAMS records as they come out of the packer and checks them
 * against the pairs that fit, in order. */
typedef struct {
    const pair_t *want[MAX_PAIRS];
    size_t nwant;
    size_t next;
    uint16_t id;
    size_t max_content;
    int greedy; /* check that records were filled */
    int ended;  /* the empty record was seen */
    size_t records;
    size_t prev_len;
    size_t flushes;
} walk_t;

static void walk_init(walk_t *w, const pairset_t *ps, uint16_t id,
                      size_t max_content, int greedy)
{
    size_t i;

    memset(w, 0, sizeof(*w));
    w->id = id;
    w->max_content = max_content;
    w->greedy = greedy;
    for (i = 0; i < ps->count; i++) {
        if (pair_fits(&ps->pairs[i], max_content)) {
            w->want[w->nwant++] = &ps->pairs[i];
        }
    }
}

static void walk_pair(walk_t *w, const fcgix_nv_t *nv)
{
    const pair_t *p;

    assert_true(w->next < w->nwant);
    p = w->want[w->next++];
    assert_int_equal(nv->name_len, p->name_len);
    assert_int_equal(nv->value_len, p->value_len);
    assert_memory_equal(nv->name, p->name, p->name_len);
    assert_memory_equal(nv->value, p->value, p->value_len);
}

/* Decode one record's content on its own: only whole pairs. */
static void walk_content(walk_t *w, const unsigned char *c, size_t len)
{
    const unsigned char *p = c;
    const unsigned char *at;
    fcgix_nv_t nv;
    int rc;

    for (;;) {
        at = p;
        rc = fcgix_nv_next(&p, c + len, &nv);
        if (rc != 1) {
            break;
        }
        if (at == c && w->greedy && w->records > 0) {
            /* a record is opened only when the pair did not fit the last */
            assert_true(w->prev_len + (size_t)(p - at) > w->max_content);
        }
        walk_pair(w, &nv);
    }
    assert_int_equal(rc, 0);
    assert_ptr_equal(p, c + len);
    w->prev_len = len;
    w->records++;
}

static void walk_records(walk_t *w, const unsigned char *buf, size_t len)
{
    size_t off = 0, clen;

    while (off < len) {
        const unsigned char *h = buf + off;

        assert_false(w->ended);
        assert_true(len - off >= FCGIX_HEADER_LEN);
        assert_int_equal(h[0], 1);
        assert_int_equal(h[1], FCGIX_PARAMS);
        assert_int_equal((h[2] << 8) | h[3], w->id);
        assert_int_equal(h[6], 0);
        assert_int_equal(h[7], 0);
        clen = ((size_t)h[4] << 8) | h[5];
        assert_true(clen <= w->max_content);
        assert_true(clen <= len - off - FCGIX_HEADER_LEN);
        if (clen == 0) {
            w->ended = 1;
        }
        else {
            walk_content(w, h + FCGIX_HEADER_LEN, clen);
        }
        off += FCGIX_HEADER_LEN + clen;
    }
}

/* Send what the packer holds to the walker, as a caller sends it to the
 * application, and empty the buffer. */
static void params_flush(fcgix_params_t *pk, walk_t *w,
                         const unsigned char *buf, int final)
{
    size_t n = fcgix_params_close(pk, final);

    assert_true(n > 0);
    walk_records(w, buf, n);
    fcgix_params_reset(pk);
    w->flushes++;
}

static void params_pack(fcgix_params_t *pk, walk_t *w, const pairset_t *ps,
                        const unsigned char *buf)
{
    const pair_t *p;
    size_t i;
    int rc;

    for (i = 0; i < ps->count; i++) {
        p = &ps->pairs[i];
        rc = fcgix_params_add(pk, p->name, p->name_len, p->value, p->value_len);
        if (rc == FCGIX_ENOSPC) {
            params_flush(pk, w, buf, 0);
            rc = fcgix_params_add(pk, p->name, p->name_len, p->value,
                                  p->value_len);
            assert_int_not_equal(rc, FCGIX_ENOSPC);
        }
        assert_int_equal(rc, pair_fits(p, w->max_content) ? FCGIX_OK
                                                          : FCGIX_ETOOLONG);
    }
    params_flush(pk, w, buf, 1);
    assert_true(w->ended);
    assert_int_equal(w->next, w->nwant);
}

/* Pack the mixed pairs into a buffer of cap bytes that ends at a guard
 * page; greedy only when one buffer holds everything. */
static size_t params_run(size_t cap, size_t max_content, int greedy)
{
    fcgix_params_t pk;
    unsigned char *buf;
    pairset_t ps;
    walk_t w;
    guard_t g;

    pairs_init(&ps);
    walk_init(&w, &ps, 0x0304, max_content, greedy);
    guard_init(&g, cap);
    buf = guard_out(&g, cap);
    fcgix_params_init(&pk, buf, cap, 0x0304, max_content);
    params_pack(&pk, &w, &ps, buf);
    guard_free(&g);
    free(ps.pool);
    return w.flushes;
}

static void test_params_split_max64(void **state)
{
    (void)state;
    assert_int_equal(params_run(512 * 1024, 64, 1), 1);
}

static void test_params_split_max65535(void **state)
{
    (void)state;
    assert_int_equal(params_run(512 * 1024, 65535, 1), 1);
}

/* Buffers too small for everything: ENOSPC, close(0), reset, retry. The
 * smallest takes one 64-byte pair plus two headers. */
static void test_params_small_buffers(void **state)
{
    static const size_t caps64[] = {80, 81, 87, 100, 137, 200, 1000};
    static const size_t caps65535[] = {65551, 70000, 131086};
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(caps64); i++) {
        assert_true(params_run(caps64[i], 64, 0) > 1);
    }
    for (i = 0; i < ARRAY_LEN(caps65535); i++) {
        assert_true(params_run(caps65535[i], 65535, 0) > 1);
    }
}

/* max_content 10: the first two pairs fill a record exactly. */
static void test_params_golden_split(void **state)
{
    static const unsigned char want[] = {
        0x01, 0x04, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, /* 10 bytes */
        0x01, 0x01, 'A',  '1',                          /* A=1 */
        0x02, 0x02, 'B',  'B',  '2',  '2',              /* BB=22 */
        0x01, 0x04, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, /* 4 bytes */
        0x01, 0x01, 'C',  '3',                          /* C=3 */
        0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* end */
    };
    unsigned char buf[128];
    fcgix_params_t pk;

    (void)state;
    memset(buf, 0xaa, sizeof(buf));
    fcgix_params_init(&pk, buf, sizeof(buf), 1, 10);
    assert_int_equal(fcgix_params_add(&pk, "A", 1, "1", 1), FCGIX_OK);
    assert_int_equal(fcgix_params_add(&pk, "BB", 2, "22", 2), FCGIX_OK);
    assert_int_equal(fcgix_params_add(&pk, "C", 1, "3", 1), FCGIX_OK);
    assert_int_equal(fcgix_params_close(&pk, 1), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void test_params_too_long_writes_nothing(void **state)
{
    static const unsigned char want[] = {
        0x01, 0x04, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, /* 10 bytes */
        0x01, 0x01, 'A',  '1',                          /* A=1 */
        0x02, 0x02, 'B',  'B',  '2',  '2',              /* BB=22 */
        0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* end */
    };
    char long_value[64];
    unsigned char buf[256];
    fcgix_params_t pk;

    (void)state;
    memset(long_value, 'x', sizeof(long_value));
    fcgix_params_init(&pk, buf, sizeof(buf), 1, 64);
    assert_int_equal(fcgix_params_add(&pk, "A", 1, "1", 1), FCGIX_OK);
    /* 2 + 1 + 62 = 65 bytes: one more than a record may carry */
    assert_int_equal(fcgix_params_add(&pk, "L", 1, long_value, 62),
                     FCGIX_ETOOLONG);
    assert_int_equal(fcgix_params_add(&pk, "BB", 2, "22", 2), FCGIX_OK);
    assert_int_equal(fcgix_params_close(&pk, 1), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void test_params_too_long_alone(void **state)
{
    static const unsigned char want[] = {
        0x01, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
    };
    char long_value[64];
    unsigned char buf[64];
    fcgix_params_t pk;

    (void)state;
    memset(long_value, 'x', sizeof(long_value));
    fcgix_params_init(&pk, buf, sizeof(buf), 7, 16);
    assert_int_equal(fcgix_params_close(&pk, 0), 0);
    assert_int_equal(fcgix_params_add(&pk, "L", 1, long_value, 14),
                     FCGIX_ETOOLONG);
    assert_int_equal(
        fcgix_params_add(&pk, (const char *)buf, 0x80000000UL, "", 0),
        FCGIX_ETOOLONG);
    assert_int_equal(fcgix_params_close(&pk, 1), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

/* cap 27 = header + an 11-byte pair + the empty record kept in reserve. */
static void test_params_exact_capacity(void **state)
{
    static const unsigned char want[] = {
        0x01, 0x04, 0x00, 0x01, 0x00, 0x0b, 0x00, 0x00, /* 11 bytes */
        0x04, 0x05,                                     /* lengths */
        'N',  'A',  'M',  'E',                          /* name */
        'v',  'a',  'l',  'u',  'e',                    /* value */
        0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* end */
    };
    fcgix_params_t pk;
    unsigned char *buf;
    guard_t g;

    (void)state;
    guard_init(&g, 27);
    buf = guard_out(&g, 27);
    fcgix_params_init(&pk, buf, 27, 1, 64);
    assert_int_equal(fcgix_params_add(&pk, "NAME", 4, "value", 5), FCGIX_OK);
    assert_int_equal(fcgix_params_add(&pk, "N", 1, "", 0), FCGIX_ENOSPC);
    assert_int_equal(fcgix_params_close(&pk, 1), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    buf = guard_out(&g, 26);
    fcgix_params_init(&pk, buf, 26, 1, 64);
    /* Even an empty 26-byte buffer cannot take it: ETOOLONG, not ENOSPC,
     * so that a flush-and-retry loop cannot spin. */
    assert_int_equal(fcgix_params_add(&pk, "NAME", 4, "value", 5),
                     FCGIX_ETOOLONG);
    assert_int_equal(fcgix_params_close(&pk, 1), 8);
    assert_memory_equal(buf, want + 19, 8);
    guard_free(&g);
}

/* After ENOSPC, close(0) hands out whole records only, and the stream
 * continues in a fresh record after reset. */
static void test_params_retry_golden(void **state)
{
    static const unsigned char first[] = {
        0x01, 0x04, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, /* 4 bytes */
        0x01, 0x01, 'A',  '1',                          /* A=1 */
    };
    static const unsigned char second[] = {
        0x01, 0x04, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, /* 6 bytes */
        0x02, 0x02, 'B',  'B',  '2',  '2',              /* BB=22 */
        0x01, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, /* end */
    };
    unsigned char buf[24];
    fcgix_params_t pk;

    (void)state;
    fcgix_params_init(&pk, buf, sizeof(buf), 2, 64);
    assert_int_equal(fcgix_params_add(&pk, "A", 1, "1", 1), FCGIX_OK);
    assert_int_equal(fcgix_params_add(&pk, "BB", 2, "22", 2), FCGIX_ENOSPC);
    assert_int_equal(fcgix_params_close(&pk, 0), sizeof(first));
    assert_memory_equal(buf, first, sizeof(first));
    fcgix_params_reset(&pk);
    assert_int_equal(fcgix_params_add(&pk, "BB", 2, "22", 2), FCGIX_OK);
    assert_int_equal(fcgix_params_close(&pk, 1), sizeof(second));
    assert_memory_equal(buf, second, sizeof(second));
}

/* Decoder: outcomes */

#define MAX_EVENTS 64
#define STREAM_CAP (2 * 65536 + 4096)

/* One normalised event: consecutive slices of one record coalesced. */
typedef struct {
    uint8_t type;
    size_t off; /* payload offset in the outcome's data */
    size_t len;
    int complete; /* the record's last slice was seen */
    uint32_t app_status;
    uint8_t protocol_status;
    uint8_t unknown_type;
} nev_t;

typedef struct {
    nev_t ev[MAX_EVENTS];
    size_t count;
    unsigned char *data;
    size_t data_len;
    int rc;          /* FCGIX_AGAIN, or the (sticky) error */
    int done;        /* fcgix_dec_done(); -1: do not compare */
    const char *why; /* first contract violation seen */
} outcome_t;

static void outcome_reset(outcome_t *o)
{
    o->count = 0;
    o->data_len = 0;
    o->rc = FCGIX_AGAIN;
    o->done = 0;
    o->why = NULL;
}

static outcome_t *outcome_new(void)
{
    outcome_t *o = malloc(sizeof(*o));

    assert_non_null(o);
    o->data = malloc(STREAM_CAP);
    assert_non_null(o->data);
    outcome_reset(o);
    return o;
}

static void outcome_free(outcome_t *o)
{
    free(o->data);
    free(o);
}

static void note(outcome_t *o, const char *why)
{
    if (o->why == NULL) {
        o->why = why;
    }
}

static nev_t *outcome_push(outcome_t *o, uint8_t type)
{
    nev_t *e;

    if (o->count == MAX_EVENTS) {
        note(o, "too many events");
        return NULL;
    }
    e = &o->ev[o->count++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->off = o->data_len;
    return e;
}

static void outcome_append(outcome_t *o, const void *data, size_t len)
{
    if (len > STREAM_CAP - o->data_len) {
        note(o, "more payload than input");
        return;
    }
    if (len > 0) {
        memcpy(o->data + o->data_len, data, len);
    }
    o->data_len += len;
}

static int is_data_type(int type)
{
    return type == FCGIX_STDOUT || type == FCGIX_STDERR
           || type == FCGIX_GET_VALUES_RESULT;
}

static nev_t *last_event(outcome_t *o)
{
    return o->count > 0 ? &o->ev[o->count - 1] : NULL;
}

/* A slice continues the open record of its type or starts a new one; an
 * empty slice is only ever a whole empty record. */
static void record_data(outcome_t *o, const fcgix_event_t *ev)
{
    nev_t *e = last_event(o);

    if (e != NULL && !e->complete) {
        if (e->type != ev->type || ev->len == 0) {
            note(o, "bad continuation of a record");
            return;
        }
    }
    else {
        if (ev->len == 0 && !ev->record_end) {
            note(o, "empty slice that does not end its record");
            return;
        }
        e = outcome_push(o, ev->type);
        if (e == NULL) {
            return;
        }
    }
    outcome_append(o, ev->data, ev->len);
    e->len += ev->len;
    e->complete = ev->record_end != 0;
}

static void record_event(outcome_t *o, const fcgix_event_t *ev)
{
    nev_t *e = last_event(o);

    if (is_data_type(ev->type)) {
        record_data(o, ev);
        return;
    }
    if (e != NULL && !e->complete) {
        note(o, "event inside an unfinished record");
        return;
    }
    if (ev->type != FCGIX_END_REQUEST && ev->type != FCGIX_UNKNOWN_TYPE) {
        note(o, "event of an unexpected type");
        return;
    }
    e = outcome_push(o, ev->type);
    if (e == NULL) {
        return;
    }
    e->complete = 1;
    if (ev->type == FCGIX_END_REQUEST) {
        e->app_status = ev->app_status;
        e->protocol_status = ev->protocol_status;
    }
    else {
        e->unknown_type = ev->unknown_type;
    }
}

static int events_equal(const outcome_t *a, const outcome_t *b)
{
    const nev_t *x, *y;
    size_t i;

    for (i = 0; i < a->count; i++) {
        x = &a->ev[i];
        y = &b->ev[i];
        if (x->type != y->type || x->len != y->len || x->complete != y->complete
            || x->app_status != y->app_status
            || x->protocol_status != y->protocol_status
            || x->unknown_type != y->unknown_type) {
            return 0;
        }
        if (x->len > 0
            && memcmp(a->data + x->off, b->data + y->off, x->len) != 0) {
            return 0;
        }
    }
    return 1;
}

static int outcome_equal(const outcome_t *got, const outcome_t *want)
{
    if (got->count != want->count || got->rc != want->rc) {
        return 0;
    }
    if (want->done >= 0 && got->done != want->done) {
        return 0;
    }
    return events_equal(got, want);
}

static void dump_outcome(const char *what, const outcome_t *o)
{
    const nev_t *e;
    size_t i;

    print_error("%s: rc %d (%s), done %d, %zu events\n", what, o->rc,
                fcgix_strerror(o->rc), o->done, o->count);
    for (i = 0; i < o->count; i++) {
        e = &o->ev[i];
        print_error("  %s len %zu complete %d app %08lx ps %u ut %u\n",
                    fcgix_type_name(e->type), e->len, e->complete,
                    (unsigned long)e->app_status, e->protocol_status,
                    e->unknown_type);
    }
}

/* Decoder: hand-packed test streams */

typedef struct {
    unsigned char *bytes;
    size_t len;
    uint16_t request_id;
    outcome_t *expect;
    unsigned char *out; /* the STDOUT payload we expect */
    size_t out_len;
    char what[64];
} dstream_t;

static dstream_t *ds_new(uint16_t request_id, const char *what)
{
    dstream_t *s = malloc(sizeof(*s));

    assert_non_null(s);
    s->bytes = malloc(STREAM_CAP);
    s->out = malloc(STREAM_CAP);
    assert_non_null(s->bytes);
    assert_non_null(s->out);
    s->len = 0;
    s->out_len = 0;
    s->request_id = request_id;
    s->expect = outcome_new();
    snprintf(s->what, sizeof(s->what), "%s", what);
    return s;
}

static void ds_free(dstream_t *s)
{
    outcome_free(s->expect);
    free(s->out);
    free(s->bytes);
    free(s);
}

static void ds_bytes(dstream_t *s, const void *data, size_t len)
{
    assert_true(len <= STREAM_CAP - s->len);
    if (len > 0) {
        memcpy(s->bytes + s->len, data, len);
    }
    s->len += len;
}

/* A record, header packed byte by byte; padding is filled with 0xee
 * because its value must not matter. */
static void ds_record(dstream_t *s, unsigned version, unsigned type,
                      unsigned id, const void *content, size_t clen,
                      unsigned plen)
{
    unsigned char h[FCGIX_HEADER_LEN];
    unsigned char pad[255];

    h[0] = (unsigned char)version;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)((id >> 8) & 0xff);
    h[3] = (unsigned char)(id & 0xff);
    h[4] = (unsigned char)((clen >> 8) & 0xff);
    h[5] = (unsigned char)(clen & 0xff);
    h[6] = (unsigned char)plen;
    h[7] = 0;
    memset(pad, 0xee, sizeof(pad));
    ds_bytes(s, h, sizeof(h));
    ds_bytes(s, content, clen);
    ds_bytes(s, pad, plen);
}

/* STDOUT, STDERR or GET_VALUES_RESULT, and the event it must give. */
static void ds_data(dstream_t *s, uint8_t type, const void *data, size_t len,
                    unsigned plen)
{
    unsigned id = type == FCGIX_GET_VALUES_RESULT ? 0 : s->request_id;
    nev_t *e;

    ds_record(s, 1, type, id, data, len, plen);
    e = outcome_push(s->expect, type);
    assert_non_null(e);
    outcome_append(s->expect, data, len);
    e->len = len;
    e->complete = 1;
    if (type == FCGIX_STDOUT) {
        memcpy(s->out + s->out_len, data, len);
        s->out_len += len;
    }
}

static void ds_end(dstream_t *s, uint32_t app_status, uint8_t status,
                   unsigned plen)
{
    unsigned char body[FCGIX_FIXED_BODY_LEN] = {0};
    nev_t *e;

    body[0] = (unsigned char)(app_status >> 24);
    body[1] = (unsigned char)((app_status >> 16) & 0xff);
    body[2] = (unsigned char)((app_status >> 8) & 0xff);
    body[3] = (unsigned char)(app_status & 0xff);
    body[4] = status;
    ds_record(s, 1, FCGIX_END_REQUEST, s->request_id, body, sizeof(body), plen);
    e = outcome_push(s->expect, FCGIX_END_REQUEST);
    assert_non_null(e);
    e->complete = 1;
    e->app_status = app_status;
    e->protocol_status = status;
    s->expect->done = 1;
}

static void ds_unknown(dstream_t *s, uint8_t type, unsigned plen)
{
    unsigned char body[FCGIX_FIXED_BODY_LEN] = {0};
    nev_t *e;

    body[0] = type;
    ds_record(s, 1, FCGIX_UNKNOWN_TYPE, 0, body, sizeof(body), plen);
    e = outcome_push(s->expect, FCGIX_UNKNOWN_TYPE);
    assert_non_null(e);
    e->complete = 1;
    e->unknown_type = type;
}

/* The stream must fail with rc; whether done is set then is not said. */
static void ds_fail(dstream_t *s, int rc)
{
    s->expect->rc = rc;
    s->expect->done = -1;
}

/* Decoder: the driver */

static void check_sticky(fcgix_dec_t *d, const unsigned char *in, size_t len,
                         outcome_t *o)
{
    fcgix_event_t ev;
    size_t consumed = (size_t)-1;

    if (fcgix_dec_step(d, in, len, &consumed, &ev) != o->rc) {
        note(o, "error not sticky");
    }
    if (consumed > len) {
        note(o, "consumed > len after an error");
    }
    if (fcgix_dec_step(d, NULL, 0, &consumed, &ev) != o->rc) {
        note(o, "error not sticky on empty input");
    }
}

static void check_slice(const fcgix_event_t *ev, const unsigned char *in,
                        size_t consumed, outcome_t *o)
{
    uintptr_t lo = (uintptr_t)in;
    uintptr_t p = (uintptr_t)ev->data;

    if (!is_data_type(ev->type) || ev->len == 0) {
        return;
    }
    if (ev->len > consumed || p < lo || p - lo > consumed - ev->len) {
        note(o, "data slice outside the consumed input");
    }
}

static void end_chunk(fcgix_dec_t *d, const unsigned char *in, size_t len,
                      size_t consumed, int rc, outcome_t *o)
{
    fcgix_event_t ev;

    if (rc == FCGIX_AGAIN) {
        if (consumed != len) {
            note(o, "AGAIN without consuming all input");
        }
        /* in may be NULL when len is 0, whatever the state */
        if (fcgix_dec_step(d, NULL, 0, &consumed, &ev) != FCGIX_AGAIN
            || consumed != 0) {
            note(o, "empty input is not AGAIN");
        }
        return;
    }
    if (rc >= 0 || rc < FCGIX_EINVAL) {
        note(o, "return code out of range");
        return;
    }
    o->rc = rc;
    check_sticky(d, in + consumed, len - consumed, o);
}

/* Step through one chunk until the decoder wants more or fails. */
static void step_chunk(fcgix_dec_t *d, const unsigned char *in, size_t len,
                       outcome_t *o)
{
    fcgix_event_t ev;
    unsigned idle = 0;
    size_t off = 0, consumed;
    int rc;

    if (o->rc != FCGIX_AGAIN) {
        check_sticky(d, in, len, o);
        return;
    }
    while (o->why == NULL) {
        memset(&ev, 0xa5, sizeof(ev));
        consumed = (size_t)-1;
        rc = fcgix_dec_step(d, in + off, len - off, &consumed, &ev);
        if (consumed > len - off) {
            note(o, "consumed > len");
            return;
        }
        if (rc != FCGIX_OK) {
            end_chunk(d, in + off, len - off, consumed, rc, o);
            return;
        }
        check_slice(&ev, in + off, consumed, o);
        record_event(o, &ev);
        off += consumed;
        idle = consumed > 0 ? 0 : idle + 1;
        if (idle > 3) {
            note(o, "events without progress");
        }
    }
}

/* Feed s in the chunks given by cuts, each against the guard page. */
static void decode_plan(fcgix_dec_t *d, const dstream_t *s, guard_t *g,
                        outcome_t *o, const size_t *cuts, size_t ncuts)
{
    size_t start = 0, end, k;

    for (k = 0; k <= ncuts; k++) {
        end = k < ncuts ? cuts[k] : s->len;
        step_chunk(d, guard_put(g, s->bytes + start, end - start), end - start,
                   o);
        start = end;
    }
    o->done = fcgix_dec_done(d) != 0;
}

static void check_stdout(const outcome_t *o, const dstream_t *s)
{
    const nev_t *e;
    size_t i, pos = 0;

    for (i = 0; i < o->count; i++) {
        e = &o->ev[i];
        if (e->type != FCGIX_STDOUT) {
            continue;
        }
        assert_true(e->len <= s->out_len - pos);
        assert_memory_equal(o->data + e->off, s->out + pos, e->len);
        pos += e->len;
    }
    assert_int_equal(pos, s->out_len);
}

typedef struct {
    const dstream_t *s;
    guard_t *g;
    outcome_t *o;
} dctx_t;

static void check_decode_plan(void *ctx, const size_t *cuts, size_t ncuts)
{
    dctx_t *c = ctx;
    fcgix_event_t ev;
    fcgix_dec_t d;
    size_t consumed = (size_t)-1;

    outcome_reset(c->o);
    fcgix_dec_init(&d, c->s->request_id);
    if (fcgix_dec_step(&d, NULL, 0, &consumed, &ev) != FCGIX_AGAIN
        || consumed != 0) {
        note(c->o, "empty input at the start is not AGAIN");
    }
    decode_plan(&d, c->s, c->g, c->o, cuts, ncuts);
    if (c->o->why != NULL || !outcome_equal(c->o, c->s->expect)) {
        print_error("stream \"%s\" (%zu bytes): %s; ", c->s->what, c->s->len,
                    c->o->why ? c->o->why : "wrong events");
        print_plan(cuts, ncuts);
        dump_outcome("got", c->o);
        dump_outcome("want", c->s->expect);
        fail();
    }
    check_stdout(c->o, c->s);
}

/* Every plan must give the expected outcome, hence the same outcome. */
static void check_stream(const dstream_t *s)
{
    guard_t g;
    dctx_t c;

    guard_init(&g, s->len);
    c.s = s;
    c.g = &g;
    c.o = outcome_new();
    for_each_plan(s->len, check_decode_plan, &c);
    outcome_free(c.o);
    guard_free(&g);
}

/* Decoder: good streams */

static void test_dec_stdout_records_then_end(void **state)
{
    static const char head[] = "Content-Type: text/plain\r\n\r\n";
    dstream_t *s = ds_new(RID, "stdout");

    (void)state;
    ds_data(s, FCGIX_STDOUT, head, sizeof(head) - 1, 0);
    ds_data(s, FCGIX_STDOUT, "hello, ", 7, 1);
    ds_data(s, FCGIX_STDOUT, "world\n", 6, 2);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 0);
    assert_int_equal(s->out_len, sizeof(head) - 1 + 13);
    assert_memory_equal(s->out + sizeof(head) - 1, "hello, world\n", 13);
    check_stream(s);
    ds_free(s);
}

static void test_dec_stderr_interleaved(void **state)
{
    dstream_t *s = ds_new(RID, "stderr interleaved");

    (void)state;
    ds_data(s, FCGIX_STDOUT, "Status: 200\r\n", 13, 3);
    ds_data(s, FCGIX_STDERR, "warning 1\n", 10, 6);
    ds_data(s, FCGIX_STDOUT, "\r\nbody", 6, 0);
    ds_data(s, FCGIX_STDERR, "warning 2\n", 10, 0);
    ds_data(s, FCGIX_STDERR, "", 0, 0);
    ds_data(s, FCGIX_STDOUT, "more", 4, 4);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 3, FCGIX_REQUEST_COMPLETE, 0);
    check_stream(s);
    ds_free(s);
}

static void test_dec_padding_0_7_255(void **state)
{
    dstream_t *s = ds_new(RID, "padding");

    (void)state;
    ds_data(s, FCGIX_STDOUT, "x", 1, 7);
    ds_data(s, FCGIX_STDOUT, "yz", 2, 255);
    ds_data(s, FCGIX_STDERR, "e", 1, 0);
    ds_data(s, FCGIX_STDERR, "", 0, 255);
    ds_data(s, FCGIX_STDOUT, "12345678", 8, 0);
    ds_data(s, FCGIX_STDOUT, "", 0, 7);
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 255);
    check_stream(s);
    ds_free(s);
}

static void test_dec_content_0_and_65535(void **state)
{
    unsigned char *big = malloc(FCGIX_MAX_CONTENT_LEN);
    dstream_t *s = ds_new(0xfffe, "content 65535");

    (void)state;
    assert_non_null(big);
    fill_pattern(big, FCGIX_MAX_CONTENT_LEN, 17);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_data(s, FCGIX_STDOUT, big, FCGIX_MAX_CONTENT_LEN, 0);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 0);
    check_stream(s);
    ds_free(s);
    free(big);
}

static void test_dec_stderr_65535_padded(void **state)
{
    unsigned char *big = malloc(FCGIX_MAX_CONTENT_LEN);
    dstream_t *s = ds_new(RID, "stderr 65535, padding 255");

    (void)state;
    assert_non_null(big);
    fill_pattern(big, FCGIX_MAX_CONTENT_LEN, 23);
    ds_data(s, FCGIX_STDERR, big, FCGIX_MAX_CONTENT_LEN, 255);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 0);
    check_stream(s);
    ds_free(s);
    free(big);
}

/* Management records carry request id 0 and may come at any time. */
static void test_dec_management_records(void **state)
{
    static const char result[] = "\x0e\x02"
                                 "FCGI_MAX_CONNS"
                                 "10"
                                 "\x0f\x01"
                                 "FCGI_MPXS_CONNS"
                                 "0";
    static const char reqs[] = "\x0d\x01"
                               "FCGI_MAX_REQS"
                               "1";
    dstream_t *s = ds_new(RID, "management");

    (void)state;
    ds_data(s, FCGIX_GET_VALUES_RESULT, result, sizeof(result) - 1, 5);
    ds_unknown(s, 42, 0);
    ds_data(s, FCGIX_STDOUT, "x", 1, 0);
    ds_unknown(s, 200, 7);
    ds_data(s, FCGIX_GET_VALUES_RESULT, reqs, sizeof(reqs) - 1, 0);
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 0);
    check_stream(s);
    ds_free(s);
}

/* A management-only connection never ends a request. */
static void test_dec_management_only(void **state)
{
    static const char result[] = "\x0e\x01"
                                 "FCGI_MAX_CONNS"
                                 "4";
    dstream_t *s = ds_new(1, "management only");

    (void)state;
    ds_data(s, FCGIX_GET_VALUES_RESULT, result, sizeof(result) - 1, 1);
    ds_unknown(s, FCGIX_GET_VALUES, 3);
    check_stream(s);
    ds_free(s);
}

static void test_dec_end_request_statuses(void **state)
{
    static const uint8_t statuses[] = {
        FCGIX_REQUEST_COMPLETE,
        FCGIX_CANT_MPX_CONN,
        FCGIX_OVERLOADED,
        FCGIX_UNKNOWN_ROLE,
    };
    dstream_t *s;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(statuses); i++) {
        s = ds_new(RID, "end request");
        ds_end(s, 0x01020304, statuses[i], (unsigned)i * 3);
        check_stream(s);
        ds_free(s);
    }
    s = ds_new(RID, "end request, high bit");
    ds_data(s, FCGIX_STDOUT, "", 0, 0);
    ds_end(s, 0xfedcba98, FCGIX_OVERLOADED, 0);
    check_stream(s);
    ds_free(s);
}

/* The same fields from literal bytes, to pin the byte order. */
static void test_dec_end_request_big_endian(void **state)
{
    unsigned char rec[] = {
        0x01, 0x03, 0x01, 0x02, 0x00, 0x08, 0x00, 0x00,
        0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
    };
    const unsigned char *in;
    fcgix_event_t ev;
    fcgix_dec_t d;
    size_t consumed;
    unsigned st;
    guard_t g;

    (void)state;
    guard_init(&g, sizeof(rec));
    for (st = 0; st <= FCGIX_UNKNOWN_ROLE; st++) {
        rec[12] = (unsigned char)st;
        in = guard_put(&g, rec, sizeof(rec));
        fcgix_dec_init(&d, 0x0102);
        assert_int_equal(fcgix_dec_step(&d, in, sizeof(rec), &consumed, &ev),
                         FCGIX_OK);
        assert_int_equal(consumed, sizeof(rec));
        assert_int_equal(ev.type, FCGIX_END_REQUEST);
        assert_int_equal(ev.app_status, 0x01020304);
        assert_int_equal(ev.protocol_status, st);
        assert_true(fcgix_dec_done(&d));
    }
    guard_free(&g);
}

/* libfcgi's own record layout, filled field by field, decodes too. */
static void test_dec_reads_libfcgi_end_record(void **state)
{
    FCGI_EndRequestRecord r;
    fcgix_event_t ev;
    fcgix_dec_t d;
    size_t consumed;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.header.version = FCGI_VERSION_1;
    r.header.type = FCGI_END_REQUEST;
    r.header.requestIdB1 = 0x12;
    r.header.requestIdB0 = 0x34;
    r.header.contentLengthB0 = sizeof(r.body);
    r.body.appStatusB3 = 0xaa;
    r.body.appStatusB0 = 0x55;
    r.body.protocolStatus = FCGI_UNKNOWN_ROLE;
    fcgix_dec_init(&d, 0x1234);
    assert_int_equal(fcgix_dec_step(&d, (const unsigned char *)&r, sizeof(r),
                                    &consumed, &ev),
                     FCGIX_OK);
    assert_int_equal(consumed, sizeof(r));
    assert_int_equal(ev.app_status, 0xaa000055UL);
    assert_int_equal(ev.protocol_status, FCGIX_UNKNOWN_ROLE);
}

/* Decoder: errors */

typedef struct {
    unsigned version;
    unsigned type;
    unsigned id;
    unsigned clen;
    int rc;
} bad_rec_t;

static const bad_rec_t bad_records[] = {
    {0, FCGIX_STDOUT, RID, 2, FCGIX_EVERSION},
    {2, FCGIX_STDOUT, RID, 2, FCGIX_EVERSION},
    {1, FCGIX_BEGIN_REQUEST, RID, 8, FCGIX_ETYPE},
    {1, FCGIX_ABORT_REQUEST, RID, 0, FCGIX_ETYPE},
    {1, FCGIX_PARAMS, RID, 0, FCGIX_ETYPE},
    {1, FCGIX_STDIN, RID, 3, FCGIX_ETYPE},
    {1, FCGIX_DATA, RID, 3, FCGIX_ETYPE},
    {1, FCGIX_GET_VALUES, 0, 0, FCGIX_ETYPE},
    {1, 0, RID, 0, FCGIX_EUNKNOWNTYPE},
    {1, 12, RID, 0, FCGIX_EUNKNOWNTYPE},
    {1, 255, RID, 0, FCGIX_EUNKNOWNTYPE},
    {1, FCGIX_STDOUT, 0, 2, FCGIX_EREQID},
    {1, FCGIX_STDOUT, RID + 1, 2, FCGIX_EREQID},
    {1, FCGIX_STDOUT, 0x0201, 2, FCGIX_EREQID},
    {1, FCGIX_STDERR, 0, 2, FCGIX_EREQID},
    {1, FCGIX_END_REQUEST, 0, 8, FCGIX_EREQID},
    {1, FCGIX_GET_VALUES_RESULT, 1, 0, FCGIX_EREQID},
    {1, FCGIX_GET_VALUES_RESULT, RID, 2, FCGIX_EREQID},
    {1, FCGIX_UNKNOWN_TYPE, 1, 8, FCGIX_EREQID},
    {1, FCGIX_UNKNOWN_TYPE, RID, 8, FCGIX_EREQID},
    {1, FCGIX_END_REQUEST, RID, 7, FCGIX_EBODYLEN},
    {1, FCGIX_END_REQUEST, RID, 9, FCGIX_EBODYLEN},
    {1, FCGIX_END_REQUEST, RID, 0, FCGIX_EBODYLEN},
    {1, FCGIX_UNKNOWN_TYPE, 0, 7, FCGIX_EBODYLEN},
    {1, FCGIX_UNKNOWN_TYPE, 0, 9, FCGIX_EBODYLEN},
};

/* The bad record, alone or after a good one, then more good bytes that
 * the sticky error must swallow. */
static void check_bad_record(const bad_rec_t *b, int after_good)
{
    unsigned char content[16];
    dstream_t *s;
    char what[64];

    snprintf(what, sizeof(what), "bad v%u t%u id%u len%u%s", b->version,
             b->type, b->id, b->clen, after_good ? " after stdout" : "");
    s = ds_new(RID, what);
    if (after_good) {
        ds_data(s, FCGIX_STDOUT, "ok", 2, 6);
    }
    memset(content, 'z', sizeof(content));
    ds_record(s, b->version, b->type, b->id, content, b->clen, 0);
    ds_record(s, 1, FCGIX_STDOUT, RID, "after", 5, 0);
    ds_fail(s, b->rc);
    check_stream(s);
    ds_free(s);
}

static void test_dec_error_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad_records); i++) {
        check_bad_record(&bad_records[i], 0);
        check_bad_record(&bad_records[i], 1);
    }
}

static void test_dec_byte_after_end_request(void **state)
{
    static const unsigned char one = 0x01;
    static const unsigned plens[] = {0, 3, 255};
    dstream_t *s;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(plens); i++) {
        s = ds_new(RID, "byte after end request");
        ds_data(s, FCGIX_STDOUT, "", 0, 0);
        ds_end(s, 0, FCGIX_REQUEST_COMPLETE, plens[i]);
        ds_bytes(s, &one, 1);
        ds_fail(s, FCGIX_ESTATE);
        check_stream(s);
        ds_free(s);
    }
}

static void test_dec_record_after_end_request(void **state)
{
    dstream_t *s = ds_new(RID, "record after end request");

    (void)state;
    ds_end(s, 0, FCGIX_REQUEST_COMPLETE, 0);
    ds_record(s, 1, FCGIX_STDOUT, RID, "late", 4, 4);
    ds_fail(s, FCGIX_ESTATE);
    check_stream(s);
    ds_free(s);
}

/* END_REQUEST is reported after its padding; done follows it. */
static void test_dec_done_after_end_request(void **state)
{
    dstream_t *s = ds_new(RID, "done");
    const unsigned char *in;
    outcome_t *o = outcome_new();
    fcgix_dec_t d;
    guard_t g;

    (void)state;
    ds_data(s, FCGIX_STDOUT, "x", 1, 0);
    ds_end(s, 5, FCGIX_REQUEST_COMPLETE, 2);
    guard_init(&g, s->len);
    fcgix_dec_init(&d, RID);
    assert_false(fcgix_dec_done(&d));
    in = guard_put(&g, s->bytes, s->len - 1);
    step_chunk(&d, in, s->len - 1, o);
    assert_null(o->why);
    assert_int_equal(o->count, 1);
    assert_false(fcgix_dec_done(&d));
    in = guard_put(&g, s->bytes + s->len - 1, 1);
    step_chunk(&d, in, 1, o);
    assert_null(o->why);
    assert_int_equal(o->count, 2);
    assert_int_equal(o->ev[1].type, FCGIX_END_REQUEST);
    assert_true(fcgix_dec_done(&d));
    guard_free(&g);
    outcome_free(o);
    ds_free(s);
}

static void decode_whole(fcgix_dec_t *d, const dstream_t *s, outcome_t *o)
{
    guard_t g;

    guard_init(&g, s->len);
    outcome_reset(o);
    decode_plan(d, s, &g, o, NULL, 0);
    guard_free(&g);
    assert_null(o->why);
}

/* A kept connection: fcgix_dec_init() again for the next request id. */
static void test_dec_init_again_next_request(void **state)
{
    dstream_t *a = ds_new(1, "first request");
    dstream_t *b = ds_new(2, "second request");
    outcome_t *o = outcome_new();
    fcgix_dec_t d;

    (void)state;
    ds_data(a, FCGIX_STDOUT, "first", 5, 3);
    ds_data(a, FCGIX_STDOUT, "", 0, 0);
    ds_end(a, 0, FCGIX_REQUEST_COMPLETE, 0);
    ds_data(b, FCGIX_STDOUT, "second", 6, 2);
    ds_data(b, FCGIX_STDOUT, "", 0, 0);
    ds_end(b, 7, FCGIX_REQUEST_COMPLETE, 1);
    fcgix_dec_init(&d, 1);
    decode_whole(&d, a, o);
    assert_true(outcome_equal(o, a->expect));
    assert_true(fcgix_dec_done(&d));
    fcgix_dec_init(&d, 2);
    assert_false(fcgix_dec_done(&d));
    decode_whole(&d, b, o);
    assert_true(outcome_equal(o, b->expect));
    assert_true(fcgix_dec_done(&d));
    fcgix_dec_init(&d, 2);
    decode_whole(&d, a, o);
    assert_int_equal(o->rc, FCGIX_EREQID);
    outcome_free(o);
    ds_free(b);
    ds_free(a);
}

static void test_dec_error_is_sticky(void **state)
{
    static const unsigned char bad[] = {
        0x02, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    };
    static const unsigned char good[] = {
        0x01, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 'x',
    };
    fcgix_event_t ev;
    fcgix_dec_t d;
    size_t consumed;

    (void)state;
    fcgix_dec_init(&d, 1);
    assert_int_equal(fcgix_dec_step(&d, bad, sizeof(bad), &consumed, &ev),
                     FCGIX_EVERSION);
    assert_true(consumed <= sizeof(bad));
    assert_int_equal(fcgix_dec_step(&d, good, sizeof(good), &consumed, &ev),
                     FCGIX_EVERSION);
    assert_int_equal(fcgix_dec_step(&d, NULL, 0, &consumed, &ev),
                     FCGIX_EVERSION);
    assert_false(fcgix_dec_done(&d));
    fcgix_dec_init(&d, 1);
    assert_int_equal(fcgix_dec_step(&d, good, sizeof(good), &consumed, &ev),
                     FCGIX_OK);
    assert_int_equal(ev.type, FCGIX_STDOUT);
    assert_int_equal(ev.len, 1);
}

static const int all_codes[] = {
    FCGIX_OK,           FCGIX_AGAIN,    FCGIX_EVERSION, FCGIX_ETYPE,
    FCGIX_EUNKNOWNTYPE, FCGIX_EREQID,   FCGIX_EBODYLEN, FCGIX_ESTATE,
    FCGIX_ENOSPC,       FCGIX_ETOOLONG, FCGIX_ETRUNC,   FCGIX_EINVAL,
};

static void test_strerror_distinct(void **state)
{
    const char *a, *b;
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_LEN(all_codes); i++) {
        a = fcgix_strerror(all_codes[i]);
        assert_non_null(a);
        assert_true(a[0] != '\0');
        for (j = 0; j < i; j++) {
            b = fcgix_strerror(all_codes[j]);
            assert_int_not_equal(strcmp(a, b), 0);
        }
    }
    assert_non_null(fcgix_strerror(-100));
    assert_true(fcgix_strerror(-100)[0] != '\0');
    assert_non_null(fcgix_strerror(1));
}

/* The error codes themselves are distinct and "need more" is not one. */
static void test_error_codes_distinct(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_LEN(all_codes); i++) {
        for (j = 0; j < i; j++) {
            assert_int_not_equal(all_codes[i], all_codes[j]);
        }
        if (i >= 2) {
            assert_true(all_codes[i] < FCGIX_AGAIN);
        }
    }
}

/* Header scanner */

typedef struct {
    const char *in;
    size_t len;
    long want; /* offset past the blank line, -1, or BAD_AT(offset) */
} scan_case_t;

/* A refused header block, and the offset of the byte refused. */
#define BAD_AT(off) (-100 - (long)(off))
/* Fields of a scan_case_t: the input and where its headers end. */
#define SCAN(lit, want) lit, sizeof(lit) - 1, want
/* Headers then a body: the headers end where the body starts. */
#define SCAN_BODY(head, body)                                                  \
    head body, sizeof(head body) - 1, (long)sizeof(head) - 1

static const scan_case_t scan_cases[] = {
    {SCAN_BODY("A: b\n\n", "")},
    {SCAN_BODY("A: b\r\n\r\n", "")},
    {SCAN_BODY("A: b\n\r\n", "")},
    {SCAN_BODY("A: b\r\n\n", "")},
    /* alone, the first line is already the empty one */
    {SCAN("\n\n", 1)},
    {SCAN("\r\n\r\n", 2)},
    {SCAN("\n\r\n", 1)},
    {SCAN("\r\n\n", 2)},
    {SCAN("\r\n", 2)},
    {SCAN("\n", 1)},
    {SCAN_BODY("\r\n", "body\r\n\r\n")},
    {SCAN_BODY("\n", "body\n\n")},
    {SCAN_BODY("Status: 200 OK\r\nContent-Type: text/html\r\n\r\n",
               "<p>body</p>\r\n\r\n")},
    {SCAN_BODY("Location: /x\n\n", "body")},
    {SCAN_BODY("A: 1\r\nB: 2\n\r\n", "rest")},
    {SCAN_BODY("A: 1\nB: 2\r\n\n", "\n\n")},
    {SCAN("A\n\r\nx", BAD_AT(1))},
    {SCAN("", -1)},
    {SCAN("abc", -1)},
    {SCAN("Content-Type: a\r\n", -1)},
    {SCAN("A: b\r\nC: d", -1)},
    {SCAN("A: b\r", -1)},
    {SCAN("A: b\r\n\r", -1)},
    {SCAN("\r", -1)},
    {SCAN("\r\r\n", BAD_AT(1))},
    {SCAN("A: b\r\r\n", BAD_AT(5))},
    {SCAN("A: b\r\n\r\r\nC: d\r\n", BAD_AT(7))},
    {SCAN("\r\r\n\r\nbody", BAD_AT(1))},
    {SCAN("A: b\r\n\r\r\n\nbody", BAD_AT(7))},
    {SCAN("\rX\n\nbody", BAD_AT(1))},
    /* a lone CR in a value: response splitting */
    {SCAN("A: x\rSet-Cookie: y\r\n\r\nbody", BAD_AT(5))},
    {SCAN("A: x\r\r\ny\n\nbody", BAD_AT(5))},
    {SCAN("A: \rx\n\n\r\n", BAD_AT(4))},
    /* names are tokens; values hold no control character but HTAB */
    {SCAN(" A: b\n\n", BAD_AT(0))},
    {SCAN("A: b\n c\n\n", BAD_AT(5))},
    {SCAN("A: b\n\tc\n\n", BAD_AT(5))},
    {SCAN(": b\n\n", BAD_AT(0))},
    {SCAN("A b: c\n\n", BAD_AT(1))},
    {SCAN("X(A): 1\n\n", BAD_AT(1))},
    {SCAN("\xc3\x9c: 1\n\n", BAD_AT(0))},
    {SCAN("A: b\0c\n\n", BAD_AT(4))},
    {SCAN("A\0: b\n\n", BAD_AT(1))},
    {SCAN("A: \x7f\n\n", BAD_AT(3))},
    {SCAN("A: \x01\n\n", BAD_AT(3))},
    {SCAN("no colon\n\n", BAD_AT(2))},
    {SCAN("nocolon\n\n", BAD_AT(7))},
    {SCAN("nocolon\r\n\r\n", BAD_AT(7))},
    {SCAN_BODY("A: b\tc\n\n", "x")},
    {SCAN_BODY("A:\n\n", "x")},
    {SCAN_BODY("Content-Disposition: a; filename=\"\xe9t\xe9\"\r\n\r\n", "x")},
    {SCAN_BODY("X-Tok!#$%&'*+-.^_`|~09az: v\r\n\r\n", "x")},
};

typedef struct {
    const scan_case_t *c;
    size_t index;
    guard_t *g;
} sctx_t;

/* Total offset past the blank line, -1 when not found, below -1 when the
 * scanner broke its contract. */
static long scan_plan(const scan_case_t *c, guard_t *g, const size_t *cuts,
                      size_t ncuts, int zeroed)
{
    fcgix_hdrscan_t s;
    size_t start = 0, end, k, used;
    const char *in;
    int rc;

    if (zeroed) {
        memset(&s, 0, sizeof(s));
    }
    else {
        fcgix_hdrscan_init(&s);
    }
    for (k = 0; k <= ncuts; k++) {
        end = k < ncuts ? cuts[k] : c->len;
        in = (const char *)guard_put(g, c->in + start, end - start);
        used = (size_t)-1;
        rc = fcgix_hdrscan(&s, in, end - start, &used);
        if (rc == 1) {
            return used >= 1 && used <= end - start ? (long)(start + used) : -2;
        }
        if (rc == -1) {
            return used < end - start && s.why != NULL ? BAD_AT(start + used)
                                                       : -2;
        }
        if (rc != 0 || used != end - start) {
            return -3;
        }
        start = end;
    }
    return -1;
}

/* The header allows a zeroed scanner in place of fcgix_hdrscan_init(). */
static void check_scan_plan(void *ctx, const size_t *cuts, size_t ncuts)
{
    const sctx_t *x = ctx;
    long got;
    int zeroed;

    for (zeroed = 0; zeroed <= 1; zeroed++) {
        got = scan_plan(x->c, x->g, cuts, ncuts, zeroed);
        if (got != x->c->want) {
            print_error("header scan case %zu%s: got %ld, want %ld; ", x->index,
                        zeroed ? " (zeroed state)" : "", got, x->c->want);
            print_plan(cuts, ncuts);
            fail();
        }
    }
}

static void test_hdrscan_table(void **state)
{
    guard_t g;
    sctx_t x;
    size_t i;

    (void)state;
    guard_init(&g, 256);
    x.g = &g;
    for (i = 0; i < ARRAY_LEN(scan_cases); i++) {
        x.c = &scan_cases[i];
        x.index = i;
        for_each_plan(x.c->len, check_scan_plan, &x);
    }
    guard_free(&g);
}

/* A zero-initialised scanner starts at the start of a line too. */
static void test_hdrscan_zero_init(void **state)
{
    fcgix_hdrscan_t s;
    size_t used;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(fcgix_hdrscan(&s, "\r\nbody", 6, &used), 1);
    assert_int_equal(used, 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(fcgix_hdrscan(&s, "A: b\r\n", 6, &used), 0);
    assert_int_equal(used, 6);
    assert_int_equal(fcgix_hdrscan(&s, "\r\nbody", 6, &used), 1);
    assert_int_equal(used, 2);
}

/* Header lines and Status values */

static void test_header_next(void **state)
{
    static const char block[] = "Status:  403 Forbidden \t\r\n"
                                "X-Empty:\n"
                                "Variable-ID: 42\r\n"
                                "\r\nbody";
    const char *p = block;
    size_t left = sizeof(block) - 1, used;
    fcgix_header_t h;

    (void)state;
    assert_int_equal(fcgix_header_next(p, left, &used, &h), 1);
    assert_int_equal(used, 26);
    assert_int_equal(h.name_len, 6);
    assert_memory_equal(h.name, "Status", 6);
    assert_int_equal(h.value_len, 13);
    assert_memory_equal(h.value, "403 Forbidden", 13);
    assert_int_equal(fcgix_status_code(h.value, h.value_len), 403);
    p += used;
    left -= used;
    assert_int_equal(fcgix_header_next(p, left, &used, &h), 1);
    assert_int_equal(h.value_len, 0);
    p += used;
    left -= used;
    assert_int_equal(fcgix_header_next(p, left, &used, &h), 1);
    assert_memory_equal(h.value, "42", 2);
    p += used;
    left -= used;
    assert_int_equal(fcgix_header_next(p, left, &used, &h), 0);
    assert_int_equal(used, 2);
    /* incomplete or malformed lines */
    assert_int_equal(fcgix_header_next("X: y", 4, &used, &h), -1);
    assert_int_equal(fcgix_header_next("no colon\n", 9, &used, &h), -1);
    assert_int_equal(fcgix_header_next(": v\n", 4, &used, &h), -1);
    assert_int_equal(fcgix_header_next("X(: v\n", 6, &used, &h), -1);
    assert_int_equal(fcgix_header_next("X: a\rb\n", 7, &used, &h), -1);
}

static void test_status_code(void **state)
{
    (void)state;
    assert_int_equal(fcgix_status_code("200", 3), 200);
    assert_int_equal(fcgix_status_code("404 Not Found", 13), 404);
    assert_int_equal(fcgix_status_code("599\tx", 5), 599);
    assert_int_equal(fcgix_status_code("100", 3), 100);
    assert_int_equal(fcgix_status_code("099", 3), -1);
    assert_int_equal(fcgix_status_code("600", 3), -1);
    assert_int_equal(fcgix_status_code("2000", 4), -1);
    assert_int_equal(fcgix_status_code("20", 2), -1);
    assert_int_equal(fcgix_status_code("2x0", 3), -1);
    assert_int_equal(fcgix_status_code("200OK", 5), -1);
    assert_int_equal(fcgix_status_code("", 0), -1);
}

/* Constants against libfcgi */

static void test_constants_match_libfcgi(void **state)
{
    (void)state;
    assert_int_equal(FCGIX_LISTENSOCK_FILENO, FCGI_LISTENSOCK_FILENO);
    assert_int_equal(FCGIX_HEADER_LEN, FCGI_HEADER_LEN);
    assert_int_equal(FCGIX_VERSION_1, FCGI_VERSION_1);
    assert_int_equal(FCGIX_MAX_CONTENT_LEN, FCGI_MAX_LENGTH);
    assert_int_equal(FCGIX_NULL_REQUEST_ID, FCGI_NULL_REQUEST_ID);
    assert_int_equal(FCGIX_KEEP_CONN, FCGI_KEEP_CONN);
    assert_int_equal(FCGIX_RESPONDER, FCGI_RESPONDER);
    assert_int_equal(FCGIX_AUTHORIZER, FCGI_AUTHORIZER);
    assert_int_equal(FCGIX_FILTER, FCGI_FILTER);
    assert_int_equal(FCGIX_REQUEST_COMPLETE, FCGI_REQUEST_COMPLETE);
    assert_int_equal(FCGIX_CANT_MPX_CONN, FCGI_CANT_MPX_CONN);
    assert_int_equal(FCGIX_OVERLOADED, FCGI_OVERLOADED);
    assert_int_equal(FCGIX_UNKNOWN_ROLE, FCGI_UNKNOWN_ROLE);
}

static void test_types_match_libfcgi(void **state)
{
    (void)state;
    assert_int_equal(FCGIX_BEGIN_REQUEST, FCGI_BEGIN_REQUEST);
    assert_int_equal(FCGIX_ABORT_REQUEST, FCGI_ABORT_REQUEST);
    assert_int_equal(FCGIX_END_REQUEST, FCGI_END_REQUEST);
    assert_int_equal(FCGIX_PARAMS, FCGI_PARAMS);
    assert_int_equal(FCGIX_STDIN, FCGI_STDIN);
    assert_int_equal(FCGIX_STDOUT, FCGI_STDOUT);
    assert_int_equal(FCGIX_STDERR, FCGI_STDERR);
    assert_int_equal(FCGIX_DATA, FCGI_DATA);
    assert_int_equal(FCGIX_GET_VALUES, FCGI_GET_VALUES);
    assert_int_equal(FCGIX_GET_VALUES_RESULT, FCGI_GET_VALUES_RESULT);
    assert_int_equal(FCGIX_UNKNOWN_TYPE, FCGI_UNKNOWN_TYPE);
    assert_int_equal(FCGIX_MAXTYPE, FCGI_MAXTYPE);
}

static void test_get_values_names_match_libfcgi(void **state)
{
    (void)state;
    assert_int_equal(strcmp(FCGIX_MAX_CONNS, FCGI_MAX_CONNS), 0);
    assert_int_equal(strcmp(FCGIX_MAX_REQS, FCGI_MAX_REQS), 0);
    assert_int_equal(strcmp(FCGIX_MPXS_CONNS, FCGI_MPXS_CONNS), 0);
}

static void test_record_sizes_match_libfcgi(void **state)
{
    (void)state;
    assert_int_equal(sizeof(FCGI_Header), FCGIX_HEADER_LEN);
    assert_int_equal(sizeof(FCGI_BeginRequestRecord), FCGIX_BEGIN_REQUEST_LEN);
    assert_int_equal(sizeof(FCGI_EndRequestBody), FCGIX_FIXED_BODY_LEN);
    assert_int_equal(sizeof(FCGI_UnknownTypeBody), FCGIX_FIXED_BODY_LEN);
}

/* Our encoder against libfcgi's record layout filled field by field. */
static void test_begin_request_matches_libfcgi(void **state)
{
    FCGI_BeginRequestRecord r;
    unsigned char out[FCGIX_BEGIN_REQUEST_LEN];

    (void)state;
    memset(&r, 0, sizeof(r));
    r.header.version = FCGI_VERSION_1;
    r.header.type = FCGI_BEGIN_REQUEST;
    r.header.requestIdB1 = 0xab;
    r.header.requestIdB0 = 0xcd;
    r.header.contentLengthB0 = sizeof(r.body);
    r.body.roleB0 = FCGI_AUTHORIZER;
    r.body.flags = FCGI_KEEP_CONN;
    fcgix_rec_begin_request(out, 0xabcd, FCGIX_AUTHORIZER, FCGIX_KEEP_CONN);
    assert_memory_equal(out, &r, sizeof(out));
}

static void test_type_names(void **state)
{
    static const char *const names[] = {
        NULL,
        "FCGI_BEGIN_REQUEST",
        "FCGI_ABORT_REQUEST",
        "FCGI_END_REQUEST",
        "FCGI_PARAMS",
        "FCGI_STDIN",
        "FCGI_STDOUT",
        "FCGI_STDERR",
        "FCGI_DATA",
        "FCGI_GET_VALUES",
        "FCGI_GET_VALUES_RESULT",
        "FCGI_UNKNOWN_TYPE",
    };
    int t;

    (void)state;
    for (t = 1; t <= FCGIX_MAXTYPE; t++) {
        assert_string_equal(fcgix_type_name(t), names[t]);
    }
    assert_string_equal(fcgix_type_name(0), "unknown");
    assert_string_equal(fcgix_type_name(12), "unknown");
    assert_string_equal(fcgix_type_name(255), "unknown");
    assert_string_equal(fcgix_type_name(-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rec_header_golden),
        cmocka_unit_test(test_begin_request_golden),
        cmocka_unit_test(test_abort_request_golden),
        cmocka_unit_test(test_padding_for_table),
        cmocka_unit_test(test_stream_header_golden),
        cmocka_unit_test(test_stream_header_errors),
        cmocka_unit_test(test_stream_record_golden),
        cmocka_unit_test(test_stream_record_largest),
        cmocka_unit_test(test_stream_record_errors),
        cmocka_unit_test(test_stream_record_no_space),
        cmocka_unit_test(test_get_values_golden),
        cmocka_unit_test(test_get_values_one_name_golden),
        cmocka_unit_test(test_get_values_unaligned_content),
        cmocka_unit_test(test_get_values_too_long),
        cmocka_unit_test(test_values_parse_real_answers),
        cmocka_unit_test(test_values_parse_partial_and_bad),
        cmocka_unit_test(test_nv_size_table),
        cmocka_unit_test(test_nv_size_limits),
        cmocka_unit_test(test_nv_put_one_byte_lengths),
        cmocka_unit_test(test_nv_put_length_boundaries),
        cmocka_unit_test(test_nv_put_rejects_2_31),
        cmocka_unit_test(test_nv_next_length_table),
        cmocka_unit_test(test_nv_next_long_form_small_length),
        cmocka_unit_test(test_nv_next_truncated_table),
        cmocka_unit_test(test_nv_next_truncated_after_pair),
        cmocka_unit_test(test_nv_next_end_of_buffer),
        cmocka_unit_test(test_nv_round_trip),
        cmocka_unit_test(test_params_split_max64),
        cmocka_unit_test(test_params_split_max65535),
        cmocka_unit_test(test_params_small_buffers),
        cmocka_unit_test(test_params_golden_split),
        cmocka_unit_test(test_params_too_long_writes_nothing),
        cmocka_unit_test(test_params_too_long_alone),
        cmocka_unit_test(test_params_exact_capacity),
        cmocka_unit_test(test_params_retry_golden),
        cmocka_unit_test(test_dec_stdout_records_then_end),
        cmocka_unit_test(test_dec_stderr_interleaved),
        cmocka_unit_test(test_dec_padding_0_7_255),
        cmocka_unit_test(test_dec_content_0_and_65535),
        cmocka_unit_test(test_dec_stderr_65535_padded),
        cmocka_unit_test(test_dec_management_records),
        cmocka_unit_test(test_dec_management_only),
        cmocka_unit_test(test_dec_end_request_statuses),
        cmocka_unit_test(test_dec_end_request_big_endian),
        cmocka_unit_test(test_dec_reads_libfcgi_end_record),
        cmocka_unit_test(test_dec_error_table),
        cmocka_unit_test(test_dec_byte_after_end_request),
        cmocka_unit_test(test_dec_record_after_end_request),
        cmocka_unit_test(test_dec_done_after_end_request),
        cmocka_unit_test(test_dec_init_again_next_request),
        cmocka_unit_test(test_dec_error_is_sticky),
        cmocka_unit_test(test_strerror_distinct),
        cmocka_unit_test(test_error_codes_distinct),
        cmocka_unit_test(test_hdrscan_table),
        cmocka_unit_test(test_hdrscan_zero_init),
        cmocka_unit_test(test_header_next),
        cmocka_unit_test(test_status_code),
        cmocka_unit_test(test_constants_match_libfcgi),
        cmocka_unit_test(test_types_match_libfcgi),
        cmocka_unit_test(test_get_values_names_match_libfcgi),
        cmocka_unit_test(test_record_sizes_match_libfcgi),
        cmocka_unit_test(test_begin_request_matches_libfcgi),
        cmocka_unit_test(test_type_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
