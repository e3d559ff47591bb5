/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config.c
 * @brief Create and merge, the simple directives and the directive table;
 *        the app directives and their options are in fcgi_config_app.c.
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
#include "fcgi_defaults.h"
#include "fcgi_filter.h"
#include "fcgi_fcgid_int.h"
#include "fcgi_lb.h"
#include "fcgi_log.h"
#include "fcgi_sendfile.h"

/* The words of FastCgiWrapper, FastCgiChunkedBody and
 * FastCgiStderrLogLevel. */
static const fcgix_cfg_keyword_t wrapper_modes[] = {
    {"On", FCGIX_WRAPPER_SUEXEC}, {"Off", FCGIX_WRAPPER_OFF}, {NULL, 0}};

static const fcgix_cfg_keyword_t chunked_modes[] = {
    {"spool", FCGIX_CHUNKED_SPOOL},
    {"stream", FCGIX_CHUNKED_STREAM},
    {"refuse", FCGIX_CHUNKED_REFUSE},
    {NULL, 0}};

static const fcgix_cfg_keyword_t log_levels[] = {
    {"emerg", APLOG_EMERG}, {"alert", APLOG_ALERT},  {"crit", APLOG_CRIT},
    {"error", APLOG_ERR},   {"warn", APLOG_WARNING}, {"notice", APLOG_NOTICE},
    {"info", APLOG_INFO},   {"debug", APLOG_DEBUG},  {NULL, 0}};

/* The value of @arg among @words (case-insensitive), or -1. */
int fcgix_cfg_find_keyword(const fcgix_cfg_keyword_t *words, const char *arg)
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
const char *fcgix_cfg_bad_value(cmd_parms *cmd, const char *arg,
                                const char *what)
{
    return apr_psprintf(cmd->pool, "%s: '%s' is %s", cmd->cmd->name, arg, what);
}

/* ------------------------------------------------------------------ */
/* Create, merge, defaults                                             */
/* ------------------------------------------------------------------ */

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
    /* busy_timeout and max_body stay unset: no limit of their own. */
    DEFAULT_IF_UNSET(pass_header_bare, 0);
    DEFAULT_IF_UNSET(fix_pathinfo, 0);
    DEFAULT_IF_UNSET(multiplex, 0);
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
        fcgix_cfg_opts_unset(&e.opts);
        e.max_processes = e.max_class_processes = FCGIX_UNSET;
        e.min_processes = e.kill_interval = e.update_interval = FCGIX_UNSET;
        e.single_threshold = e.multi_threshold = FCGIX_UNSET;
        e.start_delay = e.process_slack = FCGIX_UNSET;
        e.auto_update = e.restart = e.start_timeout = FCGIX_UNSET;
        e.gain_value = -1.0;
    }
    e.opts = fcgix_app_effective(&e.opts);
    /* mod_fcgid's 1000 when its record is loaded (FcgidMaxProcesses) */
    DEFAULT_IF_UNSET(max_processes, fcgix_vocab_loaded(FCGIX_VOCAB_FCGID)
                                        ? FCGIX_FCGID_DEFAULT_MAX_PROCESSES
                                        : FCGIX_DEFAULT_MAX_PROCESSES);
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
    conf->keep_conns = FCGIX_UNSET;
    conf->ipc_dir_at = NULL;
    conf->ipc_dir_vocab = 0;
    conf->tenant = FCGIX_UNSET;
    conf->max_host_processes = FCGIX_UNSET;
    conf->max_user_processes = FCGIX_UNSET;
    fcgix_fcgid_srv_unset(&conf->fcgid);
    return conf;
}

void *fcgix_srv_conf_merge(apr_pool_t *p, void *base_, void *add_)
{
    fcgix_srv_conf_t *base = base_, *add = add_;
    fcgix_srv_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->dynamic = add->dynamic ? add->dynamic : base->dynamic;
    conf->ipc_dir = add->ipc_dir ? add->ipc_dir : base->ipc_dir;
    conf->ipc_dir_at = add->ipc_dir ? add->ipc_dir_at : base->ipc_dir_at;
    conf->ipc_dir_vocab =
        add->ipc_dir ? add->ipc_dir_vocab : base->ipc_dir_vocab;
    conf->tenant = add->tenant; /* numbered in post_config */
    conf->max_host_processes = add->max_host_processes != FCGIX_UNSET
                                   ? add->max_host_processes
                                   : base->max_host_processes;
    conf->max_user_processes = add->max_user_processes != FCGIX_UNSET
                                   ? add->max_user_processes
                                   : base->max_user_processes;
    fcgix_fcgid_srv_merge(p, &base->fcgid, &add->fcgid, &conf->fcgid);
    conf->wrapper_mode = add->wrapper_mode != FCGIX_WRAPPER_UNSET
                             ? add->wrapper_mode
                             : base->wrapper_mode;
    conf->wrapper_path = add->wrapper_mode != FCGIX_WRAPPER_UNSET
                             ? add->wrapper_path
                             : base->wrapper_path;
    conf->stderr_level = add->stderr_level != FCGIX_UNSET ? add->stderr_level
                                                          : base->stderr_level;
    conf->keep_conns =
        add->keep_conns != FCGIX_UNSET ? add->keep_conns : base->keep_conns;
    conf->status_show_all = add->status_show_all != FCGIX_UNSET
                                ? add->status_show_all
                                : base->status_show_all;
    conf->filters = !base->filters ? add->filters
                    : !add->filters
                        ? base->filters
                        : apr_table_overlay(p, add->filters, base->filters);
    conf->filters_at =
        !base->filters_at ? add->filters_at
        : !add->filters_at
            ? base->filters_at
            : apr_table_overlay(p, add->filters_at, base->filters_at);
    return conf;
}

