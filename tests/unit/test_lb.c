/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_lb.c
 * @brief cmocka unit tests of fcgi_lb, the member board of balanced
 *        FastCgiExternalServers: least-conn, round-robin and first,
 *        the skip mask of members a request tried, backups, -max-fails,
 *        -fail-timeout and its one trial request, -max-conns, carrying
 *        a member's history over a restart, re-resolution (a record's
 *        new address, or none: kept for a name) and reading an address
 *        as of one moment, active health checks' outcomes, and the
 *        bounds of every index and string. Each test sets up a board
 *        and a group as fcgi_balance would and picks members as
 *        requests do.
 *
 * Times are passed in (now_ms), so no test sleeps. The boards live in
 * exactly sized heap allocations, so that AddressSanitizer (the unit
 * build) and valgrind (vg-unit) catch a read or write past them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_lb.h"

/* A clock far from 0, which the board uses for "never" and "up". */
#define T0 INT64_C(1700000000000)
#define FAIL_TIMEOUT 10000
#define TRIAL_TIMEOUT 60000
#define MAX_GROUP 8

typedef struct {
    fcgix_lb_t *lb;   /* the board, or NULL before make_board() */
    fcgix_lb_t board; /* what lb points to */
    void *mem;
    fcgix_lb_t old_board; /* a second board, for fcgix_lb_carry() */
    void *old_mem;
    int records[MAX_GROUP];
    fcgix_lb_group_t g;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    free(fx->mem);
    free(fx->old_mem);
    free(fx);
    return 0;
}

/* A board of @p n records, in memory of exactly its size. */
static void make_board(fixture_t *fx, int n)
{
    size_t size = fcgix_lb_size(n);

    fx->mem = malloc(size);
    assert_non_null(fx->mem);
    memset(fx->mem, 0xa5, size); /* init must not rely on zeroed memory */
    fx->lb = fcgix_lb_init(&fx->board, fx->mem, n);
    assert_ptr_equal(fx->lb, &fx->board);
    assert_int_equal(fx->lb->nmembers, n);
    assert_int_equal(fx->lb->head->nmembers, n);
}

static void set_member(fixture_t *fx, int record, int n, int backup)
{
    char address[32];

    snprintf(address, sizeof(address), "10.0.0.%d:9000", n);
    fcgix_lb_set(fx->lb, record, "/srv/app", address, backup);
}

/* The group's rules, records aside: one failure takes a member down. */
static void group_rules(fixture_t *fx, fcgix_lb_method_t method, int n)
{
    fx->g.records = fx->records;
    fx->g.n = n;
    fx->g.method = method;
    fx->g.max_fails = 1;
    fx->g.fail_timeout_ms = FAIL_TIMEOUT;
    fx->g.max_conns = 0;
    fx->g.trial_timeout_ms = TRIAL_TIMEOUT;
}

/* A board of @p nprimary + @p nbackup records holding one app, in order
 * (the backups last), as fcgi_balance would set it up. */
static void make_group(fixture_t *fx, fcgix_lb_method_t method, int nprimary,
                       int nbackup)
{
    int n = nprimary + nbackup, k;

    assert_true(n <= MAX_GROUP);
    make_board(fx, n);
    for (k = 0; k < n; k++) {
        set_member(fx, k, k, k >= nprimary);
        fx->records[k] = k;
    }
    group_rules(fx, method, n);
}

/* The group's member @p k. */
static fcgix_lb_member_t *gm(const fixture_t *fx, int k)
{
    fcgix_lb_member_t *m = fcgix_lb_member(fx->lb, fx->records[k]);

    assert_non_null(m);
    return m;
}

/* Pick, expecting a member that is not a trial; its group index. */
static int pick(fixture_t *fx, uint64_t skip, int64_t now)
{
    int index = -1, trial = -1;

    assert_int_equal(fcgix_lb_pick(fx->lb, &fx->g, skip, now, &index, &trial),
                     FCGIX_LB_PICKED);
    assert_true(index >= 0 && index < fx->g.n);
    assert_int_equal(trial, 0);
    return index;
}

/* Pick, expecting member @p k's trial request. */
static void pick_trial(fixture_t *fx, int k, int64_t now)
{
    int index = -1, trial = -1;

    assert_int_equal(fcgix_lb_pick(fx->lb, &fx->g, 0, now, &index, &trial),
                     FCGIX_LB_PICKED);
    assert_int_equal(index, k);
    assert_int_equal(trial, 1);
}

static fcgix_lb_pick_t pick_none(fixture_t *fx, uint64_t skip, int64_t now)
{
    int index = -1, trial = -1;

    return fcgix_lb_pick(fx->lb, &fx->g, skip, now, &index, &trial);
}

/* Take member @p k down (max_fails 1) at @p now. */
static void take_down(fixture_t *fx, int k, int64_t now)
{
    assert_int_equal(fx->g.max_fails, 1);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, k, "refused", now), 1);
    assert_int_equal(gm(fx, k)->down_until_ms, now + FAIL_TIMEOUT);
}

/* Least-conn takes the member with the fewest requests in flight. */
static void test_lb_least_conn_fewest(void **state)
{
    fixture_t *fx = *state;
    int first, second, third, k;

    make_group(fx, FCGIX_LB_LEAST_CONN, 3, 0);
    first = pick(fx, 0, T0);
    second = pick(fx, 0, T0);
    third = pick(fx, 0, T0);
    /* one request each before any has a second */
    assert_true(first != second && second != third && first != third);
    for (k = 0; k < 3; k++) {
        assert_int_equal(gm(fx, k)->in_flight, 1);
    }
    pick(fx, 0, T0); /* 2, 1, 1 in some order */
    pick(fx, 0, T0); /* 2, 2, 1 */
    for (k = 0; k < 3 && gm(fx, k)->in_flight != 1; k++) {
    }
    assert_true(k < 3);
    assert_int_equal(pick(fx, 0, T0), k); /* the only one with 1 */
    /* one ends: that member is the only one with fewer */
    fcgix_lb_done(fx->lb, &fx->g, 1, 1, T0);
    assert_int_equal(pick(fx, 0, T0), 1);
    fcgix_lb_done(fx->lb, &fx->g, 2, 1, T0);
    fcgix_lb_done(fx->lb, &fx->g, 2, 1, T0);
    assert_int_equal(pick(fx, 0, T0), 2);
    assert_int_equal(pick(fx, 0, T0), 2);
}

/* Least-conn ties take turns: with every request over before the next
 * one, each member gets the same share. */
static void test_lb_least_conn_ties_even(void **state)
{
    fixture_t *fx = *state;
    int count[4] = {0}, i, k;

    make_group(fx, FCGIX_LB_LEAST_CONN, 4, 0);
    for (i = 0; i < 400; i++) {
        k = pick(fx, 0, T0 + i);
        count[k]++;
        assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, k, 1, T0 + i), 0);
    }
    for (k = 0; k < 4; k++) {
        assert_int_equal(count[k], 100);
        assert_int_equal(gm(fx, k)->in_flight, 0);
        assert_int_equal(gm(fx, k)->served, 100);
    }
}

/* Least-conn ties take turns among the primaries also when the group
 * has a backup: the backup's place in the order is no extra turn for
 * a primary. */
static void test_lb_least_conn_ties_even_with_backup(void **state)
{
    fixture_t *fx = *state;
    int count[4] = {0}, i, k;

    make_group(fx, FCGIX_LB_LEAST_CONN, 3, 1);
    for (i = 0; i < 300; i++) {
        k = pick(fx, 0, T0);
        count[k]++;
        fcgix_lb_done(fx->lb, &fx->g, k, 1, T0);
    }
    assert_int_equal(count[3], 0); /* the backup, primaries being up */
    for (k = 0; k < 3; k++) {
        assert_int_equal(count[k], 100);
    }
}

/* Requests in flight are counted exactly: one more per pick, one less
 * per done() (ok or not) and per failed(). */
