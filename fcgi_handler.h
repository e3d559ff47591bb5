/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_handler.h
 * @brief The request path's interface: serving a request in the RESPONDER
 *        role (fcgi_handler.c) and asking an app in the AUTHORIZER role
 *        (fcgi_auth.c). Behind it: CGI environment, backend connection,
 *        the pump (one poll loop over the backend socket), request body,
 *        response headers, STDERR and the mapping of failures to HTTP
 *        statuses; the files that share that work use fcgi_req.h.
 */

#ifndef FCGIX_HANDLER_H
#define FCGIX_HANDLER_H

#include "httpd.h"
#include "util_filter.h"

#include "fcgi_config.h"
#include "fcgi_log.h"

/** Request note set when the app did not answer within -idle-timeout. */
#define FCGIX_NOTE_HUNG "fcgix-app-hung"

/** For PM-run apps and balanced external servers: what the handler tells
 * the owner of the lease on the process (or member) it talks to. */
typedef struct {
    /** Give up the process @a *app points at, which refused the
     * connection or whose socket file is gone (@a err), and lease
     * another: OK with @a *app replaced, or the HTTP status to answer
     * (already logged). */
    int (*next)(request_rec *r, void *baton, const fcgix_app_t **app, int err);
    /** The exchange with the process is over (the response may still be
     * on its way to the client): give the process back now, so that the
     * next request finds it idle. */
    void (*done)(void *baton, int answered);
    void *baton;
    /** 0: only a refused connection or a missing socket file goes to
     * next() (a PM-run process that is gone); 1: any connect error,
     * timeouts included (a member of a balanced server). */
    int any_error;
    /** Or NULL: how long the next connect may wait, given what
     * -appConnTimeout says (@a configured_ms), so that the members a
     * request tries share one -appConnTimeout. */
    int (*connect_timeout)(void *baton, int configured_ms);
    /** Or NULL: a connection kept to the leased process, which the
     * caller now owns (a descriptor), or -1: none. */
    int (*reuse)(void *baton);
    /** Or NULL: keep @a fd, whose exchange ended cleanly, for a later
     * request to the process; the owner closes it if it cannot. */
    void (*keep)(void *baton, int fd);
    /** Or NULL: the process's first byte for this request came. */
    void (*answering)(void *baton);
} fcgix_process_ops_t;

/** What runs once a process (or member) is leased for a request that is
 * not the handler's own (the FILTER role): fcgix_managed_run(),
 * fcgix_balance_run(). */
typedef int fcgix_run_fn(request_rec *r, const fcgix_app_t *target,
                         const fcgix_process_ops_t *rt, void *baton);

/**
 * child_init: start this child's mux thread when an app has -multiplex
 * (fcgi_mux.h); it stops with @p pchild.
 */
void fcgix_handler_child_init(apr_pool_t *pchild, server_rec *s, int multiplex);

/**
 * Serve a request through a FastCGI application in the RESPONDER role.
 * @param r    the request; r->filename is the application's path
 * @param app  the application class that serves it
 * @param rt   the lease on the process of a PM-run app, or NULL
 * @return OK when a response was sent (or the client went away), or an
 *         HTTP status for httpd to send as an error page
 */
int fcgix_serve(request_rec *r, const fcgix_app_t *app,
                const fcgix_process_ops_t *rt);

/**
 * FILTER role: run @a app on a response httpd produced. The body goes to
 * the app as FCGI_DATA (FCGI_DATA_LENGTH, FCGI_DATA_LAST_MOD), the
 * request's CGI environment as PARAMS, an empty STDIN (the handler had
 * the request body); the app's headers and body replace the response and
 * go to the filter after @a f. A failure before any of it went out
 * becomes httpd's error page for that status.
 * @param f         the output filter (fcgi_filter.c)
 * @param app       the filter app
 * @param data      the whole response body (file buckets or set aside)
 * @param last_mod  the body's modification time, or 0
 * @param rt        the leased process (PM-run, balanced), or NULL
 * @return what ap_pass_brigade() returned
 */
int fcgix_filter_run(ap_filter_t *f, const fcgix_app_t *app,
                     apr_bucket_brigade *data, apr_time_t last_mod,
                     const fcgix_process_ops_t *rt);

/** What an authorizer is asked. */
typedef struct fcgix_auth_call_s {
    const char *apache_role; /**< FCGI_APACHE_ROLE: AUTHENTICATOR,
                                  AUTHORIZER or ACCESS_CHECKER */
    const char *user;        /**< REMOTE_USER, or NULL */
    const char *password;    /**< REMOTE_PASSWD, or NULL */
    const char *script;      /**< SCRIPT_FILENAME: the authorizer app,
                                  so that php-fpm runs it (not the file
                                  requested, which is in REQUEST_URI) */
} fcgix_auth_call_t;

/** What an authorizer answered. */
typedef struct fcgix_auth_reply_s {
    int status;             /**< its Status (200 when it sent none) */
    apr_table_t *headers;   /**< its other headers */
    apr_table_t *variables; /**< its Variable-NAME headers, as NAME */
    const char *body;       /**< its body, NUL-terminated */
    apr_size_t body_len;
} fcgix_auth_reply_t;

/**
 * Ask an app in the AUTHORIZER role about a request (FastCGI 6.3): no
 * request body, and no CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED or
 * SCRIPT_NAME. The response is kept whole (at most 1 MiB + 64 KiB), not
 * sent.
 * @param r      the request being checked
 * @param app    the authorizer app (its socket or host)
 * @param call   role and credentials
 * @param reply  filled when OK is returned
 * @param rt     the lease on the process of a PM-run app, or NULL
 * @return OK, or 500/503 when the app failed (logged, naming the app):
 *         never a grant
 */
int fcgix_authorize(request_rec *r, const fcgix_app_t *app,
                    const fcgix_auth_call_t *call, fcgix_auth_reply_t *reply,
                    const fcgix_process_ops_t *rt);

#endif /* FCGIX_HANDLER_H */
