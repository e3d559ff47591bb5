/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_balance_int.h
 * @brief What the balancer's own files share: a balanced app as the
 *        parent set it up (fcgi_balance.c), used by the request path
 *        (fcgi_balance_req.c) and the watcher process (fcgi_watch.c).
 *        Private memory only: nothing here is read from shared memory.
 */

#ifndef FCGIX_BALANCE_INT_H
#define FCGIX_BALANCE_INT_H

#include "apr_hash.h"
#include "apr_network_io.h"

#include "fcgi_balance.h"
#include "fcgi_hold.h"
#include "fcgi_lb.h"

/** Records kept for one re-resolved host name: the most addresses it may
 *  have at once. */
#define FCGIX_LB_NAME_SLOTS 8

/** A -host name that -resolve-interval resolves again: the group's
 *  members first..first+count-1 are kept for its addresses. */
typedef struct {
    const char *spec; /**< "name:port" as configured */
    const char *host;
    apr_port_t port;
    int backup;
    int first, count;
} fcgix_lb_name_t;

/** One balanced app. */
typedef struct {
    const fcgix_app_t *app;
    fcgix_lb_group_t g;
    /** g.n: each member as an app to connect to; NULL for a record kept
     *  for a name's next address. A child replaces an entry when the
     *  record's address changes (its generation, in member_gen). */
    const fcgix_app_t **members;
    uint32_t *member_gen;
    fcgix_lb_name_t *names; /**< nnames */
    int nnames;
    int queue_timeout_ms;
    int resolve_interval_ms; /**< 0: resolve once, at startup */
    const char *health_uri;  /**< -health-check, or NULL */
    int health_interval_ms;
    int health_timeout_ms; /**< connect plus answer */
} fcgix_balanced_t;

/** The balanced app @a app is (by path), or NULL. */
fcgix_balanced_t *fcgix_balance_of(const fcgix_app_t *app);

/** The member board of this generation. */
fcgix_lb_t *fcgix_balance_board(void);

/** A place on a member of @a lb was given back: wake the requests
 *  waiting for room under -max-conns (fcgix_balance_wait()). */
void fcgix_balance_wake(fcgix_lb_t *lb);

/**
 * Wait until a place on a member of @a lb may have been given back since
 * @a seen (lb->head->freed as read before the pick that found no room),
 * at most @a ms milliseconds.
 */
void fcgix_balance_wait(fcgix_lb_t *lb, uint32_t seen, int ms);

/** The holder records of this generation's board. */
fcgix_holds_t *fcgix_balance_holds(void);

/** The balanced apps, by path (fcgix_balanced_t *); NULL before
 *  post_config or when there are none. */
apr_hash_t *fcgix_balance_all(void);

/** Whether any balanced app needs the watcher process (-resolve-interval
 *  or -health-check). */
int fcgix_balance_needs_watcher(void);

/**
 * An app to connect to for @a address ("ip:port" or "[ip6]:port"), a copy
 * of @a app, allocated from @a p; NULL when @a address is not one.
 */
const fcgix_app_t *fcgix_balance_member_app(apr_pool_t *p,
                                            const fcgix_app_t *app,
                                            const char *address);

/** Milliseconds between health checks / re-resolutions, defaults. */
#define FCGIX_LB_HEALTH_INTERVAL_MS 10000
#define FCGIX_LB_HEALTH_TIMEOUT_MS 5000

#endif /* FCGIX_BALANCE_INT_H */
