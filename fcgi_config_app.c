/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config_app.c
 * @brief The app directives: FastCgiServer, FastCgiExternalServer (with
 *        its members and balancing) and FastCgiConfig, their options
 *        and the registry of apps.
 *
 * Options are parsed from one table, in which each option says which of
 * the three directives take it, so that every error can name the
 * directive, the option, the bad value and the valid choices. httpd adds
 * the file and line to a directive's error.
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "apr_strings.h"
#include "apr_network_io.h"
#include "apr_lib.h"
#include "apr_hash.h"

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "fcgi_config.h"
#include "fcgi_config_int.h"
#include "fcgi_lb.h"

static const fcgix_cfg_keyword_t balance_methods[] = {
    {"least-conn", FCGIX_LB_LEAST_CONN},
    {"round-robin", FCGIX_LB_ROUND_ROBIN},
    {"first", FCGIX_LB_FIRST},
    {NULL, 0}};

/* ------------------------------------------------------------------ */
/* Option tables                                                       */
/* ------------------------------------------------------------------ */

typedef enum {
    OPT_INT,    /* a whole number between min and max */
    OPT_FLAG,   /* no value; sets the field to 1 */
    OPT_STRING, /* one value */
    OPT_LIST,   /* a value; repeatable, collected in an array */
    OPT_GAIN    /* a real number from 0 to 1 */
} opt_type_t;

/* The directives that take options, as a mask: which accept an option. */
#define FOR_SERVER 1u   /* FastCgiServer */
#define FOR_EXTERNAL 2u /* FastCgiExternalServer */
#define FOR_CONFIG 4u   /* FastCgiConfig */
#define FOR_APPS (FOR_SERVER | FOR_EXTERNAL)
#define FOR_ALL (FOR_SERVER | FOR_EXTERNAL | FOR_CONFIG)

typedef struct {
    const char *name;  /* as written, without the dash */
    const char *alias; /* a second accepted spelling, or NULL */
    opt_type_t type;
    unsigned where; /* FOR_* */
    /* Where the value goes: an OPT() offset is into the target's
     * fcgix_app_opts_t, which every directive has; any other is into the
     * target itself, fcgix_app_t (FOR_APPS rows) or fcgix_dynamic_conf_t
     * (FOR_CONFIG rows). */
    int in_opts;
    size_t offset;
    int min, max;
} opt_def_t;

#define OPT(f) 1, offsetof(fcgix_app_opts_t, f)
#define APP_FIELD(f) 0, offsetof(fcgix_app_t, f)
#define DYN_FIELD(f) 0, offsetof(fcgix_dynamic_conf_t, f)
#define ONE_DAY 86400

/* Every option of every directive, in the order the valid ones are listed
 * in an error. */
