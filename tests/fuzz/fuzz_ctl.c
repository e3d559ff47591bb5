/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_ctl.c
 * @brief libFuzzer target for the PM's control protocol (fcgi_ctl): both
 *        parsers on any bytes, and the encoders on fields cut from them.
 *
 * Input: any bytes, as a local client of the User may send them to the
 * control socket (requests) or as the PM's answer (answers).
 * (a) Each parser agrees with a reference written here in another style
 *     (whole line first, then fields with strchr on a C string) on
 *     whether a line is complete, accepted or refused.
 * (b) An accepted line is canonical: encoding what was parsed gives back
 *     exactly its bytes; its fields hold no NUL, CR or LF.
 * (c) The input cut at an offset taken from its first byte parses to
 *     FCGIX_CTL_AGAIN or to the same result as the whole input.
 * (d) The encoders, given the input split at NULs into fields, accept
 *     exactly what the reference accepts, and what they write parses
 *     back to the same fields.
 *
 * The input lives in an exactly-sized allocation, so ASan reports a read
 * past it. Violations call abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_ctl.h"
#include "fuzz_common.h"

/* ------------------------------------------------------------------ */
/* Reference                                                           */
/* ------------------------------------------------------------------ */

/* No CR or LF (a C string has no NUL). */
static int ref_text_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static int ref_path_ok(const char *s)
{
    return s[0] == '/' && strlen(s) <= FCGIX_CTL_PATH_MAX && ref_text_ok(s);
}

static int ref_name_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= FCGIX_CTL_NAME_MAX && s[0] != '-'
           && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-")
                  == n;
}

static int ref_why_ok(const char *s)
{
    return s[0] != '\0' && strlen(s) <= FCGIX_CTL_WHY_MAX && ref_text_ok(s);
}

/* The first line as a C string (its newline dropped): 1; 0 when it is
 * incomplete; -1 when a NUL, a CR or the length limit comes first. */
static int ref_line(const uint8_t *d, size_t n, size_t max, char *line)
{
    size_t i;

    for (i = 0; i < n && i < max; i++) {
        if (d[i] == '\n') {
            memcpy(line, d, i);
            line[i] = '\0';
            return 1;
        }
        if (d[i] == '\0' || d[i] == '\r') {
            return -1;
        }
    }
    return i == max ? -1 : 0;
}

/* 0..FCGIX_CTL_INDEX_MAX, canonical decimal. */
static int ref_index_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 5 && (n == 1 || s[0] != '0')
           && strspn(s, "0123456789") == n && atol(s) <= FCGIX_CTL_INDEX_MAX;
}

/* "x f" fields of STARTC: 1 when valid; fields split with strchr. */
static int ref_startc_ok(char *args)
{
    char *f[6];
    int i;

    f[0] = args;
    for (i = 1; i < 6; i++) {
        if ((f[i] = strchr(f[i - 1], ' ')) == NULL) {
            return 0;
        }
        *f[i]++ = '\0';
    }
    if ((strcmp(f[0], "x") != 0 && strcmp(f[0], "f") != 0)
        || !ref_index_ok(f[1]) || !ref_index_ok(f[2]) || !ref_path_ok(f[5])) {
        return 0;
    }
    if (strcmp(f[3], "-") == 0 || strcmp(f[4], "-") == 0) {
        return strcmp(f[3], "-") == 0 && strcmp(f[4], "-") == 0;
    }
    return ref_name_ok(f[3][0] == '~' ? f[3] + 1 : f[3]) && ref_name_ok(f[4]);
}

/* 1: the request line is valid; 0: it is not. */
static int ref_request_ok(char *line)
{
    char *u, *g, *p;

    if (strcmp(line, "TICK") == 0) {
        return 1;
    }
    if (strncmp(line, "START ", 6) == 0) {
        return ref_path_ok(line + 6);
    }
    if (strncmp(line, "STARTC ", 7) == 0) {
        return ref_startc_ok(line + 7);
    }
    if (strncmp(line, "STARTAS ", 8) != 0) {
        return 0;
    }
    u = line + 8;
    if ((g = strchr(u, ' ')) == NULL || (p = strchr(g + 1, ' ')) == NULL) {
        return 0;
    }
    *g++ = '\0';
    *p++ = '\0';
    return ref_name_ok(u) && ref_name_ok(g) && ref_path_ok(p);
}

static int ref_seconds_ok(const char *s, size_t n)
{
    char digits[8];

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0')
        || strspn(s, "0123456789") < n) {
        return 0;
    }
    memcpy(digits, s, n);
    digits[n] = '\0';
    return atol(digits) <= FCGIX_CTL_BUSY_MAX_S;
}

