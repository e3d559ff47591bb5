/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid_config.c
 * @brief mod_fcgid 2.3.9's directives (the fcgid_module record's table),
 *        with mod_fcgid's arity and contexts, parsed into the core's
 *        configuration. docs/design/fcgid.md, section 2. The registry,
 *        merges and effective values are in fcgi_fcgid_opts.c.
 */

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"

#include "httpd.h"
#include "http_config.h"

#include "fcgi_config.h"
#include "fcgi_config_int.h"
#include "fcgi_fcgid.h"
#include "fcgi_fcgid_int.h"

/* Seconds are kept so that milliseconds still fit an int. */
#define SECONDS_MAX 2147483
#define COUNT_MAX 65535
#define NO_FIELD ((size_t)-1)

/* A numeric directive: its range, where it goes, its context. */
typedef struct {
    int lo, hi;
    size_t field; /* offset of an int (or apr_off_t) in fcgix_srv_conf_t,
                     or NO_FIELD: parsed and checked, no effect here */
    int global;   /* main server only */
    int size;     /* a size in bytes (K, M, G) */
} num_t;

#define SRV_FIELD(f) offsetof(fcgix_srv_conf_t, fcgid.f)

static const num_t n_busy_timeout = {0, SECONDS_MAX, SRV_FIELD(busy_timeout), 0,
                                     0};
static const num_t n_connect_timeout = {0, SECONDS_MAX,
                                        SRV_FIELD(opts.connect_timeout), 0, 0};
static const num_t n_idle_timeout = {0, SECONDS_MAX,
                                     SRV_FIELD(opts.idle_timeout), 0, 0};
static const num_t n_io_timeout = {1, SECONDS_MAX, SRV_FIELD(opts.io_timeout),
                                   0, 0};
static const num_t n_lifetime = {0, SECONDS_MAX, SRV_FIELD(opts.lifetime), 0,
                                 0};
static const num_t n_max_class = {1, COUNT_MAX,
                                  SRV_FIELD(opts.max_class_processes), 0, 0};
static const num_t n_min_class = {0, COUNT_MAX,
                                  SRV_FIELD(opts.min_class_processes), 0, 0};
static const num_t n_max_requests = {-1, INT_MAX, SRV_FIELD(opts.max_requests),
                                     0, 0};
static const num_t n_queue_timeout = {1, 3600, SRV_FIELD(queue_timeout), 0, 0};
static const num_t n_fix_pathinfo = {0, 1, SRV_FIELD(fix_pathinfo), 1, 0};
static const num_t n_max_request_len = {0, 0, SRV_FIELD(max_request_len), 0, 1};
static const num_t n_output_buffer = {0, INT_MAX, SRV_FIELD(output_buffer_size),
                                      0, 1};
static const num_t n_in_mem = {0, 0, NO_FIELD, 0, 1};
static const num_t n_interval = {0, SECONDS_MAX, NO_FIELD, 1, 0};
static const num_t n_score = {0, COUNT_MAX, NO_FIELD, 1, 0};
static const num_t n_signed_score = {-COUNT_MAX, COUNT_MAX, NO_FIELD, 1, 0};

static const char *parse_num(cmd_parms *cmd, const num_t *n, const char *arg,
                             char *at)
{
    apr_off_t size;
    const char *err;
    int v;

    if (!n->size) {
        if ((err = fcgix_cfg_parse_int(cmd, arg, n->lo, n->hi, &v)) != NULL) {
            return err;
        }
        if (cmd->info == &n_max_requests && v < 0) {
            v = 0; /* mod_fcgid: -1 means never, as 0 */
        }
        *(int *)at = v;
        return NULL;
    }
    if (fcgix_cfg_parse_size(arg, &size) != 0 || (n->hi && size > n->hi)) {
        return fcgix_cfg_bad_value(
            cmd, arg,
            n->hi ? "not a size in bytes from 0 to 2147483647 (digits, "
                    "optionally followed by K, M or G)"
                  : "not a size in bytes (digits, optionally followed by "
                    "K, M or G)");
    }
    if (n->hi) {
        *(int *)at = (int)size;
    }
    else {
        *(apr_off_t *)at = size;
    }
    return NULL;
}