static void test_lb_in_flight_exact(void **state)
{
    fixture_t *fx = *state;
    int i, k;

    make_group(fx, FCGIX_LB_LEAST_CONN, 2, 0);
    fx->g.max_fails = 100; /* failures here must not take one down */
    for (i = 0; i < 10; i++) {
        pick(fx, 0, T0);
    }
    assert_int_equal(gm(fx, 0)->in_flight, 5);
    assert_int_equal(gm(fx, 1)->in_flight, 5);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 0, T0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "reset", T0), 0);
    assert_int_equal(gm(fx, 0)->in_flight, 2);
    assert_int_equal(gm(fx, 1)->in_flight, 5);
    assert_int_equal(gm(fx, 0)->served, 1);
    assert_int_equal(gm(fx, 0)->failures, 1);
    for (k = 0; k < 2; k++) {
        while (gm(fx, k)->in_flight > 0) {
            fcgix_lb_done(fx->lb, &fx->g, k, 1, T0);
        }
    }
    assert_int_equal(gm(fx, 0)->served, 3);
    assert_int_equal(gm(fx, 1)->served, 5);
    /* an index outside the group changes nothing */
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 2, 1, T0), 0);
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, -1, 1, T0), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 2, "x", T0), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, -1, "x", T0), 0);
}

/* Round-robin takes each member in turn, whatever its load. */
static void test_lb_round_robin_cycles(void **state)
{
    fixture_t *fx = *state;
    int count[4] = {0}, i, k, prev;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 4, 0);
    prev = pick(fx, 0, T0);
    count[prev]++;
    for (i = 1; i < 400; i++) { /* none ends: load does not matter */
        k = pick(fx, 0, T0);
        assert_int_equal(k, (prev + 1) % 4);
        count[k]++;
        prev = k;
    }
    for (k = 0; k < 4; k++) {
        assert_int_equal(count[k], 100);
        assert_int_equal(gm(fx, k)->in_flight, 100);
    }
}

/* Round-robin takes each primary in turn also when the group has a
 * backup. */
static void test_lb_round_robin_even_with_backup(void **state)
{
    fixture_t *fx = *state;
    int count[4] = {0}, i, k;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 3, 1);
    for (i = 0; i < 300; i++) {
        k = pick(fx, 0, T0);
        count[k]++;
        fcgix_lb_done(fx->lb, &fx->g, k, 1, T0);
    }
    assert_int_equal(count[3], 0);
    for (k = 0; k < 3; k++) {
        assert_int_equal(count[k], 100);
    }
}

/* First takes the first member that is up, whatever its load; the next
 * only when the first is down or tried by this request. */
static void test_lb_first(void **state)
{
    fixture_t *fx = *state;
    int i;

    make_group(fx, FCGIX_LB_FIRST, 3, 0);
    for (i = 0; i < 5; i++) { /* none ends */
        assert_int_equal(pick(fx, 0, T0), 0);
    }
    assert_int_equal(gm(fx, 0)->in_flight, 5);
    assert_int_equal(pick(fx, 1u << 0, T0), 1);
    assert_int_equal(pick(fx, (1u << 0) | (1u << 1), T0), 2);
    assert_int_equal(pick(fx, 1u << 1, T0), 0);
    take_down(fx, 0, T0);
    assert_int_equal(pick(fx, 0, T0 + 1), 1);
    assert_int_equal(pick(fx, 0, T0 + 1), 1);
    assert_int_equal(pick(fx, 1u << 1, T0 + 1), 2);
    take_down(fx, 1, T0 + 1);
    assert_int_equal(pick(fx, 0, T0 + 2), 2);
}

/* The members a request tried already are passed over. */
static void test_lb_skip_mask(void **state)
{
    fixture_t *fx = *state;
    int i;

    make_group(fx, FCGIX_LB_LEAST_CONN, 3, 0);
    for (i = 0; i < 6; i++) {
        assert_true(pick(fx, 1u << 1, T0) != 1);
    }
    assert_int_equal(gm(fx, 1)->in_flight, 0);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, (1u << 0) | (1u << 2), T0), 1);
    }
    /* every member tried and no backup: none */
    assert_int_equal(pick_none(fx, 7, T0), FCGIX_LB_ALL_DOWN);
    /* bits past the group's members do not matter */
    pick(fx, ~(uint64_t)7, T0);
}

/* Backups take requests when every primary is down or tried by this
 * request; a backup tried too leaves none. */
static void test_lb_backup_when_primaries_gone(void **state)
{
    fixture_t *fx = *state;
    int k;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 2);
    for (k = 0; k < 8; k++) {
        assert_true(pick(fx, 0, T0) < 2);
    }
    /* both primaries tried */
    k = pick(fx, 3, T0);
    assert_true(k == 2 || k == 3);
    assert_int_equal(pick(fx, 3 | (1u << 2), T0), 3);
    assert_int_equal(pick_none(fx, 15, T0), FCGIX_LB_ALL_DOWN);
    /* one primary tried, the other down */
    take_down(fx, 0, T0);
    k = pick(fx, 1u << 1, T0);
    assert_true(k == 2 || k == 3);
    /* both down */
    take_down(fx, 1, T0);
    for (k = 0; k < 8; k++) {
        assert_true(pick(fx, 0, T0 + 1) >= 2);
    }
}

/* No backup takes a request while a primary is up, not even when that
 * primary has max_conns in flight: the caller waits (ALL_BUSY). */
static void test_lb_backup_not_while_primary_busy(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_LEAST_CONN, 2, 1);
    fx->g.max_conns = 1;
    take_down(fx, 1, T0);
    assert_int_equal(pick(fx, 0, T0), 0);
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    assert_int_equal(gm(fx, 2)->in_flight, 0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    assert_int_equal(pick(fx, 0, T0), 0);
    assert_int_equal(gm(fx, 2)->in_flight, 0);
}

/* A member goes down after max_fails failures in a row, not before;
 * failed() says so once, on the failure that takes it down. */
static void test_lb_max_fails(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;

    make_group(fx, FCGIX_LB_FIRST, 2, 0);
    fx->g.max_fails = 3;
    m = gm(fx, 0);
    assert_int_equal(pick(fx, 0, T0), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0), 0);
    assert_int_equal(pick(fx, 0, T0 + 1), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0 + 1), 0);
    assert_int_equal(m->fails, 2);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0 + 1), FCGIX_LB_UP);
    assert_int_equal(pick(fx, 0, T0 + 2), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "timed out", T0 + 2),
                     1);
    assert_int_equal(m->down_until_ms, T0 + 2 + FAIL_TIMEOUT);
    assert_int_equal(m->since_ms, T0 + 2);
    assert_int_equal(m->failures, 3);
    assert_int_equal(m->last_error_ms, T0 + 2);
    assert_string_equal(m->last_error, "timed out");
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0 + 2), FCGIX_LB_DOWN);
    assert_int_equal(pick(fx, 0, T0 + 3), 1);
    /* a request that was under way fails late: no second "down" */
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "reset", T0 + 3), 0);
    assert_int_equal(m->since_ms, T0 + 2);
    assert_int_equal(m->failures, 4);
}

/* An answer between failures starts the count again; a request that
 * ended without an answer (done, ok 0) does not. */
static void test_lb_max_fails_reset_by_success(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    int i;

    make_group(fx, FCGIX_LB_FIRST, 1, 0);
    fx->g.max_fails = 3;
    m = gm(fx, 0);
    for (i = 0; i < 2; i++) {
        pick(fx, 0, T0);
        assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0), 0);
    }
    pick(fx, 0, T0);
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0), 0);
    assert_int_equal(m->fails, 0);
    for (i = 0; i < 2; i++) {
        pick(fx, 0, T0);
        assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0), 0);
    }
    pick(fx, 0, T0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 0, T0); /* client gone */
    assert_int_equal(m->fails, 2);
    assert_int_equal(m->down_until_ms, 0);
    pick(fx, 0, T0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0), 1);
    assert_int_equal(m->failures, 5);
    assert_int_equal(m->served, 1);
}

