/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_tally.c
 * @brief cmocka unit tests of fcgi_tally, the per-application counts in
 *        shared memory: bucket bounds, finding and claiming records
 *        (collisions, a full table, a long path, a tampered table), the
 *        counts, the recent window across epochs and a clock that goes
 *        back, quantiles, carrying counts to a new table, and threads
 *        that count and claim at once.
 *
 * Each table lives in an exactly sized heap allocation, so that
 * AddressSanitizer (the unit build) and valgrind (vg-unit) catch a read
 * or write past it.
 */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_tally.h"

/* A clock well past 1970, on an epoch's first millisecond. */
#define T0 (INT64_C(28333333) * FCGIX_TALLY_EPOCH_MS)

typedef struct {
    fcgix_tally_t t;
    void *mem;
} table_t;

static table_t *new_table(int nrecs)
{
    table_t *tb = calloc(1, sizeof(*tb));

    assert_non_null(tb);
    tb->mem = calloc(1, fcgix_tally_size(nrecs)); /* zero, as fresh shm */
    assert_non_null(tb->mem);
    fcgix_tally_init(&tb->t, tb->mem, nrecs);
    return tb;
}

static void free_table(table_t *tb)
{
    free(tb->mem);
    free(tb);
}

static fcgix_tally_rec_t *claimed(table_t *tb, const char *path)
{
    int i = fcgix_tally_claim(&tb->t, path, 0);

    assert_true(i >= 0);
    return fcgix_tally_rec(&tb->t, i);
}

/* Two paths whose hashes have the same home in a table of @n. */
static void colliding_paths(int n, char *a, char *b, size_t size)
{
    int i;

    snprintf(a, size, "/srv/app0.fcgi");
    for (i = 1; i < 10000; i++) {
        snprintf(b, size, "/srv/app%d.fcgi", i);
        if (fcgix_tally_hash(a) % (uint64_t)n
            == fcgix_tally_hash(b) % (uint64_t)n) {
            return;
        }
    }
    fail(); /* not reached for small tables */
}

/* ------------------------------------------------------------------ */
/* Buckets                                                             */
/* ------------------------------------------------------------------ */

static void test_bounds_are_r10_from_100us_to_100s(void **state)
{
    static const int64_t r10[] = {100, 125, 160, 200, 250,
                                  315, 400, 500, 630, 800};
    int64_t m = 1;
    int i;

    (void)state;
    for (i = 0; i < FCGIX_TALLY_NBOUNDS - 1; i++) {
        if (i > 0 && i % 10 == 0) {
            m *= 10;
        }
        assert_int_equal(fcgix_tally_bounds[i], r10[i % 10] * m);
        assert_true(fcgix_tally_bounds[i] < fcgix_tally_bounds[i + 1]);
    }
    assert_int_equal(fcgix_tally_bounds[FCGIX_TALLY_NBOUNDS - 1], 100000000);
}

static void test_bucket_edges(void **state)
{
    int i;

    (void)state;
    assert_int_equal(fcgix_tally_bucket(0), 0);
    assert_int_equal(fcgix_tally_bucket(-5), 0);
    assert_int_equal(fcgix_tally_bucket(1), 0);
    for (i = 0; i < FCGIX_TALLY_NBOUNDS; i++) {
        /* bound[i-1] < t <= bound[i] */
        assert_int_equal(fcgix_tally_bucket(fcgix_tally_bounds[i]), i);
        assert_int_equal(fcgix_tally_bucket(fcgix_tally_bounds[i] + 1), i + 1);
        if (i > 0) {
            assert_int_equal(fcgix_tally_bucket(fcgix_tally_bounds[i - 1] + 1),
                             i);
        }
    }
    assert_int_equal(fcgix_tally_bucket(INT64_MAX), FCGIX_TALLY_NBUCKETS - 1);
}

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

