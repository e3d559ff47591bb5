/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_handler.c
 * @brief The request path: backend connection, records, response headers,
 *        the pump and the mapping of failures to HTTP statuses.
 *
 * One request per backend connection at a time (request id 1); with
 * -keep-conn the connection is kept for the next request (FCGI_KEEP_CONN,
 * fcgi_conns.c). The exchange runs in one poll loop over the backend
 * socket: POLLOUT while request body (STDIN) remains, POLLIN always, so an
 * app that writes its output while it reads its input never deadlocks.
 * Memory is bounded: one read buffer and one write buffer per request,
 * transient buckets passed on at once, brigades cleaned every pass.
 *
 * Around it, in files of their own: opening the socket (fcgi_connect.c),
 * the request body (fcgi_body.c), the response header hand-off
 * (fcgi_headers.c), the STDERR relay (fcgi_stderr.c) and the AUTHORIZER
 * role (fcgi_auth.c); the state they share with this one is in
 * fcgi_req.h.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_portable.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_script.h"

#include "fcgi_auth.h"
#include "fcgi_body.h"
#include "fcgi_connect.h"
#include "fcgi_conns.h"
#include "fcgi_handler.h"
#include "fcgi_headers.h"
#include "fcgi_mux.h"
#include "fcgi_proto.h"
#include "fcgi_req.h"
#include "fcgi_stderr.h"

FCGIX_USE_LOG_MODULE;

/* req->client_fd before a streamed body first needs it. */
#define CLIENT_FD_UNKNOWN (-2)

/* One request per connection, so the request id is always 1. */
#define REQUEST_ID 1
/* Read buffer for backend output; one record's content fits. */
#define READ_BUF_SIZE 65536
/* Write buffer: BEGIN_REQUEST plus a full PARAMS record, or one STDIN
 * record (header, content, and the empty STDIN record behind it). */
#define WRITE_BUF_SIZE (FCGIX_MAX_CONTENT_LEN + 4 * FCGIX_HEADER_LEN)
/* How long to wait for END_REQUEST after FCGI_ABORT_REQUEST. */
#define ABORT_WAIT_MS 1000

/* ------------------------------------------------------------------ */
/* Failure mapping and logging                                         */
/* ------------------------------------------------------------------ */

/* Map a failure: before the response headers went out, the client gets
 * @status; after, the response is cut short with an error bucket so that
 * httpd closes the connection instead of appending an error page. */
static fcgix_step_t end_with(fcgix_req_t *req, int status)
{
    request_rec *r = req->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;

    fcgix_req_error(req, fcgix_req_error_of(status));
    if (!req->headers_done) {
        req->status = status;
        r->status_line = NULL; /* the app's, if it sent one */
        if (status == HTTP_SERVICE_UNAVAILABLE
            && !apr_table_get(r->err_headers_out, "Retry-After")) {
            apr_table_setn(r->err_headers_out, "Retry-After", "5");
        }
        return FCGIX_STEP_FAILED;
    }
    apr_brigade_cleanup(req->out_bb);
    APR_BRIGADE_INSERT_TAIL(
        req->out_bb,
        ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(req->out_bb, apr_bucket_eos_create(ba));
    ap_pass_brigade(req->out, req->out_bb);
    apr_brigade_cleanup(req->out_bb);
    req->status = OK;
    return FCGIX_STEP_FAILED;
}

/* Log a failure that names the app, then map it (end_with). */
fcgix_step_t fcgix_req_fail(fcgix_req_t *req, int status, const char *logno,
                            const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(req->r->pool, fmt, ap);
    va_end(ap);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r, "%sFastCGI app %s: %s",
                  logno, req->app->path, msg);
    return end_with(req, status);
}

static apr_status_t close_backend(void *data)
{
    fcgix_req_t *req = data;

    if (req->fd >= 0) {
        close(req->fd);
        req->fd = -1;
    }
    return APR_SUCCESS;
}

void fcgix_req_close(fcgix_req_t *req)
{
    close_backend(req);
}

/* Give back the -max-conns place the request holds on req->app, before
 * it goes to another member or process, and when it ends. */
