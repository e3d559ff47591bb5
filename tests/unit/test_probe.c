/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_probe.c
 * @brief cmocka unit tests of fcgi_probe, an active health check's
 *        request: over a socket pair, a forked child plays the app. It
 *        reads the probe's request and checks it (BEGIN_REQUEST as a
 *        RESPONDER, id 1; PARAMS with REQUEST_METHOD, SCRIPT_FILENAME,
 *        SCRIPT_NAME, QUERY_STRING and REQUEST_URI; the empty PARAMS and
 *        STDIN records, nothing after), then answers as each test
 *        says: the status the probe reports (200, a Status header, 302
 *        for a Location alone, a Status split between records, STDERR
 *        passed over), and its failures (no answer in time, also from an
 *        app that trickles; closed before END_REQUEST; malformed or
 *        unended headers, a bad Status, headers too long; records that
 *        break the protocol; an answer over 1 MiB). The query string is
 *        split from the path; the longest paths arrive whole, longer
 *        ones are refused before a byte is sent.
 *
 * The app's side is written from the FastCGI specification's byte
 * layout, record headers and name-value pairs by hand, not with
 * fcgi_proto, so that a defect shared by the probe and the decoder it
 * uses cannot hide. The app exits 0 only when the request was right, and
 * the parent reaps it (within REAP_MS, else kills it) before it looks at
 * the probe's answer, so that a wrong request fails the test as such.
 * Every wait is bounded: the probe's timeout, the app's alarm(), the
 * reap, and a watchdog alarm() in the parent.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_probe.h"

/* From the FastCGI specification (sections 3.3, 5.1, 8), written here
 * rather than taken from fcgi_proto.h. */
#define REC_HEADER_LEN 8
#define REC_BEGIN_REQUEST 1
#define REC_END_REQUEST 3
#define REC_PARAMS 4
#define REC_STDIN 5
#define REC_STDOUT 6
#define REC_STDERR 7
#define ROLE_RESPONDER 1
#define REQUEST_ID 1 /* the probe's one request */

#define SCRIPT "/srv/www/health.fcgi"
#define TIMEOUT_MS 5000  /* cases whose app answers */
#define NO_ANSWER_MS 200 /* cases whose app does not */
#define LATE_MS 800      /* slack past NO_ANSWER_MS (valgrind is slow) */
#define APP_ALARM_S 20   /* the app's own bound */
#define REAP_MS 5000     /* for the app to exit once the probe is over */
#define WATCHDOG_S 60    /* the whole test */
#define PARAMS_MAX 16384 /* the request's PARAMS stream, all records */
#define PROBE_READ_MAX (1 << 20) /* the most of an answer the probe reads */

/* What the app expects of the request. */
typedef struct {
    const char *script;      /* SCRIPT_FILENAME */
    const char *uri;         /* REQUEST_URI */
    const char *script_name; /* SCRIPT_NAME */
    const char *query;       /* QUERY_STRING */
} expect_t;

/* The app's answer, written once the request was found right. */
typedef void (*answer_fn)(int fd);

typedef struct {
    pid_t pid; /* the app, or -1 */
    int fd;    /* the probe's end of the socket pair, or -1 */
    char why[128];
} fixture_t;

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL) {
        return -1;
    }
    fx->pid = -1;
    fx->fd = -1;
    alarm(WATCHDOG_S);
    *state = fx;
    return 0;
}

/* Whatever way the test ended: the app killed and reaped, the socket
 * closed. */
