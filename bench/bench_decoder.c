/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  bench_decoder.c
 * @brief Throughput of fcgix_dec_step() over STDOUT records (a benchmark,
 *        not a test; see bench/README.md).
 *
 * A buffer of about 1 MiB of STDOUT records is built once and fed again
 * and again as one long response; the decoder is initialised once per
 * response. Record content is 65528 bytes (the largest multiple of 8, so
 * padding is 0, as an application padding to 8 bytes would send at most)
 * or 8192 bytes. Each configuration runs 3 times; the median and the best
 * are printed. Rates count payload (STDOUT content) bytes only;
 * 1 MB = 10^6 bytes, 1 GB = 10^9 bytes.
 */

#define _POSIX_C_SOURCE 200112L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi_proto.h"

#define REPS 3
#define REQUEST_ID 1
#define BUF_TARGET (1u << 20)
#define MIB (1024.0 * 1024.0)

/** One configuration. */
typedef struct {
    const char *name;
    size_t content;   /* record content length */
    size_t chunk;     /* bytes per call sequence; 0: whole buffer */
    uint64_t payload; /* at least this many payload bytes */
    int touch;        /* read every payload byte */
} run_t;

/** The records to decode. */
typedef struct {
    unsigned char *buf;
    size_t len;
    size_t payload; /* content bytes in buf */
} records_t;

/** What the consumer saw. */
typedef struct {
    uint64_t bytes;
    uint64_t sum;
    uint64_t calls;
} acc_t;

static void die(const char *what)
{
    fprintf(stderr, "bench_decoder: %s\n", what);
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        die("clock_gettime(CLOCK_MONOTONIC) failed");
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build_records(records_t *r, size_t content)
{
    size_t nrec = BUF_TARGET / content, i, j, off = 0;

    if (nrec == 0) {
        nrec = 1;
    }
    r->len = nrec * (FCGIX_HEADER_LEN + content);
    r->payload = nrec * content;
    r->buf = malloc(r->len);
    if (r->buf == NULL) {
        die("out of memory");
    }
    for (i = 0; i < nrec; i++) {
        fcgix_rec_header(r->buf + off, FCGIX_STDOUT, REQUEST_ID,
                         (uint16_t)content, 0);
        off += FCGIX_HEADER_LEN;
        for (j = 0; j < content; j++) {
            r->buf[off + j] = (unsigned char)(i * 31 + j * 7);
        }
        off += content;
    }
}

/* The decoder copies nothing, so by default the consumer looks at the
 * ends of each slice; with touch it reads every byte, like a consumer
 * that copies the payload would. */
static void consume(const fcgix_event_t *ev, acc_t *a, int touch)
{
    size_t i;

    if (ev->type != FCGIX_STDOUT) {
        die("unexpected event type");
    }
    a->bytes += ev->len;
    if (ev->len == 0) {
        return;
    }
    a->sum += (uint64_t)ev->data[0] * 131 + ev->data[ev->len - 1] + ev->len;
    if (touch) {
        for (i = 0; i < ev->len; i++) {
            a->sum += ev->data[i];
        }
    }
}

static void feed(fcgix_dec_t *d, const unsigned char *in, size_t len, acc_t *a,
                 int touch)
{
    size_t off = 0, used;
    fcgix_event_t ev;
    int rc;

    for (;;) {
        rc = fcgix_dec_step(d, in + off, len - off, &used, &ev);
        a->calls++;
        if (rc != FCGIX_OK) {
            break;
        }
        off += used;
        consume(&ev, a, touch);
    }
    if (rc != FCGIX_AGAIN) {
        fprintf(stderr, "bench_decoder: %s\n", fcgix_strerror(rc));
        exit(1);
    }
}

static void feed_pass(fcgix_dec_t *d, const records_t *r, size_t chunk,
                      acc_t *a, int touch)
{
    size_t off, n;

    if (chunk == 0) {
        feed(d, r->buf, r->len, a, touch);
        return;
    }
    for (off = 0; off < r->len; off += n) {
        n = r->len - off < chunk ? r->len - off : chunk;
        feed(d, r->buf + off, n, a, touch);
    }
}

/* Ends the response, outside the timed part, and checks it is complete. */
static void finish(fcgix_dec_t *d)
{
    unsigned char end[FCGIX_HEADER_LEN + FCGIX_FIXED_BODY_LEN] = {0};
    fcgix_event_t ev;
    size_t used;

    fcgix_rec_header(end, FCGIX_END_REQUEST, REQUEST_ID, FCGIX_FIXED_BODY_LEN,
                     0);
    if (fcgix_dec_step(d, end, sizeof(end), &used, &ev) != FCGIX_OK
        || ev.type != FCGIX_END_REQUEST || used != sizeof(end)
        || !fcgix_dec_done(d)) {
        die("END_REQUEST not decoded");
    }
}

/* One repetition; @return seconds. */
static double run_once(const run_t *run, const records_t *r, acc_t *a)
{
    fcgix_dec_t d;
    uint64_t passes = 0;
    double t0, t1;

    memset(a, 0, sizeof(*a));
    fcgix_dec_init(&d, REQUEST_ID);
    t0 = now();
    while (a->bytes < run->payload) {
        feed_pass(&d, r, run->chunk, a, run->touch);
        passes++;
    }
    t1 = now();
    finish(&d);
    if (a->bytes != passes * r->payload) {
        die("payload byte count mismatch");
    }
    return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static uint64_t bench(const run_t *run)
{
    records_t r;
    acc_t a;
    double t[REPS], med, best, noise;
    uint64_t sum = 0;
    int i;

    build_records(&r, run->content);
    for (i = 0; i < REPS; i++) {
        t[i] = run_once(run, &r, &a);
        sum += a.sum;
    }
    qsort(t, REPS, sizeof(t[0]), cmp_double);
    med = (double)a.bytes / t[REPS / 2];
    best = (double)a.bytes / t[0];
    noise = (t[REPS - 1] - t[0]) / t[REPS / 2];
    printf("%-42s %10.1f %8.2f %8.2f %5.1f%% %8.2f %6.0f\n", run->name,
           med / 1e6, med / 1e9, best / 1e9, noise * 100,
           t[REPS / 2] * 1e9 / (double)a.calls, (double)a.bytes / MIB);
    free(r.buf);
    return sum;
}

int main(void)
{
    static const run_t runs[] = {
        {"65528-byte records, 1 MiB chunks", 65528, 0, 1ull << 30, 0},
        {"65528-byte records, 16 KiB chunks", 65528, 16384, 1ull << 30, 0},
        {"65528-byte records, 1 MiB chunks, read all", 65528, 0, 1ull << 30, 1},
        {"8192-byte records, 1 MiB chunks", 8192, 0, 1ull << 30, 0},
        {"8192-byte records, 16 KiB chunks", 8192, 16384, 1ull << 30, 0},
        {"65528-byte records, 1-byte chunks", 65528, 1, 64ull << 20, 0},
        {"8192-byte records, 1-byte chunks", 8192, 1, 64ull << 20, 0},
    };
    uint64_t sum = 0;
    size_t i;

    printf("fcgix_dec_step on STDOUT records, %d runs each; rates are "
           "payload bytes,\n1 MB = 10^6 B, 1 GB = 10^9 B; noise = "
           "(max - min) / median time\n\n",
           REPS);
    printf("%-42s %10s %8s %8s %6s %8s %6s\n", "configuration", "MB/s", "GB/s",
           "best", "noise", "ns/call", "MiB");
    for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        sum += bench(&runs[i]);
    }
    printf("checksum %016llx\n", (unsigned long long)sum);
    return 0;
}
