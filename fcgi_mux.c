/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_mux.c
 * @brief Multiplexed connections; see fcgi_mux.h.
 *
 * One lock guards everything. Requests' threads take it to join or offer
 * (a socket pair, a slot); the mux thread takes it for each turn after
 * poll(). Only the mux thread closes a shared connection, frees a slot or
 * closes a pair's mux end, so what it polled is still there when it looks
 * (it checks that the slot still holds the descriptor it polled).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_CLOEXEC, SOCK_NONBLOCK, pipe2() */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_log.h"
#include "fcgi_mux.h"
#include "fcgi_proto.h"

/* Apps a child remembers; when full, one with no shared connection is
 * forgotten (and asked again should it come back). */
#define MUX_APPS 256

/* Bytes queued toward one shared connection before the mux stops reading
 * requests' records for it (the app reads slowly): their threads wait,
 * as on a connection of their own. */
#define MUX_OUT_BYTES (256 * 1024)

/* What one request may send per turn, so that a large upload does not
 * hold back the others' records. */
#define MUX_TURN_BYTES 16384

/* A management record's content kept (FCGI_GET_VALUES_RESULT); a longer
 * one is not an answer to our three names. */
#define MUX_MGMT_MAX 1024

/* The request id every request uses on its own pair. */
#define PAIR_ID 1

typedef struct {
    unsigned char *p;
    size_t len, pos, cap;
} buf_t;

/* Where a record stream is: its header, then content and padding. */
typedef struct {
    unsigned char hdr[FCGIX_HEADER_LEN];
    size_t have; /* header bytes collected */
    size_t left; /* content + padding still to come */
    size_t coff; /* content bytes seen */
    size_t clen;
} framer_t;

/* A request on a shared connection; its index is its request id. */
typedef struct conn conn_t;

typedef struct {
    conn_t *conn;   /* whose slot it is */
    int busy;       /* the id is taken until the app ends the request */
    int fd;         /* the mux's end of the request's pair; -1: closed */
    int ended;      /* END_REQUEST came from the app */
    int abort_sent; /* FCGI_ABORT_REQUEST went to the app */
    int burnt;      /* ended after an abort: never used again on this
                       connection (Go's net/http/fcgi ends an aborted
                       request at once, then again when its handler
                       returns, with output in between) */
    buf_t to_req;   /* the app's records, waiting for the request */
    framer_t in;    /* the request's records, toward the app */
    buf_t part;     /* ... the one not whole yet: records go to the
                       shared connection whole, never interleaved */
} slot_t;

typedef struct app app_t;

struct conn {
    struct conn *next;
    app_t *app;
    int fd;
    int broken;  /* closed at the end of the turn */
    int probing; /* FCGI_GET_VALUES asked, no answer yet */
    int plain;   /* the app does not multiplex: closed once idle */
    int ids;     /* request ids usable: 1..ids */
    int nbusy;
    int nburnt;   /* ids burnt; past half of them, the connection retires */
    int dropping; /* the record being read is for a burnt id */
    int64_t idle_since;
    buf_t to_app;
    framer_t out;   /* the app's records */
    slot_t *target; /* the slot of the record being read, or NULL */
    int end_status; /* END_REQUEST's protocolStatus, as it is read */
    unsigned char mgmt[MUX_MGMT_MAX];
    size_t mgmt_len;
    slot_t slot[FCGIX_MUX_MAX_REQS + 1];
};

struct app {
    char *key;
    char *label;
    fcgix_mux_state_t state;
    int max_conns, max_reqs;
    int nconns;
    conn_t *conns;
};

struct fcgix_mux {
    pthread_mutex_t lock;
    pthread_cond_t decided; /* an app left FCGIX_MUX_PROBING */
    pthread_t thread;
    int wake[2];
    volatile int stopping;
    fcgix_mux_log_fn *log;
    void *baton;
    app_t apps[MUX_APPS];
    int napps;
    struct pollfd *pfd;
    void **ref;   /* per pollfd: the conn, or the slot */
    int *is_slot; /* per pollfd */
    size_t pcap;
};