static int teardown(void **state)
{
    fixture_t *fx = *state;

    if (fx->fd >= 0) {
        close(fx->fd);
    }
    if (fx->pid > 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
    }
    alarm(0);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The app (in the child)                                              */
/* ------------------------------------------------------------------ */

static int read_all(int fd, unsigned char *buf, size_t len)
{
    size_t off = 0;
    ssize_t n;

    while (off < len) {
        n = read(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Write it all; -1 when the probe is gone. That is no error of the
 * app's (the test looks at what the probe says): the app stops. */
static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void app_fail(int code, const char *what)
{
    fprintf(stderr, "test app: the probe's request is wrong: %s\n", what);
    _exit(code);
}

typedef struct {
    int type;
    unsigned id;
    size_t len;
    unsigned char content[65535];
} record_t;

/* One record: the 8 header bytes (version, type, request id B1 B0,
 * content length B1 B0, padding length, reserved), its content, its
 * padding skipped. */
static void read_record(int fd, record_t *rec)
{
    unsigned char h[REC_HEADER_LEN], pad[255];

    if (read_all(fd, h, sizeof(h)) != 0) {
        app_fail(10, "closed before a whole record header");
    }
    if (h[0] != 1) {
        app_fail(11, "a record's version is not 1");
    }
    rec->type = h[1];
    rec->id = (unsigned)h[2] << 8 | h[3];
    rec->len = (size_t)h[4] << 8 | h[5];
    if (read_all(fd, rec->content, rec->len) != 0
        || read_all(fd, pad, h[6]) != 0) {
        app_fail(12, "closed inside a record");
    }
    if (rec->id != REQUEST_ID) {
        app_fail(13, "a record's request id is not 1");
    }
}

/* A name-value pair's length: one byte below 128, else four with the
 * top bit set (section 3.4). 0 when it does not fit before @end. */
static int nv_length(const unsigned char **p, const unsigned char *end,
                     size_t *len)
{
    const unsigned char *q = *p;

    if (q >= end) {
        return 0;
    }
    if (!(q[0] & 0x80)) {
        *len = q[0];
        *p = q + 1;
        return 1;
    }
    if (end - q < 4) {
        return 0;
    }
    *len = ((size_t)(q[0] & 0x7f) << 24) | ((size_t)q[1] << 16)
           | ((size_t)q[2] << 8) | q[3];
    *p = q + 4;
    return 1;
}

/* Each of the names the probe must send, exactly once, with its value. */
static void check_params(const unsigned char *p, const unsigned char *end,
                         const expect_t *want)
{
    const char *names[5] = {"REQUEST_METHOD", "SCRIPT_FILENAME", "SCRIPT_NAME",
                            "QUERY_STRING", "REQUEST_URI"};
    const char *values[5];
    int seen[5] = {0}, i;
    size_t nlen, vlen;

    values[0] = "GET";
    values[1] = want->script;
    values[2] = want->script_name;
    values[3] = want->query;
    values[4] = want->uri;
    while (p < end) {
        if (!nv_length(&p, end, &nlen) || !nv_length(&p, end, &vlen)
            || nlen > (size_t)(end - p) || vlen > (size_t)(end - p) - nlen) {
            app_fail(20, "a name-value pair runs past the PARAMS stream");
        }
        for (i = 0; i < 5; i++) {
            if (nlen != strlen(names[i]) || memcmp(p, names[i], nlen) != 0) {
                continue;
            }
            if (seen[i]++) {
                fprintf(stderr, "test app: %s twice\n", names[i]);
                app_fail(21, "a name sent twice");
            }
            if (vlen != strlen(values[i])
                || memcmp(p + nlen, values[i], vlen) != 0) {
                fprintf(stderr,
                        "test app: %s is \"%.*s\" (%zu bytes), want "
                        "\"%.60s\" (%zu bytes)\n",
                        names[i], (int)(vlen < 60 ? vlen : 60),
                        (const char *)p + nlen, vlen, values[i],
                        strlen(values[i]));
                app_fail(22, "a wrong value");
            }
        }
        p += nlen + vlen;
    }
    for (i = 0; i < 5; i++) {
        if (!seen[i]) {
            fprintf(stderr, "test app: no %s\n", names[i]);
            app_fail(23, "a name missing");
        }
    }
}

/* The request, record by record, in the order the probe must send it:
 * BEGIN_REQUEST, PARAMS up to the empty one, the empty STDIN, then
 * nothing more. */
static void check_request(int fd, const expect_t *want)
{
    static record_t rec;
    static unsigned char params[PARAMS_MAX];
    size_t plen = 0;
    unsigned char extra;

    read_record(fd, &rec);
    if (rec.type != REC_BEGIN_REQUEST || rec.len != 8) {
        app_fail(30, "the first record is not an 8-byte BEGIN_REQUEST");
    }
    if (((unsigned)rec.content[0] << 8 | rec.content[1]) != ROLE_RESPONDER) {
        app_fail(31, "the role is not RESPONDER");
    }
    for (;;) {
        read_record(fd, &rec);
        if (rec.type != REC_PARAMS) {
            app_fail(32, "a record other than PARAMS before the empty one");
        }
        if (rec.len == 0) {
            break;
        }
        if (rec.len > sizeof(params) - plen) {
            app_fail(33, "PARAMS longer than any probe's");
        }
        memcpy(params + plen, rec.content, rec.len);
        plen += rec.len;
    }
    check_params(params, params + plen, want);
    read_record(fd, &rec);
    if (rec.type != REC_STDIN || rec.len != 0) {
        app_fail(34, "the record after PARAMS is not the empty STDIN");
    }
    if (recv(fd, &extra, 1, MSG_DONTWAIT) != -1
        || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        app_fail(35, "bytes or a close after the empty STDIN");
    }
}

/* In the child: check the request, answer, exit (0: request right). */
static void run_app(int fd, const expect_t *want, answer_fn answer)
{
    alarm(APP_ALARM_S);
    signal(SIGPIPE, SIG_IGN);
    check_request(fd, want);
    answer(fd);
    _exit(0);
}

/* ------------------------------------------------------------------ */
/* Answers, record by record                                           */
/* ------------------------------------------------------------------ */

/* A record header, byte by byte, for the probe's request id. */
static void put_header(unsigned char h[REC_HEADER_LEN], int type, size_t len,
                       int pad)
{
    h[0] = 1;
    h[1] = (unsigned char)type;
    h[2] = 0;
    h[3] = REQUEST_ID;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)(len & 0xff);
    h[6] = (unsigned char)pad;
    h[7] = 0;
}

static int send_record(int fd, int type, const void *data, size_t len, int pad)
{
    unsigned char h[REC_HEADER_LEN];
    static const unsigned char zeros[255];

    put_header(h, type, len, pad);
    if (write_all(fd, h, sizeof(h)) != 0 || write_all(fd, data, len) != 0) {
        return -1;
    }
    return write_all(fd, zeros, (size_t)pad);
}

static int send_text(int fd, int type, const char *text)
{
    return send_record(fd, type, text, strlen(text), 0);
}

/* The empty STDOUT, then END_REQUEST: app status 0, REQUEST_COMPLETE. */
static void send_end(int fd)
{
    static const unsigned char body[8] = {0, 0, 0, 0, 0, 0, 0, 0};

    send_record(fd, REC_STDOUT, NULL, 0, 0);
    send_record(fd, REC_END_REQUEST, body, sizeof(body), 0);
}

static void answer_text(int fd, const char *text)
{
    send_text(fd, REC_STDOUT, text);
    send_end(fd);
}

static void answer_ok(int fd)
{
    answer_text(fd, "Content-Type: text/plain\r\n\r\nok\n");
}

static void answer_503(int fd)
{
    answer_text(fd, "Content-Type: text/plain\r\nStatus: 503 Busy\r\n\r\n"
                    "busy\n");
}

static void answer_location(int fd)
{
    answer_text(fd, "Location: /elsewhere\r\n\r\n");
}

/* Status wins over Location; lines ended by LF alone. */
static void answer_location_status(int fd)
{
    answer_text(fd, "Location: http://example.com/\nstatus: 301 Moved\n\n");
}

/* Some STDERR first, which the probe passes over. */
static void answer_stderr_first(int fd)
{
    send_text(fd, REC_STDERR, "warming up\n");
    send_text(fd, REC_STDOUT, "Status: 204 No Content\r\n");
    send_text(fd, REC_STDERR, "still here\n");
    answer_text(fd, "\r\n");
}

/* "Status" cut in two by a record's end, the first record padded, and
 * the second record's header itself sent in two pieces, with pauses so
 * that the probe reads them apart. */
static void answer_split(int fd)
{
    static const char one[] = "Content-Type: text/plain\r\nSta";
    static const char two[] = "tus: 404 Not Found\r\n\r\nnot here\n";
    unsigned char h[REC_HEADER_LEN];

    send_record(fd, REC_STDOUT, one, strlen(one), 3);
    pause_ms(20);
    put_header(h, REC_STDOUT, strlen(two), 0);
    write_all(fd, h, 3);
    pause_ms(20);
    write_all(fd, h + 3, sizeof(h) - 3);
    write_all(fd, two, 4);
    pause_ms(20);
    write_all(fd, two + 4, strlen(two) - 4);
    send_end(fd);
}

/* No answer: wait for the probe to close. */
static void answer_none(int fd)
{
    unsigned char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

/* Bytes now and then, never the end, until the probe is gone: the
 * timeout is for the whole exchange, not between reads. */
static void answer_trickle(int fd)
{
    int i;

    send_text(fd, REC_STDOUT, "Content-Type: text/plain\r\n\r\n");
    for (i = 0; i < 1000; i++) {
        pause_ms(20);
        if (send_text(fd, REC_STDERR, ".") != 0) {
            return;
        }
    }
}

static void answer_close_after_body(int fd)
{
    send_text(fd, REC_STDOUT, "Content-Type: text/plain\r\n\r\nok\n");
}

static void answer_close_in_record(int fd)
{
    unsigned char h[REC_HEADER_LEN];

    put_header(h, REC_STDOUT, 100, 0);
    write_all(fd, h, sizeof(h));
    write_all(fd, "Status: 200 OK\r\n", 16);
}

static void answer_close_no_end_request(int fd)
{
    send_text(fd, REC_STDOUT, "Content-Type: text/plain\r\n\r\nok\n");
    send_record(fd, REC_STDOUT, NULL, 0, 0);
}

static void answer_no_colon(int fd)
{
    answer_text(fd, "Content-Type text/plain\r\n\r\nok\n");
}

static void answer_space_in_name(int fd)
{
    answer_text(fd, "Content Type: text/plain\r\n\r\nok\n");
}

static void answer_bare_cr(int fd)
{
    answer_text(fd, "Status: 200 OK\rX-Split: yes\r\n\r\nok\n");
}

static void answer_folded(int fd)
{
    answer_text(fd, "X-Long: a\r\n  b\r\n\r\nok\n");
}

static void answer_bad_status(int fd)
{
    answer_text(fd, "Status: OK\r\n\r\nok\n");
}

static void answer_status_600(int fd)
{
    answer_text(fd, "Status: 600 Too High\r\n\r\nok\n");
}

/* END_REQUEST before the blank line that ends the headers. */
static void answer_unended_headers(int fd)
{
    answer_text(fd, "Content-Type: text/plain\r\n");
}

/* A header block over what the probe keeps of one (16 KiB, in one
 * record). */
static void answer_huge_headers(int fd)
{
    static char text[16384 + 64];
    size_t n;

    strcpy(text, "X-Big: ");
    n = strlen(text);
    memset(text + n, 'a', 16384);
    strcpy(text + n + 16384, "\r\n\r\nok\n");
    answer_text(fd, text);
}

/* A STDOUT record of version 0. */
static void answer_bad_version(int fd)
{
    unsigned char h[REC_HEADER_LEN];

    put_header(h, REC_STDOUT, 4, 0);
    h[0] = 0;
    write_all(fd, h, sizeof(h));
    write_all(fd, "X: y", 4);
    send_end(fd);
}

/* The answer under another request id. */
static void answer_other_id(int fd)
{
    unsigned char h[REC_HEADER_LEN];
    static const char text[] = "Status: 200 OK\r\n\r\n";

    put_header(h, REC_STDOUT, strlen(text), 0);
    h[3] = 2;
    write_all(fd, h, sizeof(h));
    write_all(fd, text, strlen(text));
    send_end(fd);
}

/* An END_REQUEST whose body is 4 bytes, not 8. */
static void answer_short_end_request(int fd)
{
    static const unsigned char body[4] = {0, 0, 0, 0};

    send_text(fd, REC_STDOUT, "Status: 200 OK\r\n\r\n");
    send_record(fd, REC_STDOUT, NULL, 0, 0);
    send_record(fd, REC_END_REQUEST, body, sizeof(body), 0);
}

/* A record of a type only the server sends (PARAMS). */
static void answer_wrong_type(int fd)
{
    send_text(fd, REC_PARAMS, "\001\001ab");
    answer_text(fd, "Status: 200 OK\r\n\r\n");
}

/* An answer of exactly @total bytes on the wire, all records counted:
 * its headers, a body in records of at most 65535 bytes, the empty
 * STDOUT and END_REQUEST. */
static void answer_sized(int fd, size_t total)
{
    static const char head[] = "Content-Type: text/plain\r\n\r\n";
    static char body[65535];
    size_t rest, len;

    memset(body, 'b', sizeof(body));
    send_text(fd, REC_STDOUT, head);
    /* less the headers' record, the empty STDOUT and END_REQUEST (an
     * 8-byte body) */
    rest = total - (REC_HEADER_LEN + strlen(head)) - REC_HEADER_LEN
           - (REC_HEADER_LEN + 8);
    while (rest > 0) {
        /* every record carries at least one byte: an empty STDOUT
         * would end the stream */
        len = rest - REC_HEADER_LEN;
        if (len > sizeof(body)) {
            len = 60000;
        }
        send_record(fd, REC_STDOUT, body, len, 0);
        rest -= REC_HEADER_LEN + len;
    }
    send_end(fd);
}

static void answer_1mib(int fd)
{
    answer_sized(fd, PROBE_READ_MAX);
}

static void answer_over_1mib(int fd)
{
    answer_sized(fd, PROBE_READ_MAX + 1);
}

/* ------------------------------------------------------------------ */
/* The probe's side (the test)                                         */
/* ------------------------------------------------------------------ */

/* Fork the app, which expects @want and answers with @answer. */
static void start_app(fixture_t *fx, const expect_t *want, answer_fn answer)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fflush(stdout);
    fflush(stderr);
    fx->pid = fork();
    if (fx->pid == 0) {
        close(sv[0]);
        run_app(sv[1], want, answer);
    }
    close(sv[1]);
    fx->fd = sv[0];
    assert_true(fx->pid > 0);
}

/* The probe is over: close its end (the app waiting for that sees the
 * end), reap the app within REAP_MS (killed after that), and fail
 * unless it exited 0, i.e. found the request right. */
static void finish_app(fixture_t *fx)
{
    long long end = mono_ms() + REAP_MS;
    pid_t pid = fx->pid, got;
    int status = 0;

    close(fx->fd);
    fx->fd = -1;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < end) {
        pause_ms(5);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    fx->pid = -1;
    if (got < 0) {
        fail_msg("waitpid: %s", strerror(errno));
    }
    if (got == 0) {
        fail_msg("the app did not exit within %d ms of the probe's end",
                 REAP_MS);
    }
    if (WIFSIGNALED(status)) {
        fail_msg("the app was killed by signal %d", WTERMSIG(status));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("the app found the probe's request wrong (exit %d; its "
                 "line above says why)",
                 WEXITSTATUS(status));
    }
}

/* Probe an app answering with @answer for @uri, whose SCRIPT_NAME and
 * QUERY_STRING must be @script_name and @query; the probe's result,
 * its why in fx->why. */
static int probe_uri(fixture_t *fx, const char *script, const char *uri,
                     const char *script_name, const char *query,
                     answer_fn answer, int timeout_ms)
{
    expect_t want;
    int status;

    want.script = script;
    want.uri = uri;
    want.script_name = script_name;
    want.query = query;
    start_app(fx, &want, answer);
    memset(fx->why, 0, sizeof(fx->why));
    status =
        fcgix_probe(fx->fd, script, uri, timeout_ms, fx->why, sizeof(fx->why));
    /* the socket is the caller's: left open */
    assert_int_not_equal(fcntl(fx->fd, F_GETFD), -1);
    finish_app(fx);
    return status;
}

static int probe(fixture_t *fx, answer_fn answer)
{
    return probe_uri(fx, SCRIPT, "/health", "/health", "", answer, TIMEOUT_MS);
}

/* The probe failed: -1, and a reason containing @part. */
static void assert_failed(fixture_t *fx, int got, const char *part)
{
    assert_int_equal(got, -1);
    assert_true(fx->why[0] != '\0');
    if (strstr(fx->why, part) == NULL) {
        fail_msg("why is \"%s\", want it to contain \"%s\"", fx->why, part);
    }
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* No Status header: 200. */
static void test_probe_no_status(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_ok), 200);
}

/* A Status header, after another: its code. */
static void test_probe_status_header(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_503), 503);
}

