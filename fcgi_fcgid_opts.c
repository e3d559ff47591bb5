/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid_opts.c
 * @brief mod_fcgid's vocabulary, the values side: the command registry,
 *        unset and merge, the effective values with their defaults (the
 *        only place that applies FCGIX_FCGID_DEFAULT_*), post_config and
 *        the whole-configuration checks. The directives are in
 *        fcgi_fcgid_config.c. docs/design/fcgid.md, section 2.
 */

#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"

#include "fcgi_config.h"
#include "fcgi_config_int.h"
#include "fcgi_defaults.h"
#include "fcgi_fcgid.h"
#include "fcgi_fcgid_int.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* pconf user data while the configuration is read */
#define REGISTRY_KEY "fcgix_fcgid_registry"
#define NO_EFFECT_KEY "fcgix_fcgid_no_effect"

/* The command registry: one entry per distinct command (by key). */
typedef struct {
    apr_array_header_t *list; /* const fcgix_command_t * */
    apr_hash_t *by_key;       /* key -> const fcgix_command_t * */
    apr_hash_t *by_line;      /* line as written -> the same */
} registry_t;

/* The running configuration's registry, frozen in post_config; children
 * inherit it read-only. */
static const registry_t *frozen;

/* ------------------------------------------------------------------ */
/* The command registry                                                */
/* ------------------------------------------------------------------ */

static registry_t *registry_of(apr_pool_t *pconf)
{
    void *data = NULL;
    registry_t *r;

    apr_pool_userdata_get(&data, REGISTRY_KEY, pconf);
    if (data) {
        return data;
    }
    r = apr_pcalloc(pconf, sizeof(*r));
    r->list = apr_array_make(pconf, 8, sizeof(const fcgix_command_t *));
    r->by_key = apr_hash_make(pconf);
    r->by_line = apr_hash_make(pconf);
    apr_pool_userdata_set(r, REGISTRY_KEY, apr_pool_cleanup_null, pconf);
    return r;
}

/* Split @line like a shell line, argv[0] resolved against ServerRoot;
 * *key: the words joined by one blank. NULL when there is no word. */
static char **split_line(apr_pool_t *p, const char *line, int *argc,
                         const char **key)
{
    char **argv = NULL;
    int i;

    if (apr_tokenize_to_argv(line, &argv, p) != APR_SUCCESS || !argv || !argv[0]
        || !argv[0][0]) {
        return NULL;
    }
    argv[0] = ap_server_root_relative(p, argv[0]);
    if (argv[0] == NULL) {
        return NULL;
    }
    *key = argv[0];
    for (i = 1; argv[i]; i++) {
        *key = apr_pstrcat(p, *key, " ", argv[i], NULL);
    }
    *argc = i;
    return argv;
}

static const fcgix_command_t *lookup(const registry_t *r, apr_pool_t *p,
                                     const char *line)
{
    const fcgix_command_t *c;
    const char *key;
    int argc;

    if (r == NULL) {
        return NULL;
    }
    c = apr_hash_get(r->by_line, line, APR_HASH_KEY_STRING);
    if (c == NULL && split_line(p, line, &argc, &key)) {
        c = apr_hash_get(r->by_key, key, APR_HASH_KEY_STRING);
    }
    return c;
}

/* A new entry: argv[0] must exist now, as in mod_fcgid. */
static const char *add_command(cmd_parms *cmd, registry_t *r, const char *line,
                               const fcgix_command_t **out)
{
    fcgix_command_t *c;
    apr_finfo_t finfo;
    apr_status_t rv;
    char **argv;
    const char *key;
    char err[256];
    int argc;

    if ((argv = split_line(cmd->pool, line, &argc, &key)) == NULL) {
        return fcgix_cfg_bad_value(cmd, line, "not a command line");
    }
    if ((c = apr_hash_get(r->by_key, key, APR_HASH_KEY_STRING)) == NULL) {
        rv = apr_stat(&finfo, argv[0], APR_FINFO_TYPE, cmd->pool);
        if (rv != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: %s cannot be accessed: %s",
                                cmd->cmd->name, argv[0],
                                apr_strerror(rv, err, sizeof(err)));
        }
        c = apr_pcalloc(cmd->pool, sizeof(*c));
        c->index = r->list->nelts;
        c->line = apr_pstrdup(cmd->pool, line);
        c->key = key;
        c->path = argv[0];
        c->argv = (const char *const *)argv;
        c->argc = argc;
        c->defined_at = fcgix_cfg_where(cmd);
        APR_ARRAY_PUSH(r->list, const fcgix_command_t *) = c;
        apr_hash_set(r->by_key, c->key, APR_HASH_KEY_STRING, c);
    }
    apr_hash_set(r->by_line, apr_pstrdup(cmd->pool, line), APR_HASH_KEY_STRING,
                 c);
    *out = c;
    return NULL;
}

