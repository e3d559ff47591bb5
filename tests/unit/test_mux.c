/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_mux.c
 * @brief cmocka unit tests of fcgi_mux, the multiplexer of -multiplex,
 *        with its real thread: the test plays the app on one end of a
 *        socket pair (the "connection") and the requests' threads on the
 *        pairs the mux hands out. Covered: the question goes before the
 *        first request, FCGI_KEEP_CONN is forced, ids are rewritten both
 *        ways, a closed request is aborted alone, a request that falls
 *        FCGIX_MUX_SLOT_BYTES behind is cut while the other goes on, an
 *        app that says no (or nothing) is used one request per connection,
 *        a broken connection fails its requests, a record for an id not in
 *        flight breaks the connection.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_mux.h"
#include "fcgi_proto.h"

#define KEY "/run/app.sock"
#define WAIT_MS 3000

typedef struct {
    fcgix_mux_t *m;
    int app;  /* the test's end of the connection */
    int conn; /* the mux's end, offered */
    pthread_mutex_t lock;
    char log[8192];
    int errors;
} fixture_t;

typedef struct {
    int type, id;
    size_t len;
    unsigned char content[65536];
} rec_t;

static void capture(void *baton, int level, const char *msg)
{
    fixture_t *fx = baton;

    pthread_mutex_lock(&fx->lock);
    if (strlen(fx->log) + strlen(msg) + 2 < sizeof(fx->log)) {
        strcat(fx->log, msg);
        strcat(fx->log, "\n");
    }
    fx->errors += level == FCGIX_MUX_ERROR;
    pthread_mutex_unlock(&fx->lock);
}

static int logged(fixture_t *fx, const char *what)
{
    int found;

    pthread_mutex_lock(&fx->lock);
    found = strstr(fx->log, what) != NULL;
    pthread_mutex_unlock(&fx->lock);
    return found;
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    int sv[2];

    if (fx == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        return -1;
    }
    pthread_mutex_init(&fx->lock, NULL);
    fx->app = sv[0];
    fx->conn = sv[1];
    fx->m = fcgix_mux_start(capture, fx);
    *state = fx;
    return fx->m ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    fcgix_mux_stop(fx->m);
    close(fx->app);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    return 0;
}

/* ---- the wire --------------------------------------------------------- */

/* Read exactly @p n bytes within WAIT_MS; 0, or -1 (EOF, error, time). */
static int read_exact(int fd, void *buf, size_t n)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    size_t got = 0;
    ssize_t k;

    while (got < n) {
        if (poll(&pfd, 1, WAIT_MS) <= 0) {
            return -1;
        }
        k = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            return -1;
        }
        got += k > 0 ? (size_t)k : 0;
    }
    return 0;
}

static void write_all(int fd, const void *buf, size_t n)
{
    struct pollfd pfd = {fd, POLLOUT, 0};
    size_t done = 0;
    ssize_t k;

    while (done < n) {
        assert_true(poll(&pfd, 1, WAIT_MS) > 0);
        k = send(fd, (const char *)buf + done, n - done,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
        assert_true(k > 0 || errno == EAGAIN);
        done += k > 0 ? (size_t)k : 0;
    }
}

static int read_rec(int fd, rec_t *r)
{
    unsigned char h[FCGIX_HEADER_LEN], pad[256];

    if (read_exact(fd, h, sizeof(h)) < 0) {
        return -1;
    }
    r->type = h[1];
    r->id = (h[2] << 8) | h[3];
    r->len = ((size_t)h[4] << 8) | h[5];
    if ((r->len && read_exact(fd, r->content, r->len) < 0)
        || (h[6] && read_exact(fd, pad, h[6]) < 0)) {
        return -1;
    }
    return 0;
}

static void send_rec(int fd, int type, int id, const void *content, size_t len)
{
    unsigned char rec[FCGIX_HEADER_LEN + 65535];

    /* One write: a mux that breaks the connection on the header must not
     * fail the test's write of the content. */
    fcgix_rec_header(rec, (uint8_t)type, (uint16_t)id, (uint16_t)len, 0);
    if (len) {
        memcpy(rec + FCGIX_HEADER_LEN, content, len);
    }
    write_all(fd, rec, FCGIX_HEADER_LEN + len);
}

static void send_end(int fd, int id)
{
    unsigned char body[8] = {0};

    send_rec(fd, FCGIX_END_REQUEST, id, body, sizeof(body));
}

/* What a request's thread sends: BEGIN_REQUEST (no flags), empty PARAMS
 * and STDIN. */
static void send_request(int fd)
{
    unsigned char begin[FCGIX_BEGIN_REQUEST_LEN];

    fcgix_rec_begin_request(begin, 1, FCGIX_RESPONDER, 0);
    write_all(fd, begin, sizeof(begin));
    send_rec(fd, FCGIX_PARAMS, 1, NULL, 0);
    send_rec(fd, FCGIX_STDIN, 1, NULL, 0);
}

/* The app reads one request: BEGIN_REQUEST (FCGI_KEEP_CONN set), PARAMS,
 * STDIN. @return its id. */
static int app_reads_request(fixture_t *fx)
{
    rec_t r;
    int id;

    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_BEGIN_REQUEST);
    assert_int_equal(r.len, 8);
    assert_int_equal(r.content[2] & FCGIX_KEEP_CONN, FCGIX_KEEP_CONN);
    id = r.id;
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_PARAMS);
    assert_int_equal(r.id, id);
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_STDIN);
    assert_int_equal(r.id, id);
    return id;
}