static const opt_def_t options[] = {
    {"appConnTimeout", NULL, OPT_INT, FOR_ALL, OPT(conn_timeout), 0, ONE_DAY},
    {"autoUpdate", NULL, OPT_FLAG, FOR_CONFIG, DYN_FIELD(auto_update), 0, 0},
    {"backup", NULL, OPT_LIST, FOR_EXTERNAL, APP_FIELD(lb.backups), 0, 0},
    {"balance", NULL, OPT_STRING, FOR_EXTERNAL, APP_FIELD(lb.method), 0, 0},
    {"fail-timeout", NULL, OPT_INT, FOR_EXTERNAL, APP_FIELD(lb.fail_timeout), 1,
     ONE_DAY},
    {"flush", NULL, OPT_FLAG, FOR_ALL, OPT(flush), 0, 0},
    {"gainValue", NULL, OPT_GAIN, FOR_CONFIG, DYN_FIELD(gain_value), 0, 0},
    {"group", NULL, OPT_STRING, FOR_APPS, APP_FIELD(group), 0, 0},
    {"health-check", NULL, OPT_STRING, FOR_EXTERNAL, APP_FIELD(lb.health_check),
     0, 0},
    {"health-interval", NULL, OPT_INT, FOR_EXTERNAL,
     APP_FIELD(lb.health_interval), 1, 3600},
    {"host", NULL, OPT_LIST, FOR_EXTERNAL, APP_FIELD(lb.hosts), 0, 0},
    {"idle-timeout", NULL, OPT_INT, FOR_ALL, OPT(idle_timeout), 1, ONE_DAY},
    {"init-start-delay", NULL, OPT_INT, FOR_SERVER | FOR_CONFIG,
     OPT(init_start_delay), 0, ONE_DAY},
    {"initial-env", NULL, OPT_LIST, FOR_SERVER | FOR_CONFIG, OPT(initial_env),
     0, 0},
    {"keep-conn", NULL, OPT_FLAG, FOR_APPS, OPT(keep_conn), 0, 0},
    {"killInterval", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(kill_interval), 1,
     ONE_DAY},
    {"listen-queue-depth", NULL, OPT_INT, FOR_SERVER | FOR_CONFIG,
     OPT(listen_queue_depth), 1, 65535},
    {"max-conns", NULL, OPT_INT, FOR_APPS, OPT(max_conns), 1, 1024},
    {"max-fails", NULL, OPT_INT, FOR_EXTERNAL, APP_FIELD(lb.max_fails), 1,
     1000},
    {"maxClassProcesses", NULL, OPT_INT, FOR_CONFIG,
     DYN_FIELD(max_class_processes), 1, 1024},
    {"maxProcesses", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(max_processes), 1,
     65535},
    {"max-requests", "maxRequests", OPT_INT, FOR_SERVER | FOR_CONFIG,
     OPT(max_requests), 0, INT_MAX},
    {"min-server-life", NULL, OPT_INT, FOR_SERVER | FOR_CONFIG,
     OPT(min_server_life), 0, ONE_DAY},
    {"minProcesses", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(min_processes), 0,
     65535},
    {"multiThreshold", "multiThreshhold", OPT_INT, FOR_CONFIG,
     DYN_FIELD(multi_threshold), 0, 100},
    {"multiplex", NULL, OPT_FLAG, FOR_APPS, OPT(multiplex), 0, 0},
    {"nph", NULL, OPT_FLAG, FOR_APPS, OPT(nph), 0, 0},
    {"pass-header", NULL, OPT_LIST, FOR_ALL, OPT(pass_headers), 0, 0},
    {"port", NULL, OPT_INT, FOR_SERVER, APP_FIELD(port), 1, 65535},
    {"priority", NULL, OPT_INT, FOR_SERVER | FOR_CONFIG, OPT(priority), 0, 20},
    {"processes", NULL, OPT_INT, FOR_SERVER, APP_FIELD(processes), 1, 1024},
    {"processSlack", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(process_slack), 0,
     65535},
    {"queue-timeout", NULL, OPT_INT, FOR_EXTERNAL, APP_FIELD(lb.queue_timeout),
     0, 3600},
    {"resolve-interval", NULL, OPT_INT, FOR_EXTERNAL,
     APP_FIELD(lb.resolve_interval), 1, ONE_DAY},
    {"restart", NULL, OPT_FLAG, FOR_CONFIG, DYN_FIELD(restart), 0, 0},
    {"restart-delay", NULL, OPT_INT, FOR_SERVER | FOR_CONFIG,
     OPT(restart_delay), 0, ONE_DAY},
    {"singleThreshold", "singleThreshhold", OPT_INT, FOR_CONFIG,
     DYN_FIELD(single_threshold), 0, 100},
    {"socket", NULL, OPT_STRING, FOR_SERVER, APP_FIELD(socket_path), 0, 0},
    {"socket", NULL, OPT_LIST, FOR_EXTERNAL, APP_FIELD(lb.sockets), 0, 0},
    {"startDelay", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(start_delay), 1,
     ONE_DAY},
    {"startTimeout", "start-timeout", OPT_INT, FOR_CONFIG,
     DYN_FIELD(start_timeout), 1, 3600},
    {"updateInterval", NULL, OPT_INT, FOR_CONFIG, DYN_FIELD(update_interval), 1,
     ONE_DAY},
    {"user", NULL, OPT_STRING, FOR_APPS, APP_FIELD(user), 0, 0},
    {NULL, NULL, OPT_FLAG, 0, 0, 0, 0, 0}};

