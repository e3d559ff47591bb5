/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_stderr.c
 * @brief The STDERR relay (see fcgi_stderr.h).
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "fcgi_config.h"
#include "fcgi_log.h"
#include "fcgi_stderr.h"

FCGIX_USE_LOG_MODULE;

/* A stderr line longer than this is logged in pieces. */
#define STDERR_LINE_MAX 4096
/* Stderr logged per request at most; the rest is counted, not logged,
 * so that an app stuck in a loop cannot fill the disk through us. */
#define STDERR_LOG_MAX (64 * 1024)

static void log_stderr_line(fcgix_stderr_t *e, request_rec *r, const char *app)
{
    fcgix_srv_conf_t *sconf = fcgix_srv_conf(r->server);
    int level = sconf->stderr_level == FCGIX_UNSET ? APLOG_WARNING
                                                   : sconf->stderr_level;
    size_t len = e->len;

    if (len > 0 && e->line[len - 1] == '\r') {
        len--;
    }
    e->line[len] = '\0';
    /* Passed as it is: httpd's error log escapes every message itself
     * (control characters as \xhh, backslashes doubled), so an app
     * cannot write raw control bytes or fake lines into it. Escaping
     * here too showed PHP's 'key "X"' as 'key \\"X\\"'. */
    ap_log_rerror(APLOG_MARK, level, 0, r,
                  FCGIX_LOGNO(00030) "FastCGI app %s stderr: %s", app, e->line);
    e->len = 0;
}

/* Past STDERR_LOG_MAX, say once that the rest is dropped. */
static void drop_stderr(fcgix_stderr_t *e, request_rec *r, const char *app,
                        size_t len)
{
    if (e->dropped == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      FCGIX_LOGNO(00101) "FastCGI app %s wrote more than "
                                         "%d bytes to stderr in this request; "
                                         "the rest is not logged",
                      app, STDERR_LOG_MAX);
    }
    e->dropped += len;
}

void fcgix_stderr_take(fcgix_stderr_t *e, request_rec *r, const char *app,
                       const unsigned char *data, size_t len)
{
    size_t keep = STDERR_LOG_MAX - e->logged;
    size_t dropped = len > keep ? len - keep : 0;
    size_t i;

    len -= dropped;
    e->logged += len;
    if (len > 0 && e->line == NULL) {
        e->line = apr_palloc(r->pool, STDERR_LINE_MAX + 1);
    }
    for (i = 0; i < len; i++) {
        if (data[i] == '\n') {
            log_stderr_line(e, r, app);
            continue;
        }
        e->line[e->len++] = data[i] ? (char)data[i] : '?';
        if (e->len == STDERR_LINE_MAX) {
            log_stderr_line(e, r, app);
        }
    }
    if (dropped > 0) {
        if (e->len > 0) {
            log_stderr_line(e, r, app); /* the last piece that fitted */
        }
        drop_stderr(e, r, app, dropped);
    }
}

void fcgix_stderr_end(fcgix_stderr_t *e, request_rec *r, const char *app)
{
    if (e->len > 0) {
        log_stderr_line(e, r, app);
    }
    if (e->dropped > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      FCGIX_LOGNO(00102) "FastCGI app %s: %" APR_OFF_T_FMT
                                         " bytes of stderr not logged",
                      app, e->dropped);
    }
}
