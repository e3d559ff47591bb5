/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_lb.c
 * @brief The member board and the choice of a member (see fcgi_lb.h).
 *
 * Every shared field is a naturally aligned word read and written with
 * __atomic built-ins; no locks, so a child killed mid-request cannot
 * leave one held. A member's counters are exact; its up/down state is
 * decided by whichever request sees the deciding event, which may race
 * with another: the worst outcome is a second trial request or a member
 * marked down a moment early, never a lost member.
 */

#include <string.h>

#include "fcgi_lb.h"

#define LB_MAGIC 0x46434c42u /* "FCLB" */
/* How many times a pick starts over when another process took the last
 * free place on a member between the look and the take. */
#define PICK_ROUNDS 8

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CAS(p, expected, desired)                                              \
    __atomic_compare_exchange_n((p), (expected), (desired), 0,                 \
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

size_t fcgix_lb_size(int nmembers)
{
    return sizeof(fcgix_lb_head_t)
           + (size_t)(nmembers > 0 ? nmembers : 0) * sizeof(fcgix_lb_member_t);
}

fcgix_lb_t *fcgix_lb_init(fcgix_lb_t *lb, void *mem, int nmembers)
{
    memset(mem, 0, fcgix_lb_size(nmembers));
    lb->head = mem;
    lb->head->magic = LB_MAGIC;
    lb->head->nmembers = (uint32_t)nmembers;
    lb->members = (fcgix_lb_member_t *)(lb->head + 1);
    lb->nmembers = nmembers;
    return lb;
}

fcgix_lb_member_t *fcgix_lb_member(const fcgix_lb_t *lb, int i)
{
    return i >= 0 && i < lb->nmembers ? &lb->members[i] : NULL;
}

/* Copy @src into @dst of @size bytes, cut to fit, always terminated; the
 * source may be shared memory another process writes. */
static void copy_text(char *dst, const char *src, size_t size)
{
    const char *end = memchr(src, '\0', size - 1);
    size_t n = end ? (size_t)(end - src) : size - 1;

    memcpy(dst, src, n);
    dst[n] = '\0';
}

void fcgix_lb_set(fcgix_lb_t *lb, int i, const char *path, const char *address,
                  int backup)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    if (m == NULL) {
        return;
    }
    memset(m, 0, sizeof(*m));
    copy_text(m->path, path, sizeof(m->path));
    copy_text(m->address, address, sizeof(m->address));
    m->backup = backup ? 1 : 0;
    STORE(&m->used, 1);
}

void fcgix_lb_resolved(fcgix_lb_t *lb, int i, const char *name, int64_t when_ms)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    if (m != NULL) {
        copy_text(m->name, name, sizeof(m->name));
        STORE(&m->resolved_ms, when_ms);
    }
}

void fcgix_lb_clear(fcgix_lb_t *lb, int i)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    if (m != NULL) {
        memset(m, 0, sizeof(*m));
    }
}

/* Whether @o (untrusted) holds the member whose keys @m holds. */
static int same_member(const fcgix_lb_member_t *m, const fcgix_lb_member_t *o)
{
    char path[FCGIX_LB_ADDR_MAX], address[FCGIX_LB_ADDR_MAX];

    if (LOAD(&o->used) != 1) {
        return 0;
    }
    copy_text(path, o->path, sizeof(path));
    copy_text(address, o->address, sizeof(address));
    return strcmp(path, m->path) == 0 && strcmp(address, m->address) == 0;
}

/* A record's member is gone: nothing of its history stays (a new
 * address is a new member). */
static void forget(fcgix_lb_member_t *m)
{
    STORE(&m->in_flight, 0);
    STORE(&m->fails, 0);
    STORE(&m->down_until_ms, 0);
    STORE(&m->trial_ms, 0);
    STORE(&m->since_ms, 0);
    STORE(&m->served, 0);
    STORE(&m->failures, 0);
    STORE(&m->last_error_ms, 0);
    m->last_error[0] = '\0';
}

