/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_decoder.c
 * @brief libFuzzer target for fcgix_dec_step(): whole, byte-by-byte and
 *        scheduled-chunk feeding must agree with each other and with a small
 *        reference decoder written here.
 *
 * Input layout:
 *   byte 0   bits 0-1: expected request id (1, 2, 0x0100, 0xffff)
 *            bits 2-3: kind of chunk schedule (see next_chunk())
 *   byte 1   seed of the chunk schedule
 *   rest     the byte stream an application sends to the server
 *
 * Every chunk lives in its own exactly-sized allocation, so ASan reports a
 * read outside the chunk the decoder was given. Violations call abort().
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"
#include "fuzz_common.h"

/* Bit of a return code in a set of acceptable codes. */
#define CODE_BIT(rc) (1u << (unsigned)-(rc))

/** One event after normalisation: adjacent slices of one record merged. */
typedef struct {
    uint8_t type;
    size_t off; /* stream offset of the data; 0 if empty */
    size_t len;
    int record_end;
    uint32_t app_status;
    uint8_t protocol_status;
    uint8_t unknown_type;
} norm_ev_t;

/** What one way of feeding (or the reference) saw. */
typedef struct {
    norm_ev_t *ev;
    size_t count;
    size_t cap;
    int open;         /* last record's content not finished */
    int done;         /* END_REQUEST seen */
    int rc;           /* FCGIX_AGAIN or the error */
    size_t out_bytes; /* STDOUT total */
    size_t err_bytes; /* STDERR total */
    size_t consumed;  /* bytes the decoder said it used */
    size_t accounted; /* bytes the events prove were consumed */
    size_t calls;
    size_t max_calls;
} trace_t;

static int is_data_type(uint8_t type)
{
    return type == FCGIX_STDOUT || type == FCGIX_STDERR
           || type == FCGIX_GET_VALUES_RESULT;
}

static void trace_init(trace_t *t, size_t n)
{
    memset(t, 0, sizeof(*t));
    /* A normalised event needs its own 8-byte record header. */
    t->cap = n / FCGIX_HEADER_LEN + 2;
    t->ev = calloc(t->cap, sizeof(*t->ev));
    CHECK(t->ev != NULL);
    t->rc = FCGIX_AGAIN;
    /* Each event is a record or at least one consumed byte. */
    t->max_calls = 2 * n + 16;
}

static norm_ev_t *trace_push(trace_t *t)
{
    CHECK(t->count < t->cap);
    memset(&t->ev[t->count], 0, sizeof(t->ev[0]));
    return &t->ev[t->count++];
}

static void trace_fixed(trace_t *t, const fcgix_event_t *ev)
{
    norm_ev_t *n;

    CHECK(ev->type == FCGIX_END_REQUEST || ev->type == FCGIX_UNKNOWN_TYPE);
    CHECK(!t->open);
    n = trace_push(t);
    n->type = ev->type;
    n->record_end = 1;
    if (ev->type == FCGIX_END_REQUEST) {
        n->app_status = ev->app_status;
        n->protocol_status = ev->protocol_status;
        t->done = 1;
    }
    else {
        n->unknown_type = ev->unknown_type;
    }
    t->accounted += FCGIX_HEADER_LEN + FCGIX_FIXED_BODY_LEN;
}

/* A slice must lie in the part of the call's input that the call reports
 * as consumed: the caller continues after "consumed", so anything beyond
 * it would be delivered twice. */
static void check_slice(const fcgix_event_t *ev, const unsigned char *in,
                        size_t consumed)
{
    uintptr_t lo = (uintptr_t)in;
    uintptr_t p = (uintptr_t)ev->data;

    CHECK(in != NULL && ev->data != NULL);
    CHECK(p >= lo && p <= lo + consumed);
    CHECK(ev->len <= lo + consumed - p);
}

static void trace_data(trace_t *t, const fcgix_event_t *ev,
                       const unsigned char *in, size_t consumed, size_t base)
{
    size_t off = 0;
    norm_ev_t *last;

    if (ev->len == 0) {
        /* Only an empty record yields an empty slice, and only once. */
        CHECK(ev->record_end && !t->open);
    }
    else {
        check_slice(ev, in, consumed);
        off = base + (size_t)(ev->data - in);
    }
    if (ev->type == FCGIX_STDOUT) {
        t->out_bytes += ev->len;
    }
    else if (ev->type == FCGIX_STDERR) {
        t->err_bytes += ev->len;
    }
    t->accounted += ev->len;
    if (t->open) {
        last = &t->ev[t->count - 1];
        CHECK(last->type == ev->type);
        CHECK(last->off + last->len == off);
        last->len += ev->len;
        last->record_end = ev->record_end != 0;
    }
    else {
        last = trace_push(t);
        last->type = ev->type;
        last->off = off;
        last->len = ev->len;
        last->record_end = ev->record_end != 0;
        t->accounted += FCGIX_HEADER_LEN;
    }
    t->open = !last->record_end;
}