static void auth_unset(fcgix_auth_conf_t *a)
{
    a->path = NULL;
    a->compat = FCGIX_UNSET;
    a->authoritative = FCGIX_UNSET;
    a->from_htaccess = 0;
    a->provider_only = 0;
    a->vocab = 0;
    a->command = NULL;
    a->set_by = NULL;
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
    conf->fcgid.wrappers = NULL;
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
    m.vocab = add->path ? add->vocab : base->vocab;
    m.command = add->path ? add->command : base->command;
    m.set_by = add->path ? add->set_by : base->set_by;
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
    fcgix_fcgid_dir_merge(p, &base->fcgid, &add->fcgid, &conf->fcgid);
    conf->sendfile_dirs =
        !base->sendfile_dirs ? add->sendfile_dirs
        : !add->sendfile_dirs
            ? base->sendfile_dirs
            : apr_array_append(p, base->sendfile_dirs, add->sendfile_dirs);
    return conf;
}

/* ------------------------------------------------------------------ */
/* Directive handlers                                                  */
/* ------------------------------------------------------------------ */

/* The main server's configuration, for directives allowed only there;
 * *err says so when the directive stands in a virtual host. */
fcgix_srv_conf_t *fcgix_cfg_global(cmd_parms *cmd, const char **err)
{
    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return fcgix_cfg_srv(cmd);
}

/* FastCgiIpcDir and FcgidIPCDir write one field; the same directive
 * twice: the last wins, as before. */
const char *fcgix_cfg_set_ipc_dir(cmd_parms *cmd, const char *arg, int vocab)
{
    const char *err, *dir;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);

    if (err) {
        return err;
    }
    if (!*arg) {
        return apr_psprintf(cmd->pool, "%s: needs a directory", cmd->cmd->name);
    }
    dir = ap_server_root_relative(cmd->pool, arg);
    if (dir == NULL) {
        return fcgix_cfg_bad_value(cmd, arg, "not a valid path");
    }
    if (conf->ipc_dir && conf->ipc_dir_vocab && conf->ipc_dir_vocab != vocab
        && strcmp(conf->ipc_dir, dir) != 0) {
        return apr_psprintf(
            cmd->pool,
            FCGIX_LOGNO(00118) "%s %s (%s) and %s %s (%s) name different "
                               "directories for the apps' sockets; keep one",
            cmd->cmd->name, dir, fcgix_cfg_where(cmd),
            vocab == FCGIX_VOCAB_FCGID ? "FastCgiIpcDir" : "FcgidIPCDir",
            conf->ipc_dir, conf->ipc_dir_at);
    }
    conf->ipc_dir = dir;
    conf->ipc_dir_at = fcgix_cfg_where(cmd);
    conf->ipc_dir_vocab = vocab;
    return NULL;
}

static const char *cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return fcgix_cfg_set_ipc_dir(cmd, arg, FCGIX_VOCAB_FASTCGI);
}

/* Digits with an optional '-', nothing else (mod_fcgid used atol(), so
 * "abc" meant 0). */
const char *fcgix_cfg_parse_int(cmd_parms *cmd, const char *arg, int lo, int hi,
                                int *out)
{
    const char *d = arg[0] == '-' ? arg + 1 : arg;
    apr_int64_t n;
    char *end;

    errno = 0;
    n = apr_isdigit(*d) ? apr_strtoi64(arg, &end, 10) : 0;
    if (!apr_isdigit(*d) || errno || *end || n < lo || n > hi) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from %d to %d",
                            cmd->cmd->name, arg, lo, hi);
    }
    *out = (int)n;
    return NULL;
}

/* The per-tenant caps (docs/design/fcgid.md, section 4). */
const char *fcgix_cmd_max_host(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return fcgix_cfg_parse_int(cmd, arg, 0, 65535,
                               &fcgix_cfg_srv(cmd)->max_host_processes);
}