void fcgix_lb_readdress(fcgix_lb_t *lb, int i, const char *address)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    if (m == NULL) {
        return;
    }
    /* Pickers skip a record whose used is not 1; readers of the address
     * check gen around their copy. */
    STORE(&m->used, 2);
    __atomic_add_fetch(&m->gen, 1, __ATOMIC_ACQ_REL);
    forget(m);
    if (address) {
        copy_text(m->address, address, sizeof(m->address));
    }
    __atomic_add_fetch(&m->gen, 1, __ATOMIC_ACQ_REL);
    if (address) {
        STORE(&m->used, 1);
    }
}

int fcgix_lb_address(const fcgix_lb_t *lb, int i, char *buf, size_t size,
                     uint32_t *gen)
{
    const fcgix_lb_member_t *m = fcgix_lb_member(lb, i);
    size_t n = size < sizeof(m->address) ? size : sizeof(m->address);
    uint32_t before;
    int tries;

    for (tries = 0; m != NULL && size > 0 && tries < 100; tries++) {
        before = LOAD(&m->gen);
        if (LOAD(&m->used) != 1) {
            return 0;
        }
        copy_text(buf, m->address, n);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(before & 1) && LOAD(&m->gen) == before) {
            *gen = before;
            return 1;
        }
    }
    return 0;
}