static void test_claim_find_same_record(void **state)
{
    table_t *tb = new_table(8);
    int a, b, c;

    (void)state;
    assert_int_equal(fcgix_tally_find(&tb->t, "/srv/a.fcgi"), -1);
    a = fcgix_tally_claim(&tb->t, "/srv/a.fcgi", 0);
    b = fcgix_tally_claim(&tb->t, "/srv/b.fcgi", 0);
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(fcgix_tally_claim(&tb->t, "/srv/a.fcgi", 0), a);
    assert_int_equal(fcgix_tally_find(&tb->t, "/srv/a.fcgi"), a);
    assert_int_equal(fcgix_tally_find(&tb->t, "/srv/b.fcgi"), b);
    assert_string_equal(fcgix_tally_rec(&tb->t, a)->path, "/srv/a.fcgi");
    assert_int_equal(fcgix_tally_rec(&tb->t, a)->dynamic, 0);
    /* A request for a configured path marks it dynamic too (it is one
     * now, if the configuration no longer has it). */
    c = fcgix_tally_claim(&tb->t, "/srv/a.fcgi", 1);
    assert_int_equal(c, a);
    assert_int_equal(fcgix_tally_rec(&tb->t, a)->dynamic, 1);
    assert_null(fcgix_tally_rec(&tb->t, -1));
    assert_null(fcgix_tally_rec(&tb->t, 8));
    free_table(tb);
}

static void test_colliding_paths_probe_on(void **state)
{
    table_t *tb = new_table(4);
    char a[64], b[64];
    int ia, ib;

    (void)state;
    colliding_paths(4, a, b, sizeof(a));
    ia = fcgix_tally_claim(&tb->t, a, 0);
    ib = fcgix_tally_claim(&tb->t, b, 0);
    assert_int_equal(ib, (ia + 1) % 4);
    assert_int_equal(fcgix_tally_find(&tb->t, b), ib);
    assert_int_equal(fcgix_tally_find(&tb->t, a), ia);
    free_table(tb);
}

static void test_full_table_and_long_path(void **state)
{
    table_t *tb = new_table(3);
    char *long_path = malloc(FCGIX_TALLY_PATH_MAX + 1);
    char path[32];
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/srv/%d.fcgi", i);
        assert_true(fcgix_tally_claim(&tb->t, path, 1) >= 0);
    }
    assert_int_equal(fcgix_tally_claim(&tb->t, "/srv/new.fcgi", 1),
                     FCGIX_TALLY_FULL);
    assert_int_equal(fcgix_tally_find(&tb->t, "/srv/new.fcgi"), -1);
    assert_int_equal(fcgix_tally_claim(&tb->t, "/srv/1.fcgi", 1) >= 0, 1);
    assert_int_equal(fcgix_tally_first_full(&tb->t), 1);
    assert_int_equal(fcgix_tally_first_full(&tb->t), 0);

    memset(long_path, 'a', FCGIX_TALLY_PATH_MAX);
    long_path[0] = '/';
    long_path[FCGIX_TALLY_PATH_MAX] = '\0';
    assert_int_equal(fcgix_tally_claim(&tb->t, long_path, 1),
                     FCGIX_TALLY_TOO_LONG);
    long_path[FCGIX_TALLY_PATH_MAX - 1] = '\0'; /* the longest that fits */
    free_table(tb);
    tb = new_table(2);
    i = fcgix_tally_claim(&tb->t, long_path, 1);
    assert_true(i >= 0);
    assert_int_equal(fcgix_tally_find(&tb->t, long_path), i);
    free(long_path);
    free_table(tb);
}

/* Any process of httpd's User can write the table: a record with no NUL
 * in its path, a garbage state or one stuck in CLAIMING (its claimer
 * died) is passed over, and nothing is read outside the table. */
