/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_req.h
 * @brief Private to the request path: one exchange with an app, shared by
 *        fcgi_handler.c (connection, records, the pump), fcgi_headers.c
 *        (the response header hand-off), fcgi_auth.c (the AUTHORIZER
 *        role), fcgi_env.c (the CGI environment) and fcgi_account.c
 *        (request notes and statistics). The
 *        request body and the STDERR relay keep their state in
 *        types of their own (fcgi_body.h, fcgi_stderr.h) and know nothing
 *        of this one; neither does fcgi_connect.c.
 */

#ifndef FCGIX_REQ_H
#define FCGIX_REQ_H

#include "apr_buckets.h"
#include "httpd.h"

#include "fcgi_body.h"
#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_handler.h"
#include "fcgi_proto.h"
#include "fcgi_sendfile.h"
#include "fcgi_stats.h"
#include "fcgi_stderr.h"

/** Response header block cap: beyond it the app is misbehaving. */
#define FCGIX_MAX_HEADER_BYTES (64 * 1024)

/** The pump's verdict after each step. */
typedef enum {
    FCGIX_STEP_CONTINUE = 0,
    FCGIX_STEP_FINISHED, /**< stop; req->status says what to return */
    FCGIX_STEP_FAILED,   /**< stop; the failure was logged and mapped */
    FCGIX_STEP_RETRY     /**< the connection was found dead before use */
} fcgix_step_t;

/** One request's exchange with an app, grouped by the part that owns
 * each field. */
typedef struct {
    /* The request (fcgi_handler.c; set up by fcgix_req_new). */
    request_rec *r;
    const fcgix_app_t *app;
    const fcgix_process_ops_t *lease; /* PM-run app: its process */
    fcgix_app_opts_t opts;            /* effective options */
    const fcgix_dir_conf_t *dconf;
    int status; /* what the handler returns */

    /* Connection (fcgi_handler.c). */
    int fd;
    fcgix_conn_t conn;     /* the connection's history */
    int reused;            /* a kept connection, not a new one */
    int conn_place;        /* holds one of -max-conns places */
    int received;          /* any byte came from the app */
    int retargets;         /* unreachable processes passed over */
    int process_retries;   /* requests reset by a dying process, resent */
    int kept_was_closed;   /* the app had closed the kept connection this
                              request first took: it may be leaving */
    int muxed;             /* on a socket pair to the mux (-multiplex) */
    int mux_probe;         /* ... on the connection that asked the app */
    int mux_retried;       /* sent again after its mux connection closed */
    int idle_ms;           /* -idle-timeout as a poll timeout */
    apr_time_t busy_until; /* FcgidBusyTimeout's end; 0: none */

    /* Records, server to app: BEGIN_REQUEST, PARAMS, STDIN
     * (fcgi_handler.c). */
    unsigned char *wbuf;
    size_t wlen, wpos;
    int stdin_done;  /* empty STDIN record queued */
    int stdin_cut;   /* the app stopped reading STDIN */
    int client_fd;   /* the client's socket, polled next to the app's
                        while STDIN waits for more body; -1: the body is
                        read blocking (an HTTP/2 stream has no socket);
                        looked up on the first STDIN record */
    int client_wait; /* STDIN waits for the client to send more */
    int client_ms;   /* how long it may take (httpd's Timeout) */
    apr_bucket_brigade *data_bb; /* FILTER role: FCGI_DATA not sent yet */
    int data_done;               /* the empty FCGI_DATA record queued */

    /* Records, app to server: the decoder (fcgi_handler.c). */
    unsigned char *rbuf;
    fcgix_dec_t dec;
    int ended;    /* END_REQUEST seen */
    int trailing; /* bytes came after END_REQUEST */

    /* Response: headers (fcgi_headers.c), body (fcgi_handler.c). */
    fcgix_hdrscan_t scan;
    apr_bucket_brigade *hdr_bb; /* response header bytes (copied) */
    size_t hdr_bytes;
    size_t line_len;            /* current header line, CR/LF excluded */
    int headers_done;           /* headers handed to httpd */
    apr_bucket_brigade *out_bb; /* body to the client */
    ap_filter_t *out;           /* where it goes: r->output_filters, or
                                   the next filter (FILTER role) */
    fcgix_sendfile_t *sendfile; /* X-Sendfile: served instead of the
                                   app's body (discarded) */
    int unflushed;
    int flush_always; /* -flush or X-Accel-Buffering: no */

    /* Request body, STDIN (fcgi_body.c). */
    fcgix_body_t body;

    /* STDERR relay (fcgi_stderr.c). */
    fcgix_stderr_t err;

    /* Timing and outcome, for the request notes and the statistics
     * (fcgi_account.c; fcgi_handler.c stamps the times and bytes as they
     * happen, fcgi_auth.c says when an authorizer's answer is an
     * error). */
    struct {
        apr_time_t start;       /* the exchange began */
        apr_time_t connect;     /* spent connecting; 0: a kept connection */
        apr_time_t first_byte;  /* the app's first byte came; 0: none */
        fcgix_stats_rec_t *rec; /* the app's record, or NULL */
        int hold;               /* fcgix_stats_begin()'s token */
        fcgix_stats_outcome_t outcome;
    } timing;

    /* AUTHORIZER role: the whole response is kept, not sent
     * (fcgi_auth.c). */
    struct {
        int role;               /* FCGIX_RESPONDER or FCGIX_AUTHORIZER */
        apr_bucket_brigade *bb; /* the kept response, or NULL */
        apr_size_t len;
    } auth;
} fcgix_req_t;

