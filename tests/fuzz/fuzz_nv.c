/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_nv.c
 * @brief libFuzzer target for the name-value codec and the PARAMS packer.
 *
 * Input layout:
 *   byte 0-1  max_content of the packer (see pick_max_content())
 *   byte 2    packer capacity (see pick_cap())
 *   byte 3    request id (0 means 1)
 *   rest      (a) decoded as name-value pairs, compared with a reference
 *             parser written here from the specification's byte layout
 *             (offsets and arithmetic, not a copy of fcgi_proto.c);
 *             (b) read as length specs for pairs that are encoded with
 *             fcgix_nv_put() and the packer and decoded back.
 *
 * Buffers handed to the codec are exactly sized allocations, so ASan
 * reports any access past them. Violations call abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"
#include "fuzz_common.h"

#define CONFIG_LEN 4
/* Upper bound on the bytes of all generated names and values: room for a
 * pair around the largest record, while every buffer stays below ASan's
 * 128 KiB mmap threshold (mmap per run would cost 10x the speed). */
#define PAIR_BUDGET (96 * 1024)

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    int skipped; /* the packer refused it as too long */
} pair_t;

typedef struct {
    pair_t *v;
    size_t count;
    unsigned char *pool; /* names and values */
    size_t enc_total;    /* sum of fcgix_nv_size() */
} pairs_t;

/** Bytes the packer produced, as the server would send them. */
typedef struct {
    unsigned char *buf;
    size_t len;
    size_t cap;
} stream_t;

/* ------------------------------------------------------------------ */
/* Reference, from the byte layout in the FastCGI specification (3.4)  */
/* ------------------------------------------------------------------ */

/* One length at s[*at]: one byte below 128, else four bytes, big-endian,
 * the high bit of the first one set and not part of the length (31
 * bits). @return 0 when the bytes run out. Offsets and 64-bit sums, so
 * nothing here can wrap. */
static int ref_length(const unsigned char *s, size_t n, size_t *at,
                      uint64_t *len)
{
    size_t i = *at;

    if (i + 1 > n) {
        return 0;
    }
    if (s[i] < 128) {
        *len = s[i];
        *at = i + 1;
        return 1;
    }
    if (i + 4 > n) {
        return 0;
    }
    *len = (uint64_t)(s[i] - 128) * 16777216 + (uint64_t)s[i + 1] * 65536
           + (uint64_t)s[i + 2] * 256 + s[i + 3];
    *at = i + 4;
    return 1;
}

/** A pair as offsets into the buffer. */
typedef struct {
    size_t name, name_len, value, value_len;
} ref_pair_t;

/* The pair at s[*at]: name length, value length, name bytes, value
 * bytes. @return 1 and *at past it; 0 when *at is the end; -1 when the
 * pair runs past the end. */
static int ref_pair(const unsigned char *s, size_t n, size_t *at,
                    ref_pair_t *pr)
{
    size_t i = *at;
    uint64_t name_len, value_len;

    if (i == n) {
        return 0;
    }
    if (!ref_length(s, n, &i, &name_len) || !ref_length(s, n, &i, &value_len)
        || (uint64_t)i + name_len + value_len > n) {
        return -1;
    }
    pr->name = i;
    pr->name_len = (size_t)name_len;
    pr->value = i + (size_t)name_len;
    pr->value_len = (size_t)value_len;
    *at = pr->value + pr->value_len;
    return 1;
}

/* (a) Arbitrary bytes: fcgix_nv_next() finds the pairs the reference
 * finds, as slices of the buffer, and stops where and as it stops. */
static void scan_arbitrary(const unsigned char *s, size_t n)
{
    unsigned char *buf = fuzz_copy_exact(s, n);
    const unsigned char *end = buf + n;
    const unsigned char *p = buf;
    size_t at = 0, rounds = 0;

    for (;;) {
        const unsigned char *q = p;
        fcgix_nv_t nv;
        ref_pair_t want;
        int rc = fcgix_nv_next(&q, end, &nv);
        int ref = ref_pair(buf, n, &at, &want);

        CHECK(++rounds <= n / 2 + 2);
        if (ref != 1) {
            CHECK(rc == (ref == 0 ? 0 : FCGIX_ETRUNC));
            CHECK(q == p);
            break;
        }
        CHECK(rc == 1);
        CHECK(nv.name == buf + want.name && nv.name_len == want.name_len);
        CHECK(nv.value == buf + want.value && nv.value_len == want.value_len);
        CHECK(q == buf + at);
        p = q;
    }
    free(buf);
}

