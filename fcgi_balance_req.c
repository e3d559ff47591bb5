/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_balance_req.c
 * @brief A request to a balanced external server: take a member from the
 *        board, hand the handler a lease on it, and on a failure the next
 *        member (see fcgi_balance.h).
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "apr_time.h"

#include "httpd.h"
#include "http_log.h"

#include "fcgi_balance.h"
#include "fcgi_balance_int.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* Waiting for a member with room (-max-conns): the longest one wait
 * lasts before the request looks again by itself, in milliseconds. */
#define QUEUE_WAIT_MAX_MS 100

typedef fcgix_balanced_t balanced_t;

/* Per child: what re-resolved members' apps are made from. */
static apr_pool_t *member_pool;
static apr_thread_mutex_t *member_lock;
static int32_t child_pid;
static unsigned hold_hint; /* spreads holds over the holder records */

void fcgix_balance_child_init(apr_pool_t *pchild)
{
    child_pid = (int32_t)getpid();
    hold_hint = (unsigned)child_pid * 2654435761u;
    if (apr_pool_create(&member_pool, pchild) != APR_SUCCESS
        || apr_thread_mutex_create(&member_lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild)
               != APR_SUCCESS) {
        member_pool = NULL;
        member_lock = NULL;
    }
}

/* The app to connect to for member @k. A record that re-resolution gave
 * another address since gets a new app for it, made once per change in
 * each child. NULL when the record holds no usable address. */
static const fcgix_app_t *member_target(const balanced_t *b, int k)
{
    char address[FCGIX_LB_ADDR_MAX];
    const fcgix_app_t *app;
    uint32_t gen;

    if (b->nnames == 0 || member_lock == NULL) {
        return b->members[k];
    }
    if (!fcgix_lb_address(fcgix_balance_board(), b->g.records[k], address,
                          sizeof(address), &gen)) {
        return NULL;
    }
    apr_thread_mutex_lock(member_lock);
    if (b->members[k] == NULL || b->member_gen[k] != gen) {
        app = fcgix_balance_member_app(member_pool, b->app, address);
        if (app) {
            b->members[k] = app;
            b->member_gen[k] = gen;
        }
    }
    app = b->members[k];
    apr_thread_mutex_unlock(member_lock);
    return app;
}

/* A request's hold on a member. */
typedef struct {
    request_rec *r;
    const balanced_t *b;
    int index;                   /* the member in use, -1 none */
    const fcgix_app_t *target;   /* what to connect to for it */
    uint64_t tried;              /* bit k: member k failed this request */
    int64_t connect_deadline_ms; /* the members tried share one
                                    -appConnTimeout (and a little more) */
    int holder;                  /* its holder record, -1 none */
    fcgix_process_ops_t ops;
} member_lease_t;

/* After a connect timeout, the next members get what is left of this
 * much more than one -appConnTimeout; then the request gives up. */
#define CONNECT_SLACK_MS 500

/* fcgix_process_ops_t.connect_timeout: the first connect may wait the
 * whole -appConnTimeout; later ones what is left of it (and the slack),
 * so that a request never waits much more than one -appConnTimeout for
 * members that drop connections. */
static int member_connect_timeout(void *baton, int configured_ms)
{
    member_lease_t *l = baton;
    int64_t now = fcgix_balance_now_ms(), left;

    if (l->connect_deadline_ms == 0) {
        l->connect_deadline_ms = now + configured_ms + CONNECT_SLACK_MS;
        return configured_ms;
    }
    left = l->connect_deadline_ms - now;
    return left < 1 ? 1 : left < configured_ms ? (int)left : configured_ms;
}

/* The request has waited one -appConnTimeout for members already. */
static int out_of_time(member_lease_t *l)
{
    if (l->connect_deadline_ms == 0
        || fcgix_balance_now_ms() < l->connect_deadline_ms) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, l->r,
                  FCGIX_LOGNO(00821) "FastCGI app %s: no member answered "
                                     "within -appConnTimeout; answering 503",
                  l->b->app->path);
    apr_table_setn(l->r->err_headers_out, "Retry-After", "1");
    return 1;
}

