/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  mod_fastcgi_x.c
 * @brief Module glue: the module record, hook registration, routing of
 *        requests to applications (fixups) and the fastcgi-script handler
 *        entry point.
 *
 * Directives and configuration live in fcgi_config.c, the request path in
 * fcgi_handler.c, kept connections in fcgi_conns.c, the wire format in
 * fcgi_proto.c.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "apr_strings.h"
#include "apr_hash.h"

#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_handler.h"

/* No APLOG_USE_MODULE here: AP_DECLARE_MODULE at the end declares it. */

/** The handler name, mod_fastcgi's. */
#define FCGIX_HANDLER "fastcgi-script"

/* The applications of the running configuration, by path; set in
 * post_config, read-only afterwards (children inherit it). */
static apr_hash_t *app_registry;

static const fcgix_app_t *find_app(const char *path)
{
    return app_registry
               ? apr_hash_get(app_registry, path, APR_HASH_KEY_STRING)
               : NULL;
}

/* An application path followed by "/extra": split it so that "/extra"
 * becomes (the start of) PATH_INFO. */
static const fcgix_app_t *find_app_prefix(request_rec *r)
{
    char *path = apr_pstrdup(r->pool, r->filename);
    const fcgix_app_t *app;
    char *slash;

    while ((slash = strrchr(path, '/')) != NULL && slash != path) {
        *slash = '\0';
        app = find_app(path);
        if (app) {
            r->path_info = apr_pstrcat(r->pool, r->filename + (slash - path),
                                       r->path_info, NULL);
            r->filename = path;
            return app;
        }
    }
    return NULL;
}

/* An application path under a directory that does not exist: httpd's
 * walk stopped at the missing directory and put the rest in PATH_INFO.
 * Try the filename followed by the leading parts of PATH_INFO. */
static const fcgix_app_t *find_app_in_path_info(request_rec *r)
{
    const char *info = r->path_info;
    const fcgix_app_t *app;
    size_t i, len;
    char *path;

    if (info == NULL || info[0] != '/') {
        return NULL;
    }
    len = strlen(info);
    for (i = 1; i <= len; i++) {
        if (i < len && info[i] != '/') {
            continue;
        }
        path = apr_pstrcat(r->pool, r->filename,
                           apr_pstrmemdup(r->pool, info, i), NULL);
        app = find_app(path);
        if (app) {
            r->filename = path;
            r->path_info = apr_pstrdup(r->pool, info + i);
            return app;
        }
    }
    return NULL;
}

/* A request for a FastCgiServer or FastCgiExternalServer path goes to it
 * without AddHandler, and the file need not exist (mod_fastcgi does the
 * same in its fixups). */
static int fcgix_fixups(request_rec *r)
{
    if (r->filename == NULL || app_registry == NULL) {
        return DECLINED;
    }
    if (find_app(r->filename) || find_app_prefix(r)
        || find_app_in_path_info(r)) {
        r->handler = FCGIX_HANDLER;
    }
    return DECLINED;
}

static int fcgix_handler(request_rec *r)
{
    const fcgix_app_t *app;

    if (strcmp(r->handler, FCGIX_HANDLER)) {
        return DECLINED;
    }
    app = r->filename ? find_app(r->filename) : NULL;
    if (app && app->kind == FCGIX_APP_EXTERNAL) {
        return fcgix_serve(r, app);
    }
    if (app == NULL && r->finfo.filetype == APR_NOFILE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00002) "%s: no such FastCGI app",
                      r->filename ? r->filename : r->uri);
        return HTTP_NOT_FOUND;
    }
    /* Static and dynamic apps need the process manager, which is not
     * written yet: say so plainly instead of serving the script's
     * source. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  FCGIX_LOGNO(00001) "%s: %s apps need the process manager, "
                  "which this build of mod_fastcgi_x does not have yet",
                  r->filename, app ? "FastCgiServer" : "dynamic");
    apr_table_setn(r->err_headers_out, "Retry-After", "60");
    return HTTP_SERVICE_UNAVAILABLE;
}

static int fcgix_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    (void)s;
    app_registry = fcgix_registry(pconf);
    return OK;
}

static void fcgix_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (app_registry) {
        fcgix_conns_child_init(pchild, app_registry, s);
    }
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(fcgix_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(fcgix_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fcgix_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(fcgix_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(fastcgi_x) = {
    STANDARD20_MODULE_STUFF,
    fcgix_dir_conf_create,
    fcgix_dir_conf_merge,
    fcgix_srv_conf_create,
    fcgix_srv_conf_merge,
    fcgix_cmds,
    fcgix_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
