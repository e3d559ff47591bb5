/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_ctl.c
 * @brief Process manager: the control socket. Clients served from the
 *        main loop (buffers, deadlines, SO_PEERCRED), START/STARTAS
 *        answered at once or queued as waiters until a process is ready.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, struct ucred */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi_pm_int.h"

/* How long a START may wait for a process that is being replaced. */
#define WAITER_MS 5000

/* ------------------------------------------------------------------ */
/* Control socket                                                      */
/* ------------------------------------------------------------------ */

/* The answer is the last thing said on a connection: send it (never
 * blocking: the requester reads it at once or has given up) and close. */
static void send_answer(int fd, const char *line, long n)
{
    if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the requester gave up; nothing to do */
    }
    close(fd);
}

static void reply_ok(int fd)
{
    char line[FCGIX_CTL_ANSWER_MAX];

    send_answer(fd, line, fcgix_ctl_put_ok(line, sizeof(line)));
}

/* BUSY (@secs >= 0) or FAIL (@secs < 0) with the reason @fmt, cut to
 * the longest reason. Paths in reasons come from parsed requests, so
 * they hold no control byte; should a reason still be refused, a fixed
 * one is sent rather than nothing. */
static void reply_why(int fd, int secs, const char *fmt, va_list ap)
{
    char why[FCGIX_CTL_WHY_MAX + 1], line[FCGIX_CTL_ANSWER_MAX];
    long n;

    vsnprintf(why, sizeof(why), fmt, ap);
    n = secs >= 0 ? fcgix_ctl_put_busy(line, sizeof(line), secs, why)
                  : fcgix_ctl_put_fail(line, sizeof(line), why);
    if (n < 0) {
        n = fcgix_ctl_put_fail(line, sizeof(line), "unprintable reason");
    }
    send_answer(fd, line, n);
}

static void reply_busy(int fd, int secs, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_why(fd, secs, fmt, ap);
    va_end(ap);
}

static void reply_fail(int fd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_why(fd, -1, fmt, ap);
    va_end(ap);
}

/* Seconds until the earliest restart of class @c, at least 1; 0 when
 * no slot is backing off. A slot whose dead process awaits its verdict
 * (fcgix_pm_slot_verdict()) counts: it may be a failed start, and the
 * class must not grow by more of them meanwhile. */
static int backoff_left_s(const pm_t *pm, int c)
{
    long long now = fcgix_pm_now_ms(), best = -1;
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        const pslot_t *ps = &pm->slots[i];

        if (ps->state == FCGIX_SB_BACKOFF
            && (ps->failures > 0 || ps->verdict_until)
            && (best < 0 || ps->next_start < best)) {
            best = ps->next_start;
        }
    }
    if (best < 0) {
        return 0;
    }
    return best - now > 1000 ? (int)((best - now + 999) / 1000) : 1;
}

static void free_copies(waiter_t *w)
{
    free(w->req);
    w->req = NULL;
}

/* A START whose app had no class: give it one once a class is free;
 * meanwhile stop an idle process, unless a class is about to be freed
 * already. @return 0 once w->cls is set. */
static int take_class(pm_t *pm, waiter_t *w)
{
    int c = fcgix_pm_class_for(pm, w->req);

    if (c == FCGIX_PM_NO_ROOM) {
        if (!fcgix_pm_class_going(pm)) {
            fcgix_pm_evict_idle(pm, -1, NULL);
        }
        return -1;
    }
    free_copies(w);
    w->cls = c; /* FCGIX_PM_NO_CLASS too: answered as a failure below */
    return 0;
}

/* Answer a START that found no room, once its wait is over. */
static void answer_no_room(pm_t *pm, const waiter_t *w)
{
    if (w->cls < 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00523), NULL,
                     getpid(),
                     "cannot start %s: no room for another dynamic app and no "
                     "idle process to stop (-maxProcesses)",
                     w->req->path);
        reply_busy(w->fd, 5, "too many dynamic apps");
        return;
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00524),
                 &pm->classes[w->cls], getpid(),
                 "cannot start: %d dynamic processes run already and none is "
                 "idle (-maxProcesses)",
                 pm->dyn_live);
    reply_busy(w->fd, 5, "-maxProcesses dynamic processes run already");
}

