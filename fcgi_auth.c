/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_auth.c
 * @brief The AUTHORIZER role (FastCGI 6.3): the exchange runs through the
 *        handler's pump, but the response is kept whole, not sent, and
 *        split into status, headers, Variable-* and body for the caller
 *        (the Authenticator, Authorizer and AccessChecker hooks).
 */

#include <string.h>
#include <strings.h>

#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_script.h"

#include "fcgi_auth.h"
#include "fcgi_handler.h"
#include "fcgi_headers.h"
#include "fcgi_req.h"

FCGIX_USE_LOG_MODULE;

/* An authorizer's response is small: headers and a short page. */
#define AUTH_REPLY_MAX (FCGIX_MAX_HEADER_BYTES + 1024 * 1024)

fcgix_step_t fcgix_auth_capture(fcgix_req_t *req, const unsigned char *data,
                                size_t len)
{
    size_t used;

    if (req->auth.len + len > AUTH_REPLY_MAX) {
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00094),
                              "authorizer response longer than %d bytes",
                              AUTH_REPLY_MAX);
    }
    if (fcgix_hdrscan(&req->scan, (const char *)data, len, &used) < 0) {
        return fcgix_headers_refuse(req);
    }
    req->auth.len += len;
    apr_brigade_write(req->auth.bb, NULL, NULL, (const char *)data, len);
    return FCGIX_STEP_CONTINUE;
}

/* The authorizer's environment: the request's CGI variables without
 * CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED and SCRIPT_NAME (FastCGI
 * 6.3), plus FCGI_APACHE_ROLE and the credentials. The request's own
 * subprocess_env is left as it was. */
static apr_table_t *auth_env(fcgix_req_t *req, const fcgix_auth_call_t *call)
{
    request_rec *r = req->r;
    apr_table_t *saved = apr_table_copy(r->pool, r->subprocess_env);
    apr_table_t *env;

    ap_add_common_vars(r);
    ap_add_cgi_vars(r);
    env = r->subprocess_env;
    r->subprocess_env = saved;
    apr_table_unset(env, "CONTENT_LENGTH");
    apr_table_unset(env, "PATH_INFO");
    apr_table_unset(env, "PATH_TRANSLATED");
    apr_table_unset(env, "SCRIPT_NAME");
    apr_table_setn(env, "FCGI_APACHE_ROLE", call->apache_role);
    if (call->script) {
        apr_table_setn(env, "SCRIPT_FILENAME", call->script);
    }
    if (call->user) {
        apr_table_setn(env, "REMOTE_USER", call->user);
    }
    if (call->password) {
        apr_table_setn(env, "REMOTE_PASSWD", call->password);
    }
    return env;
}

/* A malformed authorizer response denies (500) with a log line. */
static int bad_reply(fcgix_req_t *req, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r,
                  FCGIX_LOGNO(00095) "FastCGI authorizer %s: malformed "
                                     "response: %s; denying",
                  req->app->path, why);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* A 1xx is no verdict: as a denial it would reach the client as an
 * interim status (a 101 switches a front proxy into tunnel mode). */
static int interim_reply(fcgix_req_t *req, int status)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r,
                  FCGIX_LOGNO(00301) "FastCGI authorizer %s: Status %d is "
                                     "an interim (1xx) status, not a "
                                     "verdict; denying",
                  req->app->path, status);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* One "Name: value" header line of the kept response. */
static int take_reply_header(fcgix_req_t *req, const fcgix_header_t *h,
                             fcgix_auth_reply_t *reply)
{
    apr_pool_t *p = req->r->pool;
    char *name = apr_pstrmemdup(p, h->name, h->name_len);
    char *value = apr_pstrmemdup(p, h->value, h->value_len);

    if (strcasecmp(name, "Status") == 0) {
        reply->status = fcgix_status_code(h->value, h->value_len);
        if (reply->status < 0) {
            return bad_reply(req, "an invalid Status");
        }
        if (reply->status < 200) {
            return interim_reply(req, reply->status);
        }
    }
    else if (strncasecmp(name, "Variable-", 9) == 0 && name[9]) {
        apr_table_set(reply->variables, name + 9, value);
    }
    else {
        apr_table_add(reply->headers, name, value);
    }
    return OK;
}

/* Split the kept response into status, headers, Variable-* and body. */
static int parse_reply(fcgix_req_t *req, fcgix_auth_reply_t *reply)
{
    apr_pool_t *p = req->r->pool;
    fcgix_header_t h;
    apr_size_t len, pos = 0, used;
    char *buf;
    int rc;

    if (apr_brigade_pflatten(req->auth.bb, &buf, &len, p) != APR_SUCCESS) {
        return bad_reply(req, "cannot read it");
    }
    reply->status = HTTP_OK;
    reply->headers = apr_table_make(p, 4);
    reply->variables = apr_table_make(p, 4);
    while ((rc = fcgix_header_next(buf + pos, len - pos, &used, &h)) == 1) {
        pos += used;
        if ((rc = take_reply_header(req, &h, reply)) != OK) {
            return rc;
        }
    }
    if (rc < 0) {
        return bad_reply(req, "no blank line after the headers");
    }
    pos += used;
    reply->body = apr_pstrmemdup(p, buf + pos, len - pos);
    reply->body_len = len - pos;
    return OK;
}

int fcgix_authorize(request_rec *r, const fcgix_app_t *app,
                    const fcgix_auth_call_t *call, fcgix_auth_reply_t *reply,
                    const fcgix_process_ops_t *rt)
{
    fcgix_req_t *req = fcgix_req_new(r, app);
    apr_table_t *env;
    fcgix_step_t st;
    int rc;

    req->lease = rt;
    req->auth.role = FCGIX_AUTHORIZER;
    req->auth.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    req->body.eos = 1; /* an authorizer gets no request body */
    req->opts.keep_conn = 0;
    req->opts.nph = 0;
    env = auth_env(req, call);
    fcgix_req_begin(req);
    st = fcgix_req_run(req, env);
    if (st != FCGIX_STEP_FINISHED || req->status != OK) {
        fcgix_req_finish(req, st);
        /* Fail closed: the failure was logged naming the app; no access.
         * 503 when the app could not be reached, else 500. */
        return req->status == HTTP_SERVICE_UNAVAILABLE
                   ? HTTP_SERVICE_UNAVAILABLE
                   : HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The verdict is read before the exchange is accounted for: a
     * malformed one is the app's protocol error, a 5xx its own error. */
    rc = parse_reply(req, reply);
    fcgix_req_error(req, rc != OK               ? FCGIX_ERR_PROTOCOL
                         : reply->status >= 500 ? FCGIX_ERR_APP_5XX
                                                : FCGIX_ERR_NONE);
    fcgix_req_finish(req, st);
    return rc;
}