const char *fcgix_cmd_max_user(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);

    (void)dummy;
    return err ? err
               : fcgix_cfg_parse_int(cmd, arg, 0, 65535,
                                     &conf->max_user_processes);
}

static const char *cmd_wrapper(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);
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
    if ((mode = fcgix_cfg_find_keyword(wrapper_modes, arg)) < 0) {
        return fcgix_cfg_bad_value(
            cmd, arg,
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

/* The FastCgi names in mod_fastcgi_x's meaning: directory sections and
 * .htaccess with AuthConfig (their mask also admits FileInfo and the
 * server level, for mod_fcgid's meaning). */
static const char *fastcgi_auth_context(cmd_parms *cmd)
{
    int ok = fcgix_cfg_in_htaccess(cmd) ? (cmd->override & OR_AUTHCFG) != 0
                                        : (cmd->override & ACCESS_CONF) != 0;

    return ok ? NULL
              : apr_pstrcat(cmd->pool, cmd->cmd->name, " not allowed here",
                            NULL);
}

/* With both records loaded httpd runs a FastCgi* auth directive once per
 * table: the section remembers the line that set the slot, and the
 * second run does nothing. Which meaning: mod_fastcgi_x's when its
 * record is loaded, else mod_fcgid's (docs/design/fcgid.md 2.5). */
const char *fcgix_cmd_auth(cmd_parms *cmd, void *dummy, const char *path,
                           const char *opt1, const char *opt2)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)fcgix_cfg_dir(cmd) + (size_t)cmd->info);
    const char *err;

    if (cmd->directive && auth->set_by == cmd->directive) {
        return NULL;
    }
    if (!fcgix_vocab_loaded(FCGIX_VOCAB_FASTCGI)) {
        if (opt1 != NULL) {
            return apr_psprintf(cmd->pool,
                                "%s takes one argument, a command line "
                                "(mod_fcgid's meaning: fastcgi_x_module is "
                                "not loaded; quote a line with options)",
                                cmd->cmd->name);
        }
        return fcgix_fcgid_auth_set(cmd, auth, path);
    }
    if ((err = fastcgi_auth_context(cmd)) != NULL) {
        return err;
    }
    auth->compat = 0;
    auth->provider_only = 0;
    if ((err = auth_option(cmd, auth, opt1)) != NULL
        || (err = auth_option(cmd, auth, opt2)) != NULL) {
        return err;
    }
    (void)dummy;
    auth->path = ap_server_root_relative(cmd->pool, path);
    auth->from_htaccess = fcgix_cfg_in_htaccess(cmd);
    auth->vocab = FCGIX_VOCAB_FASTCGI;
    auth->command = NULL;
    auth->set_by = cmd->directive;
    return NULL;
}

/* Setting a flag twice to one value is harmless, so no set_by here; the
 * FastCgi names still get their meaning's contexts. */
const char *fcgix_cmd_authoritative(cmd_parms *cmd, void *dummy, int on)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)fcgix_cfg_dir(cmd) + (size_t)cmd->info);
    const char *err = NULL;

    (void)dummy;
    if (!strncasecmp(cmd->cmd->name, "FastCgi", 7)) {
        err = fcgix_vocab_loaded(FCGIX_VOCAB_FASTCGI)
                  ? fastcgi_auth_context(cmd)
                  : fcgix_fcgid_auth_context(cmd);
    }
    if (err) {
        return err;
    }
    auth->authoritative = on;
    return NULL;
}

static const char *cmd_chunked_body(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    fcgix_dir_conf_t *conf = fcgix_cfg_dir(cmd);
    int mode = fcgix_cfg_find_keyword(chunked_modes, arg);

    (void)dummy;
    if (mode < 0) {
        return fcgix_cfg_bad_value(cmd, arg,
                                   "not one of spool, stream, refuse");
    }
    conf->chunked_body = mode;
    return NULL;
}

/* A size in bytes: digits, then optionally K, M or G (powers of 1024).
 * 0 when @s is one, -1 otherwise or when it does not fit. */
int fcgix_cfg_parse_size(const char *s, apr_off_t *out)
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

static const char *cmd_spool_limit(cmd_parms *cmd, void *dummy, const char *arg)
{
    fcgix_dir_conf_t *conf = fcgix_cfg_dir(cmd);

    (void)dummy;
    if (fcgix_cfg_parse_size(arg, &conf->spool_limit) != 0) {
        return fcgix_cfg_bad_value(
            cmd, arg,
            "not a size in bytes (digits, optionally followed "
            "by K, M or G; 0 for no limit of its own)");
    }
    return NULL;
}