const char *fcgix_fcgid_command_get(cmd_parms *cmd, const char *line,
                                    const fcgix_command_t **out)
{
    if (!fcgix_cfg_in_htaccess(cmd)) {
        return add_command(cmd, registry_of(cmd->pool), line, out);
    }
    if ((*out = lookup(frozen, cmd->pool, line)) != NULL) {
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "%s: '%s' is not named in the server configuration; "
                        ".htaccess may only name such commands "
                        "(FcgidHtaccessCommand) (%s)",
                        cmd->cmd->name, line, fcgix_cfg_where(cmd));
}

const fcgix_command_t *fcgix_fcgid_command_find(const char *line)
{
    const fcgix_command_t *c;
    apr_pool_t *tmp;

    if (frozen == NULL) {
        return NULL;
    }
    c = apr_hash_get(frozen->by_line, line, APR_HASH_KEY_STRING);
    if (c || apr_pool_create(&tmp, NULL) != APR_SUCCESS) {
        return c;
    }
    c = lookup(frozen, tmp, line);
    apr_pool_destroy(tmp);
    return c;
}

const apr_array_header_t *fcgix_fcgid_commands(void)
{
    return frozen ? frozen->list : NULL;
}

void fcgix_fcgid_command_number(int i, int number)
{
    if (frozen && i >= 0 && i < frozen->list->nelts) {
        /* the registry made it (add_command()): it is ours to change */
        ((fcgix_command_t *)APR_ARRAY_IDX(frozen->list, i,
                                          const fcgix_command_t *))
            ->index = number;
    }
}