/* Every numeric directive; cmd->info is its num_t. */
static const char *cmd_num(cmd_parms *cmd, void *dummy, const char *arg)
{
    const num_t *n = cmd->info;
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);
    const char *err = NULL;
    union {
        int i;
        apr_off_t o;
    } scratch;
    char *at;

    (void)dummy;
    if (n->global && (err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL) {
        return err;
    }
    at = n->field == NO_FIELD ? (char *)&scratch : (char *)conf + n->field;
    if ((err = parse_num(cmd, n, arg, at)) != NULL) {
        return err;
    }
    if (n->field == NO_FIELD
        || (n == &n_output_buffer && conf->fcgid.output_buffer_size != 0)) {
        fcgix_fcgid_no_effect(cmd);
    }
    return NULL;
}

/* FcgidMaxProcesses: the PM's limit, FastCgiConfig -maxProcesses (both
 * given differently: FCGIX00119 in check_config). */
static const char *cmd_max_processes(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    const char *err;
    fcgix_srv_conf_t *conf = fcgix_cfg_global(cmd, &err);

    (void)dummy;
    if (err
        || (err = fcgix_cfg_parse_int(cmd, arg, 1, COUNT_MAX,
                                      &conf->fcgid.max_processes))) {
        return err;
    }
    conf->fcgid.max_processes_at = fcgix_cfg_where(cmd);
    return NULL;
}

static const char *cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return fcgix_cfg_set_ipc_dir(cmd, arg, FCGIX_VOCAB_FCGID);
}

/* FcgidProcessTableFile: checked as a path, no effect (the board is
 * anonymous shared memory). */
static const char *cmd_table_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err) {
        return err;
    }
    if (!*arg || ap_server_root_relative(cmd->pool, arg) == NULL) {
        return fcgix_cfg_bad_value(cmd, arg, "not a valid path");
    }
    fcgix_fcgid_no_effect(cmd);
    return NULL;
}

static const char *cmd_win32_orphans(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    (void)on;
    if (err == NULL) {
        fcgix_fcgid_no_effect(cmd);
    }
    return err;
}

/* FcgidInitialEnv name [value]: a missing value is the empty string. */
static const char *cmd_initial_env(cmd_parms *cmd, void *dummy,
                                   const char *name, const char *value)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);

    (void)dummy;
    if (!*name || strchr(name, '=')) {
        return fcgix_cfg_bad_value(cmd, name,
                                   "not a variable name (no '=', not empty)");
    }
    if (conf->fcgid.opts.initial_env == NULL) {
        conf->fcgid.opts.initial_env = apr_table_make(cmd->pool, 8);
    }
    apr_table_set(conf->fcgid.opts.initial_env, name, value ? value : "");
    return NULL;
}

static const char *cmd_pass_header(cmd_parms *cmd, void *dummy,
                                   const char *name)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);

    (void)dummy;
    if (!*name || strpbrk(name, " \t:")) {
        return fcgix_cfg_bad_value(cmd, name, "not a header name");
    }
    if (conf->fcgid.pass_headers == NULL) {
        conf->fcgid.pass_headers =
            apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->fcgid.pass_headers, const char *) = name;
    return NULL;
}

/* The suffix and "virtual" of FcgidWrapper command [suffix] [virtual]
 * (mod_fcgid's rules). */
static const char *wrapper_args(cmd_parms *cmd, const char *a2, const char *a3,
                                const char **suffix, int *is_virtual)
{
    *suffix = "";
    *is_virtual = 0;
    if (a2 && !a3 && !strcasecmp(a2, "virtual")) {
        *is_virtual = 1;
        return NULL;
    }
    if (a3) {
        if (strcasecmp(a3, "virtual")) {
            return apr_psprintf(cmd->pool,
                                "%s: the third argument, '%s', may only be "
                                "'virtual'",
                                cmd->cmd->name, a3);
        }
        *is_virtual = 1;
    }
    if (a2) {
        if (a2[0] != '.' || !a2[1] || strpbrk(a2, "/\\")) {
            return fcgix_cfg_bad_value(cmd, a2,
                                       "not a suffix ('.' and at least one "
                                       "more character, no '/' or '\\')");
        }
        *suffix = a2;
    }
    return NULL;
}

