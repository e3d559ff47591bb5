/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_tally.c
 * @brief The tally (see fcgi_tally.h): per-application counts and
 *        response-time histograms in shared memory, without locks.
 */

#include <string.h>

#include "fcgi_tally.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define CAS(p, expected, desired)                                              \
    __atomic_compare_exchange_n((p), (expected), (desired), 0,                 \
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

#define TALLY_MAGIC 0x46435453u /* "FCTS" */

#define STATE_FREE 0u
#define STATE_CLAIMING 1u
#define STATE_READY 2u
/* How long a search waits for a record being claimed (its path being
 * written, a few hundred nanoseconds) before it passes over it: the
 * claimer may have died mid-claim. First spins; then, with a relax
 * function, that many calls of it: a claimer preempted mid-claim (a
 * loaded machine, more threads than cores) would otherwise outlast the
 * spins, and a search for the same path would claim a second record. */
#define CLAIM_SPINS 100000
#define CLAIM_RELAXES 1000

/* Ten per decade (R10), 100 us to 100 s. */
#define DECADE(m)                                                              \
    100 * (m), 125 * (m), 160 * (m), 200 * (m), 250 * (m), 315 * (m),          \
        400 * (m), 500 * (m), 630 * (m), 800 * (m)

const int64_t fcgix_tally_bounds[FCGIX_TALLY_NBOUNDS] = {
    DECADE(INT64_C(1)),    DECADE(INT64_C(10)),    DECADE(INT64_C(100)),
    DECADE(INT64_C(1000)), DECADE(INT64_C(10000)), DECADE(INT64_C(100000)),
    INT64_C(100000000)};

size_t fcgix_tally_size(int nrecs)
{
    return sizeof(fcgix_tally_head_t)
           + (size_t)(nrecs > 0 ? nrecs : 0) * sizeof(fcgix_tally_rec_t);
}

fcgix_tally_t *fcgix_tally_init(fcgix_tally_t *t, void *mem, int nrecs)
{
    t->head = mem;
    t->recs = (fcgix_tally_rec_t *)(t->head + 1);
    t->nrecs = nrecs;
    t->relax = NULL;
    t->head->magic = TALLY_MAGIC;
    t->head->nrecs = (uint32_t)nrecs;
    return t;
}

fcgix_tally_rec_t *fcgix_tally_rec(const fcgix_tally_t *t, int i)
{
    if (t->recs == NULL || i < 0 || i >= t->nrecs) {
        return NULL;
    }
    return &t->recs[i];
}

uint64_t fcgix_tally_hash(const char *path)
{
    const unsigned char *s = (const unsigned char *)path;
    uint64_t h = UINT64_C(14695981039346656037);

    while (*s) {
        h ^= *s++;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* Finding and claiming records                                        */
/* ------------------------------------------------------------------ */

/* The record's state once nobody is writing its path, as far as a short
 * wait tells (CLAIMING: still being written, or its claimer died). */
static uint32_t settled_state(const fcgix_tally_t *t,
                              const fcgix_tally_rec_t *r)
{
    uint32_t st = LOAD(&r->state);
    int spins = 0, relaxes = 0;

    while (st == STATE_CLAIMING && spins++ < CLAIM_SPINS) {
        st = LOAD(&r->state);
    }
    while (st == STATE_CLAIMING && t->relax && relaxes++ < CLAIM_RELAXES) {
        t->relax();
        st = LOAD(&r->state);
    }
    return st;
}

/* Whether a READY record holds @path (@len bytes): its path was written
 * before READY was stored and is not written again, and the comparison
 * reads at most @len + 1 < FCGIX_TALLY_PATH_MAX bytes of it. */
static int holds(const fcgix_tally_rec_t *r, uint64_t h, const char *path,
                 size_t len)
{
    return LOAD(&r->hash) == h && memcmp(r->path, path, len + 1) == 0;
}

static void fill(fcgix_tally_rec_t *r, const char *path, size_t len, uint64_t h,
                 int dynamic)
{
    memcpy(r->path, path, len + 1);
    STORE(&r->hash, h);
    STORE(&r->dynamic, dynamic ? 1u : 0u);
    STORE(&r->state, STATE_READY);
}

/* strlen(), reading at most FCGIX_TALLY_PATH_MAX bytes. */
static size_t path_len(const char *path)
{
    size_t n = 0;

    while (n < FCGIX_TALLY_PATH_MAX && path[n] != '\0') {
        n++;
    }
    return n;
}

/* Walk the records @path may be in, from its hash's home, until its own
 * or a free one (claimed for it when @claim). */
static int search(fcgix_tally_t *t, const char *path, int claim, int dynamic)
{
    size_t len = path_len(path);
    uint64_t h = fcgix_tally_hash(path);
    int k, i;

    if (len >= FCGIX_TALLY_PATH_MAX) {
        return FCGIX_TALLY_TOO_LONG;
    }
    for (k = 0; t->recs && k < t->nrecs; k++) {
        fcgix_tally_rec_t *r = &t->recs[(h + (uint64_t)k) % (uint64_t)t->nrecs];
        uint32_t st = settled_state(t, r);

        i = (int)(r - t->recs);
        if (st == STATE_FREE && !claim) {
            return -1;
        }
        if (st == STATE_FREE && CAS(&r->state, &st, STATE_CLAIMING)) {
            fill(r, path, len, h, dynamic);
            return i;
        }
        if (st != STATE_READY) {
            st = settled_state(t, r); /* another claimed it meanwhile */
        }
        if (st == STATE_READY && holds(r, h, path, len)) {
            if (dynamic && !LOAD(&r->dynamic)) {
                STORE(&r->dynamic, 1u);
            }
            return i;
        }
    }
    return claim ? FCGIX_TALLY_FULL : -1;
}

int fcgix_tally_find(const fcgix_tally_t *t, const char *path)
{
    int i = search((fcgix_tally_t *)t, path, 0, 0);

    return i < 0 ? -1 : i;
}

int fcgix_tally_claim(fcgix_tally_t *t, const char *path, int dynamic)
{
    return search(t, path, 1, dynamic);
}

int fcgix_tally_path(const fcgix_tally_t *t, int i, char *buf, size_t size,
                     int *dynamic)
{
    const fcgix_tally_rec_t *r = fcgix_tally_rec(t, i);
    size_t n = size < sizeof(r->path) ? size : sizeof(r->path);

    if (r == NULL || LOAD(&r->state) != STATE_READY) {
        return 0;
    }
    memcpy(buf, r->path, n - 1);
    buf[n - 1] = '\0';
    *dynamic = LOAD(&r->dynamic) != 0;
    return 1;
}

int fcgix_tally_first_full(fcgix_tally_t *t)
{
    uint32_t no = 0;

    return t->head != NULL && CAS(&t->head->full, &no, 1u);
}

/* ------------------------------------------------------------------ */
/* Counting                                                            */
/* ------------------------------------------------------------------ */

int fcgix_tally_bucket(int64_t usec)
{
    int lo = 0, hi = FCGIX_TALLY_NBOUNDS;

    /* The first bound >= usec; NBOUNDS when there is none. */
    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (fcgix_tally_bounds[mid] < usec) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

void fcgix_tally_begin(fcgix_tally_rec_t *rec)
{
    ADD(&rec->in_flight, 1);
}

void fcgix_tally_leave(fcgix_tally_rec_t *rec)
{
    ADD(&rec->in_flight, -1);
}

static void clear_slot(fcgix_tally_window_t *w)
{
    int b;

    STORE(&w->n, 0);
    STORE(&w->sum_us, 0);
    for (b = 0; b < FCGIX_TALLY_NBUCKETS; b++) {
        STORE(&w->count[b], 0);
    }
}

/* Make @w hold @epoch if it holds an older one: the process whose CAS
 * wins clears it. 1 when @w holds @epoch now. */
static int turn_slot(fcgix_tally_window_t *w, int64_t epoch)
{
    int64_t tag = LOAD(&w->epoch);

    if (tag == epoch) {
        return 1;
    }
    if (tag > epoch) {
        return 0; /* the clock went back: count nothing in it */
    }
    if (CAS(&w->epoch, &tag, epoch)) {
        clear_slot(w);
        return 1;
    }
    return LOAD(&w->epoch) == epoch;
}

static void count_window(fcgix_tally_rec_t *rec, int b, uint64_t usec,
                         int64_t now_ms)
{
    int64_t e = now_ms / FCGIX_TALLY_EPOCH_MS;
    fcgix_tally_window_t *w = &rec->win[e % FCGIX_TALLY_NSLOTS];

    if (turn_slot(w, e)) {
        ADD(&w->count[b], 1);
        ADD(&w->n, 1);
        ADD(&w->sum_us, usec);
    }
    /* The next epoch's slot, cleared while nobody counts into it. */
    turn_slot(&rec->win[(e + 1) % FCGIX_TALLY_NSLOTS], e + 1);
}

void fcgix_tally_end(fcgix_tally_rec_t *rec, int err, int64_t usec,
                     uint64_t bytes_in, uint64_t bytes_out, int64_t now_ms)
{
    int b;

    if (usec < 0) {
        usec = 0;
    }
    b = fcgix_tally_bucket(usec);
    ADD(&rec->in_flight, -1);
    ADD(&rec->requests, 1);
    if (err >= 0 && err < FCGIX_TALLY_NERR) {
        ADD(&rec->errors[err], 1);
    }
    ADD(&rec->bytes_in, bytes_in);
    ADD(&rec->bytes_out, bytes_out);
    ADD(&rec->sum_us, (uint64_t)usec);
    ADD(&rec->count[b], 1);
    if (now_ms >= 0) {
        count_window(rec, b, (uint64_t)usec, now_ms);
    }
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void read_recent(const fcgix_tally_rec_t *rec, int64_t now_ms,
                        fcgix_tally_view_t *v)
{
    int64_t e = now_ms / FCGIX_TALLY_EPOCH_MS, tag;
    int s, b;

    v->recent_ms = now_ms - (e - 1) * FCGIX_TALLY_EPOCH_MS;
    for (s = 0; s < FCGIX_TALLY_NSLOTS; s++) {
        const fcgix_tally_window_t *w = &rec->win[s];

        tag = LOAD(&w->epoch);
        if (tag != e && tag != e - 1) {
            continue;
        }
        for (b = 0; b < FCGIX_TALLY_NBUCKETS; b++) {
            v->recent[b] += LOAD(&w->count[b]);
        }
        v->recent_n += LOAD(&w->n);
        v->recent_sum_us += LOAD(&w->sum_us);
    }
}

void fcgix_tally_read(const fcgix_tally_rec_t *rec, int64_t now_ms,
                      fcgix_tally_view_t *v)
{
    int i;

    memset(v, 0, sizeof(*v));
    v->in_flight = LOAD(&rec->in_flight);
    if (v->in_flight < 0) {
        v->in_flight = 0;
    }
    v->requests = LOAD(&rec->requests);
    for (i = 0; i < FCGIX_TALLY_NERR; i++) {
        v->errors[i] = LOAD(&rec->errors[i]);
    }
    v->bytes_in = LOAD(&rec->bytes_in);
    v->bytes_out = LOAD(&rec->bytes_out);
    v->sum_us = LOAD(&rec->sum_us);
    for (i = 0; i < FCGIX_TALLY_NBUCKETS; i++) {
        v->count[i] = LOAD(&rec->count[i]);
        v->n += v->count[i];
    }
    if (now_ms >= 0) {
        read_recent(rec, now_ms, v);
    }
}

int64_t fcgix_tally_quantile(const uint64_t count[FCGIX_TALLY_NBUCKETS],
                             double q)
{
    uint64_t n = 0, seen = 0;
    double target, lo, hi;
    int b;

    for (b = 0; b < FCGIX_TALLY_NBUCKETS; b++) {
        n += count[b];
    }
    if (n == 0) {
        return -1;
    }
    target = (q > 1.0 ? 1.0 : q) * (double)n;
    for (b = 0; b < FCGIX_TALLY_NBOUNDS; b++) {
        if (count[b] > 0 && (double)(seen + count[b]) >= target) {
            lo = b > 0 ? (double)fcgix_tally_bounds[b - 1] : 0.0;
            hi = (double)fcgix_tally_bounds[b];
            target = target > (double)seen ? target - (double)seen : 0.0;
            return (int64_t)(lo + (hi - lo) * target / (double)count[b]);
        }
        seen += count[b];
    }
    return fcgix_tally_bounds[FCGIX_TALLY_NBOUNDS - 1];
}

void fcgix_tally_carry(fcgix_tally_t *t, int i, const fcgix_tally_rec_t *old)
{
    fcgix_tally_rec_t *r = fcgix_tally_rec(t, i);
    int k;

    if (r == NULL) {
        return;
    }
    ADD(&r->requests, LOAD(&old->requests));
    for (k = 0; k < FCGIX_TALLY_NERR; k++) {
        ADD(&r->errors[k], LOAD(&old->errors[k]));
    }
    ADD(&r->bytes_in, LOAD(&old->bytes_in));
    ADD(&r->bytes_out, LOAD(&old->bytes_out));
    ADD(&r->sum_us, LOAD(&old->sum_us));
    for (k = 0; k < FCGIX_TALLY_NBUCKETS; k++) {
        ADD(&r->count[k], LOAD(&old->count[k]));
    }
}
