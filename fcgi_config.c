/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config.c
 * @brief Directive handlers, option parsing, create and merge.
 *
 * Options are parsed from one table per directive, so that every error
 * can name the directive, the option, the bad value and the valid
 * choices. httpd adds the file and line to a directive's error.
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
#include "fcgi_defaults.h"
#include "fcgi_lb.h"

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

/* One word a directive takes, and what it stands for. */
typedef struct {
    const char *word; /* NULL ends a table */
    int value;        /* >= 0 */
} keyword_t;

/* The words of FastCgiWrapper, FastCgiChunkedBody and
 * FastCgiStderrLogLevel. */
static const keyword_t wrapper_modes[] = {
    {"On", FCGIX_WRAPPER_SUEXEC}, {"Off", FCGIX_WRAPPER_OFF}, {NULL, 0}};

static const keyword_t balance_methods[] = {
    {"least-conn", FCGIX_LB_LEAST_CONN},
    {"round-robin", FCGIX_LB_ROUND_ROBIN},
    {"first", FCGIX_LB_FIRST},
    {NULL, 0}};
static const keyword_t chunked_modes[] = {{"spool", FCGIX_CHUNKED_SPOOL},
                                          {"stream", FCGIX_CHUNKED_STREAM},
                                          {"refuse", FCGIX_CHUNKED_REFUSE},
                                          {NULL, 0}};

static const keyword_t log_levels[] = {
    {"emerg", APLOG_EMERG}, {"alert", APLOG_ALERT},  {"crit", APLOG_CRIT},
    {"error", APLOG_ERR},   {"warn", APLOG_WARNING}, {"notice", APLOG_NOTICE},
    {"info", APLOG_INFO},   {"debug", APLOG_DEBUG},  {NULL, 0}};

/* The value of @arg among @words (case-insensitive), or -1. */
static int find_keyword(const keyword_t *words, const char *arg)
{
    for (; words->word; words++) {
        if (!strcasecmp(arg, words->word)) {
            return words->value;
        }
    }
    return -1;
}

/* The error for a directive's argument that is none of those allowed:
 * "Directive: 'arg' is <what>". */
static const char *bad_value(cmd_parms *cmd, const char *arg, const char *what)
{
    return apr_psprintf(cmd->pool, "%s: '%s' is %s", cmd->cmd->name, arg, what);
}

/* ------------------------------------------------------------------ */
/* Create, merge, defaults                                             */
/* ------------------------------------------------------------------ */

static void opts_unset(fcgix_app_opts_t *o)
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
}

#define DEFAULT_IF_UNSET(field, value)                                         \
    do {                                                                       \
        if (e.field == FCGIX_UNSET) {                                          \
            e.field = (value);                                                 \
        }                                                                      \
    } while (0)

/* Unset options take their defaults, all in fcgi_defaults.h. */
fcgix_app_opts_t fcgix_app_effective(const fcgix_app_opts_t *opts)
{
    fcgix_app_opts_t e = *opts;

    /* -appConnTimeout and -idle-timeout stay unset: the handler then uses
     * httpd's Timeout. mod_fastcgi's 30 s idle default cut slow pages
     * short, and its blocking connect could wait forever. */
    DEFAULT_IF_UNSET(flush, FCGIX_DEFAULT_FLUSH);
    DEFAULT_IF_UNSET(nph, FCGIX_DEFAULT_NPH);
    DEFAULT_IF_UNSET(init_start_delay, FCGIX_DEFAULT_INIT_START_DELAY);
    DEFAULT_IF_UNSET(restart_delay, FCGIX_DEFAULT_RESTART_DELAY);
    DEFAULT_IF_UNSET(min_server_life, FCGIX_DEFAULT_MIN_SERVER_LIFE);
    DEFAULT_IF_UNSET(listen_queue_depth, FCGIX_DEFAULT_LISTEN_QUEUE_DEPTH);
    DEFAULT_IF_UNSET(priority, FCGIX_DEFAULT_PRIORITY);
    DEFAULT_IF_UNSET(keep_conn, FCGIX_DEFAULT_KEEP_CONN);
    DEFAULT_IF_UNSET(max_conns, FCGIX_DEFAULT_MAX_CONNS);
    DEFAULT_IF_UNSET(max_requests, FCGIX_DEFAULT_MAX_REQUESTS);
    return e;
}