/* What one directive's options are parsed into. */
typedef struct {
    unsigned directive;     /* one FOR_* bit */
    void *target;           /* fcgix_app_t or fcgix_dynamic_conf_t */
    fcgix_app_opts_t *opts; /* the target's opts member */
} opt_target_t;

/* ------------------------------------------------------------------ */
/* Option parsing                                                      */
/* ------------------------------------------------------------------ */

static const char *valid_options(apr_pool_t *p, unsigned directive)
{
    const opt_def_t *opt;
    const char *list = NULL;

    for (opt = options; opt->name; opt++) {
        if (opt->where & directive) {
            list = list ? apr_pstrcat(p, list, ", -", opt->name, NULL)
                        : apr_pstrcat(p, "-", opt->name, NULL);
        }
    }
    return list;
}

static const opt_def_t *find_option(unsigned directive, const char *word)
{
    const opt_def_t *opt;

    if (word[0] != '-') {
        return NULL;
    }
    for (opt = options; opt->name; opt++) {
        if ((opt->where & directive)
            && (!strcasecmp(word + 1, opt->name)
                || (opt->alias && !strcasecmp(word + 1, opt->alias)))) {
            return opt;
        }
    }
    return NULL;
}

/* @value as a number within the option's range: a whole number from min
 * to max (OPT_INT) or a real number from 0 to 1 (OPT_GAIN). */
static const char *parse_number(cmd_parms *cmd, const opt_def_t *opt,
                                const char *value, double *out)
{
    int whole = opt->type == OPT_INT;
    double lo = whole ? opt->min : 0.0, hi = whole ? opt->max : 1.0;
    char *end;
    double n;

    errno = 0;
    n = whole ? (double)strtol(value, &end, 10) : strtod(value, &end);
    if (errno || end == value || *end || !(n >= lo && n <= hi)) {
        return apr_psprintf(cmd->pool,
                            "%s: option '-%s': '%s' is not a %snumber from "
                            "%g to %g",
                            cmd->cmd->name, opt->name, value,
                            whole ? "whole " : "", lo, hi);
    }
    *out = n;
    return NULL;
}

/* Store one option's value in its field of @to. */
static const char *set_option(cmd_parms *cmd, const opt_def_t *opt,
                              const char *value, const opt_target_t *to)
{
    char *field =
        (opt->in_opts ? (char *)to->opts : (char *)to->target) + opt->offset;
    apr_array_header_t **list;
    const char *err;
    double n;

    switch (opt->type) {
    case OPT_INT:
        if ((err = parse_number(cmd, opt, value, &n)) == NULL) {
            *(int *)(void *)field = (int)n;
        }
        return err;
    case OPT_GAIN:
        if ((err = parse_number(cmd, opt, value, &n)) == NULL) {
            *(double *)(void *)field = n;
        }
        return err;
    case OPT_FLAG:
        *(int *)(void *)field = 1;
        return NULL;
    case OPT_STRING:
        *(const char **)(void *)field = value;
        return NULL;
    case OPT_LIST:
        list = (apr_array_header_t **)(void *)field;
        if (*list == NULL) {
            *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
        }
        *(const char **)apr_array_push(*list) = value;
        return NULL;
    }
    return "internal error: unknown option type";
}

/* Parse "-name [value] -name [value]..." into target; a repeated
 * single-valued option is an error, as it is almost always a typo. */