/* FastCgiSendfilePath DIR: repeatable; each adds to the directories
 * inherited from the enclosing scopes. */
static const char *cmd_sendfile_path(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    fcgix_dir_conf_t *conf = fcgix_cfg_dir(cmd);
    const char *dir, *why;

    (void)dummy;
    why = fcgix_sendfile_dir(cmd->pool, arg, &dir);
    if (why) {
        return fcgix_cfg_bad_value(cmd, arg, why);
    }
    if (conf->sendfile_dirs == NULL) {
        conf->sendfile_dirs = apr_array_make(cmd->pool, 2, sizeof(char *));
    }
    APR_ARRAY_PUSH(conf->sendfile_dirs, const char *) = dir;
    return NULL;
}

static const char *cmd_stderr_level(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);
    int level = fcgix_cfg_find_keyword(log_levels, arg);

    (void)dummy;
    if (level < 0) {
        return fcgix_cfg_bad_value(
            cmd, arg,
            "not a log level (emerg, alert, crit, error, warn, "
            "notice, info, debug)");
    }
    conf->stderr_level = level;
    return NULL;
}

/* Not in .htaccess: a tenant must not widen its own view. */
static const char *cmd_status_show_all(cmd_parms *cmd, void *dummy, int on)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);

    (void)dummy;
    conf->status_show_all = on;
    return NULL;
}

const char *fcgix_cmd_keep_conns(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    fcgix_cfg_srv(cmd)->keep_conns = on;
    return NULL;
}

#define APP_KIND(k) ((void *)(intptr_t)(k))

const command_rec fcgix_cmds[] = {
    AP_INIT_RAW_ARGS("FastCgiServer", fcgix_cmd_app, APP_KIND(FCGIX_APP_STATIC),
                     RSRC_CONF,
                     "path [-processes n] [-socket name] [-port n] "
                     "[-initial-env NAME[=value]] ...: a static app"),
    AP_INIT_RAW_ARGS("AppClass", fcgix_cmd_app, APP_KIND(FCGIX_APP_STATIC),
                     RSRC_CONF, "old name of FastCgiServer"),
    AP_INIT_RAW_ARGS("FastCgiExternalServer", fcgix_cmd_app,
                     APP_KIND(FCGIX_APP_EXTERNAL), RSRC_CONF,
                     "path (-host host:port | -socket path) "
                     "[-appConnTimeout s] [-idle-timeout s] "
                     "[-pass-header Name] [-flush] [-nph]: an app "
                     "started elsewhere"),
    AP_INIT_RAW_ARGS("ExternalAppClass", fcgix_cmd_app,
                     APP_KIND(FCGIX_APP_EXTERNAL), RSRC_CONF,
                     "old name of FastCgiExternalServer"),
    AP_INIT_RAW_ARGS("FastCgiConfig", fcgix_cmd_config, NULL, RSRC_CONF,
                     "[-maxProcesses n] [-maxClassProcesses n] ...: "
                     "defaults for dynamic apps"),
    AP_INIT_RAW_ARGS("FCGIConfig", fcgix_cmd_config, NULL, RSRC_CONF,
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
    AP_INIT_TAKE2("FastCgiFilter", fcgix_cmd_filter, NULL, RSRC_CONF,
                  "name app-path: an output filter that runs the app "
                  "(FastCgiServer or FastCgiExternalServer) in the FastCGI "
                  "FILTER role"),
    AP_INIT_TAKE1("FastCgiSendfilePath", cmd_sendfile_path, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "a directory whose files an app may have httpd serve "
                  "with an X-Sendfile header (repeatable)"),
    AP_INIT_TAKE1("FastCgiStderrLogLevel", cmd_stderr_level, NULL, RSRC_CONF,
                  "log level of the apps' stderr lines (default warn)"),
    AP_INIT_FLAG("FastCgiStatusShowAll", cmd_status_show_all, NULL, RSRC_CONF,
                 "On: the fastcgi-status page of this server shows every "
                 "virtual host's apps (default Off: only its own)"),
    AP_INIT_FLAG("FastCgiKeepConnections", fcgix_cmd_keep_conns, NULL,
                 RSRC_CONF, FCGIX_KEEP_CONNS_USAGE),
    AP_INIT_TAKE1("FastCgiMaxHostProcesses", fcgix_cmd_max_host, NULL,
                  RSRC_CONF,
                  "0-65535: dynamic processes started for one virtual "
                  "host's requests, at most (0: no cap)"),
    AP_INIT_TAKE1("FastCgiMaxUserProcesses", fcgix_cmd_max_user, NULL,
                  RSRC_CONF,
                  "0-65535: dynamic processes run through suexec as one "
                  "user, at most (0: no cap)"),
    FCGIX_FASTCGI_AUTH_DIRECTIVES,
    {NULL}};
