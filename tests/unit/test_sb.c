/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_sb.c
 * @brief cmocka unit tests of fcgi_sb, the board httpd's workers lease
 *        processes from: least-used choice, retiring slots, close when
 *        idle, stale leases, request counts, -max-requests, class
 *        generations and holder records. No PM runs: each test sets up a
 *        board as the PM would and takes and gives leases as httpd's
 *        handlers do.
 *
 * The board lives in an exactly sized heap allocation, so that
 * AddressSanitizer (the unit build) and valgrind (vg-unit) catch a read
 * or write past it.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_sb.h"

/* Holder records on the test boards (httpd's worker threads). */
#define TEST_HOLDERS 32

typedef struct {
    fcgix_sb_t *sb;   /* the board, or NULL before board_class() */
    fcgix_sb_t board; /* what sb points to */
    void *mem;
} fixture_t;

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    free(fx);
    return 0;
}

/* A board with one class of @p n slots, set up as the PM would. */
static void board_class(fixture_t *fx, int n)
{
    size_t size = fcgix_sb_size(1, n, TEST_HOLDERS, 0);
    fcgix_sb_class_t *k;

    fx->mem = malloc(size);
    assert_non_null(fx->mem);
    fx->sb = fcgix_sb_init(&fx->board, fx->mem, 1, n, TEST_HOLDERS, 0);
    k = fcgix_sb_class(fx->sb, 0);
    strcpy(k->path, "/srv/app");
    k->kind = FCGIX_SB_STATIC;
    k->first_slot = 0;
    k->nslots = (uint32_t)n;
    k->ready = 1;
}

static void open_all(fixture_t *fx, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        fcgix_sb_open(fcgix_sb_slot(fx->sb, i));
    }
}

static void take(const fixture_t *fx, int c, fcgix_sb_lease_t *l)
{
    assert_int_equal(fcgix_sb_acquire(fx->sb, c, 0, l), 0);
    assert_true(l->slot >= 0);
}

static void give(const fixture_t *fx, const fcgix_sb_lease_t *l)
{
    fcgix_sb_release(fx->sb, l, wall_ms());
}

static void test_sb_least_used(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l[4];
    int i;

    board_class(fx, 3);
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/app"), 0);
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/other"), -1);
    /* a freshly initialised slot is closed */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l[0]), -1);
    assert_int_equal(l[0].slot, -1);
    open_all(fx, 3);
    for (i = 0; i < 3; i++) {
        take(fx, 0, &l[i]);
        assert_int_equal(l[i].slot, i);
        assert_false(l[i].busy);
    }
    take(fx, 0, &l[3]); /* every slot has a request: the busy signal */
    assert_true(l[3].busy);
    assert_int_equal(fcgix_sb_users(fcgix_sb_slot(fx->sb, l[3].slot)), 2);
    give(fx, &l[1]);
    take(fx, 0, &l[1]); /* the slot just freed is the least used */
    assert_int_equal(l[1].slot, 1);
    assert_false(l[1].busy);
}

static void test_sb_retiring_last(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l;
    int i;

    board_class(fx, 3);
    open_all(fx, 3);
    fcgix_sb_slot(fx->sb, 0)->retiring = 1;
    fcgix_sb_slot(fx->sb, 1)->retiring = 1;
    for (i = 0; i < 3; i++) { /* even with 0, 1, 2 requests in it */
        take(fx, 0, &l);
        assert_int_equal(l.slot, 2);
    }
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 2));
    take(fx, 0, &l); /* no other open slot: a retiring one, least used */
    assert_int_equal(l.slot, 0);
    take(fx, 0, &l);
    assert_int_equal(l.slot, 1);
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 0));
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 1));
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l), -1);
    assert_int_equal(l.slot, -1);
}

static void test_sb_close_if_idle(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_slot_t *s;
    fcgix_sb_lease_t l;

    board_class(fx, 1);
    s = fcgix_sb_slot(fx->sb, 0);
    fcgix_sb_open(s);
    take(fx, 0, &l);
    assert_int_equal(fcgix_sb_close_if_idle(s), 0);
    assert_int_equal(fcgix_sb_users(s), 1);
    give(fx, &l);
    assert_int_equal(fcgix_sb_users(s), 0);
    assert_int_equal(fcgix_sb_close_if_idle(s), 1);
    assert_int_equal(fcgix_sb_users(s), -1);
    assert_int_equal(fcgix_sb_close_if_idle(s), 1); /* closed already */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l), -1);
    assert_int_equal(fcgix_sb_users(s), -1);
}