static void leave_place(fcgix_req_t *req)
{
    if (req->conn_place) {
        fcgix_conns_leave_place(req->app);
        req->conn_place = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

/* Connecting to a PM-run process again and again is bounded: each
 * attempt marks a process for replacement, and the PM start request that
 * follows when none is left waits at most -startTimeout. */
#define MAX_RETARGETS 16

/* Nobody listens on a PM-run process's socket (it died with its PM, or
 * its socket file was removed): lease another process, which the PM
 * may have to start, instead of failing the request. 1 when tried
 * (@a status: OK with req->app the new target, or what to answer); 0
 * to fail as usual. */
static int try_another_process(fcgix_req_t *req, int err, int *status)
{
    const fcgix_app_t *app = req->app;

    if (req->lease == NULL || req->retargets >= MAX_RETARGETS
        || (!req->lease->any_error && err != ECONNREFUSED && err != ENOENT)) {
        return 0;
    }
    req->retargets++;
    if (!req->lease->any_error) { /* a member is logged by its owner */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                      FCGIX_LOGNO(00104) "FastCGI app %s: cannot connect to "
                                         "%s: %s; the process is replaced, "
                                         "and the request goes to another "
                                         "one",
                      app->path, fcgix_connect_address(req->app, req->r->pool),
                      strerror(err));
    }
    leave_place(req);
    *status = req->lease->next(req->r, req->lease->baton, &app, err);
    if (*status == OK) {
        req->app = app;
    }
    return 1;
}

static int connect_timeout_ms(const fcgix_req_t *req, int timeout_s)
{
    int ms = timeout_s * 1000;

    if (req->lease && req->lease->connect_timeout) {
        ms = req->lease->connect_timeout(req->lease->baton, ms);
    }
    return ms;
}

/* Whether the request could go again on a new connection, should a kept
 * one turn out closed: no body, or a small one kept whole. */
static int can_resend(const fcgix_req_t *req)
{
    return req->body.small != NULL || (req->body.eos && !req->body.spooled);
}

/* Seconds a connect may take (-appConnTimeout; unset or 0: httpd's
 * Timeout, never mod_fastcgi's blocking connect). */
static int connect_timeout_s(const fcgix_req_t *req)
{
    return req->opts.conn_timeout > 0
               ? req->opts.conn_timeout
               : (int)apr_time_sec(req->r->server->timeout);
}

/* A connection kept to an external server (-keep-conn), or -1. With an
 * explicit -max-conns the request first takes one of that many places,
 * waiting for one at most -appConnTimeout (*timed_out set when none came
 * back). */
static int take_kept_external(fcgix_req_t *req, int *timed_out)
{
    int rc;

    if (req->opts.keep_conn != 1) {
        return -1;
    }
    rc = fcgix_conns_wait_place(req->app, &req->conn,
                                apr_time_from_sec(connect_timeout_s(req)));
    if (rc == FCGIX_CONNS_NO_CAP) {
        rc = fcgix_conns_take(req->app, &req->conn);
    }
    else if (rc >= 0) {
        req->conn_place = 1;
    }
    *timed_out = rc < 0;
    return rc == 1 ? req->conn.fd : -1;
}

/* A kept connection for the request, or -1. One a PM-run process's
 * owner kept is closed when the request cannot use it: the process
 * would not accept a new connection while it waits on that one. */
static int take_kept(fcgix_req_t *req, int *timed_out)
{
    int fd;

    *timed_out = 0;
    if (req->lease == NULL || req->lease->reuse == NULL) {
        return take_kept_external(req, timed_out);
    }
    fd = req->lease->reuse(req->lease->baton);
    if (fd >= 0 && !(req->opts.keep_conn == 1 && can_resend(req))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* ------------------------------------------------------------------ */
/* Multiplexed connections (-multiplex, fcgi_mux.h)                    */
/* ------------------------------------------------------------------ */

static fcgix_mux_t *mux; /* this child's; NULL: no app has -multiplex */

static void mux_log(void *baton, int level, const char *msg)
{
    static const int levels[] = {APLOG_ERR, APLOG_WARNING, APLOG_INFO,
                                 APLOG_DEBUG};

    ap_log_error(APLOG_MARK, levels[level], 0, baton, "%s", msg);
}

static apr_status_t stop_mux(void *data)
{
    (void)data;
    fcgix_mux_stop(mux);
    mux = NULL;
    return APR_SUCCESS;
}

void fcgix_handler_child_init(apr_pool_t *pchild, server_rec *s, int multiplex)
{
    if (!multiplex) {
        return;
    }
    mux = fcgix_mux_start(mux_log, s);
    if (mux == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                     FCGIX_LOGNO(00057) "cannot start the thread that "
                                        "multiplexes connections "
                                        "(-multiplex); this httpd process "
                                        "sends one request per connection");
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, stop_mux, apr_pool_cleanup_null);
}

static int may_multiplex(const fcgix_req_t *req)
{
    return mux != NULL && req->opts.multiplex == 1;
}

/* A place on a shared connection to the app, when it multiplexes. */
static int join_mux(fcgix_req_t *req)
{
    int fd;

    if (!may_multiplex(req)) {
        return 0;
    }
    fd = fcgix_mux_join(mux, fcgix_connect_address(req->app, req->r->pool));
    if (fd < 0) {
        return 0;
    }
    req->fd = req->conn.fd = fd;
    req->muxed = 1;
    req->mux_probe = 0;
    return 1;
}

/* Offer the new connection to the mux: it asks the app whether it
 * multiplexes, or makes it one more shared connection. The request then
 * goes on a socket pair to the mux. Only a request that can be sent again
 * may be the one asked with: an app may answer, then close the connection
 * without reading the request. */
static void offer_mux(fcgix_req_t *req)
{
    int fd, probing = 0;

    if (!may_multiplex(req)) {
        return;
    }
    fd = fcgix_mux_offer(mux, fcgix_connect_address(req->app, req->r->pool),
                         req->app->path, req->fd, can_resend(req), &probing);
    if (fd >= 0) {
        req->fd = req->conn.fd = fd;
        req->muxed = 1;
        req->mux_probe = probing;
    }
}

/* A multiplexed request whose connection closed before the app's first
 * byte goes again, once: the one that asked (the app may have closed the
 * connection unread), or a bodiless GET. */
static int mux_may_retry(const fcgix_req_t *req)
{
    if (!req->muxed || req->mux_retried || req->received
        || req->body.taken) { /* retry_is_safe(); FILTER's data too */
        return 0;
    }
    if (req->mux_probe) {
        return can_resend(req);
    }
    return req->r->method_number == M_GET || req->r->method_number == M_OPTIONS;
}

static fcgix_step_t connect_backend(fcgix_req_t *req)
{
    int rc, fd = -1, timeout = connect_timeout_s(req), status, timed_out;
    apr_time_t t0;

    req->muxed = 0;
    if (!req->reused && join_mux(req)) {
        return FCGIX_STEP_CONTINUE;
    }
    if (!req->reused && (fd = take_kept(req, &timed_out)) >= 0) {
        req->fd = req->conn.fd = fd;
        req->reused = 1;
        return FCGIX_STEP_CONTINUE;
    }
    if (!req->reused && timed_out) {
        fcgix_req_error(req, FCGIX_ERR_TIMEOUT);
        apr_table_setn(req->r->err_headers_out, "Retry-After", "1");
        return fcgix_req_fail(req, HTTP_SERVICE_UNAVAILABLE, FCGIX_LOGNO(00047),
                              "all %d connections of this httpd process "
                              "were busy for %d s (-max-conns, "
                              "-appConnTimeout)",
                              req->opts.max_conns, timeout);
    }
    req->reused = 0;
    req->conn.born = apr_time_now();
    req->conn.uses = 0;
    errno = 0;
    t0 = apr_time_now();
    rc = fcgix_connect(req->app, req->r->pool, connect_timeout_ms(req, timeout),
                       &fd);
    req->timing.connect += apr_time_now() - t0;
    req->fd = fd;
    if (rc != 0) {
        int err = errno;

        if (try_another_process(req, err, &status)) {
            close_backend(req);
            return status == OK ? connect_backend(req) : end_with(req, status);
        }
        if (err == EAGAIN || err == EINPROGRESS || err == ETIMEDOUT) {
            fcgix_req_error(req, FCGIX_ERR_TIMEOUT);
            return fcgix_req_fail(
                req, HTTP_SERVICE_UNAVAILABLE, FCGIX_LOGNO(00021),
                "cannot connect to %s: no answer within %d s "
                "(-appConnTimeout)",
                fcgix_connect_address(req->app, req->r->pool), timeout);
        }
        return fcgix_req_fail(req, HTTP_SERVICE_UNAVAILABLE, FCGIX_LOGNO(00020),
                              "cannot connect to %s: %s",
                              fcgix_connect_address(req->app, req->r->pool),
                              strerror(err));
    }
    offer_mux(req);
    return FCGIX_STEP_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Server to app: records                                              */
/* ------------------------------------------------------------------ */

/* Send what the write buffer holds, as far as the socket takes it now.
 * Returns 0, or -1 with errno when the app closed its end. */
static int send_pending(fcgix_req_t *req)
{
    ssize_t n;

    while (req->wpos < req->wlen) {
        n = send(req->fd, req->wbuf + req->wpos, req->wlen - req->wpos,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        req->wpos += (size_t)n;
    }
    req->wpos = req->wlen = 0;
    return 0;
}

/* A request can go again on a new connection only if no request body was
 * taken from the client yet: a body cannot be read twice. */
static int retry_is_safe(const fcgix_req_t *req)
{
    return !req->body.taken;
}

/* A PM-run process that dies with our request queued on its socket
 * resets the connection before it answers when the PM closes the socket
 * (it keeps it for the next process when the dead one had served: then
 * the request is simply answered by the next one). A
 * bodiless GET is safe to send to another process, and so is any request
 * whose body is kept whole when the process had closed our kept
 * connection first (it was leaving: req->kept_was_closed); anything else
 * could have been acted on, and fails as usual. */
#define MAX_PROCESS_RETRIES 3

static int may_go_elsewhere(const fcgix_req_t *req, int err)
{
    return req->lease && err == ECONNRESET && !req->received
           && retry_is_safe(req) && req->process_retries < MAX_PROCESS_RETRIES
           && (req->r->method_number == M_GET
               || req->r->method_number == M_OPTIONS || req->kept_was_closed);
}

/* Send the whole write buffer, waiting for the socket at most the idle
 * timeout each time. Only used for PARAMS, which an app reads before it
 * writes anything. */
static fcgix_step_t send_all(fcgix_req_t *req)
{
    struct pollfd pfd;
    int n;

    while (req->wpos < req->wlen) {
        if (send_pending(req) < 0) {
            if (req->reused || may_go_elsewhere(req, errno)
                || mux_may_retry(req)) {
                return FCGIX_STEP_RETRY;
            }
            return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00022),
                                  "closed the connection while receiving the "
                                  "request: %s",
                                  strerror(errno));
        }
        if (req->wlen == 0) {
            break;
        }
        pfd.fd = req->fd;
        pfd.events = POLLOUT;
        n = poll(&pfd, 1, req->idle_ms);
        if (n == 0) {
            return fcgix_req_fail(req, HTTP_GATEWAY_TIME_OUT,
                                  FCGIX_LOGNO(00023),
                                  "did not read the request within %d s "
                                  "(-idle-timeout)",
                                  req->idle_ms / 1000);
        }
    }
    return FCGIX_STEP_CONTINUE;
}

/* Add one variable; when the buffer is full, send it and start again at
 * its beginning (*base: where the packer's buffer starts in wbuf). */
static fcgix_step_t add_param(fcgix_req_t *req, fcgix_params_t *pk,
                              size_t *base, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    int rc = fcgix_params_add(pk, name, nlen, value, vlen);
    fcgix_step_t st;

    if (rc == FCGIX_ENOSPC) {
        req->wlen = *base + fcgix_params_close(pk, 0);
        if ((st = send_all(req)) != FCGIX_STEP_CONTINUE) {
            return st;
        }
        *base = 0;
        /* Room is kept at the end for an empty STDIN record. */
        fcgix_params_init(pk, req->wbuf, WRITE_BUF_SIZE - FCGIX_HEADER_LEN,
                          REQUEST_ID, FCGIX_MAX_CONTENT_LEN);
        rc = fcgix_params_add(pk, name, nlen, value, vlen);
    }
    if (rc != FCGIX_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, req->r,
            FCGIX_LOGNO(00024) "FastCGI app %s: variable %s left "
                               "out: its value does not fit one record",
            req->app->path, name);
    }
    return FCGIX_STEP_CONTINUE;
}

/* Pack the environment into PARAMS records behind BEGIN_REQUEST and send
 * them; the packer keeps whole pairs per record (PHP-FPM needs that). */
static fcgix_step_t send_params(fcgix_req_t *req, const apr_table_t *env)
{
    const apr_array_header_t *arr = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    fcgix_params_t pk;
    size_t base = FCGIX_BEGIN_REQUEST_LEN;
    fcgix_step_t st = FCGIX_STEP_CONTINUE;
    int i;

    fcgix_rec_begin_request(req->wbuf, REQUEST_ID,
                            req->auth.role ? req->auth.role : FCGIX_RESPONDER,
                            req->opts.keep_conn == 1 ? FCGIX_KEEP_CONN : 0);
    fcgix_params_init(&pk, req->wbuf + base,
                      WRITE_BUF_SIZE - base - FCGIX_HEADER_LEN, REQUEST_ID,
                      FCGIX_MAX_CONTENT_LEN);
    for (i = 0; i < arr->nelts && st == FCGIX_STEP_CONTINUE; i++) {
        if (e[i].key && e[i].val) {
            st = add_param(req, &pk, &base, e[i].key, e[i].val);
        }
    }
    /* What is left stays queued and goes out with STDIN in the pump. */
    req->wlen = base + fcgix_params_close(&pk, 1);
    return st;
}

/* Queue an empty STDIN record: the end of the request body. */
static void queue_stdin_end(fcgix_req_t *req)
{
    fcgix_rec_header(req->wbuf + req->wlen, FCGIX_STDIN, REQUEST_ID, 0, 0);
    req->wlen += FCGIX_HEADER_LEN;
    req->stdin_done = 1;
}

/* Queue the kept small body and the end of STDIN after the PARAMS. */
static fcgix_step_t queue_small_body(fcgix_req_t *req)
{
    fcgix_step_t st;

    if (req->wlen + req->body.small_len + 2 * FCGIX_HEADER_LEN > WRITE_BUF_SIZE
        && (st = send_all(req)) != FCGIX_STEP_CONTINUE) {
        return st;
    }
    if (req->body.small_len > 0) {
        fcgix_rec_header(req->wbuf + req->wlen, FCGIX_STDIN, REQUEST_ID,
                         (uint16_t)req->body.small_len, 0);
        memcpy(req->wbuf + req->wlen + FCGIX_HEADER_LEN, req->body.small,
               req->body.small_len);
        req->wlen += FCGIX_HEADER_LEN + req->body.small_len;
        req->timing.outcome.bytes_in += req->body.small_len;
    }
    queue_stdin_end(req);
    return FCGIX_STEP_CONTINUE;
}

/* A larger send buffer on a Unix socket, once a body turns out to need
 * more than one STDIN record. With the app on the same core, every time
 * the socket is full is a pair of context switches; the more the buffer
 * holds, the fewer. The kernel clamps the request to net.core.wmem_max and
 * doubles it: 2 MiB where wmem_max is 1 MiB or more (10 MiB POSTs 14 %
 * faster), 416 KiB with Debian's default of 208 KiB (1.5 % faster). The
 * memory is taken only while the app is behind. Not on TCP, where setting
 * it would turn the kernel's send buffer autotuning off. */
#define BIG_BODY_SNDBUF (1024 * 1024)

static void widen_send_buffer(fcgix_req_t *req)
{
    int size = BIG_BODY_SNDBUF;

    if (req->app->socket_path) {
        (void)setsockopt(req->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
}

/* The client connection's socket, for poll(); -1 for an HTTP/2 stream,
 * whose connection is a secondary one, with no socket of its own. */
static int client_socket_fd(request_rec *r)
{
    apr_socket_t *sock;
    apr_os_sock_t fd;

    if (r->connection->master != NULL) {
        return -1;
    }
    sock = ap_get_conn_socket(r->connection);
    if (sock == NULL || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return -1;
    }
    return fd;
}

/* Queue one STDIN record of request body, and the end record once the body
 * is all read. Called only when the app can take more, so the client is
 * read only as fast as the app consumes. The read does not block when the
 * client's socket can be polled: a client may wait for the response to
 * begin before it sends more (an echo), and the app's output must not
 * wait behind the read. */
static fcgix_step_t fill_stdin(fcgix_req_t *req)
{
    unsigned char *content = req->wbuf + req->wlen + FCGIX_HEADER_LEN;
    apr_size_t len = FCGIX_BODY_CHUNK;
    apr_read_type_e block = APR_NONBLOCK_READ;
    int status;

    if (req->client_fd == CLIENT_FD_UNKNOWN) { /* only bodies need it */
        req->client_fd = client_socket_fd(req->r);
    }
    /* httpd sends "100 Continue" only on a blocking read */
    if (req->client_fd < 0
        || (req->r->expecting_100 && req->timing.outcome.bytes_in == 0)) {
        block = APR_BLOCK_READ;
    }

    status = fcgix_body_next(&req->body, req->r, req->app->path, block, content,
                             &len);
    if (status != OK) {
        return end_with(req, status);
    }
    if (len == 0 && !fcgix_body_done(&req->body)) {
        req->client_wait = 1; /* pump() polls the client too */
        return FCGIX_STEP_CONTINUE;
    }
    if (len > 0) {
        fcgix_rec_header(req->wbuf + req->wlen, FCGIX_STDIN, REQUEST_ID,
                         (uint16_t)len, 0);
        req->wlen += FCGIX_HEADER_LEN + len;
        req->timing.outcome.bytes_in += len;
    }
    if (fcgix_body_done(&req->body)) {
        queue_stdin_end(req);
    }
    else if (len > 0 && req->timing.outcome.bytes_in == len) {
        widen_send_buffer(req); /* the first record, and more to come */
    }
    return FCGIX_STEP_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* App to server: records                                             */
/* ------------------------------------------------------------------ */

/* STDOUT data: header bytes until the blank line, body after it; for an
 * authorizer, all of it is kept (fcgi_auth.c). */
static fcgix_step_t on_stdout(fcgix_req_t *req, const unsigned char *data,
                              size_t len)
{
    size_t used;
    fcgix_step_t st;
    int found;

    if (req->auth.bb) {
        return fcgix_auth_capture(req, data, len);
    }
    if (req->sendfile) {
        return FCGIX_STEP_CONTINUE; /* the file is the body, not this */
    }
    if (!req->headers_done) {
        found = fcgix_hdrscan(&req->scan, (const char *)data, len, &used);
        if (found < 0) {
            return fcgix_headers_refuse(req);
        }
        st = fcgix_headers_collect(req, data, used);
        if (st != FCGIX_STEP_CONTINUE || !found) {
            return st;
        }
        st = fcgix_headers_finish(req);
        if (st != FCGIX_STEP_CONTINUE || req->sendfile) {
            return st;
        }
        data += used;
        len -= used;
    }
    if (len > 0) {
        /* Transient: the bytes live in the read buffer until the brigade
         * is passed at the end of this read; httpd copies what it keeps. */
        APR_BRIGADE_INSERT_TAIL(
            req->out_bb,
            apr_bucket_transient_create((const char *)data, len,
                                        req->r->connection->bucket_alloc));
        req->unflushed = 1;
        req->timing.outcome.bytes_out += len;
    }
    return FCGIX_STEP_CONTINUE;
}

static const char *protocol_status_name(int status)
{
    switch (status) {
    case FCGIX_CANT_MPX_CONN:
        return "FCGI_CANT_MPX_CONN";
    case FCGIX_OVERLOADED:
        return "FCGI_OVERLOADED";
    case FCGIX_UNKNOWN_ROLE:
        return "FCGI_UNKNOWN_ROLE";
    default:
        return "an unknown protocolStatus";
    }
}

static fcgix_step_t on_end_request(fcgix_req_t *req, const fcgix_event_t *ev)
{
    req->ended = 1;
    if (ev->protocol_status != FCGIX_REQUEST_COMPLETE) {
        return fcgix_req_fail(req, HTTP_SERVICE_UNAVAILABLE, FCGIX_LOGNO(00034),
                              "refused the request with %s",
                              protocol_status_name(ev->protocol_status));
    }
    if (ev->app_status != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                      FCGIX_LOGNO(00035) "FastCGI app %s: request ended "
                                         "with appStatus %u",
                      req->app->path, (unsigned)ev->app_status);
    }
    fcgix_stderr_end(&req->err, req->r, req->app->path);
    if (req->auth.bb) {
        return FCGIX_STEP_FINISHED; /* the caller judges the kept response */
    }
    if (!req->headers_done && !req->sendfile) {
        /* No blank line: let httpd's scanner say what is wrong (500,
         * "End of script output before headers"). */
        fcgix_headers_finish(req);
    }
    return FCGIX_STEP_FINISHED;
}

static fcgix_step_t on_event(fcgix_req_t *req, const fcgix_event_t *ev)
{
    switch (ev->type) {
    case FCGIX_STDOUT:
        return on_stdout(req, ev->data, ev->len);
    case FCGIX_STDERR:
        fcgix_stderr_take(&req->err, req->r, req->app->path, ev->data, ev->len);
        return FCGIX_STEP_CONTINUE;
    case FCGIX_END_REQUEST:
        return on_end_request(req, ev);
    default:
        /* GET_VALUES_RESULT or UNKNOWN_TYPE: we sent no management
         * record, so there is nothing to match them with. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                      FCGIX_LOGNO(00036) "FastCGI app %s: ignored %s",
                      req->app->path, fcgix_type_name(ev->type));
        return FCGIX_STEP_CONTINUE;
    }
}

/* Hand the body gathered from one read to httpd, with a flush when
 * asked. A failure means the client went away. */
static apr_status_t pass_output(fcgix_req_t *req, int flush)
{
    conn_rec *c = req->r->connection;
    apr_status_t rv;

    if (flush) {
        APR_BRIGADE_INSERT_TAIL(req->out_bb,
                                apr_bucket_flush_create(c->bucket_alloc));
        req->unflushed = 0;
    }
    if (APR_BRIGADE_EMPTY(req->out_bb)) {
        return APR_SUCCESS;
    }
    rv = ap_pass_brigade(req->out, req->out_bb);
    apr_brigade_cleanup(req->out_bb);
    return rv == APR_SUCCESS && c->aborted ? APR_ECONNABORTED : rv;
}

/* Bytes after END_REQUEST: the response END_REQUEST closed is complete
 * and goes out as it is, but the connection is out of step with the
 * protocol, so it is never kept for another request. Said once. */
static void note_trailing_bytes(fcgix_req_t *req)
{
    if (req->trailing) {
        return;
    }
    req->trailing = 1;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                  FCGIX_LOGNO(00302) "FastCGI app %s sent bytes after "
                                     "FCGI_END_REQUEST; they are ignored and "
                                     "the connection is closed",
                  req->app->path);
}

/* Decode everything one recv() brought. */
static fcgix_step_t decode_input(fcgix_req_t *req, size_t n)
{
    const unsigned char *p = req->rbuf;
    fcgix_event_t ev;
    size_t used;
    fcgix_step_t st;
    int rc;

    while (n > 0 || !fcgix_dec_done(&req->dec)) {
        rc = fcgix_dec_step(&req->dec, p, n, &used, &ev);
        p += used;
        n -= used;
        if (rc == FCGIX_AGAIN) {
            return FCGIX_STEP_CONTINUE;
        }
        if (rc < 0) {
            return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00037),
                                  "malformed response: %s", fcgix_strerror(rc));
        }
        st = on_event(req, &ev);
        if (ev.type == FCGIX_END_REQUEST && n > 0) {
            note_trailing_bytes(req);
        }
        if (st != FCGIX_STEP_CONTINUE) {
            return st;
        }
    }
    return FCGIX_STEP_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* The pump                                                            */
/* ------------------------------------------------------------------ */

/* The client went away: tell the app (FCGI_ABORT_REQUEST), give it a
 * moment to end the request, then close. */
static fcgix_step_t abort_request(fcgix_req_t *req)
{
    unsigned char rec[FCGIX_HEADER_LEN];
    struct pollfd pfd;
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(ABORT_WAIT_MS);
    ssize_t n;

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                  FCGIX_LOGNO(00040) "FastCGI app %s: client went away; "
                                     "sending FCGI_ABORT_REQUEST",
                  req->app->path);
    fcgix_rec_abort_request(rec, REQUEST_ID);
    if (send(req->fd, rec, sizeof(rec), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        pfd.fd = req->fd;
        pfd.events = POLLIN;
        /* Drain until the app closes or the short wait is over; what it
         * says no longer matters. */
        while (apr_time_now() < deadline && poll(&pfd, 1, ABORT_WAIT_MS) > 0) {
            n = recv(req->fd, req->rbuf, READ_BUF_SIZE, MSG_DONTWAIT);
            if (n <= 0) {
                break;
            }
        }
    }
    close_backend(req);
    req->status = OK;
    return FCGIX_STEP_FAILED;
}

static fcgix_step_t on_readable(fcgix_req_t *req)
{
    ssize_t n = recv(req->fd, req->rbuf, READ_BUF_SIZE, 0);
    fcgix_step_t st;

    if (n <= 0 && req->reused && !req->received && retry_is_safe(req)) {
        return FCGIX_STEP_RETRY;
    }
    if (n <= 0 && mux_may_retry(req)) {
        return FCGIX_STEP_RETRY;
    }
    if (n < 0 && may_go_elsewhere(req, errno)) {
        return FCGIX_STEP_RETRY;
    }
    /* A member of a balanced server that closes before answering (its
     * process was killed) is passed over like one that resets. */
    if (n == 0 && req->lease && req->lease->any_error
        && may_go_elsewhere(req, ECONNRESET)) {
        return FCGIX_STEP_RETRY;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return FCGIX_STEP_CONTINUE;
        }
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00041),
                              "reading the response failed: %s",
                              strerror(errno));
    }
    if (n == 0 && req->muxed) {
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00060),
                              "the request ended on its multiplexed "
                              "connection before FCGI_END_REQUEST (the line "
                              "before says why)");
    }
    if (n == 0) {
        return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00042),
                              "closed the connection before FCGI_END_REQUEST");
    }
    if (!req->received) {
        req->timing.first_byte = apr_time_now();
        if (req->lease && req->lease->answering) {
            req->lease->answering(req->lease->baton);
        }
    }
    req->received = 1;
    st = decode_input(req, (size_t)n);
    if (st == FCGIX_STEP_FAILED) {
        return st;
    }
    if (req->headers_done
        && pass_output(req, req->flush_always) != APR_SUCCESS) {
        return abort_request(req);
    }
    return st;
}

