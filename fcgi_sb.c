/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_sb.c
 * @brief The scoreboard: layout and the lock-free lease protocol.
 *
 * A slot's lease word packs an epoch (high 32 bits) and a user count (low
 * 32 bits, signed, -1 = closed). Handlers only move the count between
 * 0 and n by compare-and-swap, and only while it is >= 0; the PM closes a
 * slot by swapping 0 for -1, so a slot it stops has no request in it and
 * none can arrive. Reopening bumps the epoch, so a lease taken before a
 * PM restart cannot decrement the new count.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall(): the futex of an exclusive class's wait */
#endif

#include <string.h>
#include <time.h>

#include "fcgi_futex.h"
#include "fcgi_sb.h"

#define SB_MAGIC 0x46435842u /* "FCXB" */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static uint32_t lease_epoch(uint64_t v)
{
    return (uint32_t)(v >> 32);
}

static int32_t lease_users(uint64_t v)
{
    return (int32_t)(uint32_t)(v & 0xffffffffu);
}

static uint64_t lease_make(uint32_t epoch, int32_t users)
{
    return ((uint64_t)epoch << 32) | (uint32_t)users;
}

static int lease_cas(uint64_t *word, uint64_t *expected, uint64_t desired)
{
    return __atomic_compare_exchange_n(word, expected, desired, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static int clamp_holders(int nholders)
{
    if (nholders < 1) {
        return 1;
    }
    return nholders < FCGIX_SB_MAX_HOLDERS ? nholders : FCGIX_SB_MAX_HOLDERS;
}

size_t fcgix_sb_size(int nclasses, int nslots, int nholders, int ntenants)
{
    return sizeof(fcgix_sb_head_t) + (size_t)nclasses * sizeof(fcgix_sb_class_t)
           + (size_t)nslots * sizeof(fcgix_sb_slot_t)
           + (size_t)clamp_holders(nholders) * sizeof(fcgix_sb_holder_t)
           + (size_t)(ntenants > 0 ? ntenants : 0) * sizeof(fcgix_sb_tenant_t)
           + (size_t)nclasses * sizeof(fcgix_sb_user_t);
}

void fcgix_sb_key_set(fcgix_sb_key_t *key, uint32_t vocab, uint32_t tenant,
                      uint32_t cmd, uint32_t uid, uint32_t gid,
                      uint32_t userdir)
{
    memset(key, 0, sizeof(*key));
    key->vocab = vocab;
    key->tenant = tenant;
    key->cmd = cmd;
    key->uid = uid;
    key->gid = gid;
    key->userdir = userdir;
}

void fcgix_sb_key_fastcgi(fcgix_sb_key_t *key)
{
    fcgix_sb_key_set(key, FCGIX_SB_VOCAB_FASTCGI, 0, 0, FCGIX_SB_NO_ID,
                     FCGIX_SB_NO_ID, 0);
}

fcgix_sb_t *fcgix_sb_init(fcgix_sb_t *sb, void *mem, int nclasses, int nslots,
                          int nholders, int ntenants)
{
    fcgix_sb_head_t *head = mem;
    int i;

    nholders = clamp_holders(nholders);
    ntenants = ntenants > 0 ? ntenants : 0;
    memset(mem, 0, fcgix_sb_size(nclasses, nslots, nholders, ntenants));
    head->magic = SB_MAGIC;
    head->nclasses = (uint32_t)nclasses;
    head->nslots = (uint32_t)nslots;
    head->nholders = (uint32_t)nholders;
    head->ntenants = (uint32_t)ntenants;
    head->nusers = (uint32_t)nclasses;
    sb->head = head;
    sb->classes = (fcgix_sb_class_t *)(head + 1);
    sb->slots = (fcgix_sb_slot_t *)(sb->classes + nclasses);
    sb->holders = (fcgix_sb_holder_t *)(sb->slots + nslots);
    sb->tenants = (fcgix_sb_tenant_t *)(sb->holders + nholders);
    sb->users = (fcgix_sb_user_t *)(sb->tenants + ntenants);
    sb->nclasses = nclasses;
    sb->nslots = nslots;
    sb->nholders = nholders;
    sb->ntenants = ntenants;
    sb->nusers = nclasses;
    for (i = 0; i < nslots; i++) {
        sb->slots[i].lease = lease_make(0, -1);
    }
    for (i = 0; i < nclasses; i++) {
        fcgix_sb_key_fastcgi(&sb->classes[i].key);
        sb->users[i].uid = FCGIX_SB_NO_ID;
    }
    return sb;
}

fcgix_sb_tenant_t *fcgix_sb_tenant(const fcgix_sb_t *sb, int t)
{
    return t >= 0 && t < sb->ntenants ? sb->tenants + t : NULL;
}

fcgix_sb_user_t *fcgix_sb_user(const fcgix_sb_t *sb, int i)
{
    return i >= 0 && i < sb->nusers ? sb->users + i : NULL;
}

fcgix_sb_class_t *fcgix_sb_class(const fcgix_sb_t *sb, int i)
{
    return i >= 0 && i < sb->nclasses ? sb->classes + i : NULL;
}

fcgix_sb_slot_t *fcgix_sb_slot(const fcgix_sb_t *sb, int i)
{
    return i >= 0 && i < sb->nslots ? sb->slots + i : NULL;
}

int fcgix_sb_class_slots(const fcgix_sb_t *sb, int c, int *first, int *n)
{
    const fcgix_sb_class_t *k = fcgix_sb_class(sb, c);
    uint32_t f, count;

    if (k == NULL) {
        return -1;
    }
    f = LOAD(&k->first_slot);
    count = LOAD(&k->nslots);
    if (f > (uint32_t)sb->nslots || count > (uint32_t)sb->nslots - f) {
        return -1;
    }
    *first = (int)f;
    *n = (int)count;
    return 0;
}

const char *fcgix_sb_slot_socket(const fcgix_sb_t *sb, int i, char *buf,
                                 size_t size)
{
    const fcgix_sb_slot_t *s = fcgix_sb_slot(sb, i);
    const char *end;
    size_t len;

    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (s == NULL) {
        return buf;
    }
    end = memchr(s->socket_path, '\0', sizeof(s->socket_path));
    len = end ? (size_t)(end - s->socket_path) : sizeof(s->socket_path);
    if (len >= size) {
        len = size - 1;
    }
    memcpy(buf, s->socket_path, len);
    buf[len] = '\0';
    return buf;
}

/* Whether ready class @k has @key and @path (@len bytes): the
 * generation read before and after the comparison must be the same even
 * value, or the PM was changing the class meanwhile (a seqlock read). */
static int class_has_path(const fcgix_sb_class_t *k, const fcgix_sb_key_t *key,
                          const char *path, size_t len, uint32_t *gen)
{
    uint32_t g = LOAD(&k->gen);
    int same;

    if ((g & 1) || !LOAD(&k->ready)) {
        return 0;
    }
    /* memcmp over len + 1 bytes stays inside the field, NUL or not */
    same = memcmp(&k->key, key, sizeof(*key)) == 0
           && memcmp(k->path, path, len + 1) == 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!same || __atomic_load_n(&k->gen, __ATOMIC_RELAXED) != g) {
        return 0;
    }
    *gen = g;
    return 1;
}

int fcgix_sb_find_class_key(fcgix_sb_t *sb, const fcgix_sb_key_t *key,
                            const char *path, uint32_t *gen)
{
    size_t len = strlen(path);
    int i;

    if (len >= FCGIX_SB_PATH_MAX) {
        return -1;
    }
    for (i = 0; i < sb->nclasses; i++) {
        if (class_has_path(sb->classes + i, key, path, len, gen)) {
            return i;
        }
    }
    return -1;
}

int fcgix_sb_class_holds(fcgix_sb_t *sb, int c, const char *path, uint32_t *gen)
{
    fcgix_sb_key_t key;
    size_t len = strlen(path);

    if (c < 0 || c >= sb->nclasses || len >= FCGIX_SB_PATH_MAX) {
        return 0;
    }
    fcgix_sb_key_fastcgi(&key);
    return class_has_path(sb->classes + c, &key, path, len, gen);
}

int fcgix_sb_find_class_gen(fcgix_sb_t *sb, const char *path, uint32_t *gen)
{
    fcgix_sb_key_t key;

    fcgix_sb_key_fastcgi(&key);
    return fcgix_sb_find_class_key(sb, &key, path, gen);
}

int fcgix_sb_find_class(fcgix_sb_t *sb, const char *path)
{
    uint32_t gen;

    return fcgix_sb_find_class_gen(sb, path, &gen);
}

uint32_t fcgix_sb_class_gen(const fcgix_sb_t *sb, int c)
{
    const fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    return k ? LOAD(&k->gen) : 0;
}

int fcgix_sb_class_is(const fcgix_sb_t *sb, int c, uint32_t gen)
{
    const fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    return k && LOAD(&k->ready) && LOAD(&k->gen) == gen;
}

void fcgix_sb_class_begin(fcgix_sb_class_t *k)
{
    uint32_t g = LOAD(&k->gen);

    STORE(&k->ready, 0);
    if ((g & 1) == 0) {
        STORE(&k->gen, g + 1);
    }
    /* the odd generation is seen before any field written after it */
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void fcgix_sb_class_end(fcgix_sb_class_t *k)
{
    /* even, and past any value a handler may have read before */
    STORE(&k->gen, (LOAD(&k->gen) | 1u) + 1u);
    STORE(&k->ready, 1);
}

/* The process of the slot has served, or is serving, all it may. */
static int used_up(const fcgix_sb_class_t *c, const fcgix_sb_slot_t *s,
                   int32_t users)
{
    uint64_t max = LOAD(&c->max_requests);

    return max > 0 && LOAD(&s->requests) + (uint64_t)users >= max;
}

/* Among equally used slots, 0 for one child @me keeps a connection to,
 * 1 for one nobody keeps, 2 for another child's (which must be told to
 * close its connection first). */
static int64_t keeper_rank(const fcgix_sb_slot_t *s, uint32_t me)
{
    uint32_t k = me ? LOAD(&s->keeper) : 0;

    return k == 0 ? 1 : k == me ? 0 : 2;
}

/* The least used open slot with fewer than @max_users requests (0: no
 * limit); retiring slots count as busier than any other; among equals,
 * the keeper_rank() decides. -1 when none is open; *@full is set when
 * some were open but at @max_users. */
static int least_used(fcgix_sb_t *sb, int ci, int max_users, uint32_t me,
                      uint64_t *seen, int *full)
{
    const fcgix_sb_class_t *c = fcgix_sb_class(sb, ci);
    int64_t best_load = INT64_MAX;
    int best = -1, first, n, i;

    if (fcgix_sb_class_slots(sb, ci, &first, &n) != 0) {
        return -1; /* corrupted geometry: no slot of it is trusted */
    }
    for (i = first; i < first + n; i++) {
        fcgix_sb_slot_t *s = sb->slots + i;
        uint64_t v = LOAD(&s->lease);
        int64_t load = lease_users(v);

        if (load < 0 || used_up(c, s, lease_users(v)) || LOAD(&s->hung)) {
            continue; /* closed, used up, or waiting to be replaced */
        }
        if (max_users > 0 && load >= max_users) {
            *full = 1;
            continue;
        }
        if (LOAD(&s->retiring)) {
            load += INT32_MAX;
        }
        load = load * 4 + keeper_rank(s, me);
        if (load < best_load) {
            best_load = load;
            best = i;
            *seen = v;
        }
    }
    return best;
}

/* Undo a lease that must not be used: no request is counted. */
static void give_back_uncounted(fcgix_sb_slot_t *s,
                                const fcgix_sb_lease_t *lease)
{
    uint64_t v = LOAD(&s->lease);

    do {
        if (lease_epoch(v) != lease->epoch || lease_users(v) <= 0) {
            return;
        }
    } while (!lease_cas(&s->lease, &v,
                        lease_make(lease_epoch(v), lease_users(v) - 1)));
}

int fcgix_sb_acquire(fcgix_sb_t *sb, int ci, int max_users,
                     fcgix_sb_lease_t *lease)
{
    return fcgix_sb_acquire_near(sb, ci, max_users, 0, lease);
}

int fcgix_sb_acquire_near(fcgix_sb_t *sb, int ci, int max_users, uint32_t me,
                          fcgix_sb_lease_t *lease)
{
    const fcgix_sb_class_t *c = fcgix_sb_class(sb, ci);
    fcgix_sb_slot_t *s;
    uint64_t v = 0;
    int tries, i, full = 0;

    lease->busy = 0;
    lease->slot = -1;
    if (c == NULL) {
        return -1;
    }
    /* A failed swap means another request took or gave back a slot at
     * that instant: look again. Bounded so a storm cannot spin. */
    for (tries = 0; tries < 64; tries++) {
        full = 0;
        i = least_used(sb, ci, max_users, me, &v, &full);
        if (i < 0) {
            break;
        }
        s = fcgix_sb_slot(sb, i);
        if (!lease_cas(&s->lease, &v,
                       lease_make(lease_epoch(v), lease_users(v) + 1))) {
            continue;
        }
        lease->slot = i;
        lease->epoch = lease_epoch(v);
        /* The swap cannot see requests served since least_used() looked
         * (a lease taken and given back leaves the word as it was); served
         * + in flight never goes down, so checking again now is exact. */
        if (used_up(c, s, lease_users(LOAD(&s->lease)) - 1)) {
            give_back_uncounted(s, lease);
            continue;
        }
        lease->busy = lease_users(v) > 0;
        return 0;
    }
    lease->slot = -1;
    return full ? FCGIX_SB_FULL : -1;
}

uint64_t fcgix_sb_release(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease,
                          int64_t now_ms)
{
    int last;

    return fcgix_sb_release_last(sb, lease, now_ms, &last);
}

uint64_t fcgix_sb_release_last(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease,
                               int64_t now_ms, int *last)
{
    fcgix_sb_slot_t *s;
    uint64_t v, served;

    *last = 0;
    if (lease->slot < 0) {
        return 0;
    }
    s = fcgix_sb_slot(sb, lease->slot);
    v = LOAD(&s->lease);
    if (lease_epoch(v) != lease->epoch || lease_users(v) <= 0) {
        return 0;
    }
    /* Count before giving back: served + in flight never dips, so a
     * process cannot be leased past max_requests in between. */
    served = __atomic_add_fetch(&s->requests, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&s->total_requests, 1, __ATOMIC_RELAXED);
    STORE(&s->last_used_ms, now_ms);
    do {
        if (lease_epoch(v) != lease->epoch || lease_users(v) <= 0) {
            return 0;
        }
    } while (!lease_cas(&s->lease, &v,
                        lease_make(lease_epoch(v), lease_users(v) - 1)));
    *last = lease_users(v) == 1;
    return served;
}

void fcgix_sb_return(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease)
{
    if (lease->slot >= 0) {
        give_back_uncounted(fcgix_sb_slot(sb, lease->slot), lease);
    }
}

int fcgix_sb_lease_current(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease)
{
    return lease->slot >= 0
           && lease_epoch(LOAD(&fcgix_sb_slot(sb, lease->slot)->lease))
                  == lease->epoch;
}

int fcgix_sb_slot_available(fcgix_sb_t *sb, int ci, int i)
{
    const fcgix_sb_class_t *c = fcgix_sb_class(sb, ci);
    const fcgix_sb_slot_t *s = fcgix_sb_slot(sb, i);
    int32_t users;

    if (c == NULL || s == NULL) {
        return 0;
    }
    users = lease_users(LOAD(&s->lease));
    return users >= 0 && !used_up(c, s, users) && !LOAD(&s->hung);
}

int fcgix_sb_close_if_idle(fcgix_sb_slot_t *s)
{
    uint64_t v = LOAD(&s->lease);

    if (lease_users(v) < 0) {
        return 1;
    }
    if (lease_users(v) != 0) {
        return 0;
    }
    return lease_cas(&s->lease, &v, lease_make(lease_epoch(v), -1));
}

void fcgix_sb_note_answer(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease)
{
    fcgix_sb_slot_t *s;

    if (lease->slot < 0 || lease->slot >= sb->nslots) {
        return;
    }
    s = fcgix_sb_slot(sb, lease->slot);
    /* A later epoch is a later process on the same socket: one that
     * accepted our connection queued there after the lease's process
     * died, so it answers, and the mark is its due. (A reopening between
     * the lease's process's answer and this mark would credit the next
     * process instead: at worst one failed start of it taken for a good
     * one, restarted at once, not backed off.) */
    if ((int32_t)(lease_epoch(LOAD(&s->lease)) - lease->epoch) >= 0
        && LOAD(&s->answered) == 0) {
        STORE(&s->answered, 1);
    }
}

void fcgix_sb_open(fcgix_sb_slot_t *s)
{
    uint64_t v = LOAD(&s->lease);

    STORE(&s->requests, 0);
    STORE(&s->answered, 0);
    STORE(&s->lease, lease_make(lease_epoch(v) + 1, 0));
}

void fcgix_sb_close(fcgix_sb_slot_t *s)
{
    uint64_t v = LOAD(&s->lease);

    while (!lease_cas(&s->lease, &v, lease_make(lease_epoch(v), -1))) {
    }
}

int fcgix_sb_users(const fcgix_sb_slot_t *s)
{
    return lease_users(LOAD(&s->lease));
}

/* Probing from the hint finds a free record when two threads share a
 * position (an HTTP/2 stream's worker, a module's own thread, a waiting
 * request's record and then its lease's). */
#define HOLD_PROBES 16

/* A free holder record from hint on, claimed for pid; -1: none. */
static int claim_holder(fcgix_sb_t *sb, unsigned hint, int32_t pid)
{
    int i;

    for (i = 0; i < HOLD_PROBES && i < sb->nholders; i++) {
        int rec = (int)((hint + (unsigned)i) % (unsigned)sb->nholders);
        int32_t free_pid = 0;

        if (LOAD(&sb->holders[rec].pid) == 0
            && __atomic_compare_exchange_n(&sb->holders[rec].pid, &free_pid,
                                           pid, 0, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
            return rec;
        }
    }
    return -1;
}

uint64_t fcgix_sb_waits_make(int c, int t)
{
    uint32_t cls = c >= 0 ? (uint32_t)c + 2u : 1u; /* 1: waiting_new */
    uint32_t tenant = t >= 0 ? (uint32_t)t + 1u : 0u;

    return ((uint64_t)tenant << 32) | cls;
}

/* *count + delta, never below 0. */
static void count_add(uint32_t *count, int delta)
{
    uint32_t v;

    if (delta > 0) {
        __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
        return;
    }
    v = LOAD(count);
    while (v > 0
           && !__atomic_compare_exchange_n(
               count, &v, v - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
}

void fcgix_sb_waits_add(fcgix_sb_t *sb, uint64_t waits, int delta)
{
    uint32_t cls = (uint32_t)waits, tenant = (uint32_t)(waits >> 32);
    fcgix_sb_class_t *k;
    fcgix_sb_tenant_t *t;

    if (cls == 1) {
        count_add(&sb->head->waiting_new, delta);
    }
    else if (cls >= 2 && cls - 2 < (uint32_t)sb->nclasses) {
        k = fcgix_sb_class(sb, (int)(cls - 2));
        count_add(&k->waiting, delta);
    }
    if (tenant >= 1 && (t = fcgix_sb_tenant(sb, (int)(tenant - 1))) != NULL) {
        count_add(&t->waiting, delta);
    }
}

int fcgix_sb_hold_waits(fcgix_sb_t *sb, unsigned hint, uint64_t waits,
                        int32_t pid)
{
    int rec;

    if (waits == 0 || pid <= 0 || (rec = claim_holder(sb, hint, pid)) < 0) {
        return -1;
    }
    STORE(&sb->holders[rec].waits, waits);
    return rec;
}

int fcgix_sb_unhold_waits(fcgix_sb_t *sb, int rec, uint64_t waits)
{
    fcgix_sb_holder_t *h;
    int ours;

    if (rec < 0 || rec >= sb->nholders) {
        return 1; /* no record: nobody else takes them down */
    }
    h = sb->holders + rec;
    ours = __atomic_compare_exchange_n(&h->waits, &waits, 0, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    STORE(&h->pid, 0);
    return ours;
}

/* A holder record's lease word: never 0 for a real lease. */
static uint64_t holder_what(const fcgix_sb_lease_t *lease)
{
    return ((uint64_t)lease->epoch << 32) | ((uint32_t)lease->slot + 1u);
}

int fcgix_sb_hold(fcgix_sb_t *sb, unsigned hint, const fcgix_sb_lease_t *lease,
                  int32_t pid)
{
    int rec;

    if (lease->slot < 0 || pid <= 0
        || (rec = claim_holder(sb, hint, pid)) < 0) {
        return -1;
    }
    STORE(&sb->holders[rec].what, holder_what(lease));
    return rec;
}

int fcgix_sb_unhold(fcgix_sb_t *sb, int rec, const fcgix_sb_lease_t *lease)
{
    fcgix_sb_holder_t *h;
    uint64_t mine = holder_what(lease);
    int ours;

    if (rec < 0 || rec >= sb->nholders) {
        return 1; /* no record: nobody else could give it back */
    }
    h = sb->holders + rec;
    /* Whoever swaps the lease out of the record gives it back: us, or
     * the PM if it took us for dead. */
    ours = __atomic_compare_exchange_n(&h->what, &mine, 0, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
    STORE(&h->pid, 0);
    return ours;
}

int32_t fcgix_sb_holder_pid(const fcgix_sb_t *sb, int rec)
{
    if (rec < 0 || rec >= sb->nholders) {
        return 0;
    }
    return LOAD(&sb->holders[rec].pid);
}

int fcgix_sb_holder_take(fcgix_sb_t *sb, int rec, int32_t pid,
                         fcgix_sb_lease_t *lease, uint64_t *waits)
{
    fcgix_sb_holder_t *h;
    uint64_t what;
    int32_t expect = pid;

    lease->slot = -1;
    *waits = 0;
    if (rec < 0 || rec >= sb->nholders || pid <= 0) {
        return 0;
    }
    h = sb->holders + rec;
    /* Claim the record (-1: neither free nor anyone's) before emptying
     * it, so that a record taken anew meanwhile is left alone. */
    if (!__atomic_compare_exchange_n(&h->pid, &expect, -1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        return 0;
    }
    what = __atomic_exchange_n(&h->what, 0, __ATOMIC_ACQ_REL);
    *waits = __atomic_exchange_n(&h->waits, 0, __ATOMIC_ACQ_REL);
    STORE(&h->pid, 0);
    if (what == 0) {
        return *waits != 0;
    }
    lease->slot = (int)((uint32_t)what - 1u);
    lease->epoch = (uint32_t)(what >> 32);
    lease->busy = 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Waiting for a process of an exclusive class                         */
/* ------------------------------------------------------------------ */

void fcgix_sb_class_note_freed(fcgix_sb_t *sb, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    __atomic_add_fetch(&k->freed, 1, __ATOMIC_RELEASE);
    if (LOAD(&k->waiting) > 0) {
        fcgix_futex_wake(&k->freed, 1);
    }
}

/* Whether a slot of class c serves a request now. */
static int class_busy(const fcgix_sb_t *sb, int c)
{
    int first, n, i;

    if (fcgix_sb_class_slots(sb, c, &first, &n) != 0) {
        return 0;
    }
    for (i = first; i < first + n; i++) {
        if (fcgix_sb_users(sb->slots + i) > 0) {
            return 1;
        }
    }
    return 0;
}

int fcgix_sb_class_handoff_due(fcgix_sb_t *sb, int c, uint32_t now_ms)
{
    fcgix_sb_class_t *k = fcgix_sb_class(sb, c);
    uint32_t last;

    if (LOAD(&k->waiting) == 0) {
        return 0;
    }
    last = LOAD(&k->handoff_ms);
    if (now_ms - last >= FCGIX_SB_HANDOFF_MS) {
        /* Lost to another give-back: that one wakes a waiter. */
        return __atomic_compare_exchange_n(&k->handoff_ms, &last, now_ms, 0,
                                           __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
    if (!class_busy(sb, c)) {
        STORE(&k->handoff_ms, now_ms);
        return 1;
    }
    return 0;
}

/* CLOCK_MONOTONIC in ms, low 32 bits (differences wrap right). */
static uint32_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u
                      + (uint64_t)ts.tv_nsec / 1000000u);
}

void fcgix_sb_class_note_given_back(fcgix_sb_t *sb, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    __atomic_add_fetch(&k->freed, 1, __ATOMIC_RELEASE);
    /* No clock read on the give-backs of a class nobody waits for. */
    if (LOAD(&k->waiting) > 0
        && fcgix_sb_class_handoff_due(sb, c, monotonic_ms())) {
        fcgix_futex_wake(&k->freed, 1);
    }
}

void fcgix_sb_class_hand_off(fcgix_sb_t *sb, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    __atomic_add_fetch(&k->freed, 1, __ATOMIC_RELEASE);
    if (LOAD(&k->waiting) > 0) {
        fcgix_futex_wake(&k->freed, 1);
    }
}

uint32_t fcgix_sb_class_waiting(const fcgix_sb_t *sb, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(sb, c);

    return k ? LOAD(&k->waiting) : 0;
}

uint32_t fcgix_sb_class_freed(fcgix_sb_t *sb, int c)
{
    return LOAD(&fcgix_sb_class(sb, c)->freed);
}

void fcgix_sb_class_wait_freed(fcgix_sb_t *sb, int c, uint32_t seen, int ms)
{
    fcgix_futex_wait_ms(&fcgix_sb_class(sb, c)->freed, seen, ms);
}

/* ------------------------------------------------------------------ */
/* Keepers of idle connections                                        */
/* ------------------------------------------------------------------ */

uint32_t fcgix_sb_waker_claim(fcgix_sb_t *sb, unsigned hint, int32_t pid)
{
    int rec = pid > 0 ? claim_holder(sb, hint, pid) : -1;

    return rec < 0 ? 0 : (uint32_t)rec + 1u;
}

void fcgix_sb_waker_release(fcgix_sb_t *sb, uint32_t id, int32_t pid)
{
    if (id > 0 && id <= (uint32_t)sb->nholders) {
        int32_t expect = pid;

        __atomic_compare_exchange_n(&sb->holders[id - 1].pid, &expect, 0, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}

uint32_t *fcgix_sb_waker_word(fcgix_sb_t *sb, uint32_t id)
{
    return id > 0 && id <= (uint32_t)sb->nholders ? &sb->holders[id - 1].wake
                                                  : NULL;
}

uint32_t fcgix_sb_keeper(fcgix_sb_t *sb, int i)
{
    return i >= 0 && i < sb->nslots ? LOAD(&sb->slots[i].keeper) : 0;
}

void fcgix_sb_keeper_set(fcgix_sb_t *sb, int i, uint32_t me)
{
    if (i >= 0 && i < sb->nslots) {
        STORE(&sb->slots[i].keeper, me);
    }
}

void fcgix_sb_keeper_clear(fcgix_sb_t *sb, int i, uint32_t me)
{
    /* Loaded first: most requests find another value or 0, and a swap
     * that fails still takes the shared line for writing. */
    if (i >= 0 && i < sb->nslots && LOAD(&sb->slots[i].keeper) == me) {
        __atomic_compare_exchange_n(&sb->slots[i].keeper, &me, 0, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}

int fcgix_sb_keeper_evict(fcgix_sb_t *sb, int i, uint32_t me)
{
    uint32_t k = fcgix_sb_keeper(sb, i);
    uint32_t *word;

    if (k == 0 || k == me
        || !__atomic_compare_exchange_n(&sb->slots[i].keeper, &k, 0, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return 0;
    }
    if ((word = fcgix_sb_waker_word(sb, k)) == NULL) {
        return 0;
    }
    __atomic_add_fetch(word, 1u, __ATOMIC_ACQ_REL);
    fcgix_futex_wake(word, 1);
    return 1;
}

int fcgix_sb_slot_is(fcgix_sb_t *sb, int i, uint32_t epoch)
{
    uint64_t v;

    if (i < 0 || i >= sb->nslots) {
        return 0;
    }
    v = LOAD(&sb->slots[i].lease);
    return lease_epoch(v) == epoch && lease_users(v) >= 0;
}