int fcgix_lb_carry(fcgix_lb_t *lb, int i, const fcgix_lb_t *old)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);
    int j;

    for (j = 0; m != NULL && j < old->nmembers; j++) {
        const fcgix_lb_member_t *o = &old->members[j];

        if (o == m || !same_member(m, o)) {
            continue;
        }
        m->fails = LOAD(&o->fails);
        m->down_until_ms = LOAD(&o->down_until_ms);
        m->since_ms = LOAD(&o->since_ms);
        m->served = LOAD(&o->served);
        m->failures = LOAD(&o->failures);
        m->last_error_ms = LOAD(&o->last_error_ms);
        copy_text(m->last_error, o->last_error, sizeof(m->last_error));
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Picking                                                             */
/* ------------------------------------------------------------------ */

static fcgix_lb_member_t *group_member(const fcgix_lb_t *lb,
                                       const fcgix_lb_group_t *g, int k)
{
    return k >= 0 && k < g->n ? fcgix_lb_member(lb, g->records[k]) : NULL;
}

static int is_up(const fcgix_lb_member_t *m)
{
    return LOAD(&m->down_until_ms) == 0;
}

/* A down member whose fail-timeout has passed gets one request: claim it
 * for this one. A trial that has not ended within trial_timeout_ms (its
 * request's process died) is given to the next request. */
static int claim_trial(fcgix_lb_member_t *m, const fcgix_lb_group_t *g,
                       int64_t now_ms)
{
    int64_t until = LOAD(&m->down_until_ms);
    int64_t t = LOAD(&m->trial_ms);

    if (until == 0 || now_ms < until) {
        return 0;
    }
    if (t != 0 && now_ms - t < g->trial_timeout_ms) {
        return 0;
    }
    if (!CAS(&m->trial_ms, &t, now_ms)) {
        return 0;
    }
    __atomic_add_fetch(&m->in_flight, 1, __ATOMIC_ACQ_REL);
    return 1;
}

/* Take one place on @m unless it has max_conns already. */
static int take_place(fcgix_lb_member_t *m, const fcgix_lb_group_t *g)
{
    int32_t v = LOAD(&m->in_flight);

    do {
        if (g->max_conns > 0 && v >= g->max_conns) {
            return 0;
        }
    } while (!CAS(&m->in_flight, &v, v + 1));
    return 1;
}

/* Which of the group's members a pick looks at: primaries or backups,
 * without those this request tried. */
static int candidate(const fcgix_lb_t *lb, const fcgix_lb_group_t *g, int k,
                     uint64_t skip, int backups)
{
    const fcgix_lb_member_t *m = group_member(lb, g, k);

    return m != NULL && LOAD(&m->used) == 1 && (int)m->backup == backups
           && !(k < 64 && (skip >> k) & 1);
}

/* The up member to try, in the order the method says; -1 when none is
 * up with room. Round-robin and least-conn's ties take turns through a
 * cursor shared by all processes, over the members that can be used now
 * (so that a backup or a down member does not give its turn to the one
 * after it); first starts at the first. *any_up says whether one was up
 * at all, with room or not. */
static int choose(const fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                  uint64_t skip, int backups, int *any_up)
{
    int usable[FCGIX_LB_MAX_MEMBERS];
    fcgix_lb_member_t *cursor;
    int i, k, n = 0, best = -1;
    int32_t load, best_load = 0;
    uint32_t start = 0;

    for (k = 0; k < g->n && n < FCGIX_LB_MAX_MEMBERS; k++) {
        if (candidate(lb, g, k, skip, backups)
            && is_up(group_member(lb, g, k))) {
            usable[n++] = k;
        }
    }
    if (n == 0) {
        return -1;
    }
    *any_up = 1;
    cursor = group_member(lb, g, 0);
    if (g->method != FCGIX_LB_FIRST && cursor != NULL) {
        start = __atomic_fetch_add(&cursor->rr, 1, __ATOMIC_RELAXED);
    }
    for (i = 0; i < n; i++) {
        k = usable[(start + (uint32_t)i) % (uint32_t)n];
        load = LOAD(&group_member(lb, g, k)->in_flight);
        if (g->max_conns > 0 && load >= g->max_conns) {
            continue;
        }
        if (g->method != FCGIX_LB_LEAST_CONN) {
            return k;
        }
        if (best < 0 || load < best_load) {
            best = k;
            best_load = load;
        }
    }
    return best;
}

/* The first member of the tier whose trial is due, claimed. */
static int first_due_trial(fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                           uint64_t skip, int backups, int64_t now_ms)
{
    int k;

    for (k = 0; k < g->n; k++) {
        if (candidate(lb, g, k, skip, backups)
            && claim_trial(group_member(lb, g, k), g, now_ms)) {
            return k;
        }
    }
    return -1;
}

/* One tier (primaries or backups): a due trial first, else a member with
 * room. */
static fcgix_lb_pick_t pick_tier(fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                                 uint64_t skip, int backups, int64_t now_ms,
                                 int *index, int *trial)
{
    int round, k, any_up;

    k = first_due_trial(lb, g, skip, backups, now_ms);
    if (k >= 0) {
        *index = k;
        *trial = 1;
        return FCGIX_LB_PICKED;
    }
    for (round = 0; round < PICK_ROUNDS; round++) {
        any_up = 0;
        k = choose(lb, g, skip, backups, &any_up);
        if (k < 0) {
            return any_up ? FCGIX_LB_ALL_BUSY : FCGIX_LB_ALL_DOWN;
        }
        if (take_place(group_member(lb, g, k), g)) {
            *index = k;
            *trial = 0;
            return FCGIX_LB_PICKED;
        }
    }
    return FCGIX_LB_ALL_BUSY;
}

fcgix_lb_pick_t fcgix_lb_pick(fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                              uint64_t skip, int64_t now_ms, int *index,
                              int *trial)
{
    fcgix_lb_pick_t got = pick_tier(lb, g, skip, 0, now_ms, index, trial);

    if (got == FCGIX_LB_ALL_DOWN) {
        got = pick_tier(lb, g, skip, 1, now_ms, index, trial);
    }
    return got;
}

/* ------------------------------------------------------------------ */
/* Outcomes                                                            */
/* ------------------------------------------------------------------ */

/* One less in flight; never below 0 (a count the board lost in a
 * restart must not go negative). */
static void leave(fcgix_lb_t *lb, fcgix_lb_member_t *m)
{
    int32_t v = LOAD(&m->in_flight);

    while (v > 0 && !CAS(&m->in_flight, &v, v - 1)) {
    }
    __atomic_add_fetch(&lb->head->freed, 1, __ATOMIC_RELEASE);
}

/* The member answered: its failures start again, and it is up. 1 when
 * it was down. */
static int mark_answered(fcgix_lb_member_t *m, int64_t now_ms)
{
    int64_t until;

    if (LOAD(&m->fails) != 0) {
        STORE(&m->fails, 0);
    }
    until = LOAD(&m->down_until_ms);
    if (until != 0 && CAS(&m->down_until_ms, &until, 0)) {
        STORE(&m->trial_ms, 0);
        STORE(&m->since_ms, now_ms);
        return 1;
    }
    return 0;
}

/* One more failure; after max_fails in a row, or any while it is down (a
 * failed trial), down for the whole fail-timeout. 1 when it went down. */
static int mark_failed(fcgix_lb_member_t *m, const fcgix_lb_group_t *g,
                       const char *why, int64_t now_ms)
{
    uint32_t fails;
    int64_t until;

    __atomic_add_fetch(&m->failures, 1, __ATOMIC_RELAXED);
    copy_text(m->last_error, why, sizeof(m->last_error));
    STORE(&m->last_error_ms, now_ms);
    fails = __atomic_add_fetch(&m->fails, 1, __ATOMIC_ACQ_REL);
    until = LOAD(&m->down_until_ms);
    if (until == 0 && (int)fails < g->max_fails) {
        return 0;
    }
    STORE(&m->down_until_ms, now_ms + g->fail_timeout_ms);
    STORE(&m->trial_ms, 0);
    if (until == 0) {
        STORE(&m->since_ms, now_ms);
        return 1;
    }
    return 0;
}

int fcgix_lb_done(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index, int ok,
                  int64_t now_ms)
{
    fcgix_lb_member_t *m = group_member(lb, g, index);

    if (m == NULL) {
        return 0;
    }
    leave(lb, m);
    if (!ok) {
        /* No answer either way (the client left, a timeout): a trial
         * that ended so is over, and the next request may try again. */
        if (LOAD(&m->down_until_ms) != 0) {
            STORE(&m->trial_ms, 0);
        }
        return 0;
    }
    __atomic_add_fetch(&m->served, 1, __ATOMIC_RELAXED);
    return mark_answered(m, now_ms);
}

int fcgix_lb_failed(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index,
                    const char *why, int64_t now_ms)
{
    fcgix_lb_member_t *m = group_member(lb, g, index);

    if (m == NULL) {
        return 0;
    }
    leave(lb, m);
    return mark_failed(m, g, why, now_ms);
}

int fcgix_lb_checked(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index,
                     int ok, const char *why, int64_t now_ms)
{
    fcgix_lb_member_t *m = group_member(lb, g, index);

    if (m == NULL) {
        return 0;
    }
    return ok ? mark_answered(m, now_ms) : mark_failed(m, g, why, now_ms);
}

int64_t fcgix_lb_next_trial_ms(const fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                               int64_t now_ms)
{
    int64_t best = 0, until;
    int k;

    for (k = 0; k < g->n; k++) {
        const fcgix_lb_member_t *m = group_member(lb, g, k);

        if (m == NULL || LOAD(&m->used) != 1
            || (until = LOAD(&m->down_until_ms)) == 0) {
            continue;
        }
        if (until <= now_ms) {
            return 0;
        }
        if (best == 0 || until - now_ms < best) {
            best = until - now_ms;
        }
    }
    return best;
}

fcgix_lb_state_t fcgix_lb_state(const fcgix_lb_t *lb, int i, int64_t now_ms)
{
    const fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    (void)now_ms;
    if (m == NULL || is_up(m)) {
        return FCGIX_LB_UP;
    }
    return LOAD(&m->trial_ms) != 0 ? FCGIX_LB_TRIAL : FCGIX_LB_DOWN;
}

void fcgix_lb_leave(fcgix_lb_t *lb, int i)
{
    fcgix_lb_member_t *m = fcgix_lb_member(lb, i);

    if (m != NULL) {
        leave(lb, m);
    }
}