static apr_status_t unfreeze(void *data)
{
    (void)data;
    frozen = NULL;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Unset and merge                                                     */
/* ------------------------------------------------------------------ */

void fcgix_fcgid_opts_unset(fcgix_fcgid_opts_t *o)
{
    o->connect_timeout = o->io_timeout = FCGIX_UNSET;
    o->idle_timeout = o->lifetime = FCGIX_UNSET;
    o->max_class_processes = o->min_class_processes = FCGIX_UNSET;
    o->max_requests = FCGIX_UNSET;
    o->initial_env = NULL;
    o->defined_at = NULL;
}

void fcgix_fcgid_srv_unset(fcgix_fcgid_srv_t *f)
{
    fcgix_fcgid_opts_unset(&f->opts);
    f->pass_headers = NULL;
    f->cmd_options = NULL;
    f->busy_timeout = FCGIX_UNSET;
    f->max_request_len = FCGIX_UNSET;
    f->output_buffer_size = FCGIX_UNSET;
    f->queue_timeout = FCGIX_UNSET;
    f->max_processes = FCGIX_UNSET;
    f->max_processes_at = NULL;
    f->fix_pathinfo = FCGIX_UNSET;
}

#define MERGE_INT(field)                                                       \
    (out->field = add->field != FCGIX_UNSET ? add->field : base->field)

static void merge_opts(apr_pool_t *p, const fcgix_fcgid_opts_t *base,
                       const fcgix_fcgid_opts_t *add, fcgix_fcgid_opts_t *out)
{
    MERGE_INT(connect_timeout);
    MERGE_INT(io_timeout);
    MERGE_INT(idle_timeout);
    MERGE_INT(lifetime);
    MERGE_INT(max_class_processes);
    MERGE_INT(min_class_processes);
    MERGE_INT(max_requests);
    if (base->initial_env && add->initial_env) {
        out->initial_env =
            apr_table_overlay(p, base->initial_env, add->initial_env);
        apr_table_compress(out->initial_env, APR_OVERLAP_TABLES_SET);
    }
    else {
        out->initial_env =
            add->initial_env ? add->initial_env : base->initial_env;
    }
    out->defined_at = add->defined_at ? add->defined_at : base->defined_at;
}

void fcgix_fcgid_srv_merge(apr_pool_t *p, const fcgix_fcgid_srv_t *base,
                           const fcgix_fcgid_srv_t *add, fcgix_fcgid_srv_t *out)
{
    merge_opts(p, &base->opts, &add->opts, &out->opts);
    out->pass_headers =
        base->pass_headers && add->pass_headers
            ? apr_array_append(p, base->pass_headers, add->pass_headers)
        : add->pass_headers ? add->pass_headers
                            : base->pass_headers;
    out->cmd_options =
        base->cmd_options && add->cmd_options
            ? apr_hash_overlay(p, add->cmd_options, base->cmd_options)
        : add->cmd_options ? add->cmd_options
                           : base->cmd_options;
    MERGE_INT(busy_timeout);
    MERGE_INT(max_request_len);
    MERGE_INT(output_buffer_size);
    MERGE_INT(queue_timeout);
    MERGE_INT(max_processes);
    out->max_processes_at =
        add->max_processes_at ? add->max_processes_at : base->max_processes_at;
    MERGE_INT(fix_pathinfo);
}

void fcgix_fcgid_dir_merge(apr_pool_t *p, const fcgix_fcgid_dir_t *base,
                           const fcgix_fcgid_dir_t *add, fcgix_fcgid_dir_t *out)
{
    if (base->wrappers && add->wrappers) {
        out->wrappers = apr_hash_overlay(p, add->wrappers, base->wrappers);
    }
    else {
        out->wrappers = add->wrappers ? add->wrappers : base->wrappers;
    }
}

/* ------------------------------------------------------------------ */
/* Effective values: the one place mod_fcgid's defaults apply          */
/* ------------------------------------------------------------------ */

#define OR_DEFAULT(v, d) ((v) != FCGIX_UNSET ? (v) : (d))

static fcgix_fcgid_opts_t opts_with_defaults(const fcgix_fcgid_opts_t *o)
{
    fcgix_fcgid_opts_t e = *o;

    e.connect_timeout =
        OR_DEFAULT(o->connect_timeout, FCGIX_FCGID_DEFAULT_CONNECT_TIMEOUT);
    e.io_timeout = OR_DEFAULT(o->io_timeout, FCGIX_FCGID_DEFAULT_IO_TIMEOUT);
    e.idle_timeout =
        OR_DEFAULT(o->idle_timeout, FCGIX_FCGID_DEFAULT_IDLE_TIMEOUT);
    e.lifetime = OR_DEFAULT(o->lifetime, FCGIX_FCGID_DEFAULT_LIFETIME);
    e.max_class_processes = OR_DEFAULT(o->max_class_processes,
                                       FCGIX_FCGID_DEFAULT_MAX_CLASS_PROCESSES);
    e.min_class_processes = OR_DEFAULT(o->min_class_processes,
                                       FCGIX_FCGID_DEFAULT_MIN_CLASS_PROCESSES);
    e.max_requests =
        OR_DEFAULT(o->max_requests, FCGIX_FCGID_DEFAULT_MAX_REQUESTS);
    return e;
}

fcgix_fcgid_opts_t fcgix_fcgid_effective(const fcgix_srv_conf_t *s,
                                         const char *path)
{
    const fcgix_fcgid_opts_t *own = NULL;

    if (s->fcgid.cmd_options && path) {
        own = apr_hash_get(s->fcgid.cmd_options, path, APR_HASH_KEY_STRING);
    }
    /* FcgidCmdOptions: what it leaves out is the compiled default, not
     * the server's value (mod_fcgid's rule). */
    return opts_with_defaults(own ? own : &s->fcgid.opts);
}

const fcgix_fcgid_wrapper_t *fcgix_fcgid_wrapper_for(const fcgix_dir_conf_t *d,
                                                     const char *filename)
{
    const fcgix_fcgid_wrapper_t *w = NULL;
    const char *dot = filename ? strrchr(filename, '.') : NULL;

    if (d == NULL || d->fcgid.wrappers == NULL) {
        return NULL;
    }
    if (dot) {
        w = apr_hash_get(d->fcgid.wrappers, dot, APR_HASH_KEY_STRING);
    }
    return w ? w : apr_hash_get(d->fcgid.wrappers, "", APR_HASH_KEY_STRING);
}

int fcgix_fcgid_queue_timeout(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->fcgid.queue_timeout,
                      FCGIX_FCGID_DEFAULT_QUEUE_TIMEOUT);
}

int fcgix_fcgid_busy_timeout(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->fcgid.busy_timeout, FCGIX_FCGID_DEFAULT_BUSY_TIMEOUT);
}

apr_off_t fcgix_fcgid_max_request_len(const fcgix_srv_conf_t *s)
{
    return s->fcgid.max_request_len != FCGIX_UNSET
               ? s->fcgid.max_request_len
               : (apr_off_t)FCGIX_FCGID_DEFAULT_MAX_REQUEST_LEN;
}

int fcgix_fcgid_flush(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->fcgid.output_buffer_size,
                      FCGIX_FCGID_DEFAULT_OUTPUT_BUFFER_SIZE)
           == 0;
}

int fcgix_fcgid_fix_pathinfo(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->fcgid.fix_pathinfo, FCGIX_FCGID_DEFAULT_FIX_PATHINFO);
}

int fcgix_fcgid_max_host_processes(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->max_host_processes, 0);
}

