/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_hold.c
 * @brief Holder records (see fcgi_hold.h).
 */

#include <string.h>

#include "fcgi_hold.h"

/* How many records a hold tries from its hint on. */
#define HOLD_TRIES 16

size_t fcgix_holds_size(int n)
{
    return (size_t)(n > 0 ? n : 0) * sizeof(fcgix_hold_rec_t);
}

void fcgix_holds_init(fcgix_holds_t *h, void *mem, int n)
{
    memset(mem, 0, fcgix_holds_size(n));
    h->recs = mem;
    h->n = n;
}

int fcgix_hold(fcgix_holds_t *h, unsigned hint, int32_t pid, int32_t what)
{
    int i, k;

    for (i = 0; h->recs && pid > 0 && i < HOLD_TRIES && i < h->n; i++) {
        int32_t free_pid = 0;

        k = (int)((hint + (unsigned)i) % (unsigned)h->n);
        if (__atomic_load_n(&h->recs[k].pid, __ATOMIC_ACQUIRE) == 0
            && __atomic_compare_exchange_n(&h->recs[k].pid, &free_pid, pid, 0,
                                           __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&h->recs[k].what, what, __ATOMIC_RELEASE);
            return k;
        }
    }
    return -1;
}

void fcgix_unhold(fcgix_holds_t *h, int i, int32_t pid)
{
    if (h->recs && i >= 0 && i < h->n) {
        __atomic_compare_exchange_n(&h->recs[i].pid, &pid, 0, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}

int fcgix_holds_reclaim(fcgix_holds_t *h, int32_t pid,
                        void (*give_back)(void *baton, int32_t what),
                        void *baton)
{
    int i, n = 0;

    for (i = 0; h->recs && pid > 0 && i < h->n; i++) {
        int32_t holder = pid;
        int32_t what = __atomic_load_n(&h->recs[i].what, __ATOMIC_ACQUIRE);

        if (__atomic_compare_exchange_n(&h->recs[i].pid, &holder, 0, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            give_back(baton, what);
            n++;
        }
    }
    return n;
}