/* ------------------------------------------------------------------ */
/* Small parts                                                          */
/* ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(fcgix_mux_t *m, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (m->log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    m->log(m->baton, level, msg);
}

static size_t buf_pending(const buf_t *b)
{
    return b->len - b->pos;
}

static int buf_add(buf_t *b, const void *data, size_t n)
{
    if (b->pos == b->len) {
        b->pos = b->len = 0;
    }
    if (b->len + n > b->cap && b->pos > 0) {
        memmove(b->p, b->p + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *p;

        while (cap < b->len + n) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Send what @p b holds, as far as @p fd takes it now. -1: @p fd is
 * broken. */
static int buf_send(buf_t *b, int fd)
{
    ssize_t n;

    while (b->pos < b->len) {
        n = send(fd, b->p + b->pos, b->len - b->pos,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        b->pos += (size_t)n;
    }
    b->pos = b->len = 0;
    return 0;
}

static void put_id(unsigned char hdr[FCGIX_HEADER_LEN], int id)
{
    hdr[2] = (unsigned char)(id >> 8);
    hdr[3] = (unsigned char)id;
}

static int get_id(const unsigned char hdr[FCGIX_HEADER_LEN])
{
    return (hdr[2] << 8) | hdr[3];
}

/* Take header bytes from *@p p (of *@p n); 1 once the header is whole. */
static int framer_header(framer_t *f, const unsigned char **p, size_t *n)
{
    size_t k =
        FCGIX_HEADER_LEN - f->have < *n ? FCGIX_HEADER_LEN - f->have : *n;

    memcpy(f->hdr + f->have, *p, k);
    f->have += k;
    *p += k;
    *n -= k;
    return f->have == FCGIX_HEADER_LEN;
}

/* A header is complete: what of the record is still to come. */
static void framer_start(framer_t *f)
{
    f->clen = ((size_t)f->hdr[4] << 8) | f->hdr[5];
    f->left = f->clen + f->hdr[6];
    f->coff = 0;
}

static void wake(fcgix_mux_t *m)
{
    char c = 0;

    if (write(m->wake[1], &c, 1) < 0) {
        /* full: the thread wakes anyway */
    }
}

/* ------------------------------------------------------------------ */
/* Slots                                                                */
/* ------------------------------------------------------------------ */

static void close_pair(slot_t *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    buf_free(&s->to_req);
    buf_free(&s->part);
}

static void free_slot(conn_t *c, slot_t *s)
{
    close_pair(s);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    c->nbusy--;
    if (c->nbusy == 0) {
        c->idle_since = now_ms();
    }
}

static int slot_id(const conn_t *c, const slot_t *s)
{
    return (int)(s - c->slot);
}

/* The request is given up before the app ended it: the app is told
 * (once), the pair closed; the id stays taken until END_REQUEST. */
static void abandon(conn_t *c, slot_t *s)
{
    unsigned char rec[FCGIX_HEADER_LEN];

    close_pair(s);
    if (!s->abort_sent && !c->broken) {
        fcgix_rec_abort_request(rec, (uint16_t)slot_id(c, s));
        if (buf_add(&c->to_app, rec, sizeof(rec)) < 0) {
            c->broken = 1;
        }
        s->abort_sent = 1;
    }
}

/* A new slot on @p c for a request, with its pair: the request's end, or
 * -1. */
static int open_slot(conn_t *c)
{
    int sv[2], id;

    for (id = 1; id <= c->ids; id++) {
        if (!c->slot[id].busy && !c->slot[id].burnt) {
            break;
        }
    }
    if (id > c->ids
        || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                      sv)
               < 0) {
        return -1;
    }
    memset(&c->slot[id], 0, sizeof(c->slot[id]));
    c->slot[id].conn = c;
    c->slot[id].busy = 1;
    c->slot[id].fd = sv[0];
    c->nbusy++;
    return sv[1];
}

/* The app's bytes for request @p s: to its pair now, or queued. A request
 * whose thread falls FCGIX_MUX_SLOT_BYTES behind is cut. */