static int ref_answer_ok(const char *line)
{
    const char *sp;

    if (strcmp(line, "OK") == 0) {
        return 1;
    }
    if (strncmp(line, "FAIL ", 5) == 0) {
        return ref_why_ok(line + 5);
    }
    if (strncmp(line, "BUSY ", 5) != 0
        || (sp = strchr(line + 5, ' ')) == NULL) {
        return 0;
    }
    return ref_seconds_ok(line + 5, (size_t)(sp - line - 5))
           && ref_why_ok(sp + 1);
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static void check_request(const char *in, size_t size)
{
    static fcgix_ctl_request_t req, cut_req;
    static char line[FCGIX_CTL_REQUEST_MAX + 1], again[FCGIX_CTL_REQUEST_MAX];
    size_t cut = size ? (uint8_t)in[0] % (size + 1) : 0;
    long rc = fcgix_ctl_parse_request(in, size, &req), rc2;
    int ref = ref_line((const uint8_t *)in, size, FCGIX_CTL_REQUEST_MAX, line);

    CHECK(rc <= (long)size && rc >= FCGIX_CTL_EINDEX);
    CHECK(rc != FCGIX_CTL_ESPACE && rc != FCGIX_CTL_EWHY
          && rc != FCGIX_CTL_ENUMBER);
    CHECK(strlen(fcgix_ctl_strerror(rc)) > 0);
    CHECK((ref == 0) == (rc == FCGIX_CTL_AGAIN));
    CHECK(ref >= 0 || rc == FCGIX_CTL_ECHAR || rc == FCGIX_CTL_ELONG);
    if (ref == 1) {
        CHECK(ref_request_ok(line) == (rc > 0));
    }
    if (rc > 0) {
        CHECK(in[rc - 1] == '\n' && memchr(in, '\n', (size_t)rc - 1) == NULL);
        CHECK(req.verb == FCGIX_CTL_TICK || ref_path_ok(req.path));
        CHECK(req.verb != FCGIX_CTL_STARTAS
              || (ref_name_ok(req.user) && ref_name_ok(req.group)));
        CHECK(req.verb != FCGIX_CTL_STARTC || req.user[0] == '\0'
              || (ref_name_ok(req.user) && ref_name_ok(req.group)));
        CHECK((req.user[0] == '\0') == (req.group[0] == '\0'));
        CHECK(req.tenant <= FCGIX_CTL_INDEX_MAX
              && req.cmd <= FCGIX_CTL_INDEX_MAX);
        CHECK(req.verb == FCGIX_CTL_STARTC
              || (req.tenant == 0 && req.cmd == 0 && req.userdir == 0));
        CHECK(fcgix_ctl_put_request(again, sizeof(again), &req) == rc);
        CHECK(memcmp(again, in, (size_t)rc) == 0);
    }
    rc2 = fcgix_ctl_parse_request(in, cut, &cut_req);
    CHECK(rc2 == FCGIX_CTL_AGAIN || rc2 == rc);
    CHECK(rc <= 0 || cut < (size_t)rc || rc2 == rc);
}

static void check_answer(const char *in, size_t size)
{
    static fcgix_ctl_answer_t ans, cut_ans;
    static char line[FCGIX_CTL_ANSWER_MAX + 1], again[FCGIX_CTL_ANSWER_MAX];
    size_t cut = size ? (uint8_t)in[size - 1] % (size + 1) : 0;
    long rc = fcgix_ctl_parse_answer(in, size, &ans), rc2;
    int ref = ref_line((const uint8_t *)in, size, FCGIX_CTL_ANSWER_MAX, line);

    CHECK(rc <= (long)size && rc > FCGIX_CTL_ESPACE);
    CHECK(rc != FCGIX_CTL_ERELATIVE && rc != FCGIX_CTL_EPATHLEN
          && rc != FCGIX_CTL_ENAME && rc != FCGIX_CTL_EINDEX);
    CHECK((ref == 0) == (rc == FCGIX_CTL_AGAIN));
    CHECK(ref >= 0 || rc == FCGIX_CTL_ECHAR || rc == FCGIX_CTL_ELONG);
    if (ref == 1) {
        CHECK(ref_answer_ok(line) == (rc > 0));
    }
    if (rc > 0) {
        CHECK(ans.kind == FCGIX_CTL_OK || ref_why_ok(ans.why));
        CHECK(ans.seconds >= 0 && ans.seconds <= FCGIX_CTL_BUSY_MAX_S);
        CHECK(fcgix_ctl_put_answer(again, sizeof(again), &ans) == rc);
        CHECK(memcmp(again, in, (size_t)rc) == 0);
    }
    rc2 = fcgix_ctl_parse_answer(in, cut, &cut_ans);
    CHECK(rc2 == FCGIX_CTL_AGAIN || rc2 == rc);
    CHECK(rc <= 0 || cut < (size_t)rc || rc2 == rc);
}

/* STARTC's encoder on the pieces, with the vocabulary and indexes
 * (possibly out of range) and the identity's presence taken from @bits:
 * it accepts what the reference accepts, and what it writes parses back
 * to the same fields. */
static void check_startc_encoder(const char *user, const char *group,
                                 const char *path, unsigned bits)
{
    static char buf[FCGIX_CTL_REQUEST_MAX + 64];
    static fcgix_ctl_request_t req;
    int vocab = (int)(bits & 3);
    unsigned tenant = (bits & 4) ? 65535u + (bits >> 7) : bits * 257u;
    unsigned cmd = (bits & 8) ? bits : 0;
    const char *u = (bits & 16) ? NULL : user, *g = (bits & 32) ? NULL : group;
    int ok = (vocab == 1 || vocab == 2) && tenant <= FCGIX_CTL_INDEX_MAX
             && ref_path_ok(path) && (u == NULL) == (g == NULL)
             && (u == NULL
                 || (ref_name_ok(u[0] == '~' ? u + 1 : u) && ref_name_ok(g)));
    long rc =
        fcgix_ctl_put_startc(buf, sizeof(buf), vocab, tenant, cmd, u, g, path);

    CHECK((rc > 0) == ok);
    if (rc > 0) {
        CHECK(fcgix_ctl_parse_request(buf, (size_t)rc, &req) == rc);
        CHECK(req.verb == FCGIX_CTL_STARTC && req.vocab == vocab
              && req.tenant == tenant && req.cmd == cmd
              && strcmp(req.path, path) == 0);
        CHECK(u == NULL
              || (strcmp(req.user, u + req.userdir) == 0
                  && req.userdir == (u[0] == '~')
                  && strcmp(req.group, g) == 0));
        CHECK(u != NULL || (req.user[0] == '\0' && req.group[0] == '\0'));
    }
}

/* The encoders on fields: the input up to its first NUL, and the three
 * NUL-separated pieces for STARTAS and STARTC. */
static void check_encoders(const char *in, size_t size)
{
    static char buf[FCGIX_CTL_ANSWER_MAX + FCGIX_CTL_REQUEST_MAX];
    static char copy[4096];
    static fcgix_ctl_request_t req;
    static fcgix_ctl_answer_t ans;
    size_t n = size < sizeof(copy) - 3 ? size : sizeof(copy) - 3;
    const char *user = copy, *group, *path;
    int secs = size ? (uint8_t)in[0] * 400 : 0; /* 0..102000 */
    long rc;

    memcpy(copy, in, n);
    memset(copy + n, 0, 3);
    rc = fcgix_ctl_put_start(buf, sizeof(buf), copy);
    CHECK((rc > 0) == ref_path_ok(copy));
    if (rc > 0) {
        CHECK(fcgix_ctl_parse_request(buf, (size_t)rc, &req) == rc);
        CHECK(req.verb == FCGIX_CTL_START && strcmp(req.path, copy) == 0);
    }
    rc = fcgix_ctl_put_fail(buf, sizeof(buf), copy);
    CHECK((rc > 0) == ref_why_ok(copy));
    if (rc > 0) {
        CHECK(fcgix_ctl_parse_answer(buf, (size_t)rc, &ans) == rc);
        CHECK(ans.kind == FCGIX_CTL_FAIL && strcmp(ans.why, copy) == 0);
    }
    rc = fcgix_ctl_put_busy(buf, sizeof(buf), secs, copy);
    CHECK((rc > 0) == (ref_why_ok(copy) && secs <= FCGIX_CTL_BUSY_MAX_S));
    if (rc > 0) {
        CHECK(fcgix_ctl_parse_answer(buf, (size_t)rc, &ans) == rc);
        CHECK(ans.kind == FCGIX_CTL_BUSY && ans.seconds == secs);
    }
    group = user + strlen(user) + 1;
    path = group + strlen(group) + 1;
    rc = fcgix_ctl_put_startas(buf, sizeof(buf), user, group, path);
    CHECK((rc > 0)
          == (ref_name_ok(user) && ref_name_ok(group) && ref_path_ok(path)));
    if (rc > 0) {
        CHECK(fcgix_ctl_parse_request(buf, (size_t)rc, &req) == rc);
        CHECK(strcmp(req.user, user) == 0 && strcmp(req.group, group) == 0
              && strcmp(req.path, path) == 0);
    }
    check_startc_encoder(user, group, path, size ? (uint8_t)in[0] : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = (char *)fuzz_copy_exact(data, size);

    check_request(in, size);
    check_answer(in, size);
    check_encoders(in, size);
    free(in);
    return 0;
}