/* Answer a waiting START if its class can take a request now (or never
 * will soon). @return 1 when answered. */
static int answer_waiter(pm_t *pm, waiter_t *w, long long now)
{
    char why[FCGIX_CTL_WHY_MAX + 1];
    int left;

    if (w->cls < 0 && take_class(pm, w) != 0) {
        if (now >= w->deadline) {
            answer_no_room(pm, w);
            return 1;
        }
        return 0;
    }
    if (w->cls == FCGIX_PM_NO_CLASS) {
        reply_fail(w->fd, "cannot set up a class for the app");
        return 1;
    }
    fcgix_pm_class_start_with_room(pm, w->cls);
    if (fcgix_pm_class_ready_slots(pm, w->cls) > 0) {
        reply_ok(w->fd);
        return 1;
    }
    left = backoff_left_s(pm, w->cls);
    if (left > 1) {
        reply_busy(w->fd, left, "the app is backing off after failed starts");
        return 1;
    }
    if (now >= w->deadline) {
        if (pm->classes[w->cls].dynamic
            && fcgix_pm_cap_busy(pm, w->cls, why, sizeof(why))) {
            reply_busy(w->fd, 1, "%s", why);
        }
        else if (fcgix_pm_class_slots_used(pm, w->cls) == 0
                 && pm->classes[w->cls].dynamic) {
            answer_no_room(pm, w);
        }
        else {
            reply_busy(w->fd, 1, "no process became ready in time");
        }
        return 1;
    }
    return 0;
}

static void drop_waiter(pm_t *pm, int i)
{
    free_copies(&pm->waiters[i]);
    pm->waiters[i] = pm->waiters[--pm->nwaiters];
}

void fcgix_pm_waiters_answer(pm_t *pm)
{
    long long now = fcgix_pm_now_ms();
    int i = 0;

    while (i < pm->nwaiters) {
        if (answer_waiter(pm, &pm->waiters[i], now)) {
            drop_waiter(pm, i);
        }
        else {
            i++;
        }
    }
}

/* Answer the START on @fd for class @c (-1: none yet, for @req) now, or
 * queue it for at most the start wait. */
static void wait_for_class(pm_t *pm, int fd, int c, const class_req_t *req)
{
    waiter_t w;

    memset(&w, 0, sizeof(w));
    w.fd = fd;
    w.cls = c;
    w.deadline =
        fcgix_pm_now_ms()
        + (pm->cfg->start_wait_ms > 0 ? pm->cfg->start_wait_ms : WAITER_MS);
    if (c < 0 && (w.req = malloc(sizeof(*req))) == NULL) {
        reply_busy(fd, 1, "out of memory");
        return;
    }
    if (c < 0) {
        *w.req = *req;
    }
    if (answer_waiter(pm, &w, fcgix_pm_now_ms())) {
        free_copies(&w);
        return;
    }
    if (pm->nwaiters == FCGIX_PM_MAX_WAITERS) {
        reply_busy(fd, 1, "too many requests waiting for a start");
        free_copies(&w);
        return;
    }
    pm->waiters[pm->nwaiters++] = w;
}

/* Only executables the httpd user may run become dynamic apps. */
const char *fcgix_pm_check_executable(const char *path)
{
    struct stat st;

    if (path[0] != '/') {
        return "not an absolute path";
    }
    if (stat(path, &st) != 0) {
        return strerror(errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return "not a regular file";
    }
    if (access(path, X_OK) != 0) {
        return "not executable by the httpd user";
    }
    return NULL;
}

/* Processes of class @c being stopped to be replaced at once (recycled
 * after -max-requests, an update): each is a process on its way. */
static int replacements_coming(const pm_t *pm, int c)
{
    int i, n = 0;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        n += pm->slots[i].state == FCGIX_SB_STOPPING
             && pm->slots[i].after_stop == AFTER_RESTART;
    }
    return n;
}