static void deliver(fcgix_mux_t *m, conn_t *c, slot_t *s,
                    const unsigned char *p, size_t n)
{
    ssize_t sent = 0;

    if (s->fd < 0 || n == 0) {
        return;
    }
    if (buf_pending(&s->to_req) == 0) {
        sent = send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            abandon(c, s); /* the request's thread is gone */
            return;
        }
        sent = sent < 0 ? 0 : sent;
    }
    if ((size_t)sent < n
        && buf_add(&s->to_req, p + sent, n - (size_t)sent) < 0) {
        abandon(c, s);
        return;
    }
    if (buf_pending(&s->to_req) > FCGIX_MUX_SLOT_BYTES) {
        say(m, FCGIX_MUX_WARN,
            FCGIX_LOGNO(00053) "FastCGI app %s: request %d on a multiplexed "
                               "connection is cut: its client read too "
                               "slowly, and more than %d bytes of the app's "
                               "answer waited for it; FCGI_ABORT_REQUEST "
                               "sent",
            c->app->label, slot_id(c, s), FCGIX_MUX_SLOT_BYTES);
        abandon(c, s);
    }
}

/* ------------------------------------------------------------------ */
/* Discovery                                                            */
/* ------------------------------------------------------------------ */

static void set_state(fcgix_mux_t *m, app_t *a, fcgix_mux_state_t st)
{
    if (a->state == FCGIX_MUX_PROBING && st != FCGIX_MUX_PROBING) {
        pthread_cond_broadcast(&m->decided);
    }
    a->state = st;
}

static int clamp(long v, int dflt, int max)
{
    return v <= 0 ? dflt : v > max ? max : (int)v;
}

/* The app says whether it multiplexes (@p v NULL: it did not say). */
static void decide(fcgix_mux_t *m, conn_t *c, const fcgix_values_t *v)
{
    app_t *a = c->app;

    c->probing = 0;
    if (v && v->mpxs == 1) {
        set_state(m, a, FCGIX_MUX_SHARED);
        a->max_reqs =
            clamp(v->max_reqs, FCGIX_MUX_MAX_REQS, FCGIX_MUX_MAX_REQS);
        a->max_conns =
            clamp(v->max_conns, FCGIX_MUX_MAX_CONNS, FCGIX_MUX_MAX_CONNS);
        c->ids = a->max_reqs;
        say(m, FCGIX_MUX_INFO,
            FCGIX_LOGNO(00054) "FastCGI app %s multiplexes "
                               "(FCGI_MPXS_CONNS=1): this httpd process "
                               "sends it up to %d requests on each of up "
                               "to %d connections",
            a->label, a->max_reqs, a->max_conns);
        return;
    }
    set_state(m, a, FCGIX_MUX_PLAIN);
    c->plain = 1;
    say(m, FCGIX_MUX_INFO,
        FCGIX_LOGNO(00055) "FastCGI app %s does not multiplex (%s): one "
                           "request per connection",
        a->label,
        v == NULL      ? "no answer to FCGI_GET_VALUES"
        : v->mpxs == 0 ? "FCGI_MPXS_CONNS=0"
                       : "no FCGI_MPXS_CONNS in its answer");
}

/* The app said it multiplexes, then refused a request with
 * FCGI_CANT_MPX_CONN: from now on, one request per connection. */
static void give_up_sharing(fcgix_mux_t *m, app_t *a)
{
    conn_t *c;

    if (a->state != FCGIX_MUX_SHARED) {
        return;
    }
    a->state = FCGIX_MUX_PLAIN;
    for (c = a->conns; c; c = c->next) {
        c->plain = 1; /* no new request; closed once idle */
    }
    say(m, FCGIX_MUX_WARN,
        FCGIX_LOGNO(00059) "FastCGI app %s refused a request with "
                           "FCGI_CANT_MPX_CONN although it said "
                           "FCGI_MPXS_CONNS=1: this httpd process sends it "
                           "one request per connection from now on",
        a->label);
}

/* A management record (request id 0) is complete. */
static void on_management(fcgix_mux_t *m, conn_t *c, int type)
{
    fcgix_values_t v;

    if (!c->probing) {
        return;
    }
    if (type == FCGIX_GET_VALUES_RESULT && c->mgmt_len <= MUX_MGMT_MAX
        && fcgix_values_parse(c->mgmt, c->mgmt_len, &v) == FCGIX_OK) {
        decide(m, c, &v);
    }
    else {
        decide(m, c, NULL); /* FCGI_UNKNOWN_TYPE, or garbage */
    }
}