/* The app answers FCGI_GET_VALUES: FCGI_MPXS_CONNS=@p mpxs, or an
 * answer without it (@p mpxs < 0). */
static void app_answers(fixture_t *fx, int mpxs)
{
    unsigned char c[64];
    size_t n = 0;

    if (mpxs >= 0) {
        c[n++] = 15;
        c[n++] = 1;
        memcpy(c + n, "FCGI_MPXS_CONNS", 15);
        n += 15;
        c[n++] = (unsigned char)('0' + mpxs);
    }
    c[n++] = 14;
    c[n++] = 1;
    memcpy(c + n, "FCGI_MAX_CONNS", 14);
    n += 14;
    c[n++] = '2';
    send_rec(fx->app, FCGIX_GET_VALUES_RESULT, 0, c, n);
}

static int wait_state(fixture_t *fx, fcgix_mux_state_t want)
{
    struct timespec ms = {0, 1000000};
    int i;

    for (i = 0; i < WAIT_MS; i++) {
        if (fcgix_mux_state(fx->m, KEY, NULL, NULL) == want) {
            return 1;
        }
        nanosleep(&ms, NULL);
    }
    return 0;
}

/* The first request goes with the question; @return its pair. */
static int probe(fixture_t *fx)
{
    int probing = 0, p;
    rec_t r;

    p = fcgix_mux_offer(fx->m, KEY, "app", fx->conn, 1, &probing);
    assert_true(p >= 0);
    assert_int_equal(probing, 1);
    send_request(p);
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_GET_VALUES);
    assert_int_equal(r.id, 0);
    assert_non_null(memmem(r.content, r.len, "FCGI_MPXS_CONNS", 15));
    assert_int_equal(app_reads_request(fx), 1);
    return p;
}

/* The first request, then the answer that the app multiplexes. */
static int probe_shared(fixture_t *fx)
{
    int p = probe(fx);

    app_answers(fx, 1);
    assert_true(wait_state(fx, FCGIX_MUX_SHARED));
    return p;
}

/* A request's thread reads STDOUT "@p text" then END_REQUEST, both with
 * id 1. */
static void request_gets(int p, const char *text)
{
    rec_t r;

    assert_int_equal(read_rec(p, &r), 0);
    assert_int_equal(r.type, FCGIX_STDOUT);
    assert_int_equal(r.id, 1);
    assert_int_equal(r.len, strlen(text));
    assert_memory_equal(r.content, text, r.len);
    assert_int_equal(read_rec(p, &r), 0);
    assert_int_equal(r.type, FCGIX_END_REQUEST);
    assert_int_equal(r.id, 1);
}

