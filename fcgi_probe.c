/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_probe.c
 * @brief An active health check's request (see fcgi_probe.h).
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "fcgi_probe.h"
#include "fcgi_proto.h"

#define PROBE_ID 1
/* The request is small: BEGIN_REQUEST, a few PARAMS, the empty STDIN. */
#define PROBE_REQUEST_MAX 4096
/* Header bytes of the answer kept for its status; the body is read and
 * dropped, up to PROBE_READ_MAX bytes in all. */
#define PROBE_HEADERS_MAX 8192
#define PROBE_READ_MAX (1 << 20)

typedef struct {
    int fd;
    long long deadline_ms;
    char *why;
    size_t why_size;
    /* the answer */
    fcgix_dec_t dec;
    fcgix_hdrscan_t scan;
    char headers[PROBE_HEADERS_MAX];
    size_t header_len;
    int headers_done;
    size_t total;
} probe_t;

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(probe_t *pr, const char *what)
{
    snprintf(pr->why, pr->why_size, "%s", what);
    return -1;
}

/* Wait until @fd is ready for @events or the deadline passes. */
static int wait_for(probe_t *pr, short events)
{
    struct pollfd pfd;
    long long left;
    int n;

    pfd.fd = pr->fd;
    pfd.events = events;
    do {
        left = pr->deadline_ms - mono_ms();
        if (left <= 0) {
            return fail(pr, "no answer in time");
        }
        n = poll(&pfd, 1, (int)left);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return fail(pr, "no answer in time");
    }
    return n < 0 ? fail(pr, strerror(errno)) : 0;
}

static size_t build_request(unsigned char *buf, const char *script,
                            const char *uri)
{
    static const char *const fixed[][2] = {
        {"GATEWAY_INTERFACE", "CGI/1.1"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"SERVER_SOFTWARE", "mod_fastcgi_x health check"},
        {"REQUEST_METHOD", "GET"},
        {"SERVER_NAME", "localhost"},
        {"REMOTE_ADDR", "127.0.0.1"}};
    fcgix_params_t pk;
    size_t i, n = FCGIX_BEGIN_REQUEST_LEN;
    const char *q = strchr(uri, '?');
    const char *query = q ? q + 1 : "";
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);

    fcgix_rec_begin_request(buf, PROBE_ID, FCGIX_RESPONDER, 0);
    fcgix_params_init(&pk, buf + n, PROBE_REQUEST_MAX - n - FCGIX_HEADER_LEN,
                      PROBE_ID, FCGIX_MAX_CONTENT_LEN);
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        fcgix_params_add(&pk, fixed[i][0], strlen(fixed[i][0]), fixed[i][1],
                         strlen(fixed[i][1]));
    }
    fcgix_params_add(&pk, "SCRIPT_FILENAME", 15, script, strlen(script));
    fcgix_params_add(&pk, "SCRIPT_NAME", 11, uri, path_len);
    fcgix_params_add(&pk, "QUERY_STRING", 12, query, strlen(query));
    fcgix_params_add(&pk, "REQUEST_URI", 11, uri, strlen(uri));
    n += fcgix_params_close(&pk, 1);
    fcgix_stream_header(buf + n, FCGIX_STDIN, PROBE_ID, 0, 0);
    return n + FCGIX_HEADER_LEN;
}

static int send_request(probe_t *pr, const unsigned char *buf, size_t len)
{
    size_t off = 0;
    ssize_t n;

    while (off < len) {
        n = send(pr->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
        }
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
                 && errno != EINTR) {
            return fail(pr, strerror(errno));
        }
        else if (wait_for(pr, POLLOUT) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Keep the answer's header block (STDOUT up to the blank line). */
static int take_stdout(probe_t *pr, const unsigned char *data, size_t len)
{
    size_t used, room;
    int found;

    if (pr->headers_done) {
        return 0;
    }
    found = fcgix_hdrscan(&pr->scan, (const char *)data, len, &used);
    if (found < 0) {
        return fail(pr, "malformed response headers");
    }
    room = sizeof(pr->headers) - pr->header_len;
    if (used > room) {
        return fail(pr, "response headers too long");
    }
    memcpy(pr->headers + pr->header_len, data, used);
    pr->header_len += used;
    pr->headers_done = found;
    return 0;
}

/* Feed what was read to the decoder. 1 at END_REQUEST, 0 for more, -1. */
static int take_input(probe_t *pr, const unsigned char *in, size_t len)
{
    fcgix_event_t ev;
    size_t used;
    int rc;

    while (len > 0) {
        rc = fcgix_dec_step(&pr->dec, in, len, &used, &ev);
        in += used;
        len -= used;
        if (rc == FCGIX_AGAIN) {
            break;
        }
        if (rc != FCGIX_OK) {
            return fail(pr, fcgix_strerror(rc));
        }
        if (ev.type == FCGIX_STDOUT && take_stdout(pr, ev.data, ev.len)) {
            return -1;
        }
        if (ev.type == FCGIX_END_REQUEST) {
            return 1;
        }
    }
    return 0;
}

static int read_answer(probe_t *pr)
{
    unsigned char buf[16384];
    ssize_t n;
    int rc;

    for (;;) {
        if (wait_for(pr, POLLIN) != 0) {
            return -1;
        }
        n = recv(pr->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            return fail(pr, n == 0 ? "closed before the end of the answer"
                                   : strerror(errno));
        }
        pr->total += (size_t)n;
        if (pr->total > PROBE_READ_MAX) {
            return fail(pr, "answer too long");
        }
        rc = take_input(pr, buf, (size_t)n);
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
    }
}

/* The status the header block says. */
static int answer_status(probe_t *pr)
{
    const char *p = pr->headers;
    size_t left = pr->header_len, used;
    fcgix_header_t h;
    int location = 0;

    if (!pr->headers_done) {
        return fail(pr, "the answer has no complete header block");
    }
    while (fcgix_header_next(p, left, &used, &h) == 1) {
        if (h.name_len == 6 && !strncasecmp(h.name, "Status", 6)) {
            int code = fcgix_status_code(h.value, h.value_len);

            return code > 0 ? code : fail(pr, "a malformed Status header");
        }
        location |= h.name_len == 8 && !strncasecmp(h.name, "Location", 8);
        p += used;
        left -= used;
    }
    return location ? 302 : 200;
}

int fcgix_probe(int fd, const char *script, const char *uri, int timeout_ms,
                char *why, size_t why_size)
{
    unsigned char req[PROBE_REQUEST_MAX];
    static probe_t zero;
    probe_t pr = zero;

    pr.fd = fd;
    pr.deadline_ms = mono_ms() + timeout_ms;
    pr.why = why;
    pr.why_size = why_size;
    fcgix_dec_init(&pr.dec, PROBE_ID);
    fcgix_hdrscan_init(&pr.scan);
    if (strlen(script) > 1024 || strlen(uri) > 1024) {
        return fail(&pr, "path too long");
    }
    if (send_request(&pr, req, build_request(req, script, uri)) != 0
        || read_answer(&pr) != 0) {
        return -1;
    }
    return answer_status(&pr);
}