/* A down member takes no request until its fail-timeout is over. */
static void test_lb_fail_timeout_not_picked(void **state)
{
    fixture_t *fx = *state;
    int64_t t;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    take_down(fx, 0, T0);
    for (t = T0; t < T0 + FAIL_TIMEOUT; t += FAIL_TIMEOUT / 20) {
        assert_int_equal(pick(fx, 0, t), 1);
    }
    assert_int_equal(pick(fx, 0, T0 + FAIL_TIMEOUT - 1), 1);
    assert_int_equal(pick(fx, 0, T0 + FAIL_TIMEOUT - 1), 1);
    assert_int_equal(gm(fx, 0)->in_flight, 0);
}

/* When its fail-timeout is over, a down member gets one request, its
 * trial; another request meanwhile does not get it. */
static void test_lb_trial_one_request(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    take_down(fx, 0, T0);
    pick_trial(fx, 0, T0 + FAIL_TIMEOUT);
    assert_int_equal(gm(fx, 0)->in_flight, 1);
    assert_int_equal(gm(fx, 0)->trial_ms, T0 + FAIL_TIMEOUT);
    assert_int_equal(pick(fx, 0, T0 + FAIL_TIMEOUT), 1);
    assert_int_equal(pick(fx, 0, T0 + FAIL_TIMEOUT + 1000), 1);
    assert_int_equal(gm(fx, 0)->in_flight, 1);
    /* the only member: no other request while the trial is under way */
    take_down(fx, 1, T0 + FAIL_TIMEOUT + 1000);
    assert_int_equal(pick_none(fx, 0, T0 + FAIL_TIMEOUT + 2000),
                     FCGIX_LB_ALL_DOWN);
    assert_int_equal(gm(fx, 0)->in_flight, 1);
}

/* A trial request that a request tried already is passed over. */
static void test_lb_trial_skipped_when_tried(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    take_down(fx, 0, T0);
    assert_int_equal(pick(fx, 1u << 0, T0 + FAIL_TIMEOUT), 1);
    assert_int_equal(gm(fx, 0)->trial_ms, 0);
    pick_trial(fx, 0, T0 + FAIL_TIMEOUT);
}

/* A trial that is answered brings the member up: done() says so, and
 * the member is up since then, its failures at 0. */
static void test_lb_trial_success(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    int64_t t = T0 + FAIL_TIMEOUT + 5;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    m = gm(fx, 0);
    take_down(fx, 0, T0);
    assert_int_equal(m->since_ms, T0);
    pick_trial(fx, 0, t);
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, t + 7), 1);
    assert_int_equal(m->since_ms, t + 7);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->trial_ms, 0);
    assert_int_equal(m->fails, 0);
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(m->served, 1);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + 7), FCGIX_LB_UP);
    /* up: it takes its turns again, not as trials */
    assert_true(pick(fx, 0, t + 8) != pick(fx, 0, t + 8));
    assert_int_equal(m->in_flight, 1);
    /* another answer: no second "up" */
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, t + 9), 0);
    assert_int_equal(m->since_ms, t + 7);
}

/* A trial that fails keeps the member down for another whole
 * fail-timeout, counted from that failure. */
static void test_lb_trial_failure(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    int64_t t = T0 + FAIL_TIMEOUT + 300;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    m = gm(fx, 0);
    take_down(fx, 0, T0);
    pick_trial(fx, 0, t);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", t + 20), 0);
    assert_int_equal(m->down_until_ms, t + 20 + FAIL_TIMEOUT);
    assert_int_equal(m->since_ms, T0); /* down since the first failure */
    assert_int_equal(m->trial_ms, 0);
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + 20), FCGIX_LB_DOWN);
    assert_int_equal(pick(fx, 0, t + 20), 1);
    assert_int_equal(pick(fx, 0, t + 20 + FAIL_TIMEOUT - 1), 1);
    assert_int_equal(m->in_flight, 0);
    pick_trial(fx, 0, t + 20 + FAIL_TIMEOUT);
}

/* A trial whose request never ends (its process died) is given to the
 * next request trial_timeout_ms after it began, not before. */
static void test_lb_trial_handed_on(void **state)
{
    fixture_t *fx = *state;
    int64_t t = T0 + FAIL_TIMEOUT;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    take_down(fx, 0, T0);
    pick_trial(fx, 0, t);
    assert_int_equal(pick(fx, 0, t + TRIAL_TIMEOUT - 1), 1);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + TRIAL_TIMEOUT - 1),
                     FCGIX_LB_TRIAL);
    pick_trial(fx, 0, t + TRIAL_TIMEOUT);
    assert_int_equal(gm(fx, 0)->trial_ms, t + TRIAL_TIMEOUT);
    assert_int_equal(pick(fx, 0, t + TRIAL_TIMEOUT), 1);
    /* the new trial is answered: up */
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, t + TRIAL_TIMEOUT + 1),
                     1);
}

/* Every member down: no pick, and the time until the first trial is
 * due (for Retry-After), 0 once one is due or when none is down. */
static void test_lb_all_down(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_LEAST_CONN, 2, 1);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0), 0);
    take_down(fx, 0, T0);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + 100),
                     FAIL_TIMEOUT - 100);
    take_down(fx, 1, T0 + 3000);
    take_down(fx, 2, T0 + 1000);
    assert_int_equal(pick_none(fx, 0, T0 + 3000), FCGIX_LB_ALL_DOWN);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + 3000),
                     FAIL_TIMEOUT - 3000);
    assert_int_equal(
        fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + FAIL_TIMEOUT - 1), 1);
    assert_int_equal(pick_none(fx, 0, T0 + FAIL_TIMEOUT - 1),
                     FCGIX_LB_ALL_DOWN);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + FAIL_TIMEOUT),
                     0);
    pick_trial(fx, 0, T0 + FAIL_TIMEOUT);
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0 + FAIL_TIMEOUT), 1);
    /* 1 and 2 still down: 2's trial is due first */
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + FAIL_TIMEOUT),
                     1000);
}

/* A member with max_conns in flight takes no more; when every member
 * that is up has, the pick says so (ALL_BUSY), until one ends. */
static void test_lb_max_conns(void **state)
{
    fixture_t *fx = *state;
    int i, k;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    fx->g.max_conns = 2;
    for (i = 0; i < 4; i++) {
        pick(fx, 0, T0);
    }
    assert_int_equal(gm(fx, 0)->in_flight, 2);
    assert_int_equal(gm(fx, 1)->in_flight, 2);
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    fcgix_lb_done(fx->lb, &fx->g, 1, 1, T0);
    for (i = 0; i < 3; i++) { /* round-robin or not, 1 is the one free */
        assert_int_equal(pick(fx, 0, T0), 1);
        assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
        fcgix_lb_done(fx->lb, &fx->g, 1, 1, T0);
    }
    /* one full, the other down: busy, not down */
    take_down(fx, 1, T0);
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    k = pick(fx, 0, T0);
    assert_int_equal(k, 0);
    assert_int_equal(gm(fx, 0)->in_flight, 2);
}

/* Least-conn and first keep to max_conns too. */
static void test_lb_max_conns_methods(void **state)
{
    fixture_t *fx = *state;
    int i;

    make_group(fx, FCGIX_LB_FIRST, 2, 0);
    fx->g.max_conns = 3;
    for (i = 0; i < 3; i++) {
        assert_int_equal(pick(fx, 0, T0), 0);
    }
    for (i = 0; i < 3; i++) {
        assert_int_equal(pick(fx, 0, T0), 1);
    }
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    fx->g.method = FCGIX_LB_LEAST_CONN;
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    assert_int_equal(pick(fx, 0, T0), 0);
    assert_int_equal(pick_none(fx, 0, T0), FCGIX_LB_ALL_BUSY);
}

/* Requests in flight never go below 0: a done() or failed() the board
 * did not count (lost in a restart) leaves 0. */