static int eof_within(int fd)
{
    char c;

    return read_exact(fd, &c, 1) < 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_shared_ids_rewritten(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2, id2, conns, inflight;

    p2 = fcgix_mux_join(fx->m, KEY);
    assert_true(p2 >= 0);
    send_request(p2);
    id2 = app_reads_request(fx);
    assert_int_equal(id2, 2);
    assert_int_equal(fcgix_mux_state(fx->m, KEY, &conns, &inflight),
                     FCGIX_MUX_SHARED);
    assert_int_equal(conns, 1);
    assert_int_equal(inflight, 2);
    /* Answered in the other order. */
    send_rec(fx->app, FCGIX_STDOUT, id2, "two", 3);
    send_end(fx->app, id2);
    send_rec(fx->app, FCGIX_STDOUT, 1, "one", 3);
    send_end(fx->app, 1);
    request_gets(p2, "two");
    request_gets(p1, "one");
    /* Done: the mux closes its ends, the connection stays. */
    assert_true(eof_within(p1));
    assert_true(eof_within(p2));
    fcgix_mux_state(fx->m, KEY, &conns, &inflight);
    assert_int_equal(conns, 1);
    assert_int_equal(inflight, 0);
    assert_true(logged(fx, "FCGIX00054"));
    close(p1);
    close(p2);
}

static void test_closed_request_aborted_alone(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2;
    rec_t r;

    p2 = fcgix_mux_join(fx->m, KEY);
    send_request(p2);
    assert_int_equal(app_reads_request(fx), 2);
    close(p1); /* its client went away */
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_ABORT_REQUEST);
    assert_int_equal(r.id, 1);
    /* What the app still sends for it goes nowhere; the other gets its
     * answer. */
    send_rec(fx->app, FCGIX_STDOUT, 1, "late", 4);
    send_end(fx->app, 1);
    send_rec(fx->app, FCGIX_STDOUT, 2, "two", 3);
    send_end(fx->app, 2);
    request_gets(p2, "two");
    assert_int_equal(fx->errors, 0);
    close(p2);
}

/* The app writes @p n bytes of STDOUT for @p id while the test does not
 * read that request's pair. */
typedef struct {
    int fd, id;
    size_t n;
} flood_t;

static void *flood(void *data)
{
    flood_t *f = data;
    static unsigned char chunk[60000];
    size_t sent = 0;

    memset(chunk, 'x', sizeof(chunk));
    while (sent < f->n) {
        send_rec(f->fd, FCGIX_STDOUT, f->id, chunk, sizeof(chunk));
        sent += sizeof(chunk);
    }
    return NULL;
}

static void test_slow_request_cut_others_go_on(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2;
    flood_t f = {fx->app, 1, 3 * FCGIX_MUX_SLOT_BYTES};
    pthread_t t;
    rec_t r;
    size_t got = 0;

    p2 = fcgix_mux_join(fx->m, KEY);
    send_request(p2);
    assert_int_equal(app_reads_request(fx), 2);
    assert_int_equal(pthread_create(&t, NULL, flood, &f), 0);
    /* The mux must keep reading: the flood ends, and the app learns that
     * request 1 was given up. */
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_ABORT_REQUEST);
    assert_int_equal(r.id, 1);
    pthread_join(t, NULL);
    send_end(fx->app, 1);
    send_rec(fx->app, FCGIX_STDOUT, 2, "two", 3);
    send_end(fx->app, 2);
    request_gets(p2, "two");
    /* The slow one finds part of its answer, then the end of its pair. */
    while (read_rec(p1, &r) == 0) {
        assert_int_equal(r.type, FCGIX_STDOUT);
        got += r.len;
    }
    assert_true(got > 0);
    assert_true(got < f.n);
    assert_true(logged(fx, "FCGIX00053"));
    close(p1);
    close(p2);
}

static void test_plain_app_one_request_per_connection(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe(fx), sv[2], probing = 1;

    app_answers(fx, 0);
    assert_true(wait_state(fx, FCGIX_MUX_PLAIN));
    assert_int_equal(fcgix_mux_join(fx->m, KEY), -1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcgix_mux_offer(fx->m, KEY, "app", sv[0], 1, &probing),
                     -1);
    assert_int_equal(probing, 0);
    close(sv[0]);
    close(sv[1]);
    send_rec(fx->app, FCGIX_STDOUT, 1, "one", 3);
    send_end(fx->app, 1);
    request_gets(p1, "one");
    /* Its one request done, the connection is closed. */
    assert_true(eof_within(fx->app));
    assert_true(logged(fx, "FCGI_MPXS_CONNS=0"));
    close(p1);
}

static void test_no_answer_means_plain(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe(fx);

    send_rec(fx->app, FCGIX_STDOUT, 1, "one", 3);
    send_end(fx->app, 1);
    request_gets(p1, "one");
    assert_true(wait_state(fx, FCGIX_MUX_PLAIN));
    assert_true(eof_within(fx->app));
    assert_true(logged(fx, "no answer to FCGI_GET_VALUES"));
    close(p1);
}

