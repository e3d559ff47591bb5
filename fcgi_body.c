/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_body.c
 * @brief The request body (see fcgi_body.h).
 */

#include <string.h>

#include "apr_file_io.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "fcgi_body.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* Chunked request bodies are spooled in memory up to this size, then to a
 * temporary file, so that CONTENT_LENGTH can be sent (PHP needs it). */
#define SPOOL_MEMORY_MAX (1024 * 1024)

/* A chunked body being spooled. */
typedef struct {
    fcgix_body_t *body;
    request_rec *r;
    const char *app;  /* for log lines */
    apr_file_t *file; /* created when memory is not enough */
    const char *dir;  /* where the file is */
    apr_off_t total;
    apr_off_t file_len;
    apr_off_t limit;        /* FastCgiSpoolLimit; 0: none */
    const char *limit_name; /* the directive that set it */
} spool_t;

void fcgix_body_init(fcgix_body_t *b, request_rec *r)
{
    memset(b, 0, sizeof(*b));
    b->max_body = -1;
    b->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
}

int fcgix_body_done(const fcgix_body_t *b)
{
    return b->eos && APR_BRIGADE_EMPTY(b->bb);
}

/* Move request body into b->bb; note and drop its EOS. */
static apr_status_t read_body(fcgix_body_t *b, request_rec *r,
                              apr_read_type_e block)
{
    apr_bucket *e, *next;
    apr_status_t rv;

    rv = ap_get_brigade(r->input_filters, b->bb, AP_MODE_READBYTES, block,
                        FCGIX_BODY_CHUNK);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (e = APR_BRIGADE_FIRST(b->bb); e != APR_BRIGADE_SENTINEL(b->bb);
         e = next) {
        next = APR_BUCKET_NEXT(e);
        if (APR_BUCKET_IS_EOS(e)) {
            b->eos = 1;
        }
        if (APR_BUCKET_IS_METADATA(e)) {
            apr_bucket_delete(e);
        }
    }
    return APR_SUCCESS;
}

/* Called only when the app can take more, so the client is read only as
 * fast as the app consumes. */
int fcgix_body_next(fcgix_body_t *b, request_rec *r, const char *app,
                    apr_read_type_e block, unsigned char *buf, apr_size_t *len)
{
    apr_bucket *rest;
    apr_status_t rv;

    b->taken = 1;
    if (APR_BRIGADE_EMPTY(b->bb) && !b->eos) {
        rv = read_body(b, r, block);
        if (block == APR_NONBLOCK_READ
            && (APR_STATUS_IS_EAGAIN(rv)
                || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(b->bb)
                    && !b->eos))) {
            *len = 0; /* nothing from the client yet */
            return OK;
        }
        if (rv != APR_SUCCESS) {
            /* The client's fault (or its going away): not worth more
             * than a debug line. */
            ap_log_rerror(
                APLOG_MARK, APLOG_DEBUG, rv, r,
                FCGIX_LOGNO(00025) "FastCGI app %s: reading the "
                                   "request body from the client failed",
                app);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
    }
    rv = apr_brigade_flatten(b->bb, (char *)buf, len);
    rest = APR_BRIGADE_FIRST(b->bb);
    if (rv == APR_SUCCESS && *len > 0) {
        rv = apr_brigade_partition(b->bb, (apr_off_t)*len, &rest);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00026) "FastCGI app %s: reading the "
                                         "spooled request body failed: %pm",
                      app, &rv);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    while (APR_BRIGADE_FIRST(b->bb) != rest) {
        apr_bucket_delete(APR_BRIGADE_FIRST(b->bb));
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* Spooling chunked bodies                                             */
/* ------------------------------------------------------------------ */

/* The temporary file is unlinked as soon as it exists: nothing can stay
 * behind in the temp dir, not even when httpd is killed mid-request, and
 * its space is freed when it is closed. */
static apr_status_t open_spool_file(spool_t *sp)
{
    apr_pool_t *p = sp->r->pool;
    char *name;
    apr_status_t rv;

    rv = apr_temp_dir_get(&sp->dir, p);
    if (rv != APR_SUCCESS) {
        sp->dir = "the temp dir";
        return rv;
    }
    name = apr_pstrcat(p, sp->dir, "/fcgix-body-XXXXXX", NULL);
    rv = apr_file_mktemp(&sp->file, name,
                         APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE
                             | APR_FOPEN_EXCL,
                         p);
    if (rv != APR_SUCCESS) {
        sp->file = NULL;
        return rv;
    }
    rv = apr_file_remove(name, p);
    if (rv != APR_SUCCESS) {
        apr_file_close(sp->file);
        sp->file = NULL;
    }
    return rv;
}

/* Keep one bucket's data: memory while the total stays under
 * SPOOL_MEMORY_MAX, the temporary file for the rest. */
static apr_status_t spool_store(spool_t *sp, apr_bucket *e, const char *data,
                                apr_size_t len)
{
    apr_status_t rv;

    if (sp->file == NULL && sp->total + len <= SPOOL_MEMORY_MAX) {
        rv = apr_bucket_setaside(e, sp->r->pool);
        APR_BUCKET_REMOVE(e);
        APR_BRIGADE_INSERT_TAIL(sp->body->bb, e);
        return rv;
    }
    if (sp->file == NULL && (rv = open_spool_file(sp)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_write_full(sp->file, data, len, NULL);
    sp->file_len += (apr_off_t)len;
    apr_bucket_delete(e);
    return rv;
}

/* The client's failure (or its going away): not worth more than a debug
 * line; LimitRequestBody maps to 413. */
static int spool_read_failed(const spool_t *sp, apr_status_t rv)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, sp->r,
                  FCGIX_LOGNO(00050) "FastCGI app %s: reading the "
                                     "chunked request body to spool it failed",
                  sp->app);
    return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
}

static int over_spool_limit(const spool_t *sp)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, sp->r,
                  FCGIX_LOGNO(00303) "FastCGI app %s: chunked request body "
                                     "larger than %s (%" APR_OFF_T_FMT
                                     " bytes); refused with 413",
                  sp->app, sp->limit_name, sp->limit);
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