/* A lease taken before the slot was reopened (a restarted process or PM)
 * must not move the new process's counts. */
static void test_sb_stale_lease(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_slot_t *s;
    fcgix_sb_lease_t old, cur;

    board_class(fx, 1);
    s = fcgix_sb_slot(fx->sb, 0);
    fcgix_sb_open(s);
    take(fx, 0, &old);
    fcgix_sb_close(s); /* the process died under the request */
    assert_int_equal(fcgix_sb_users(s), -1);
    fcgix_sb_open(s); /* its replacement */
    assert_int_equal(fcgix_sb_users(s), 0);
    take(fx, 0, &cur);
    assert_int_equal(cur.slot, 0);
    assert_true(cur.epoch != old.epoch);
    assert_int_equal(fcgix_sb_release(fx->sb, &old, 1234), 0);
    assert_int_equal(fcgix_sb_users(s), 1);
    assert_int_equal(s->requests, 0);
    assert_int_equal(s->total_requests, 0);
    assert_int_equal(s->last_used_ms, 0);
    assert_int_equal(fcgix_sb_release(fx->sb, &cur, 5678), 1);
    assert_int_equal(fcgix_sb_users(s), 0);
    assert_int_equal(s->last_used_ms, 5678);
    /* given back twice: the count does not go below zero */
    assert_int_equal(fcgix_sb_release(fx->sb, &cur, 5678), 0);
    assert_int_equal(fcgix_sb_users(s), 0);
}

/* The answered mark: set for the lease's own process (also once its
 * slot is closed, a death the PM is judging), and for a later process of
 * the slot, which answers a connection that was queued on the socket
 * when the lease's process died; cleared when the slot opens anew. */
static void test_sb_note_answer(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_slot_t *s;
    fcgix_sb_lease_t l;

    board_class(fx, 1);
    s = fcgix_sb_slot(fx->sb, 0);
    fcgix_sb_open(s);
    take(fx, 0, &l);
    fcgix_sb_close(s); /* died under the request, not yet judged */
    fcgix_sb_note_answer(fx->sb, &l);
    assert_int_equal(s->answered, 1);
    fcgix_sb_open(s); /* restarted on the same socket */
    assert_int_equal(s->answered, 0);
    fcgix_sb_note_answer(fx->sb, &l); /* the next process answered it */
    assert_int_equal(s->answered, 1);
    l.slot = fx->sb->nslots; /* out of range: ignored */
    fcgix_sb_note_answer(fx->sb, &l);
}

static void test_sb_request_counts(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_slot_t *s;
    fcgix_sb_lease_t l;
    int i;

    board_class(fx, 1);
    s = fcgix_sb_slot(fx->sb, 0);
    fcgix_sb_open(s);
    for (i = 1; i <= 3; i++) {
        take(fx, 0, &l);
        assert_int_equal(fcgix_sb_release(fx->sb, &l, 100 + i), i);
    }
    assert_int_equal(s->requests, 3);
    assert_int_equal(s->total_requests, 3);
    assert_int_equal(s->last_used_ms, 103);
    fcgix_sb_close(s);
    fcgix_sb_open(s); /* a new process: its own count, the slot's goes on */
    assert_int_equal(s->requests, 0);
    take(fx, 0, &l);
    assert_int_equal(fcgix_sb_release(fx->sb, &l, 200), 1);
    assert_int_equal(s->total_requests, 4);
    l.slot = -1;
    assert_int_equal(fcgix_sb_release(fx->sb, &l, 300), 0);
}

/* -max-requests on the board: a process that has served, or is
 * serving, its class's max_requests is never leased again. */
