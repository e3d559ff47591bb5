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

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr(), for the file names in messages */
#endif
#include <dlfcn.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "util_mutex.h"

#include "apr_strings.h"
#include "apr_hash.h"

#include <string.h>

#include "fcgi_authz.h"
#include "fcgi_balance.h"
#include "fcgi_check.h"
#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_fcgid.h"
#include "fcgi_filter.h"
#include "fcgi_handler.h"
#include "fcgi_launch.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"
#include "fcgi_stats.h"
#include "fcgi_status.h"
#include "fcgi_watch.h"

FCGIX_USE_LOG_MODULE;

/** The handler names: mod_fastcgi's, served with fastcgi_x_module, and
 *  mod_fcgid's, served with fcgid_module. */
#define FCGIX_HANDLER "fastcgi-script"
/* SetHandler "fastcgi:PATH": the request's own file goes to the app
 * defined at PATH, as SCRIPT_FILENAME (php-fpm runs it), as mod_proxy_fcgi
 * does with "proxy:unix:...|fcgi://localhost"; no Action, so no internal
 * redirect. */
#define FCGIX_HANDLER_PREFIX "fastcgi:"
#define FCGIX_FCGID_HANDLER "fcgid-script"

/* The applications of the running configuration, by path; set in
 * post_config, read-only afterwards (children inherit it). */
static apr_hash_t *app_registry;

/* The same apps by their paths in lower case, for SetHandler
 * "fastcgi:PATH": httpd folds handler names to lower case. Two paths
 * that differ only in case map to &ambiguous_app. */
static apr_hash_t *apps_by_folded_path;
static const fcgix_app_t ambiguous_app;

static void fold_app_paths(apr_pool_t *p)
{
    apr_hash_index_t *hi;
    const fcgix_app_t *app;
    char *folded;

    apps_by_folded_path = apr_hash_make(p);
    for (hi = apr_hash_first(p, app_registry); hi; hi = apr_hash_next(hi)) {
        app = apr_hash_this_val(hi);
        folded = apr_pstrdup(p, app->path);
        ap_str_tolower(folded);
        apr_hash_set(
            apps_by_folded_path, folded, APR_HASH_KEY_STRING,
            apr_hash_get(apps_by_folded_path, folded, APR_HASH_KEY_STRING)
                ? &ambiguous_app
                : app);
    }
}

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

/* A request for an app defined with FastCgiExternalServer or
 * FastCgiServer. */
static int serve_defined(request_rec *r, const fcgix_app_t *app)
{
    if (app->kind == FCGIX_APP_EXTERNAL) {
        return fcgix_balance_is(app) ? fcgix_balance_serve(r, app)
                                     : fcgix_serve(r, app, NULL);
    }
    return fcgix_managed_serve(r, app);
}

/* SetHandler "fastcgi:PATH" (FCGIX_HANDLER_PREFIX). */
static int serve_named(request_rec *r, const char *path)
{
    const fcgix_app_t *app =
        apps_by_folded_path
            ? apr_hash_get(apps_by_folded_path, path, APR_HASH_KEY_STRING)
            : NULL;

    if (app == &ambiguous_app) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00005) "SetHandler %s%s: two apps are "
                                         "defined at paths that differ "
                                         "only in case, and httpd gives "
                                         "handler names in lower case",
                      FCGIX_HANDLER_PREFIX, path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (app == NULL || app->kind == FCGIX_APP_DYNAMIC) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00003) "SetHandler %s%s: no "
                                         "FastCgiExternalServer or "
                                         "FastCgiServer is defined at %s",
                      FCGIX_HANDLER_PREFIX, path, path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->finfo.filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00004) "%s: no such file for FastCGI app "
                                         "%s",
                      r->filename ? r->filename : r->uri, path);
        return HTTP_NOT_FOUND;
    }
    return serve_defined(r, app);
}

static int fcgix_handler(request_rec *r)
{
    const fcgix_app_t *app;

    if (!strcmp(r->handler, FCGIX_FCGID_HANDLER)
        && fcgix_vocab_loaded(FCGIX_VOCAB_FCGID)) {
        return fcgix_fcgid_serve(r);
    }
    if (!fcgix_vocab_loaded(FCGIX_VOCAB_FASTCGI)) {
        return DECLINED;
    }
    if (!strncmp(r->handler, FCGIX_HANDLER_PREFIX,
                 sizeof(FCGIX_HANDLER_PREFIX) - 1)) {
        return serve_named(r, r->handler + sizeof(FCGIX_HANDLER_PREFIX) - 1);
    }
    if (strcmp(r->handler, FCGIX_HANDLER)) {
        return DECLINED;
    }
    app = r->filename ? find_app(r->filename) : NULL;
    if (app && app->kind != FCGIX_APP_DYNAMIC) {
        return serve_defined(r, app);
    }
    return serve_dynamic(r);
}

