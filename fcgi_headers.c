/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_headers.c
 * @brief The response header hand-off (see fcgi_headers.h).
 */

#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "util_script.h"

#include "fcgi_handler.h"
#include "fcgi_headers.h"
#include "fcgi_req.h"

FCGIX_USE_LOG_MODULE;

/* httpd's header scanner reads lines of at most MAX_STRING_LEN - 3 bytes
 * (CRs and the LF not counted); a longer line would make it fail with a
 * misleading "premature end of script headers". */
#define MAX_HEADER_LINE (MAX_STRING_LEN - 3)

fcgix_step_t fcgix_headers_collect(fcgix_req_t *req, const unsigned char *data,
                                   size_t len)
{
    size_t i;

    if (req->hdr_bytes + len > FCGIX_MAX_HEADER_BYTES) {
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00031),
                              "response headers larger than %d bytes",
                              FCGIX_MAX_HEADER_BYTES);
    }
    for (i = 0; i < len; i++) {
        if (data[i] == '\n') {
            req->line_len = 0;
        }
        else if (data[i] != '\r' && ++req->line_len > MAX_HEADER_LINE) {
            return fcgix_req_fail(
                req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00032),
                "a response header line is longer than %d bytes",
                MAX_HEADER_LINE);
        }
    }
    req->hdr_bytes += len;
    apr_brigade_write(req->hdr_bb, NULL, NULL, (const char *)data, len);
    return FCGIX_STEP_CONTINUE;
}

/* The response must not carry the app's framing: httpd frames the body
 * itself (CVE-2024-24795). */
static void drop_framing_headers(request_rec *r)
{
    apr_table_unset(r->headers_out, "Content-Length");
    apr_table_unset(r->headers_out, "Transfer-Encoding");
    apr_table_unset(r->err_headers_out, "Content-Length");
    apr_table_unset(r->err_headers_out, "Transfer-Encoding");
}

/* X-Accel-Buffering: no turns buffering off for this response only; the
 * header is for us, not for the client. */
static void take_buffering_header(fcgix_req_t *req)
{
    request_rec *r = req->r;
    const char *v = apr_table_get(r->err_headers_out, "X-Accel-Buffering");

    if (v == NULL) {
        v = apr_table_get(r->headers_out, "X-Accel-Buffering");
    }
    if (v && !strcasecmp(v, "no")) {
        req->flush_always = 1;
    }
    apr_table_unset(r->err_headers_out, "X-Accel-Buffering");
    apr_table_unset(r->headers_out, "X-Accel-Buffering");
}

/* A local Location with no Status becomes an internal redirect, as in
 * mod_cgi: the client never sees the app's answer. */
static fcgix_step_t redirect_internally(fcgix_req_t *req, const char *location)
{
    request_rec *r = req->r;

    fcgix_req_close(req);
    if (!req->body.eos) {
        ap_discard_request_body(r);
    }
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    ap_internal_redirect_handler(location, r);
    req->status = OK;
    return FCGIX_STEP_FINISHED;
}

/* X-Sendfile: where a FastCgiSendfilePath applies, the named file is
 * opened and checked now and served once the app is done (its body is
 * discarded); elsewhere the header is ignored. */
static fcgix_step_t use_sendfile(fcgix_req_t *req, const char *value,
                                 const char *type_seen)
{
    request_rec *r = req->r;
    const char *why = NULL;
    int status;

    status = fcgix_sendfile_open(r, req->dconf->sendfile_dirs, value, type_seen,
                                 &req->sendfile, &why);
    if (status != OK) {
        return fcgix_req_fail(req, status, FCGIX_LOGNO(00028),
                              "X-Sendfile: %s: %s", value, why);
    }
    if (req->sendfile == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      FCGIX_LOGNO(00029) "FastCGI app %s: X-Sendfile %s "
                                         "ignored: no FastCgiSendfilePath "
                                         "applies here",
                      req->app->path, value);
        return FCGIX_STEP_CONTINUE;
    }
    if (r->header_only) {
        req->status = OK;
        return FCGIX_STEP_FINISHED;
    }
    return FCGIX_STEP_CONTINUE;
}

/* The blank line arrived: let httpd's own scanner parse the header block
 * (its hardening applies), then decide what the response is. */
fcgix_step_t fcgix_headers_finish(fcgix_req_t *req)
{
    request_rec *r = req->r;
    const char *location, *sendfile, *type_seen = r->content_type;
    fcgix_step_t st;
    int ret;

    ret = ap_scan_script_header_err_brigade_ex(r, req->hdr_bb, NULL,
                                               APLOG_MODULE_INDEX);
    apr_brigade_cleanup(req->hdr_bb);
    drop_framing_headers(r);
    take_buffering_header(req);
    sendfile = fcgix_sendfile_take_header(r);
    if (ret != OK) {
        /* 304 or 412 from the conditional headers, or 500 for malformed
         * headers (httpd logged why). */
        if (ret == HTTP_NOT_MODIFIED) {
            r->status = ret;
            ret = OK;
        }
        req->status = ret;
        return FCGIX_STEP_FINISHED;
    }
    if (r->status >= 100 && r->status < 200) {
        /* An interim status is no answer, and passed on as a final one a
         * 101 would switch a front proxy into tunnel mode. */
        return fcgix_req_fail(
            req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00300),
            "Status %d in the response is an interim (1xx) status; "
            "an app must answer with 200-599",
            r->status);
    }
    if (r->status < 100 || r->status > 599) {
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00033),
                              "invalid Status in the response: %d", r->status);
    }
    location = apr_table_get(r->headers_out, "Location");
    if (req->auth.role == FCGIX_FILTER) {
        /* A filter's answer replaces a response under way: no internal
         * redirect, no X-Sendfile; its headers are taken as they are. */
        location = sendfile = NULL;
    }
    if (location && r->status == HTTP_OK) {
        if (location[0] == '/') {
            return redirect_internally(req, location);
        }
        req->status = HTTP_MOVED_TEMPORARILY;
        return FCGIX_STEP_FINISHED;
    }
    if (sendfile) {
        st = use_sendfile(req, sendfile, type_seen);
        if (st != FCGIX_STEP_CONTINUE || req->sendfile) {
            return st;
        }
    }
    req->headers_done = 1;
    if (req->opts.flush) {
        req->flush_always = 1;
    }
    if (r->header_only) {
        req->status = OK;
        return FCGIX_STEP_FINISHED;
    }
    return FCGIX_STEP_CONTINUE;
}

fcgix_step_t fcgix_headers_refuse(fcgix_req_t *req)
{
    return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00103),
                          "malformed response header block: %s in line %u",
                          req->scan.why, req->scan.line);
}

/* -nph (or an app named nph-*): the app writes the whole HTTP response,
 * status line included, so nothing above the connection may touch it (as
 * mod_cgi does for nph- scripts). */
void fcgix_headers_start_nph(fcgix_req_t *req)
{
    request_rec *r = req->r;
    const char *base = strrchr(r->filename, '/');
    ap_filter_t *f;

    base = base ? base + 1 : r->filename;
    if (req->auth.role == FCGIX_FILTER
        || (!req->opts.nph && strncmp(base, "nph-", 4))) {
        return; /* a filter's answer is never a whole HTTP response */
    }
    f = r->proto_output_filters;
    while (f && f->frec->ftype < AP_FTYPE_CONNECTION) {
        f = f->next;
    }
    r->output_filters = r->proto_output_filters = req->out = f;
    /* Only the app knows how its response is framed. */
    r->connection->keepalive = AP_CONN_CLOSE;
    req->headers_done = 1;
    req->flush_always = req->opts.flush;
}