/* Length specs: 0x00-0xdf the value itself (spans the 127/128 edge),
 * 0xe0-0xfe a 13-bit length from two bytes, 0xff 65000..66020 (around the
 * largest record). @return 0 when the input is used up. */
static int read_len(const unsigned char **p, const unsigned char *end,
                    size_t *len)
{
    const unsigned char *q = *p;

    if (q >= end) {
        return 0;
    }
    if (q[0] < 0xe0) {
        *len = q[0];
        *p = q + 1;
        return 1;
    }
    if (end - q < 2) {
        return 0;
    }
    if (q[0] == 0xff) {
        *len = 65000 + (size_t)q[1] * 4;
    }
    else {
        *len = ((size_t)(q[0] - 0xe0) << 8) | q[1];
    }
    *p = q + 2;
    return 1;
}

static size_t expected_size(size_t name_len, size_t value_len)
{
    return (name_len < 128 ? 1 : 4) + (value_len < 128 ? 1 : 4) + name_len
           + value_len;
}

/* Repeats the input, marking each copy, so that neighbours differ. */
static void fill_pool(unsigned char *pool, size_t total, const unsigned char *s,
                      size_t n)
{
    size_t i, k;

    for (i = 0; i < total; i += k) {
        k = total - i < n ? total - i : n;
        memcpy(pool + i, s, k);
        pool[i] ^= (unsigned char)(i / n);
    }
}

/* Derives pairs from the input; their bytes come from a pattern seeded by
 * the input, so large pairs need no large input. */
static void make_pairs(pairs_t *ps, const unsigned char *s, size_t n)
{
    const unsigned char *p = s;
    const unsigned char *end = s + n;
    size_t lens[2], total = 0, used = 0, i;

    ps->v = calloc(n / 2 + 1, sizeof(*ps->v));
    CHECK(ps->v != NULL);
    ps->count = 0;
    ps->enc_total = 0;
    while (read_len(&p, end, &lens[0]) && read_len(&p, end, &lens[1])) {
        if (total + lens[0] + lens[1] > PAIR_BUDGET) {
            break;
        }
        total += lens[0] + lens[1];
        ps->v[ps->count].name_len = lens[0];
        ps->v[ps->count].value_len = lens[1];
        ps->enc_total += expected_size(lens[0], lens[1]);
        ps->count++;
    }
    ps->pool = malloc(total + 1);
    CHECK(ps->pool != NULL);
    fill_pool(ps->pool, total, s, n);
    for (i = 0; i < ps->count; i++) {
        ps->v[i].name = (const char *)ps->pool + used;
        used += ps->v[i].name_len;
        ps->v[i].value = (const char *)ps->pool + used;
        used += ps->v[i].value_len;
    }
}

static void check_pair(const fcgix_nv_t *nv, const pair_t *pr)
{
    CHECK(nv->name_len == pr->name_len && nv->value_len == pr->value_len);
    CHECK(memcmp(nv->name, pr->name, pr->name_len) == 0);
    CHECK(memcmp(nv->value, pr->value, pr->value_len) == 0);
}

static unsigned char *put_len(unsigned char *o, size_t len)
{
    if (len < 128) {
        *o++ = (unsigned char)len;
        return o;
    }
    *o++ = (unsigned char)(0x80 | (len >> 24));
    *o++ = (unsigned char)(len >> 16);
    *o++ = (unsigned char)(len >> 8);
    *o++ = (unsigned char)len;
    return o;
}

/* The encoding is fully specified, so compare the length bytes exactly. */
static void check_encoding(const unsigned char *enc, const pair_t *pr)
{
    unsigned char want[8];
    unsigned char *w = put_len(put_len(want, pr->name_len), pr->value_len);
    size_t hl = (size_t)(w - want);

    CHECK(memcmp(enc, want, hl) == 0);
    CHECK(memcmp(enc + hl, pr->name, pr->name_len) == 0);
    CHECK(memcmp(enc + hl + pr->name_len, pr->value, pr->value_len) == 0);
}

/* (b1) fcgix_nv_put round trip in an exact buffer. First the buffer is
 * offered one byte short: the pair must be refused, and the byte past the
 * offered length (a canary) left alone. */