/* One wrapper per suffix per section: a second line for the same suffix
 * replaces the first; a section's entries overlay its parent's. */
static const char *cmd_wrapper(cmd_parms *cmd, void *dummy, const char *line,
                               const char *a2, const char *a3)
{
    fcgix_dir_conf_t *d = fcgix_cfg_dir(cmd);
    fcgix_fcgid_wrapper_t *w;
    const fcgix_command_t *c;
    const char *err, *suffix;
    int is_virtual;

    (void)dummy;
    if ((err = wrapper_args(cmd, a2, a3, &suffix, &is_virtual)) != NULL
        || (err = fcgix_fcgid_command_get(cmd, line, &c)) != NULL) {
        return err;
    }
    w = apr_pcalloc(cmd->pool, sizeof(*w));
    w->command = c;
    w->is_virtual = is_virtual;
    w->suffix = suffix;
    w->defined_at = fcgix_cfg_where(cmd);
    if (d->fcgid.wrappers == NULL) {
        d->fcgid.wrappers = apr_hash_make(cmd->pool);
    }
    apr_hash_set(d->fcgid.wrappers, suffix, APR_HASH_KEY_STRING, w);
    return NULL;
}

static const char *cmd_htaccess_command(cmd_parms *cmd, void *dummy,
                                        const char *line)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const fcgix_command_t *c;

    (void)dummy;
    return err ? err : fcgix_fcgid_command_get(cmd, line, &c);
}

/* FcgidCmdOptions' options: a name and a number, or InitialEnv. */
typedef struct {
    const char *name;
    size_t field; /* in fcgix_fcgid_opts_t; NO_FIELD: InitialEnv */
    int lo, hi;
} cmd_option_t;

#define OPT_FIELD(f) offsetof(fcgix_fcgid_opts_t, f)

static const cmd_option_t cmd_options[] = {
    {"ConnectTimeout", OPT_FIELD(connect_timeout), 0, SECONDS_MAX},
    {"IdleTimeout", OPT_FIELD(idle_timeout), 0, SECONDS_MAX},
    {"InitialEnv", NO_FIELD, 0, 0},
    {"IOTimeout", OPT_FIELD(io_timeout), 1, SECONDS_MAX},
    {"MaxProcesses", OPT_FIELD(max_class_processes), 1, COUNT_MAX},
    {"MaxProcessLifetime", OPT_FIELD(lifetime), 0, SECONDS_MAX},
    {"MaxRequestsPerProcess", OPT_FIELD(max_requests), -1, INT_MAX},
    {"MinProcesses", OPT_FIELD(min_class_processes), 0, COUNT_MAX},
    {NULL, 0, 0, 0}};

#define CMD_OPTION_NAMES                                                       \
    "ConnectTimeout, IdleTimeout, InitialEnv, IOTimeout, MaxProcesses, "       \
    "MaxProcessLifetime, MaxRequestsPerProcess, MinProcesses"

static void initial_env(apr_pool_t *p, fcgix_fcgid_opts_t *o, const char *arg)
{
    const char *eq = strchr(arg, '=');

    if (o->initial_env == NULL) {
        o->initial_env = apr_table_make(p, 4);
    }
    apr_table_set(o->initial_env,
                  eq ? apr_pstrmemdup(p, arg, (apr_size_t)(eq - arg)) : arg,
                  eq ? eq + 1 : "");
}