/* A Location alone: 302; with a Status (any case), the Status. */
static void test_probe_location(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_location), 302);
    assert_int_equal(probe(fx, answer_location_status), 301);
}

/* STDERR records before, between and after the headers are passed
 * over. */
static void test_probe_stderr_ignored(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_stderr_first), 204);
}

/* A Status header cut in two by a record's end, the next record's
 * header arriving in pieces: read whole. */
static void test_probe_status_split(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_split), 404);
}

/* No answer: -1 "no answer in time", after about the timeout. */
static void test_probe_no_answer(void **state)
{
    fixture_t *fx = *state;
    long long start = mono_ms(), took;
    int got;

    got = probe_uri(fx, SCRIPT, "/health", "/health", "", answer_none,
                    NO_ANSWER_MS);
    took = mono_ms() - start;
    assert_failed(fx, got, "no answer in time");
    assert_string_equal(fx->why, "no answer in time");
    assert_true(took >= NO_ANSWER_MS - 5);
    if (took > NO_ANSWER_MS + LATE_MS) {
        fail_msg("the probe gave up after %lld ms, timeout %d", took,
                 NO_ANSWER_MS);
    }
}

/* An app that keeps sending but never ends: the timeout covers the
 * whole exchange. */
static void test_probe_trickle(void **state)
{
    fixture_t *fx = *state;
    long long start = mono_ms(), took;
    int got;

    got = probe_uri(fx, SCRIPT, "/health", "/health", "", answer_trickle,
                    NO_ANSWER_MS);
    took = mono_ms() - start;
    assert_failed(fx, got, "no answer in time");
    if (took > NO_ANSWER_MS + LATE_MS) {
        fail_msg("the probe gave up after %lld ms, timeout %d", took,
                 NO_ANSWER_MS);
    }
}