static void trace_event(trace_t *t, const fcgix_dec_t *d,
                        const fcgix_event_t *ev, const unsigned char *in,
                        size_t consumed, size_t base)
{
    /* After END_REQUEST only FCGIX_ESTATE may follow. */
    CHECK(!t->done);
    if (is_data_type(ev->type)) {
        trace_data(t, ev, in, consumed, base);
    }
    else {
        trace_fixed(t, ev);
    }
    CHECK(t->accounted <= t->consumed);
    CHECK((fcgix_dec_done(d) != 0) == t->done);
}

/* Feeds one chunk until it is used up or an error is returned.
 * @return FCGIX_AGAIN or the error code */
static int feed(fcgix_dec_t *d, trace_t *t, const unsigned char *in, size_t len,
                size_t base)
{
    size_t off = 0;

    for (;;) {
        const unsigned char *p = off < len ? in + off : NULL;
        size_t rest = len - off;
        size_t used = (size_t)-1;
        fcgix_event_t ev;
        int rc;

        memset(&ev, 0xa5, sizeof(ev));
        rc = fcgix_dec_step(d, p, rest, &used, &ev);
        CHECK(++t->calls <= t->max_calls);
        CHECK(used <= rest);
        t->consumed += used;
        if (rc == FCGIX_OK) {
            trace_event(t, d, &ev, p, used, base + off);
            off += used;
            continue;
        }
        CHECK(rc == FCGIX_AGAIN
              || (rc <= FCGIX_EVERSION && rc >= FCGIX_EINVAL));
        if (rc == FCGIX_AGAIN) {
            CHECK(used == rest);
        }
        return rc;
    }
}

/* An error is sticky; after FCGIX_AGAIN nothing may be pending, or a
 * caller waiting for more input would miss an event (END_REQUEST last). */
static void check_final(fcgix_dec_t *d, trace_t *t)
{
    static const unsigned char extra[1] = {0};
    fcgix_event_t ev;
    size_t used = (size_t)-1;

    CHECK(fcgix_dec_step(d, NULL, 0, &used, &ev) == t->rc);
    CHECK(used == 0);
    if (t->rc == FCGIX_AGAIN || !t->done) {
        CHECK((fcgix_dec_done(d) != 0) == t->done);
    }
    if (t->rc != FCGIX_AGAIN) {
        used = (size_t)-1;
        CHECK(fcgix_dec_step(d, extra, 1, &used, &ev) == t->rc);
        CHECK(used <= 1);
    }
}

/* An empty chunk is handed over as NULL, as a caller may do. */
static unsigned char *copy_chunk(const unsigned char *s, size_t n)
{
    return n > 0 ? fuzz_copy_exact(s, n) : NULL;
}

/* A decoder struct full of garbage must be usable after fcgix_dec_init. */
static void dec_start(fcgix_dec_t *d, uint16_t id)
{
    memset(d, 0x5a, sizeof(*d));
    fcgix_dec_init(d, id);
}

static void run_whole(fcgix_dec_t *d, trace_t *t, const unsigned char *s,
                      size_t n)
{
    unsigned char *b = copy_chunk(s, n);

    t->rc = feed(d, t, b, n, 0);
    check_final(d, t);
    free(b);
}

static void run_bytes(fcgix_dec_t *d, trace_t *t, const unsigned char *s,
                      size_t n)
{
    unsigned char *b = malloc(1);
    size_t i;

    CHECK(b != NULL);
    for (i = 0; i < n; i++) {
        b[0] = s[i];
        t->rc = feed(d, t, b, 1, i);
        if (t->rc != FCGIX_AGAIN) {
            break;
        }
    }
    check_final(d, t);
    free(b);
}

/* Kinds: 0 small chunks 1..8; 1 chunks 1..64; 2 chunks 0..600, so empty
 * calls happen too; 3 sizes around record boundaries. */
