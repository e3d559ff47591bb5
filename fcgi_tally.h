/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_tally.h
 * @brief The tally: one record of request counts per application in
 *        memory shared by all httpd children, counted without locks.
 *
 * A record holds requests, requests in flight, errors by kind, bytes in
 * and out, and response times twice: a histogram since the record was
 * made (for ?metrics) and the same histogram over a recent window (for
 * the median and 99th percentile on the status page). The buckets are
 * log-spaced, ten per decade (the R10 series 1, 1.25, 1.6, 2, 2.5, 3.15,
 * 4, 5, 6.3, 8) from 100 us to 100 s, plus one for anything slower.
 *
 * The window: time is cut into minutes (epochs) of the clock the caller
 * passes; a record has three window slots, each tagged with the epoch it
 * holds. Requests count into the current epoch's slot; readers add the
 * current and the previous epoch's (60 to 120 s of history). The slot of
 * the next epoch is cleared during the current one, by the first request
 * that sees it stale, so no request ever counts into a slot being
 * cleared unless no request came for a whole minute; then the first one
 * clears the slot itself, and a request that ends at that same moment
 * may be lost from the window (never from the counts).
 *
 * Records are found by path: open addressing on a hash of the path, a
 * record claimed with a compare-and-swap and never given back while the
 * table is in use. No locks anywhere, so a process killed at any point
 * leaves nothing held; it can leave a request counted in flight.
 *
 * Any process of httpd's User can write the table. Every index used here
 * comes from the caller's private copy of the capacity; strings read from
 * the table are bounded; numbers read from it are only added and shown.
 *
 * No httpd or APR dependency: the unit tests use it directly.
 */

#ifndef FCGIX_TALLY_H
#define FCGIX_TALLY_H

#include <stddef.h>
#include <stdint.h>

/** Longest application path with its NUL. */
#define FCGIX_TALLY_PATH_MAX 1024
/** Error kinds counted (fcgix_err_kind_t in fcgi_stats.h). */
#define FCGIX_TALLY_NERR 4
/** Bucket bounds: ten per decade from 100 us to 100 s. */
#define FCGIX_TALLY_NBOUNDS 61
/** Buckets: one per bound, and one past the last. */
#define FCGIX_TALLY_NBUCKETS (FCGIX_TALLY_NBOUNDS + 1)
/** The window's epoch length. */
#define FCGIX_TALLY_EPOCH_MS 60000
/** Window slots: the previous epoch, the current one, the next one. */
#define FCGIX_TALLY_NSLOTS 3

/** fcgix_tally_claim(): no free record left. */
#define FCGIX_TALLY_FULL (-1)
/** fcgix_tally_claim(): the path does not fit a record. */
#define FCGIX_TALLY_TOO_LONG (-2)

/** The upper bound of each bucket but the last, in microseconds: bucket
 *  i holds times t with bound[i-1] < t <= bound[i]. */
extern const int64_t fcgix_tally_bounds[FCGIX_TALLY_NBOUNDS];

/** Response times of one epoch, in shared memory. */
typedef struct {
    int64_t epoch;   /**< the epoch it holds (its tag) */
    uint64_t n;      /**< requests */
    uint64_t sum_us; /**< their times, added */
    uint64_t count[FCGIX_TALLY_NBUCKETS];
} fcgix_tally_window_t;

/** One application, in shared memory. */
typedef struct {
    uint32_t state;   /**< FREE, CLAIMING (the path is being written),
                           READY */
    uint32_t dynamic; /**< 1: claimed by a request (a dynamic app) */
    uint64_t hash;    /**< of the path */
    int64_t in_flight;
    uint64_t requests; /**< ended */
    uint64_t errors[FCGIX_TALLY_NERR];
    uint64_t bytes_in;  /**< request body bytes sent to the app */
    uint64_t bytes_out; /**< response body bytes sent to the client */
    uint64_t sum_us;    /**< every request's time, added */
    uint64_t count[FCGIX_TALLY_NBUCKETS]; /**< since the record was made */
    fcgix_tally_window_t win[FCGIX_TALLY_NSLOTS];
    char path[FCGIX_TALLY_PATH_MAX];
} fcgix_tally_rec_t;

/** The table's head; the records follow it. */
typedef struct {
    uint32_t magic;
    uint32_t nrecs; /**< capacity (a copy, for readers) */
    uint32_t full;  /**< 1 once an app found no record (said once) */
    uint32_t pad;
} fcgix_tally_head_t;

/** A process's handle on the table (private memory, set in httpd's
 *  parent and inherited). */