static void test_tampered_records_are_passed_over(void **state)
{
    table_t *tb = new_table(4);
    fcgix_tally_rec_t *r;
    int i, home, dynamic;
    const char *path = "/srv/app.fcgi";
    char buf[FCGIX_TALLY_PATH_MAX], small[4];

    (void)state;
    home = (int)(fcgix_tally_hash(path) % 4);
    for (i = 0; i < 3; i++) {
        r = fcgix_tally_rec(&tb->t, (home + i) % 4);
        memset(r->path, 'x', sizeof(r->path));
        r->hash = fcgix_tally_hash(path);          /* a lying hash */
        r->state = i == 0 ? 2u : i == 1 ? 7u : 1u; /* READY, ?, CLAIMING */
    }
    i = fcgix_tally_claim(&tb->t, path, 1);
    assert_int_equal(i, (home + 3) % 4);
    assert_int_equal(fcgix_tally_find(&tb->t, path), i);
    r = fcgix_tally_rec(&tb->t, i);
    memset(r->path, 'y', sizeof(r->path)); /* no NUL left */
    assert_int_equal(fcgix_tally_path(&tb->t, i, buf, sizeof(buf), &dynamic),
                     1);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_int_equal(dynamic, 1);
    assert_int_equal(
        fcgix_tally_path(&tb->t, i, small, sizeof(small), &dynamic), 1);
    assert_string_equal(small, "yyy");
    assert_int_equal(fcgix_tally_path(&tb->t, 4, buf, sizeof(buf), &dynamic),
                     0);
    r->state = 9u;
    assert_int_equal(fcgix_tally_path(&tb->t, i, buf, sizeof(buf), &dynamic),
                     0);
    assert_int_equal(fcgix_tally_find(&tb->t, path), -1);
    assert_int_equal(fcgix_tally_claim(&tb->t, path, 1), FCGIX_TALLY_FULL);
    free_table(tb);
}

/* A claimer preempted mid-claim, played by the relax hook: the record
 * at the path's home is CLAIMING, and the claim completes on the third
 * call of the hook. A search for the same path waits for it and finds
 * that record. Before the hook, it passed over it once its spins were
 * over and claimed a second record for the same path (CI caught it in
 * test_threads_count_and_claim_exactly on a loaded machine). */
static fcgix_tally_rec_t *preempted;
static const char *preempted_path;
static int relax_calls;

static void claimer_runs_on_third_relax(void)
{
    if (++relax_calls == 3) {
        strcpy(preempted->path, preempted_path);
        preempted->hash = fcgix_tally_hash(preempted_path);
        __atomic_store_n(&preempted->state, 2u, __ATOMIC_RELEASE); /* READY */
    }
}

static void test_claim_waits_for_a_preempted_claimer(void **state)
{
    table_t *tb = new_table(4);
    const char *path = "/srv/app.fcgi";
    int home = (int)(fcgix_tally_hash(path) % 4);

    (void)state;
    preempted = fcgix_tally_rec(&tb->t, home);
    preempted_path = path;
    relax_calls = 0;
    preempted->state = 1u; /* CLAIMING */
    tb->t.relax = claimer_runs_on_third_relax;
    assert_int_equal(fcgix_tally_claim(&tb->t, path, 1), home);
    assert_int_equal(relax_calls, 3);
    assert_int_equal(fcgix_tally_find(&tb->t, path), home);
    free_table(tb);
}

/* ------------------------------------------------------------------ */
/* Counting and reading                                                */
/* ------------------------------------------------------------------ */