/* Member @k's address for a log line: a bounded copy, as any process of
 * httpd's User can write the board. */
static const char *member_name(const member_lease_t *l, int k)
{
    const fcgix_lb_member_t *m =
        fcgix_lb_member(fcgix_balance_board(), l->b->g.records[k]);

    return m ? apr_pstrndup(l->r->pool, m->address, sizeof(m->address) - 1)
             : "?";
}

static void set_retry_after(request_rec *r, int64_t ms)
{
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_itoa(r->pool, ms > 1000 ? (int)((ms + 999) / 1000) : 1));
}

static int every_member_down(member_lease_t *l)
{
    int64_t wait = fcgix_lb_next_trial_ms(fcgix_balance_board(), &l->b->g,
                                          fcgix_balance_now_ms());

    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, l->r,
                  FCGIX_LOGNO(00802) "FastCGI app %s: no member can take the "
                                     "request (every one is down%s); "
                                     "answering 503",
                  l->b->app->path, l->tried ? " or failed it" : "");
    set_retry_after(l->r, wait);
    return HTTP_SERVICE_UNAVAILABLE;
}

static int every_member_busy(member_lease_t *l)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, l->r,
                  FCGIX_LOGNO(00803) "FastCGI app %s: every member has "
                                     "-max-conns %d requests, and none "
                                     "freed within %d s (-queue-timeout); "
                                     "answering 503",
                  l->b->app->path, l->b->g.max_conns,
                  l->b->queue_timeout_ms / 1000);
    set_retry_after(l->r, 1000);
    return HTTP_SERVICE_UNAVAILABLE;
}

/* The request gives its place on the member back: first its holder
 * record, so that httpd's parent never gives the place back twice. */
static void unhold(member_lease_t *l)
{
    fcgix_unhold(fcgix_balance_holds(), l->holder, child_pid);
    l->holder = -1;
}

/* Take a member for the request, waiting at most -queue-timeout while
 * every member that is up has -max-conns requests. */
static int take_member(member_lease_t *l)
{
    fcgix_lb_t *lb = fcgix_balance_board();
    int64_t deadline = fcgix_balance_now_ms() + l->b->queue_timeout_ms, left;
    fcgix_lb_pick_t got;
    uint32_t seen;
    int k, trial;

    for (;;) {
        seen = __atomic_load_n(&lb->head->freed, __ATOMIC_ACQUIRE);
        got = fcgix_lb_pick(lb, &l->b->g, l->tried, fcgix_balance_now_ms(), &k,
                            &trial);
        if (got == FCGIX_LB_PICKED) {
            break;
        }
        if (got == FCGIX_LB_ALL_DOWN) {
            return every_member_down(l);
        }
        left = deadline - fcgix_balance_now_ms();
        if (left <= 0) {
            return every_member_busy(l);
        }
        /* Woken when a place is given back; the cap bounds what a wake
         * lost to a child that died would cost. */
        fcgix_balance_wait(
            lb, seen, left < QUEUE_WAIT_MAX_MS ? (int)left : QUEUE_WAIT_MAX_MS);
    }
    l->index = k;
    l->holder = fcgix_hold(fcgix_balance_holds(),
                           __atomic_add_fetch(&hold_hint, 1, __ATOMIC_RELAXED),
                           child_pid, l->b->g.records[k]);
    l->target = member_target(l->b, k);
    if (l->target == NULL) { /* its address went as it was taken */
        unhold(l);
        fcgix_lb_done(lb, &l->b->g, k, 0, fcgix_balance_now_ms());
        fcgix_balance_wake(lb);
        l->tried |= k < 64 ? (uint64_t)1 << k : 0;
        l->index = -1;
        return take_member(l);
    }
    if (trial) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, l->r,
                      FCGIX_LOGNO(00806) "FastCGI app %s: trying member %s "
                                         "again (its -fail-timeout is over)",
                      l->b->app->path, member_name(l, k));
    }
    return OK;
}

/* The member could not be reached, or reset the request before any
 * answer: count it, and take another member. */
