/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_lb.h
 * @brief The member board: the state of every member of every balanced
 *        FastCgiExternalServer (several -host or -socket), in memory
 *        shared by all httpd children, and the choice of a member.
 *
 * One record per member: requests in flight (counted across children,
 * so that least-conn sees the whole load), consecutive failures, whether
 * it is down and until when, what it served and its last error. The
 * records of one app are a list the configuration fixed; the list and the
 * members' addresses are each process's private copy (fcgix_lb_group_t),
 * never read back from shared memory.
 *
 * Like the scoreboard, any process of httpd's User can write the board:
 * it steers only which member a request goes to, never an index or an
 * address; root reads it only to carry a member's state over a graceful
 * restart (fcgix_lb_carry(), which checks what it copies).
 *
 * No httpd or APR dependency: the unit tests use it directly. Times are
 * milliseconds on a clock the caller chooses (the module: wall clock, so
 * that they survive a restart of the process that wrote them).
 */

#ifndef FCGIX_LB_H
#define FCGIX_LB_H

#include <stddef.h>
#include <stdint.h>

/** Longest member address with its NUL: a Unix socket path (107) or
 *  "[IPv6]:port". */
#define FCGIX_LB_ADDR_MAX 112
/** Longest last-error text with its NUL. */
#define FCGIX_LB_ERROR_MAX 96
/** Most members one app may have. */
#define FCGIX_LB_MAX_MEMBERS 64

/** -balance */
typedef enum {
    FCGIX_LB_LEAST_CONN = 0, /**< fewest in flight; ties round-robin */
    FCGIX_LB_ROUND_ROBIN,    /**< each in turn */
    FCGIX_LB_FIRST           /**< the first usable; the rest are spares */
} fcgix_lb_method_t;

/** One member, in shared memory. */
typedef struct {
    uint32_t used;         /**< 1: holds a member; 2: kept for the next
                                address of a host name, none now; 0: free */
    uint32_t gen;          /**< odd while its address is rewritten
                                (fcgix_lb_readdress()), else even */
    uint32_t backup;       /**< -backup: only while no primary is up */
    int32_t in_flight;     /**< requests using it now, all children */
    uint32_t fails;        /**< consecutive failures */
    uint32_t rr;           /**< round-robin cursor: the one of an app's
                                first record serves the whole app */
    int64_t down_until_ms; /**< 0: up; else down until then */
    int64_t trial_ms;      /**< down: when a trial request was let
                                through (0: none yet) */
    int64_t since_ms;      /**< when it last went up or down */
    uint64_t served;       /**< requests it answered */
    uint64_t failures;     /**< failures, all told */
    int64_t last_error_ms; /**< when (0: never) */
    int64_t resolved_ms;   /**< a member from a host name: when the name
                                last resolved (0: not from a name) */
    char last_error[FCGIX_LB_ERROR_MAX];
    char path[FCGIX_LB_ADDR_MAX];    /**< the app's path, truncated: a key for
                                          carrying state over a restart */
    char address[FCGIX_LB_ADDR_MAX]; /**< the member: key and display */
    char name[FCGIX_LB_ADDR_MAX];    /**< the -host name:port it came
                                          from, or "" (display) */
} fcgix_lb_member_t;

/** The board's head; the members follow it. */
typedef struct {
    uint32_t magic;
    uint32_t nmembers; /**< capacity (a copy, for readers) */
    uint32_t freed;    /**< changes each time a place on a member is given
                            back: what a request waiting for room under
                            -max-conns waits on (a futex word) */
    uint32_t waiters;  /**< requests waiting so now (wake them when > 0) */
} fcgix_lb_head_t;

/** A process's handle on the board (private memory, set in the parent
 *  and inherited). */
typedef struct {
    fcgix_lb_head_t *head;
    fcgix_lb_member_t *members;
    int nmembers; /**< capacity: what every index is checked against */
} fcgix_lb_t;

/** One app's members and rules, in private memory. */
typedef struct {
    const int *records;       /**< its records, in the order configured */
    int n;                    /**< how many */
    fcgix_lb_method_t method; /**< -balance */
    int max_fails;            /**< -max-fails */
    int fail_timeout_ms;      /**< -fail-timeout */
    int max_conns;            /**< -max-conns: cap in flight; 0 none */
    int trial_timeout_ms;     /**< a trial not ended after this much is
                                   given to another request */
} fcgix_lb_group_t;

/** Bytes for a board of @p nmembers records. */
size_t fcgix_lb_size(int nmembers);

/** Format a board in @p mem (fcgix_lb_size() bytes) and fill @p lb. */
fcgix_lb_t *fcgix_lb_init(fcgix_lb_t *lb, void *mem, int nmembers);

/**
 * One place less in flight on record @p i: for httpd's parent, giving
 * back the place of a request whose child died (fcgi_hold.h).
 */
void fcgix_lb_leave(fcgix_lb_t *lb, int i);

