/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_ctl.c
 * @brief cmocka unit tests of fcgi_ctl, the PM's control protocol: golden
 *        lines of every encoder, what each encoder refuses, boundary
 *        tables for both parsers, every table input fed whole, byte by
 *        byte and split at every offset (in two, and in three for short
 *        ones), the round trip parse -> encode, and the peer check.
 *
 * Inputs are copied into exactly sized allocations, so that AddressSanitizer
 * (the unit build) and valgrind (vg-unit) catch a read past them. The
 * expected fields are written out here, never produced by the encoders.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_ctl.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A literal with its length, NULs included. */
#define BYTES(s) s, sizeof(s) - 1

/* ------------------------------------------------------------------ */
/* Feeding                                                             */
/* ------------------------------------------------------------------ */

typedef long (*parse_fn)(const char *buf, size_t len, void *out);

static long parse_req(const char *buf, size_t len, void *out)
{
    return fcgix_ctl_parse_request(buf, len, out);
}

static long parse_ans(const char *buf, size_t len, void *out)
{
    return fcgix_ctl_parse_answer(buf, len, out);
}

/* Deliver @in in chunks ending at @cuts (ascending), as the PM receives
 * a connection's bytes: after each chunk the parser sees everything so
 * far, in a buffer of exactly that size. Returns the first result that
 * is not FCGIX_CTL_AGAIN, or FCGIX_CTL_AGAIN after the last chunk. */
static long feed(parse_fn fn, const char *in, size_t len, const size_t *cuts,
                 size_t ncuts, void *out)
{
    size_t k, end;
    long rc = FCGIX_CTL_AGAIN;

    for (k = 0; k <= ncuts && rc == FCGIX_CTL_AGAIN; k++) {
        char *copy;

        end = k < ncuts ? cuts[k] : len;
        copy = malloc(end ? end : 1);
        assert_non_null(copy);
        memcpy(copy, in, end);
        rc = fn(copy, end, out);
        free(copy);
    }
    return rc;
}

typedef struct {
    parse_fn fn;
    const char *in;
    size_t len;
    long want;
    size_t out_size;
    const void *want_out; /* compared when want > 0 */
} feed_case_t;

static void print_cuts(const size_t *cuts, size_t ncuts)
{
    size_t i;

    print_error("cuts:");
    for (i = 0; i < ncuts && i < 8; i++) {
        print_error(" %zu", cuts[i]);
    }
    print_error(ncuts > 8 ? " ... (%zu)\n" : "\n", ncuts);
}

static void check_plan(const feed_case_t *c, const size_t *cuts, size_t ncuts)
{
    void *out = malloc(c->out_size);
    long rc;

    assert_non_null(out);
    memset(out, 0x5a, c->out_size);
    rc = feed(c->fn, c->in, c->len, cuts, ncuts, out);
    if (rc != c->want) {
        print_error("got %ld (%s), want %ld (%s)\n", rc, fcgix_ctl_strerror(rc),
                    c->want, fcgix_ctl_strerror(c->want));
        print_cuts(cuts, ncuts);
    }
    assert_int_equal(rc, c->want);
    if (c->want > 0) {
        assert_memory_equal(out, c->want_out, c->out_size);
    }
    free(out);
}

/* Whole, byte by byte, in two at every offset, in three at every pair
 * of offsets for inputs up to 64 bytes. */
static void check_all_plans(const feed_case_t *c)
{
    size_t *cuts = malloc((c->len + 1) * sizeof(*cuts));
    size_t i, j, two[2];

    assert_non_null(cuts);
    check_plan(c, NULL, 0);
    for (i = 0; i + 1 < c->len; i++) {
        cuts[i] = i + 1;
    }
    check_plan(c, cuts, c->len > 0 ? c->len - 1 : 0);
    for (i = 0; i <= c->len; i++) {
        check_plan(c, &i, 1);
    }
    for (i = 0; c->len <= 64 && i <= c->len; i++) {
        for (j = i; j <= c->len; j++) {
            two[0] = i;
            two[1] = j;
            check_plan(c, two, 2);
        }
    }
    free(cuts);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *in;
    size_t len;
    long want;
    int verb;
    const char *user, *group, *path;
    int vocab; /* 0: FASTCGI unless TICK */
    unsigned tenant, cmd;
    int userdir;
} req_case_t;

static int want_vocab(const req_case_t *t)
{
    if (t->vocab) {
        return t->vocab;
    }
    return t->verb == FCGIX_CTL_TICK ? 0 : FCGIX_CTL_VOCAB_FASTCGI;
}