/* Our failure (disk full, temp dir not writable), not the client's. */
static int spool_write_failed(const spool_t *sp, apr_status_t rv)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, sp->r,
                  FCGIX_LOGNO(00304) "FastCGI app %s: cannot spool the "
                                     "chunked request body to a temporary "
                                     "file in %s: %pm",
                  sp->app, sp->dir, &rv);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Move the data of @bb into the spool. Returns OK or an HTTP status. */
static int spool_brigade(spool_t *sp, apr_bucket_brigade *bb)
{
    const char *data;
    apr_size_t len;
    apr_bucket *e;
    apr_status_t rv;

    while (!APR_BRIGADE_EMPTY(bb)) {
        e = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_METADATA(e)) {
            sp->body->eos |= APR_BUCKET_IS_EOS(e);
            apr_bucket_delete(e);
            continue;
        }
        rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return spool_read_failed(sp, rv);
        }
        if (sp->limit > 0 && sp->total + (apr_off_t)len > sp->limit) {
            return over_spool_limit(sp);
        }
        rv = spool_store(sp, e, data, len);
        if (rv != APR_SUCCESS) {
            return spool_write_failed(sp, rv);
        }
        sp->total += (apr_off_t)len;
    }
    return OK;
}

/* Read a chunked body whole, so that CONTENT_LENGTH can be sent (PHP
 * needs it), at most FastCgiSpoolLimit bytes. Returns OK or an HTTP
 * status; on failure the file is closed at once, freeing its space. */
static int spool_body(spool_t *sp, apr_off_t *total)
{
    request_rec *r = sp->r;
    apr_bucket_brigade *bb =
        apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_status_t rv;
    int status = OK;

    while (status == OK && !sp->body->eos) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, FCGIX_BODY_CHUNK);
        status = rv == APR_SUCCESS ? spool_brigade(sp, bb)
                                   : spool_read_failed(sp, rv);
    }
    apr_brigade_cleanup(bb);
    if (status != OK) {
        if (sp->file) {
            apr_file_close(sp->file);
        }
        return status;
    }
    if (sp->file) {
        apr_brigade_insert_file(sp->body->bb, sp->file, 0, sp->file_len,
                                r->pool);
    }
    sp->body->spooled = 1;
    *total = sp->total;
    return OK;
}

int fcgix_body_prepare(fcgix_body_t *b, request_rec *r, const char *app,
                       const fcgix_dir_conf_t *dconf, apr_off_t *spooled_len)
{
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    int mode = dconf->chunked_body;
    spool_t sp = {b, r, app, NULL, NULL, 0, 0, 0, NULL};

    *spooled_len = -1;
    if (te == NULL) {
        /* No body at all: the end of STDIN goes out with the PARAMS. */
        if (cl == NULL || !strcmp(cl, "0")) {
            b->eos = 1;
        }
        return OK;
    }
    if (mode == FCGIX_CHUNKED_REFUSE) {
        return HTTP_LENGTH_REQUIRED;
    }
    if (mode == FCGIX_CHUNKED_STREAM && b->max_body < 0) {
        return OK; /* with a body limit, counted while spooled */
    }
    sp.limit = fcgix_spool_limit(dconf);
    sp.limit_name = "FastCgiSpoolLimit";
    if (b->max_body >= 0 && (sp.limit <= 0 || b->max_body < sp.limit)) {
        sp.limit = b->max_body;
        sp.limit_name = "FcgidMaxRequestLen";
    }
    return spool_body(&sp, spooled_len);
}

/* ------------------------------------------------------------------ */
/* Small bodies, kept for a resend                                     */
/* ------------------------------------------------------------------ */

/* A small body is read whole before anything is sent, so that the
 * request can go again on a new connection when a kept one turns out to
 * be dead (php-fpm's pm.max_requests closes them). */
int fcgix_body_keep_small(fcgix_body_t *b, request_rec *r, int keep_conn)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t len = FCGIX_BODY_CHUNK;
    apr_off_t total = -1;
    apr_status_t rv;
    char *body;

    if (keep_conn != 1 || (b->eos && !b->spooled)) {
        return OK;
    }
    if (!b->spooled
        && (cl == NULL || apr_atoi64(cl) > (apr_int64_t)FCGIX_BODY_CHUNK)) {
        return OK;
    }
    while (!b->eos) {
        rv = read_body(b, r, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
    }
    body = apr_palloc(r->pool, FCGIX_BODY_CHUNK);
    rv = apr_brigade_flatten(b->bb, body, &len);
    if (rv == APR_SUCCESS) {
        rv = apr_brigade_length(b->bb, 1, &total);
    }
    /* Larger than a record after all, or unreadable: the body stays in
     * b->bb and goes the usual way. */
    if (rv == APR_SUCCESS && total == (apr_off_t)len) {
        apr_brigade_cleanup(b->bb);
        b->small = body;
        b->small_len = len;
    }
    return OK;
}