static void test_lb_in_flight_not_negative(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_LEAST_CONN, 2, 0);
    fx->g.max_fails = 10;
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    assert_int_equal(gm(fx, 0)->in_flight, 0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 0, T0);
    assert_int_equal(gm(fx, 0)->in_flight, 0);
    fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0);
    assert_int_equal(gm(fx, 0)->in_flight, 0);
    pick(fx, 1u << 1, T0);
    assert_int_equal(gm(fx, 0)->in_flight, 1);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    assert_int_equal(gm(fx, 0)->in_flight, 0);
    /* still counted as least loaded, not as "less than nothing" */
    assert_int_equal(pick(fx, 1u << 1, T0), 0);
    assert_int_equal(gm(fx, 0)->in_flight, 1);
}

/* Records are reached only inside the board: -1 and nmembers are none;
 * set() and clear() outside it touch nothing (ASan would tell). */
static void test_lb_member_bounds(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;

    make_board(fx, 3);
    assert_null(fcgix_lb_member(fx->lb, -1));
    assert_null(fcgix_lb_member(fx->lb, 3));
    assert_null(fcgix_lb_member(fx->lb, INT32_MAX));
    assert_ptr_equal(fcgix_lb_member(fx->lb, 0), fx->lb->members);
    assert_ptr_equal(fcgix_lb_member(fx->lb, 2), &fx->lb->members[2]);
    /* init zeroed the records: none used, all up */
    m = fcgix_lb_member(fx->lb, 2);
    assert_int_equal(m->used, 0);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->address[0], '\0');
    fcgix_lb_set(fx->lb, -1, "/srv/app", "a:1", 0);
    fcgix_lb_set(fx->lb, 3, "/srv/app", "a:1", 0);
    fcgix_lb_clear(fx->lb, -1);
    fcgix_lb_clear(fx->lb, 3);
    assert_int_equal(fcgix_lb_state(fx->lb, -1, T0), FCGIX_LB_UP);
    assert_int_equal(fcgix_lb_state(fx->lb, 3, T0), FCGIX_LB_UP);

    fcgix_lb_set(fx->lb, 2, "/srv/app", "10.0.0.2:9000", 7);
    assert_int_equal(m->used, 1);
    assert_int_equal(m->backup, 1);
    assert_string_equal(m->path, "/srv/app");
    assert_string_equal(m->address, "10.0.0.2:9000");
    m->fails = 3;
    m->down_until_ms = T0;
    m->served = 9;
    fcgix_lb_set(fx->lb, 2, "/srv/app", "10.0.0.2:9000", 0); /* no history */
    assert_int_equal(m->backup, 0);
    assert_int_equal(m->fails, 0);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->served, 0);
    fcgix_lb_clear(fx->lb, 2);
    assert_int_equal(m->used, 0);
    assert_int_equal(m->path[0], '\0');
    assert_int_equal(m->address[0], '\0');
}

/* A heap string of @p len copies of @p c, exactly sized. */
static char *long_string(size_t len, char c)
{
    char *s = malloc(len + 1);

    assert_non_null(s);
    memset(s, c, len);
    s[len] = '\0';
    return s;
}

/* A path or address too long for its field is cut to fit and stays
 * terminated; so is a last error. */
static void test_lb_set_truncates(void **state)
{
    fixture_t *fx = *state;
    char *path = long_string(300, 'p');
    char *address = long_string(FCGIX_LB_ADDR_MAX, 'a');
    char *why = long_string(FCGIX_LB_ERROR_MAX + 50, 'e');
    char *fits = long_string(FCGIX_LB_ADDR_MAX - 1, 'f');
    fcgix_lb_member_t *m;

    make_board(fx, 2);
    fcgix_lb_set(fx->lb, 1, path, address, 0);
    m = fcgix_lb_member(fx->lb, 1);
    assert_int_equal(strlen(m->path), FCGIX_LB_ADDR_MAX - 1);
    assert_int_equal(strlen(m->address), FCGIX_LB_ADDR_MAX - 1);
    assert_memory_equal(m->path, path, FCGIX_LB_ADDR_MAX - 1);
    assert_memory_equal(m->address, address, FCGIX_LB_ADDR_MAX - 1);
    fcgix_lb_set(fx->lb, 1, fits, fits, 0); /* just fits: whole */
    assert_string_equal(m->path, fits);
    assert_string_equal(m->address, fits);

    fx->records[0] = 1;
    group_rules(fx, FCGIX_LB_FIRST, 1);
    pick(fx, 0, T0);
    fcgix_lb_failed(fx->lb, &fx->g, 0, why, T0);
    assert_int_equal(strlen(m->last_error), FCGIX_LB_ERROR_MAX - 1);
    assert_memory_equal(m->last_error, why, FCGIX_LB_ERROR_MAX - 1);
    free(path);
    free(address);
    free(why);
    free(fits);
}

/* A second board, the one before a restart, of @p n records. */
static void make_old_board(fixture_t *fx, int n)
{
    size_t size = fcgix_lb_size(n);

    fx->old_mem = malloc(size);
    assert_non_null(fx->old_mem);
    fcgix_lb_init(&fx->old_board, fx->old_mem, n);
}

/* carry() takes a member's history (up or down and until when,
 * failures in a row, counts, last error) from the other board's record
 * with the same path and address; not its requests in flight. */
static void test_lb_carry(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *o, *m;

    make_old_board(fx, 3);
    fcgix_lb_set(&fx->old_board, 0, "/srv/app", "10.0.0.1:9000", 0);
    fcgix_lb_set(&fx->old_board, 1, "/srv/other", "10.0.0.2:9000", 0);
    fcgix_lb_set(&fx->old_board, 2, "/srv/app", "10.0.0.2:9000", 0);
    o = fcgix_lb_member(&fx->old_board, 2);
    o->in_flight = 4;
    o->fails = 2;
    o->down_until_ms = T0 + 500;
    o->since_ms = T0 - 500;
    o->served = 1234;
    o->failures = 56;
    o->last_error_ms = T0 - 400;
    strcpy(o->last_error, "connect: Connection refused");

    make_board(fx, 2);
    fcgix_lb_set(fx->lb, 1, "/srv/app", "10.0.0.2:9000", 1);
    assert_int_equal(fcgix_lb_carry(fx->lb, 1, &fx->old_board), 1);
    m = fcgix_lb_member(fx->lb, 1);
    assert_int_equal(m->used, 1);
    assert_int_equal(m->backup, 1); /* as set(), not as the old record */
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(m->fails, 2);
    assert_int_equal(m->down_until_ms, T0 + 500);
    assert_int_equal(m->since_ms, T0 - 500);
    assert_int_equal(m->served, 1234);
    assert_int_equal(m->failures, 56);
    assert_int_equal(m->last_error_ms, T0 - 400);
    assert_string_equal(m->last_error, "connect: Connection refused");
    assert_string_equal(m->path, "/srv/app");
    assert_string_equal(m->address, "10.0.0.2:9000");
    assert_int_equal(fcgix_lb_state(fx->lb, 1, T0), FCGIX_LB_DOWN);
    /* the old board is only read */
    assert_int_equal(o->in_flight, 4);
    assert_int_equal(o->served, 1234);
}

/* carry() finds nothing, and changes nothing, when no used record of
 * the other board has both the path and the address. */
static void test_lb_carry_no_match(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *o, *m;

    make_old_board(fx, 3);
    fcgix_lb_set(&fx->old_board, 0, "/srv/app", "10.0.0.1:9000", 0);
    fcgix_lb_set(&fx->old_board, 1, "/srv/other", "10.0.0.2:9000", 0);
    fcgix_lb_set(&fx->old_board, 2, "/srv/app", "10.0.0.2:9000", 0);
    o = fcgix_lb_member(&fx->old_board, 2);
    o->used = 0; /* a record no configuration used any more */
    o->served = 77;
    fcgix_lb_member(&fx->old_board, 0)->served = 78;
    fcgix_lb_member(&fx->old_board, 1)->served = 79;

    make_board(fx, 1);
    fcgix_lb_set(fx->lb, 0, "/srv/app", "10.0.0.2:9000", 0);
    assert_int_equal(fcgix_lb_carry(fx->lb, 0, &fx->old_board), 0);
    m = fcgix_lb_member(fx->lb, 0);
    assert_int_equal(m->served, 0);
    fcgix_lb_set(fx->lb, 0, "/srv/app", "10.0.0.2:900", 0); /* a prefix */
    assert_int_equal(fcgix_lb_carry(fx->lb, 0, &fx->old_board), 0);
    fcgix_lb_set(fx->lb, 0, "/srv/ap", "10.0.0.1:9000", 0);
    assert_int_equal(fcgix_lb_carry(fx->lb, 0, &fx->old_board), 0);
    assert_int_equal(m->served, 0);
    /* no record here: nothing read or written */
    assert_int_equal(fcgix_lb_carry(fx->lb, 1, &fx->old_board), 0);
    assert_int_equal(fcgix_lb_carry(fx->lb, -1, &fx->old_board), 0);
}