/* START requests of class @c waiting for a process now. */
static int waiters_of(const pm_t *pm, int c)
{
    int k, n = 0;

    for (k = 0; k < pm->nwaiters; k++) {
        n += pm->waiters[k].cls == c;
    }
    return n;
}

static void handle_start(pm_t *pm, int fd, const class_req_t *req)
{
    const char *bad, *path = req->path;
    int c = fcgix_pm_class_find_key(pm, &req->key, path);

    if (c < 0 || pm->classes[c].dynamic) {
        bad = fcgix_pm_check_executable(path);
        if (bad) {
            reply_fail(fd, "%s: %s", path, bad);
            return;
        }
    }
    if (c < 0) {
        /* A new app: its class now if one is free, else once the wait
         * has made room (take_class). */
        wait_for_class(pm, fd, -1, req);
        return;
    }
    /* Every process busy or used up (an exclusive class: none idle): one
     * more, if the limits allow; each START that finds none grows an
     * exclusive class by one, unless a process being replaced will serve
     * it (one more process would outlive the burst). An app with none at
     * all gets room made for it (fcgix_pm_class_start_with_room). */
    if (fcgix_pm_class_ready_slots(pm, c) == 0 && pm->classes[c].dynamic
        && backoff_left_s(pm, c) == 0 && fcgix_pm_class_slots_used(pm, c) > 0
        && replacements_coming(pm, c) <= waiters_of(pm, c)) {
        fcgix_pm_class_grow(pm, c);
    }
    wait_for_class(pm, fd, c, req);
}

/* ------------------------------------------------------------------ */
/* Control clients                                                     */
/* ------------------------------------------------------------------ */

/* Each connection is served from the main loop with a buffer and a
 * deadline of its own, so that no client (an idle one, one that sends
 * half a line, a flood of them) delays a start, a reap or another
 * client. Anyone of the User can connect, so refusals are logged at
 * most once per REFUSAL_LOG_MS and reason, with a count of the others. */
#define REFUSAL_LOG_MS 10000
/* Connections taken per pass: the backlog is 128. */
#define ACCEPT_BATCH 256
/* read_client(): the client closed or failed before a complete line. */
#define CLIENT_GONE (-1000)

static void note_refusal(pm_t *pm, int why, const char *fmt, ...)
{
    refusal_t *r = &pm->refusals[why];
    long long now = fcgix_pm_now_ms();
    char msg[400];
    va_list ap;

    if (r->last_ms != 0 && now - r->last_ms < REFUSAL_LOG_MS) {
        r->unlogged++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->unlogged > 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00525), NULL,
                     getpid(),
                     "control socket: %s (and %lu more like it not logged; "
                     "one line per %d s)",
                     msg, r->unlogged, REFUSAL_LOG_MS / 1000);
    }
    else {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00526), NULL,
                     getpid(), "control socket: %s", msg);
    }
    r->last_ms = now;
    r->unlogged = 0;
}

/* Read what client @c has sent so far. @return the parser's result, or
 * CLIENT_GONE when it closed (or failed) before a complete line. */
static long read_client(client_t *c, fcgix_ctl_request_t *req)
{
    ssize_t n;
    long rc;

    /* The buffer holds the longest line: when it is full, the parser
     * says FCGIX_CTL_ELONG, so recv() is never asked for 0 bytes. */
    do {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
        }
        rc = fcgix_ctl_parse_request(c->buf, c->len, req);
    } while (rc == FCGIX_CTL_AGAIN && (n > 0 || (n < 0 && errno == EINTR)));
    if (rc == FCGIX_CTL_AGAIN && (n == 0 || errno != EAGAIN)) {
        return CLIENT_GONE;
    }
    return rc;
}