static size_t next_chunk(fuzz_sched_t *s)
{
    static const size_t near[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 255, 263};
    uint32_t r = fuzz_sched_rand(s);

    switch (s->kind) {
    case 0:
        return 1 + r % 8;
    case 1:
        return 1 + r % 64;
    case 2:
        return r % 601;
    default:
        return near[r % (sizeof(near) / sizeof(near[0]))];
    }
}

static void run_sched(fcgix_dec_t *d, trace_t *t, const unsigned char *s,
                      size_t n, fuzz_sched_t *sc)
{
    size_t pos = 0;
    size_t rounds = 0;

    while (pos < n || rounds == 0) {
        size_t c = fuzz_clip(next_chunk(sc), n - pos);
        unsigned char *b;

        CHECK(++rounds <= 4 * n + 64);
        b = copy_chunk(s + pos, c);
        t->rc = feed(d, t, b, c, pos);
        free(b);
        pos += c;
        if (t->rc != FCGIX_AGAIN) {
            break;
        }
    }
    check_final(d, t);
}

static int type_is_app_to_server(uint8_t type)
{
    return is_data_type(type) || type == FCGIX_END_REQUEST
           || type == FCGIX_UNKNOWN_TYPE;
}

static int type_is_management(uint8_t type)
{
    return type == FCGIX_GET_VALUES_RESULT || type == FCGIX_UNKNOWN_TYPE;
}

static int type_is_fixed(uint8_t type)
{
    return type == FCGIX_END_REQUEST || type == FCGIX_UNKNOWN_TYPE;
}

/* Errors the first @a k bytes of a header already prove. The contract
 * does not fix an order among several defects, so every one is allowed. */
static unsigned header_errors(const unsigned char *h, size_t k, uint16_t id)
{
    unsigned set = 0;
    uint8_t type;
    unsigned rid;

    if (k >= 1 && h[0] != FCGIX_VERSION_1) {
        set |= CODE_BIT(FCGIX_EVERSION);
    }
    if (k < 2) {
        return set;
    }
    type = h[1];
    if (type == 0 || type > FCGIX_MAXTYPE) {
        set |= CODE_BIT(FCGIX_EUNKNOWNTYPE);
    }
    else if (!type_is_app_to_server(type)) {
        set |= CODE_BIT(FCGIX_ETYPE);
    }
    if (k < 4) {
        return set;
    }
    rid = ((unsigned)h[2] << 8) | h[3];
    if (type_is_app_to_server(type)) {
        if (rid != (type_is_management(type) ? 0u : id)) {
            set |= CODE_BIT(FCGIX_EREQID);
        }
    }
    else if (rid != id && rid != 0) {
        set |= CODE_BIT(FCGIX_EREQID);
    }
    if (k >= 6 && type_is_fixed(type)
        && (((unsigned)h[4] << 8) | h[5]) != FCGIX_FIXED_BODY_LEN) {
        set |= CODE_BIT(FCGIX_EBODYLEN);
    }
    return set;
}

/** Result of the reference decoder. */
typedef struct {
    trace_t t;
    unsigned codes;    /* acceptable final codes (CODE_BIT) */
    int optional_tail; /* last event may be missing */
} ref_t;

static void ref_fixed(ref_t *r, const unsigned char *h, const unsigned char *b)
{
    norm_ev_t *e = trace_push(&r->t);

    e->type = h[1];
    e->record_end = 1;
    if (e->type == FCGIX_END_REQUEST) {
        e->app_status = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16)
                        | ((uint32_t)b[2] << 8) | b[3];
        e->protocol_status = b[4];
        r->t.done = 1;
    }
    else {
        e->unknown_type = b[0];
    }
}

/* Decodes one data record at @a pos; @return bytes it takes, or 0 when
 * the input ends inside it. */
static size_t ref_data(ref_t *r, const unsigned char *s, size_t n, size_t pos)
{
    const unsigned char *h = s + pos;
    size_t clen = ((size_t)h[4] << 8) | h[5];
    size_t plen = h[6];
    size_t avail = n - pos - FCGIX_HEADER_LEN;
    size_t take = avail < clen ? avail : clen;
    norm_ev_t *e;

    if (clen == 0 && avail < plen) {
        /* Whether an empty record is reported before its padding is the
         * implementation's choice. */
        r->optional_tail = 1;
    }
    if (take > 0 || clen == 0) {
        e = trace_push(&r->t);
        e->type = h[1];
        e->off = take > 0 ? pos + FCGIX_HEADER_LEN : 0;
        e->len = take;
        e->record_end = take == clen;
        r->t.open = take != clen;
        if (e->type == FCGIX_STDOUT) {
            r->t.out_bytes += take;
        }
        else if (e->type == FCGIX_STDERR) {
            r->t.err_bytes += take;
        }
    }
    if (avail < clen + plen) {
        return 0;
    }
    return FCGIX_HEADER_LEN + clen + plen;
}