/* ------------------------------------------------------------------ */
/* From the app                                                         */
/* ------------------------------------------------------------------ */

static void broke(fcgix_mux_t *m, conn_t *c, const char *why)
{
    if (c->broken) {
        return;
    }
    c->broken = 1;
    /* An app that said no and closed the connection it was asked on: no
     * error, the request goes again on a plain one. */
    say(m, c->nbusy > 0 && !c->plain ? FCGIX_MUX_ERROR : FCGIX_MUX_DEBUG,
        FCGIX_LOGNO(00056) "FastCGI app %s: a multiplexed connection "
                           "%s; the %d requests on it fail (bodiless GETs "
                           "that had no answer yet go again)",
        c->app->label, why, c->nbusy);
}

/* A header from the app is complete: where the record goes. 0, or -1
 * when it breaks the protocol. */
static int app_header(fcgix_mux_t *m, conn_t *c)
{
    framer_t *f = &c->out;
    int id = get_id(f->hdr);

    framer_start(f);
    c->target = NULL;
    c->dropping = 0;
    c->mgmt_len = 0;
    c->end_status = FCGIX_REQUEST_COMPLETE;
    if (f->hdr[0] != FCGIX_VERSION_1) {
        broke(m, c, "sent a record of version other than 1");
        return -1;
    }
    if (id == FCGIX_NULL_REQUEST_ID) {
        return 0;
    }
    if (id <= c->ids && c->slot[id].burnt) {
        c->dropping = 1; /* late output of an aborted request */
        return 0;
    }
    if (id > c->ids || !c->slot[id].busy) {
        char why[96];

        snprintf(why, sizeof(why),
                 "sent a record for request id %d, which "
                 "is not in flight",
                 id);
        broke(m, c, why);
        return -1;
    }
    c->target = &c->slot[id];
    put_id(f->hdr, PAIR_ID);
    deliver(m, c, c->target, f->hdr, FCGIX_HEADER_LEN);
    return 0;
}

/* The record from the app is complete. */
static void app_record_done(fcgix_mux_t *m, conn_t *c)
{
    int type = c->out.hdr[1];
    slot_t *s = c->target;

    c->out.have = 0;
    if (c->dropping) {
        return;
    }
    if (s == NULL) {
        on_management(m, c, type);
        return;
    }
    if (type != FCGIX_END_REQUEST) {
        return;
    }
    s->ended = 1;
    if (c->probing) {
        decide(m, c, NULL); /* the request ended unasked */
    }
    if (c->end_status == FCGIX_CANT_MPX_CONN) {
        give_up_sharing(m, c->app);
    }
    if (s->fd < 0) { /* abandoned: the app may still answer it */
        free_slot(c, s);
        s->burnt = 1;
        c->nburnt++;
    }
    c->target = NULL;
}

/* Route what one recv() brought from the app. */
static void from_app(fcgix_mux_t *m, conn_t *c, const unsigned char *p,
                     size_t n)
{
    framer_t *f = &c->out;
    size_t k;

    while (n > 0 && !c->broken) {
        if (f->have < FCGIX_HEADER_LEN) {
            if (framer_header(f, &p, &n)
                && (app_header(m, c) < 0 || f->left == 0)) {
                if (!c->broken) {
                    app_record_done(m, c);
                }
            }
            continue;
        }
        k = f->left < n ? f->left : n;
        /* END_REQUEST's protocolStatus is its content's fifth byte. */
        if (c->target && f->hdr[1] == FCGIX_END_REQUEST && f->coff <= 4
            && 4 < f->coff + k && f->clen > 4) {
            c->end_status = p[4 - f->coff];
        }
        if (c->target) {
            deliver(m, c, c->target, p, k);
        }
        else if (!c->dropping && f->coff < f->clen) {
            size_t want = f->clen - f->coff < k ? f->clen - f->coff : k;

            if (c->mgmt_len + want <= MUX_MGMT_MAX) {
                memcpy(c->mgmt + c->mgmt_len, p, want);
            }
            c->mgmt_len += want;
        }
        f->coff += k;
        f->left -= k;
        p += k;
        n -= k;
        if (f->left == 0) {
            app_record_done(m, c);
        }
    }
}