/* Whether FCGI_DATA (FILTER role) remains to be queued. */
static int data_left(const fcgix_req_t *req)
{
    return req->data_bb && !req->data_done;
}

/* FILTER role: queue one FCGI_DATA record of the response being
 * filtered, and the empty one at its end. */
static fcgix_step_t fill_data(fcgix_req_t *req)
{
    unsigned char *content = req->wbuf + req->wlen + FCGIX_HEADER_LEN;
    apr_size_t len = FCGIX_BODY_CHUNK;
    apr_bucket *rest;
    apr_status_t rv;

    req->body.taken = 1; /* what goes cannot be sent again: no retry */
    rv = apr_brigade_flatten(req->data_bb, (char *)content, &len);
    if (rv == APR_SUCCESS && len > 0) {
        rv = apr_brigade_partition(req->data_bb, (apr_off_t)len, &rest);
    }
    if (rv != APR_SUCCESS) {
        return fcgix_req_fail(
            req, HTTP_INTERNAL_SERVER_ERROR, FCGIX_LOGNO(00038),
            "reading the response to filter failed: %pm", &rv);
    }
    if (len > 0) {
        while (APR_BRIGADE_FIRST(req->data_bb) != rest) {
            apr_bucket_delete(APR_BRIGADE_FIRST(req->data_bb));
        }
        fcgix_rec_header(req->wbuf + req->wlen, FCGIX_DATA, REQUEST_ID,
                         (uint16_t)len, 0);
        req->wlen += FCGIX_HEADER_LEN + len;
        return FCGIX_STEP_CONTINUE;
    }
    fcgix_rec_header(req->wbuf + req->wlen, FCGIX_DATA, REQUEST_ID, 0, 0);
    req->wlen += FCGIX_HEADER_LEN;
    req->data_done = 1;
    return FCGIX_STEP_CONTINUE;
}