/* The old board is input from the User's processes: a record whose
 * strings fill their fields with no NUL is read no further than its
 * fields (the record is the board's last, so ASan sees the end). */
static void test_lb_carry_unterminated(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *o, *m;
    char *xs = long_string(200, 'x');

    make_old_board(fx, 2);
    o = fcgix_lb_member(&fx->old_board, 1);
    o->used = 1;
    o->served = 42;
    memset(o->path, 'x', sizeof(o->path));
    memset(o->address, 'x', sizeof(o->address));
    memset(o->last_error, 'e', sizeof(o->last_error));

    make_board(fx, 1);
    m = fcgix_lb_member(fx->lb, 0);
    fcgix_lb_set(fx->lb, 0, "/srv/app", "10.0.0.1:9000", 0);
    assert_int_equal(fcgix_lb_carry(fx->lb, 0, &fx->old_board), 0);
    assert_int_equal(m->served, 0);
    /* the same keys as far as a record holds them: carried, the last
     * error cut to its field */
    fcgix_lb_set(fx->lb, 0, xs, xs, 0);
    assert_int_equal(fcgix_lb_carry(fx->lb, 0, &fx->old_board), 1);
    assert_int_equal(m->served, 42);
    assert_int_equal(strlen(m->last_error), FCGIX_LB_ERROR_MAX - 1);
    assert_int_equal(strlen(m->path), FCGIX_LB_ADDR_MAX - 1);
    assert_int_equal(strlen(m->address), FCGIX_LB_ADDR_MAX - 1);
    free(xs);
}

/* state(): up; down; trial while its trial request is under way; down
 * again after a failed trial; up after an answered one. */
static void test_lb_state(void **state)
{
    fixture_t *fx = *state;
    int64_t t = T0 + FAIL_TIMEOUT;

    make_group(fx, FCGIX_LB_LEAST_CONN, 2, 0);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0), FCGIX_LB_UP);
    take_down(fx, 0, T0);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0), FCGIX_LB_DOWN);
    assert_int_equal(fcgix_lb_state(fx->lb, 1, T0), FCGIX_LB_UP);
    /* due a trial, none taken yet: still down */
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t), FCGIX_LB_DOWN);
    pick_trial(fx, 0, t);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t), FCGIX_LB_TRIAL);
    fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", t + 1);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + 1), FCGIX_LB_DOWN);
    pick_trial(fx, 0, t + 1 + FAIL_TIMEOUT);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + 1 + FAIL_TIMEOUT),
                     FCGIX_LB_TRIAL);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, t + 2 + FAIL_TIMEOUT);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, t + 2 + FAIL_TIMEOUT),
                     FCGIX_LB_UP);
}

/* A group's records may be anywhere on the board, in any order: the
 * pick answers the group's index, and counts land on its records, no
 * other. */
static void test_lb_group_records_any_order(void **state)
{
    fixture_t *fx = *state;
    static const int records[3] = {5, 2, 7};
    fcgix_lb_member_t zero;
    int count[3] = {0}, i, k;

    make_board(fx, 8);
    for (k = 0; k < 3; k++) {
        fx->records[k] = records[k];
        set_member(fx, records[k], k, 0);
    }
    group_rules(fx, FCGIX_LB_ROUND_ROBIN, 3);
    for (i = 0; i < 30; i++) {
        count[pick(fx, 0, T0)]++;
    }
    for (k = 0; k < 3; k++) {
        assert_int_equal(count[k], 10);
        assert_int_equal(fcgix_lb_member(fx->lb, records[k])->in_flight, 10);
    }
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 1, "refused", T0), 1);
    assert_int_equal(fcgix_lb_state(fx->lb, 2, T0), FCGIX_LB_DOWN);
    assert_int_equal(fcgix_lb_state(fx->lb, 5, T0), FCGIX_LB_UP);
    assert_int_equal(fcgix_lb_state(fx->lb, 7, T0), FCGIX_LB_UP);
    assert_int_equal(fcgix_lb_member(fx->lb, 2)->in_flight, 9);
    for (i = 0; i < 10; i++) {
        assert_true(pick(fx, 0, T0) != 1);
    }
    fx->g.method = FCGIX_LB_FIRST;
    assert_int_equal(pick(fx, 0, T0), 0);
    assert_int_equal(pick(fx, 1u << 0, T0), 2);
    fcgix_lb_done(fx->lb, &fx->g, 2, 1, T0);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + 1),
                     FAIL_TIMEOUT - 1);
    /* records outside the group untouched */
    memset(&zero, 0, sizeof(zero));
    for (i = 0; i < 8; i++) {
        if (i != 5 && i != 2 && i != 7) {
            assert_memory_equal(fcgix_lb_member(fx->lb, i), &zero,
                                sizeof(zero));
        }
    }
}

/* A group's record that is not on the board (an index past it) is
 * passed over, never read. */
static void test_lb_group_record_out_of_range(void **state)
{
    fixture_t *fx = *state;
    int i;

    make_board(fx, 2);
    set_member(fx, 0, 0, 0);
    set_member(fx, 1, 1, 0);
    fx->records[0] = 2; /* past the board */
    fx->records[1] = 1;
    fx->records[2] = -1;
    group_rules(fx, FCGIX_LB_ROUND_ROBIN, 3);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, 0, T0), 1);
    }
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0), 0);
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 2, "x", T0), 0);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0), 0);
    assert_int_equal(pick_none(fx, 1u << 1, T0), FCGIX_LB_ALL_DOWN);
}

/* readdress() with an address: the record holds a new member from now
 * on: used, up, nothing in flight, no failures in a row, no trial; the
 * app's path and the backup flag stay; its generation goes up by 2,
 * even again (no write under way). */
static void test_lb_readdress(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    char buf[FCGIX_LB_ADDR_MAX];
    uint32_t gen = 77;
    int count[3] = {0}, i;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 1);
    fx->g.max_fails = 3;
    m = gm(fx, 1);
    assert_int_equal(m->gen, 0);
    /* the old member: 5 requests, 3 of them failed (down), then its
     * trial under way */
    for (i = 0; i < 5; i++) {
        assert_int_equal(pick(fx, 1u << 0, T0), 1);
    }
    for (i = 0; i < 3; i++) {
        fcgix_lb_failed(fx->lb, &fx->g, 1, "refused", T0);
    }
    assert_int_equal(m->down_until_ms, T0 + FAIL_TIMEOUT);
    pick_trial(fx, 1, T0 + FAIL_TIMEOUT);
    assert_int_equal(m->in_flight, 3);

    fcgix_lb_readdress(fx->lb, 1, "10.0.1.1:9000");
    assert_int_equal(m->used, 1);
    assert_int_equal(m->gen, 2);
    assert_string_equal(m->address, "10.0.1.1:9000");
    assert_string_equal(m->path, "/srv/app");
    assert_int_equal(m->backup, 0);
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(m->fails, 0);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->trial_ms, 0);
    assert_int_equal(fcgix_lb_state(fx->lb, 1, T0 + FAIL_TIMEOUT), FCGIX_LB_UP);
    assert_int_equal(fcgix_lb_address(fx->lb, 1, buf, sizeof(buf), &gen), 1);
    assert_string_equal(buf, "10.0.1.1:9000");
    assert_int_equal(gen, 2);
    /* it takes its turns like any member that is up */
    for (i = 0; i < 20; i++) {
        count[pick(fx, 0, T0 + FAIL_TIMEOUT)]++;
    }
    assert_int_equal(count[0], 10);
    assert_int_equal(count[1], 10);
    assert_int_equal(count[2], 0);
    assert_int_equal(m->in_flight, 10);

    /* again: 2 more; a backup stays a backup */
    fcgix_lb_readdress(fx->lb, 1, "10.0.1.2:9000");
    assert_int_equal(m->gen, 4);
    assert_string_equal(m->address, "10.0.1.2:9000");
    fcgix_lb_readdress(fx->lb, 2, "10.0.2.1:9000");
    assert_int_equal(gm(fx, 2)->gen, 2);
    assert_int_equal(gm(fx, 2)->backup, 1);
    assert_int_equal(gm(fx, 2)->used, 1);
    for (i = 0; i < 10; i++) {
        assert_true(pick(fx, 0, T0 + FAIL_TIMEOUT) != 2);
    }
    assert_int_equal(pick(fx, 3, T0 + FAIL_TIMEOUT), 2);
    /* the other records untouched */
    assert_int_equal(gm(fx, 0)->gen, 0);
    assert_string_equal(gm(fx, 0)->address, "10.0.0.0:9000");
}