static int next_member(request_rec *r, void *baton, const fcgix_app_t **app,
                       int err)
{
    member_lease_t *l = baton;
    int k = l->index, rc, went_down;
    const char *why = err == ECONNRESET
                          ? "connection reset before any answer"
                          : apr_psprintf(r->pool, "connect: %s", strerror(err));

    if (k < 0) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    unhold(l);
    went_down = fcgix_lb_failed(fcgix_balance_board(), &l->b->g, k, why,
                                fcgix_balance_now_ms());
    fcgix_balance_wake(fcgix_balance_board());
    if (went_down) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      FCGIX_LOGNO(00801) "FastCGI app %s: member %s is down "
                                         "for %d s: %s",
                      l->b->app->path, member_name(l, k),
                      l->b->g.fail_timeout_ms / 1000, why);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00804) "FastCGI app %s: member %s failed "
                                         "the request: %s; trying another",
                      l->b->app->path, member_name(l, k), why);
    }
    l->tried |= k < 64 ? (uint64_t)1 << k : 0;
    l->index = -1;
    if (err != ECONNRESET && out_of_time(l)) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    rc = take_member(l);
    if (rc == OK) {
        *app = l->target;
    }
    return rc;
}

static void member_done(void *baton, int answered)
{
    member_lease_t *l = baton;
    int back_up;

    if (l->index < 0) {
        return;
    }
    unhold(l);
    back_up = fcgix_lb_done(fcgix_balance_board(), &l->b->g, l->index, answered,
                            fcgix_balance_now_ms());
    fcgix_balance_wake(fcgix_balance_board());
    if (back_up) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, l->r,
                      FCGIX_LOGNO(00807) "FastCGI app %s: member %s answered "
                                         "and is up again",
                      l->b->app->path, member_name(l, l->index));
    }
    l->index = -1;
}

static member_lease_t *new_lease(request_rec *r, const balanced_t *b)
{
    member_lease_t *l = apr_pcalloc(r->pool, sizeof(*l));

    l->r = r;
    l->b = b;
    l->index = -1;
    l->holder = -1;
    l->ops.next = next_member;
    l->ops.done = member_done;
    l->ops.baton = l;
    l->ops.any_error = 1;
    l->ops.connect_timeout = member_connect_timeout;
    return l;
}

/* A lease on a member of @app for @r, or NULL with *rc the status to
 * answer (logged): the app has no member, or none can take the request. */
static member_lease_t *lease_member(request_rec *r, const fcgix_app_t *app,
                                    int *rc)
{
    balanced_t *b = fcgix_balance_of(app);
    member_lease_t *l;

    if (b == NULL || b->g.n == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00808) "FastCGI app %s: it has no member "
                                         "(no -host resolved); answering "
                                         "503",
                      app->path);
        set_retry_after(r, 5000);
        *rc = HTTP_SERVICE_UNAVAILABLE;
        return NULL;
    }
    l = new_lease(r, b);
    *rc = take_member(l);
    return *rc == OK ? l : NULL;
}

int fcgix_balance_serve(request_rec *r, const fcgix_app_t *app)
{
    int rc;
    member_lease_t *l = lease_member(r, app, &rc);

    if (l == NULL) {
        return rc;
    }
    rc = fcgix_serve(r, l->target, &l->ops);
    member_done(l, 0); /* when the handler did not say */
    return rc;
}

int fcgix_balance_run(request_rec *r, const fcgix_app_t *app, fcgix_run_fn *fn,
                      void *baton)
{
    int rc;
    member_lease_t *l = lease_member(r, app, &rc);

    if (l == NULL) {
        return rc;
    }
    rc = fn(r, l->target, &l->ops, baton);
    member_done(l, 0);
    return rc;
}

int fcgix_balance_authorize(request_rec *r, const fcgix_app_t *app,
                            const fcgix_auth_call_t *call,
                            fcgix_auth_reply_t *reply)
{
    int rc;
    member_lease_t *l = lease_member(r, app, &rc);

    if (l == NULL) {
        return rc;
    }
    rc = fcgix_authorize(r, l->target, call, reply, &l->ops);
    member_done(l, 0);
    return rc;
}