static const char *parse_options(cmd_parms *cmd, const opt_target_t *to,
                                 const char *args)
{
    const char *word, *value, *err;
    const opt_def_t *opt;
    const char *seen = "";

    while (*args) {
        word = ap_getword_conf(cmd->temp_pool, &args);
        if (!*word) {
            break;
        }
        opt = find_option(to->directive, word);
        if (opt == NULL) {
            return apr_psprintf(cmd->pool,
                                "%s: unknown option '%s'; valid options: %s",
                                cmd->cmd->name, word,
                                valid_options(cmd->temp_pool, to->directive));
        }
        if (opt->type != OPT_LIST
            && ap_strstr_c(
                seen, apr_pstrcat(cmd->temp_pool, "|", opt->name, "|", NULL))) {
            return apr_psprintf(cmd->pool, "%s: option '-%s' given twice",
                                cmd->cmd->name, opt->name);
        }
        seen = apr_pstrcat(cmd->temp_pool, seen, "|", opt->name, "|", NULL);
        value = NULL;
        if (opt->type != OPT_FLAG) {
            value = ap_getword_conf(cmd->pool, &args);
            if (!*value) {
                return apr_psprintf(cmd->pool, "%s: option '-%s' needs a value",
                                    cmd->cmd->name, opt->name);
            }
        }
        err = set_option(cmd, opt, value, to);
        if (err) {
            return err;
        }
    }
    return NULL;
}

void fcgix_cfg_opts_unset(fcgix_app_opts_t *o)
{
    o->conn_timeout = FCGIX_UNSET;
    o->idle_timeout = FCGIX_UNSET;
    o->flush = FCGIX_UNSET;
    o->nph = FCGIX_UNSET;
    o->pass_headers = NULL;
    o->initial_env = NULL;
    o->init_start_delay = FCGIX_UNSET;
    o->restart_delay = FCGIX_UNSET;
    o->min_server_life = FCGIX_UNSET;
    o->listen_queue_depth = FCGIX_UNSET;
    o->priority = FCGIX_UNSET;
    o->keep_conn = FCGIX_UNSET;
    o->max_conns = FCGIX_UNSET;
    o->max_requests = FCGIX_UNSET;
    o->busy_timeout = FCGIX_UNSET;
    o->pass_header_bare = FCGIX_UNSET;
    o->max_body = FCGIX_UNSET;
    o->fix_pathinfo = FCGIX_UNSET;
    o->multiplex = FCGIX_UNSET;
}

fcgix_dynamic_conf_t *fcgix_cfg_dynamic_new(apr_pool_t *p)
{
    fcgix_dynamic_conf_t *dyn = apr_pcalloc(p, sizeof(*dyn));

    fcgix_cfg_opts_unset(&dyn->opts);
    dyn->max_processes = dyn->max_class_processes = FCGIX_UNSET;
    dyn->min_processes = dyn->kill_interval = FCGIX_UNSET;
    dyn->update_interval = dyn->single_threshold = FCGIX_UNSET;
    dyn->multi_threshold = dyn->start_delay = FCGIX_UNSET;
    dyn->process_slack = dyn->auto_update = dyn->restart = FCGIX_UNSET;
    dyn->start_timeout = FCGIX_UNSET;
    dyn->gain_value = -1.0;
    return dyn;
}

const char *fcgix_cfg_where(cmd_parms *cmd)
{
    if (cmd->directive && cmd->directive->filename) {
        return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    }
    return "(unknown place)";
}

static fcgix_app_t *new_app(cmd_parms *cmd, fcgix_app_kind_t kind,
                            const char **args)
{
    fcgix_app_t *app = apr_pcalloc(cmd->pool, sizeof(*app));
    const char *path = ap_getword_conf(cmd->pool, args);

    if (!*path) {
        return NULL;
    }
    app->kind = kind;
    app->path = ap_server_root_relative(cmd->pool, path);
    app->defined_at = fcgix_cfg_where(cmd);
    fcgix_cfg_opts_unset(&app->opts);
    app->processes = FCGIX_UNSET;
    app->lb.max_fails = app->lb.fail_timeout = FCGIX_UNSET;
    app->lb.queue_timeout = app->lb.resolve_interval = FCGIX_UNSET;
    app->lb.health_interval = FCGIX_UNSET;
    return app;
}