/* readdress() with an address leaves no history of the member the
 * record held before (fcgi_lb.h: "a member from now on, with no
 * history"; carry() names a member's history: up or down and since
 * when, counts, last error): a new address is a new member, and its
 * display must not show the old one's requests and errors. */
static void test_lb_readdress_no_history(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;

    make_group(fx, FCGIX_LB_FIRST, 1, 0);
    m = gm(fx, 0);
    pick(fx, 0, T0);
    fcgix_lb_done(fx->lb, &fx->g, 0, 1, T0);
    pick(fx, 0, T0 + 1);
    take_down(fx, 0, T0 + 1);
    assert_int_equal(m->served, 1);
    assert_int_equal(m->failures, 1);
    assert_int_equal(m->since_ms, T0 + 1);

    fcgix_lb_readdress(fx->lb, 0, "10.0.1.1:9000");
    assert_int_equal(m->used, 1);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->served, 0);
    assert_int_equal(m->failures, 0);
    assert_int_equal(m->last_error_ms, 0);
    assert_string_equal(m->last_error, "");
    assert_int_equal(m->since_ms, 0);
}

/* readdress() with NULL: the record holds no member (used 2) until it
 * gets an address; no pick takes it, address() has none; its
 * generation goes up by 2 each time. */
static void test_lb_readdress_none(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    char buf[FCGIX_LB_ADDR_MAX];
    uint32_t gen = 77;
    int count[3] = {0}, i;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 3, 0);
    m = gm(fx, 1);
    fcgix_lb_readdress(fx->lb, 1, NULL);
    assert_int_equal(m->used, 2);
    assert_int_equal(m->gen, 2);
    assert_int_equal(fcgix_lb_address(fx->lb, 1, buf, sizeof(buf), &gen), 0);
    assert_int_equal(gen, 77);
    for (i = 0; i < 30; i++) {
        count[pick(fx, 0, T0)]++;
    }
    assert_int_equal(count[0], 15);
    assert_int_equal(count[1], 0);
    assert_int_equal(count[2], 15);
    assert_int_equal(m->in_flight, 0);
    /* the other two tried: none, though record 1 is "up" */
    assert_int_equal(pick_none(fx, 5, T0), FCGIX_LB_ALL_DOWN);
    fcgix_lb_readdress(fx->lb, 1, NULL);
    assert_int_equal(m->used, 2);
    assert_int_equal(m->gen, 4);
    /* an address again: a member, picked */
    fcgix_lb_readdress(fx->lb, 1, "10.0.1.1:9000");
    assert_int_equal(m->used, 1);
    assert_int_equal(m->gen, 6);
    assert_int_equal(pick(fx, 5, T0), 1);
    assert_int_equal(fcgix_lb_address(fx->lb, 1, buf, sizeof(buf), &gen), 1);
    assert_string_equal(buf, "10.0.1.1:9000");
    assert_int_equal(gen, 6);
}

/* readdress() outside the board touches nothing (ASan would tell); an
 * address too long for the record is cut to fit and terminated. */
static void test_lb_readdress_bounds(void **state)
{
    fixture_t *fx = *state;
    char *address = long_string(FCGIX_LB_ADDR_MAX + 40, 'a');
    fcgix_lb_member_t *m;

    make_board(fx, 2);
    set_member(fx, 1, 1, 0);
    fcgix_lb_readdress(fx->lb, -1, "10.0.0.9:9000");
    fcgix_lb_readdress(fx->lb, 2, "10.0.0.9:9000");
    fcgix_lb_readdress(fx->lb, -1, NULL);
    fcgix_lb_readdress(fx->lb, 2, NULL);
    m = fcgix_lb_member(fx->lb, 1);
    assert_int_equal(m->gen, 0);
    assert_string_equal(m->address, "10.0.0.1:9000");
    fcgix_lb_readdress(fx->lb, 1, address);
    assert_int_equal(m->used, 1);
    assert_int_equal(strlen(m->address), FCGIX_LB_ADDR_MAX - 1);
    assert_memory_equal(m->address, address, FCGIX_LB_ADDR_MAX - 1);
    free(address);
}

/* address(): the record's address and its (even) generation; 0, and
 * *gen untouched, for a free record, a record kept for a name (used 2),
 * an index outside the board, and no room at all; cut to a small
 * buffer, always terminated. */
static void test_lb_address(void **state)
{
    fixture_t *fx = *state;
    char buf[FCGIX_LB_ADDR_MAX], *one;
    uint32_t gen = 77;

    make_board(fx, 3);
    set_member(fx, 0, 1, 0);
    set_member(fx, 2, 2, 0);
    assert_int_equal(fcgix_lb_address(fx->lb, 0, buf, sizeof(buf), &gen), 1);
    assert_string_equal(buf, "10.0.0.1:9000");
    assert_int_equal(gen, 0);
    fcgix_lb_readdress(fx->lb, 0, "[2001:db8::1]:9000");
    assert_int_equal(fcgix_lb_address(fx->lb, 0, buf, sizeof(buf), &gen), 1);
    assert_string_equal(buf, "[2001:db8::1]:9000");
    assert_int_equal(gen, 2);

    gen = 77;
    assert_int_equal(fcgix_lb_address(fx->lb, 1, buf, sizeof(buf), &gen), 0);
    assert_int_equal(fcgix_lb_address(fx->lb, -1, buf, sizeof(buf), &gen), 0);
    assert_int_equal(fcgix_lb_address(fx->lb, 3, buf, sizeof(buf), &gen), 0);
    fcgix_lb_readdress(fx->lb, 2, NULL);
    assert_int_equal(fcgix_lb_address(fx->lb, 2, buf, sizeof(buf), &gen), 0);
    fcgix_lb_clear(fx->lb, 0);
    assert_int_equal(fcgix_lb_address(fx->lb, 0, buf, sizeof(buf), &gen), 0);
    assert_int_equal(gen, 77);

    /* exactly sized buffers: a write past them is an ASan error */
    set_member(fx, 0, 1, 0);
    one = malloc(5);
    assert_non_null(one);
    assert_int_equal(fcgix_lb_address(fx->lb, 0, one, 5, &gen), 1);
    assert_string_equal(one, "10.0");
    assert_int_equal(fcgix_lb_address(fx->lb, 0, one, 1, &gen), 1);
    assert_string_equal(one, "");
    one[0] = '#';
    gen = 77;
    assert_int_equal(fcgix_lb_address(fx->lb, 0, one, 0, &gen), 0);
    assert_int_equal(one[0], '#');
    assert_int_equal(gen, 77);
    free(one);
}

/* address() reads the board as untrusted: an address that fills its
 * field with no NUL is read no further than the field (the record is
 * the board's last, so ASan and valgrind see its end) and comes back
 * cut and terminated. */
