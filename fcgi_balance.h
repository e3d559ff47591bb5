/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_balance.h
 * @brief Balanced external servers: a FastCgiExternalServer with several
 *        -host or -socket members (or -backup, -balance and their kin).
 *
 * In httpd's parent, post_config turns each balanced app's members into
 * records of the member board (fcgi_lb.h), resolving each host name to
 * every address it has, and keeps the board across graceful restarts so
 * that what is known of each member survives them. In a request, a
 * member is taken from the board, and the handler talks to it through the
 * same lease interface PM-run apps use (fcgix_process_ops_t): a member
 * that cannot be reached counts a failure and the request goes to the
 * next one.
 */

#ifndef FCGIX_BALANCE_H
#define FCGIX_BALANCE_H

#include "httpd.h"
#include "apr_hash.h"
#include "apr_tables.h"

#include "fcgi_config.h"
#include "fcgi_handler.h"
#include "fcgi_lb.h"

/**
 * post_config, in httpd's parent: set up the member board for the
 * balanced apps of @a registry.
 * @return OK, or an HTTP status to refuse to start (logged)
 */
int fcgix_balance_post_config(apr_pool_t *pconf, server_rec *s,
                              apr_hash_t *registry);

/**
 * Append the per-member apps of every balanced app to @a apps
 * (const fcgix_app_t *), for the kept-connection pools of a child.
 */
void fcgix_balance_member_apps(apr_array_header_t *apps);

/** The balancer's hooks (child_status: places of children that died). */
void fcgix_balance_register_hooks(apr_pool_t *p);

/** child_init: what each child needs for re-resolved members. */
void fcgix_balance_child_init(apr_pool_t *pchild);

/** Whether @a app is served through the balancer. */
int fcgix_balance_is(const fcgix_app_t *app);

/** Serve @a r through a member of the balanced @a app. */
int fcgix_balance_serve(request_rec *r, const fcgix_app_t *app);

/**
 * Lease a member of the balanced @a app and call @a fn with it.
 * @param r      the request
 * @param app    the balanced server
 * @param fn     what to run
 * @param baton  for @a fn
 * @return what @a fn returned, or the HTTP status of a failed lease
 */
int fcgix_balance_run(request_rec *r, const fcgix_app_t *app, fcgix_run_fn *fn,
                      void *baton);

/** Ask a member of the balanced @a app in the AUTHORIZER role. */
int fcgix_balance_authorize(request_rec *r, const fcgix_app_t *app,
                            const fcgix_auth_call_t *call,
                            fcgix_auth_reply_t *reply);

/** The board and @a app's range of it, for the status page.
 * @return 1 with both filled, 0 when @a app is not balanced */
int fcgix_balance_view(const fcgix_app_t *app, const fcgix_lb_t **lb,
                       fcgix_lb_group_t *g);

/** Milliseconds on the board's clock (the wall clock). */
int64_t fcgix_balance_now_ms(void);

#endif /* FCGIX_BALANCE_H */