static fcgix_step_t on_writable(fcgix_req_t *req)
{
    fcgix_step_t st = FCGIX_STEP_CONTINUE;

    if (req->wlen == 0 && !req->stdin_done) {
        st = fill_stdin(req);
    }
    else if (req->wlen == 0 && data_left(req)) {
        st = fill_data(req);
    }
    if (st != FCGIX_STEP_CONTINUE) {
        return st;
    }
    if (send_pending(req) < 0) {
        /* The app stopped reading its input (it may have answered
         * already): stop sending and keep reading. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, errno, req->r,
                      FCGIX_LOGNO(00043) "FastCGI app %s closed its input",
                      req->app->path);
        req->wlen = req->wpos = 0;
        req->stdin_done = 1;
        req->stdin_cut = 1;
        req->data_done = 1;
    }
    return FCGIX_STEP_CONTINUE;
}

/* The idle timeout (the client's, httpd's Timeout, while STDIN waits for
 * it), or less when the exchange's busy time (FcgidBusyTimeout) ends
 * sooner. */
static int poll_wait_ms(const fcgix_req_t *req)
{
    int wait = req->client_wait ? req->client_ms : req->idle_ms;
    apr_time_t left;

    if (req->busy_until == 0) {
        return wait;
    }
    left = req->busy_until - apr_time_now();
    if (left <= 0) {
        return 0;
    }
    return apr_time_as_msec(left) < wait ? (int)apr_time_as_msec(left) + 1
                                         : wait;
}

/* What to poll for: the app's output always; room for more input when
 * there is some to send; the client's socket while STDIN waits for it.
 * Returns the number of pollfds. */
static int poll_events(const fcgix_req_t *req, struct pollfd pfd[2])
{
    pfd[0].fd = req->fd;
    pfd[0].events = POLLIN;
    pfd[0].revents = pfd[1].revents = 0;
    if (req->wlen > 0 || (!req->stdin_done && !req->client_wait)
        || (req->stdin_done && data_left(req))) {
        pfd[0].events |= POLLOUT;
    }
    if (!req->client_wait) {
        return 1;
    }
    pfd[1].fd = req->client_fd;
    pfd[1].events = POLLIN;
    return 2;
}

/* Wait for the backend (and the client, see poll_events). When nothing is
 * ready now, the app paused: flush what the client has not seen yet, then
 * wait up to the idle timeout. Returns poll's result. */
static int wait_backend(fcgix_req_t *req, struct pollfd *pfd, int nfds)
{
    int n;

    /* Look without waiting only when there is something to flush. */
    if (req->unflushed) {
        do {
            n = poll(pfd, (nfds_t)nfds, 0);
        } while (n < 0 && errno == EINTR);
        if (n != 0) {
            return n;
        }
        if (pass_output(req, 1) != APR_SUCCESS) {
            return -2;
        }
    }
    do {
        n = poll(pfd, (nfds_t)nfds, poll_wait_ms(req));
    } while (n < 0 && errno == EINTR);
    return n;
}

/* The client sent no more body for httpd's Timeout while the app waited
 * for it: the client's fault, as when a blocking read times out. */
static fcgix_step_t client_timed_out(fcgix_req_t *req)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                  FCGIX_LOGNO(00027) "FastCGI app %s: the client sent "
                                     "nothing of the rest of the request "
                                     "body for %d s (Timeout)",
                  req->app->path, req->client_ms / 1000);
    return end_with(req, HTTP_REQUEST_TIME_OUT);
}

