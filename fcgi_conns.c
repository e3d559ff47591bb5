/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_conns.c
 * @brief Kept backend connections; see fcgi_conns.h for why they are
 *        held so briefly.
 */

#include <poll.h>
#include <unistd.h>

#include "apr_hash.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include "httpd.h"
#include "http_log.h"

#include "fcgi_conns.h"
#include "fcgi_defaults.h"
#include "fcgi_futex.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* An idle connection pins its app process: close it this soon. */
#define KEEP_IDLE_MAX apr_time_from_msec(20)
/* How often the reaper looks. */
#define REAP_INTERVAL apr_time_from_msec(10)
/* Retire a connection after this long or this many requests, so that its
 * app process goes back to accept() and serves whoever else waits. */
#define KEEP_LIFETIME apr_time_from_msec(100)
#define KEEP_MAX_USES 100

typedef struct {
    fcgix_conn_t conn;
    apr_time_t idle_since;
} idle_conn_t;

typedef struct {
    apr_thread_mutex_t *lock;
    idle_conn_t *idle; /* a stack: the most recent on top */
    int count;
    int max;
    int cap;              /* explicit -max-conns: most connections
                             open at once (in use + idle); 0: none */
    int busy;             /* connections (places) in use (cap only) */
    struct waiter *first; /* requests waiting for a place, in the */
    struct waiter *last;  /* order they came (cap only) */
} conn_pool_t;

/* A request waiting for a place, on its own stack: a place given back
 * passes to the first one (free_place()), which is woken alone. */
typedef struct waiter {
    struct waiter *next;
    uint32_t handed; /* 1: the place is ours (a futex word) */
} waiter_t;

/* Per child: app -> conn_pool_t; built in child_init, then read-only. */
static apr_hash_t *pools;
static volatile int reaper_stop;

static conn_pool_t *pool_of(const fcgix_app_t *app)
{
    return pools ? apr_hash_get(pools, &app, sizeof(app)) : NULL;
}

/* A kept connection the app closed (idle timeout, max requests) reads
 * as EOF; any readable byte on an idle connection is wrong either way. */
static int looks_alive(int fd)
{
    struct pollfd pfd;

    pfd.fd = fd;
    pfd.events = POLLIN;
    return poll(&pfd, 1, 0) == 0;
}

/* The most recent idle connection that looks alive; dead ones are
 * closed. Under the pool's lock. */
static int pop_alive(conn_pool_t *pool, fcgix_conn_t *conn)
{
    while (pool->count > 0) {
        *conn = pool->idle[--pool->count].conn;
        if (looks_alive(conn->fd)) {
            return 1;
        }
        close(conn->fd);
    }
    return 0;
}

int fcgix_conns_take(const fcgix_app_t *app, fcgix_conn_t *conn)
{
    conn_pool_t *pool = pool_of(app);
    int found;

    if (pool == NULL) {
        return 0;
    }
    apr_thread_mutex_lock(pool->lock);
    found = pop_alive(pool, conn);
    apr_thread_mutex_unlock(pool->lock);
    return found;
}

/* Leave the line of waiting requests without a place (timed out). */
static void leave_line(conn_pool_t *pool, waiter_t *me)
{
    waiter_t **p = &pool->first, *prev = NULL;

    while (*p && *p != me) {
        prev = *p;
        p = &(*p)->next;
    }
    if (*p) {
        *p = me->next;
        if (pool->last == me) {
            pool->last = prev;
        }
    }
}

/* Wait behind the requests that wait already, at most @timeout, for a
 * place given back (free_place()): never one taken by a request that
 * just came, which would leave those waiting on. Under the pool's lock
 * (let go while asleep). @return as fcgix_conns_wait_place(). */
static int wait_in_turn(conn_pool_t *pool, fcgix_conn_t *conn,
                        apr_interval_time_t timeout)
{
    apr_time_t deadline = apr_time_now() + timeout;
    waiter_t me = {NULL, 0};
    apr_interval_time_t left;

    if (pool->last) {
        pool->last->next = &me;
    }
    else {
        pool->first = &me;
    }
    pool->last = &me;
    while (!__atomic_load_n(&me.handed, __ATOMIC_ACQUIRE)) {
        if ((left = deadline - apr_time_now()) <= 0) {
            leave_line(pool, &me);
            return -1;
        }
        apr_thread_mutex_unlock(pool->lock);
        fcgix_futex_wait_ms(&me.handed, 0, (int)apr_time_as_msec(left + 999));
        apr_thread_mutex_lock(pool->lock);
    }
    return pop_alive(pool, conn); /* the place counts in busy already */
}

int fcgix_conns_wait_place(const fcgix_app_t *app, fcgix_conn_t *conn,
                           apr_interval_time_t timeout)
{
    conn_pool_t *pool = pool_of(app);
    int rc;

    if (pool == NULL || pool->cap == 0) {
        return FCGIX_CONNS_NO_CAP;
    }
    apr_thread_mutex_lock(pool->lock);
    /* busy, not busy + count: a connection given back stays idle for a
     * moment before its place passes to a waiting request (count 1, busy
     * unchanged); taken by a newcomer, the waiting request would open
     * one more connection than the app has processes for. */
    if (pool->first == NULL && pool->busy < pool->cap) {
        pool->busy++;
        rc = pop_alive(pool, conn);
    }
    else {
        rc = wait_in_turn(pool, conn, timeout);
    }
    apr_thread_mutex_unlock(pool->lock);
    return rc;
}

/* A place is free again (cap only): it passes to the request that has
 * waited longest, else it is free. Under the pool's lock, which the
 * woken request takes before it returns: its record is still there. */
