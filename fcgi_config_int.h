/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config_int.h
 * @brief What the configuration's two files share: fcgi_config.c (create,
 *        merge, the simple directives, the directive table) and
 *        fcgi_config_app.c (the app directives and their options).
 */

#ifndef FCGIX_CONFIG_INT_H
#define FCGIX_CONFIG_INT_H

#include "httpd.h"
#include "http_config.h"

#include <stddef.h>

#include "fcgi_config.h"

/* One word a directive takes, and what it stands for. */
typedef struct {
    const char *word; /* NULL ends a table */
    int value;        /* >= 0 */
} fcgix_cfg_keyword_t;

/** The value of @a arg among @a words (case-insensitive), or -1. */
int fcgix_cfg_find_keyword(const fcgix_cfg_keyword_t *words, const char *arg);

/** The error for a directive's argument that is none of those allowed:
 *  "Directive: 'arg' is <what>". */
const char *fcgix_cfg_bad_value(cmd_parms *cmd, const char *arg,
                                const char *what);

/** The main server's configuration, for directives allowed only there;
 *  @a err says so when the directive stands in a virtual host. */
fcgix_srv_conf_t *fcgix_cfg_global(cmd_parms *cmd, const char **err);

/** A size in bytes: digits, then optionally K, M or G (powers of 1024).
 *  @return 0 and *out set, or -1 when @a s is not one or does not fit */
int fcgix_cfg_parse_size(const char *s, apr_off_t *out);

/** "file:line" of the directive being read. */
const char *fcgix_cfg_where(cmd_parms *cmd);

/** A FastCgiConfig with every field unset and no place. */
fcgix_dynamic_conf_t *fcgix_cfg_dynamic_new(apr_pool_t *p);

/** A whole number from @a lo to @a hi (digits, an optional leading '-').
 *  @return NULL and *out set, or the error naming the directive, the
 *          value and the range */
const char *fcgix_cfg_parse_int(cmd_parms *cmd, const char *arg, int lo, int hi,
                                int *out);

/** FastCgiIpcDir and FcgidIPCDir (@a vocab: whose): sets the core's
 *  ipc_dir; a different directory from the other vocabulary's directive
 *  is an error naming both (FCGIX00118). */
const char *fcgix_cfg_set_ipc_dir(cmd_parms *cmd, const char *arg, int vocab);

/** FastCgiKeepConnections = FcgidKeepConnections (main server only). */
const char *fcgix_cmd_keep_conns(cmd_parms *cmd, void *dummy, int on);
#define FCGIX_KEEP_CONNS_USAGE                                                 \
    "On (default): an httpd process keeps its connection to an app "           \
    "process run by the process manager for its next request there; Off: "     \
    "one connection per request"

/** FastCgiMaxHostProcesses = FcgidMaxProcessesPerVhost. */
const char *fcgix_cmd_max_host(cmd_parms *cmd, void *dummy, const char *arg);

/** FastCgiMaxUserProcesses = FcgidMaxProcessesPerUser (main server). */
const char *fcgix_cmd_max_user(cmd_parms *cmd, void *dummy, const char *arg);

/** FastCgiAuthenticator, ...Authorizer, ...AccessChecker, in both
 *  records' tables (cmd->info: the fcgix_auth_conf_t's offset in the
 *  directory config). */
const char *fcgix_cmd_auth(cmd_parms *cmd, void *dummy, const char *path,
                           const char *opt1, const char *opt2);

/** Their ...Authoritative flags, and the Fcgid ones. */
const char *fcgix_cmd_authoritative(cmd_parms *cmd, void *dummy, int on);

#define FCGIX_AUTH_OFFSET(f) ((void *)offsetof(fcgix_dir_conf_t, f))

/** FastCgiAuthenticator & co. with their ...Authoritative switch: one
 *  handler and one mask in both records' tables (docs/design/fcgid.md
 *  2.5); the handler refuses the contexts its meaning does not allow. */
#define FCGIX_AUTH_DIRECTIVES(name, field, usage, off_usage)                   \
    AP_INIT_TAKE123(name, fcgix_cmd_auth, FCGIX_AUTH_OFFSET(field),            \
                    ACCESS_CONF | OR_AUTHCFG | OR_FILEINFO, usage),            \
        AP_INIT_FLAG(name "Authoritative", fcgix_cmd_authoritative,            \
                     FCGIX_AUTH_OFFSET(field),                                 \
                     ACCESS_CONF | OR_AUTHCFG | OR_FILEINFO, off_usage)

/** The three of them, as both tables list them. */
#define FCGIX_FASTCGI_AUTH_DIRECTIVES                                          \
    FCGIX_AUTH_DIRECTIVES(                                                     \
        "FastCgiAuthenticator", authenticator,                                 \
        "path [-compat] [-provider]: app for the authentication phase "        \
        "(-provider: only as AuthBasicProvider fastcgi); with only "           \
        "fcgid_module loaded, mod_fcgid's: a command line",                    \
        "Off lets other modules authenticate when the app denies"),            \
        FCGIX_AUTH_DIRECTIVES(                                                 \
            "FastCgiAuthorizer", authorizer,                                   \
            "path [-compat] [-provider]: app for the authorization phase "     \
            "(-provider: only as Require fastcgi-authorizer); with only "      \
            "fcgid_module loaded, mod_fcgid's: a command line",                \
            "Off lets other modules authorize when the app denies"),           \
        FCGIX_AUTH_DIRECTIVES(                                                 \
            "FastCgiAccessChecker", access_checker,                            \
            "path [-compat]: app for the access-check phase; with only "       \
            "fcgid_module loaded, mod_fcgid's: a command line",                \
            "Off lets other modules decide when the app denies")

/** Every option of @a o unset. */
void fcgix_cfg_opts_unset(fcgix_app_opts_t *o);

/** FastCgiServer and FastCgiExternalServer (cmd->info: the app's kind). */
const char *fcgix_cmd_app(cmd_parms *cmd, void *dummy, const char *args);

/** FastCgiConfig. */
const char *fcgix_cmd_config(cmd_parms *cmd, void *dummy, const char *args);

#endif /* FCGIX_CONFIG_INT_H */