/* A STARTC the tables refuse: FAIL, logged like the other refusals
 * (FCGIX00540, at most once per 10 s with a count). */
static void refuse_startc(pm_t *pm, int fd, const client_t *c, const char *why)
{
    refusal_t *r = &pm->refusals[REFUSE_STARTC];
    long long now = fcgix_pm_now_ms();

    if (r->last_ms == 0 || now - r->last_ms >= REFUSAL_LOG_MS) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00540), NULL,
                     getpid(),
                     "control socket: refused a start from pid %ld (uid %ld): "
                     "%s (and %lu more refusals not logged)",
                     c->pid, c->uid, why, r->unlogged);
        r->last_ms = now;
        r->unlogged = 0;
    }
    else {
        r->unlogged++;
    }
    reply_fail(fd, "%s", why);
}

static void run_request(pm_t *pm, int fd, const client_t *c,
                        const fcgix_ctl_request_t *in)
{
    char why[FCGIX_CTL_WHY_MAX + 1];
    class_req_t *req;

    if (in->verb == FCGIX_CTL_TICK) {
        close(fd); /* the maintenance pass follows */
        return;
    }
    if ((req = malloc(sizeof(*req))) == NULL) {
        reply_busy(fd, 1, "out of memory");
        return;
    }
    if (fcgix_pm_request_check(pm, in, req, why, sizeof(why)) != NULL) {
        refuse_startc(pm, fd, c, why);
    }
    else {
        handle_start(pm, fd, req);
    }
    free(req);
}

/* Client @c may have sent more: act on its line once complete. A line
 * that cannot be parsed gets FAIL with the defect, then the connection
 * is closed; bytes after the line are ignored (one line per
 * connection). */
void fcgix_pm_client_serve(pm_t *pm, client_t *c)
{
    fcgix_ctl_request_t req;
    long rc = read_client(c, &req);
    int fd = c->fd;

    if (rc == FCGIX_CTL_AGAIN) {
        return; /* the rest may come before the deadline */
    }
    c->fd = -1; /* it leaves the table either way */
    if (rc == CLIENT_GONE) {
        close(fd);
    }
    else if (rc < 0) {
        note_refusal(pm, REFUSE_BAD,
                     "refused a request from pid %ld (uid %ld): %s", c->pid,
                     c->uid, fcgix_ctl_strerror(rc));
        reply_fail(fd, "malformed request: %s", fcgix_ctl_strerror(rc));
    }
    else {
        run_request(pm, fd, c, &req);
    }
}

/* A free entry of the client table; when every entry is taken, the
 * oldest client is closed: a flood of idle connections cannot lock out
 * the requests that follow it. (Many arrive within one millisecond, so
 * age is the order of arrival, not the deadline.) */
static client_t *free_client(pm_t *pm)
{
    client_t *oldest = &pm->clients[0];
    int i;

    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        client_t *c = &pm->clients[i];

        if (c->fd < 0) {
            return c;
        }
        if (c->seq < oldest->seq) {
            oldest = c;
        }
    }
    note_refusal(pm, REFUSE_FULL,
                 "%d clients have not sent a complete line; closed the "
                 "oldest (pid %ld, uid %ld)",
                 FCGIX_PM_CONTROL_CLIENTS, oldest->pid, oldest->uid);
    close(oldest->fd);
    oldest->fd = -1;
    return oldest;
}

/* Only root (httpd's parent) and our own user (httpd's children) may
 * talk to the PM: the socket's mode says so too, but a mode can be
 * changed, and a wrapped app runs as another user. */
static int allowed_peer(pm_t *pm, int fd, struct ucred *cred)
{
    socklen_t len = sizeof(*cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0
        || len != sizeof(*cred)) {
        cred->pid = 0;
        cred->uid = (uid_t)-1;
        return 0;
    }
    return fcgix_ctl_peer_allowed((unsigned long)cred->uid,
                                  (unsigned long)pm->uid);
}

/* A new connection: checked, entered in the table, and served at once,
 * since its line is usually there already. */