/* One "Name value" of FcgidCmdOptions. */
static const char *cmd_option(cmd_parms *cmd, fcgix_fcgid_opts_t *o,
                              const char *name, const char *value)
{
    const cmd_option_t *opt;
    const char *err;
    int v;

    for (opt = cmd_options; opt->name; opt++) {
        if (!strcasecmp(opt->name, name)) {
            break;
        }
    }
    if (opt->name == NULL) {
        return apr_psprintf(cmd->pool, "%s: unknown option '%s'; valid: %s",
                            cmd->cmd->name, name, CMD_OPTION_NAMES);
    }
    if (!*value) {
        return apr_psprintf(cmd->pool, "%s: %s needs a value", cmd->cmd->name,
                            opt->name);
    }
    if (opt->field == NO_FIELD) {
        if (*value == '=') {
            return fcgix_cfg_bad_value(cmd, value, "not NAME[=value]");
        }
        initial_env(cmd->pool, o, value);
        return NULL;
    }
    err = fcgix_cfg_parse_int(cmd, value, opt->lo, opt->hi, &v);
    if (err) {
        return apr_psprintf(cmd->pool, "%s (option %s)", err, opt->name);
    }
    *(int *)((char *)o + opt->field) = v < 0 ? 0 : v;
    return NULL;
}

/* FcgidCmdOptions command option [option ...]: the command's own class
 * options, keyed by its resolved path; the last line for a command in a
 * server wins. */
static const char *cmd_cmd_options(cmd_parms *cmd, void *dummy,
                                   const char *args)
{
    fcgix_srv_conf_t *conf = fcgix_cfg_srv(cmd);
    const char *line = ap_getword_conf(cmd->pool, &args);
    const fcgix_command_t *c;
    fcgix_fcgid_opts_t *o;
    const char *name, *err;
    int n = 0;

    (void)dummy;
    if (!*line) {
        return apr_psprintf(cmd->pool, "%s: needs a command and options",
                            cmd->cmd->name);
    }
    if ((err = fcgix_fcgid_command_get(cmd, line, &c)) != NULL) {
        return err;
    }
    o = apr_pcalloc(cmd->pool, sizeof(*o));
    fcgix_fcgid_opts_unset(o);
    o->defined_at = fcgix_cfg_where(cmd);
    while (*(name = ap_getword_conf(cmd->pool, &args))) {
        err = cmd_option(cmd, o, name, ap_getword_conf(cmd->pool, &args));
        if (err) {
            return err;
        }
        n++;
    }
    if (n == 0) {
        return apr_psprintf(cmd->pool, "%s %s: no option given; valid: %s",
                            cmd->cmd->name, line, CMD_OPTION_NAMES);
    }
    if (conf->fcgid.cmd_options == NULL) {
        conf->fcgid.cmd_options = apr_hash_make(cmd->pool);
    }
    apr_hash_set(conf->fcgid.cmd_options, c->path, APR_HASH_KEY_STRING, o);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The authorizer trio in mod_fcgid's meaning                          */
/* ------------------------------------------------------------------ */

const char *fcgix_fcgid_auth_context(cmd_parms *cmd)
{
    if (fcgix_cfg_in_htaccess(cmd) && !(cmd->override & OR_FILEINFO)) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " not allowed here",
                           NULL);
    }
    return NULL;
}

const char *fcgix_fcgid_auth_set(cmd_parms *cmd, fcgix_auth_conf_t *auth,
                                 const char *line)
{
    const fcgix_command_t *c;
    const char *err;

    if ((err = fcgix_fcgid_auth_context(cmd)) != NULL
        || (err = fcgix_fcgid_command_get(cmd, line, &c)) != NULL) {
        return err;
    }
    auth->path = c->path;
    auth->command = c;
    auth->vocab = FCGIX_VOCAB_FCGID;
    auth->compat = 1; /* only Variable-* headers pass, as mod_fcgid */
    auth->provider_only = 0;
    auth->from_htaccess = fcgix_cfg_in_htaccess(cmd);
    auth->set_by = cmd->directive;
    return NULL;
}

/* FcgidAuthenticator, FcgidAuthorizer, FcgidAccessChecker: cmd->info is
 * the slot's offset in the directory config. */
static const char *cmd_fcgid_auth(cmd_parms *cmd, void *dummy, const char *line)
{
    fcgix_auth_conf_t *auth =
        (fcgix_auth_conf_t *)((char *)fcgix_cfg_dir(cmd) + (size_t)cmd->info);

    (void)dummy;
    return fcgix_fcgid_auth_set(cmd, auth, line);
}