static void free_place(conn_pool_t *pool)
{
    waiter_t *w = pool->first;

    if (pool->cap == 0 || pool->busy == 0) {
        return;
    }
    if (w == NULL) {
        pool->busy--;
        return;
    }
    pool->first = w->next;
    if (pool->first == NULL) {
        pool->last = NULL;
    }
    __atomic_store_n(&w->handed, 1, __ATOMIC_RELEASE);
    fcgix_futex_wake(&w->handed, 1);
}

void fcgix_conns_leave_place(const fcgix_app_t *app)
{
    conn_pool_t *pool = pool_of(app);

    if (pool && pool->cap > 0) {
        apr_thread_mutex_lock(pool->lock);
        free_place(pool);
        apr_thread_mutex_unlock(pool->lock);
    }
}

/* Whether a connection given back is worth keeping: always under a cap
 * (never more open than places, so nothing to retire), else while it is
 * young and has served few requests. */
static int worth_keeping(const conn_pool_t *pool, const fcgix_conn_t *conn,
                         apr_time_t now)
{
    return pool->cap > 0
           || (conn->uses < KEEP_MAX_USES && now - conn->born < KEEP_LIFETIME);
}

void fcgix_conns_give(const fcgix_app_t *app, const fcgix_conn_t *conn)
{
    conn_pool_t *pool = pool_of(app);
    apr_time_t now = apr_time_now();
    int kept = 0;

    if (pool) {
        apr_thread_mutex_lock(pool->lock);
        if (worth_keeping(pool, conn, now) && pool->count < pool->max) {
            pool->idle[pool->count].conn = *conn;
            pool->idle[pool->count].idle_since = now;
            pool->count++;
            kept = 1;
        }
        apr_thread_mutex_unlock(pool->lock);
    }
    if (!kept) {
        close(conn->fd);
    }
}

int fcgix_conns_idle_count(const fcgix_app_t *app)
{
    conn_pool_t *pool = pool_of(app);
    int count;

    if (pool == NULL) {
        return -1;
    }
    apr_thread_mutex_lock(pool->lock);
    count = pool->count;
    apr_thread_mutex_unlock(pool->lock);
    return count;
}

/* Close the idle connections older than KEEP_IDLE_MAX; the stack's
 * oldest entries are at the bottom. */
static void reap_pool(conn_pool_t *pool, apr_time_t now)
{
    int i, keep = 0;

    apr_thread_mutex_lock(pool->lock);
    for (i = 0; i < pool->count; i++) {
        if (now - pool->idle[i].idle_since >= KEEP_IDLE_MAX) {
            close(pool->idle[i].conn.fd);
        }
        else {
            pool->idle[keep++] = pool->idle[i];
        }
    }
    pool->count = keep;
    apr_thread_mutex_unlock(pool->lock);
}

static void *APR_THREAD_FUNC reaper(apr_thread_t *thd, void *data)
{
    apr_hash_index_t *hi;

    (void)data;
    while (!reaper_stop) {
        apr_sleep(REAP_INTERVAL);
        /* A NULL pool: the hash's own iterator, no allocation per pass;
         * only this thread iterates. */
        for (hi = apr_hash_first(NULL, pools); hi; hi = apr_hash_next(hi)) {
            reap_pool(apr_hash_this_val(hi), apr_time_now());
        }
    }
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

static apr_status_t stop_reaper(void *data)
{
    apr_thread_t *thd = data;
    apr_status_t rv;

    reaper_stop = 1;
    apr_thread_join(&rv, thd);
    return APR_SUCCESS;
}

static conn_pool_t *new_pool(apr_pool_t *p, int max, int cap)
{
    conn_pool_t *pool = apr_pcalloc(p, sizeof(*pool));

    apr_thread_mutex_create(&pool->lock, APR_THREAD_MUTEX_DEFAULT, p);
    pool->max = max;
    pool->cap = cap;
    pool->idle = apr_pcalloc(p, sizeof(idle_conn_t) * (apr_size_t)max);
    return pool;
}

void fcgix_conns_child_init(apr_pool_t *pchild, const apr_array_header_t *apps,
                            server_rec *s)
{
    apr_thread_t *thd;
    apr_status_t rv;
    int i;

    pools = apr_hash_make(pchild);
    for (i = 0; i < apps->nelts; i++) {
        const fcgix_app_t *app = APR_ARRAY_IDX(apps, i, const fcgix_app_t *);
        const fcgix_app_t **key;

        if (app->opts.keep_conn != 1) {
            continue;
        }
        key = apr_palloc(pchild, sizeof(*key));
        *key = app;
        apr_hash_set(
            pools, key, sizeof(*key),
            new_pool(pchild,
                     app->opts.max_conns > 0 ? app->opts.max_conns
                                             : FCGIX_DEFAULT_MAX_CONNS,
                     app->opts.max_conns > 0 ? app->opts.max_conns : 0));
    }
    if (apr_hash_count(pools) == 0) {
        return;
    }
    reaper_stop = 0;
    rv = apr_thread_create(&thd, NULL, reaper, pchild, pchild);
    if (rv != APR_SUCCESS) {
        /* Without the reaper idle connections could pin app processes:
         * keep none. */
        ap_log_error(
            APLOG_MARK, APLOG_ERR, rv, s,
            FCGIX_LOGNO(
                00060) "cannot start the thread that "
                       "closes idle FastCGI connections; -keep-conn is off "
                       "in this process");
        pools = NULL;
        return;
    }
    apr_pool_cleanup_register(pchild, thd, stop_reaper, apr_pool_cleanup_null);
}