/* -host (or -backup) host:port; IPv6 as [::1]:9000. */
static const char *parse_host(cmd_parms *cmd, const fcgix_app_t *app,
                              const char *option, const char *spec,
                              const char **host, int *port)
{
    char *addr, *scope;
    apr_port_t p;

    if (apr_parse_addr_port(&addr, &scope, &p, spec, cmd->pool) != APR_SUCCESS
        || addr == NULL || p == 0) {
        return apr_psprintf(cmd->pool,
                            "%s %s: option '%s': '%s' is not host:port "
                            "(e.g. 127.0.0.1:9000)",
                            cmd->cmd->name, app->path, option, spec);
    }
    *host = addr;
    *port = p;
    return NULL;
}

static const char *check_user_group(cmd_parms *cmd, const fcgix_app_t *app)
{
    if ((app->user == NULL) != (app->group == NULL)) {
        return apr_psprintf(cmd->pool,
                            "%s %s: -user and -group go together; give "
                            "both or neither",
                            cmd->cmd->name, app->path);
    }
    return NULL;
}

static int same_list(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *),
                   APR_ARRAY_IDX(b, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

static int same_string(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : !strcmp(a, b);
}

static int same_lb(const fcgix_lb_conf_t *a, const fcgix_lb_conf_t *b)
{
    return same_list(a->hosts, b->hosts) && same_list(a->sockets, b->sockets)
           && same_list(a->backups, b->backups)
           && same_string(a->method, b->method) && a->max_fails == b->max_fails
           && a->fail_timeout == b->fail_timeout
           && a->queue_timeout == b->queue_timeout
           && a->resolve_interval == b->resolve_interval
           && same_string(a->health_check, b->health_check)
           && a->health_interval == b->health_interval;
}

/* Do two definitions of one path say the same thing? */
static int same_app(const fcgix_app_t *a, const fcgix_app_t *b)
{
    const fcgix_app_opts_t *x = &a->opts, *y = &b->opts;

    return a->kind == b->kind && same_string(a->host, b->host)
           && a->port == b->port && same_string(a->socket_path, b->socket_path)
           && a->processes == b->processes && same_string(a->user, b->user)
           && same_string(a->group, b->group)
           && x->conn_timeout == y->conn_timeout
           && x->idle_timeout == y->idle_timeout && x->flush == y->flush
           && x->nph == y->nph && same_list(x->pass_headers, y->pass_headers)
           && same_list(x->initial_env, y->initial_env)
           && x->init_start_delay == y->init_start_delay
           && x->restart_delay == y->restart_delay
           && x->min_server_life == y->min_server_life
           && x->listen_queue_depth == y->listen_queue_depth
           && x->priority == y->priority && x->keep_conn == y->keep_conn
           && x->max_conns == y->max_conns && x->max_requests == y->max_requests
           && x->multiplex == y->multiplex && same_lb(&a->lb, &b->lb);
}

#define REGISTRY_KEY "fcgix_app_registry"

apr_hash_t *fcgix_registry(apr_pool_t *pconf)
{
    void *registry = NULL;

    apr_pool_userdata_get(&registry, REGISTRY_KEY, pconf);
    if (registry == NULL) {
        registry = apr_hash_make(pconf);
        apr_pool_userdata_set(registry, REGISTRY_KEY, apr_pool_cleanup_null,
                              pconf);
    }
    return registry;
}

/* Record an application in the registry of this configuration pass. The
 * same definition in several virtual hosts is fine (mod_fastcgi called it
 * a redefinition); a different one for the same path is an error that
 * names both places. Each host that defines it is noted, for the
 * status page. */
static const char *add_app(cmd_parms *cmd, fcgix_app_t *app)
{
    apr_hash_t *registry = fcgix_registry(cmd->pool);
    fcgix_app_t *old = apr_hash_get(registry, app->path, APR_HASH_KEY_STRING);

    if (old && !same_app(old, app)) {
        return apr_psprintf(cmd->pool,
                            "%s %s: conflicts with the definition of the "
                            "same path at %s",
                            cmd->cmd->name, app->path, old->defined_at);
    }
    if (old == NULL) {
        old = app;
        old->servers = apr_array_make(cmd->pool, 1, sizeof(server_rec *));
        apr_hash_set(registry, app->path, APR_HASH_KEY_STRING, app);
    }
    APR_ARRAY_PUSH(old->servers, server_rec *) = cmd->server;
    return NULL;
}

/* "Directive path: @what", an error in one app's definition. */
static const char *app_error(cmd_parms *cmd, const fcgix_app_t *app,
                             const char *what)
{
    return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, app->path,
                        what);
}

