/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid.c
 * @brief The fcgid-script request: mod_fcgid's checks, its wrapper
 *        lookup and its process class (script or wrapper command, virtual
 *        host, suexec identity), then the same lease and exchange as every
 *        PM-run app. docs/design/fcgid.md, section 6.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "unixd.h"

#include "apr_strings.h"

#include <string.h>

#include "fcgi_config.h"
#include "fcgi_fcgid.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"
#include "fcgi_stats.h"

FCGIX_USE_LOG_MODULE;

/* Like mod_cgi and mod_fcgid: Options ExecCGI, or a ScriptAlias. */
static int may_execute(request_rec *r)
{
    const char *forced = apr_table_get(r->notes, "alias-forced-type");

    return (ap_allow_options(r) & OPT_EXECCGI)
           || (forced && strcmp(forced, "cgi-script") == 0);
}

/* What mod_fcgid refuses before looking for a process. */
static int check_request(request_rec *r, const fcgix_fcgid_wrapper_t *w)
{
    if (!may_execute(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00900) "%s: Options ExecCGI is off in this "
                                         "directory; not running it through "
                                         "fcgid-script",
                      r->filename);
        return HTTP_FORBIDDEN;
    }
    if (r->used_path_info == AP_REQ_REJECT_PATH_INFO && r->path_info
        && *r->path_info) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00903) "%s: path info %s refused "
                                         "(AcceptPathInfo Off)",
                      r->filename, r->path_info);
        return HTTP_NOT_FOUND;
    }
    if (w && w->is_virtual) {
        return OK; /* the wrapper serves URLs that are no file */
    }
    if (r->finfo.filetype == APR_NOFILE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00901) "%s: no such script", r->filename);
        return HTTP_NOT_FOUND;
    }
    if (r->finfo.filetype == APR_DIR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00902) "%s: a directory; fcgid-script "
                                         "runs files",
                      r->filename);
        return HTTP_FORBIDDEN;
    }
    return OK;
}

/* The request's identity under suexec (SuexecUserGroup, mod_userdir), as
 * mod_fcgid takes it: only when httpd's suexec is usable. */
static void set_identity(request_rec *r, fcgix_class_req_t *cr)
{
    ap_unix_identity_t *id = NULL;

    if (ap_unixd_config.suexec_enabled) {
        id = ap_run_get_suexec_identity(r);
    }
    cr->has_identity = id != NULL;
    if (id) {
        cr->uid = (long)id->uid;
        cr->gid = (long)id->gid;
        cr->userdir = id->userdir;
    }
}

/* The exchange's options for the class of @cr: the server's Fcgid*
 * values, FcgidCmdOptions' timeouts for a command that has them; its
 * statistics row is the class's: path, virtual host and identity. */
static const fcgix_app_t *exchange_app(request_rec *r,
                                       const fcgix_srv_conf_t *sconf,
                                       const fcgix_class_req_t *cr)
{
    fcgix_app_t *app = apr_pcalloc(r->pool, sizeof(*app));
    const char *path = cr->path;

    app->kind = FCGIX_APP_DYNAMIC;
    app->path = path;
    app->defined_at = "fcgid-script";
    app->stats_label = fcgix_stats_label(
        r->pool, path, fcgix_stats_host_name(r->pool, r->server),
        cr->has_identity ? cr->uid : -1);
    app->board_class = -1;
    fcgix_fcgid_app_opts(r->pool, sconf, path, &app->opts);
    return app;
}

/* Over FcgidMaxRequestLen by its Content-Length: refused before a
 * process is taken (mod_fcgid read it and answered 500). A chunked body
 * is counted while it is spooled (fcgi_body.c). */
static int body_too_long(request_rec *r, const fcgix_app_t *app)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t len;
    char *end;

    if (app->opts.max_body < 0 || cl == NULL
        || apr_strtoff(&len, cl, &end, 10) != APR_SUCCESS || *end
        || len <= app->opts.max_body) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  FCGIX_LOGNO(00904) "%s: request body of %s bytes is over "
                                     "FcgidMaxRequestLen (%" APR_OFF_T_FMT ")",
                  r->filename, cl, app->opts.max_body);
    return 1;
}

/* The class of @r's request for the process at @path, started from
 * command @cmd (NULL: the script itself). */
static void class_request(request_rec *r, const fcgix_command_t *cmd,
                          fcgix_class_req_t *cr)
{
    const fcgix_srv_conf_t *sconf = fcgix_srv_conf(r->server);

    memset(cr, 0, sizeof(*cr));
    cr->vocab = FCGIX_VOCAB_FCGID;
    cr->tenant = (unsigned)sconf->tenant + 1;
    cr->cmd = cmd ? (unsigned)cmd->index + 1 : 0;
    cr->path = cmd ? cmd->path : r->filename;
    set_identity(r, cr);
    cr->app = exchange_app(r, sconf, cr);
    cr->exclusive = 1;
    cr->wait_ms = fcgix_fcgid_queue_timeout(sconf) * 1000;
    cr->tenant_wait_max = fcgix_fcgid_max_host_processes(sconf);
}

int fcgix_fcgid_authorize(request_rec *r, const fcgix_command_t *cmd,
                          fcgix_auth_call_t *call, fcgix_auth_reply_t *reply)
{
    fcgix_class_req_t cr;

    class_request(r, cmd, &cr);
    call->script = cmd->path;
    return fcgix_managed_authorize_class(r, &cr, call, reply);
}

int fcgix_fcgid_serve(request_rec *r)
{
    const fcgix_fcgid_wrapper_t *w =
        fcgix_fcgid_wrapper_for(fcgix_dir_conf(r->per_dir_config), r->filename);
    fcgix_class_req_t cr;
    int status = check_request(r, w);

    if (status != OK) {
        return status;
    }
    class_request(r, w ? w->command : NULL, &cr);
    if (body_too_long(r, cr.app)) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    return fcgix_managed_serve_class(r, &cr);
}
