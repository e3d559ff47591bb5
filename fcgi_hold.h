/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_hold.h
 * @brief Holder records: which httpd child counts a request in flight on
 *        what, in shared memory, so that httpd's parent can take back the
 *        counts of a child that died mid-request (it never said the
 *        request ended). Used by the member board (fcgi_lb) and the
 *        request statistics (fcgi_stats).
 *
 * Like all shared memory here, any process of httpd's User can write the
 * records: whoever reclaims treats "what" as an index to check.
 * No httpd or APR dependency.
 */

#ifndef FCGIX_HOLD_H
#define FCGIX_HOLD_H

#include <stddef.h>
#include <stdint.h>

/** One record. */
typedef struct {
    int32_t pid;  /**< the holder, an httpd child; 0: free */
    int32_t what; /**< what it holds (an index the user defines) */
} fcgix_hold_rec_t;

/** A process's handle on a table of records (private memory). */
typedef struct {
    fcgix_hold_rec_t *recs; /**< NULL: none (holds fail, nothing leaks) */
    int n;
} fcgix_holds_t;

/** Bytes for @p n records. */
size_t fcgix_holds_size(int n);

/** Make @p h the table of @p n free records in @p mem. */
void fcgix_holds_init(fcgix_holds_t *h, void *mem, int n);

/**
 * Note that @p pid holds @p what, in the first free record from @p hint
 * on (a few are tried).
 * @return the record's index, -1 when none was free (what @p pid holds
 *         then cannot be taken back if it dies)
 */
int fcgix_hold(fcgix_holds_t *h, unsigned hint, int32_t pid, int32_t what);

/** Free record @p i, taken by fcgix_hold() for @p pid (-1: nothing). */
void fcgix_unhold(fcgix_holds_t *h, int i, int32_t pid);

/**
 * Free every record of @p pid, calling @p give_back with what each held.
 * @return how many there were
 */
int fcgix_holds_reclaim(fcgix_holds_t *h, int32_t pid,
                        void (*give_back)(void *baton, int32_t what),
                        void *baton);

#endif /* FCGIX_HOLD_H */