static void test_lb_address_unterminated(void **state)
{
    fixture_t *fx = *state;
    char *exact = malloc(FCGIX_LB_ADDR_MAX), big[300];
    fcgix_lb_member_t *m;
    uint32_t gen = 77;
    size_t k;

    assert_non_null(exact);
    make_board(fx, 2);
    set_member(fx, 1, 1, 0);
    m = fcgix_lb_member(fx->lb, 1);
    assert_ptr_equal((char *)(m + 1), (char *)fx->mem + fcgix_lb_size(2));
    memset(m->address, 'x', sizeof(m->address));
    assert_int_equal(
        fcgix_lb_address(fx->lb, 1, exact, FCGIX_LB_ADDR_MAX, &gen), 1);
    assert_int_equal(strlen(exact), FCGIX_LB_ADDR_MAX - 1);
    assert_int_equal(gen, 0);
    memset(big, 'y', sizeof(big));
    assert_int_equal(fcgix_lb_address(fx->lb, 1, big, sizeof(big), &gen), 1);
    assert_int_equal(strlen(big), FCGIX_LB_ADDR_MAX - 1);
    for (k = 0; k < FCGIX_LB_ADDR_MAX - 1; k++) {
        assert_int_equal(big[k], 'x');
    }
    for (k = FCGIX_LB_ADDR_MAX; k < sizeof(big); k++) {
        assert_int_equal(big[k], 'y');
    }
    free(exact);
}

/* An odd generation is an address being rewritten: address() gives
 * none rather than a torn copy, and gives it again once the generation
 * is even. */
static void test_lb_address_write_in_progress(void **state)
{
    fixture_t *fx = *state;
    char buf[FCGIX_LB_ADDR_MAX];
    fcgix_lb_member_t *m;
    uint32_t gen = 77;

    make_board(fx, 1);
    set_member(fx, 0, 1, 0);
    m = fcgix_lb_member(fx->lb, 0);
    m->gen = 5;
    assert_int_equal(fcgix_lb_address(fx->lb, 0, buf, sizeof(buf), &gen), 0);
    assert_int_equal(gen, 77);
    m->gen = 6;
    assert_int_equal(fcgix_lb_address(fx->lb, 0, buf, sizeof(buf), &gen), 1);
    assert_string_equal(buf, "10.0.0.1:9000");
    assert_int_equal(gen, 6);
}

/* A health check that passes brings a down member up (checked() says
 * so: 1) and clears its failures and any trial; on a member that is up
 * it only clears its failures (0). Requests in flight and answered are
 * the requests' own: a check changes neither. */
static void test_lb_checked_ok(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    int64_t t = T0 + 100 + FAIL_TIMEOUT;

    make_group(fx, FCGIX_LB_ROUND_ROBIN, 2, 0);
    m = gm(fx, 0);
    pick(fx, 1u << 1, T0);
    pick(fx, 1u << 1, T0);
    take_down(fx, 0, T0); /* in flight 1 */
    assert_int_equal(m->in_flight, 1);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 1, "", T0 + 50), 1);
    assert_int_equal(m->down_until_ms, 0);
    assert_int_equal(m->since_ms, T0 + 50);
    assert_int_equal(m->fails, 0);
    assert_int_equal(m->in_flight, 1);
    assert_int_equal(m->served, 0);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0 + 50), FCGIX_LB_UP);
    assert_int_equal(pick(fx, 1u << 1, T0 + 50), 0);
    assert_int_equal(m->in_flight, 2);
    /* up already: no change of state, failures cleared */
    fx->g.max_fails = 3;
    fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0 + 60);
    fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0 + 61);
    assert_int_equal(m->fails, 2);
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 1, "", T0 + 70), 0);
    assert_int_equal(m->fails, 0);
    assert_int_equal(m->since_ms, T0 + 50);
    assert_int_equal(m->in_flight, 0);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 1, "", T0 + 71), 0);

    /* down with its trial under way: the check ends the down time; the
     * trial request ends later, one less in flight, no second "up" */
    fx->g.max_fails = 1;
    take_down(fx, 1, T0 + 100);
    pick_trial(fx, 1, t);
    assert_int_equal(fcgix_lb_state(fx->lb, 1, t), FCGIX_LB_TRIAL);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 1, 1, "", t + 1), 1);
    assert_int_equal(gm(fx, 1)->trial_ms, 0);
    assert_int_equal(gm(fx, 1)->in_flight, 1);
    assert_int_equal(fcgix_lb_state(fx->lb, 1, t + 1), FCGIX_LB_UP);
    assert_int_equal(fcgix_lb_done(fx->lb, &fx->g, 1, 1, t + 2), 0);
    assert_int_equal(gm(fx, 1)->in_flight, 0);
    assert_int_equal(gm(fx, 1)->since_ms, t + 1);
}

/* A health check that fails counts as a request's failure does (in a
 * row with them, max_fails, last error, failures) but leaves requests
 * in flight alone; the one that takes the member down says so (1); one
 * while it is down keeps it down a whole fail-timeout from then (0). */
static void test_lb_checked_failure(void **state)
{
    fixture_t *fx = *state;
    fcgix_lb_member_t *m;
    int i;

    make_group(fx, FCGIX_LB_FIRST, 2, 0);
    fx->g.max_fails = 3;
    m = gm(fx, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(pick(fx, 0, T0), 0);
    }
    assert_int_equal(
        fcgix_lb_checked(fx->lb, &fx->g, 0, 0, "health check: status 500", T0),
        0);
    assert_int_equal(m->in_flight, 3);
    assert_int_equal(m->fails, 1);
    assert_int_equal(m->failures, 1);
    assert_int_equal(m->last_error_ms, T0);
    assert_string_equal(m->last_error, "health check: status 500");
    assert_int_equal(m->down_until_ms, 0);
    /* a request's failure comes next in the same row */
    assert_int_equal(fcgix_lb_failed(fx->lb, &fx->g, 0, "refused", T0 + 1), 0);
    assert_int_equal(m->in_flight, 2);
    assert_int_equal(m->fails, 2);
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0 + 1), FCGIX_LB_UP);
    assert_int_equal(pick(fx, 0, T0 + 1), 0);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 0,
                                      "health check: timed out", T0 + 2),
                     1);
    assert_int_equal(m->in_flight, 3);
    assert_int_equal(m->fails, 3);
    assert_int_equal(m->failures, 3);
    assert_int_equal(m->down_until_ms, T0 + 2 + FAIL_TIMEOUT);
    assert_int_equal(m->since_ms, T0 + 2);
    assert_string_equal(m->last_error, "health check: timed out");
    assert_int_equal(fcgix_lb_state(fx->lb, 0, T0 + 2), FCGIX_LB_DOWN);
    assert_int_equal(pick(fx, 0, T0 + 2), 1);
    /* down: another failed check pushes the end of the down time */
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 0,
                                      "health check: refused", T0 + 500),
                     0);
    assert_int_equal(m->down_until_ms, T0 + 500 + FAIL_TIMEOUT);
    assert_int_equal(m->since_ms, T0 + 2);
    assert_int_equal(m->failures, 4);
    assert_int_equal(m->in_flight, 3);
    assert_int_equal(pick(fx, 0, T0 + 2 + FAIL_TIMEOUT), 1);
    pick_trial(fx, 0, T0 + 500 + FAIL_TIMEOUT);
    /* a failed check during a trial ends the trial too */
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 0, 0,
                                      "health check: refused",
                                      T0 + 600 + FAIL_TIMEOUT),
                     0);
    assert_int_equal(m->trial_ms, 0);
    assert_int_equal(m->down_until_ms, T0 + 600 + 2 * FAIL_TIMEOUT);
    assert_int_equal(m->in_flight, 4);
    /* outside the group: nothing */
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 2, 0, "x", T0), 0);
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, -1, 1, "x", T0), 0);
}

/* A group of 4 primaries and 2 backups whose records 1 and 3 (a
 * primary) and 5 (a backup) are kept for a host name's next address
 * (used 2, no member). */
