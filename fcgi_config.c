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
#include "fcgi_lb.h"

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

/* The main server's configuration, for directives allowed only there;
 * *err says so when the directive stands in a virtual host. */
fcgix_srv_conf_t *fcgix_cfg_global(cmd_parms *cmd, const char **err)
{
    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return fcgix_srv_conf(cmd->server);
}

static const char *cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);

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

static const char *cmd_auth(cmd_parms *cmd, void *dummy, const char *path,
                            const char *opt1, const char *opt2)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)fcgix_cfg_dir(cmd) + (size_t)cmd->info);
    const char *err;

    auth->compat = 0;
    auth->provider_only = 0;
    if ((err = auth_option(cmd, auth, opt1)) != NULL
        || (err = auth_option(cmd, auth, opt2)) != NULL) {
        return err;
    }
    (void)dummy;
    auth->path = ap_server_root_relative(cmd->pool, path);
    auth->from_htaccess = fcgix_cfg_in_htaccess(cmd);
    return NULL;
}

static const char *cmd_authoritative(cmd_parms *cmd, void *dummy, int on)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)fcgix_cfg_dir(cmd) + (size_t)cmd->info);

    (void)dummy;
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

static const char *cmd_spool_limit(cmd_parms *cmd, void *dummy,
                                   const char *arg)
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

static const char *cmd_stderr_level(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    fcgix_srv_conf_t *conf =
        fcgix_srv_conf(cmd->server);
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
    fcgix_srv_conf_t *conf =
        fcgix_srv_conf(cmd->server);

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