static int fcgix_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    const char *why;
    int rc;

    (void)plog;
    (void)ptemp;
    app_registry = fcgix_registry(pconf);
    fold_app_paths(pconf);
    why = fcgix_filter_post_config(pconf, s, find_app);
    if (why) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, FCGIX_LOGNO(00011) "%s",
                     why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = fcgix_fcgid_post_config(pconf, s);
    if (rc == OK) {
        rc = fcgix_launch_post_config(pconf, s, app_registry);
    }
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

/* Whether any of @p apps has -multiplex. */
static int any_multiplex(const apr_array_header_t *apps)
{
    int i;

    for (i = 0; i < apps->nelts; i++) {
        if (APR_ARRAY_IDX(apps, i, const fcgix_app_t *)->opts.multiplex == 1) {
            return 1;
        }
    }
    return 0;
}

static void fcgix_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *apps;

    fcgix_launch_child_init();
    fcgix_managed_child_init(pchild, s);
    fcgix_balance_child_init(pchild);
    if (app_registry) {
        apps = connectable_apps(pchild);
        fcgix_conns_child_init(pchild, apps, s);
        fcgix_handler_child_init(pchild, s, any_multiplex(apps));
    }
}

/* Before any directive but LoadModule runs: refuse the real mod_fcgid
 * (fcgi_check.c says why it cannot wait). mod_fcgid registers the mutex
 * types below, and httpd's Mutex directive refuses a type nobody
 * registered: a "Mutex ... fcgid-pipe" line of a mod_fcgid configuration
 * still parses. Nothing here uses them. */
static int fcgix_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    if (fcgix_refuse_real_fcgid(NULL)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (fcgix_vocab_loaded(FCGIX_VOCAB_FCGID)) {
        ap_mutex_register(pconf, "fcgid-pipe", NULL, APR_LOCK_DEFAULT, 0);
        ap_mutex_register(pconf, "fcgid-proctbl", NULL, APR_LOCK_DEFAULT, 0);
    }
    return OK;
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(fcgix_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
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

/* ------------------------------------------------------------------ */
/* Two records, one core                                               */
/* ------------------------------------------------------------------ */

/* The .so carries two module records: fastcgi_x_module (mod_fastcgi's
 * vocabulary and ours) and fcgid_module (named "mod_fcgid.c": mod_fcgid's
 * vocabulary, so that one LoadModule line replaces mod_fcgid). Either or
 * both may be loaded. Their hooks, process manager, handler and
 * configuration are one core: the first record loaded in a configuration
 * generation registers the hooks and owns the configuration; the other
 * is a directive table and a name. docs/design/fcgid.md, section 1. */
extern module AP_MODULE_DECLARE_DATA fastcgi_x_module;
extern module AP_MODULE_DECLARE_DATA fcgid_module;

/* Our own names for the two records: local to the .so (exports.map), so
 * that they always mean this copy's records even when the real
 * mod_fcgid.so, loaded first with RTLD_GLOBAL, also exports fcgid_module.
 * Only these lines and the record definitions name the exported symbols;
 * `make exports` checks that no relocation refers to them. */
extern module fcgix_x_rec __attribute__((alias("fastcgi_x_module")));
extern module fcgix_fcgid_rec __attribute__((alias("fcgid_module")));

/* This generation's owner record: the first of ours loaded. */
static module *owner;
/* Set when another copy of the .so registered the core first. */
static module *foreign_core;

int fcgix_log_module_index = -1;

int fcgix_vocab_loaded(int vocab)
{
    const module *m =
        vocab == FCGIX_VOCAB_FCGID ? &fcgix_fcgid_rec : &fcgix_x_rec;

    return m->module_index >= 0;
}

int fcgix_is_our_record(const module *m)
{
    return m == &fcgix_x_rec || m == &fcgix_fcgid_rec;
}

const char *fcgix_own_file(void)
{
    Dl_info info;

    return dladdr(&fcgix_x_rec, &info) && info.dli_fname ? info.dli_fname
                                                         : "mod_fastcgi_x.so";
}

fcgix_srv_conf_t *fcgix_srv_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, owner);
}

fcgix_dir_conf_t *fcgix_dir_conf(ap_conf_vector_t *per_dir)
{
    return ap_get_module_config(per_dir, owner);
}

fcgix_srv_conf_t *fcgix_cfg_srv(cmd_parms *cmd)
{
    fcgix_srv_conf_t *c =
        ap_get_module_config(cmd->server->module_config, owner);

    if (c == NULL) {
        c = fcgix_srv_conf_create(cmd->pool, cmd->server);
        ap_set_module_config(cmd->server->module_config, owner, c);
    }
    return c;
}

fcgix_dir_conf_t *fcgix_cfg_dir(cmd_parms *cmd)
{
    fcgix_dir_conf_t *d = ap_get_module_config(cmd->context, owner);

    if (d == NULL) {
        d = fcgix_dir_conf_create(cmd->pool, (char *)cmd->path);
        ap_set_module_config(cmd->context, owner, d);
    }
    return d;
}

