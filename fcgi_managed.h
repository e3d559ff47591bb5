/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_managed.h
 * @brief Requests to the apps the process manager runs: FastCgiServer
 *        pools and dynamic apps. Picks a process on the scoreboard, asks
 *        the PM to start one when none takes requests, and hands the
 *        request to the responder data path (fcgi_handler.h).
 */

#ifndef FCGIX_MANAGED_H
#define FCGIX_MANAGED_H

#include "httpd.h"

#include "fcgi_config.h"
#include "fcgi_handler.h"
#include "fcgi_sb.h"

/** What the request side needs to know of the running PM; set in
 *  post_config, read-only afterwards (children inherit it). */
typedef struct {
    fcgix_sb_t *sb;             /**< the scoreboard, or NULL: no PM */
    const char *control_path;   /**< the PM's control socket */
    const fcgix_app_t *dynamic; /**< template of dynamic apps (FastCgiConfig
                                     options) */
    int start_timeout;          /**< seconds a request waits for a start */
    int auto_update;            /**< FastCgiConfig -autoUpdate */
    int wrapper;                /**< FastCgiWrapper: dynamic apps run as
                                     the request's suexec identity */
    int host_caps;              /**< a FastCgiMaxHostProcesses is set:
                                     dynamic apps are classes per virtual
                                     host, so that the PM counts them */
    int keep_conns;             /**< FastCgiKeepConnections */
} fcgix_managed_t;

/** Which class a request goes to and how it waits for a process, for
 *  classes keyed by more than their path (mod_fcgid's vocabulary:
 *  docs/design/fcgid.md 3.3, 5, 6). */
typedef struct {
    int vocab;        /**< FCGIX_VOCAB_* */
    unsigned tenant;  /**< 0: none; else the server_rec's index + 1 */
    unsigned cmd;     /**< 0: the script itself; else the command's
                           index + 1 */
    int has_identity; /**< run through suexec as uid/gid */
    long uid, gid;
    int userdir;            /**< a mod_userdir identity (~uid) */
    const char *path;       /**< the class's path: script or argv[0] */
    const fcgix_app_t *app; /**< the exchange's options */
    int exclusive;          /**< one request per process */
    int wait_ms;            /**< longest wait for a process */
    int tenant_wait_max;    /**< requests of the host that may wait while
                                 it is at its process cap; 0: no bound */
} fcgix_class_req_t;

/** Set what fcgix_managed_serve() uses. */
void fcgix_managed_init(const fcgix_managed_t *m);

/** In each httpd child (child_init): note its pid once, for the lease
 *  holder records, and start keeping connections (fcgi_keep.h). */
void fcgix_managed_child_init(apr_pool_t *pchild, server_rec *s);

/**
 * Serve a request through a PM-run app.
 * @param r    the request; r->filename is the app's path
 * @param app  its FastCgiServer definition, or NULL for a dynamic app
 * @return as fcgix_serve(); 503 with Retry-After when no process can
 *         take the request within -startTimeout
 */
int fcgix_managed_serve(request_rec *r, const fcgix_app_t *app);

/**
 * Lease a process of the FastCgiServer @a app and call @a fn with it.
 * @param r      the request
 * @param app    the pool
 * @param fn     what to run
 * @param baton  for @a fn
 * @return what @a fn returned, or the HTTP status of a failed lease
 */
int fcgix_managed_run(request_rec *r, const fcgix_app_t *app, fcgix_run_fn *fn,
                      void *baton);

/**
 * Serve a request through the class @a cr names: lease one of its
 * processes, asking the PM to start one when none is open; an exclusive
 * class's request waits (polling the board, at most cr->wait_ms) while
 * every process has a request. 503 with Retry-After when none comes in
 * time or the host is at its cap with its waiting bound reached.
 */
int fcgix_managed_serve_class(request_rec *r, const fcgix_class_req_t *cr);

/** As fcgix_managed_serve_class(), in the AUTHORIZER role. */
int fcgix_managed_authorize_class(request_rec *r, const fcgix_class_req_t *cr,
                                  const fcgix_auth_call_t *call,
                                  fcgix_auth_reply_t *reply);

/**
 * Ask a PM-run app in the AUTHORIZER role (fcgix_authorize()).
 * @param path  the authorizer app's path
 * @param app   its FastCgiServer definition, or NULL for a dynamic app
 * @return as fcgix_authorize()
 */
int fcgix_managed_authorize(request_rec *r, const fcgix_app_t *app,
                            const char *path, const fcgix_auth_call_t *call,
                            fcgix_auth_reply_t *reply);

#endif /* FCGIX_MANAGED_H */