/* Where the directive may stand, the app's path and its options. */
static const char *parse_app(cmd_parms *cmd, fcgix_app_kind_t kind,
                             const char *args, fcgix_app_t **out)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    opt_target_t to;

    if (err) {
        return err;
    }
    *out = new_app(cmd, kind, &args);
    if (*out == NULL) {
        return kind == FCGIX_APP_EXTERNAL
                   ? "FastCgiExternalServer: needs the path of the "
                     "application, then -host host:port or -socket path"
                   : "FastCgiServer: needs the path of the application";
    }
    to.directive = kind == FCGIX_APP_EXTERNAL ? FOR_EXTERNAL : FOR_SERVER;
    to.target = *out;
    to.opts = &(*out)->opts;
    return parse_options(cmd, &to, args);
}

static int count(const apr_array_header_t *list)
{
    return list ? list->nelts : 0;
}

static const char *list_item(const apr_array_header_t *list, int i)
{
    return APR_ARRAY_IDX(list, i, const char *);
}

/* Each -host (or -backup, with @option) of a balanced server: host:port,
 * and none given twice. */
static const char *check_members(cmd_parms *cmd, const fcgix_app_t *app,
                                 const apr_array_header_t *list,
                                 const char *option, int tcp)
{
    const char *host, *err;
    int i, j, port;

    for (i = 0; i < count(list); i++) {
        if (tcp
            && (err = parse_host(cmd, app, option, list_item(list, i), &host,
                                 &port))
                   != NULL) {
            return err;
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(list_item(list, i), list_item(list, j))) {
                return apr_psprintf(cmd->pool, "%s %s: %s %s given twice",
                                    cmd->cmd->name, app->path, option,
                                    list_item(list, i));
            }
        }
    }
    return NULL;
}

/* A -backup is not also a member. */
static const char *check_backups(cmd_parms *cmd, const fcgix_app_t *app,
                                 const apr_array_header_t *members)
{
    int i, j;

    for (i = 0; i < count(app->lb.backups); i++) {
        for (j = 0; j < count(members); j++) {
            if (!strcmp(list_item(app->lb.backups, i), list_item(members, j))) {
                return apr_psprintf(cmd->pool,
                                    "%s %s: %s is a member and a -backup; "
                                    "give it once",
                                    cmd->cmd->name, app->path,
                                    list_item(members, j));
            }
        }
    }
    return NULL;
}

/* The balancing options of a server with several members. */
static const char *check_balance(cmd_parms *cmd, fcgix_app_t *app, int tcp)
{
    fcgix_lb_conf_t *lb = &app->lb;
    const char *err;
    int n = count(lb->hosts) + count(lb->sockets) + count(lb->backups);

    if (n > FCGIX_LB_MAX_MEMBERS) {
        return app_error(cmd, app,
                         apr_psprintf(cmd->pool,
                                      "%d members (-host, -socket and "
                                      "-backup); at most %d",
                                      n, FCGIX_LB_MAX_MEMBERS));
    }
    if (lb->method && fcgix_cfg_find_keyword(balance_methods, lb->method) < 0) {
        return app_error(cmd, app,
                         apr_psprintf(cmd->pool,
                                      "option '-balance': '%s' is not one "
                                      "of least-conn, round-robin, first",
                                      lb->method));
    }
    if ((err = check_members(cmd, app, tcp ? lb->hosts : lb->sockets,
                             tcp ? "-host" : "-socket", tcp))
            != NULL
        || (err = check_members(cmd, app, lb->backups, "-backup", tcp)) != NULL
        || (err = check_backups(cmd, app, tcp ? lb->hosts : lb->sockets))
               != NULL) {
        return err;
    }
    if (lb->health_check && lb->health_check[0] != '/') {
        return app_error(cmd, app,
                         apr_psprintf(cmd->pool,
                                      "option '-health-check': '%s' is not "
                                      "a URL path (it starts with /)",
                                      lb->health_check));
    }
    if (lb->health_interval != FCGIX_UNSET && !lb->health_check) {
        return app_error(cmd, app, "-health-interval needs -health-check");
    }
    if (lb->resolve_interval != FCGIX_UNSET && !tcp) {
        return app_error(cmd, app,
                         "-resolve-interval is for -host names, not -socket");
    }
    lb->on = n > 1 || lb->method || lb->max_fails != FCGIX_UNSET
             || lb->fail_timeout != FCGIX_UNSET
             || lb->queue_timeout != FCGIX_UNSET
             || lb->resolve_interval != FCGIX_UNSET || lb->health_check;
    return NULL;
}