static fcgix_step_t pump(fcgix_req_t *req)
{
    struct pollfd pfd[2];
    fcgix_step_t st = FCGIX_STEP_CONTINUE;
    int n, nfds;

    /* The send buffer of a new connection is empty, and a kept one was
     * seen idle when it was taken: send at once, and poll only for what
     * did not fit (one poll() less per request). Should a kept one have
     * been closed since, the send fails or the read finds EOF, and the
     * request goes again on a new connection (FCGIX_STEP_RETRY). */
    if (req->wlen > 0) {
        st = on_writable(req);
    }
    while (st == FCGIX_STEP_CONTINUE) {
        nfds = poll_events(req, pfd);
        n = wait_backend(req, pfd, nfds);
        if (n == -2) {
            return abort_request(req);
        }
        /* FcgidBusyTimeout: checked on every turn, also for an app that
         * never pauses. */
        if (req->busy_until && apr_time_now() >= req->busy_until) {
            apr_table_setn(req->r->notes, FCGIX_NOTE_HUNG, "1");
            return fcgix_req_fail(req, HTTP_GATEWAY_TIME_OUT,
                                  FCGIX_LOGNO(00908),
                                  "busy for more than %d s (FcgidBusyTimeout)",
                                  req->opts.busy_timeout);
        }
        if (n == 0 && req->client_wait) {
            return client_timed_out(req);
        }
        if (n == 0) {
            /* The process manager replaces a process that hangs. */
            apr_table_setn(req->r->notes, FCGIX_NOTE_HUNG, "1");
            return fcgix_req_fail(
                req, HTTP_GATEWAY_TIME_OUT, FCGIX_LOGNO(00044),
                "no response for %d s (-idle-timeout)", req->idle_ms / 1000);
        }
        if (n < 0) {
            return fcgix_req_fail(req, HTTP_BAD_GATEWAY, FCGIX_LOGNO(00045),
                                  "poll failed: %s", strerror(errno));
        }
        if (nfds == 2 && pfd[1].revents) {
            req->client_wait = 0; /* more body, or its end, or an error */
            st = on_writable(req);
        }
        else if (pfd[0].revents & POLLOUT) {
            st = on_writable(req);
        }
        if (st == FCGIX_STEP_CONTINUE && (pfd[0].revents & ~POLLOUT)) {
            st = on_readable(req);
        }
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

fcgix_req_t *fcgix_req_new(request_rec *r, const fcgix_app_t *app)
{
    fcgix_req_t *req = apr_pcalloc(r->pool, sizeof(*req));
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    int idle;

    req->r = r;
    req->app = app;
    req->opts = fcgix_app_effective(&app->opts);
    req->dconf = fcgix_dir_conf(r->per_dir_config);
    req->fd = -1;
    apr_pool_cleanup_register(r->pool, req, close_backend,
                              apr_pool_cleanup_null);
    req->status = OK;
    req->timing.outcome.error = FCGIX_ERR_NONE;
    /* Unset -idle-timeout: httpd's Timeout (mod_fastcgi's 30 s cut slow
     * pages short). */
    idle = req->opts.idle_timeout > 0 ? req->opts.idle_timeout
                                      : (int)apr_time_sec(r->server->timeout);
    req->idle_ms = idle * 1000;
    req->client_fd = CLIENT_FD_UNKNOWN;
    req->client_ms = (int)apr_time_as_msec(r->server->timeout);
    if (req->opts.busy_timeout > 0) {
        req->busy_until =
            apr_time_now() + apr_time_from_sec(req->opts.busy_timeout);
    }
    req->wbuf = apr_palloc(r->pool, WRITE_BUF_SIZE);
    req->rbuf = apr_palloc(r->pool, READ_BUF_SIZE);
    fcgix_body_init(&req->body, r);
    req->hdr_bb = apr_brigade_create(r->pool, ba);
    req->out_bb = apr_brigade_create(r->pool, ba);
    req->out = r->output_filters;
    fcgix_dec_init(&req->dec, REQUEST_ID);
    fcgix_hdrscan_init(&req->scan);
    return req;
}

/* Connect, send the request, pump the exchange. */
static fcgix_step_t exchange(fcgix_req_t *req, const apr_table_t *env)
{
    fcgix_step_t st = connect_backend(req);

    if (st == FCGIX_STEP_CONTINUE) {
        st = send_params(req, env);
    }
    if (st == FCGIX_STEP_CONTINUE && req->body.small) {
        st = queue_small_body(req);
    }
    else if (st == FCGIX_STEP_CONTINUE && fcgix_body_done(&req->body)) {
        queue_stdin_end(req);
    }
    if (st == FCGIX_STEP_CONTINUE) {
        fcgix_headers_start_nph(req);
        st = pump(req);
    }
    return st;
}

/* Forget a dead kept connection's exchange before trying a new one;
 * nothing was received and no body was taken. */
static void reset_exchange(fcgix_req_t *req)
{
    close_backend(req);
    req->wlen = req->wpos = 0;
    req->stdin_done = 0;
    req->headers_done = 0;
    req->timing.outcome.bytes_in = 0; /* the small body goes again */
    fcgix_dec_init(&req->dec, REQUEST_ID);
    fcgix_hdrscan_init(&req->scan);
}

/* A PM-run app's process is free once the exchange is over: say so
 * before the end of the response goes out, or a client quick to send
 * its next request could find the process still taken. */
static void give_back_process(fcgix_req_t *req)
{
    if (req->lease) {
        req->lease->done(req->lease->baton, req->received);
    }
}

/* The process reset our queued request (may_go_elsewhere): send it to
 * another process of the app, which the PM may have to start. */
static fcgix_step_t retry_on_another_process(fcgix_req_t *req,
                                             const apr_table_t *env)
{
    const fcgix_app_t *app = req->app;
    int status;

    req->process_retries++;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, req->r,
                  FCGIX_LOGNO(00106) "FastCGI app %s: the process on %s "
                                     "went away before answering; sending "
                                     "the request to another one",
                  app->path, fcgix_connect_address(req->app, req->r->pool));
    reset_exchange(req);
    leave_place(req);
    status = req->lease->next(req->r, req->lease->baton, &app, ECONNRESET);
    if (status != OK) {
        return end_with(req, status);
    }
    req->app = app;
    return exchange(req, env);
}

/* Whether the app sent more after END_REQUEST than the read that
 * brought END_REQUEST took: a byte waiting now would be read as the
 * start of the next request's answer. An EOF (the app closed a kept
 * connection) is not worth a warning, but ends the connection too. */
static int more_after_end(fcgix_req_t *req)
{
    char byte;
    ssize_t n = recv(req->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n > 0) {
        note_trailing_bytes(req);
    }
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Keep the connection for the next request when the exchange ended
 * cleanly: END_REQUEST with nothing after it, and the whole STDIN stream
 * sent (an unread STDIN record would be taken by the app as the start of
 * the next request). Otherwise close it. */
static void release_backend(fcgix_req_t *req, fcgix_step_t st)
{
    if (req->fd >= 0 && !req->muxed && req->opts.keep_conn == 1
        && st == FCGIX_STEP_FINISHED && req->ended && fcgix_dec_done(&req->dec)
        && req->stdin_done && !req->stdin_cut && req->wlen == 0
        && !req->trailing && !more_after_end(req)) {
        req->conn.fd = req->fd;
        req->conn.uses++;
        if (req->lease && req->lease->keep) {
            req->lease->keep(req->lease->baton, req->fd);
        }
        else {
            fcgix_conns_give(req->app, &req->conn);
        }
        req->fd = -1;
    }
    close_backend(req);
    leave_place(req);
}

fcgix_step_t fcgix_req_run(fcgix_req_t *req, const apr_table_t *env)
{
    fcgix_step_t st = exchange(req, env);

    if (st == FCGIX_STEP_RETRY && req->muxed) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                      FCGIX_LOGNO(00058) "FastCGI app %s: the multiplexed "
                                         "connection closed before the "
                                         "answer began; sending the request "
                                         "again",
                      req->app->path);
        reset_exchange(req);
        req->mux_retried = 1;
        st = exchange(req, env);
    }
    if (st == FCGIX_STEP_RETRY && req->reused) {
        /* The kept connection had been closed by the app (php-fpm's
         * pm.max_requests, an idle timeout): once more on a new one. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                      FCGIX_LOGNO(00046) "FastCGI app %s: kept connection "
                                         "was closed; retrying on a new one",
                      req->app->path);
        reset_exchange(req);
        /* A process that closed its idle connection is often leaving
         * (php-cgi after PHP_FCGI_MAX_REQUESTS): a reset on the new one,
         * before any answer, is its listening socket closing with our
         * connection not yet accepted, so even a request with a body
         * (kept whole) goes to another process. */
        req->kept_was_closed = 1;
        st = exchange(req, env);
    }
    while (st == FCGIX_STEP_RETRY && req->lease) {
        st = retry_on_another_process(req, env);
    }
    return st;
}

