/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_launch_fcgid.c
 * @brief The PM's tables for keyed classes (docs/design/fcgid.md 3.4):
 *        one record per virtual host (its name, its process cap, its
 *        Fcgid* class options and FcgidCmdOptions), one per command line
 *        of the registry, the per-user cap and suexec. Built in httpd's
 *        parent, in its private memory; every PM it forks inherits them,
 *        so a STARTC can only name what the configuration holds.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "unixd.h"

#include "apr_env.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi_config.h"
#include "fcgi_fcgid.h"
#include "fcgi_launch.h"
#include "fcgi_log.h"
#include "fcgi_pm.h"
#include "fcgi_stats.h"

FCGIX_USE_LOG_MODULE;

/* Room per class on the board, at most (docs/design/fcgid.md 3.7). */
#define MAX_SLOTS_PER_CLASS 1024

/* What mod_fcgid gives every process when httpd has no PATH. */
#define FCGID_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* httpd's own value of @name, or NULL. */
static const char *parent_env(apr_pool_t *p, const char *name)
{
    char *value = NULL;

    return apr_env_get(&value, name, p) == APR_SUCCESS ? value : NULL;
}

/* A class's environment: PATH and LD_LIBRARY_PATH as mod_fcgid passes
 * them, then FcgidInitialEnv (a later name wins). */