static void test_sb_max_requests(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l[4];
    int i;

    board_class(fx, 2);
    fcgix_sb_class(fx->sb, 0)->max_requests = 3;
    open_all(fx, 2);
    for (i = 0; i < 3; i++) { /* idle slots tie: the first one serves */
        take(fx, 0, &l[0]);
        assert_int_equal(l[0].slot, 0);
        give(fx, &l[0]);
    }
    assert_false(fcgix_sb_slot_available(fx->sb, 0, 0));
    assert_true(fcgix_sb_slot_available(fx->sb, 0, 1));
    take(fx, 0, &l[0]);
    assert_int_equal(l[0].slot, 1);
    give(fx, &l[0]);
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 1));
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l[0]), -1);
    /* in flight counts too: three requests at once use it up */
    fcgix_sb_open(fcgix_sb_slot(fx->sb, 0)); /* a new process */
    assert_true(fcgix_sb_slot_available(fx->sb, 0, 0));
    for (i = 0; i < 3; i++) {
        take(fx, 0, &l[i]);
        assert_int_equal(l[i].slot, 0);
    }
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l[3]), -1);
    give(fx, &l[0]); /* 1 served + 2 in flight */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 0, &l[3]), -1);
    assert_false(fcgix_sb_slot_available(fx->sb, 0, 0));
}

/* A class index that passes to another app: a path matched before must
 * not count once the PM has freed the class or set it up anew. */
static void test_sb_class_generation(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_class_t *k;
    uint32_t gen, gen2;

    board_class(fx, 1);
    k = fcgix_sb_class(fx->sb, 0);
    assert_int_equal(fcgix_sb_find_class_gen(fx->sb, "/srv/app", &gen), 0);
    assert_true(fcgix_sb_class_is(fx->sb, 0, gen));
    fcgix_sb_class_begin(k); /* freed: not found, old generation void */
    assert_int_equal(k->ready, 0);
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/app"), -1);
    assert_false(fcgix_sb_class_is(fx->sb, 0, gen));
    strcpy(k->path, "/srv/other");
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/other"), -1);
    fcgix_sb_class_end(k); /* another app now */
    assert_int_equal(fcgix_sb_find_class_gen(fx->sb, "/srv/other", &gen2), 0);
    assert_true(gen2 != gen && (gen2 & 1) == 0);
    assert_false(fcgix_sb_class_is(fx->sb, 0, gen));
    assert_true(fcgix_sb_class_is(fx->sb, 0, gen2));
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/app"), -1);
    /* the same app again gets a new generation too */
    fcgix_sb_class_begin(k);
    strcpy(k->path, "/srv/app");
    fcgix_sb_class_end(k);
    assert_int_equal(fcgix_sb_find_class_gen(fx->sb, "/srv/app", &gen2), 0);
    assert_true(gen2 != gen);
}

/* A pool's class index is a hint: it holds the pool only while the class
 * is ready with its path (a graceful restart may give a freed index to
 * another pool); out of range is no class. */
static void test_sb_class_holds(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_class_t *k;
    uint32_t gen = 7;

    board_class(fx, 1);
    k = fcgix_sb_class(fx->sb, 0);
    assert_true(fcgix_sb_class_holds(fx->sb, 0, "/srv/app", &gen));
    assert_true(fcgix_sb_class_is(fx->sb, 0, gen));
    assert_false(fcgix_sb_class_holds(fx->sb, 0, "/srv/other", &gen));
    assert_false(fcgix_sb_class_holds(fx->sb, -1, "/srv/app", &gen));
    assert_false(
        fcgix_sb_class_holds(fx->sb, fx->sb->nclasses, "/srv/app", &gen));
    fcgix_sb_class_begin(k);
    assert_false(fcgix_sb_class_holds(fx->sb, 0, "/srv/app", &gen));
    strcpy(k->path, "/srv/other");
    fcgix_sb_class_end(k); /* another pool has the index now */
    assert_false(fcgix_sb_class_holds(fx->sb, 0, "/srv/app", &gen));
    assert_true(fcgix_sb_class_holds(fx->sb, 0, "/srv/other", &gen));
}

/* Holder records: taken from the hint on (past a taken one), cleared by
 * the holder, or emptied by the PM for a dead holder, in which case the
 * holder must not give the lease back a second time. */