typedef struct {
    fcgix_tally_head_t *head;
    fcgix_tally_rec_t *recs;
    int nrecs; /**< capacity: what every index is checked against */
    /** Called while a search waits for a record another thread or
     *  process is claiming, once its spins are over: a claimer that was
     *  preempted mid-claim gets the CPU (sched_yield(), say). NULL (what
     *  fcgix_tally_init() sets): spins only. Set it on each process's own
     *  copy: a function's address is not kept across the module's
     *  reload. */
    void (*relax)(void);
} fcgix_tally_t;

/** What a record says now, in private memory (fcgix_tally_read()). */
typedef struct {
    int64_t in_flight; /**< never negative */
    uint64_t requests;
    uint64_t errors[FCGIX_TALLY_NERR];
    uint64_t bytes_in, bytes_out;
    uint64_t n, sum_us; /**< requests timed since the record was made */
    uint64_t count[FCGIX_TALLY_NBUCKETS];
    int64_t recent_ms; /**< the window's span: previous epoch + current */
    uint64_t recent_n, recent_sum_us;
    uint64_t recent[FCGIX_TALLY_NBUCKETS];
} fcgix_tally_view_t;

/** Bytes for a table of @p nrecs records. */
size_t fcgix_tally_size(int nrecs);

/** Format a table in @p mem (fcgix_tally_size() bytes, zero-filled, as
 *  fresh shared memory is) and fill @p t. Only the head is written: the
 *  records' pages stay untouched until an app uses them (256 records
 *  are 0.8 MiB, which a memset made resident in httpd's parent). */
fcgix_tally_t *fcgix_tally_init(fcgix_tally_t *t, void *mem, int nrecs);

/** Record @p i, or NULL unless 0 <= i < t->nrecs. */
fcgix_tally_rec_t *fcgix_tally_rec(const fcgix_tally_t *t, int i);

/** The hash records are found by (FNV-1a, 64 bits). */
uint64_t fcgix_tally_hash(const char *path);

/** The record of @p path, or -1 when it has none. */
int fcgix_tally_find(const fcgix_tally_t *t, const char *path);

/**
 * The record of @p path; a free one is claimed for it when it has none.
 * @param dynamic  1: a request claims it (marks a record found too)
 * @return its index, FCGIX_TALLY_FULL or FCGIX_TALLY_TOO_LONG
 */
int fcgix_tally_claim(fcgix_tally_t *t, const char *path, int dynamic);

/**
 * The path of record @p i, when it holds one, copied into @p buf (at most
 * @p size - 1 bytes and a NUL; @p size > 0).
 * @param dynamic  out: 1 when a request claimed it
 * @return 1 when record @p i holds an app, else 0
 */
int fcgix_tally_path(const fcgix_tally_t *t, int i, char *buf, size_t size,
                     int *dynamic);

/** 1 the first time it is called on a table (to log "full" once). */
int fcgix_tally_first_full(fcgix_tally_t *t);

/** The bucket a time of @p usec falls in. */
int fcgix_tally_bucket(int64_t usec);

/** A request starts: one more in flight. */
void fcgix_tally_begin(fcgix_tally_rec_t *rec);

/** One request less in flight, without counting it: httpd's parent,
 *  for a request whose child died (fcgi_hold.h). */
void fcgix_tally_leave(fcgix_tally_rec_t *rec);

/**
 * A request ended: one less in flight, and what it did counted.
 * @param err     0..FCGIX_TALLY_NERR-1, or -1 for none
 * @param usec    its time (negative counts as 0)
 * @param now_ms  the clock (the same for every process)
 */
void fcgix_tally_end(fcgix_tally_rec_t *rec, int err, int64_t usec,
                     uint64_t bytes_in, uint64_t bytes_out, int64_t now_ms);

/** Copy what @p rec says at @p now_ms into @p v. */
void fcgix_tally_read(const fcgix_tally_rec_t *rec, int64_t now_ms,
                      fcgix_tally_view_t *v);

/**
 * The @p q quantile (0 < q <= 1) of the times in @p count, interpolated
 * within its bucket, in microseconds; -1 when @p count is empty. Times
 * past the last bound count as the last bound.
 */
int64_t fcgix_tally_quantile(const uint64_t count[FCGIX_TALLY_NBUCKETS],
                             double q);

/**
 * Add the counts of @p old (a record of another table, read as
 * untrusted: numbers only added) to record @p i of @p t, in flight
 * excepted (the processes that had those requests count on their own
 * table).
 */
void fcgix_tally_carry(fcgix_tally_t *t, int i, const fcgix_tally_rec_t *old);

#endif /* FCGIX_TALLY_H */