fcgix_dynamic_conf_t fcgix_dynamic_effective(const fcgix_dynamic_conf_t *d)
{
    fcgix_dynamic_conf_t e;

    if (d) {
        e = *d;
    }
    else {
        memset(&e, 0, sizeof(e));
        opts_unset(&e.opts);
        e.max_processes = e.max_class_processes = FCGIX_UNSET;
        e.min_processes = e.kill_interval = e.update_interval = FCGIX_UNSET;
        e.single_threshold = e.multi_threshold = FCGIX_UNSET;
        e.start_delay = e.process_slack = FCGIX_UNSET;
        e.auto_update = e.restart = e.start_timeout = FCGIX_UNSET;
        e.gain_value = -1.0;
    }
    e.opts = fcgix_app_effective(&e.opts);
    DEFAULT_IF_UNSET(max_processes, FCGIX_DEFAULT_MAX_PROCESSES);
    DEFAULT_IF_UNSET(max_class_processes, FCGIX_DEFAULT_MAX_CLASS_PROCESSES);
    DEFAULT_IF_UNSET(min_processes, FCGIX_DEFAULT_MIN_PROCESSES);
    DEFAULT_IF_UNSET(kill_interval, FCGIX_DEFAULT_KILL_INTERVAL);
    DEFAULT_IF_UNSET(update_interval, FCGIX_DEFAULT_UPDATE_INTERVAL);
    DEFAULT_IF_UNSET(single_threshold, FCGIX_DEFAULT_SINGLE_THRESHOLD);
    DEFAULT_IF_UNSET(multi_threshold, FCGIX_DEFAULT_MULTI_THRESHOLD);
    DEFAULT_IF_UNSET(start_delay, FCGIX_DEFAULT_START_DELAY);
    DEFAULT_IF_UNSET(process_slack, FCGIX_DEFAULT_PROCESS_SLACK);
    DEFAULT_IF_UNSET(auto_update, FCGIX_DEFAULT_AUTO_UPDATE);
    DEFAULT_IF_UNSET(restart, FCGIX_DEFAULT_RESTART);
    DEFAULT_IF_UNSET(start_timeout, FCGIX_DEFAULT_START_TIMEOUT);
    if (e.gain_value < 0) {
        e.gain_value = FCGIX_DEFAULT_GAIN_VALUE;
    }
    return e;
}

apr_off_t fcgix_spool_limit(const fcgix_dir_conf_t *d)
{
    return d->spool_limit == FCGIX_UNSET ? FCGIX_DEFAULT_SPOOL_LIMIT
                                         : d->spool_limit;
}

void *fcgix_srv_conf_create(apr_pool_t *p, server_rec *s)
{
    fcgix_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->dynamic = NULL;
    conf->ipc_dir = NULL;
    conf->wrapper_mode = FCGIX_WRAPPER_UNSET;
    conf->wrapper_path = NULL;
    conf->stderr_level = FCGIX_UNSET;
    conf->status_show_all = FCGIX_UNSET;
    return conf;
}

void *fcgix_srv_conf_merge(apr_pool_t *p, void *base_, void *add_)
{
    fcgix_srv_conf_t *base = base_, *add = add_;
    fcgix_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->dynamic = add->dynamic ? add->dynamic : base->dynamic;
    conf->ipc_dir = add->ipc_dir ? add->ipc_dir : base->ipc_dir;
    conf->wrapper_mode = add->wrapper_mode != FCGIX_WRAPPER_UNSET
                             ? add->wrapper_mode
                             : base->wrapper_mode;
    conf->wrapper_path = add->wrapper_mode != FCGIX_WRAPPER_UNSET
                             ? add->wrapper_path
                             : base->wrapper_path;
    conf->stderr_level = add->stderr_level != FCGIX_UNSET ? add->stderr_level
                                                          : base->stderr_level;
    conf->status_show_all = add->status_show_all != FCGIX_UNSET
                                ? add->status_show_all
                                : base->status_show_all;
    return conf;
}

static void auth_unset(fcgix_auth_conf_t *a)
{
    a->path = NULL;
    a->compat = FCGIX_UNSET;
    a->authoritative = FCGIX_UNSET;
    a->from_htaccess = 0;
    a->provider_only = 0;
}

void *fcgix_dir_conf_create(apr_pool_t *p, char *dir)
{
    fcgix_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->chunked_body = FCGIX_CHUNKED_UNSET;
    conf->spool_limit = FCGIX_UNSET;
    auth_unset(&conf->authenticator);
    auth_unset(&conf->authorizer);
    auth_unset(&conf->access_checker);
    return conf;
}