int fcgix_fcgid_max_user_processes(const fcgix_srv_conf_t *s)
{
    return OR_DEFAULT(s->max_user_processes, 0);
}

void fcgix_fcgid_app_opts(apr_pool_t *p, const fcgix_srv_conf_t *s,
                          const char *path, fcgix_app_opts_t *o)
{
    fcgix_fcgid_opts_t e = fcgix_fcgid_effective(s, path);

    (void)p;
    fcgix_cfg_opts_unset(o);
    *o = fcgix_app_effective(o);
    o->conn_timeout = e.connect_timeout;
    o->idle_timeout = e.io_timeout;
    o->max_requests = e.max_requests;
    o->busy_timeout = fcgix_fcgid_busy_timeout(s);
    o->pass_headers = s->fcgid.pass_headers;
    o->pass_header_bare = 1;
    o->flush = fcgix_fcgid_flush(s);
    o->max_body = fcgix_fcgid_max_request_len(s);
    o->fix_pathinfo = fcgix_fcgid_fix_pathinfo(s);
}

/* ------------------------------------------------------------------ */
/* post_config and check_config                                        */
/* ------------------------------------------------------------------ */

int fcgix_fcgid_post_config(apr_pool_t *pconf, server_rec *s)
{
    fcgix_srv_conf_t *main_conf = fcgix_srv_conf(s);
    server_rec *v;
    int n = 0;

    frozen = registry_of(pconf);
    apr_pool_cleanup_register(pconf, NULL, unfreeze, apr_pool_cleanup_null);
    for (v = s; v; v = v->next) {
        fcgix_srv_conf(v)->tenant = n++;
    }
    /* FcgidMaxProcesses is the PM's limit, FastCgiConfig -maxProcesses
     * (check_config refused the two given differently). */
    if (main_conf->fcgid.max_processes != FCGIX_UNSET) {
        if (main_conf->dynamic == NULL) {
            main_conf->dynamic = fcgix_cfg_dynamic_new(pconf);
            for (v = s->next; v; v = v->next) {
                if (fcgix_srv_conf(v)->dynamic == NULL) {
                    fcgix_srv_conf(v)->dynamic = main_conf->dynamic;
                }
            }
        }
        main_conf->dynamic->max_processes = main_conf->fcgid.max_processes;
    }
    return OK;
}

void fcgix_fcgid_no_effect(cmd_parms *cmd)
{
    void *data = NULL;
    apr_array_header_t *list;

    apr_pool_userdata_get(&data, NO_EFFECT_KEY, cmd->pool);
    if ((list = data) == NULL) {
        list = apr_array_make(cmd->pool, 4, sizeof(const char *));
        apr_pool_userdata_set(list, NO_EFFECT_KEY, apr_pool_cleanup_null,
                              cmd->pool);
    }
    APR_ARRAY_PUSH(list, const char *) = apr_psprintf(
        cmd->pool, "%s (%s)", cmd->cmd->name, fcgix_cfg_where(cmd));
}

/* Once per start: not in the pre-flight read of a normal start (the real
 * read follows at once), but at every restart and `apachectl -t`. */
static void log_no_effect(apr_pool_t *pconf, server_rec *s)
{
    void *data = NULL;
    apr_array_header_t *list;
    const char *names = "";
    int i;

    apr_pool_userdata_get(&data, NO_EFFECT_KEY, pconf);
    if ((list = data) == NULL || list->nelts == 0
        || (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
            && ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL)) {
        return;
    }
    for (i = 0; i < list->nelts; i++) {
        names = apr_pstrcat(pconf, names, i ? ", " : "",
                            APR_ARRAY_IDX(list, i, const char *), NULL);
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 FCGIX_LOGNO(00117) "mod_fcgid directives with no effect "
                                    "here: %s; docs/migrating.md, \"From "
                                    "mod_fcgid\", says why",
                 names);
}

int fcgix_fcgid_check_config(apr_pool_t *pconf, server_rec *s)
{
    const fcgix_srv_conf_t *c = fcgix_srv_conf(s);
    int errors = 0;

    log_no_effect(pconf, s);
    if (c->fcgid.max_processes != FCGIX_UNSET && c->dynamic
        && c->dynamic->max_processes != FCGIX_UNSET
        && c->dynamic->max_processes != c->fcgid.max_processes) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00119) "FcgidMaxProcesses %d (%s) and "
                                        "FastCgiConfig -maxProcesses %d "
                                        "(%s) set one limit differently; "
                                        "keep one",
                     c->fcgid.max_processes, c->fcgid.max_processes_at,
                     c->dynamic->max_processes,
                     c->dynamic->defined_at ? c->dynamic->defined_at : "?");
        errors++;
    }
    return errors;
}
