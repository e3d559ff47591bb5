/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_hold.c
 * @brief cmocka unit tests of fcgi_hold, the holder records with which
 *        httpd's parent takes back what a dead child held: a hold takes a
 *        free record near its hint, an unhold frees only its own, a
 *        reclaim frees every record of one pid and reports what each
 *        held, a full or absent table fails softly. The table is an
 *        exactly sized heap allocation, for ASan and valgrind.
 */

#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_hold.h"

#define N 32

typedef struct {
    fcgix_holds_t h;
    void *mem;
    int32_t given[N * 2]; /* what give_back was called with */
    int ngiven;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || (fx->mem = malloc(fcgix_holds_size(N))) == NULL) {
        free(fx);
        return -1;
    }
    memset(fx->mem, 0xAB, fcgix_holds_size(N)); /* init must clear it */
    fcgix_holds_init(&fx->h, fx->mem, N);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    free(fx->mem);
    free(fx);
    return 0;
}

static void give_back(void *baton, int32_t what)
{
    fixture_t *fx = baton;

    fx->given[fx->ngiven++] = what;
}

/* A hold takes the record at its hint when free, the next one when not. */
static void test_hold_near_hint(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(fcgix_hold(&fx->h, 5, 100, 7), 5);
    assert_int_equal(fcgix_hold(&fx->h, 5, 101, 8), 6);
    assert_int_equal(fx->h.recs[5].pid, 100);
    assert_int_equal(fx->h.recs[5].what, 7);
    assert_int_equal(fx->h.recs[6].what, 8);
    /* the hint wraps round the table */
    assert_int_equal(fcgix_hold(&fx->h, N + 1, 102, 9), 1);
}

/* An unhold frees its record, and only when the pid is the holder's. */
static void test_unhold_own_only(void **state)
{
    fixture_t *fx = *state;
    int i = fcgix_hold(&fx->h, 0, 100, 3);

    fcgix_unhold(&fx->h, i, 999);
    assert_int_equal(fx->h.recs[i].pid, 100);
    fcgix_unhold(&fx->h, i, 100);
    assert_int_equal(fx->h.recs[i].pid, 0);
    /* bad indices do nothing */
    fcgix_unhold(&fx->h, -1, 100);
    fcgix_unhold(&fx->h, N, 100);
}

/* A reclaim frees every record of its pid, says what each held, and
 * leaves the others alone; a second reclaim finds nothing. */
static void test_reclaim(void **state)
{
    fixture_t *fx = *state;

    fcgix_hold(&fx->h, 0, 100, 1);
    fcgix_hold(&fx->h, 0, 200, 2);
    fcgix_hold(&fx->h, 0, 100, 3);
    assert_int_equal(fcgix_holds_reclaim(&fx->h, 100, give_back, fx), 2);
    assert_int_equal(fx->ngiven, 2);
    assert_int_equal(fx->given[0] + fx->given[1], 4);
    assert_int_equal(fx->h.recs[1].pid, 200);
    assert_int_equal(fcgix_holds_reclaim(&fx->h, 100, give_back, fx), 0);
    assert_int_equal(fcgix_holds_reclaim(&fx->h, 0, give_back, fx), 0);
}

/* A full neighbourhood: a hold gives up after a few tries (-1), and
 * nothing can be taken back for it. */
static void test_full(void **state)
{
    fixture_t *fx = *state;
    int i;

    for (i = 0; i < N; i++) {
        assert_int_equal(fcgix_hold(&fx->h, (unsigned)i, 100 + i, i), i);
    }
    assert_int_equal(fcgix_hold(&fx->h, 0, 500, 1), -1);
    fcgix_unhold(&fx->h, 20, 120);
    assert_int_equal(fcgix_hold(&fx->h, 10, 500, 1), 20);
    assert_int_equal(fcgix_hold(&fx->h, 0, 501, 1), -1); /* 0..15 full */
}

/* pid 0 is "free": it never holds. No table: every hold fails. */
static void test_no_pid_no_table(void **state)
{
    fixture_t *fx = *state;
    fcgix_holds_t none = {NULL, 0};

    assert_int_equal(fcgix_hold(&fx->h, 0, 0, 1), -1);
    assert_int_equal(fcgix_hold(&none, 0, 100, 1), -1);
    fcgix_unhold(&none, 0, 100);
    assert_int_equal(fcgix_holds_reclaim(&none, 100, give_back, fx), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_near_hint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unhold_own_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_pid_no_table, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