/** Record @p i, or NULL unless 0 <= i < lb->nmembers. */
fcgix_lb_member_t *fcgix_lb_member(const fcgix_lb_t *lb, int i);

/**
 * Set record @p i up for a member: the app's @p path and the member's
 * @p address (both truncated to fit), up, with no history; @p backup as
 * given.
 */
void fcgix_lb_set(fcgix_lb_t *lb, int i, const char *path, const char *address,
                  int backup);

/**
 * Carry the history of the record of @p old (another board, or this one
 * before a restart) that holds the same path and address into record
 * @p i of @p lb, as fcgix_lb_set() left it: up/down state, counters,
 * last error. Requests in flight are not carried (the children that had
 * them count on their own board). Reads @p old as untrusted: strings are
 * bounded, numbers only copied.
 * @return 1 when a matching record was found
 */
int fcgix_lb_carry(fcgix_lb_t *lb, int i, const fcgix_lb_t *old);

/**
 * Record @p i's member (or the record kept for one) comes from the host
 * name @p name ("name:port"), which resolved at @p when_ms.
 */
void fcgix_lb_resolved(fcgix_lb_t *lb, int i, const char *name,
                       int64_t when_ms);

/** Free the records no configuration uses (their history is dropped). */
void fcgix_lb_clear(fcgix_lb_t *lb, int i);

/**
 * Re-resolution: record @p i gets @p address (a member from now on, with
 * no history), or, with NULL, holds no member (used 2) until it gets
 * one. Its generation changes either way, so that a process that caches
 * what the address means can tell.
 */
void fcgix_lb_readdress(fcgix_lb_t *lb, int i, const char *address);

/**
 * Copy the address of record @p i into @p buf as of one moment (not torn
 * by a concurrent fcgix_lb_readdress()), with its generation.
 * @return 1 when the record holds a member, 0 otherwise
 */
int fcgix_lb_address(const fcgix_lb_t *lb, int i, char *buf, size_t size,
                     uint32_t *gen);

/**
 * An active health check of member @p index ended: @p ok brings it up
 * (when it was down) and clears its failures; a failure counts like a
 * request's (fcgix_lb_failed()), requests in flight untouched.
 * @return 1 when the member changed state (up to down, or down to up)
 */
int fcgix_lb_checked(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index,
                     int ok, const char *why, int64_t now_ms);

/** Why fcgix_lb_pick() found nothing. */
typedef enum {
    FCGIX_LB_PICKED = 0, /**< a member was taken */
    FCGIX_LB_ALL_DOWN,   /**< no member is up (nor due a trial) */
    FCGIX_LB_ALL_BUSY    /**< members are up but each has max_conns */
} fcgix_lb_pick_t;

/**
 * Take a member of @p g for one request: it counts one more in flight
 * until fcgix_lb_done(). Members in @p skip (bit i: the group's i-th,
 * tried already by this request) are passed over. Primaries first;
 * backups only when no primary is up. A down member whose fail-timeout
 * has passed is given one trial request.
 * @param now_ms  the clock
 * @param index   out: the group's member index (0..g->n-1)
 * @param trial   out: 1 when this is the member's trial request
 * @return FCGIX_LB_PICKED, or why none was
 */
fcgix_lb_pick_t fcgix_lb_pick(fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                              uint64_t skip, int64_t now_ms, int *index,
                              int *trial);

/**
 * The request on member @p index is over: one less in flight.
 * @param ok  1: the member answered (its failures start again at 0, and
 *            it is up if it was down); 0: say so with fcgix_lb_failed()
 *            instead, or the request ended without telling (client gone)
 * @return 1 when @p ok brought the member back up (the caller logs it)
 */
int fcgix_lb_done(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index, int ok,
                  int64_t now_ms);

/**
 * The request on member @p index failed before the member answered
 * (connect refused or timed out, reset before any response byte): one
 * less in flight, one more failure, and @p why as its last error. After
 * max_fails in a row (or a failed trial) it is down for fail_timeout.
 * @return 1 when this failure took the member down (the caller logs it)
 */
int fcgix_lb_failed(fcgix_lb_t *lb, const fcgix_lb_group_t *g, int index,
                    const char *why, int64_t now_ms);

/**
 * How long until a down member of @p g is due a trial, in ms (for
 * Retry-After); 0 when one is due now or none is down.
 */
int64_t fcgix_lb_next_trial_ms(const fcgix_lb_t *lb, const fcgix_lb_group_t *g,
                               int64_t now_ms);

/** A member's state for display. */
typedef enum {
    FCGIX_LB_UP = 0,
    FCGIX_LB_DOWN,
    FCGIX_LB_TRIAL /**< down, its trial request under way */
} fcgix_lb_state_t;

/** The state of record @p i at @p now_ms. */
fcgix_lb_state_t fcgix_lb_state(const fcgix_lb_t *lb, int i, int64_t now_ms);

#endif /* FCGIX_LB_H */
