/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_filter.c
 * @brief The FILTER role (see fcgi_filter.h).
 */

#include <strings.h>

#include "apr_date.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "fcgi_balance.h"
#include "fcgi_config.h"
#include "fcgi_filter.h"
#include "fcgi_handler.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"

FCGIX_USE_LOG_MODULE;

static fcgix_app_find_fn *find_app;

/* One response on its way through the filter. */
typedef struct {
    apr_bucket_brigade *held; /* the body so far */
    apr_off_t in_memory;      /* its bytes not in a file */
    int refused;              /* too big: the rest is dropped */
} filter_ctx_t;

/* What fcgix_managed_run() / fcgix_balance_run() hand back. */
typedef struct {
    ap_filter_t *f;
    apr_bucket_brigade *data;
    apr_time_t last_mod;
    apr_status_t rv;
} filter_call_t;

static apr_status_t fcgix_filter_out(ap_filter_t *f, apr_bucket_brigade *bb);

const char *fcgix_cmd_filter(cmd_parms *cmd, void *dummy, const char *name,
                             const char *path)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);
    char *folded = apr_pstrdup(cmd->pool, name);

    (void)dummy;
    if (path[0] != '/') {
        return apr_psprintf(cmd->pool,
                            "FastCgiFilter %s %s: the app's path must be "
                            "absolute, as in its FastCgiServer or "
                            "FastCgiExternalServer",
                            name, path);
    }
    ap_str_tolower(folded); /* httpd's filter names are case-blind */
    if (conf->filters == NULL) {
        conf->filters = apr_table_make(cmd->pool, 2);
        conf->filters_at = apr_table_make(cmd->pool, 2);
    }
    apr_table_set(conf->filters, folded, path);
    apr_table_set(conf->filters_at, folded,
                  apr_psprintf(cmd->pool, "%s:%d: FastCgiFilter %s %s",
                               cmd->directive->filename,
                               cmd->directive->line_num, name, path));
    ap_register_output_filter(name, fcgix_filter_out, NULL, AP_FTYPE_RESOURCE);
    return NULL;
}

typedef struct {
    apr_pool_t *p;
    const fcgix_srv_conf_t *conf;
    const char *error;
} check_t;

static int check_one(void *data, const char *name, const char *path)
{
    check_t *c = data;
    const fcgix_app_t *app = find_app(path);

    if (app == NULL || app->kind == FCGIX_APP_DYNAMIC) {
        c->error = apr_psprintf(c->p,
                                "%s: no FastCgiServer or "
                                "FastCgiExternalServer is defined at %s",
                                apr_table_get(c->conf->filters_at, name), path);
        return 0;
    }
    return 1;
}

const char *fcgix_filter_post_config(apr_pool_t *p, server_rec *s,
                                     fcgix_app_find_fn *find)
{
    check_t c = {p, NULL, NULL};

    find_app = find;
    for (; s && c.error == NULL; s = s->next) {
        c.conf = fcgix_srv_conf(s);
        if (c.conf && c.conf->filters) {
            apr_table_do(check_one, &c, c.conf->filters, NULL);
        }
    }
    return c.error;
}

/* The filter's name as FastCgiFilter gave it: mod_filter runs the one
 * AddOutputFilterByType names under a harness called "BYTYPE:name". */
static const char *filter_name(const ap_filter_t *f)
{
    static const char harness[] = "bytype:";
    const char *name = f->frec->name;

    return strncasecmp(name, harness, sizeof(harness) - 1)
               ? name
               : name + sizeof(harness) - 1;
}

/* The app run for this filter name where the request is, or NULL. */
static const fcgix_app_t *filter_app(ap_filter_t *f)
{
    const fcgix_srv_conf_t *conf = fcgix_srv_conf(f->r->server);
    const char *path = conf && conf->filters
                           ? apr_table_get(conf->filters, filter_name(f))
                           : NULL;

    return path && find_app ? find_app(path) : NULL;
}

/* When the body last changed: the file's time, or the response's
 * Last-Modified, or 0. */
static apr_time_t body_last_mod(request_rec *r)
{
    const char *lm = apr_table_get(r->headers_out, "Last-Modified");

    if (r->mtime) {
        return r->mtime;
    }
    return lm ? apr_date_parse_http(lm) : 0;
}