static void test_counts(void **state)
{
    table_t *tb = new_table(4);
    fcgix_tally_rec_t *r = claimed(tb, "/srv/a.fcgi");
    fcgix_tally_view_t v;

    (void)state;
    fcgix_tally_begin(r);
    fcgix_tally_begin(r);
    fcgix_tally_read(r, T0, &v);
    assert_int_equal(v.in_flight, 2);
    assert_int_equal(v.requests, 0);
    fcgix_tally_end(r, -1, 1000, 10, 200, T0);
    fcgix_tally_end(r, 2, 3000, 0, 0, T0);
    fcgix_tally_begin(r);
    fcgix_tally_end(r, 99, -7, 1, 2, T0); /* bad kind, negative time */
    fcgix_tally_read(r, T0, &v);
    assert_int_equal(v.in_flight, 0);
    assert_int_equal(v.requests, 3);
    assert_int_equal(v.errors[0], 0);
    assert_int_equal(v.errors[2], 1);
    assert_int_equal(v.bytes_in, 11);
    assert_int_equal(v.bytes_out, 202);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.sum_us, 4000);
    assert_int_equal(v.count[0], 1);
    assert_int_equal(v.count[fcgix_tally_bucket(1000)], 1);
    assert_int_equal(v.recent_n, 3);
    assert_int_equal(v.recent_sum_us, 4000);
    assert_int_equal(v.recent_ms, FCGIX_TALLY_EPOCH_MS);
    /* A request counted in flight by a process that died is never
     * ended; one ended twice never shows as negative. */
    fcgix_tally_end(r, -1, 1, 0, 0, T0);
    fcgix_tally_read(r, T0, &v);
    assert_int_equal(v.in_flight, 0);
    free_table(tb);
}

static void test_window_keeps_previous_epoch_only(void **state)
{
    table_t *tb = new_table(4);
    fcgix_tally_rec_t *r = claimed(tb, "/srv/a.fcgi");
    fcgix_tally_view_t v;
    int64_t e = FCGIX_TALLY_EPOCH_MS;

    (void)state;
    fcgix_tally_end(r, -1, 500, 0, 0, T0 + 10);
    fcgix_tally_read(r, T0 + 30000, &v);
    assert_int_equal(v.recent_n, 1);
    assert_int_equal(v.recent_ms, e + 30000);
    fcgix_tally_end(r, -1, 700, 0, 0, T0 + e + 5);
    fcgix_tally_read(r, T0 + e + 10, &v);
    assert_int_equal(v.recent_n, 2); /* previous + current */
    fcgix_tally_read(r, T0 + 2 * e, &v);
    assert_int_equal(v.recent_n, 1); /* only the previous one */
    assert_int_equal(v.recent_sum_us, 700);
    fcgix_tally_read(r, T0 + 3 * e, &v);
    assert_int_equal(v.recent_n, 0);
    assert_int_equal(v.n, 2); /* the counts keep everything */
    /* Three epochs on, the first one's slot holds the new epoch alone. */
    fcgix_tally_end(r, -1, 900, 0, 0, T0 + 3 * e);
    fcgix_tally_read(r, T0 + 3 * e, &v);
    assert_int_equal(v.recent_n, 1);
    assert_int_equal(v.recent_sum_us, 900);
    free_table(tb);
}

static void test_window_after_a_long_pause(void **state)
{
    table_t *tb = new_table(4);
    fcgix_tally_rec_t *r = claimed(tb, "/srv/a.fcgi");
    fcgix_tally_view_t v;
    int64_t e = FCGIX_TALLY_EPOCH_MS;
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        fcgix_tally_end(r, -1, 100, 0, 0, T0 + i * e);
    }
    fcgix_tally_end(r, -1, 100, 0, 0, T0 + 1000 * e + 1);
    fcgix_tally_read(r, T0 + 1000 * e + 2, &v);
    assert_int_equal(v.recent_n, 1);
    assert_int_equal(v.n, 6);
    free_table(tb);
}