static void admit_client(pm_t *pm, int fd)
{
    struct ucred cred;
    client_t *c;

    if (!allowed_peer(pm, fd, &cred)) {
        note_refusal(pm, REFUSE_STRANGER,
                     "refused a client of uid %ld (pid %ld): only root and "
                     "uid %ld may send requests",
                     (long)cred.uid, (long)cred.pid, (long)pm->uid);
        close(fd);
        return;
    }
    c = free_client(pm);
    c->fd = fd;
    c->pid = (long)cred.pid;
    c->uid = (long)cred.uid;
    c->len = 0;
    c->seq = ++pm->client_seq;
    c->deadline = fcgix_pm_now_ms() + FCGIX_PM_CONTROL_READ_MS;
    fcgix_pm_client_serve(pm, c);
}

void fcgix_pm_clients_accept(pm_t *pm)
{
    int i, fd;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        fd = accept4(pm->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            admit_client(pm, fd);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            /* poll() would report the queued connections again at once:
             * leave them queued for a moment instead of spinning. */
            fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00527), NULL,
                         getpid(), "control socket: cannot accept: %s",
                         strerror(errno));
            pm->accept_paused = fcgix_pm_now_ms() + FCGIX_PM_ACCEPT_PAUSE_MS;
        }
        if (errno != EINTR && errno != ECONNABORTED) {
            return;
        }
    }
}

/* Close the clients whose deadline has passed: they sent nothing, or
 * half a line. @return ms until the next deadline, at most @wait. */
long long fcgix_pm_clients_expire(pm_t *pm, long long wait)
{
    long long now = fcgix_pm_now_ms();
    int i;

    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        client_t *c = &pm->clients[i];

        if (c->fd < 0) {
            continue;
        }
        if (c->deadline <= now) {
            note_refusal(pm, REFUSE_LATE,
                         "closed a client (pid %ld, uid %ld) that sent no "
                         "complete line within %d ms (%zu bytes)",
                         c->pid, c->uid, FCGIX_PM_CONTROL_READ_MS, c->len);
            close(c->fd);
            c->fd = -1;
        }
        else if (c->deadline - now < wait) {
            wait = c->deadline - now;
        }
    }
    return wait;
}

static void close_clients(pm_t *pm)
{
    int i;

    for (i = 0; pm->clients && i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        if (pm->clients[i].fd >= 0) {
            close(pm->clients[i].fd);
            pm->clients[i].fd = -1;
        }
    }
}

/* Whether a START waits for class @c. */
int fcgix_pm_class_awaited(const pm_t *pm, int c)
{
    int i;

    for (i = 0; i < pm->nwaiters; i++) {
        if (pm->waiters[i].cls == c) {
            return 1;
        }
    }
    return 0;
}

void fcgix_pm_control_close(pm_t *pm)
{
    while (pm->nwaiters > 0) {
        reply_busy(pm->waiters[0].fd, 1, "the process manager is stopping");
        drop_waiter(pm, 0);
    }
    close_clients(pm);
    if (pm->ctl_fd >= 0) {
        close(pm->ctl_fd);
        pm->ctl_fd = -1;
        unlink(pm->cfg->control_path);
    }
}

int fcgix_pm_control_open(pm_t *pm)
{
    const char *what;

    pm->ctl_fd = -1;
    if (pm->cfg->control_path == NULL) {
        return 0;
    }
    if (pm->cfg->control_fd > 2) {
        pm->ctl_fd = pm->cfg->control_fd; /* bound by our parent */
    }
    else {
        pm->ctl_fd = fcgix_pm_listen_unix(pm->cfg->control_path, 128, &what);
    }
    if (pm->ctl_fd < 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00533), NULL,
                     getpid(), "cannot %s %s: %s", what, pm->cfg->control_path,
                     strerror(errno));
        return -1;
    }
    fcntl(pm->ctl_fd, F_SETFL, fcntl(pm->ctl_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}