fcgix_lb_method_t fcgix_lb_conf_method(const fcgix_lb_conf_t *lb)
{
    int m =
        lb->method ? fcgix_cfg_find_keyword(balance_methods, lb->method) : -1;

    return m < 0 ? FCGIX_LB_LEAST_CONN : (fcgix_lb_method_t)m;
}

/* -host and -socket may repeat (a balanced server), but not mix. The
 * first member is also the app's host or socket, so that a server with
 * one member is served exactly as before balancing existed. */
static const char *check_external(cmd_parms *cmd, fcgix_app_t *app)
{
    int hosts = count(app->lb.hosts), sockets = count(app->lb.sockets);
    const char *err;

    if (hosts && sockets) {
        return app_error(cmd, app,
                         "-host and -socket exclude each other; give one "
                         "kind (either may repeat)");
    }
    if (!hosts && !sockets) {
        return app_error(cmd, app, "needs -host host:port or -socket path");
    }
    if ((err = check_balance(cmd, app, hosts > 0)) != NULL) {
        return err;
    }
    if (sockets) {
        app->socket_path = list_item(app->lb.sockets, 0);
        return NULL;
    }
    return parse_host(cmd, app, "-host", list_item(app->lb.hosts, 0),
                      &app->host, &app->port);
}

static const char *check_static(cmd_parms *cmd, const fcgix_app_t *app)
{
    if (app->port && app->socket_path) {
        return app_error(cmd, app,
                         "-port and -socket exclude each other; give at "
                         "most one");
    }
    return NULL;
}

/* FastCgiServer and FastCgiExternalServer (cmd->info: the app's kind). */
const char *fcgix_cmd_app(cmd_parms *cmd, void *dummy, const char *args)
{
    fcgix_app_kind_t kind = (fcgix_app_kind_t)(intptr_t)cmd->info;
    fcgix_app_t *app = NULL;
    const char *err = parse_app(cmd, kind, args, &app);

    (void)dummy;
    if (err == NULL) {
        err = kind == FCGIX_APP_EXTERNAL ? check_external(cmd, app)
                                         : check_static(cmd, app);
    }
    if (err == NULL) {
        err = check_user_group(cmd, app);
    }
    return err ? err : add_app(cmd, app);
}

const char *fcgix_cmd_config(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *err;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);
    opt_target_t to = {FOR_CONFIG, NULL, NULL};
    fcgix_dynamic_conf_t *dyn;

    (void)dummy;
    if (err) {
        return err;
    }
    if (conf->dynamic) {
        return apr_psprintf(cmd->pool,
                            "FastCgiConfig: given twice; the first one is "
                            "at %s",
                            conf->dynamic->defined_at);
    }
    dyn = fcgix_cfg_dynamic_new(cmd->pool);
    dyn->defined_at = fcgix_cfg_where(cmd);
    to.target = dyn;
    to.opts = &dyn->opts;
    err = parse_options(cmd, &to, args);
    if (err) {
        return err;
    }
    conf->dynamic = dyn;
    return NULL;
}