static void put_one(const pair_t *pr)
{
    size_t sz = fcgix_nv_size(pr->name_len, pr->value_len);
    unsigned char *out;
    const unsigned char *p;
    fcgix_nv_t nv;

    CHECK(sz == expected_size(pr->name_len, pr->value_len));
    out = malloc(sz);
    CHECK(out != NULL);
    out[sz - 1] = 0xa5;
    CHECK(fcgix_nv_put(out, sz - 1, pr->name, pr->name_len, pr->value,
                       pr->value_len)
          == 0);
    CHECK(out[sz - 1] == 0xa5);
    CHECK(
        fcgix_nv_put(out, sz, pr->name, pr->name_len, pr->value, pr->value_len)
        == sz);
    check_encoding(out, pr);
    p = out;
    CHECK(fcgix_nv_next(&p, out + sz, &nv) == 1);
    check_pair(&nv, pr);
    CHECK(p == out + sz);
    CHECK(fcgix_nv_next(&p, out + sz, &nv) == 0);
    free(out);
}

/* (b2) All pairs back to back in one exact buffer. */
static void put_all(const pairs_t *ps)
{
    unsigned char *buf = malloc(ps->enc_total > 0 ? ps->enc_total : 1);
    const unsigned char *p;
    size_t off = 0, i;
    fcgix_nv_t nv;

    CHECK(buf != NULL);
    for (i = 0; i < ps->count; i++) {
        const pair_t *pr = &ps->v[i];
        size_t w = fcgix_nv_put(buf + off, ps->enc_total - off, pr->name,
                                pr->name_len, pr->value, pr->value_len);

        CHECK(w == expected_size(pr->name_len, pr->value_len));
        off += w;
    }
    CHECK(off == ps->enc_total);
    p = buf;
    for (i = 0; i < ps->count; i++) {
        CHECK(fcgix_nv_next(&p, buf + off, &nv) == 1);
        check_pair(&nv, &ps->v[i]);
    }
    CHECK(fcgix_nv_next(&p, buf + off, &nv) == 0);
    free(buf);
}

static void stream_add(stream_t *st, const unsigned char *b, size_t n)
{
    CHECK(n <= st->cap - st->len);
    memcpy(st->buf + st->len, b, n);
    st->len += n;
}

/* Adds one pair, flushing the packer once when it is full. A pair must be
 * refused as too long when it fits no record or not even the empty
 * buffer with its header and the closing record. */
static void pack_one(fcgix_params_t *pk, const unsigned char *buf, stream_t *st,
                     pair_t *pr, size_t max_content, size_t cap)
{
    size_t sz = expected_size(pr->name_len, pr->value_len);
    int rc =
        fcgix_params_add(pk, pr->name, pr->name_len, pr->value, pr->value_len);

    if (rc == FCGIX_ENOSPC) {
        size_t n = fcgix_params_close(pk, 0);

        CHECK(n > 0);
        stream_add(st, buf, n);
        fcgix_params_reset(pk);
        rc = fcgix_params_add(pk, pr->name, pr->name_len, pr->value,
                              pr->value_len);
        /* The header promises that the retry succeeds. */
        CHECK(rc != FCGIX_ENOSPC);
    }
    if (sz > max_content || sz + 2 * FCGIX_HEADER_LEN > cap) {
        CHECK(rc == FCGIX_ETOOLONG);
        pr->skipped = 1;
    }
    else {
        CHECK(rc == FCGIX_OK);
    }
}

/* Decodes one record's content on its own, as PHP-FPM does: a pair that
 * straddles two records shows up here as FCGIX_ETRUNC. */
static size_t unpack_record(const unsigned char *c, size_t clen,
                            const pairs_t *ps, size_t next)
{
    unsigned char *b = fuzz_copy_exact(c, clen);
    const unsigned char *p = b;
    fcgix_nv_t nv;
    int rc;

    while ((rc = fcgix_nv_next(&p, b + clen, &nv)) == 1) {
        while (next < ps->count && ps->v[next].skipped) {
            next++;
        }
        CHECK(next < ps->count);
        check_pair(&nv, &ps->v[next]);
        next++;
    }
    CHECK(rc == 0);
    free(b);
    return next;
}

