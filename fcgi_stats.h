/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_stats.h
 * @brief Per-application request statistics, counted by every httpd
 *        child in shared memory, for the status page and ?metrics:
 *        requests, in flight, errors by kind, response times over a
 *        recent window, bytes in and out.
 *
 * Every application has a record: those FastCgiServer and
 * FastCgiExternalServer define get one in post_config; a dynamic app
 * takes a free one at its first request. The records live in httpd's
 * process pool, so a graceful restart keeps the counts of the apps that
 * are still configured.
 */

#ifndef FCGIX_STATS_H
#define FCGIX_STATS_H

#include <stdint.h>

#include "httpd.h"
#include "apr_hash.h"
#include "apr_tables.h"

/** What went wrong with a request, for the error counts. */
typedef enum {
    FCGIX_ERR_NONE = -1,
    FCGIX_ERR_CONNECT = 0, /**< could not connect (refused, no socket) */
    FCGIX_ERR_TIMEOUT,     /**< connect or -idle-timeout timed out */
    FCGIX_ERR_PROTOCOL,    /**< the app broke FastCGI or CGI rules, or
                                closed early */
    FCGIX_ERR_APP_5XX,     /**< the app answered with a 5xx status */
    FCGIX_NERR
} fcgix_err_kind_t;

/** One request's outcome. */
typedef struct {
    fcgix_err_kind_t error;
    int64_t usec;       /**< from the start of the exchange to its end */
    uint64_t bytes_in;  /**< request body bytes sent to the app */
    uint64_t bytes_out; /**< response body bytes sent to the client */
} fcgix_stats_outcome_t;

/** An application's record (opaque). */
typedef struct fcgix_stats_rec fcgix_stats_rec_t;

/**
 * post_config, in httpd's parent: the records for the apps of
 * @a registry (and room for dynamic apps).
 * @return OK, or an HTTP status to refuse to start (logged)
 */
int fcgix_stats_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *registry);

/**
 * The name a class's record is kept under: @a path for the FastCgi
 * vocabulary (@a host NULL); "path [host]" for an fcgid class, "path
 * [host, ~uid]" when it runs as a suexec identity (@a uid >= 0), so that
 * each site's PHP (one wrapper path) has a row of its own.
 * docs/design/fcgid.md, section 4.
 */
const char *fcgix_stats_label(apr_pool_t *p, const char *path, const char *host,
                              long uid);

/** A virtual host's name in labels and on the status page: "name:port",
 *  as the process manager names its tenants. */
const char *fcgix_stats_host_name(apr_pool_t *p, const server_rec *s);

/**
 * The record of the app at @a path (a dynamic app's is taken at its first
 * request); NULL when there is none and no room for one.
 */
fcgix_stats_rec_t *fcgix_stats_of(const char *path);

/** A request to the app starts: one more in flight.
 *  @return a token for fcgix_stats_end() */
int fcgix_stats_begin(fcgix_stats_rec_t *rec);

/** The request is over: one less in flight, and its outcome counted. */
void fcgix_stats_end(fcgix_stats_rec_t *rec, int token,
                     const fcgix_stats_outcome_t *outcome);

/** The statistics' hooks (child_status: requests of children that
 *  died are in flight no more). */
void fcgix_stats_register_hooks(apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* For the status page                                                 */
/* ------------------------------------------------------------------ */

/** Buckets of the response-time histogram ?metrics shows: 100 us, 250 us,
 *  500 us, 1 ms, ... 50 s, 100 s (and +Inf, the count). */
#define FCGIX_STATS_NLE 19

/** What an app's record says now, in private memory. */
typedef struct {
    int64_t in_flight;
    uint64_t requests; /**< ended, errors included */
    uint64_t errors[FCGIX_NERR];
    uint64_t bytes_in, bytes_out;
    /* Every request since the record was made: */
    uint64_t timed;               /**< requests in the histogram */
    uint64_t sum_us;              /**< their times, added */
    uint64_t le[FCGIX_STATS_NLE]; /**< cumulative: those that took at most
                                       fcgix_stats_le_us(i) */
    /* The recent window: the last full minute and the current one. */
    int64_t window_ms;               /**< its span (60 to 120 s) */
    uint64_t recent;                 /**< requests that ended in it */
    int64_t mean_us, p50_us, p99_us; /**< -1 when it has none */
} fcgix_stats_view_t;

/** The upper bound of histogram bucket @a i (0 <= i < FCGIX_STATS_NLE) in
 *  microseconds. */
int64_t fcgix_stats_le_us(int i);

/**
 * What the record of the app at @a path says now (a record is never
 * taken by looking).
 * @return 1 with @a out filled, 0 when the app has no record
 */
int fcgix_stats_view(const char *path, fcgix_stats_view_t *out);

/**
 * The paths of the records that requests took (dynamic apps), whether or
 * not the app runs now, copied into @a p (const char *).
 */
apr_array_header_t *fcgix_stats_dynamic_paths(apr_pool_t *p);

#endif /* FCGIX_STATS_H */