static void make_kept_group(fixture_t *fx, fcgix_lb_method_t method)
{
    make_group(fx, method, 4, 2);
    fcgix_lb_readdress(fx->lb, 1, NULL);
    fcgix_lb_readdress(fx->lb, 3, NULL);
    fcgix_lb_readdress(fx->lb, 5, NULL);
}

/* No pick, by any method, takes a record kept for a name: the members
 * share the requests as if the kept records were not there, and a
 * skip bit on a kept record changes nothing. */
static void test_lb_kept_records_not_picked(void **state)
{
    fixture_t *fx = *state;
    static const fcgix_lb_method_t methods[3] = {
        FCGIX_LB_ROUND_ROBIN, FCGIX_LB_LEAST_CONN, FCGIX_LB_FIRST};
    int count[6], i, k, j;

    for (j = 0; j < 3; j++) {
        free(fx->mem);
        make_kept_group(fx, methods[j]);
        memset(count, 0, sizeof(count));
        for (i = 0; i < 40; i++) {
            k = pick(fx, (1u << 1) | (1u << 3), T0);
            count[k]++;
            fcgix_lb_done(fx->lb, &fx->g, k, 1, T0);
            k = pick(fx, 0, T0);
            count[k]++;
            fcgix_lb_done(fx->lb, &fx->g, k, 1, T0);
        }
        if (methods[j] == FCGIX_LB_FIRST) {
            assert_int_equal(count[0], 80);
        }
        else {
            assert_int_equal(count[0], 40);
            assert_int_equal(count[2], 40);
        }
        for (k = 1; k < 6; k += 2) {
            assert_int_equal(count[k], 0);
            assert_int_equal(gm(fx, k)->in_flight, 0);
        }
        assert_int_equal(count[4], 0);
        /* without a skip, load on them all: still only members */
        for (i = 0; i < 20; i++) {
            k = pick(fx, 0, T0);
            assert_true(k == 0 || k == 2);
        }
    }
}

/* Kept records do not count as primaries that are up: with every
 * primary member down or tried, the backups take the requests (the
 * kept backup never), and with none left, the pick says "all down"
 * (not "busy"); a kept record that was down when its member went is
 * given no trial. */
static void test_lb_kept_records_backups(void **state)
{
    fixture_t *fx = *state;
    int i;

    make_kept_group(fx, FCGIX_LB_ROUND_ROBIN);
    /* primaries 0 and 2 tried */
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, (1u << 0) | (1u << 2), T0), 4);
    }
    /* and down */
    take_down(fx, 0, T0);
    take_down(fx, 2, T0);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, 0, T0 + 1), 4);
    }
    assert_int_equal(pick_none(fx, 1u << 4, T0 + 1), FCGIX_LB_ALL_DOWN);
    take_down(fx, 4, T0 + 1);
    assert_int_equal(pick_none(fx, 0, T0 + 2), FCGIX_LB_ALL_DOWN);
    /* the backup up again but full (-max-conns): busy; the kept
     * records count neither as up nor as room */
    fx->g.max_conns = 1;
    assert_int_equal(fcgix_lb_checked(fx->lb, &fx->g, 4, 1, "", T0 + 3), 1);
    assert_int_equal(gm(fx, 4)->in_flight, 11);
    assert_int_equal(pick_none(fx, 0, T0 + 3), FCGIX_LB_ALL_BUSY);
    assert_int_equal(gm(fx, 5)->in_flight, 0);
}

/* A primary that was down when its address went (its record kept for
 * the name, its down time still on it) is given no trial when that
 * time is over: the backup takes the requests until a real primary is
 * back. */
static void test_lb_kept_record_no_trial(void **state)
{
    fixture_t *fx = *state;
    int64_t t = T0 + FAIL_TIMEOUT;
    int i;

    make_kept_group(fx, FCGIX_LB_LEAST_CONN);
    assert_int_equal(pick(fx, 1u << 2, T0), 0);
    take_down(fx, 0, T0);
    fcgix_lb_readdress(fx->lb, 0, NULL);
    assert_int_equal(gm(fx, 0)->used, 2);
    take_down(fx, 2, T0 + 5000);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, 0, t + i), 4);
    }
    assert_int_equal(gm(fx, 0)->in_flight, 0);
    assert_int_equal(gm(fx, 0)->trial_ms, 0);
    pick_trial(fx, 2, T0 + 5000 + FAIL_TIMEOUT);
    assert_int_equal(
        fcgix_lb_done(fx->lb, &fx->g, 2, 1, T0 + 5001 + FAIL_TIMEOUT), 1);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(fx, 0, T0 + 5002 + FAIL_TIMEOUT), 2);
    }
}

/* The time to the next trial (Retry-After) counts only members: a
 * record whose member went while it was down (kept for the name now,
 * still holding its down time) is given no trial, so it must not make
 * the wait shorter nor say that one is due. */
static void test_lb_next_trial_kept_record(void **state)
{
    fixture_t *fx = *state;

    make_group(fx, FCGIX_LB_FIRST, 2, 0);
    take_down(fx, 0, T0);
    fcgix_lb_readdress(fx->lb, 0, NULL);
    take_down(fx, 1, T0 + 3000);
    assert_int_equal(pick_none(fx, 0, T0 + 3000), FCGIX_LB_ALL_DOWN);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + 3000),
                     FAIL_TIMEOUT);
    /* the kept record's old down time is over; member 1's is not */
    assert_int_equal(pick_none(fx, 0, T0 + FAIL_TIMEOUT), FCGIX_LB_ALL_DOWN);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + FAIL_TIMEOUT),
                     3000);
    /* nothing down but the kept record: none due, none to wait for */
    fcgix_lb_checked(fx->lb, &fx->g, 1, 1, "", T0 + 4000);
    assert_int_equal(fcgix_lb_next_trial_ms(fx->lb, &fx->g, T0 + 4000), 0);
}

#define LB_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        LB_TEST(test_lb_least_conn_fewest),
        LB_TEST(test_lb_least_conn_ties_even),
        LB_TEST(test_lb_least_conn_ties_even_with_backup),
        LB_TEST(test_lb_in_flight_exact),
        LB_TEST(test_lb_round_robin_cycles),
        LB_TEST(test_lb_round_robin_even_with_backup),
        LB_TEST(test_lb_first),
        LB_TEST(test_lb_skip_mask),
        LB_TEST(test_lb_backup_when_primaries_gone),
        LB_TEST(test_lb_backup_not_while_primary_busy),
        LB_TEST(test_lb_max_fails),
        LB_TEST(test_lb_max_fails_reset_by_success),
        LB_TEST(test_lb_fail_timeout_not_picked),
        LB_TEST(test_lb_trial_one_request),
        LB_TEST(test_lb_trial_skipped_when_tried),
        LB_TEST(test_lb_trial_success),
        LB_TEST(test_lb_trial_failure),
        LB_TEST(test_lb_trial_handed_on),
        LB_TEST(test_lb_all_down),
        LB_TEST(test_lb_max_conns),
        LB_TEST(test_lb_max_conns_methods),
        LB_TEST(test_lb_in_flight_not_negative),
        LB_TEST(test_lb_member_bounds),
        LB_TEST(test_lb_set_truncates),
        LB_TEST(test_lb_carry),
        LB_TEST(test_lb_carry_no_match),
        LB_TEST(test_lb_carry_unterminated),
        LB_TEST(test_lb_state),
        LB_TEST(test_lb_group_records_any_order),
        LB_TEST(test_lb_group_record_out_of_range),
        LB_TEST(test_lb_readdress),
        LB_TEST(test_lb_readdress_no_history),
        LB_TEST(test_lb_readdress_none),
        LB_TEST(test_lb_readdress_bounds),
        LB_TEST(test_lb_address),
        LB_TEST(test_lb_address_unterminated),
        LB_TEST(test_lb_address_write_in_progress),
        LB_TEST(test_lb_checked_ok),
        LB_TEST(test_lb_checked_failure),
        LB_TEST(test_lb_kept_records_not_picked),
        LB_TEST(test_lb_kept_records_backups),
        LB_TEST(test_lb_kept_record_no_trial),
        LB_TEST(test_lb_next_trial_kept_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