/* The app closes before END_REQUEST: after a whole header block and
 * body, inside a record, and after the empty STDOUT. */
static void test_probe_closed_early(void **state)
{
    fixture_t *fx = *state;

    assert_failed(fx, probe(fx, answer_close_after_body), "closed");
    assert_failed(fx, probe(fx, answer_close_in_record), "closed");
    assert_failed(fx, probe(fx, answer_close_no_end_request), "closed");
}

/* A header block the scanner refuses: no colon, a blank in a name, a
 * CR alone, a folded line. */
static void test_probe_malformed_headers(void **state)
{
    fixture_t *fx = *state;

    assert_failed(fx, probe(fx, answer_no_colon), "malformed");
    assert_failed(fx, probe(fx, answer_space_in_name), "malformed");
    assert_failed(fx, probe(fx, answer_bare_cr), "malformed");
    assert_failed(fx, probe(fx, answer_folded), "malformed");
}

/* A Status that is no code (a word, 600), and an answer that ends
 * before its header block does. */
static void test_probe_bad_status_or_block(void **state)
{
    fixture_t *fx = *state;

    assert_failed(fx, probe(fx, answer_bad_status), "Status");
    assert_failed(fx, probe(fx, answer_status_600), "Status");
    assert_failed(fx, probe(fx, answer_unended_headers), "header block");
}

