/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_env.c
 * @brief The request's CGI/1.1 environment, sent to the app as PARAMS:
 *        httpd's own variables, the -pass-header (FcgidPassHeader)
 *        headers, FcgidFixPathinfo's SCRIPT_NAME, a spooled body's length.
 */

#include "httpd.h"
#include "util_script.h"

#include "apr_lib.h"
#include "apr_strings.h"

#include <string.h>

#include "fcgi_req.h"

/* The name of an environment variable for a -pass-header header. */
static const char *pass_header_name(apr_pool_t *p, const char *header)
{
    char *name = apr_pstrcat(p, "HTTP_", header, NULL);
    char *c;

    for (c = name + 5; *c; c++) {
        *c = apr_isalnum(*c) ? apr_toupper(*c) : '_';
    }
    return name;
}

/* FcgidFixPathinfo: SCRIPT_NAME becomes DOCUMENT_ROOT + SCRIPT_NAME, for
 * PHP's cgi.fix_pathinfo=1 (mod_fcgid's documented rewrite). */
static void fix_script_name(request_rec *r)
{
    const char *root = apr_table_get(r->subprocess_env, "DOCUMENT_ROOT");
    const char *name = apr_table_get(r->subprocess_env, "SCRIPT_NAME");
    size_t len;

    if (root == NULL || name == NULL) {
        return;
    }
    /* Joined as strings: a merge would take the absolute SCRIPT_NAME
     * alone. One '/' between them. */
    len = strlen(root);
    while (len > 0 && root[len - 1] == '/') {
        len--;
    }
    apr_table_setn(r->subprocess_env, "SCRIPT_NAME",
                   apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, root, len),
                               name[0] == '/' ? "" : "/", name, NULL));
}

/* The CGI/1.1 environment, built by httpd itself so that its hardening
 * applies (httpoxy: no HTTP_PROXY; headers with characters other than
 * letters, digits and '-' are dropped). */
apr_table_t *fcgix_req_env(fcgix_req_t *req, apr_off_t spooled_len)
{
    request_rec *r = req->r;
    apr_array_header_t *pass = req->opts.pass_headers;
    const char *value;
    int i;

    ap_add_common_vars(r);
    ap_add_cgi_vars(r);
    for (i = 0; pass && i < pass->nelts; i++) {
        const char *header = APR_ARRAY_IDX(pass, i, const char *);

        value = apr_table_get(r->headers_in, header);
        if (value) {
            apr_table_setn(r->subprocess_env, pass_header_name(r->pool, header),
                           value);
            if (req->opts.pass_header_bare) { /* FcgidPassHeader */
                apr_table_setn(r->subprocess_env, header, value);
            }
        }
    }
    if (req->opts.fix_pathinfo) {
        fix_script_name(r);
    }
    if (spooled_len >= 0) {
        apr_table_setn(r->subprocess_env, "CONTENT_LENGTH",
                       apr_off_t_toa(r->pool, spooled_len));
    }
    return r->subprocess_env;
}
