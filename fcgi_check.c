/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_check.c
 * @brief Whole-configuration checks, run by the check_config hook: after
 *        every directive was read (User and FastCgiWrapper are known),
 *        before httpd starts, and by `apachectl -t` too.
 *
 * Errors here are what one directive alone cannot see: an app file that
 * is missing or that httpd's User cannot run, a socket path longer than a
 * Unix socket may be, -user without a wrapper. Warnings name settings that
 * work but are risky. Every line names the directive and file:line.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr(), for the file name in a message */
#endif
#include <dlfcn.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "unixd.h"

#include "apr_hash.h"
#include "apr_strings.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fcgi_check.h"
#include "fcgi_config.h"
#include "fcgi_fcgid.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* What the PM appends to a socket name: ".g<generation>.<process>", at
 * most ".g99999.9999". */
#define SOCKET_SUFFIX_MAX 12
/* The longest name the module makes in the IPC directory: a hex MD5
 * socket prefix (32) with its suffix, or "g99999-dyn9999.9999". */
#define IPC_NAME_MAX (32 + SOCKET_SUFFIX_MAX)

static size_t sun_path_max(void)
{
    return sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
}

static const char *ipc_dir_of(apr_pool_t *p, const fcgix_srv_conf_t *sconf)
{
    return sconf->ipc_dir ? sconf->ipc_dir
                          : ap_runtime_dir_relative(p, "fastcgi");
}

/* The app file must be a regular file that the user the PM runs it as
 * may execute: httpd's User, unless a wrapper changes users. */
static const char *app_file_problem(apr_pool_t *p, const fcgix_app_t *app,
                                    int wrapped)
{
    struct stat st;
    mode_t bit;

    if (stat(app->path, &st) != 0) {
        return apr_psprintf(p, "cannot use the file: %s", strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return "is not a regular file";
    }
    if (wrapped) {
        return (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))
                   ? NULL
                   : "is not executable (chmod +x)";
    }
    bit = st.st_uid == ap_unixd_config.user_id    ? S_IXUSR
          : st.st_gid == ap_unixd_config.group_id ? S_IXGRP
                                                  : S_IXOTH;
    if (!(st.st_mode & bit)) {
        return apr_psprintf(p,
                            "is not executable by httpd's User %s "
                            "(mode %04o; chmod +x)",
                            ap_unixd_config.user_name,
                            (unsigned)(st.st_mode & 07777));
    }
    return NULL;
}

/* The longest socket path a static app gets. */
static size_t static_socket_len(const char *ipc_dir, const fcgix_app_t *app)
{
    if (app->socket_path && app->socket_path[0] == '/') {
        return strlen(app->socket_path) + SOCKET_SUFFIX_MAX;
    }
    return strlen(ipc_dir) + 1
           + (app->socket_path ? strlen(app->socket_path) + SOCKET_SUFFIX_MAX
                               : IPC_NAME_MAX);
}

static int error(server_rec *s, const fcgix_app_t *app, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                 FCGIX_LOGNO(00110) "FastCgiServer %s (%s): %s", app->path,
                 app->defined_at, what);
    return 1;
}

/* Errors of one FastCgiServer; @return how many. */
static int check_static(apr_pool_t *p, server_rec *s, const fcgix_app_t *app,
                        const char *ipc_dir, int wrapped)
{
    const char *problem = app_file_problem(p, app, wrapped);
    int errors = 0;

    if (problem) {
        errors += error(s, app, problem);
    }
    if (!app->port && static_socket_len(ipc_dir, app) > sun_path_max()) {
        errors +=
            error(s, app,
                  apr_psprintf(p,
                               "its socket path (in %s) would be longer than "
                               "a Unix socket path may be (%d bytes); use a "
                               "shorter -socket or FastCgiIpcDir",
                               app->socket_path && app->socket_path[0] == '/'
                                   ? app->socket_path
                                   : ipc_dir,
                               (int)sun_path_max()));
    }
    if (app->user && !wrapped) {
        errors += error(s, app,
                        "-user and -group need FastCgiWrapper (On or a "
                        "program): without one the app would run as "
                        "httpd's User");
    }
    if (app->port && fcgix_app_effective(&app->opts).max_requests > 0) {
        errors += error(s, app,
                        "-max-requests cannot be used with -port (its "
                        "processes share one socket)");
    }
    return errors;
}