static void test_sb_holders(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l0, l1, got;
    uint64_t waits;
    int r0, r1;

    board_class(fx, 2);
    open_all(fx, 2);
    take(fx, 0, &l0);
    take(fx, 0, &l1);
    r0 = fcgix_sb_hold(fx->sb, TEST_HOLDERS - 1, &l0, 1000);
    r1 = fcgix_sb_hold(fx->sb, TEST_HOLDERS - 1, &l1, 1001);
    assert_int_equal(r0, TEST_HOLDERS - 1);
    assert_int_equal(r1, 0); /* probed past the taken one, wrapping */
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, r0), 1000);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, r1), 1001);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, TEST_HOLDERS), 0);
    assert_int_equal(fcgix_sb_hold(fx->sb, 0, &l0, 0), -1); /* no pid */

    /* the holder gives back: the record is free again */
    assert_int_equal(fcgix_sb_unhold(fx->sb, r0, &l0), 1);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, r0), 0);
    assert_int_equal(fcgix_sb_holder_take(fx->sb, r0, 1000, &got, &waits), 0);

    /* the PM takes a dead holder's record: only for that pid */
    assert_int_equal(fcgix_sb_holder_take(fx->sb, r1, 999, &got, &waits), 0);
    assert_int_equal(fcgix_sb_holder_take(fx->sb, r1, 1001, &got, &waits), 1);
    assert_int_equal(waits, 0);
    assert_int_equal(got.slot, l1.slot);
    assert_int_equal(got.epoch, l1.epoch);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, r1), 0);
    assert_int_equal(fcgix_sb_holder_take(fx->sb, r1, 1001, &got, &waits), 0);
    /* a holder that was only thought dead does not give it back again */
    assert_int_equal(fcgix_sb_unhold(fx->sb, r1, &l1), 0);
    /* no record: the holder always gives back */
    assert_int_equal(fcgix_sb_unhold(fx->sb, -1, &l1), 1);
}

/* A waiting request's counts and its holder record: counted and taken
 * down by the request, or by the PM when its httpd child died; never
 * below 0, whatever a record says. */
static void test_sb_waits(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_class_t *k;
    fcgix_sb_lease_t got;
    uint64_t w, wn, waits;
    int r0, r1;

    board_class(fx, 1);
    k = fcgix_sb_class(fx->sb, 0);
    w = fcgix_sb_waits_make(0, -1);
    wn = fcgix_sb_waits_make(-1, -1);
    fcgix_sb_waits_add(fx->sb, w, 1);
    fcgix_sb_waits_add(fx->sb, wn, 1);
    r0 = fcgix_sb_hold_waits(fx->sb, 5, w, 1000);
    r1 = fcgix_sb_hold_waits(fx->sb, 5, wn, 1001);
    assert_int_equal(r0, 5);
    assert_int_equal(r1, 6);
    assert_int_equal(k->waiting, 1);
    assert_int_equal(fx->sb->head->waiting_new, 1);
    assert_int_equal(fcgix_sb_hold_waits(fx->sb, 5, 0, 1000), -1);

    /* the request ends: its own record, its own counts */
    assert_int_equal(fcgix_sb_unhold_waits(fx->sb, r0, w), 1);
    fcgix_sb_waits_add(fx->sb, w, -1);
    assert_int_equal(k->waiting, 0);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, r0), 0);

    /* its child died: the PM takes the record and the counts down */
    assert_int_equal(fcgix_sb_holder_take(fx->sb, r1, 1001, &got, &waits), 1);
    assert_int_equal(got.slot, -1);
    assert_int_equal(waits, wn);
    fcgix_sb_waits_add(fx->sb, waits, -1);
    assert_int_equal(fx->sb->head->waiting_new, 0);
    /* one thought dead does not take them down again */
    assert_int_equal(fcgix_sb_unhold_waits(fx->sb, r1, wn), 0);
    /* no record was free: the request takes its counts down itself */
    assert_int_equal(fcgix_sb_unhold_waits(fx->sb, -1, wn), 1);

    /* forged records: never below 0, nothing out of range */
    fcgix_sb_waits_add(fx->sb, w, -1);
    assert_int_equal(k->waiting, 0);
    fcgix_sb_waits_add(fx->sb, fcgix_sb_waits_make(7, 3), 1);
    fcgix_sb_waits_add(fx->sb, (uint64_t)0xffffffffffffffffu, -1);
    assert_int_equal(k->waiting, 0);
    assert_int_equal(fx->sb->head->waiting_new, 0);
}

/* Keys: the same path under another key is another class; the default
 * lookups are the FastCgi no-tenant no-identity key. */