static void test_app_closing_after_answer_is_no_error(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe(fx);

    /* php-fpm: answers, then closes without reading the request. */
    app_answers(fx, 0);
    close(fx->app);
    fx->app = -1;
    assert_true(eof_within(p1));
    assert_true(wait_state(fx, FCGIX_MUX_PLAIN));
    assert_int_equal(fx->errors, 0);
    close(p1);
    fx->app = open("/dev/null", 0); /* for teardown's close */
}

static void test_broken_connection_fails_its_requests(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2, conns;

    p2 = fcgix_mux_join(fx->m, KEY);
    send_request(p2);
    assert_int_equal(app_reads_request(fx), 2);
    close(fx->app);
    fx->app = open("/dev/null", 0);
    assert_true(eof_within(p1));
    assert_true(eof_within(p2));
    assert_true(logged(fx, "FCGIX00056"));
    assert_int_equal(fx->errors, 1);
    /* Still known to multiplex; the next request needs a new
     * connection. */
    assert_int_equal(fcgix_mux_state(fx->m, KEY, &conns, NULL),
                     FCGIX_MUX_SHARED);
    assert_int_equal(conns, 0);
    assert_int_equal(fcgix_mux_join(fx->m, KEY), -1);
    close(p1);
    close(p2);
}

static void test_cant_mpx_conn_gives_up_sharing(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx);
    unsigned char body[8] = {0, 0, 0, 0, FCGIX_CANT_MPX_CONN, 0, 0, 0};
    rec_t r;

    send_rec(fx->app, FCGIX_END_REQUEST, 1, body, sizeof(body));
    assert_int_equal(read_rec(p1, &r), 0);
    assert_int_equal(r.type, FCGIX_END_REQUEST);
    assert_int_equal(r.content[4], FCGIX_CANT_MPX_CONN);
    assert_true(wait_state(fx, FCGIX_MUX_PLAIN));
    assert_int_equal(fcgix_mux_join(fx->m, KEY), -1);
    assert_true(eof_within(fx->app)); /* closed once idle */
    assert_true(logged(fx, "FCGIX00059"));
    close(p1);
}

static void test_late_output_of_aborted_request_dropped(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2, p3;
    rec_t r;

    p2 = fcgix_mux_join(fx->m, KEY);
    send_request(p2);
    assert_int_equal(app_reads_request(fx), 2);
    close(p1);
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_ABORT_REQUEST);
    /* Go: END_REQUEST at once, then the handler's output and a second
     * END_REQUEST when it returns. */
    send_end(fx->app, 1);
    p3 = fcgix_mux_join(fx->m, KEY);
    send_request(p3);
    assert_int_equal(app_reads_request(fx), 3); /* id 1 is not reused */
    send_rec(fx->app, FCGIX_STDOUT, 1, "late", 4);
    send_end(fx->app, 1);
    send_rec(fx->app, FCGIX_STDOUT, 2, "two", 3);
    send_end(fx->app, 2);
    send_rec(fx->app, FCGIX_STDOUT, 3, "three", 5);
    send_end(fx->app, 3);
    request_gets(p2, "two");
    request_gets(p3, "three");
    assert_int_equal(fx->errors, 0);
    close(p2);
    close(p3);
}

typedef struct {
    fixture_t *fx;
    int fd;
} joiner_t;

static void *join_later(void *data)
{
    joiner_t *j = data;

    j->fd = fcgix_mux_join(j->fx->m, KEY);
    return NULL;
}

static void test_join_waits_for_the_answer(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe(fx);
    joiner_t j = {fx, -2};
    struct timespec pause = {0, 100 * 1000000L};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, join_later, &j), 0);
    nanosleep(&pause, NULL);
    app_answers(fx, 1);
    pthread_join(t, NULL);
    assert_true(j.fd >= 0); /* on the asking connection, not a new one */
    send_request(j.fd);
    assert_int_equal(app_reads_request(fx), 2);
    close(p1);
    close(j.fd);
}

static void test_join_waits_a_bounded_time(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe(fx);
    struct timespec t0, t1;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(fcgix_mux_join(fx->m, KEY), -1); /* no answer */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= FCGIX_MUX_ASK_WAIT_MS - 50);
    assert_true(ms < FCGIX_MUX_ASK_WAIT_MS + 2000);
    close(p1);
}

/* Two requests' records go to the app whole, never one inside the other,
 * however their bytes arrive. */