static void ref_decode(ref_t *r, const unsigned char *s, size_t n, uint16_t id)
{
    size_t pos = 0;

    r->optional_tail = 0;
    for (;;) {
        size_t avail = n - pos;
        const unsigned char *h = s + pos;
        size_t step;

        if (r->t.done) {
            r->codes =
                avail > 0 ? CODE_BIT(FCGIX_ESTATE) : CODE_BIT(FCGIX_AGAIN);
            return;
        }
        if (avail < FCGIX_HEADER_LEN) {
            r->codes = CODE_BIT(FCGIX_AGAIN) | header_errors(h, avail, id);
            return;
        }
        r->codes = header_errors(h, FCGIX_HEADER_LEN, id);
        if (r->codes != 0) {
            return;
        }
        if (type_is_fixed(h[1])) {
            step = FCGIX_HEADER_LEN + FCGIX_FIXED_BODY_LEN + h[6];
            if (avail < step) {
                r->codes = CODE_BIT(FCGIX_AGAIN);
                return;
            }
            ref_fixed(r, h, h + FCGIX_HEADER_LEN);
        }
        else if ((step = ref_data(r, s, n, pos)) == 0) {
            r->codes = CODE_BIT(FCGIX_AGAIN);
            return;
        }
        pos += step;
    }
}

static int same_event(const norm_ev_t *a, const norm_ev_t *b)
{
    return a->type == b->type && a->off == b->off && a->len == b->len
           && a->record_end == b->record_end && a->app_status == b->app_status
           && a->protocol_status == b->protocol_status
           && a->unknown_type == b->unknown_type;
}

static void check_same_events(const trace_t *a, const trace_t *b, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        CHECK(same_event(&a->ev[i], &b->ev[i]));
    }
}

static void check_same_trace(const trace_t *a, const trace_t *b)
{
    CHECK(a->rc == b->rc);
    CHECK(a->done == b->done);
    CHECK(a->open == b->open);
    CHECK(a->out_bytes == b->out_bytes);
    CHECK(a->err_bytes == b->err_bytes);
    CHECK(a->count == b->count);
    check_same_events(a, b, a->count);
}

static void check_against_ref(const trace_t *t, const ref_t *r)
{
    size_t want = r->t.count;

    CHECK((r->codes & CODE_BIT(t->rc)) != 0);
    if (r->optional_tail && t->count + 1 == want) {
        want--;
    }
    if (t->rc == FCGIX_AGAIN && r->t.done) {
        CHECK(t->done);
    }
    CHECK(t->count == want);
    check_same_events(t, &r->t, want);
    if (want == r->t.count) {
        CHECK(t->out_bytes == r->t.out_bytes);
        CHECK(t->err_bytes == r->t.err_bytes);
    }
}

static uint16_t pick_id(uint8_t b)
{
    static const uint16_t ids[] = {1, 2, 0x0100, 0xffff};

    return ids[b & 3];
}

static void free_traces(trace_t *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(t[i].ev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fcgix_dec_t d;
    trace_t t[3];
    ref_t ref;
    fuzz_sched_t sc;
    const unsigned char *s = data + 2;
    size_t n;
    uint16_t id;

    if (size < 2) {
        return 0;
    }
    n = size - 2;
    id = pick_id(data[0]);
    fuzz_sched_init(&sc, (data[0] >> 2) & 3, data[1]);

    trace_init(&t[0], n);
    trace_init(&t[1], n);
    trace_init(&t[2], n);
    trace_init(&ref.t, n);

    dec_start(&d, id);
    run_whole(&d, &t[0], s, n);
    /* Re-initialising a used decoder starts a fresh request. */
    fcgix_dec_init(&d, id);
    run_bytes(&d, &t[1], s, n);
    dec_start(&d, id);
    run_sched(&d, &t[2], s, n, &sc);

    check_same_trace(&t[0], &t[1]);
    check_same_trace(&t[0], &t[2]);
    ref_decode(&ref, s, n, id);
    check_against_ref(&t[0], &ref);

    free_traces(t, 3);
    free(ref.t.ev);
    return 0;
}