static void test_sb_keys(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_key_t fast, fcgid, other;
    fcgix_sb_class_t *k;
    uint32_t gen, gen2;

    board_class(fx, 1);
    k = fcgix_sb_class(fx->sb, 0);
    fcgix_sb_key_fastcgi(&fast);
    assert_memory_equal(&k->key, &fast, sizeof(fast)); /* from init */
    assert_int_equal(fast.uid, FCGIX_SB_NO_ID);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fast, "/srv/app", &gen),
                     0);
    fcgix_sb_key_set(&fcgid, FCGIX_SB_VOCAB_FCGID, 2, 0, 1001, 1001, 0);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fcgid, "/srv/app", &gen),
                     -1);
    /* the PM gives the class the fcgid key, under a new generation */
    fcgix_sb_class_begin(k);
    k->key = fcgid;
    fcgix_sb_class_end(k);
    assert_int_equal(fcgix_sb_find_class(fx->sb, "/srv/app"), -1);
    assert_int_equal(fcgix_sb_find_class_gen(fx->sb, "/srv/app", &gen2), -1);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fcgid, "/srv/app", &gen2),
                     0);
    assert_true(gen2 != gen);
    /* one field differs: another tenant, command, identity, userdir */
    other = fcgid;
    other.tenant = 3;
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &other, "/srv/app", &gen),
                     -1);
    other = fcgid;
    other.cmd = 1;
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &other, "/srv/app", &gen),
                     -1);
    other = fcgid;
    other.gid = 1002;
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &other, "/srv/app", &gen),
                     -1);
    other = fcgid;
    other.userdir = 1;
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &other, "/srv/app", &gen),
                     -1);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fcgid, "/srv/app2", &gen),
                     -1);
    /* while the PM changes it (odd generation), nothing matches */
    fcgix_sb_class_begin(k);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fcgid, "/srv/app", &gen),
                     -1);
    fcgix_sb_class_end(k);
    assert_int_equal(fcgix_sb_find_class_key(fx->sb, &fcgid, "/srv/app", &gen),
                     0);
    assert_true(fcgix_sb_class_is(fx->sb, 0, gen));
}

/* max_users 1 (an exclusive class): only an idle slot; FULL when every
 * open slot has a request, -1 when none is open. */
static void test_sb_max_users(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l[4];

    board_class(fx, 2);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), -1); /* closed */
    fcgix_sb_open(fcgix_sb_slot(fx->sb, 0));
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), 0);
    assert_int_equal(l[0].slot, 0);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[1]), FCGIX_SB_FULL);
    assert_int_equal(l[1].slot, -1);
    fcgix_sb_open(fcgix_sb_slot(fx->sb, 1));
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[1]), 0);
    assert_int_equal(l[1].slot, 1);
    assert_false(l[1].busy);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[2]), FCGIX_SB_FULL);
    /* max_users 2 takes a second request; 0 is unlimited */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 2, &l[2]), 0);
    assert_true(l[2].busy);
    take(fx, 0, &l[3]);
    assert_int_equal(fcgix_sb_users(fcgix_sb_slot(fx->sb, l[3].slot)), 2);
    give(fx, &l[3]);
    give(fx, &l[2]);
    give(fx, &l[0]); /* slot 0 idle again */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), 0);
    assert_int_equal(l[0].slot, 0);
    /* a closed slot with a request is not "full": -1 when none is open */
    assert_int_equal(fcgix_sb_close_if_idle(fcgix_sb_slot(fx->sb, 0)), 0);
    give(fx, &l[0]);
    give(fx, &l[1]);
    assert_int_equal(fcgix_sb_close_if_idle(fcgix_sb_slot(fx->sb, 0)), 1);
    assert_int_equal(fcgix_sb_close_if_idle(fcgix_sb_slot(fx->sb, 1)), 1);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), -1);
}

/* When a give-back of an exclusive class wakes a waiting request: with
 * one waiting, at once unless another give-back did less than
 * FCGIX_SB_HANDOFF_MS ago while a process of the class is still busy. */
