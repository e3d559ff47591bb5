/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/*
 * fcgi_responder: a FastCGI responder built on Debian's libfcgi, used as
 * the test oracle for mod_fastcgi_x. It is deliberately an independent
 * implementation of the protocol: our module talking to our own code would
 * prove nothing.
 *
 * Usage: fcgi_responder [SOCKET]
 *   Without SOCKET it accepts on fd 0 (FCGI_LISTENSOCK_FILENO), as a
 *   process manager starts it. SOCKET is a Unix socket path, ":port" or
 *   "host:port", opened with FCGX_OpenSocket().
 *
 * The query string chooses the behaviour (key=value pairs joined by '&',
 * values percent-decoded, '+' is a space):
 *   (none)          text/plain "hello\n"
 *   env             all request parameters as sorted NAME=VALUE lines
 *   env=NAME        the value of NAME followed by "\n", or "(unset)\n"
 *   penv=NAME       the same for NAME in the process's own environment
 *                   (what its process manager started it with)
 *   echo            stream stdin back while still reading it
 *   crc             read all of stdin, then "length=N crc32=HEX\n" (the
 *                   CRC-32 of zlib and Python's zlib.crc32)
 *   bytes=N         N bytes, byte i = 'a' + i % 26, in 64 KiB writes
 *   chunks=N        N lines "chunk i\n", flushed one by one
 *   pause=MS        pause between chunks
 *   sleep=MS        sleep before answering
 *   stderr=TEXT     TEXT and "\n" on FCGI_STDERR first
 *   status=NNN      "Status: NNN reason"
 *   location=URL    "Location: URL"
 *   header=N:V      extra response header (repeatable)
 *   crash[=after]   send headers and body, then exit without END_REQUEST
 *   crash=before    exit before any output
 *   noheaders       body bytes with no CGI header block
 *   pid             "pid=NNN\n" (which process answered)
 *   conn            "conn=INODE keep=K\n": the inode of the connection's
 *                   socket (another one for each connection) and whether
 *                   the request had FCGI_KEEP_CONN
 *   quit[=MS]       answer, then exit(0) (as php-cgi does after
 *                   PHP_FCGI_MAX_REQUESTS), leaving a kept connection;
 *                   with MS, only after MS ms in which it accepts no
 *                   other connection (one queued meanwhile is left in
 *                   its socket's backlog)
 * An invalid value gets a 400 answer naming the option.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#define QUERY_MAX 8192
#define MAX_HEADERS 16
#define ECHO_CHUNK 16384
#define BYTES_PIECE 65536
#define DRAIN_CHUNK 65536
#define MAX_SLEEP_MS 600000L
#define MAX_CHUNKS 1000000L
#define LISTEN_BACKLOG 128
#define CRASH_EXIT_CODE 3

enum crash_mode { CRASH_NONE, CRASH_BEFORE, CRASH_AFTER };

typedef struct {
    int env_all;
    const char *env_name;
    const char *penv_name;
    int echo;
    int crc;
    long long bytes;
    long chunks;
    long pause_ms;
    long sleep_ms;
    const char *stderr_text;
    int status;
    const char *location;
    enum crash_mode crash;
    int noheaders;
    int pid;
    int conn;
    int quit;
    long quit_ms;
    const char *headers[MAX_HEADERS];
    int nheaders;
    const char *error;
    char buf[QUERY_MAX];
} options;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode in place; a malformed escape is kept literally. */
static void url_decode(char *s)
{
    char *out = s;

    while (*s) {
        if (*s == '+') {
            *out++ = ' ';
            s++;
        }
        else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        }
        else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

static int parse_num(const char *s, long long max, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int set_long(const char *val, long max, long *out)
{
    long long v;

    if (parse_num(val, max, &v) != 0) {
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int set_crash(options *o, const char *val)
{
    if (val == NULL || strcmp(val, "after") == 0) {
        o->crash = CRASH_AFTER;
    }
    else if (strcmp(val, "before") == 0) {
        o->crash = CRASH_BEFORE;
    }
    else {
        return -1;
    }
    return 0;
}

static int set_header(options *o, const char *val)
{
    if (val == NULL || strchr(val, ':') == NULL || *val == ':'
        || o->nheaders >= MAX_HEADERS) {
        return -1;
    }
    o->headers[o->nheaders++] = val;
    return 0;
}

static int set_status(options *o, const char *val)
{
    long long v;

    if (parse_num(val, 999, &v) != 0 || v < 100) {
        return -1;
    }
    o->status = (int)v;
    return 0;
}

/* Returns 0 when the option was understood, -1 for a bad value. */
static int set_option(options *o, const char *key, const char *val)
{
    if (strcmp(key, "env") == 0) {
        if (val == NULL || *val == '\0') {
            o->env_all = 1;
        }
        else {
            o->env_name = val;
        }
        return 0;
    }
    if (strcmp(key, "penv") == 0) {
        o->penv_name = val;
        return val && *val ? 0 : -1;
    }
    if (strcmp(key, "echo") == 0) {
        o->echo = 1;
        return 0;
    }
    if (strcmp(key, "crc") == 0) {
        o->crc = 1;
        return 0;
    }
    if (strcmp(key, "noheaders") == 0) {
        o->noheaders = 1;
        return 0;
    }
    if (strcmp(key, "pid") == 0) {
        o->pid = 1;
        return 0;
    }
    if (strcmp(key, "conn") == 0) {
        o->conn = 1;
        return 0;
    }
    if (strcmp(key, "quit") == 0) {
        o->quit = 1;
        return val ? set_long(val, MAX_SLEEP_MS, &o->quit_ms) : 0;
    }
    if (strcmp(key, "bytes") == 0) {
        return parse_num(val, 1LL << 40, &o->bytes);
    }
    if (strcmp(key, "chunks") == 0) {
        return set_long(val, MAX_CHUNKS, &o->chunks);
    }
    if (strcmp(key, "pause") == 0) {
        return set_long(val, MAX_SLEEP_MS, &o->pause_ms);
    }
    if (strcmp(key, "sleep") == 0) {
        return set_long(val, MAX_SLEEP_MS, &o->sleep_ms);
    }
    if (strcmp(key, "stderr") == 0) {
        o->stderr_text = val ? val : "";
        return 0;
    }
    if (strcmp(key, "location") == 0) {
        o->location = val;
        return val && *val ? 0 : -1;
    }
    if (strcmp(key, "status") == 0) {
        return set_status(o, val);
    }
    if (strcmp(key, "crash") == 0) {
        return set_crash(o, val);
    }
    if (strcmp(key, "header") == 0) {
        return set_header(o, val);
    }
    return 0; /* unknown keys are ignored, like any CGI script would */
}

static void parse_query(options *o, const char *query)
{
    char *tok, *save = NULL;

    memset(o, 0, sizeof(*o));
    o->bytes = -1;
    o->chunks = -1;
    if (query == NULL) {
        return;
    }
    if (strlen(query) >= sizeof(o->buf)) {
        o->error = "query string too long";
        return;
    }
    strcpy(o->buf, query);
    for (tok = strtok_r(o->buf, "&", &save); tok != NULL;
         tok = strtok_r(NULL, "&", &save)) {
        char *val = strchr(tok, '=');

        if (val != NULL) {
            *val++ = '\0';
            url_decode(val);
        }
        url_decode(tok);
        if (set_option(o, tok, val) != 0 && o->error == NULL) {
            o->error = tok;
        }
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* resume with the remaining time */
    }
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Content Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static int has_header(const options *o, const char *name)
{
    size_t len = strlen(name);
    int i;

    for (i = 0; i < o->nheaders; i++) {
        if (strncasecmp(o->headers[i], name, len) == 0
            && o->headers[i][len] == ':') {
            return 1;
        }
    }
    return 0;
}

static void put_headers(FCGX_Stream *out, const options *o, const char *ctype)
{
    int i;

    if (o->status) {
        FCGX_FPrintF(out, "Status: %d %s\r\n", o->status,
                     reason_phrase(o->status));
    }
    if (o->location) {
        FCGX_FPrintF(out, "Location: %s\r\n", o->location);
    }
    if (!has_header(o, "Content-Type")) {
        FCGX_FPrintF(out, "Content-Type: %s\r\n", ctype);
    }
    for (i = 0; i < o->nheaders; i++) {
        FCGX_FPrintF(out, "%s\r\n", o->headers[i]);
    }
    FCGX_PutS("\r\n", out);
}

/* Echo while reading: the regression oracle for servers that write the
 * whole request body before reading the response and so deadlock. */
/* CRC-32 (the IEEE polynomial, reflected), bit by bit: small and fast
 * enough for a test app. */
static unsigned long crc32_add(unsigned long crc, const unsigned char *p,
                               size_t n)
{
    int k;

    crc = ~crc & 0xffffffffUL;
    while (n-- > 0) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320UL & (0UL - (crc & 1)));
        }
    }
    return ~crc & 0xffffffffUL;
}

static void put_crc(FCGX_Request *req)
{
    unsigned char buf[ECHO_CHUNK];
    unsigned long crc = 0;
    long long total = 0;
    int n;

    while ((n = FCGX_GetStr((char *)buf, (int)sizeof(buf), req->in)) > 0) {
        crc = crc32_add(crc, buf, (size_t)n);
        total += n;
    }
    FCGX_FPrintF(req->out, "length=%lld crc32=%08lx\n", total, crc);
}

static void put_echo(FCGX_Request *req)
{
    char buf[ECHO_CHUNK];
    int n;

    while ((n = FCGX_GetStr(buf, (int)sizeof(buf), req->in)) > 0) {
        if (FCGX_PutStr(buf, n, req->out) != n || FCGX_FFlush(req->out) != 0) {
            return;
        }
    }
}

static void put_bytes(FCGX_Stream *out, long long total)
{
    static char pattern[BYTES_PIECE + 26];
    long long off = 0;
    int i;

    for (i = 0; i < (int)sizeof(pattern); i++) {
        pattern[i] = (char)('a' + i % 26);
    }
    while (off < total) {
        long long left = total - off;
        int n = left > BYTES_PIECE ? BYTES_PIECE : (int)left;

        if (FCGX_PutStr(pattern + off % 26, n, out) != n) {
            return;
        }
        off += n;
    }
}

static void put_chunks(FCGX_Stream *out, long n, long pause)
{
    long i;

    for (i = 0; i < n; i++) {
        if (i > 0 && pause > 0) {
            sleep_ms(pause);
        }
        FCGX_FPrintF(out, "chunk %ld\n", i);
        if (FCGX_FFlush(out) != 0) {
            return;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_env(FCGX_Stream *out, char **envp)
{
    size_t n = 0, i;
    char **sorted;

    while (envp != NULL && envp[n] != NULL) {
        n++;
    }
    sorted = malloc((n + 1) * sizeof(*sorted));
    if (sorted == NULL) {
        FCGX_PutS("(out of memory)\n", out);
        return;
    }
    for (i = 0; i < n; i++) {
        sorted[i] = envp[i];
    }
    qsort(sorted, n, sizeof(*sorted), cmp_str);
    for (i = 0; i < n; i++) {
        FCGX_FPrintF(out, "%s\n", sorted[i]);
    }
    free(sorted);
}

static const char *body_type(const options *o)
{
    return (o->echo || o->bytes >= 0) ? "application/octet-stream"
                                      : "text/plain";
}

static void put_body(FCGX_Request *req, const options *o)
{
    if (o->echo) {
        put_echo(req);
    }
    else if (o->crc) {
        put_crc(req);
    }
    else if (o->bytes >= 0) {
        put_bytes(req->out, o->bytes);
    }
    else if (o->chunks >= 0) {
        put_chunks(req->out, o->chunks, o->pause_ms);
    }
    else if (o->env_all) {
        put_env(req->out, req->envp);
    }
    else if (o->env_name) {
        const char *v = FCGX_GetParam(o->env_name, req->envp);

        FCGX_FPrintF(req->out, "%s\n", v ? v : "(unset)");
    }
    else if (o->penv_name) {
        const char *v = getenv(o->penv_name);

        FCGX_FPrintF(req->out, "%s\n", v ? v : "(unset)");
    }
    else if (o->pid) {
        FCGX_FPrintF(req->out, "pid=%ld\n", (long)getpid());
    }
    else if (o->conn) {
        struct stat st;

        FCGX_FPrintF(req->out, "conn=%lu keep=%d\n",
                     fstat(req->ipcFd, &st) == 0 ? (unsigned long)st.st_ino
                                                 : 0UL,
                     req->keepConnection);
    }
    else {
        FCGX_PutS("hello\n", req->out);
    }
}

/* libfcgi leaves an unread STDIN end record in the socket, and the next
 * accept on a kept connection then fails: always read stdin to its end. */
static void drain_stdin(FCGX_Stream *in)
{
    char buf[DRAIN_CHUNK];

    while (FCGX_GetStr(buf, (int)sizeof(buf), in) > 0) {
        /* discard */
    }
}

/* Returns -1, or, when the process is to exit after this request, the
 * ms it waits first. */
static long handle_request(FCGX_Request *req)
{
    options o;

    parse_query(&o, FCGX_GetParam("QUERY_STRING", req->envp));
    if (o.error != NULL) {
        FCGX_FPrintF(req->out,
                     "Status: 400 Bad Request\r\n"
                     "Content-Type: text/plain\r\n\r\n"
                     "fcgi_responder: bad option: %s\n",
                     o.error);
        drain_stdin(req->in);
        return 0;
    }
    if (o.sleep_ms > 0) {
        sleep_ms(o.sleep_ms);
    }
    if (o.stderr_text != NULL) {
        FCGX_FPrintF(req->err, "%s\n", o.stderr_text);
        FCGX_FFlush(req->err);
    }
    if (o.crash == CRASH_BEFORE) {
        _exit(CRASH_EXIT_CODE);
    }
    if (o.noheaders) {
        FCGX_PutS("this is not a CGI header block\n", req->out);
    }
    else {
        put_headers(req->out, &o, body_type(&o));
        put_body(req, &o);
    }
    if (o.crash == CRASH_AFTER) {
        FCGX_FFlush(req->out);
        _exit(CRASH_EXIT_CODE);
    }
    drain_stdin(req->in);
    return o.quit ? o.quit_ms : -1;
}

static int open_listener(const char *where)
{
    int fd = FCGX_OpenSocket(where, LISTEN_BACKLOG);

    if (fd < 0) {
        fprintf(stderr, "fcgi_responder: cannot listen on %s\n", where);
    }
    return fd;
}

static int is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int main(int argc, char **argv)
{
    FCGX_Request req;
    struct sigaction sa;
    int sock = FCGI_LISTENSOCK_FILENO;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi_responder: FCGX_Init failed\n");
        return 1;
    }
    if (argc > 1 && (sock = open_listener(argv[1])) < 0) {
        return 1;
    }
    if (argc <= 1 && !is_socket(sock)) {
        fprintf(stderr,
                "fcgi_responder: fd %d is not a listening socket; "
                "give a socket path or host:port\n",
                sock);
        return 1;
    }
    if (FCGX_InitRequest(&req, sock, 0) != 0) {
        fprintf(stderr, "fcgi_responder: FCGX_InitRequest failed\n");
        return 1;
    }
    /* libfcgi turns SIGTERM and SIGUSR1 into a graceful stop: the request
     * in progress completes, then accept fails and we exit. */
    while (FCGX_Accept_r(&req) >= 0) {
        long quit = handle_request(&req);

        FCGX_Finish_r(&req);
        if (quit >= 0) {
            sleep_ms(quit);
            fprintf(stderr, "fcgi_responder: quitting as asked\n");
            return 0;
        }
    }
    fprintf(stderr, "fcgi_responder: stopping\n");
    return 0;
}
