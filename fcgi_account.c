/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_account.c
 * @brief What an exchange with an app did, once it is over: the request
 *        notes LogFormat shows with %{NAME}n, and the app's statistics
 *        (fcgi_stats.h). The request path stamps times and bytes in
 *        req->timing as they happen; this file starts the clock, keeps
 *        the kind of the first failure, and accounts for the end.
 *
 * Cheap on purpose: three or four clock readings per request, no
 * allocation but the note strings.
 */

#include <string.h>

#include "apr_strings.h"
#include "apr_time.h"

#include "httpd.h"
#include "http_request.h"

#include "fcgi_connect.h"
#include "fcgi_req.h"
#include "fcgi_stats.h"

/* The request notes, for LogFormat "%{fastcgi-app}n" and its kin. */
#define NOTE_APP "fastcgi-app"
#define NOTE_MEMBER "fastcgi-member"
#define NOTE_CONNECT "fastcgi-connect-time"
#define NOTE_FIRST_BYTE "fastcgi-first-byte-time"
#define NOTE_APP_TIME "fastcgi-app-time"
#define NOTE_CONN "fastcgi-conn"

/* The name of the app's record: its path, or the label an fcgid class's
 * request carries (fcgi_fcgid.c: path, virtual host, identity). */
static const char *stats_label(const fcgix_req_t *req)
{
    return req->app->stats_label ? req->app->stats_label : req->app->path;
}

void fcgix_req_begin(fcgix_req_t *req)
{
    req->timing.start = apr_time_now();
    req->timing.rec = fcgix_stats_of(stats_label(req));
    req->timing.hold = fcgix_stats_begin(req->timing.rec);
}

void fcgix_req_error(fcgix_req_t *req, fcgix_err_kind_t kind)
{
    if (req->timing.outcome.error == FCGIX_ERR_NONE) {
        req->timing.outcome.error = kind;
    }
}

fcgix_err_kind_t fcgix_req_error_of(int status)
{
    switch (status) {
    case HTTP_SERVICE_UNAVAILABLE:
        return FCGIX_ERR_CONNECT;
    case HTTP_GATEWAY_TIME_OUT:
        return FCGIX_ERR_TIMEOUT;
    case HTTP_BAD_GATEWAY:
        return FCGIX_ERR_PROTOCOL;
    default:
        return FCGIX_ERR_NONE;
    }
}

/* How the exchange ended, when no failure said so: a 500 with a
 * finished exchange is httpd's header scanner refusing the app's
 * headers; a response whose headers went out with a 5xx status is the
 * app's own. */
static fcgix_err_kind_t ended_as(const fcgix_req_t *req, fcgix_step_t st)
{
    if (req->timing.outcome.error != FCGIX_ERR_NONE) {
        return req->timing.outcome.error;
    }
    if (st == FCGIX_STEP_FINISHED && req->status >= 500) {
        return FCGIX_ERR_PROTOCOL;
    }
    if (req->headers_done && req->auth.bb == NULL && req->r->status >= 500) {
        return FCGIX_ERR_APP_5XX;
    }
    return FCGIX_ERR_NONE;
}

static const char *usec_text(apr_pool_t *p, apr_time_t usec)
{
    return apr_psprintf(p, "%" APR_TIME_T_FMT, usec < 0 ? 0 : usec);
}

/* Which kind of connection the exchange ended on (fastcgi-conn). */
static const char *conn_kind(const fcgix_req_t *req)
{
    if (req->muxed) {
        return req->mux_probe ? "asked" : "shared";
    }
    return req->reused ? "kept" : "new";
}

/* fastcgi-member is the address of req->app at the end: the member of a
 * balanced server, the socket of a PM-run process, the server itself. */
static void set_notes(fcgix_req_t *req, apr_time_t end)
{
    request_rec *r = req->r;
    apr_time_t start = req->timing.start;

    apr_table_setn(r->notes, NOTE_APP, req->app->path);
    apr_table_setn(r->notes, NOTE_MEMBER,
                   fcgix_connect_address(req->app, r->pool));
    apr_table_setn(r->notes, NOTE_CONNECT,
                   usec_text(r->pool, req->timing.connect));
    if (req->timing.first_byte) {
        apr_table_setn(r->notes, NOTE_FIRST_BYTE,
                       usec_text(r->pool, req->timing.first_byte - start));
    }
    else {
        /* an authorizer's, earlier in this request */
        apr_table_unset(r->notes, NOTE_FIRST_BYTE);
    }
    apr_table_setn(r->notes, NOTE_APP_TIME, usec_text(r->pool, end - start));
    apr_table_setn(r->notes, NOTE_CONN, conn_kind(req));
}

void fcgix_req_account(fcgix_req_t *req, fcgix_step_t st)
{
    apr_time_t end = apr_time_now();

    if (req->timing.start == 0) {
        return; /* never began */
    }
    req->timing.outcome.error = ended_as(req, st);
    req->timing.outcome.usec = end - req->timing.start;
    set_notes(req, end);
    fcgix_stats_end(req->timing.rec, req->timing.hold, &req->timing.outcome);
}