int fcgix_cfg_in_htaccess(const cmd_parms *cmd)
{
    /* The server config and virtual hosts carry RSRC_CONF, directory
     * sections ACCESS_CONF; .htaccess files only their AllowOverride
     * bits. */
    return !(cmd->override & (ACCESS_CONF | RSRC_CONF));
}

/* Log lines carry fastcgi_x's index when that record is loaded (so
 * "LogLevel fastcgi_x:" keeps working), else fcgid's. */
static void set_log_index(void)
{
    fcgix_log_module_index = fcgix_x_rec.module_index >= 0
                                 ? fcgix_x_rec.module_index
                                 : fcgix_fcgid_rec.module_index;
}

/* check_config when two different copies of the .so are loaded: each
 * would be a core with its own PM. */
static int refuse_two_copies(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    Dl_info other;
    const char *theirs =
        foreign_core && dladdr(foreign_core, &other) && other.dli_fname
            ? other.dli_fname
            : "another file";

    (void)pconf;
    (void)plog;
    (void)ptemp;
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                 FCGIX_LOGNO(00116) "two copies of mod_fastcgi_x are loaded "
                                    "(%s and %s); load the module from one "
                                    "file",
                 fcgix_own_file(), theirs);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Both records' register_hooks. The mark in pconf's user data says
 * whether a record of this copy registered the hooks in this generation:
 * pconf is cleared (and the hooks deregistered) at every restart, so the
 * mark lives exactly as long as the hooks. */
static void register_core(apr_pool_t *pconf, module *self)
{
    void *mark = NULL;

    set_log_index();
    apr_pool_userdata_get(&mark, "fcgix_core", pconf);
    if (mark == (void *)&owner) {
        return; /* the other record of this copy registered them */
    }
    owner = self; /* with a foreign core, our directives still need a home */
    if (mark != NULL) {
        foreign_core = mark;
        ap_hook_check_config(refuse_two_copies, NULL, NULL, APR_HOOK_FIRST);
        return;
    }
    apr_pool_userdata_setn(&owner, "fcgix_core", NULL, pconf);
    fcgix_register_hooks(pconf);
}

static void fastcgi_x_register(apr_pool_t *p)
{
    register_core(p, &fcgix_x_rec);
}

static void fcgid_register(apr_pool_t *p)
{
    register_core(p, &fcgix_fcgid_rec);
}

/* Only the owner record keeps configuration; the other's slots stay NULL
 * and cost nothing. The merges take either side being NULL: with
 * AP_MODULE_FLAG_ALWAYS_MERGE httpd merges slots it just created. */
static void *x_srv_create(apr_pool_t *p, server_rec *s)
{
    return owner == &fcgix_x_rec ? fcgix_srv_conf_create(p, s) : NULL;
}

static void *fcgid_srv_create(apr_pool_t *p, server_rec *s)
{
    return owner == &fcgix_fcgid_rec ? fcgix_srv_conf_create(p, s) : NULL;
}

static void *x_dir_create(apr_pool_t *p, char *dir)
{
    return owner == &fcgix_x_rec ? fcgix_dir_conf_create(p, dir) : NULL;
}

static void *fcgid_dir_create(apr_pool_t *p, char *dir)
{
    return owner == &fcgix_fcgid_rec ? fcgix_dir_conf_create(p, dir) : NULL;
}

static void *core_srv_merge(apr_pool_t *p, void *base, void *add)
{
    if (base == NULL || add == NULL) {
        return add ? add : base;
    }
    return fcgix_srv_conf_merge(p, base, add);
}

static void *core_dir_merge(apr_pool_t *p, void *base, void *add)
{
    if (base == NULL || add == NULL) {
        return add ? add : base;
    }
    return fcgix_dir_conf_merge(p, base, add);
}

module AP_MODULE_DECLARE_DATA fastcgi_x_module = {
    STANDARD20_MODULE_STUFF, x_dir_create,
    core_dir_merge,          x_srv_create,
    core_srv_merge,          fcgix_cmds,
    fastcgi_x_register,      AP_MODULE_FLAG_ALWAYS_MERGE};

/* Named "mod_fcgid.c" like mod_fcgid's record: <IfModule mod_fcgid.c>
 * holds, and "LogLevel fcgid:" names it (the short name comes from the
 * LoadModule symbol). */
module AP_MODULE_DECLARE_DATA fcgid_module = {MODULE_MAGIC_NUMBER_MAJOR,
                                              MODULE_MAGIC_NUMBER_MINOR,
                                              -1,
                                              "mod_fcgid.c",
                                              NULL,
                                              NULL,
                                              MODULE_MAGIC_COOKIE,
                                              NULL,
                                              fcgid_dir_create,
                                              core_dir_merge,
                                              fcgid_srv_create,
                                              core_srv_merge,
                                              fcgix_fcgid_cmds,
                                              fcgid_register,
                                              AP_MODULE_FLAG_ALWAYS_MERGE};
