/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  bench_app.c
 * @brief The one application behind every configuration of
 *        bench/run_peers.py (a benchmark, not a test; see bench/README.md).
 *
 * Built on libfcgi's fcgi_stdio layer, so the same binary is a FastCGI
 * application when started with a listening socket on fd 0 (spawn-fcgi,
 * mod_fcgid) and a plain CGI program otherwise (mod_cgid): FCGI_Accept()
 * then returns 0 once, with the CGI environment and pipes, and -1 after.
 *
 *   GET             "Hello, world\n" (13 bytes)
 *   GET ?size=N     the first N bytes of "Hello, world\n" repeated, so a
 *                   static file of the same bytes is easy to make
 *   GET ?sendfile=P the header "X-Sendfile: P" and no body (P: the rest
 *                   of the query, absolute, no '&'; not decoded)
 *   POST            reads the whole body; answers "length=N crc32=XXXXXXXX\n"
 *                   (CRC-32 as zlib's crc32(), lowercase hex)
 *
 * The body never carries Content-Length: every configuration frames it the
 * same way. After every request stdin is read to its end: libfcgi leaves a
 * late empty FCGI_STDIN record in the socket otherwise, and the next accept
 * on a kept connection takes it for a protocol error and closes the
 * connection under the server's next request.
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -Werror -o bench_app bench_app.c
 *        -lfcgi
 */

#define _POSIX_C_SOURCE 200809L

#include <fcgi_stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HELLO "Hello, world\n"
#define HELLO_LEN 13
/* A whole number of HELLO copies, so the pattern carries over pieces. */
#define PIECE_LEN (HELLO_LEN * 5041)
#define READ_CHUNK 65536
#define MAX_SIZE (1LL << 34)

static unsigned char piece[PIECE_LEN];
static unsigned char inbuf[READ_CHUNK];
static uint32_t crc_table[8][256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

/* Slicing-by-8: the app shares the server core with httpd, so a
 * byte-at-a-time CRC would cap the upload rate of every configuration. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc
                      ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8
                         | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8
                      | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff]
              ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24]
              ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff]
              ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    }
    return ~crc;
}

/* Returns the value of size=N in the query string, 13 without one, -1 if
 * it is not a number in range. */
static long long parse_size(const char *qs)
{
    const char *p = qs;
    while (p && *p) {
        if (strncmp(p, "size=", 5) == 0) {
            char *end;
            long long n = strtoll(p + 5, &end, 10);
            if (end == p + 5 || (*end != '\0' && *end != '&') || n < 0
                || n > MAX_SIZE) {
                return -1;
            }
            return n;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return HELLO_LEN;
}

/* Returns the value of sendfile=P in the query string (the rest of it),
 * NULL without one; sets *bad if P is not absolute or holds an '&'. */
static const char *parse_sendfile(const char *qs, int *bad)
{
    const char *p = qs;
    *bad = 0;
    while (p && *p) {
        if (strncmp(p, "sendfile=", 9) == 0) {
            p += 9;
            if (*p != '/' || strchr(p, '&') != NULL) {
                *bad = 1;
            }
            return p;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return NULL;
}

/* Reads stdin to its end; returns the byte count and sets *crc. */
static long long read_body(uint32_t *crc)
{
    long long total = 0;
    size_t n;
    uint32_t c = 0;
    while ((n = fread(inbuf, 1, sizeof(inbuf), stdin)) > 0) {
        c = crc32_update(c, inbuf, n);
        total += (long long)n;
    }
    if (crc) {
        *crc = c;
    }
    return total;
}

static void answer_get(long long size)
{
    printf("Content-Type: text/plain\r\n\r\n");
    while (size > 0) {
        size_t n = size > PIECE_LEN ? PIECE_LEN : (size_t)size;
        if (fwrite(piece, 1, n, stdout) != n) {
            return; /* client or server gone */
        }
        size -= (long long)n;
    }
}

static void handle(void)
{
    const char *method = getenv("REQUEST_METHOD");
    if (method && strcmp(method, "POST") == 0) {
        uint32_t crc;
        long long len = read_body(&crc);
        printf("Content-Type: text/plain\r\n\r\nlength=%lld crc32=%08lx\n", len,
               (unsigned long)crc);
        return;
    }
    int bad;
    const char *path = parse_sendfile(getenv("QUERY_STRING"), &bad);
    long long size = parse_size(getenv("QUERY_STRING"));
    read_body(NULL);
    if (path) {
        if (bad) {
            printf("Status: 400 Bad Request\r\n"
                   "Content-Type: text/plain\r\n\r\nbad sendfile\n");
            return;
        }
        printf("X-Sendfile: %s\r\n"
               "Content-Type: application/octet-stream\r\n\r\n",
               path);
        return;
    }
    if (size < 0) {
        printf("Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
               "bad size\n");
        return;
    }
    answer_get(size);
}

int main(void)
{
    crc32_init();
    for (size_t i = 0; i < PIECE_LEN; i++) {
        piece[i] = (unsigned char)HELLO[i % HELLO_LEN];
    }
    while (FCGI_Accept() >= 0) {
        handle();
    }
    return 0;
}