void fcgix_req_finish(fcgix_req_t *req, fcgix_step_t st)
{
    release_backend(req, st);
    give_back_process(req);
    fcgix_req_account(req, st);
}

int fcgix_serve(request_rec *r, const fcgix_app_t *app,
                const fcgix_process_ops_t *rt)
{
    fcgix_req_t *req = fcgix_req_new(r, app);
    apr_off_t spooled_len;
    apr_table_t *env;
    fcgix_step_t st;
    int status;

    req->lease = rt;
    req->body.max_body = req->opts.max_body;
    status =
        fcgix_body_prepare(&req->body, r, app->path, req->dconf, &spooled_len);
    if (status == OK) {
        status = fcgix_body_keep_small(&req->body, r, req->opts.keep_conn);
    }
    if (status != OK) {
        return status;
    }
    env = fcgix_req_env(req, spooled_len);
    fcgix_req_begin(req);
    st = fcgix_req_run(req, env);
    fcgix_req_finish(req, st);
    if (st == FCGIX_STEP_FINISHED && req->status == OK && req->sendfile) {
        return fcgix_sendfile_serve(r, req->sendfile);
    }
    if (st == FCGIX_STEP_FINISHED && req->status == OK && req->headers_done) {
        APR_BRIGADE_INSERT_TAIL(
            req->out_bb, apr_bucket_eos_create(r->connection->bucket_alloc));
        pass_output(req, 0);
    }
    return req->status;
}