static fcgix_auth_conf_t merge_auth(const fcgix_auth_conf_t *base,
                                    const fcgix_auth_conf_t *add)
{
    fcgix_auth_conf_t m;

    /* The app and its -compat flag come from one directive: keep them
     * together. */
    m.path = add->path ? add->path : base->path;
    m.compat = add->path ? add->compat : base->compat;
    m.provider_only = add->path ? add->provider_only : base->provider_only;
    m.from_htaccess = add->path ? add->from_htaccess : base->from_htaccess;
    m.authoritative = add->authoritative != FCGIX_UNSET ? add->authoritative
                                                        : base->authoritative;
    return m;
}

void *fcgix_dir_conf_merge(apr_pool_t *p, void *base_, void *add_)
{
    fcgix_dir_conf_t *base = base_, *add = add_;
    fcgix_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->chunked_body = add->chunked_body != FCGIX_CHUNKED_UNSET
                             ? add->chunked_body
                             : base->chunked_body;
    conf->spool_limit =
        add->spool_limit != FCGIX_UNSET ? add->spool_limit : base->spool_limit;
    conf->authenticator = merge_auth(&base->authenticator, &add->authenticator);
    conf->authorizer = merge_auth(&base->authorizer, &add->authorizer);
    conf->access_checker =
        merge_auth(&base->access_checker, &add->access_checker);
    return conf;
}

/* ------------------------------------------------------------------ */
/* Directive handlers                                                  */
/* ------------------------------------------------------------------ */

static const char *where(cmd_parms *cmd)
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
    app->defined_at = where(cmd);
    opts_unset(&app->opts);
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
           && same_lb(&a->lb, &b->lb);
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
    if (lb->method && find_keyword(balance_methods, lb->method) < 0) {
        return app_error(cmd, app,
                         apr_psprintf(cmd->pool,
                                      "option '-balance': '%s' is not one "
                                      "of least-conn, round-robin, first",
                                      lb->method));
    }
    if ((err = check_members(cmd, app, tcp ? lb->hosts : lb->sockets,
                             tcp ? "-host" : "-socket", tcp))
            != NULL
        || (err = check_members(cmd, app, lb->backups, "-backup", tcp))
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
    int m = lb->method ? find_keyword(balance_methods, lb->method) : -1;

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
static const char *cmd_app(cmd_parms *cmd, void *dummy, const char *args)
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

/* The main server's configuration, for directives allowed only there;
 * *err says so when the directive stands in a virtual host. */
static fcgix_srv_conf_t *global_conf(cmd_parms *cmd, const char **err)
{
    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return ap_get_module_config(cmd->server->module_config, &fastcgi_x_module);
}

static const char *cmd_config(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *err;
    fcgix_srv_conf_t *conf = global_conf(cmd, &err);
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
    dyn = apr_pcalloc(cmd->pool, sizeof(*dyn));
    opts_unset(&dyn->opts);
    dyn->max_processes = dyn->max_class_processes = FCGIX_UNSET;
    dyn->min_processes = dyn->kill_interval = FCGIX_UNSET;
    dyn->update_interval = dyn->single_threshold = FCGIX_UNSET;
    dyn->multi_threshold = dyn->start_delay = FCGIX_UNSET;
    dyn->process_slack = dyn->auto_update = dyn->restart = FCGIX_UNSET;
    dyn->start_timeout = FCGIX_UNSET;
    dyn->gain_value = -1.0;
    dyn->defined_at = where(cmd);
    to.target = dyn;
    to.opts = &dyn->opts;
    err = parse_options(cmd, &to, args);
    if (err) {
        return err;
    }
    conf->dynamic = dyn;
    return NULL;
}

static const char *cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = global_conf(cmd, &err);

    (void)dummy;
    if (err) {
        return err;
    }
    if (!*arg) {
        return "FastCgiIpcDir: needs a directory";
    }
    conf->ipc_dir = ap_server_root_relative(cmd->pool, arg);
    return NULL;
}

static const char *cmd_wrapper(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = global_conf(cmd, &err);
    int mode;

    (void)dummy;
    if (err) {
        return err;
    }
    if (arg[0] == '/') {
        conf->wrapper_mode = FCGIX_WRAPPER_PATH;
        conf->wrapper_path = arg;
        return NULL;
    }
    if ((mode = find_keyword(wrapper_modes, arg)) < 0) {
        return bad_value(cmd, arg,
                         "not On, Off or an absolute path to a wrapper "
                         "program");
    }
    conf->wrapper_mode = mode;
    return NULL;
}