static void test_sb_handoff(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_class_t *k;
    fcgix_sb_lease_t l[2];
    uint32_t t = 4000000000u; /* close to the wrap of the ms clock */

    board_class(fx, 2);
    open_all(fx, 2);
    k = fcgix_sb_class(fx->sb, 0);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), 0);
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[1]), 0);
    /* nobody waits: no wake-up, whatever the time */
    give(fx, &l[0]);
    assert_false(fcgix_sb_class_handoff_due(fx->sb, 0, t));
    k->waiting = 1;
    k->handoff_ms = t - FCGIX_SB_HANDOFF_MS;
    assert_true(fcgix_sb_class_handoff_due(fx->sb, 0, t));
    assert_int_equal(k->handoff_ms, t);
    /* slot 1 busy: its give-back is coming, the next hand-off waits */
    assert_false(fcgix_sb_class_handoff_due(fx->sb, 0, t + 1));
    assert_int_equal(k->handoff_ms, t);
    assert_true(fcgix_sb_class_handoff_due(
        fx->sb, 0, t + FCGIX_SB_HANDOFF_MS)); /* across the wrap */
    assert_int_equal(k->handoff_ms, t + FCGIX_SB_HANDOFF_MS);
    /* nothing busy any more: no later give-back would wake the waiter */
    give(fx, &l[1]);
    assert_true(
        fcgix_sb_class_handoff_due(fx->sb, 0, t + FCGIX_SB_HANDOFF_MS + 1));
    /* a forged time far ahead only makes the next one wake at once */
    assert_int_equal(fcgix_sb_acquire(fx->sb, 0, 1, &l[0]), 0);
    k->handoff_ms = t + 1000000u;
    assert_true(fcgix_sb_class_handoff_due(fx->sb, 0, t + 10));
}

/* The tenant and user areas: where they are, how many, bounds. */
static void test_sb_areas(void **state)
{
    fixture_t *fx = *state;
    size_t base = fcgix_sb_size(3, 5, TEST_HOLDERS, 0);
    fcgix_sb_t board;
    char *mem;
    int i;

    (void)fx;
    assert_int_equal(fcgix_sb_size(3, 5, TEST_HOLDERS, 4),
                     base + 4 * sizeof(fcgix_sb_tenant_t));
    assert_int_equal(fcgix_sb_size(3, 5, TEST_HOLDERS, -1), base);
    assert_int_equal(base - fcgix_sb_size(0, 5, TEST_HOLDERS, 0),
                     3 * (sizeof(fcgix_sb_class_t) + sizeof(fcgix_sb_user_t)));
    assert_int_equal(sizeof(fcgix_sb_key_t), 6 * sizeof(uint32_t));
    mem = malloc(base + 4 * sizeof(fcgix_sb_tenant_t));
    assert_non_null(mem);
    memset(mem, 0x5a, base + 4 * sizeof(fcgix_sb_tenant_t));
    fcgix_sb_init(&board, mem, 3, 5, TEST_HOLDERS, 4);
    assert_int_equal(board.ntenants, 4);
    assert_int_equal(board.nusers, 3);
    assert_int_equal(board.head->ntenants, 4);
    assert_int_equal(board.head->nusers, 3);
    for (i = 0; i < 4; i++) {
        fcgix_sb_tenant_t *t = fcgix_sb_tenant(&board, i);

        assert_non_null(t);
        assert_int_equal(t->live + t->max + t->waiting + t->refused, 0);
        assert_true((char *)(t + 1)
                    <= mem + base + 4 * sizeof(fcgix_sb_tenant_t));
    }
    assert_null(fcgix_sb_tenant(&board, 4));
    assert_null(fcgix_sb_tenant(&board, -1));
    for (i = 0; i < 3; i++) {
        fcgix_sb_user_t *u = fcgix_sb_user(&board, i);

        assert_non_null(u);
        assert_int_equal(u->uid, FCGIX_SB_NO_ID);
        assert_int_equal(u->live, 0);
        assert_true((char *)(u + 1)
                    <= mem + base + 4 * sizeof(fcgix_sb_tenant_t));
        assert_true((char *)u >= (char *)fcgix_sb_tenant(&board, 3) + 16);
    }
    assert_null(fcgix_sb_user(&board, 3));
    assert_null(fcgix_sb_user(&board, -1));
    /* the areas follow the holders, not on them */
    assert_true((char *)fcgix_sb_tenant(&board, 0)
                >= (char *)(board.holders + TEST_HOLDERS));
    free(mem);
}

/* Kept connections: a request prefers, among idle slots, one its own
 * httpd child keeps a connection to, then one nobody keeps; a give-back
 * says whether it was the slot's last user; evicting another child's
 * keeper clears it and bumps that child's waker word. */