/* Settings that work but that an admin should know about. */
static void warn_static(server_rec *s, const fcgix_app_t *app)
{
    if (app->port) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     FCGIX_LOGNO(00111) "FastCgiServer %s (%s): "
                                        "-port %d listens on TCP "
                                        "127.0.0.1:%d, which every "
                                        "local user can connect to; "
                                        "without -port the app gets a "
                                        "Unix socket only httpd can "
                                        "reach",
                     app->path, app->defined_at, app->port, app->port);
    }
}

static void warn_external(server_rec *s, const fcgix_app_t *app)
{
    if (app->host && strcmp(app->host, "127.0.0.1") != 0
        && strcmp(app->host, "::1") != 0
        && strcmp(app->host, "localhost") != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     FCGIX_LOGNO(00112) "FastCgiExternalServer %s "
                                        "(%s): -host %s:%d is not "
                                        "this machine; FastCGI has no "
                                        "authentication or "
                                        "encryption, so the network "
                                        "between must be trusted",
                     app->path, app->defined_at, app->host, app->port);
    }
}

/* The real mod_fcgid and this module's fcgid_module both claim mod_fcgid's
 * directives, its handler and FastCgiAuthenticator & co.: refuse to
 * start. The name "mod_fcgid.c" is ours too; the record's address tells
 * them apart (fcgix_is_our_record() compares with local aliases, which
 * the real module's exported fcgid_module cannot stand in for).
 *
 * It runs in pre_config, before any directive but LoadModule: loaded
 * after ours, mod_fcgid 2.3.9's own references to fcgid_module bind to
 * the one our .so exported first (it predates hidden visibility), so its
 * first Fcgid* directive would crash httpd. */
/* Whether the object that defines @m is another copy of this module (it
 * defines fastcgi_x_module too): that copy refuses itself (FCGIX00116). */
static int is_copy_of_ours(const char *file)
{
    void *h = dlopen(file, RTLD_LAZY | RTLD_NOLOAD);
    int ours = h && dlsym(h, "fastcgi_x_module") != NULL;

    if (h) {
        dlclose(h);
    }
    return ours;
}

int fcgix_refuse_real_fcgid(server_rec *s)
{
    module *m = ap_find_linked_module("mod_fcgid.c");
    Dl_info info;
    const char *file;

    if (m == NULL || fcgix_is_our_record(m)) {
        return 0;
    }
    file = dladdr(m, &info) && info.dli_fname ? info.dli_fname : "mod_fcgid.so";
    if (is_copy_of_ours(file)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                 FCGIX_LOGNO(00115) "mod_fcgid (%s) is loaded too; remove "
                                    "its line \"LoadModule fcgid_module "
                                    "%s\" (Debian: a2dismod fcgid). "
                                    "mod_fastcgi_x serves mod_fcgid's "
                                    "directives itself: LoadModule "
                                    "fcgid_module %s (Debian: a2enmod "
                                    "fcgid-x)",
                 file, file, fcgix_own_file());
    return 1;
}

int fcgix_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    fcgix_srv_conf_t *sconf = fcgix_srv_conf(s);
    const char *ipc_dir = ipc_dir_of(ptemp, sconf);
    int wrapped = sconf->wrapper_mode == FCGIX_WRAPPER_SUEXEC
                  || sconf->wrapper_mode == FCGIX_WRAPPER_PATH;
    apr_hash_index_t *hi;
    int errors = 0;

    (void)plog;
    errors += fcgix_fcgid_check_config(pconf, s);
    if (strlen(ipc_dir) + 1 + IPC_NAME_MAX > sun_path_max()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00113) "FastCgiIpcDir %s is too long: "
                                        "the socket paths in it would "
                                        "not fit the %d bytes of a "
                                        "Unix socket path",
                     ipc_dir, (int)sun_path_max());
        errors++;
    }
    for (hi = apr_hash_first(ptemp, fcgix_registry(pconf)); hi;
         hi = apr_hash_next(hi)) {
        const fcgix_app_t *app = apr_hash_this_val(hi);

        if (app->kind == FCGIX_APP_STATIC) {
            errors += check_static(ptemp, s, app, ipc_dir, wrapped);
            warn_static(s, app);
        }
        else if (app->kind == FCGIX_APP_EXTERNAL) {
            warn_external(s, app);
        }
    }
    return errors ? HTTP_INTERNAL_SERVER_ERROR : OK;
}