static void test_clock_going_back(void **state)
{
    table_t *tb = new_table(4);
    fcgix_tally_rec_t *r = claimed(tb, "/srv/a.fcgi");
    fcgix_tally_view_t v;
    int64_t e = FCGIX_TALLY_EPOCH_MS;

    (void)state;
    fcgix_tally_end(r, -1, 100, 0, 0, T0 + 3 * e);
    /* An hour back, and back to T0: their epochs' slots hold later
     * epochs, so they count nowhere in the window (only in the counts). */
    fcgix_tally_end(r, -1, 100, 0, 0, T0 - 60 * e);
    fcgix_tally_end(r, -1, 100, 0, 0, T0);
    fcgix_tally_read(r, T0 + 3 * e, &v);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.recent_n, 1);
    fcgix_tally_end(r, -1, 100, 0, 0, -1); /* no clock: counts only */
    fcgix_tally_read(r, -1, &v);
    assert_int_equal(v.n, 4);
    assert_int_equal(v.recent_n, 0);
    free_table(tb);
}

/* ------------------------------------------------------------------ */
/* Quantiles                                                           */
/* ------------------------------------------------------------------ */

static void test_quantiles(void **state)
{
    uint64_t c[FCGIX_TALLY_NBUCKETS];
    int b1 = fcgix_tally_bucket(1000), b2 = fcgix_tally_bucket(200000);
    int64_t q;

    (void)state;
    memset(c, 0, sizeof(c));
    assert_int_equal(fcgix_tally_quantile(c, 0.5), -1);
    c[b1] = 99; /* 99 at 1 ms, one at 200 ms */
    c[b2] = 1;
    q = fcgix_tally_quantile(c, 0.5);
    assert_true(q > fcgix_tally_bounds[b1 - 1] && q <= 1000);
    q = fcgix_tally_quantile(c, 0.99);
    assert_true(q <= 1000);
    q = fcgix_tally_quantile(c, 1.0);
    assert_true(q > fcgix_tally_bounds[b2 - 1] && q <= 200000);
    /* one sample: the middle of its bucket */
    memset(c, 0, sizeof(c));
    c[b1] = 1;
    assert_int_equal(fcgix_tally_quantile(c, 0.5),
                     (fcgix_tally_bounds[b1 - 1] + 1000) / 2);
    /* the first bucket starts at 0; past the last bound: 100 s */
    memset(c, 0, sizeof(c));
    c[0] = 2;
    assert_int_equal(fcgix_tally_quantile(c, 0.5), 50);
    c[FCGIX_TALLY_NBUCKETS - 1] = 98;
    assert_int_equal(fcgix_tally_quantile(c, 0.99), 100000000);
    assert_int_equal(fcgix_tally_quantile(c, 5.0), 100000000);
}

static void test_quantile_of_a_spread(void **state)
{
    table_t *tb = new_table(2);
    fcgix_tally_rec_t *r = claimed(tb, "/srv/a.fcgi");
    fcgix_tally_view_t v;
    int64_t p50, p99;
    int i;

    (void)state;
    /* 1..1000 ms, one each: p50 ~ 500 ms, p99 ~ 990 ms, within a
     * bucket's width (25 %). */
    for (i = 1; i <= 1000; i++) {
        fcgix_tally_end(r, -1, (int64_t)i * 1000, 0, 0, T0);
    }
    fcgix_tally_read(r, T0, &v);
    p50 = fcgix_tally_quantile(v.recent, 0.5);
    p99 = fcgix_tally_quantile(v.recent, 0.99);
    assert_true(p50 >= 400000 && p50 <= 630000);
    assert_true(p99 >= 800000 && p99 <= 1000000);
    assert_int_equal(v.recent_sum_us / v.recent_n, 500500);
    free_table(tb);
}

/* ------------------------------------------------------------------ */
/* A new table                                                         */
/* ------------------------------------------------------------------ */