/* ------------------------------------------------------------------ */
/* The table: every mod_fcgid 2.3.9 name and its pre-2.3.6 name        */
/* ------------------------------------------------------------------ */

#define NUM(name, spec, usage)                                                 \
    AP_INIT_TAKE1(name, cmd_num, (void *)&(spec), RSRC_CONF, usage)
/* A directive and its old name, one handler. */
#define TWO(macro, name, old, spec, usage)                                     \
    macro(name, spec, usage), macro(old, spec, "old name of " name)
#define FCGID_AUTH(name, field, usage)                                         \
    AP_INIT_TAKE1(name, cmd_fcgid_auth, FCGIX_AUTH_OFFSET(field),              \
                  ACCESS_CONF | OR_FILEINFO, usage),                           \
        AP_INIT_FLAG(name "Authoritative", fcgix_cmd_authoritative,            \
                     FCGIX_AUTH_OFFSET(field), ACCESS_CONF | OR_FILEINFO,      \
                     "Off lets other modules decide when the app denies")
#define NOEFFECT " (no effect here)"

const command_rec fcgix_fcgid_cmds[] = {
    FCGID_AUTH("FcgidAccessChecker", access_checker,
               "a command line: the access-check app"),
    FCGID_AUTH("FcgidAuthenticator", authenticator,
               "a command line: the authentication app"),
    FCGID_AUTH("FcgidAuthorizer", authorizer,
               "a command line: the authorization app"),
    FCGIX_FASTCGI_AUTH_DIRECTIVES,
    TWO(NUM, "FcgidBusyScanInterval", "BusyScanInterval", n_interval,
        "seconds" NOEFFECT),
    TWO(NUM, "FcgidBusyTimeout", "BusyTimeout", n_busy_timeout,
        "seconds a request's exchange may last (default 300)"),
    AP_INIT_RAW_ARGS("FcgidCmdOptions", cmd_cmd_options, NULL, RSRC_CONF,
                     "command option [option ...]: the command's class "
                     "options"),
    TWO(NUM, "FcgidConnectTimeout", "IPCConnectTimeout", n_connect_timeout,
        "seconds to connect to an app (default 3)"),
    TWO(NUM, "FcgidErrorScanInterval", "ErrorScanInterval", n_interval,
        "seconds" NOEFFECT),
    TWO(NUM, "FcgidFixPathinfo", "PHP_Fix_Pathinfo_Enable", n_fix_pathinfo,
        "1: SCRIPT_NAME = DOCUMENT_ROOT + SCRIPT_NAME (cgi.fix_pathinfo=1)"),
    TWO(NUM, "FcgidIdleScanInterval", "IdleScanInterval", n_interval,
        "seconds" NOEFFECT),
    TWO(NUM, "FcgidIdleTimeout", "IdleTimeout", n_idle_timeout,
        "seconds an idle process lives (0: ever; default 300)"),
    AP_INIT_TAKE12("FcgidInitialEnv", cmd_initial_env, NULL, RSRC_CONF,
                   "name [value]: the apps' environment"),
    AP_INIT_TAKE12("DefaultInitEnv", cmd_initial_env, NULL, RSRC_CONF,
                   "old name of FcgidInitialEnv"),
    TWO(NUM, "FcgidIOTimeout", "IPCCommTimeout", n_io_timeout,
        "seconds an app may be silent (default 40)"),
    AP_INIT_TAKE1("FcgidIPCDir", cmd_ipc_dir, NULL, RSRC_CONF,
                  "directory for the apps' sockets (FastCgiIpcDir)"),
    AP_INIT_TAKE1("SocketPath", cmd_ipc_dir, NULL, RSRC_CONF,
                  "old name of FcgidIPCDir"),
    AP_INIT_TAKE1("FcgidMaxProcesses", cmd_max_processes, NULL, RSRC_CONF,
                  "processes in all (default 1000)"),
    AP_INIT_TAKE1("MaxProcessCount", cmd_max_processes, NULL, RSRC_CONF,
                  "old name of FcgidMaxProcesses"),
    TWO(NUM, "FcgidMaxProcessesPerClass", "DefaultMaxClassProcessCount",
        n_max_class, "processes per class (default 100)"),
    TWO(NUM, "FcgidMaxRequestInMem", "MaxRequestInMem", n_in_mem,
        "bytes" NOEFFECT),
    TWO(NUM, "FcgidMaxRequestLen", "MaxRequestLen", n_max_request_len,
        "bytes a request body may have, 413 above (default 131072)"),
    TWO(NUM, "FcgidMaxRequestsPerProcess", "MaxRequestsPerProcess",
        n_max_requests, "requests before a process is replaced (0: never)"),
    TWO(NUM, "FcgidMinProcessesPerClass", "DefaultMinClassProcessCount",
        n_min_class, "processes idle stops keep per class (default 3)"),
    TWO(NUM, "FcgidOutputBufferSize", "OutputBufferSize", n_output_buffer,
        "bytes; 0: flush every read (other values: no effect here)"),
    AP_INIT_TAKE1("FcgidPassHeader", cmd_pass_header, NULL, RSRC_CONF,
                  "a request header passed to the apps"),
    AP_INIT_TAKE1("PassHeader", cmd_pass_header, NULL, RSRC_CONF,
                  "old name of FcgidPassHeader"),
    TWO(NUM, "FcgidProcessLifeTime", "ProcessLifeTime", n_lifetime,
        "seconds an idle process may live in all (0: ever; default 3600)"),
    AP_INIT_TAKE1("FcgidProcessTableFile", cmd_table_file, NULL, RSRC_CONF,
                  "file" NOEFFECT),
    AP_INIT_TAKE1("SharememPath", cmd_table_file, NULL, RSRC_CONF,
                  "old name of FcgidProcessTableFile"),
    TWO(NUM, "FcgidSpawnScore", "SpawnScore", n_score, "n" NOEFFECT),
    TWO(NUM, "FcgidSpawnScoreUpLimit", "SpawnScoreUpLimit", n_score,
        "n" NOEFFECT),
    TWO(NUM, "FcgidTerminationScore", "TerminationScore", n_signed_score,
        "n" NOEFFECT),
    TWO(NUM, "FcgidTimeScore", "TimeScore", n_score, "n" NOEFFECT),
    AP_INIT_FLAG("FcgidWin32PreventOrphans", cmd_win32_orphans, NULL, RSRC_CONF,
                 "On|Off" NOEFFECT),
    AP_INIT_TAKE123("FcgidWrapper", cmd_wrapper, NULL,
                    ACCESS_CONF | OR_FILEINFO,
                    "command [suffix] [virtual]: run scripts through it"),
    AP_INIT_TAKE123("FCGIWrapper", cmd_wrapper, NULL, ACCESS_CONF | OR_FILEINFO,
                    "old name of FcgidWrapper"),
    TWO(NUM, "FcgidZombieScanInterval", "ZombieScanInterval", n_interval,
        "seconds" NOEFFECT),
    AP_INIT_FLAG("FcgidKeepConnections", fcgix_cmd_keep_conns, NULL, RSRC_CONF,
                 FCGIX_KEEP_CONNS_USAGE),
    AP_INIT_TAKE1("FcgidMaxProcessesPerVhost", fcgix_cmd_max_host, NULL,
                  RSRC_CONF,
                  "0-65535: dynamic processes started for one virtual "
                  "host's requests, at most (0: no cap)"),
    AP_INIT_TAKE1("FcgidMaxProcessesPerUser", fcgix_cmd_max_user, NULL,
                  RSRC_CONF,
                  "0-65535: dynamic processes run through suexec as one "
                  "user, at most (0: no cap)"),
    NUM("FcgidQueueTimeout", n_queue_timeout,
        "1-3600: seconds a request waits for a process (default 60)"),
    AP_INIT_TAKE1("FcgidHtaccessCommand", cmd_htaccess_command, NULL, RSRC_CONF,
                  "a command line .htaccess may name in FcgidWrapper or "
                  "the authorizer directives"),
    {NULL}};
