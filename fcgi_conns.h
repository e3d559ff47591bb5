/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_conns.h
 * @brief Kept backend connections (FCGI_KEEP_CONN), per httpd child
 *        process and application, for apps configured with -keep-conn.
 *
 * An idle kept connection pins a single-threaded app process (php-fpm,
 * libfcgi): it blocks in read() on that connection and accepts nobody
 * else, which is how mod_proxy_fcgi's enablereuse hangs a small php-fpm
 * pool. So idle connections are closed after a short idle time by a
 * reaper thread, and a connection is retired after a bounded lifetime,
 * which sends its app process back to accept() where waiting connections
 * (from other httpd children) are served in order.
 *
 * With an explicit -max-conns n, n is also the most connections the child
 * has open to the app at once (mod_proxy_fcgi's "max"): a request that
 * finds all n busy waits for one to come back instead of opening another,
 * which would wait in the listen backlog behind connections that pin the
 * processes. Connections are then not retired after their lifetime.
 */

#ifndef FCGIX_CONNS_H
#define FCGIX_CONNS_H

#include "apr_pools.h"
#include "apr_time.h"
#include "httpd.h"

#include "fcgi_config.h"

/** A kept connection's history, carried while a request uses it. */
typedef struct {
    int fd;          /**< the socket, or -1 */
    apr_time_t born; /**< when it was connected */
    int uses;        /**< requests it has carried */
} fcgix_conn_t;

/**
 * Set up the pools of this httpd child for every app with -keep-conn and
 * start the reaper thread.
 * @param pchild  the child's pool; everything ends with it
 * @param apps    the applications (const fcgix_app_t *): those of the
 *                configuration and each member of a balanced one
 * @param s       the main server, for log lines
 */
void fcgix_conns_child_init(apr_pool_t *pchild, const apr_array_header_t *apps,
                            server_rec *s);

/**
 * Take an idle connection to @a app that still looks alive.
 * @param app   the application
 * @param conn  out: the connection, when one was found
 * @return 1 when @a conn holds a connection, 0 when a new one is needed
 */
int fcgix_conns_take(const fcgix_app_t *app, fcgix_conn_t *conn);

/** fcgix_conns_wait_place(): the app has no cap on connections. */
#define FCGIX_CONNS_NO_CAP 2

/**
 * With a cap on connections (explicit -max-conns), take a place among
 * them, waiting at most @a timeout for one to come back (in turn: while
 * requests wait, a place given back goes to the one that has waited
 * longest, never to a request that just came); then take an idle
 * connection if one is left.
 * @param app       the application
 * @param conn      out: an idle connection, when one was found
 * @param timeout   how long to wait for a place
 * @return 1: @a conn holds a kept connection (on our place); 0: a place
 *         is ours, connect anew; -1: none came back in time;
 *         FCGIX_CONNS_NO_CAP: no cap (use fcgix_conns_take())
 */
int fcgix_conns_wait_place(const fcgix_app_t *app, fcgix_conn_t *conn,
                           apr_interval_time_t timeout);

/** Give back a place taken by fcgix_conns_wait_place(), once the
 *  request's connection is given back or closed. Only a request that
 *  holds a place gives one back: one that went to another member
 *  without a place may still give its connection back. */
void fcgix_conns_leave_place(const fcgix_app_t *app);

/**
 * Give a connection back after a request that ended cleanly. It is kept
 * if there is room and it has not reached its lifetime; otherwise it is
 * closed.
 * @param app   the application
 * @param conn  the connection; its fd belongs to the pool afterwards
 */
void fcgix_conns_give(const fcgix_app_t *app, const fcgix_conn_t *conn);

/**
 * How many idle kept connections to @a app this httpd child holds now
 * (each child has a pool of its own); for the status page.
 * @param app  the application
 * @return the count, or -1 when this child keeps none for @a app (no
 *         -keep-conn, or kept connections are off in this child)
 */
int fcgix_conns_idle_count(const fcgix_app_t *app);

#endif /* FCGIX_CONNS_H */
