/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_authz.c
 * @brief The AUTHORIZER role: FastCgiAuthenticator, FastCgiAuthorizer and
 *        FastCgiAccessChecker as phase hooks, and the providers
 *        "AuthBasicProvider fastcgi" and "Require fastcgi-authorizer".
 *
 * The exchange with the app is fcgix_authorize() (fcgi_handler.c) or,
 * for a PM-run app, fcgix_managed_authorize() (fcgi_managed.c); here is
 * which app is asked in which phase and what its answer does.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "ap_provider.h"
#include "mod_auth.h"

#include "apr_tables.h"

#include "fcgi_authz.h"
#include "fcgi_balance.h"
#include "fcgi_config.h"
#include "fcgi_fcgid.h"
#include "fcgi_handler.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"

FCGIX_USE_LOG_MODULE;

/* The glue's look-up of a defined app by path. */
static fcgix_app_find_fn *find_app;

/* Ask the authorizer app configured by @auth. In .htaccess only an app
 * the server config defines may be named: never an arbitrary file. */
static int ask_authorizer(request_rec *r, const fcgix_auth_conf_t *auth,
                          const char *directive, fcgix_auth_call_t *call,
                          fcgix_auth_reply_t *reply)
{
    const fcgix_app_t *app = find_app(auth->path);

    if (auth->vocab == FCGIX_VOCAB_FCGID && auth->command) {
        /* mod_fcgid's meaning: a command line the server configuration
         * names (checked when .htaccess was read), run as its own class */
        return fcgix_fcgid_authorize(r, auth->command, call, reply);
    }
    call->script = auth->path;
    if (app && app->kind == FCGIX_APP_EXTERNAL) {
        return fcgix_balance_is(app)
                   ? fcgix_balance_authorize(r, app, call, reply)
                   : fcgix_authorize(r, app, call, reply, NULL);
    }
    if (app && app->kind == FCGIX_APP_STATIC) {
        return fcgix_managed_authorize(r, app, auth->path, call, reply);
    }
    if (auth->from_htaccess) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00093) "%s %s (in .htaccess) is not a "
                                         "FastCgiServer or "
                                         "FastCgiExternalServer app; "
                                         ".htaccess may only name those: "
                                         "denying",
                      directive, auth->path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return fcgix_managed_authorize(r, NULL, auth->path, call, reply);
}

/* The app said no: its status, headers and body go to the client (a
 * subrequest only returns the status). */
static int send_denial(request_rec *r, const fcgix_auth_reply_t *reply)
{
    const char *type = apr_table_get(reply->headers, "Content-Type");

    apr_table_unset(reply->headers, "Content-Type");
    apr_table_unset(reply->headers, "Content-Length");
    apr_table_unset(reply->headers, "Transfer-Encoding");
    apr_table_overlap(r->err_headers_out, reply->headers,
                      APR_OVERLAP_TABLES_SET);
    if (reply->status == HTTP_UNAUTHORIZED && ap_auth_type(r)
        && !apr_table_get(r->err_headers_out, "WWW-Authenticate")) {
        ap_note_auth_failure(r); /* a 401 must carry a challenge */
    }
    if (reply->body_len == 0 || r->main) {
        return reply->status;
    }
    r->status = reply->status;
    ap_set_content_type(r, type ? type : "text/html");
    ap_rwrite(reply->body, (int)reply->body_len, r);
    return DONE; /* the response is sent */
}

/* A 200: Variable-NAME: value becomes NAME for the rest of the request
 * (the responder, mod_rewrite, the logs). Without -compat, as
 * mod_fastcgi did, the other headers of the 200 too; with it, only the
 * Variable-* ones (the FastCGI spec). */
static void pass_variables(request_rec *r, const fcgix_auth_conf_t *auth,
                           const fcgix_auth_reply_t *reply)
{
    if (auth->compat != 1) {
        apr_table_overlap(r->subprocess_env, reply->headers,
                          APR_OVERLAP_TABLES_SET);
    }
    apr_table_overlap(r->subprocess_env, reply->variables,
                      APR_OVERLAP_TABLES_SET);
}

/* Apply the app's verdict for the phase of @directive. */
static int judge(request_rec *r, const fcgix_auth_conf_t *auth,
                 const char *directive, int rc, const fcgix_auth_reply_t *reply)
{
    if (rc != OK) {
        return rc; /* the app failed: denied, and logged naming it */
    }
    if (reply->status == HTTP_OK) {
        pass_variables(r, auth, reply);
        return OK;
    }
    if (auth->authoritative == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      FCGIX_LOGNO(00096) "%s %s said %d; not "
                                         "authoritative: other modules "
                                         "decide",
                      directive, auth->path, reply->status);
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  FCGIX_LOGNO(00097) "%s %s denied %s with %d", directive,
                  auth->path, r->uri, reply->status);
    return send_denial(r, reply);
}

static const fcgix_dir_conf_t *dir_conf(request_rec *r)
{
    return fcgix_dir_conf(r->per_dir_config);
}

/* Run the app of @auth for one phase and apply its verdict. */
static int run_phase(request_rec *r, const fcgix_auth_conf_t *auth,
                     const char *directive, const char *role, const char *user,
                     const char *password)
{
    fcgix_auth_call_t call = {role, user, password, NULL};
    fcgix_auth_reply_t reply;

    return judge(r, auth, directive,
                 ask_authorizer(r, auth, directive, &call, &reply), &reply);
}

/* FastCgiAuthorizer where no AuthType is set: there will be no user,
 * and httpd would skip the authorization phase without a Require; the
 * app decides here, in the access phase, instead of never. */
