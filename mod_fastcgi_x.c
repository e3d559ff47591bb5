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
 * Directives and configuration live in fcgi_config.c (defaults in
 * fcgi_defaults.h), the whole-configuration checks in fcgi_check.c, the
 * request path in fcgi_handler.c, the AUTHORIZER role's hooks in
 * fcgi_authz.c, starting the process manager in fcgi_launch.c (the PM
 * itself in fcgi_pm.c), leases on its processes in fcgi_managed.c, kept
 * connections in fcgi_conns.c, the wire format in fcgi_proto.c, the
 * fastcgi-status page in fcgi_status.c, request statistics in
 * fcgi_stats.c.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"

#include "apr_strings.h"
#include "apr_hash.h"

#include <string.h>

#include "fcgi_authz.h"
#include "fcgi_balance.h"
#include "fcgi_check.h"
#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_handler.h"
#include "fcgi_launch.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"
#include "fcgi_stats.h"
#include "fcgi_status.h"
#include "fcgi_watch.h"

/* No APLOG_USE_MODULE here: AP_DECLARE_MODULE at the end declares it. */

/** The handler name, mod_fastcgi's. */
#define FCGIX_HANDLER "fastcgi-script"

/* The applications of the running configuration, by path; set in
 * post_config, read-only afterwards (children inherit it). */
static apr_hash_t *app_registry;

static const fcgix_app_t *find_app(const char *path)
{
    return app_registry ? apr_hash_get(app_registry, path, APR_HASH_KEY_STRING)
                        : NULL;
}

/* The app whose path is a leading part of r->filename + r->path_info
 * that ends at a '/' (or at the end); the rest becomes PATH_INFO. This
 * covers "app path + /extra" and an app under a directory that does not
 * exist (httpd's walk stopped there and put the rest in PATH_INFO).
 * Lookups use lengths, so nothing is allocated for requests that are not
 * for an app. */
static const fcgix_app_t *find_app_in_path(request_rec *r)
{
    const char *full = r->filename, *slash;
    const fcgix_app_t *app;
    size_t len;

    if (r->path_info && *r->path_info) {
        full = apr_pstrcat(r->pool, r->filename, r->path_info, NULL);
    }
    for (slash = strchr(full + 1, '/');; slash = strchr(slash + 1, '/')) {
        len = slash ? (size_t)(slash - full) : strlen(full);
        app = apr_hash_get(app_registry, full, (apr_ssize_t)len);
        if (app) {
            r->filename = apr_pstrmemdup(r->pool, full, len);
            r->path_info = apr_pstrdup(r->pool, full + len);
            return app;
        }
        if (slash == NULL) {
            return NULL;
        }
    }
}

/* A request for a FastCgiServer or FastCgiExternalServer path goes to it
 * without AddHandler, and the file need not exist (mod_fastcgi does the
 * same in its fixups). */
static int fcgix_fixups(request_rec *r)
{
    if (r->filename == NULL || r->filename[0] != '/' || app_registry == NULL
        || apr_hash_count(app_registry) == 0) {
        return DECLINED;
    }
    if (find_app(r->filename) || find_app_in_path(r)) {
        r->handler = FCGIX_HANDLER;
    }
    return DECLINED;
}

/* A dynamic app: any fastcgi-script file without a definition. Like
 * mod_fastcgi (and mod_cgi), only where Options ExecCGI is on. */
static int serve_dynamic(request_rec *r)
{
    if (r->finfo.filetype == APR_NOFILE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00002) "%s: no such FastCGI app",
                      r->filename ? r->filename : r->uri);
        return HTTP_NOT_FOUND;
    }
    if (r->finfo.filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00086) "%s: not a regular file; cannot "
                                         "run it as a FastCGI app",
                      r->filename);
        return HTTP_FORBIDDEN;
    }
    if (!(ap_allow_options(r) & OPT_EXECCGI)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00001) "%s: Options ExecCGI is off in "
                                         "this directory; not starting it "
                                         "as a dynamic FastCGI app",
                      r->filename);
        return HTTP_FORBIDDEN;
    }
    return fcgix_managed_serve(r, NULL);
}

static int fcgix_handler(request_rec *r)
{
    const fcgix_app_t *app;

    if (strcmp(r->handler, FCGIX_HANDLER)) {
        return DECLINED;
    }
    app = r->filename ? find_app(r->filename) : NULL;
    if (app && app->kind == FCGIX_APP_EXTERNAL) {
        return fcgix_balance_is(app) ? fcgix_balance_serve(r, app)
                                     : fcgix_serve(r, app, NULL);
    }
    if (app && app->kind == FCGIX_APP_STATIC) {
        return fcgix_managed_serve(r, app);
    }
    return serve_dynamic(r);
}

static int fcgix_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    int rc;

    app_registry = fcgix_registry(pconf);
    rc = fcgix_launch_post_config(pconf, s, app_registry);
    if (rc == OK) {
        rc = fcgix_balance_post_config(pconf, s, app_registry);
    }
    if (rc == OK) {
        rc = fcgix_watch_post_config(pconf, s);
    }
    return rc == OK ? fcgix_stats_post_config(pconf, s, app_registry) : rc;
}

/* Every app a child may keep connections to: those of the configuration
 * and each member of a balanced one. */
static apr_array_header_t *connectable_apps(apr_pool_t *p)
{
    apr_array_header_t *apps = apr_array_make(p, 8, sizeof(fcgix_app_t *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, app_registry); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(apps, const fcgix_app_t *) = apr_hash_this_val(hi);
    }
    fcgix_balance_member_apps(apps);
    return apps;
}

static void fcgix_child_init(apr_pool_t *pchild, server_rec *s)
{
    fcgix_launch_child_init();
    fcgix_managed_child_init();
    fcgix_balance_child_init(pchild);
    if (app_registry) {
        fcgix_conns_child_init(pchild, connectable_apps(pchild), s);
    }
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(fcgix_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(fcgix_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(fcgix_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fcgix_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    fcgix_authz_register_hooks(p, find_app);
    ap_hook_handler(fcgix_handler, NULL, NULL, APR_HOOK_MIDDLE);
    fcgix_status_register_hooks(p);
    fcgix_balance_register_hooks(p);
    fcgix_stats_register_hooks(p);
}

AP_DECLARE_MODULE(fastcgi_x) = {
    STANDARD20_MODULE_STUFF,    fcgix_dir_conf_create, fcgix_dir_conf_merge,
    fcgix_srv_conf_create,      fcgix_srv_conf_merge,  fcgix_cmds,
    fcgix_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