/* The three auth directives share one handler; cmd->info is the offset
 * of their fcgix_auth_conf_t in the directory config. */
/* One option of FastCgiAuthenticator, ...Authorizer, ...AccessChecker. */
static const char *auth_option(cmd_parms *cmd, fcgix_auth_conf_t *auth,
                               const char *option)
{
    int provider_ok =
        (size_t)cmd->info != offsetof(fcgix_dir_conf_t, access_checker);

    if (option == NULL) {
        return NULL;
    }
    if (!strcasecmp(option, "-compat")) {
        auth->compat = 1;
        return NULL;
    }
    if (provider_ok && !strcasecmp(option, "-provider")) {
        auth->provider_only = 1;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: unknown option '%s'; valid: -compat%s",
                        cmd->cmd->name, option,
                        provider_ok ? ", -provider" : "");
}

static const char *cmd_auth(cmd_parms *cmd, void *dir_conf, const char *path,
                            const char *opt1, const char *opt2)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)dir_conf + (size_t)cmd->info);
    const char *err;

    auth->compat = 0;
    auth->provider_only = 0;
    if ((err = auth_option(cmd, auth, opt1)) != NULL
        || (err = auth_option(cmd, auth, opt2)) != NULL) {
        return err;
    }
    auth->path = ap_server_root_relative(cmd->pool, path);
    /* Sections of the server config carry ACCESS_CONF; .htaccess files
     * only their AllowOverride bits. */
    auth->from_htaccess = !(cmd->override & ACCESS_CONF);
    return NULL;
}

static const char *cmd_authoritative(cmd_parms *cmd, void *dir_conf, int on)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)dir_conf + (size_t)cmd->info);

    auth->authoritative = on;
    return NULL;
}

static const char *cmd_chunked_body(cmd_parms *cmd, void *dir_conf,
                                    const char *arg)
{
    fcgix_dir_conf_t *conf = dir_conf;
    int mode = find_keyword(chunked_modes, arg);

    if (mode < 0) {
        return bad_value(cmd, arg, "not one of spool, stream, refuse");
    }
    conf->chunked_body = mode;
    return NULL;
}

/* A size in bytes: digits, then optionally K, M or G (powers of 1024).
 * 0 when @s is one, -1 otherwise or when it does not fit. */
static int parse_size(const char *s, apr_off_t *out)
{
    static const char units[] = "kmg";
    apr_int64_t n, unit = 1;
    const char *u;
    char *end;

    if (!apr_isdigit(*s)) {
        return -1; /* no sign, no blank, not empty */
    }
    errno = 0;
    n = apr_strtoi64(s, &end, 10);
    if (errno) {
        return -1;
    }
    if (*end && !end[1] && (u = strchr(units, apr_tolower(*end))) != NULL) {
        unit <<= 10 * (u - units + 1);
        end++;
    }
    if (*end || n > APR_INT64_MAX / unit) {
        return -1;
    }
    *out = (apr_off_t)(n * unit);
    return 0;
}

static const char *cmd_spool_limit(cmd_parms *cmd, void *dir_conf,
                                   const char *arg)
{
    fcgix_dir_conf_t *conf = dir_conf;

    if (parse_size(arg, &conf->spool_limit) != 0) {
        return bad_value(cmd, arg,
                         "not a size in bytes (digits, optionally followed "
                         "by K, M or G; 0 for no limit of its own)");
    }
    return NULL;
}

static const char *cmd_stderr_level(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    fcgix_srv_conf_t *conf =
        ap_get_module_config(cmd->server->module_config, &fastcgi_x_module);
    int level = find_keyword(log_levels, arg);

    (void)dummy;
    if (level < 0) {
        return bad_value(cmd, arg,
                         "not a log level (emerg, alert, crit, error, warn, "
                         "notice, info, debug)");
    }
    conf->stderr_level = level;
    return NULL;
}

/* Not in .htaccess: a tenant must not widen its own view. */
static const char *cmd_status_show_all(cmd_parms *cmd, void *dummy, int on)
{
    fcgix_srv_conf_t *conf =
        ap_get_module_config(cmd->server->module_config, &fastcgi_x_module);

    (void)dummy;
    conf->status_show_all = on;
    return NULL;
}