/* Parses the records by hand and checks every packer rule. */
static void check_stream(const stream_t *st, const pairs_t *ps, uint16_t id,
                         size_t max_content)
{
    const unsigned char *s = st->buf;
    size_t pos = 0, next = 0;

    for (;;) {
        size_t clen;

        CHECK(st->len - pos >= FCGIX_HEADER_LEN);
        CHECK(s[pos] == FCGIX_VERSION_1 && s[pos + 1] == FCGIX_PARAMS);
        CHECK((((unsigned)s[pos + 2] << 8) | s[pos + 3]) == id);
        clen = ((size_t)s[pos + 4] << 8) | s[pos + 5];
        CHECK(s[pos + 6] == 0 && s[pos + 7] == 0);
        CHECK(clen <= max_content);
        pos += FCGIX_HEADER_LEN;
        CHECK(clen <= st->len - pos);
        if (clen == 0) {
            /* The empty record ends the stream and comes last. */
            CHECK(pos == st->len);
            break;
        }
        next = unpack_record(s + pos, clen, ps, next);
        pos += clen;
    }
    while (next < ps->count && ps->v[next].skipped) {
        next++;
    }
    CHECK(next == ps->count);
}

static void pack_all(pairs_t *ps, size_t max_content, size_t cap, uint16_t id)
{
    fcgix_params_t pk;
    stream_t st;
    unsigned char *buf = malloc(cap);
    size_t i, n;

    st.cap = ps->enc_total + FCGIX_HEADER_LEN * (ps->count + 2);
    st.buf = malloc(st.cap);
    st.len = 0;
    CHECK(buf != NULL && st.buf != NULL);
    fcgix_params_init(&pk, buf, cap, id, max_content);
    for (i = 0; i < ps->count; i++) {
        pack_one(&pk, buf, &st, &ps->v[i], max_content, cap);
    }
    n = fcgix_params_close(&pk, 1);
    CHECK(n <= cap);
    stream_add(&st, buf, n);
    check_stream(&st, ps, id, max_content);
    free(st.buf);
    free(buf);
}

/* Lengths the format cannot carry; the name is never read. */
static void check_limits(void)
{
    static const char one[1] = {'x'};
    unsigned char out[16];

    CHECK(fcgix_nv_size(FCGIX_MAX_NV_LEN + 1, 0) == 0);
    CHECK(fcgix_nv_size(0, FCGIX_MAX_NV_LEN + 1) == 0);
    CHECK(fcgix_nv_size(FCGIX_MAX_NV_LEN, 0) == FCGIX_MAX_NV_LEN + 5);
    CHECK(fcgix_nv_put(out, sizeof(out), one, FCGIX_MAX_NV_LEN + 1, one, 0)
          == 0);
    CHECK(fcgix_nv_put(out, sizeof(out), one, FCGIX_MAX_NV_LEN, one, 0) == 0);
}

/* Mostly small record sizes, so that pairs are split across records. */
static size_t pick_max_content(const unsigned char *c)
{
    switch (c[0] >> 6) {
    case 0:
        return 1 + (size_t)c[1];
    case 1:
        return 1 + ((((size_t)c[0] & 0x3f) << 8) | c[1]);
    case 2:
        return FCGIX_MAX_CONTENT_LEN;
    default:
        return FCGIX_MAX_CONTENT_LEN - c[1];
    }
}

/* Bit 7 clear: max_content + 16 (the size the header recommends) plus
 * 0..127 bytes. Bit 7 set: 16..524 bytes, often too small for a pair that
 * fits a record. */
static size_t pick_cap(uint8_t b, size_t max_content)
{
    if (b & 0x80) {
        return 2 * FCGIX_HEADER_LEN + (size_t)(b & 0x7f) * 4;
    }
    return max_content + 2 * FCGIX_HEADER_LEN + b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int limits_checked;
    const unsigned char *s = data + CONFIG_LEN;
    size_t n, i, mc;
    pairs_t ps;

    if (!limits_checked) {
        check_limits();
        limits_checked = 1;
    }
    if (size < CONFIG_LEN) {
        return 0;
    }
    n = size - CONFIG_LEN;
    scan_arbitrary(s, n);
    if (n == 0) {
        return 0;
    }
    make_pairs(&ps, s, n);
    for (i = 0; i < ps.count; i++) {
        put_one(&ps.v[i]);
    }
    put_all(&ps);
    mc = pick_max_content(data);
    pack_all(&ps, mc, pick_cap(data[2], mc), data[3] != 0 ? data[3] : 1);
    free(ps.pool);
    free(ps.v);
    return 0;
}