static void expect_request(const req_case_t *t)
{
    fcgix_ctl_request_t want;
    feed_case_t c;

    memset(&want, 0x5a, sizeof(want)); /* the parser leaves the rest */
    if (t->want > 0) {
        want.verb = t->verb;
        strcpy(want.path, t->path ? t->path : "");
        strcpy(want.user, t->user ? t->user : "");
        strcpy(want.group, t->group ? t->group : "");
    }
    c.fn = parse_req;
    c.in = t->in;
    c.len = t->len;
    c.want = t->want;
    c.out_size = sizeof(want);
    c.want_out = &want;
    /* Compare only the fields the verb has (and their terminators). */
    if (t->want > 0) {
        fcgix_ctl_request_t got;
        char line[FCGIX_CTL_REQUEST_MAX];
        long n;

        memset(&got, 0x5a, sizeof(got));
        assert_int_equal(fcgix_ctl_parse_request(t->in, t->len, &got), t->want);
        assert_int_equal(got.verb, t->verb);
        assert_string_equal(got.path, want.path);
        assert_string_equal(got.user, want.user);
        assert_string_equal(got.group, want.group);
        assert_int_equal(got.vocab, want_vocab(t));
        assert_int_equal(got.tenant, t->tenant);
        assert_int_equal(got.cmd, t->cmd);
        assert_int_equal(got.userdir, t->userdir);
        /* Canonical: encoding what was parsed gives the same bytes. */
        n = fcgix_ctl_put_request(line, sizeof(line), &got);
        assert_int_equal(n, t->want);
        assert_memory_equal(line, t->in, (size_t)n);
        c.want_out = &got;
        check_all_plans(&c);
        return;
    }
    check_all_plans(&c);
}