#define AUTH_OFFSET(f) ((void *)offsetof(fcgix_dir_conf_t, f))
#define APP_KIND(k) ((void *)(intptr_t)(k))

/* An auth phase's directive and its ...Authoritative switch. */
#define AUTH_DIRECTIVES(name, field, usage, off_usage)                         \
    AP_INIT_TAKE123(name, cmd_auth, AUTH_OFFSET(field),                        \
                    ACCESS_CONF | OR_AUTHCFG, usage),                          \
        AP_INIT_FLAG(name "Authoritative", cmd_authoritative,                  \
                     AUTH_OFFSET(field), ACCESS_CONF | OR_AUTHCFG, off_usage)

const command_rec fcgix_cmds[] = {
    AP_INIT_RAW_ARGS("FastCgiServer", cmd_app, APP_KIND(FCGIX_APP_STATIC),
                     RSRC_CONF,
                     "path [-processes n] [-socket name] [-port n] "
                     "[-initial-env NAME[=value]] ...: a static app"),
    AP_INIT_RAW_ARGS("AppClass", cmd_app, APP_KIND(FCGIX_APP_STATIC), RSRC_CONF,
                     "old name of FastCgiServer"),
    AP_INIT_RAW_ARGS("FastCgiExternalServer", cmd_app,
                     APP_KIND(FCGIX_APP_EXTERNAL), RSRC_CONF,
                     "path (-host host:port | -socket path) "
                     "[-appConnTimeout s] [-idle-timeout s] "
                     "[-pass-header Name] [-flush] [-nph]: an app "
                     "started elsewhere"),
    AP_INIT_RAW_ARGS("ExternalAppClass", cmd_app, APP_KIND(FCGIX_APP_EXTERNAL),
                     RSRC_CONF, "old name of FastCgiExternalServer"),
    AP_INIT_RAW_ARGS("FastCgiConfig", cmd_config, NULL, RSRC_CONF,
                     "[-maxProcesses n] [-maxClassProcesses n] ...: "
                     "defaults for dynamic apps"),
    AP_INIT_RAW_ARGS("FCGIConfig", cmd_config, NULL, RSRC_CONF,
                     "old name of FastCgiConfig"),
    AP_INIT_TAKE1("FastCgiIpcDir", cmd_ipc_dir, NULL, RSRC_CONF,
                  "directory for the apps' Unix sockets"),
    AP_INIT_TAKE1("FastCgiWrapper", cmd_wrapper, NULL, RSRC_CONF,
                  "On (httpd's suexec), Off, or a wrapper program's path"),
    AP_INIT_TAKE1("FastCgiSuexec", cmd_wrapper, NULL, RSRC_CONF,
                  "old name of FastCgiWrapper"),
    AP_INIT_TAKE1("FastCgiChunkedBody", cmd_chunked_body, NULL, OR_FILEINFO,
                  "spool (default: read whole, send CONTENT_LENGTH), "
                  "stream (no CONTENT_LENGTH) or refuse (411)"),
    AP_INIT_TAKE1("FastCgiSpoolLimit", cmd_spool_limit, NULL, OR_FILEINFO,
                  "bytes (K, M, G allowed) a spooled chunked request body "
                  "may have, 413 above (default 1G; 0: no limit of its "
                  "own)"),
    AP_INIT_TAKE1("FastCgiStderrLogLevel", cmd_stderr_level, NULL, RSRC_CONF,
                  "log level of the apps' stderr lines (default warn)"),
    AP_INIT_FLAG("FastCgiStatusShowAll", cmd_status_show_all, NULL, RSRC_CONF,
                 "On: the fastcgi-status page of this server shows every "
                 "virtual host's apps (default Off: only its own)"),
    AUTH_DIRECTIVES("FastCgiAuthenticator", authenticator,
                    "path [-compat] [-provider]: app for the authentication "
                    "phase (-provider: only as AuthBasicProvider fastcgi)",
                    "Off lets other modules authenticate when the app "
                    "denies"),
    AUTH_DIRECTIVES("FastCgiAuthorizer", authorizer,
                    "path [-compat] [-provider]: app for the authorization "
                    "phase (-provider: only as Require fastcgi-authorizer)",
                    "Off lets other modules authorize when the app denies"),
    AUTH_DIRECTIVES("FastCgiAccessChecker", access_checker,
                    "path [-compat]: app for the access-check phase",
                    "Off lets other modules decide when the app denies"),
    {NULL}};