static void test_records_are_never_interleaved(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx), p2, p3;
    static unsigned char big[60000];
    unsigned char h[FCGIX_HEADER_LEN];
    struct timespec pause = {0, 50 * 1000000L};
    rec_t r;
    size_t i;

    p2 = fcgix_mux_join(fx->m, KEY);
    p3 = fcgix_mux_join(fx->m, KEY);
    memset(big, 'b', sizeof(big));
    fcgix_rec_header(h, FCGIX_STDIN, 1, sizeof(big), 0);
    write_all(p2, h, sizeof(h));
    write_all(p2, big, sizeof(big) / 2); /* half a record */
    nanosleep(&pause, NULL);
    send_rec(p3, FCGIX_STDIN, 1, "hello", 5); /* a whole one meanwhile */
    nanosleep(&pause, NULL);
    write_all(p2, big + sizeof(big) / 2, sizeof(big) - sizeof(big) / 2);
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_STDIN);
    assert_int_equal(r.id, 3);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.content, "hello", 5);
    assert_int_equal(read_rec(fx->app, &r), 0);
    assert_int_equal(r.type, FCGIX_STDIN);
    assert_int_equal(r.id, 2);
    assert_int_equal(r.len, sizeof(big));
    for (i = 0; i < r.len; i++) {
        assert_int_equal(r.content[i], 'b');
    }
    close(p1);
    close(p2);
    close(p3);
}

static void test_record_for_unknown_id_breaks(void **state)
{
    fixture_t *fx = *state;
    int p1 = probe_shared(fx);

    send_rec(fx->app, FCGIX_STDOUT, 7, "who", 3);
    assert_true(eof_within(p1));
    assert_true(eof_within(fx->app));
    assert_true(logged(fx, "request id 7, which is not in flight"));
    close(p1);
}

/* Whatever an app sends (it runs as the User, and may be anything), the
 * mux frames it or breaks the connection; it never crashes, and each
 * request's pair ends. 300 connections of random bytes, seeded. */
static void test_garbage_from_the_app(void **state)
{
    fixture_t *fx = *state;
    unsigned char junk[4096];
    unsigned seed = 16;
    int round, probing, sv[2], p, i, asked = 0;
    size_t n;
    char key[32];

    for (round = 0; round < 300; round++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        snprintf(key, sizeof(key), "/garbage/%d", round);
        p = fcgix_mux_offer(fx->m, key, "garbage", sv[1], 1, &probing);
        assert_true(p >= 0); /* a new app each round: asked */
        asked++;
        send_request(p);
        n = 1 + (size_t)(rand_r(&seed) % sizeof(junk));
        for (i = 0; i < (int)n; i++) {
            junk[i] = (unsigned char)rand_r(&seed);
        }
        if (round % 3 == 0) { /* a plausible header first */
            fcgix_rec_header(junk, (uint8_t)(1 + rand_r(&seed) % 11),
                             (uint16_t)(rand_r(&seed) % 3),
                             (uint16_t)(rand_r(&seed) % 300), 0);
        }
        write_all(sv[0], junk, n);
        close(sv[0]);
        while (!eof_within(p)) { /* what it forwards, then the end */
        }
        close(p);
    }
    assert_int_equal(asked, 300);
    /* More apps than the mux remembers came and went; it still works. */
    p = probe_shared(fx);
    send_rec(fx->app, FCGIX_STDOUT, 1, "one", 3);
    send_end(fx->app, 1);
    request_gets(p, "one");
    close(p);
}

static void test_no_question_without_may_probe(void **state)
{
    fixture_t *fx = *state;
    int probing = 1;

    assert_int_equal(fcgix_mux_offer(fx->m, KEY, "app", fx->conn, 0, &probing),
                     -1);
    assert_int_equal(probing, 0);
    assert_int_equal(fcgix_mux_state(fx->m, KEY, NULL, NULL),
                     FCGIX_MUX_UNKNOWN);
    close(fx->conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_ids_rewritten, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_closed_request_aborted_alone,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_request_cut_others_go_on,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_plain_app_one_request_per_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_answer_means_plain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_app_closing_after_answer_is_no_error, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_broken_connection_fails_its_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cant_mpx_conn_gives_up_sharing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_late_output_of_aborted_request_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_waits_for_the_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_join_waits_a_bounded_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_records_are_never_interleaved,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_for_unknown_id_breaks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_from_the_app, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_question_without_may_probe,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