static const req_case_t request_table[] = {
    {BYTES("TICK\n"), 5, FCGIX_CTL_TICK, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("TICK\nSTART /x\n"), 5, FCGIX_CTL_TICK, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("START /srv/app.fcgi\n"), 20, FCGIX_CTL_START, NULL, NULL,
     "/srv/app.fcgi", 0, 0, 0, 0},
    {BYTES("START /a b  c \n"), 15, FCGIX_CTL_START, NULL, NULL, "/a b  c ", 0,
     0, 0, 0},
    {BYTES("START /\xc3\xa9t\xc3\xa9\n"), 13, FCGIX_CTL_START, NULL, NULL,
     "/\xc3\xa9t\xc3\xa9", 0, 0, 0, 0},
    {BYTES("STARTAS 33 33 /srv/a.fcgi\n"), 26, FCGIX_CTL_STARTAS, "33", "33",
     "/srv/a.fcgi", 0, 0, 0, 0},
    {BYTES("STARTAS www-data w.w_w /x y\n"), 28, FCGIX_CTL_STARTAS, "www-data",
     "w.w_w", "/x y", 0, 0, 0, 0},
    {BYTES("STARTAS 0 0 /\n"), 14, FCGIX_CTL_STARTAS, "0", "0", "/", 0, 0, 0,
     0},
    /* incomplete */
    {BYTES(""), FCGIX_CTL_AGAIN, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("TICK"), FCGIX_CTL_AGAIN, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("START /half a line"), FCGIX_CTL_AGAIN, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    /* other control characters may be in a path (the log escapes them) */
    {BYTES("START /x\ty\n"), 11, FCGIX_CTL_START, NULL, NULL, "/x\ty", 0, 0, 0,
     0},
    {BYTES("START /x\x7f\x01\x1b\n"), 12, FCGIX_CTL_START, NULL, NULL,
     "/x\x7f\x01\x1b", 0, 0, 0, 0},
    /* NUL and CR, wherever they are */
    {BYTES("START /x\0y\n"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("START /x\r\n"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0, 0, 0, 0},

    {BYTES("\0"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("\x01\x02\x03"), FCGIX_CTL_AGAIN, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("TICK\r\n"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("\x1b[2J\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    /* verbs */
    {BYTES("\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("tick\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("TICKS\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STAR /x\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES(" START /x\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("\xff\xfe\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("GET / HTTP/1.0\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    /* fields */
    {BYTES("TICK \n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("TICK /x\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("START\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("START \n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STARTAS\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STARTAS 33\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STARTAS 33 33\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS 33 /x\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS 33 33 \n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    /* paths */
    {BYTES("START  /x\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("START x/y\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("START ../x\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS 33 33 x\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    /* names */
    {BYTES("STARTAS -u 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS 33 -g /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS a;b 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTAS a/b 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTAS  33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS 33  /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    {BYTES("STARTAS $(id) 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
/* STARTC: golden */
#define V_X FCGIX_CTL_VOCAB_FASTCGI
#define V_F FCGIX_CTL_VOCAB_FCGID
    {BYTES("STARTC x 0 0 - - /srv/a.fcgi\n"), 29, FCGIX_CTL_STARTC, NULL, NULL,
     "/srv/a.fcgi", V_X, 0, 0, 0},
    {BYTES("STARTC f 3 0 - - /srv/a.php\n"), 28, FCGIX_CTL_STARTC, NULL, NULL,
     "/srv/a.php", V_F, 3, 0, 0},
    {BYTES("STARTC f 1 2 1001 1001 /usr/bin/php-cgi\n"), 40, FCGIX_CTL_STARTC,
     "1001", "1001", "/usr/bin/php-cgi", V_F, 1, 2, 0},
    {BYTES("STARTC f 65535 65535 ~alice www-data /a b\n"), 42, FCGIX_CTL_STARTC,
     "alice", "www-data", "/a b", V_F, 65535, 65535, 1},
    {BYTES("STARTC x 10 9 ~1000 100 /\n"), 26, FCGIX_CTL_STARTC, "1000", "100",
     "/", V_X, 10, 9, 1},
    {BYTES("STARTC x 0 0 - - /x - -\n"), 24, FCGIX_CTL_STARTC, NULL, NULL,
     "/x - -", V_X, 0, 0, 0},
    /* STARTC: fields missing */
    {BYTES("STARTC\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STARTC x\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0, 0},
    {BYTES("STARTC x 0 0 - -\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC x 0 0 - /x\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC x 0 0 - - \n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC x 0 /x\n"), FCGIX_CTL_ESYNTAX, 0, NULL, NULL, NULL, 0, 0, 0,
     0},
    /* STARTC: vocabulary and indexes, at and over their bounds */
    {BYTES("STARTC X 0 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC xf 0 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC  0 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC x 65536 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL,
     0, 0, 0, 0},
    {BYTES("STARTC x 0 65536 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL,
     0, 0, 0, 0},
    {BYTES("STARTC x 999999 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL,
     0, 0, 0, 0},
    {BYTES("STARTC x 9999999999 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL,
     NULL, 0, 0, 0, 0},
    {BYTES("STARTC x 01 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 00 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x +1 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x -1 0 - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 1a - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0  - - /x\n"), FCGIX_CTL_EINDEX, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    /* STARTC: identities */
    {BYTES("STARTC x 0 0 - 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 33 - /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 ~ 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 ~~a 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 ~-a 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 a ~33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 -- - /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 ~- - /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0  33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC x 0 0 a;b 33 /x\n"), FCGIX_CTL_ENAME, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    /* STARTC: paths */
    {BYTES("STARTC x 0 0 - - x\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 - -  /x\n"), FCGIX_CTL_ERELATIVE, 0, NULL, NULL, NULL,
     0, 0, 0, 0},
    {BYTES("STARTC x 0 0 - - /x\r\n"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTC x 0 0 - - /x\0\n"), FCGIX_CTL_ECHAR, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("STARTCX x 0 0 - - /x\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
    {BYTES("startc x 0 0 - - /x\n"), FCGIX_CTL_EVERB, 0, NULL, NULL, NULL, 0, 0,
     0, 0},
    {BYTES("STARTC f 1 2 - - /half"), FCGIX_CTL_AGAIN, 0, NULL, NULL, NULL, 0,
     0, 0, 0},
};

static void test_request_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(request_table); i++) {
        print_message("request case %zu\n", i);
        expect_request(&request_table[i]);
    }
}

/* A line of @n bytes: @head, then @fill up to n - 1, then the newline
 * (or no newline when @newline is 0). */
static char *make_line(const char *head, char fill, size_t n, int newline)
{
    char *s = malloc(n);
    size_t h = strlen(head);

    assert_non_null(s);
    assert_true(h <= n);
    memcpy(s, head, h);
    memset(s + h, fill, n - h);
    if (newline) {
        s[n - 1] = '\n';
    }
    return s;
}

static void expect_long_request(const char *head, size_t n, int newline,
                                long want)
{
    char *s = make_line(head, 'a', n, newline);
    req_case_t t;

    memset(&t, 0, sizeof(t));
    t.in = s;
    t.len = n;
    t.want = want;
    t.verb = FCGIX_CTL_START;
    if (want > 0) {
        char *path = malloc(n);

        assert_non_null(path);
        memcpy(path, s + 6, n - 7);
        path[n - 7] = '\0';
        t.path = path;
        expect_request(&t);
        free(path);
    }
    else {
        expect_request(&t);
    }
    free(s);
}

/* The longest path, one byte more, the longest line, one byte more. */
static void test_request_lengths(void **state)
{
    fcgix_ctl_request_t req;
    char *s;

    (void)state;
    expect_long_request("START /", 6 + FCGIX_CTL_PATH_MAX + 1, 1,
                        6 + FCGIX_CTL_PATH_MAX + 1);
    expect_long_request("START /", 6 + FCGIX_CTL_PATH_MAX + 2, 1,
                        FCGIX_CTL_EPATHLEN);
    expect_long_request("START /", FCGIX_CTL_REQUEST_MAX, 1,
                        FCGIX_CTL_EPATHLEN);
    expect_long_request("START /", FCGIX_CTL_REQUEST_MAX + 1, 1,
                        FCGIX_CTL_ELONG);
    expect_long_request("START /", FCGIX_CTL_REQUEST_MAX - 1, 0,
                        FCGIX_CTL_AGAIN);
    expect_long_request("START /", FCGIX_CTL_REQUEST_MAX, 0, FCGIX_CTL_ELONG);
    /* A huge line is refused at the limit, however much more comes. */
    s = make_line("START /", 'a', 1 << 20, 0);
    assert_int_equal(fcgix_ctl_parse_request(s, 1 << 20, &req),
                     FCGIX_CTL_ELONG);
    free(s);
    /* A name of FCGIX_CTL_NAME_MAX bytes, and one more. */
    s = make_line("STARTAS ", 'u', 8 + FCGIX_CTL_NAME_MAX + 6, 1);
    memcpy(s + 8 + FCGIX_CTL_NAME_MAX, " g /\n", 5);
    assert_int_equal(
        fcgix_ctl_parse_request(s, 8 + FCGIX_CTL_NAME_MAX + 5, &req),
        8 + FCGIX_CTL_NAME_MAX + 5);
    assert_int_equal(strlen(req.user), FCGIX_CTL_NAME_MAX);
    memcpy(s + 8 + FCGIX_CTL_NAME_MAX, "u g /\n", 6);
    assert_int_equal(
        fcgix_ctl_parse_request(s, 8 + FCGIX_CTL_NAME_MAX + 6, &req),
        FCGIX_CTL_ENAME);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *in;
    size_t len;
    long want;
    int kind;
    int seconds;
    const char *why;
} ans_case_t;

static void expect_answer(const ans_case_t *t)
{
    fcgix_ctl_answer_t got;
    char line[FCGIX_CTL_ANSWER_MAX];
    feed_case_t c;
    long n;

    c.fn = parse_ans;
    c.in = t->in;
    c.len = t->len;
    c.want = t->want;
    c.out_size = sizeof(got);
    c.want_out = NULL;
    if (t->want > 0) {
        memset(&got, 0x5a, sizeof(got));
        assert_int_equal(fcgix_ctl_parse_answer(t->in, t->len, &got), t->want);
        assert_int_equal(got.kind, t->kind);
        assert_int_equal(got.seconds, t->seconds);
        assert_string_equal(got.why, t->why ? t->why : "");
        n = fcgix_ctl_put_answer(line, sizeof(line), &got);
        assert_int_equal(n, t->want);
        assert_memory_equal(line, t->in, (size_t)n);
        c.want_out = &got;
    }
    check_all_plans(&c);
}

static const ans_case_t answer_table[] = {
    {BYTES("OK\n"), 3, FCGIX_CTL_OK, 0, NULL},
    {BYTES("OK\nFAIL x\n"), 3, FCGIX_CTL_OK, 0, NULL},
    {BYTES("BUSY 5 too many dynamic apps\n"), 29, FCGIX_CTL_BUSY, 5,
     "too many dynamic apps"},
    {BYTES("BUSY 0 x\n"), 9, FCGIX_CTL_BUSY, 0, "x"},
    {BYTES("BUSY 86400 a  b \n"), 17, FCGIX_CTL_BUSY, 86400, "a  b "},
    {BYTES("FAIL /x: No such file or directory\n"), 35, FCGIX_CTL_FAIL, 0,
     "/x: No such file or directory"},
    {BYTES("FAIL  \n"), 7, FCGIX_CTL_FAIL, 0, " "},
    {BYTES(""), FCGIX_CTL_AGAIN, 0, 0, NULL},
    {BYTES("BUSY 5 waiting"), FCGIX_CTL_AGAIN, 0, 0, NULL},
    {BYTES("OK\r\n"), FCGIX_CTL_ECHAR, 0, 0, NULL},
    {BYTES("FAIL a\0b\n"), FCGIX_CTL_ECHAR, 0, 0, NULL},
    {BYTES("FAIL \x1b[31m\n"), 11, FCGIX_CTL_FAIL, 0, "\x1b[31m"},
    {BYTES("FAIL a\rb\n"), FCGIX_CTL_ECHAR, 0, 0, NULL},
    {BYTES("ok\n"), FCGIX_CTL_EVERB, 0, 0, NULL},
    {BYTES("OKAY\n"), FCGIX_CTL_EVERB, 0, 0, NULL},
    {BYTES("\n"), FCGIX_CTL_EVERB, 0, 0, NULL},
    {BYTES("OK \n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("BUSY\n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("BUSY 5\n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("BUSY 5 \n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("FAIL\n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("FAIL \n"), FCGIX_CTL_ESYNTAX, 0, 0, NULL},
    {BYTES("BUSY  5 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY 05 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY -1 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY +1 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY 1x x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY 86401 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY 999999 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
    {BYTES("BUSY 99999999999999999999 x\n"), FCGIX_CTL_ENUMBER, 0, 0, NULL},
};

static void test_answer_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(answer_table); i++) {
        print_message("answer case %zu\n", i);
        expect_answer(&answer_table[i]);
    }
}

static void test_answer_lengths(void **state)
{
    fcgix_ctl_answer_t ans;
    size_t n = 5 + FCGIX_CTL_WHY_MAX + 1;
    char *s = make_line("FAIL ", 'w', n, 1);

    (void)state;
    assert_int_equal(fcgix_ctl_parse_answer(s, n, &ans), (long)n);
    assert_int_equal(strlen(ans.why), FCGIX_CTL_WHY_MAX);
    free(s);
    s = make_line("FAIL ", 'w', n + 1, 1);
    assert_int_equal(fcgix_ctl_parse_answer(s, n + 1, &ans), FCGIX_CTL_EWHY);
    free(s);
    s = make_line("BUSY 1 ", 'w', FCGIX_CTL_ANSWER_MAX, 0);
    assert_int_equal(fcgix_ctl_parse_answer(s, FCGIX_CTL_ANSWER_MAX - 1, &ans),
                     FCGIX_CTL_AGAIN);
    assert_int_equal(fcgix_ctl_parse_answer(s, FCGIX_CTL_ANSWER_MAX, &ans),
                     FCGIX_CTL_ELONG);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */
/* ------------------------------------------------------------------ */

/* @p want (a line) is produced with every capacity from its length up,
 * and FCGIX_CTL_ESPACE below, without a byte written past the
 * capacity. */
#define CHECK_PUT(want, call)                                                  \
    do {                                                                       \
        char buf_[FCGIX_CTL_ANSWER_MAX + 8];                                   \
        size_t cap;                                                            \
        for (cap = 0; cap <= strlen(want) + 2; cap++) {                        \
            char *buf = buf_;                                                  \
            long n_;                                                           \
            memset(buf_, '#', sizeof(buf_));                                   \
            n_ = (call);                                                       \
            if (cap < strlen(want)) {                                          \
                assert_int_equal(n_, FCGIX_CTL_ESPACE);                        \
            }                                                                  \
            else {                                                             \
                assert_int_equal(n_, (long)strlen(want));                      \
                assert_memory_equal(buf_, want, strlen(want));                 \
            }                                                                  \
            assert_int_equal(buf_[cap], '#');                                  \
        }                                                                      \
    } while (0)

static void test_put_golden(void **state)
{
    (void)state;
    CHECK_PUT("TICK\n", fcgix_ctl_put_tick(buf, cap));
    CHECK_PUT("START /srv/a b.fcgi\n",
              fcgix_ctl_put_start(buf, cap, "/srv/a b.fcgi"));
    CHECK_PUT("STARTAS 33 www-data /srv/a\n",
              fcgix_ctl_put_startas(buf, cap, "33", "www-data", "/srv/a"));
    CHECK_PUT("STARTC x 0 0 - - /srv/a\n",
              fcgix_ctl_put_startc(buf, cap, FCGIX_CTL_VOCAB_FASTCGI, 0, 0,
                                   NULL, NULL, "/srv/a"));
    CHECK_PUT("STARTC f 12 65535 ~1001 33 /a b\n",
              fcgix_ctl_put_startc(buf, cap, FCGIX_CTL_VOCAB_FCGID, 12, 65535,
                                   "~1001", "33", "/a b"));
    CHECK_PUT("STARTC f 1 0 alice www-data /p\n",
              fcgix_ctl_put_startc(buf, cap, FCGIX_CTL_VOCAB_FCGID, 1, 0,
                                   "alice", "www-data", "/p"));
    CHECK_PUT("OK\n", fcgix_ctl_put_ok(buf, cap));
    CHECK_PUT("BUSY 0 now\n", fcgix_ctl_put_busy(buf, cap, 0, "now"));
    CHECK_PUT("BUSY 7 backing off\n",
              fcgix_ctl_put_busy(buf, cap, 7, "backing off"));
    CHECK_PUT("BUSY 86400 x\n", fcgix_ctl_put_busy(buf, cap, 86400, "x"));
    CHECK_PUT("FAIL /x: not executable\n",
              fcgix_ctl_put_fail(buf, cap, "/x: not executable"));
}

static void test_put_startc_refused(void **state)
{
    char buf[FCGIX_CTL_REQUEST_MAX];
    const int x = FCGIX_CTL_VOCAB_FASTCGI, f = FCGIX_CTL_VOCAB_FCGID;

    (void)state;
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), 0, 0, 0, NULL, NULL, "/a"),
        FCGIX_CTL_EINDEX);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), 3, 0, 0, NULL, NULL, "/a"),
        FCGIX_CTL_EINDEX);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), x, 65536, 0, NULL, NULL, "/a"),
        FCGIX_CTL_EINDEX);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 65536, NULL, NULL, "/a"),
        FCGIX_CTL_EINDEX);
    assert_int_equal(fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0xffffffffu,
                                          NULL, NULL, "/a"),
                     FCGIX_CTL_EINDEX);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, "u", NULL, "/a"),
        FCGIX_CTL_ENAME);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, NULL, "g", "/a"),
        FCGIX_CTL_ENAME);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, "-", "-", "/a"),
        FCGIX_CTL_ENAME);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, "~", "g", "/a"),
        FCGIX_CTL_ENAME);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, "u", "~g", "/a"),
        FCGIX_CTL_ENAME);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, NULL, NULL, "a"),
        FCGIX_CTL_ERELATIVE);
    assert_int_equal(
        fcgix_ctl_put_startc(buf, sizeof(buf), f, 0, 0, NULL, NULL, "/a\nTICK"),
        FCGIX_CTL_ECHAR);
    assert_int_equal(fcgix_ctl_put_startc(buf, 10, f, 0, 0, NULL, NULL, "/a"),
                     FCGIX_CTL_ESPACE);
}

/* START and STARTAS map to the fields of STARTC x 0 0 - - and
 * STARTC x 0 0 <user> <group>; each encodes back to its own verb. */
static void test_start_maps(void **state)
{
    fcgix_ctl_request_t a, b;
    char line[FCGIX_CTL_REQUEST_MAX];

    (void)state;
    memset(&a, 0x5a, sizeof(a));
    memset(&b, 0x5a, sizeof(b));
    assert_int_equal(fcgix_ctl_parse_request(BYTES("START /x\n"), &a), 9);
    assert_int_equal(
        fcgix_ctl_parse_request(BYTES("STARTC x 0 0 - - /x\n"), &b), 20);
    assert_int_equal(a.verb, FCGIX_CTL_START);
    assert_int_equal(b.verb, FCGIX_CTL_STARTC);
    a.verb = b.verb;
    assert_memory_equal(&a, &b, sizeof(a));
    memset(&a, 0x5a, sizeof(a));
    memset(&b, 0x5a, sizeof(b));
    assert_int_equal(fcgix_ctl_parse_request(BYTES("STARTAS u g /x\n"), &a),
                     15);
    assert_int_equal(
        fcgix_ctl_parse_request(BYTES("STARTC x 0 0 u g /x\n"), &b), 20);
    a.verb = b.verb;
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(fcgix_ctl_put_request(line, sizeof(line), &b), 20);
    assert_memory_equal(line, "STARTC x 0 0 u g /x\n", 20);
}

/* The longest STARTC line, and the longest name after a "~". */
static void test_startc_lengths(void **state)
{
    char path[FCGIX_CTL_PATH_MAX + 1], name[FCGIX_CTL_NAME_MAX + 3];
    char line[FCGIX_CTL_REQUEST_MAX + 8];
    fcgix_ctl_request_t req;
    long n;

    (void)state;
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    path[FCGIX_CTL_PATH_MAX] = '\0';
    memset(name, 'n', sizeof(name));
    name[0] = '~';
    name[FCGIX_CTL_NAME_MAX + 1] = '\0';
    n = fcgix_ctl_put_startc(line, sizeof(line), FCGIX_CTL_VOCAB_FCGID, 65535,
                             65535, name, name + 1, path);
    assert_int_equal(n, FCGIX_CTL_REQUEST_MAX);
    assert_int_equal(fcgix_ctl_parse_request(line, (size_t)n, &req), n);
    assert_int_equal(req.userdir, 1);
    assert_int_equal(strlen(req.user), FCGIX_CTL_NAME_MAX);
    assert_int_equal(req.tenant, 65535);
    name[FCGIX_CTL_NAME_MAX + 1] = 'n';
    name[FCGIX_CTL_NAME_MAX + 2] = '\0';
    assert_int_equal(fcgix_ctl_put_startc(line, sizeof(line),
                                          FCGIX_CTL_VOCAB_FCGID, 1, 1, name,
                                          "g", "/x"),
                     FCGIX_CTL_ENAME);
    assert_int_equal(fcgix_ctl_put_startc(line, sizeof(line),
                                          FCGIX_CTL_VOCAB_FCGID, 1, 1, "u",
                                          name + 1, "/x"),
                     FCGIX_CTL_ENAME);
}

static void test_put_refused(void **state)
{
    char buf[FCGIX_CTL_ANSWER_MAX + 8];
    char *big = make_line("/", 'p', FCGIX_CTL_WHY_MAX + 2, 0);
    fcgix_ctl_request_t req;
    fcgix_ctl_answer_t ans;

    (void)state;
    big[FCGIX_CTL_PATH_MAX] = '\0';
    assert_true(fcgix_ctl_put_start(buf, sizeof(buf), big) > 0);
    big[FCGIX_CTL_PATH_MAX] = 'p';
    big[FCGIX_CTL_PATH_MAX + 1] = '\0';
    assert_int_equal(fcgix_ctl_put_start(buf, sizeof(buf), big),
                     FCGIX_CTL_EPATHLEN);
    assert_int_equal(fcgix_ctl_put_start(buf, sizeof(buf), "a/b"),
                     FCGIX_CTL_ERELATIVE);
    assert_int_equal(fcgix_ctl_put_start(buf, sizeof(buf), ""),
                     FCGIX_CTL_ESYNTAX);
    assert_int_equal(fcgix_ctl_put_start(buf, sizeof(buf), "/a\nSTART /b"),
                     FCGIX_CTL_ECHAR);
    assert_int_equal(fcgix_ctl_put_start(buf, sizeof(buf), "/a\r"),
                     FCGIX_CTL_ECHAR);
    assert_int_equal(fcgix_ctl_put_startas(buf, sizeof(buf), "", "g", "/a"),
                     FCGIX_CTL_ENAME);
    assert_int_equal(fcgix_ctl_put_startas(buf, sizeof(buf), "u", "-g", "/a"),
                     FCGIX_CTL_ENAME);
    assert_int_equal(fcgix_ctl_put_startas(buf, sizeof(buf), "u g", "g", "/a"),
                     FCGIX_CTL_ENAME);
    assert_int_equal(fcgix_ctl_put_startas(buf, sizeof(buf), "u", "g", "a"),
                     FCGIX_CTL_ERELATIVE);
    assert_int_equal(fcgix_ctl_put_busy(buf, sizeof(buf), -1, "x"),
                     FCGIX_CTL_ENUMBER);
    assert_int_equal(fcgix_ctl_put_busy(buf, sizeof(buf), 86401, "x"),
                     FCGIX_CTL_ENUMBER);
    assert_int_equal(fcgix_ctl_put_busy(buf, sizeof(buf), 1, ""),
                     FCGIX_CTL_ESYNTAX);
    assert_int_equal(fcgix_ctl_put_fail(buf, sizeof(buf), "a\nOK"),
                     FCGIX_CTL_ECHAR);
    big[FCGIX_CTL_PATH_MAX + 1] = 'p';
    big[FCGIX_CTL_WHY_MAX + 1] = '\0';
    assert_int_equal(fcgix_ctl_put_fail(buf, sizeof(buf), big), FCGIX_CTL_EWHY);
    big[FCGIX_CTL_WHY_MAX] = '\0';
    assert_int_equal(fcgix_ctl_put_fail(buf, sizeof(buf), big),
                     5 + FCGIX_CTL_WHY_MAX + 1);
    free(big);
    memset(&req, 0, sizeof(req));
    assert_int_equal(fcgix_ctl_put_request(buf, sizeof(buf), &req),
                     FCGIX_CTL_EVERB);
    /* STARTC from fields: a "~" without a user */
    req.verb = FCGIX_CTL_STARTC;
    req.vocab = FCGIX_CTL_VOCAB_FCGID;
    req.userdir = 1;
    strcpy(req.path, "/x");
    assert_int_equal(fcgix_ctl_put_request(buf, sizeof(buf), &req),
                     FCGIX_CTL_ENAME);
    req.userdir = 0;
    strcpy(req.group, "g"); /* a group without a user */
    assert_int_equal(fcgix_ctl_put_request(buf, sizeof(buf), &req),
                     FCGIX_CTL_ENAME);
    memset(&ans, 0, sizeof(ans));
    assert_int_equal(fcgix_ctl_put_answer(buf, sizeof(buf), &ans),
                     FCGIX_CTL_EVERB);
}

/* The longest lines fit the advertised maxima exactly. */
static void test_put_maxima(void **state)
{
    char path[FCGIX_CTL_PATH_MAX + 1], name[FCGIX_CTL_NAME_MAX + 1];
    char why[FCGIX_CTL_WHY_MAX + 1];
    char req[FCGIX_CTL_REQUEST_MAX], ans[FCGIX_CTL_ANSWER_MAX];

    (void)state;
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    path[FCGIX_CTL_PATH_MAX] = '\0';
    memset(name, 'n', sizeof(name));
    name[FCGIX_CTL_NAME_MAX] = '\0';
    memset(why, 'w', sizeof(why));
    why[FCGIX_CTL_WHY_MAX] = '\0';
    assert_int_equal(fcgix_ctl_put_startas(req, sizeof(req), name, name, path),
                     8 + 2 * (FCGIX_CTL_NAME_MAX + 1) + FCGIX_CTL_PATH_MAX + 1);
    assert_int_equal(fcgix_ctl_put_busy(ans, sizeof(ans), 86400, why),
                     FCGIX_CTL_ANSWER_MAX);
}

/* ------------------------------------------------------------------ */
/* Misc                                                                */
/* ------------------------------------------------------------------ */

static void test_strerror(void **state)
{
    long codes[] = {FCGIX_CTL_AGAIN,    FCGIX_CTL_ELONG,   FCGIX_CTL_ECHAR,
                    FCGIX_CTL_EVERB,    FCGIX_CTL_ESYNTAX, FCGIX_CTL_ERELATIVE,
                    FCGIX_CTL_EPATHLEN, FCGIX_CTL_ENAME,   FCGIX_CTL_ENUMBER,
                    FCGIX_CTL_EWHY,     FCGIX_CTL_ESPACE,  FCGIX_CTL_EINDEX};
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_LEN(codes); i++) {
        assert_true(strlen(fcgix_ctl_strerror(codes[i])) > 0);
        for (j = 0; j < i; j++) {
            assert_string_not_equal(fcgix_ctl_strerror(codes[i]),
                                    fcgix_ctl_strerror(codes[j]));
        }
    }
    assert_string_equal(fcgix_ctl_strerror(-99), "unknown error");
    assert_string_equal(fcgix_ctl_strerror(5), "no error");
    assert_string_equal(fcgix_ctl_strerror(FCGIX_CTL_ERELATIVE),
                        "not an absolute path");
}

static void test_peer_allowed(void **state)
{
    (void)state;
    assert_true(fcgix_ctl_peer_allowed(0, 33));      /* root: httpd's parent */
    assert_true(fcgix_ctl_peer_allowed(33, 33));     /* User */
    assert_false(fcgix_ctl_peer_allowed(65534, 33)); /* nobody */
    assert_false(fcgix_ctl_peer_allowed(1000, 33));
    assert_true(fcgix_ctl_peer_allowed(0, 0)); /* a PM run as root */
    assert_false(fcgix_ctl_peer_allowed(33, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_request_lengths),
        cmocka_unit_test(test_answer_table),
        cmocka_unit_test(test_answer_lengths),
        cmocka_unit_test(test_put_golden),
        cmocka_unit_test(test_put_refused),
        cmocka_unit_test(test_put_startc_refused),
        cmocka_unit_test(test_start_maps),
        cmocka_unit_test(test_startc_lengths),
        cmocka_unit_test(test_put_maxima),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_peer_allowed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