static const char *const *class_env(apr_pool_t *p, const apr_table_t *initial)
{
    apr_array_header_t *env = apr_array_make(p, 8, sizeof(const char *));
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *path = parent_env(p, "PATH");
    const char *ld = parent_env(p, "LD_LIBRARY_PATH");
    int i;

    if (!(initial && apr_table_get(initial, "PATH"))) {
        APR_ARRAY_PUSH(env, const char *) =
            apr_pstrcat(p, "PATH=", path ? path : FCGID_DEFAULT_PATH, NULL);
    }
    if (ld && !(initial && apr_table_get(initial, "LD_LIBRARY_PATH"))) {
        APR_ARRAY_PUSH(env, const char *) =
            apr_pstrcat(p, "LD_LIBRARY_PATH=", ld, NULL);
    }
    arr = initial ? apr_table_elts(initial) : NULL;
    for (i = 0; arr && i < arr->nelts; i++) {
        e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        APR_ARRAY_PUSH(env, const char *) =
            apr_pstrcat(p, e->key, "=", e->val ? e->val : "", NULL);
    }
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

static fcgix_pm_class_opts_t class_opts(apr_pool_t *p,
                                        const fcgix_fcgid_opts_t *o)
{
    fcgix_pm_class_opts_t c;

    c.env = class_env(p, o->initial_env);
    c.max_class_processes = o->max_class_processes;
    c.min_class_processes = o->min_class_processes;
    c.idle_ms = o->idle_timeout * 1000;
    c.lifetime_ms = o->lifetime * 1000;
    c.max_requests = o->max_requests;
    return c;
}

static int cmdopts_by_path(const void *a, const void *b)
{
    return strcmp(((const fcgix_pm_cmdopts_t *)a)->path,
                  ((const fcgix_pm_cmdopts_t *)b)->path);
}

/* A server's FcgidCmdOptions, each with mod_fcgid's defaults filled, by
 * path: in the same order at every restart (a hash's order is not), so
 * that the same options encode to the same bytes (fcgi_ids.h). */
static void tenant_cmdopts(apr_pool_t *p, const fcgix_srv_conf_t *sconf,
                           fcgix_pm_tenant_t *t, int *widest)
{
    apr_hash_index_t *hi;
    fcgix_pm_cmdopts_t *all;
    int n = 0;

    t->cmdopts = NULL;
    t->ncmdopts = 0;
    if (sconf->fcgid.cmd_options == NULL) {
        return;
    }
    all = apr_pcalloc(p, sizeof(*all)
                             * (apr_hash_count(sconf->fcgid.cmd_options) + 1));
    for (hi = apr_hash_first(p, sconf->fcgid.cmd_options); hi;
         hi = apr_hash_next(hi)) {
        const char *path = apr_hash_this_key(hi);
        fcgix_fcgid_opts_t e = fcgix_fcgid_effective(sconf, path);

        all[n].path = path;
        all[n].opts = class_opts(p, &e);
        if (e.max_class_processes > *widest) {
            *widest = e.max_class_processes;
        }
        n++;
    }
    qsort(all, (size_t)n, sizeof(*all), cmdopts_by_path);
    t->cmdopts = all;
    t->ncmdopts = n;
}

/* One record per server_rec, by its index (fcgix_fcgid_post_config()
 * numbered them). @return the largest per-class cap among them. */
static int build_tenants(apr_pool_t *p, server_rec *s, fcgix_pm_config_t *cfg)
{
    fcgix_pm_tenant_t *all;
    server_rec *v;
    int n = 0, widest = 0;

    for (v = s; v; v = v->next) {
        n++;
    }
    all = apr_pcalloc(p, sizeof(*all) * n);
    for (v = s; v; v = v->next) {
        const fcgix_srv_conf_t *sconf = fcgix_srv_conf(v);
        fcgix_pm_tenant_t *t = &all[sconf->tenant];
        fcgix_fcgid_opts_t e = fcgix_fcgid_effective(sconf, NULL);

        t->name = fcgix_stats_host_name(p, v); /* as the status page */
        t->max_processes = fcgix_fcgid_max_host_processes(sconf);
        t->opts = class_opts(p, &e);
        if (e.max_class_processes > widest) {
            widest = e.max_class_processes;
        }
        tenant_cmdopts(p, sconf, t, &widest);
    }
    cfg->tenants = all;
    cfg->ntenants = n;
    return widest;
}

static void build_commands(apr_pool_t *p, fcgix_pm_config_t *cfg)
{
    const apr_array_header_t *cmds = fcgix_fcgid_commands();
    fcgix_pm_command_t *all;
    int i;

    cfg->commands = NULL;
    cfg->ncommands = 0;
    if (cmds == NULL || cmds->nelts == 0) {
        return;
    }
    all = apr_pcalloc(p, sizeof(*all) * cmds->nelts);
    for (i = 0; i < cmds->nelts; i++) {
        const fcgix_command_t *c =
            APR_ARRAY_IDX(cmds, i, const fcgix_command_t *);

        all[i].argv = c->argv; /* c->index is i, until renumbered */
    }
    cfg->commands = all;
    cfg->ncommands = cmds->nelts;
}

void fcgix_launch_tables(apr_pool_t *p, server_rec *s, fcgix_pm_config_t *cfg)
{
    int widest = build_tenants(p, s, cfg);

    cfg->fastcgi_class_max = cfg->dynamic.processes; /* -maxClassProcesses */
    build_commands(p, cfg);
    cfg->max_user_processes = fcgix_fcgid_max_user_processes(fcgix_srv_conf(s));
    cfg->suexec = ap_unixd_config.suexec_enabled ? SUEXEC_BIN : NULL;
    /* Each dynamic class gets room for the largest cap a class can have;
     * a class's own cap is its option. FastCgiConfig's -maxClassProcesses
     * counts only where its vocabulary is loaded. */
    if (!fcgix_vocab_loaded(FCGIX_VOCAB_FASTCGI)) {
        cfg->dynamic.processes = 0;
    }
    if (fcgix_vocab_loaded(FCGIX_VOCAB_FCGID)
        && widest > cfg->dynamic.processes) {
        cfg->dynamic.processes = widest;
    }
    if (cfg->dynamic.processes > MAX_SLOTS_PER_CLASS) {
        cfg->dynamic.processes = MAX_SLOTS_PER_CLASS;
    }
    if (cfg->dynamic.processes < 1) {
        cfg->dynamic.processes = 1;
    }
}