/**
 * Set up an exchange for @a r with @a app.
 * @param r    the request; everything lives in its pool
 * @param app  the application
 * @return the exchange
 */
fcgix_req_t *fcgix_req_new(request_rec *r, const fcgix_app_t *app);

/**
 * The exchange starts: its clock, and one more request in flight in the
 * app's statistics (fcgix_req_finish() counts it as ended).
 * @param req  the exchange
 */
void fcgix_req_begin(fcgix_req_t *req);

/**
 * Say which kind of error the exchange ended with, unless one was said
 * already (the first failure is the one that counts).
 * @param req   the exchange
 * @param kind  the kind, or FCGIX_ERR_NONE (then nothing changes)
 */
void fcgix_req_error(fcgix_req_t *req, fcgix_err_kind_t kind);

/**
 * The kind of error a failure mapped to @a status is: 503 an app that
 * could not be reached (or refused the request), 504 a timeout, 502 an
 * app that broke the protocol; FCGIX_ERR_NONE for any other status (the
 * client's fault, or ours).
 */
fcgix_err_kind_t fcgix_req_error_of(int status);

/**
 * Account for the exchange, once it is over: the request notes and the
 * app's statistics (called by fcgix_req_finish()).
 * @param req  the exchange
 * @param st   how it ended
 */
void fcgix_req_account(fcgix_req_t *req, fcgix_step_t st);

/**
 * Connect, send the request and pump the exchange; once more on a new
 * connection when a kept one was found dead, and for a PM-run app on
 * another process when its process went away unanswered.
 * @param req  the exchange
 * @param env  the CGI environment to send
 * @return FCGIX_STEP_FINISHED or FCGIX_STEP_FAILED (req->status set)
 */
fcgix_step_t fcgix_req_run(fcgix_req_t *req, const apr_table_t *env);

/**
 * The request's CGI/1.1 environment (fcgi_env.c), built by httpd itself
 * so that its hardening applies, with the options of req->opts.
 * @param spooled_len  a spooled body's length for CONTENT_LENGTH, or -1
 * @return r->subprocess_env, completed
 */
apr_table_t *fcgix_req_env(fcgix_req_t *req, apr_off_t spooled_len);

/**
 * The exchange is over: keep the connection (-keep-conn, ended cleanly)
 * or close it, give a PM-run app's process back, set the request notes
 * (fastcgi-app, fastcgi-member and the times) and count the request in
 * the app's statistics.
 * @param req  the exchange
 * @param st   how it ended
 */
void fcgix_req_finish(fcgix_req_t *req, fcgix_step_t st);

/**
 * Log a failure that names the app, then map it to what the client sees
 * (req->status, or a truncated response once headers went out).
 * @param req     the exchange
 * @param status  the HTTP status before headers went out
 * @param logno   FCGIX_LOGNO(n)
 * @param fmt     printf-style message
 * @return FCGIX_STEP_FAILED
 */
fcgix_step_t fcgix_req_fail(fcgix_req_t *req, int status, const char *logno,
                            const char *fmt, ...);

/**
 * Close the connection to the app now (also done when the request's pool
 * goes).
 * @param req  the exchange
 */
void fcgix_req_close(fcgix_req_t *req);

#endif /* FCGIX_REQ_H */