/* The original response's validators and length describe the body the
 * filter replaces, not the app's. */
static void forget_entity_headers(request_rec *r)
{
    static const char *const names[] = {"Content-Length", "ETag",
                                        "Last-Modified",  "Content-MD5",
                                        "Accept-Ranges",  NULL};
    int i;

    for (i = 0; names[i]; i++) {
        apr_table_unset(r->headers_out, names[i]);
        apr_table_unset(r->err_headers_out, names[i]);
    }
}

int fcgix_filter_run(ap_filter_t *f, const fcgix_app_t *app,
                     apr_bucket_brigade *data, apr_time_t last_mod,
                     const fcgix_process_ops_t *rt)
{
    request_rec *r = f->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    fcgix_req_t *req = fcgix_req_new(r, app);
    apr_off_t len = 0;
    apr_table_t *env;
    fcgix_step_t st;

    req->lease = rt;
    req->auth.role = FCGIX_FILTER;
    req->body.eos = 1; /* the handler had the request body */
    req->opts.keep_conn = 0;
    req->opts.nph = 0;
    req->data_bb = data;
    req->out = f->next;
    apr_brigade_length(data, 1, &len);
    env = fcgix_req_env(req, -1);
    apr_table_unset(env, "CONTENT_LENGTH");
    apr_table_setn(env, "FCGI_DATA_LENGTH", apr_off_t_toa(r->pool, len));
    apr_table_setn(
        env, "FCGI_DATA_LAST_MOD",
        apr_psprintf(r->pool, "%" APR_TIME_T_FMT, apr_time_sec(last_mod)));
    forget_entity_headers(r);
    fcgix_req_begin(req);
    st = fcgix_req_run(req, env);
    fcgix_req_finish(req, st);
    if (st == FCGIX_STEP_FAILED && req->headers_done) {
        return APR_SUCCESS; /* cut short: end_with() passed the error */
    }
    if (req->status == OK) {
        APR_BRIGADE_INSERT_TAIL(req->out_bb, apr_bucket_eos_create(ba));
        return pass_output(req, 0);
    }
    /* Nothing went out: the HTTP header filter makes the error page. */
    apr_brigade_cleanup(req->out_bb);
    APR_BRIGADE_INSERT_TAIL(
        req->out_bb, ap_bucket_error_create(req->status, NULL, r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(req->out_bb, apr_bucket_eos_create(ba));
    return ap_pass_brigade(req->out, req->out_bb);
}