static void read_app(fcgix_mux_t *m, conn_t *c)
{
    unsigned char in[65536];
    ssize_t n = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        if (c->probing) {
            decide(m, c, NULL);
        }
        broke(m, c, n == 0 ? "was closed by the app" : "failed to read");
        return;
    }
    c->idle_since = now_ms();
    from_app(m, c, in, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* From the requests                                                    */
/* ------------------------------------------------------------------ */

/* The request's record in s->part is whole: queue it for the app. */
static int record_whole(conn_t *c, slot_t *s)
{
    int rc =
        buf_add(&c->to_app, s->part.p + s->part.pos, buf_pending(&s->part));

    s->part.pos = s->part.len = 0;
    s->in.have = 0;
    return rc;
}

/* Queue one request's records for the app under its own id, each once it
 * is whole, with FCGI_KEEP_CONN set in BEGIN_REQUEST (the connection is
 * shared). */
static int to_app(conn_t *c, slot_t *s, const unsigned char *p, size_t n)
{
    framer_t *f = &s->in;
    size_t k;

    while (n > 0) {
        if (f->have < FCGIX_HEADER_LEN) {
            if (!framer_header(f, &p, &n)) {
                continue;
            }
            framer_start(f);
            put_id(f->hdr, slot_id(c, s));
            if (f->hdr[1] == FCGIX_ABORT_REQUEST) {
                s->abort_sent = 1;
            }
            if (buf_add(&s->part, f->hdr, FCGIX_HEADER_LEN) < 0
                || (f->left == 0 && record_whole(c, s) < 0)) {
                return -1;
            }
            continue;
        }
        k = f->left < n ? f->left : n;
        if (buf_add(&s->part, p, k) < 0) {
            return -1;
        }
        /* BEGIN_REQUEST's flags are its content's third byte. */
        if (f->hdr[1] == FCGIX_BEGIN_REQUEST && f->coff <= 2 && 2 < f->coff + k
            && f->clen > 2) {
            s->part.p[s->part.len - k + (2 - f->coff)] |= FCGIX_KEEP_CONN;
        }
        f->coff += k;
        f->left -= k;
        p += k;
        n -= k;
        if (f->left == 0 && record_whole(c, s) < 0) {
            return -1;
        }
    }
    return 0;
}

static void read_request(conn_t *c, slot_t *s)
{
    unsigned char in[MUX_TURN_BYTES];
    ssize_t n = recv(s->fd, in, sizeof(in), MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) { /* the request is over (or its thread gave up) */
        if (s->ended) {
            free_slot(c, s);
        }
        else {
            abandon(c, s);
        }
        return;
    }
    if (s->ended) {
        return; /* the app ended the request: nothing more is its */
    }
    if (to_app(c, s, in, (size_t)n) < 0) {
        c->broken = 1;
    }
}

static void write_request(conn_t *c, slot_t *s)
{
    if (buf_send(&s->to_req, s->fd) < 0) {
        if (s->ended) {
            free_slot(c, s);
        }
        else {
            abandon(c, s);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static conn_t *new_conn(app_t *a, int fd, int probing, int ids)
{
    conn_t *c = calloc(1, sizeof(*c));
    int i;

    if (c == NULL) {
        return NULL;
    }
    c->app = a;
    c->fd = fd;
    c->probing = probing;
    c->ids = ids;
    c->idle_since = now_ms();
    for (i = 0; i <= FCGIX_MUX_MAX_REQS; i++) {
        c->slot[i].fd = -1;
    }
    c->next = a->conns;
    a->conns = c;
    a->nconns++;
    return c;
}

static void free_conn(app_t *a, conn_t *c)
{
    conn_t **pp;
    int i;

    for (pp = &a->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    a->nconns--;
    for (i = 1; i <= FCGIX_MUX_MAX_REQS; i++) {
        close_pair(&c->slot[i]);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    buf_free(&c->to_app);
    free(c);
}

/* Ask the app whether it multiplexes, before the request's records. */
static int queue_question(conn_t *c)
{
    static const char *const names[] = {FCGIX_MPXS_CONNS, FCGIX_MAX_REQS,
                                        FCGIX_MAX_CONNS};
    unsigned char rec[256];
    long n = fcgix_rec_get_values(rec, sizeof(rec), names, 3);

    return n > 0 ? buf_add(&c->to_app, rec, (size_t)n) : -1;
}

/* Half of a connection's ids are burnt: it takes no new request, and is
 * closed once idle. */
static int retiring(const conn_t *c)
{
    return c->nburnt * 2 > c->ids;
}

/* End of a turn: close what broke, what is idle, what is done. */
static void sweep(fcgix_mux_t *m, app_t *a, int64_t now)
{
    conn_t *c = a->conns, *next;
    int i;

    for (; c; c = next) {
        next = c->next;
        for (i = 1; i <= c->ids && !c->broken; i++) {
            slot_t *s = &c->slot[i];

            if (s->busy && s->ended && s->fd >= 0
                && buf_pending(&s->to_req) == 0) {
                free_slot(c, s); /* all of it went to the request */
            }
        }
        if (c->probing && c->nbusy == 0) {
            c->probing = 0; /* given up unanswered */
            set_state(m, a, FCGIX_MUX_PLAIN);
            c->plain = 1;
        }
        if (c->broken
            || (c->nbusy == 0 && buf_pending(&c->to_app) == 0
                && (c->plain || retiring(c)
                    || now - c->idle_since >= FCGIX_MUX_IDLE_MS))) {
            free_conn(a, c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */
/* ------------------------------------------------------------------ */

static int room_for(fcgix_mux_t *m, size_t n)
{
    struct pollfd *pfd;
    void **ref;
    int *is_slot;

    if (n <= m->pcap) {
        return 0;
    }
    n = n * 2;
    /* Each array kept as it was when its growth fails: pcap still holds
     * for all three, and the next turn tries again. */
    if ((pfd = realloc(m->pfd, n * sizeof(*pfd))) != NULL) {
        m->pfd = pfd;
    }
    if ((ref = realloc(m->ref, n * sizeof(*ref))) != NULL) {
        m->ref = ref;
    }
    if ((is_slot = realloc(m->is_slot, n * sizeof(*is_slot))) != NULL) {
        m->is_slot = is_slot;
    }
    if (pfd == NULL || ref == NULL || is_slot == NULL) {
        return -1;
    }
    m->pcap = n;
    return 0;
}

static int add_pfd(fcgix_mux_t *m, size_t *k, int fd, short events, void *ref,
                   int is_slot)
{
    if (room_for(m, *k + 1) < 0) {
        return -1;
    }
    m->pfd[*k].fd = fd;
    m->pfd[*k].events = events;
    m->pfd[*k].revents = 0;
    m->ref[*k] = ref;
    m->is_slot[*k] = is_slot;
    (*k)++;
    return 0;
}

/* What to wait for: the wake pipe; each connection (its records, room
 * for ours); each request's pair (its records while the connection's
 * queue has room, room for what waits for it). */
static size_t gather(fcgix_mux_t *m)
{
    size_t k = 0;
    conn_t *c;
    int a, i;

    add_pfd(m, &k, m->wake[0], POLLIN, NULL, 0);
    for (a = 0; a < m->napps; a++) {
        for (c = m->apps[a].conns; c; c = c->next) {
            int open = buf_pending(&c->to_app) < MUX_OUT_BYTES;

            add_pfd(m, &k, c->fd,
                    (short)(POLLIN | (buf_pending(&c->to_app) ? POLLOUT : 0)),
                    c, 0);
            for (i = 1; i <= c->ids; i++) {
                slot_t *s = &c->slot[i];
                short ev = (short)((open ? POLLIN : 0)
                                   | (buf_pending(&s->to_req) ? POLLOUT : 0));

                if (s->busy && s->fd >= 0 && ev) {
                    add_pfd(m, &k, s->fd, ev, s, 1);
                }
            }
        }
    }
    return k;
}

static void handle(fcgix_mux_t *m, size_t k)
{
    size_t i;

    for (i = 1; i < k; i++) {
        short rev = m->pfd[i].revents;

        if (rev == 0) {
            continue;
        }
        if (m->is_slot[i]) {
            slot_t *s = m->ref[i];
            conn_t *c = s->conn;

            if (!s->busy || c->broken || s->fd != m->pfd[i].fd) {
                continue; /* closed during this turn */
            }
            if (rev & POLLOUT) {
                write_request(c, s);
            }
            if (s->fd == m->pfd[i].fd && (rev & ~POLLOUT)) {
                read_request(c, s);
            }
        }
        else {
            conn_t *c = m->ref[i];

            if (!c->broken && (rev & ~POLLOUT)) {
                read_app(m, c);
            }
        }
    }
}

/* Send what is queued for each connection. */
static void flush_conns(fcgix_mux_t *m)
{
    conn_t *c;
    int a;

    for (a = 0; a < m->napps; a++) {
        for (c = m->apps[a].conns; c; c = c->next) {
            if (!c->broken && buf_pending(&c->to_app)
                && buf_send(&c->to_app, c->fd) < 0) {
                if (c->probing) {
                    decide(m, c, NULL);
                }
                broke(m, c, "failed to write");
            }
        }
    }
}

static void *mux_thread(void *data)
{
    fcgix_mux_t *m = data;
    char drain[64];
    size_t k;
    int a;

    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        k = gather(m);
        pthread_mutex_unlock(&m->lock);
        if (poll(m->pfd, (nfds_t)k, 1000) > 0 && (m->pfd[0].revents & POLLIN)) {
            while (read(m->wake[0], drain, sizeof(drain)) > 0) {
            }
        }
        pthread_mutex_lock(&m->lock);
        handle(m, k);
        flush_conns(m);
        for (a = 0; a < m->napps; a++) {
            sweep(m, &m->apps[a], now_ms());
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The requests' side                                                   */
/* ------------------------------------------------------------------ */

static app_t *find_app(fcgix_mux_t *m, const char *key)
{
    int a;

    for (a = 0; a < m->napps; a++) {
        if (strcmp(m->apps[a].key, key) == 0) {
            return &m->apps[a];
        }
    }
    return NULL;
}

/* A record for @p key: a new one, or one with no connection forgotten to
 * make room; NULL when every one is in use. */
static app_t *add_app(fcgix_mux_t *m, const char *key, const char *label)
{
    char *k = strdup(key), *l = strdup(label);
    app_t *a = NULL;
    int i;

    if (k == NULL || l == NULL) {
        free(k);
        free(l);
        return NULL;
    }
    if (m->napps < MUX_APPS) {
        a = &m->apps[m->napps++];
    }
    for (i = 0; a == NULL && i < m->napps; i++) {
        if (m->apps[i].nconns == 0 && m->apps[i].state != FCGIX_MUX_PROBING) {
            a = &m->apps[i];
            free(a->key);
            free(a->label);
        }
    }
    if (a == NULL) {
        free(k);
        free(l);
        return NULL;
    }
    memset(a, 0, sizeof(*a));
    a->key = k;
    a->label = l;
    return a;
}

/* The shared connection with the fewest requests that has room. */
static conn_t *least_busy(app_t *a)
{
    conn_t *c, *best = NULL;

    for (c = a->conns; c; c = c->next) {
        if (!c->broken && !c->probing && !c->plain && !retiring(c)
            && c->nbusy + c->nburnt < c->ids
            && (best == NULL || c->nbusy < best->nbusy)) {
            best = c;
        }
    }
    return best;
}

/* Requests on a shared connection before another is opened, while the
 * app allows more connections: a few connections share the app's work
 * (its reading and writing of one connection is serial). */
#define MUX_SPREAD 8

/* While the first request asks the app, the others wait for the answer,
 * at most FCGIX_MUX_ASK_WAIT_MS: each would otherwise open a connection
 * of its own. The lock is held. */
static app_t *await_answer(fcgix_mux_t *m, const char *key)
{
    app_t *a = find_app(m, key);
    struct timespec until;

    if (a == NULL || a->state != FCGIX_MUX_PROBING) {
        return a;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += FCGIX_MUX_ASK_WAIT_MS / 1000;
    until.tv_nsec += (long)(FCGIX_MUX_ASK_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while ((a = find_app(m, key)) != NULL && a->state == FCGIX_MUX_PROBING
           && !m->stopping) {
        if (pthread_cond_timedwait(&m->decided, &m->lock, &until)
            == ETIMEDOUT) {
            return find_app(m, key);
        }
    }
    return a;
}

int fcgix_mux_join(fcgix_mux_t *m, const char *key)
{
    app_t *a;
    conn_t *c;
    int fd = -1;

    pthread_mutex_lock(&m->lock);
    a = await_answer(m, key);
    if (a && a->state == FCGIX_MUX_SHARED && (c = least_busy(a)) != NULL
        && (c->nbusy < MUX_SPREAD || a->nconns >= a->max_conns)) {
        fd = open_slot(c);
    }
    pthread_mutex_unlock(&m->lock);
    if (fd >= 0) {
        wake(m);
    }
    return fd;
}

int fcgix_mux_offer(fcgix_mux_t *m, const char *key, const char *label, int fd,
                    int may_probe, int *probing)
{
    app_t *a;
    conn_t *c = NULL;
    int pair = -1;

    pthread_mutex_lock(&m->lock);
    a = find_app(m, key);
    if (a == NULL && may_probe) {
        a = add_app(m, key, label);
    }
    if (a && a->state == FCGIX_MUX_UNKNOWN && may_probe) {
        c = new_conn(a, fd, 1, 1);
        if (c && queue_question(c) == 0) {
            a->state = FCGIX_MUX_PROBING;
        }
    }
    else if (a && a->state == FCGIX_MUX_SHARED && a->nconns < a->max_conns) {
        c = new_conn(a, fd, 0, a->max_reqs);
    }
    if (c) {
        pair = open_slot(c);
    }
    *probing = pair >= 0 && c->probing;
    if (c && pair < 0) { /* the thread has not seen it yet */
        c->fd = -1;      /* still the caller's */
        free_conn(a, c);
        if (a->state == FCGIX_MUX_PROBING) {
            set_state(m, a, FCGIX_MUX_UNKNOWN);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (pair >= 0) {
        wake(m);
    }
    return pair;
}

fcgix_mux_state_t fcgix_mux_state(fcgix_mux_t *m, const char *key, int *conns,
                                  int *inflight)
{
    fcgix_mux_state_t st = FCGIX_MUX_UNKNOWN;
    app_t *a;
    conn_t *c;
    int n = 0, busy = 0;

    pthread_mutex_lock(&m->lock);
    a = find_app(m, key);
    if (a) {
        st = a->state;
        for (c = a->conns; c; c = c->next) {
            n++;
            busy += c->nbusy;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (conns) {
        *conns = n;
    }
    if (inflight) {
        *inflight = busy;
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

/* What fcgix_mux_start() made, once no thread runs. */
static void free_mux(fcgix_mux_t *m)
{
    close(m->wake[0]);
    close(m->wake[1]);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->decided);
    free(m->pfd);
    free(m->ref);
    free(m->is_slot);
    free(m);
}

fcgix_mux_t *fcgix_mux_start(fcgix_mux_log_fn *log, void *baton)
{
    fcgix_mux_t *m = calloc(1, sizeof(*m));
    pthread_condattr_t ca;
    int err;

    if (m == NULL) {
        return NULL;
    }
    m->log = log;
    m->baton = baton;
    if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        err = errno;
        free(m);
        errno = err;
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->decided, &ca);
    pthread_condattr_destroy(&ca);
    room_for(m, 64);
    err = pthread_create(&m->thread, NULL, mux_thread, m);
    if (err != 0) {
        free_mux(m);
        errno = err;
        return NULL;
    }
    return m;
}

void fcgix_mux_stop(fcgix_mux_t *m)
{
    int a;

    if (m == NULL) {
        return;
    }
    m->stopping = 1;
    wake(m);
    pthread_join(m->thread, NULL);
    for (a = 0; a < m->napps; a++) {
        while (m->apps[a].conns) {
            free_conn(&m->apps[a], m->apps[a].conns);
        }
        free(m->apps[a].key);
        free(m->apps[a].label);
    }
    free_mux(m);
}