static int run_leased(request_rec *r, const fcgix_app_t *target,
                      const fcgix_process_ops_t *rt, void *baton)
{
    filter_call_t *call = baton;

    (void)r;
    call->rv =
        fcgix_filter_run(call->f, target, call->data, call->last_mod, rt);
    return OK;
}

/* Nothing went out yet: httpd's error page for @status. */
static apr_status_t fail_response(ap_filter_t *f, int status)
{
    request_rec *r = f->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, f->c->bucket_alloc);

    APR_BRIGADE_INSERT_TAIL(
        bb, ap_bucket_error_create(status, NULL, r->pool, f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

/* The whole body is here: run the app on it, through the lease its kind
 * needs. */
static apr_status_t filter_body(ap_filter_t *f, filter_ctx_t *ctx)
{
    const fcgix_app_t *app = filter_app(f);
    filter_call_t call = {f, ctx->held, body_last_mod(f->r), APR_SUCCESS};
    int status;

    if (app == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      FCGIX_LOGNO(00010) "output filter %s: no FastCgiFilter "
                                         "of this name applies to this "
                                         "virtual host",
                      filter_name(f));
        return fail_response(f, HTTP_INTERNAL_SERVER_ERROR);
    }
    if (app->kind == FCGIX_APP_EXTERNAL && fcgix_balance_is(app)) {
        status = fcgix_balance_run(f->r, app, run_leased, &call);
    }
    else if (app->kind == FCGIX_APP_EXTERNAL) {
        status = run_leased(f->r, app, NULL, &call);
    }
    else {
        status = fcgix_managed_run(f->r, app, run_leased, &call);
    }
    return status == OK ? call.rv : fail_response(f, status);
}

/* Keep the body until its end. File buckets stay files; other bytes are
 * set aside, at most FCGIX_FILTER_MEMORY_MAX of them. Returns OK, or the
 * status to fail with: 500 when there is too much, or the status of an
 * error bucket (the handler failed midway: the body is not whole). */
static int hold(ap_filter_t *f, filter_ctx_t *ctx, apr_bucket_brigade *bb,
                int *eos)
{
    apr_bucket *e;

    *eos = 0;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            *eos = 1;
        }
        else if (AP_BUCKET_IS_ERROR(e)) {
            return ((ap_bucket_error *)e->data)->status;
        }
        else if (!APR_BUCKET_IS_METADATA(e) && !APR_BUCKET_IS_FILE(e)
                 && e->length != (apr_size_t)-1) {
            ctx->in_memory += (apr_off_t)e->length;
        }
    }
    if (ctx->in_memory > FCGIX_FILTER_MEMORY_MAX) {
        const fcgix_app_t *app = filter_app(f);

        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      FCGIX_LOGNO(00039) "output filter %s (FastCGI app %s): "
                                         "the response is more than %d bytes "
                                         "held in memory "
                                         "(FCGIX_FILTER_MEMORY_MAX); not "
                                         "filtering it",
                      filter_name(f), app ? app->path : "(none)",
                      FCGIX_FILTER_MEMORY_MAX);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);) {
        apr_bucket *next = APR_BUCKET_NEXT(e);

        if (APR_BUCKET_IS_METADATA(e)) {
            apr_bucket_delete(e); /* flushes, the EOS: ours to send */
        }
        e = next;
    }
    return ap_save_brigade(f, &ctx->held, &bb, f->r->pool) == APR_SUCCESS
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

static apr_status_t fcgix_filter_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    filter_ctx_t *ctx = f->ctx;
    int eos, status;

    if (ctx == NULL && f->r->status != HTTP_OK) {
        /* A 304, a redirect, an error page: not a body to filter */
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    if (ctx == NULL) {
        f->ctx = ctx = apr_pcalloc(f->r->pool, sizeof(*ctx));
        ctx->held = apr_brigade_create(f->r->pool, f->c->bucket_alloc);
    }
    if (ctx->refused) {
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    status = hold(f, ctx, bb, &eos);
    if (status != OK) {
        ctx->refused = 1;
        apr_brigade_cleanup(bb);
        apr_brigade_cleanup(ctx->held);
        return fail_response(f, status);
    }
    apr_brigade_cleanup(bb);
    if (!eos) {
        return APR_SUCCESS;
    }
    ap_remove_output_filter(f);
    return filter_body(f, ctx);
}