static int authorize_without_user(request_rec *r)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->authorizer;

    if (auth->path == NULL || auth->provider_only || ap_auth_type(r)) {
        return DECLINED;
    }
    return run_phase(r, auth, "FastCgiAuthorizer", "AUTHORIZER", NULL, NULL);
}

/* FastCgiAccessChecker: before authentication, on the request alone. */
static int fcgix_access_checker(request_rec *r)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->access_checker;
    int rc;

    if (auth->path != NULL) {
        rc = run_phase(r, auth, "FastCgiAccessChecker", "ACCESS_CHECKER", NULL,
                       NULL);
        if (rc != OK && rc != DECLINED) {
            return rc;
        }
    }
    return authorize_without_user(r);
}

/* httpd runs the authentication and authorization phases only when a
 * Require asks for them; a configured FastCgiAuthenticator (or
 * FastCgiAuthorizer with an AuthType) must run anyway, never be skipped
 * in silence. */
static int fcgix_force_authn(request_rec *r)
{
    const fcgix_dir_conf_t *d = dir_conf(r);

    if ((d->authenticator.path && !d->authenticator.provider_only)
        || (d->authorizer.path && !d->authorizer.provider_only
            && ap_auth_type(r))) {
        return OK;
    }
    return DECLINED;
}

/* FastCgiAuthenticator: checks the Basic credentials. Hooked first, so
 * that mod_auth_basic (loaded before us in Debian) does not answer for
 * it with "AuthUserFile not specified". */
static int fcgix_authenticator(request_rec *r)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->authenticator;
    const char *password;
    int rc;

    if (auth->path == NULL || auth->provider_only) {
        return DECLINED;
    }
    rc = ap_get_basic_auth_pw(r, &password);
    if (rc == DECLINED) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00098) "FastCgiAuthenticator %s needs "
                                         "AuthType Basic; denying",
                      auth->path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc != OK) {
        return rc; /* no credentials: 401 with WWW-Authenticate */
    }
    return run_phase(r, auth, "FastCgiAuthenticator", "AUTHENTICATOR", r->user,
                     password);
}

/* FastCgiAuthorizer: after authentication, with REMOTE_USER. */
static int fcgix_authorizer(request_rec *r)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->authorizer;

    if (auth->path == NULL || auth->provider_only || !ap_auth_type(r)) {
        return DECLINED; /* no AuthType: done in the access phase */
    }
    return run_phase(r, auth, "FastCgiAuthorizer", "AUTHORIZER", r->user, NULL);
}

/* True, and logged under @logno, when the provider named by @usage is
 * used where no app is configured by @directive: a denial. */
static int provider_app_missing(request_rec *r, const fcgix_auth_conf_t *auth,
                                const char *logno, const char *usage,
                                const char *directive)
{
    if (auth->path != NULL) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "%s%s needs %s where %s is served; denying", logno, usage,
                  directive, r->uri);
    return 1;
}

/* The provider API: "AuthBasicProvider fastcgi" asks the app of
 * FastCgiAuthenticator, "Require fastcgi-authorizer" the app of
 * FastCgiAuthorizer (give them -provider so that they are not also run as
 * phase hooks). A provider cannot send the app's page: a denial is
 * httpd's own 401 or 403. */
static authn_status provider_check_password(request_rec *r, const char *user,
                                            const char *password)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->authenticator;
    fcgix_auth_call_t call = {"AUTHENTICATOR", NULL, NULL, NULL};
    fcgix_auth_reply_t reply;

    if (provider_app_missing(r, auth, FCGIX_LOGNO(00099),
                             "AuthBasicProvider fastcgi",
                             "FastCgiAuthenticator")) {
        return AUTH_GENERAL_ERROR;
    }
    call.user = user;
    call.password = password;
    if (ask_authorizer(r, auth, "FastCgiAuthenticator", &call, &reply) != OK) {
        return AUTH_GENERAL_ERROR; /* logged; never a grant */
    }
    if (reply.status != HTTP_OK) {
        return AUTH_DENIED;
    }
    pass_variables(r, auth, &reply);
    return AUTH_GRANTED;
}

static authz_status provider_authorize(request_rec *r, const char *require_line,
                                       const void *parsed)
{
    const fcgix_auth_conf_t *auth = &dir_conf(r)->authorizer;
    fcgix_auth_call_t call = {"AUTHORIZER", NULL, NULL, NULL};
    fcgix_auth_reply_t reply;

    (void)require_line;
    (void)parsed;
    if (provider_app_missing(r, auth, FCGIX_LOGNO(00100),
                             "Require fastcgi-authorizer",
                             "FastCgiAuthorizer")) {
        return AUTHZ_GENERAL_ERROR;
    }
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER; /* authenticate first */
    }
    call.user = r->user;
    if (ask_authorizer(r, auth, "FastCgiAuthorizer", &call, &reply) != OK) {
        return AUTHZ_GENERAL_ERROR;
    }
    if (reply.status != HTTP_OK) {
        return AUTHZ_DENIED;
    }
    pass_variables(r, auth, &reply);
    return AUTHZ_GRANTED;
}

static const authn_provider fastcgi_authn_provider = {provider_check_password,
                                                      NULL};
static const authz_provider fastcgi_authz_provider = {provider_authorize, NULL};

void fcgix_authz_register_hooks(apr_pool_t *p, fcgix_app_find_fn *find)
{
    find_app = find;
    ap_hook_check_access(fcgix_access_checker, NULL, NULL, APR_HOOK_FIRST,
                         AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(fcgix_authenticator, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(fcgix_authorizer, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_force_authn(fcgix_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "fastcgi",
                              AUTHN_PROVIDER_VERSION, &fastcgi_authn_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "fastcgi-authorizer",
                              AUTHZ_PROVIDER_VERSION, &fastcgi_authz_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