static void test_carry(void **state)
{
    table_t *old = new_table(2), *tb = new_table(8);
    fcgix_tally_rec_t *o = claimed(old, "/srv/a.fcgi");
    fcgix_tally_view_t v;
    int i;

    (void)state;
    fcgix_tally_begin(o);
    fcgix_tally_begin(o);
    fcgix_tally_end(o, 1, 2000, 5, 6, T0);
    i = fcgix_tally_claim(&tb->t, "/srv/a.fcgi", 0);
    fcgix_tally_carry(&tb->t, i, o);
    fcgix_tally_carry(&tb->t, 99, o); /* out of range: nothing */
    fcgix_tally_read(fcgix_tally_rec(&tb->t, i), T0, &v);
    assert_int_equal(v.requests, 1);
    assert_int_equal(v.in_flight, 0);
    assert_int_equal(v.errors[1], 1);
    assert_int_equal(v.bytes_in, 5);
    assert_int_equal(v.bytes_out, 6);
    assert_int_equal(v.count[fcgix_tally_bucket(2000)], 1);
    assert_int_equal(v.recent_n, 0); /* the window starts again */
    free_table(old);
    free_table(tb);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

#define THREADS 8
#define PATHS 8
#define ROUNDS 20000

typedef struct {
    table_t *tb;
    int index[PATHS]; /* what this thread's claims returned */
} racer_t;

static void yield_cpu(void)
{
    sched_yield();
}

static void *count_and_claim(void *arg)
{
    racer_t *me = arg;
    fcgix_tally_rec_t *r;
    char path[32];
    int i, k;

    for (k = 0; k < PATHS; k++) {
        snprintf(path, sizeof(path), "/srv/dyn%d.fcgi", k);
        me->index[k] = fcgix_tally_claim(&me->tb->t, path, 1);
    }
    r = fcgix_tally_rec(&me->tb->t, me->index[0]);
    for (i = 0; r && i < ROUNDS; i++) {
        fcgix_tally_begin(r);
        fcgix_tally_end(r, i % 5 - 1, i % 3000, 1, 2,
                        T0 + (int64_t)(i % 7) * 10);
    }
    return NULL;
}

/* Threads claim the same new paths at once: each path gets one record,
 * and every thread the same; their counts add up exactly. */
static void test_threads_count_and_claim_exactly(void **state)
{
    table_t *tb = new_table(64);
    racer_t racer[THREADS];
    pthread_t th[THREADS];
    fcgix_tally_view_t v;
    int k, j;

    (void)state;
    tb->t.relax = yield_cpu; /* as the module does */
    for (k = 0; k < THREADS; k++) {
        racer[k].tb = tb;
        assert_int_equal(
            pthread_create(&th[k], NULL, count_and_claim, &racer[k]), 0);
    }
    for (k = 0; k < THREADS; k++) {
        pthread_join(th[k], NULL);
    }
    for (j = 0; j < PATHS; j++) {
        assert_true(racer[0].index[j] >= 0);
        for (k = 1; k < THREADS; k++) {
            assert_int_equal(racer[k].index[j], racer[0].index[j]);
        }
    }
    fcgix_tally_read(fcgix_tally_rec(&tb->t, racer[0].index[0]), T0, &v);
    assert_int_equal(v.requests, THREADS * ROUNDS);
    assert_int_equal(v.in_flight, 0);
    assert_int_equal(v.n, THREADS * ROUNDS);
    assert_int_equal(v.recent_n, THREADS * ROUNDS);
    assert_int_equal(v.bytes_out, 2 * THREADS * ROUNDS);
    assert_int_equal(v.errors[0] + v.errors[1] + v.errors[2] + v.errors[3],
                     THREADS * ROUNDS / 5 * 4);
    free_table(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_are_r10_from_100us_to_100s),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_claim_find_same_record),
        cmocka_unit_test(test_colliding_paths_probe_on),
        cmocka_unit_test(test_full_table_and_long_path),
        cmocka_unit_test(test_tampered_records_are_passed_over),
        cmocka_unit_test(test_claim_waits_for_a_preempted_claimer),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_window_keeps_previous_epoch_only),
        cmocka_unit_test(test_window_after_a_long_pause),
        cmocka_unit_test(test_clock_going_back),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_quantile_of_a_spread),
        cmocka_unit_test(test_carry),
        cmocka_unit_test(test_threads_count_and_claim_exactly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