/* A header block longer than the probe keeps: -1, not a status read
 * from part of it. */
static void test_probe_headers_too_long(void **state)
{
    fixture_t *fx = *state;

    assert_failed(fx, probe(fx, answer_huge_headers), "too long");
}

/* Records that break the protocol: a bad version, another request id,
 * an END_REQUEST of the wrong length, a type only the server sends. */
static void test_probe_bad_records(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_bad_version), -1);
    assert_true(fx->why[0] != '\0');
    assert_int_equal(probe(fx, answer_other_id), -1);
    assert_true(fx->why[0] != '\0');
    assert_int_equal(probe(fx, answer_short_end_request), -1);
    assert_true(fx->why[0] != '\0');
    assert_int_equal(probe(fx, answer_wrong_type), -1);
    assert_true(fx->why[0] != '\0');
}

/* An answer of 1 MiB on the wire is read to its end; one byte more is
 * too long. */
static void test_probe_answer_size(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe(fx, answer_1mib), 200);
    assert_failed(fx, probe(fx, answer_over_1mib), "too long");
}

/* The path's query: SCRIPT_NAME up to the first '?', QUERY_STRING after
 * it (empty without one), REQUEST_URI whole. */
static void test_probe_query_string(void **state)
{
    fixture_t *fx = *state;

    assert_int_equal(probe_uri(fx, SCRIPT, "/health?full=1&x=y", "/health",
                               "full=1&x=y", answer_ok, TIMEOUT_MS),
                     200);
    assert_int_equal(
        probe_uri(fx, SCRIPT, "/health?", "/health", "", answer_ok, TIMEOUT_MS),
        200);
    assert_int_equal(probe_uri(fx, SCRIPT, "/a/b?c?d=%3F", "/a/b", "c?d=%3F",
                               answer_ok, TIMEOUT_MS),
                     200);
    assert_int_equal(
        probe_uri(fx, "/srv/app.php", "/", "/", "", answer_503, TIMEOUT_MS),
        503);
}