static void test_sb_keepers(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t l[2];
    uint32_t me, other, *word;

    board_class(fx, 3);
    open_all(fx, 3);
    me = fcgix_sb_waker_claim(fx->sb, 0, 100);
    other = fcgix_sb_waker_claim(fx->sb, 0, 200);
    assert_true(me != 0 && other != 0 && me != other);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, (int)me - 1), 100);
    fcgix_sb_keeper_set(fx->sb, 0, other);
    fcgix_sb_keeper_set(fx->sb, 2, me);
    /* own first, then nobody's, then another child's */
    assert_int_equal(fcgix_sb_acquire_near(fx->sb, 0, 1, me, &l[0]), 0);
    assert_int_equal(l[0].slot, 2);
    assert_int_equal(fcgix_sb_acquire_near(fx->sb, 0, 1, me, &l[1]), 0);
    assert_int_equal(l[1].slot, 1);
    give(fx, &l[1]);
    give(fx, &l[0]);
    /* no preference: the first of the equals */
    assert_int_equal(fcgix_sb_acquire_near(fx->sb, 0, 1, 0, &l[0]), 0);
    assert_int_equal(l[0].slot, 0);
    /* taking another child's: its keeper is cleared, its word bumped */
    word = fcgix_sb_waker_word(fx->sb, other);
    assert_non_null(word);
    assert_int_equal(fcgix_sb_keeper_evict(fx->sb, 0, me), 1);
    assert_int_equal(*word, 1);
    assert_int_equal(fcgix_sb_keeper(fx->sb, 0), 0);
    assert_int_equal(fcgix_sb_keeper_evict(fx->sb, 0, me), 0);
    /* nor one's own */
    assert_int_equal(fcgix_sb_keeper_evict(fx->sb, 2, me), 0);
    assert_int_equal(fcgix_sb_keeper(fx->sb, 2), me);
    /* clearing leaves another child's keeper alone */
    fcgix_sb_keeper_set(fx->sb, 1, other);
    fcgix_sb_keeper_clear(fx->sb, 1, me);
    assert_int_equal(fcgix_sb_keeper(fx->sb, 1), other);
    fcgix_sb_keeper_clear(fx->sb, 1, other);
    assert_int_equal(fcgix_sb_keeper(fx->sb, 1), 0);
    /* the slot's epoch: a connection to an older process is not kept */
    assert_true(fcgix_sb_slot_is(fx->sb, 0, l[0].epoch));
    assert_false(fcgix_sb_slot_is(fx->sb, 0, l[0].epoch + 1));
    give(fx, &l[0]);
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 0));
    assert_false(fcgix_sb_slot_is(fx->sb, 0, l[0].epoch)); /* closed */
    assert_false(fcgix_sb_slot_is(fx->sb, 99, 0));
    /* bad ids and indexes are refused, forged keepers only wake */
    assert_null(fcgix_sb_waker_word(fx->sb, 0));
    assert_null(fcgix_sb_waker_word(fx->sb, TEST_HOLDERS + 1));
    fcgix_sb_slot(fx->sb, 2)->keeper = TEST_HOLDERS + 7;
    assert_int_equal(fcgix_sb_keeper_evict(fx->sb, 2, me), 0);
    assert_int_equal(fcgix_sb_keeper(fx->sb, 99), 0);
    fcgix_sb_keeper_set(fx->sb, -1, me);
    /* a waker record is freed only by the pid that claimed it */
    fcgix_sb_waker_release(fx->sb, me, 999);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, (int)me - 1), 100);
    fcgix_sb_waker_release(fx->sb, me, 100);
    assert_int_equal(fcgix_sb_holder_pid(fx->sb, (int)me - 1), 0);
}

/* Two requests on one slot of a shared pool: only the one that gives it
 * back last is told so. */
static void test_sb_release_last(void **state)
{
    fixture_t *fx = *state;
    fcgix_sb_lease_t a, b;
    int last = -1;

    board_class(fx, 1);
    open_all(fx, 1);
    take(fx, 0, &a);
    take(fx, 0, &b);
    assert_int_equal(a.slot, b.slot);
    fcgix_sb_release_last(fx->sb, &a, wall_ms(), &last);
    assert_int_equal(last, 0);
    fcgix_sb_release_last(fx->sb, &b, wall_ms(), &last);
    assert_int_equal(last, 1);
    /* a lease of a reopened slot: not given back, not last */
    take(fx, 0, &a);
    fcgix_sb_close(fcgix_sb_slot(fx->sb, 0));
    fcgix_sb_open(fcgix_sb_slot(fx->sb, 0));
    fcgix_sb_release_last(fx->sb, &a, wall_ms(), &last);
    assert_int_equal(last, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sb_least_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_retiring_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_close_if_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_stale_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_note_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_request_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sb_max_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_class_generation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sb_class_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_holders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_max_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_areas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_handoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_keepers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sb_release_last, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