/* A heap string of @len copies of @c, with a NUL. */
static char *long_string(size_t len, char c)
{
    char *s = malloc(len + 1);

    assert_non_null(s);
    memset(s, c, len);
    s[len] = '\0';
    return s;
}

/* Probe with nothing at the other end of a socket pair: the probe
 * must refuse before it sends anything. */
static void assert_refused_unsent(fixture_t *fx, const char *script,
                                  const char *uri)
{
    char byte;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fx->fd = sv[0];
    memset(fx->why, 0, sizeof(fx->why));
    assert_int_equal(
        fcgix_probe(sv[0], script, uri, TIMEOUT_MS, fx->why, sizeof(fx->why)),
        -1);
    assert_true(fx->why[0] != '\0');
    assert_int_equal(recv(sv[1], &byte, 1, MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(sv[1]);
    close(sv[0]);
    fx->fd = -1;
}

/* The longest script and path (1024 bytes each, the path with a query)
 * arrive whole; a byte more in either is refused before anything is
 * sent. */
static void test_probe_long_paths(void **state)
{
    fixture_t *fx = *state;
    char *script = long_string(1024, 's');
    char *uri = long_string(1024, 'u');
    char *path = long_string(600, 'u');
    char *over = long_string(1025, 'o');

    script[0] = '/';
    uri[0] = '/';
    uri[600] = '?';
    path[0] = '/';
    over[0] = '/';
    assert_int_equal(
        probe_uri(fx, script, uri, path, uri + 601, answer_ok, TIMEOUT_MS),
        200);
    assert_refused_unsent(fx, SCRIPT, over);
    assert_refused_unsent(fx, over, "/health");
    free(script);
    free(uri);
    free(path);
    free(over);
}

#define PROBE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        PROBE_TEST(test_probe_no_status),
        PROBE_TEST(test_probe_status_header),
        PROBE_TEST(test_probe_location),
        PROBE_TEST(test_probe_stderr_ignored),
        PROBE_TEST(test_probe_status_split),
        PROBE_TEST(test_probe_no_answer),
        PROBE_TEST(test_probe_trickle),
        PROBE_TEST(test_probe_closed_early),
        PROBE_TEST(test_probe_malformed_headers),
        PROBE_TEST(test_probe_bad_status_or_block),
        PROBE_TEST(test_probe_headers_too_long),
        PROBE_TEST(test_probe_bad_records),
        PROBE_TEST(test_probe_answer_size),
        PROBE_TEST(test_probe_query_string),
        PROBE_TEST(test_probe_long_paths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
