/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_managed.c
 * @brief Requests to PM-run apps: a lease on the least used process, a
 *        start request to the PM when no process takes requests, and the
 *        notices (TICK) that make the PM scale up, recycle or update.
 *
 * The lease is given back by a pool cleanup on the request pool, so it
 * is released on every path, errors included.
 */

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "scoreboard.h"
#include "unixd.h"

#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgi_ctl.h"
#include "fcgi_handler.h"
#include "fcgi_keep.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"
#include "fcgi_pm.h"

FCGIX_USE_LOG_MODULE;

static fcgix_managed_t managed;

void fcgix_managed_init(const fcgix_managed_t *m)
{
    managed = *m;
}

/* This httpd child's pid, for the holder record of every lease: read
 * once, not with a system call per request. */
static pid_t child_pid;

void fcgix_managed_child_init(apr_pool_t *pchild, server_rec *s)
{
    child_pid = getpid();
    if (managed.keep_conns) {
        fcgix_keep_child_init(pchild, managed.sb, s);
    }
}

static pid_t self_pid(void)
{
    return child_pid > 0 ? child_pid : getpid();
}

/* ------------------------------------------------------------------ */
/* Talking to the PM                                                   */
/* ------------------------------------------------------------------ */

static int connect_control(int nonblock)
{
    struct sockaddr_un sun;
    size_t len = strlen(managed.control_path);
    int fd;

    if (len >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, managed.control_path, len + 1);
    fd = socket(AF_UNIX,
                SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int err = errno;

        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Ask the PM to look at the board now; no answer is awaited. */
static void tick_pm(void)
{
    char line[16];
    long n = fcgix_ctl_put_tick(line, sizeof(line));
    int fd = connect_control(1);

    if (fd >= 0) {
        if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* the PM looks at the board each second anyway */
        }
        close(fd);
    }
}

/* "STARTC <vocab> <tenant> <cmd> <user> <group> <path>" for a keyed
 * class: the PM finds the command and the environment by the indexes in
 * its own tables. */
static long startc_line(const fcgix_class_req_t *cr, char *buf, size_t cap)
{
    char uid[24], gid[24];
    int vocab = cr->vocab == FCGIX_VOCAB_FCGID ? FCGIX_CTL_VOCAB_FCGID
                                               : FCGIX_CTL_VOCAB_FASTCGI;

    if (!cr->has_identity) {
        return fcgix_ctl_put_startc(buf, cap, vocab, cr->tenant, cr->cmd, NULL,
                                    NULL, cr->path);
    }
    apr_snprintf(uid, sizeof(uid), "%s%ld", cr->userdir ? "~" : "", cr->uid);
    apr_snprintf(gid, sizeof(gid), "%ld", cr->gid);
    return fcgix_ctl_put_startc(buf, cap, vocab, cr->tenant, cr->cmd, uid, gid,
                                cr->path);
}

/* The start request for the app of @r at @path, encoded in @buf:
 * "START <path>", or with a wrapper "STARTAS <uid> <gid> <path>" with
 * the request's suexec identity (SuexecUserGroup), else httpd's User and
 * Group. @return its length, or the defect that keeps @path from being
 * sent (fcgi_ctl.h: a control byte in it, ...). */
static long start_line(request_rec *r, const fcgix_class_req_t *cr,
                       const char *path, char *buf, size_t cap)
{
    ap_unix_identity_t *id;
    char uid[24], gid[24];

    if (cr) {
        return startc_line(cr, buf, cap);
    }
    if (!managed.wrapper) {
        return fcgix_ctl_put_start(buf, cap, path);
    }
    id = ap_run_get_suexec_identity(r);
    apr_snprintf(uid, sizeof(uid), "%ld",
                 id ? (long)id->uid : (long)ap_unixd_config.user_id);
    apr_snprintf(gid, sizeof(gid), "%ld",
                 id ? (long)id->gid : (long)ap_unixd_config.group_id);
    return fcgix_ctl_put_startas(buf, cap, uid, gid, path);
}

/* Write all of @line (a blocking socket; a signal may cut a write). */
static int send_line(int fd, const char *line, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, line, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        if (n > 0) {
            line += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* Read and parse the PM's answer line, waiting until @end at most.
 * @return 0, or -1 with errno: ETIMEDOUT, ECONNRESET (closed without an
 * answer), EPROTO (a malformed answer; *defect says why), another. */
static int read_answer(int fd, apr_time_t end, fcgix_ctl_answer_t *ans,
                       long *defect)
{
    char buf[FCGIX_CTL_ANSWER_MAX];
    struct pollfd pfd;
    size_t len = 0;
    long rc = FCGIX_CTL_AGAIN;
    apr_time_t left;
    ssize_t n;

    pfd.fd = fd;
    pfd.events = POLLIN;
    while (rc == FCGIX_CTL_AGAIN) {
        if ((left = end - apr_time_now()) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (poll(&pfd, 1, (int)apr_time_as_msec(left) + 1) <= 0) {
            continue; /* EINTR, or the time is up */
        }
        n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            return -1;
        }
        len += n > 0 ? (size_t)n : 0;
        rc = fcgix_ctl_parse_answer(buf, len, ans);
    }
    if (rc < 0) {
        *defect = rc;
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* Send the start request @line and wait at most @timeout s for the
 * answer. @return 0 with @ans filled, or -1 with errno as read_answer(). */
static int ask_start(const char *line, size_t len, int timeout,
                     fcgix_ctl_answer_t *ans, long *defect)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(timeout);
    int fd = connect_control(0), rc, err;

    if (fd < 0) {
        return -1;
    }
    rc = send_line(fd, line, len);
    if (rc == 0) {
        rc = read_answer(fd, end, ans, defect);
    }
    err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Whether the PM of this configuration runs: it failed at start, or
 * httpd is restarting it. Signal 0 only asks; the PM runs as User. */
static int pm_alive(void)
{
    uint32_t pid = __atomic_load_n(&managed.sb->head->pm_pid, __ATOMIC_ACQUIRE);

    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int unavailable(request_rec *r, int retry_after)
{
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_itoa(r->pool, retry_after > 0 ? retry_after : 1));
    return HTTP_SERVICE_UNAVAILABLE;
}

/* The start request could not be sent, or its answer was not one:
 * logged, and a 500 (a bug or a path no app may have, not a load
 * problem). */
static int bad_exchange(request_rec *r, const char *path, long defect, int sent)
{
    if (!sent) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00350) "FastCGI app %s: cannot ask the "
                                         "process manager to start it: %s",
                      ap_escape_logitem(r->pool, path),
                      fcgix_ctl_strerror(defect));
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00351) "FastCGI app %s: the process "
                                         "manager's answer is malformed: %s",
                      path, fcgix_ctl_strerror(defect));
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* No answer from the PM: why, logged, and a 503. */
static int no_answer(request_rec *r, const char *path, int err, int timeout)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r,
                  FCGIX_LOGNO(00081) "FastCGI app %s: %s", path,
                  !pm_alive() ? "the process manager is not running (see the "
                                "error log of httpd's start or last restart)"
                  : err == ETIMEDOUT ? apr_psprintf(r->pool,
                                                    "not started within %d s "
                                                    "(-startTimeout)",
                                                    timeout)
                                     : apr_psprintf(r->pool,
                                                    "cannot reach the process "
                                                    "manager at %s",
                                                    managed.control_path));
    return unavailable(r, err == ETIMEDOUT ? 1 : 5);
}

/* Have the PM start a process of the class of @path; OK when one takes
 * requests, else the HTTP status to answer. */
static int start_class(request_rec *r, const fcgix_class_req_t *cr,
                       const char *path)
{
    char line[FCGIX_CTL_REQUEST_MAX];
    fcgix_ctl_answer_t ans;
    int timeout = managed.start_timeout;
    long n, defect = 0;

    if (__atomic_load_n(&managed.sb->head->pm_pid, __ATOMIC_ACQUIRE) == 0) {
        /* It could not start and httpd does not restart it: no use
         * waiting for an answer. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00107) "FastCGI app %s: the process "
                                         "manager is not running (it could "
                                         "not start: see FCGIX00076 and the "
                                         "lines before it)",
                      path);
        return unavailable(r, 60);
    }
    if ((n = start_line(r, cr, path, line, sizeof(line))) < 0) {
        return bad_exchange(r, path, n, 0);
    }
    /* The PM answers within its own start wait (the same -startTimeout):
     * a second more here, so that its answer, not our deadline, says why. */
    if (ask_start(line, (size_t)n, timeout + 1, &ans, &defect) != 0) {
        return errno == EPROTO ? bad_exchange(r, path, defect, 1)
                               : no_answer(r, path, errno, timeout);
    }
    if (ans.kind == FCGIX_CTL_OK) {
        return OK;
    }
    if (ans.kind == FCGIX_CTL_BUSY) {
        /* An exclusive class's request goes on waiting after "BUSY 1"
         * (take_exclusive()): not an error yet. */
        ap_log_rerror(APLOG_MARK,
                      cr && cr->exclusive && ans.seconds <= 1 ? APLOG_DEBUG
                                                              : APLOG_ERR,
                      0, r,
                      FCGIX_LOGNO(00082) "FastCGI app %s: no process can "
                                         "take the request: %s",
                      path, ans.why);
        return unavailable(
            r, ans.seconds > 0 && ans.seconds < 3600 ? ans.seconds : 1);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  FCGIX_LOGNO(00083) "FastCGI app %s: the process manager "
                                     "cannot start it: %s",
                  path, ans.why);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* ------------------------------------------------------------------ */
/* Leases                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    fcgix_sb_lease_t lease;
    int record; /* its holder record on the board, -1: none */
    int cls;
    request_rec *r;
    const fcgix_app_t *app; /* FastCgiServer definition, NULL: dynamic */
    const char *path;
    const fcgix_class_req_t *cr; /* a keyed class, or NULL */
    int kept_fd; /* the connection to keep when the process is given
                    back (fcgi_keep.h), -1: none */
} held_t;

/* A process no request may use any more: the PM replaces it. */
static void mark_for_replacement(int slot, uint32_t why)
{
    __atomic_store_n(&fcgix_sb_slot(managed.sb, slot)->hung, why,
                     __ATOMIC_RELEASE);
    tick_pm();
}

/* Before the process is given back: keep the connection to it (the
 * slot then names this child as its keeper), or say that this child
 * keeps none. */
static void keep_before_release(held_t *h)
{
    if (h->kept_fd >= 0) {
        fcgix_keep_put(h->lease.slot, h->lease.epoch, h->kept_fd);
    }
    else {
        fcgix_keep_forget(h->lease.slot);
    }
}

/* After: a connection is worth keeping only if no other request used
 * the process meanwhile (it would wait behind ours) and the process
 * takes more requests. */
static void keep_after_release(held_t *h, int last, uint64_t max,
                               uint64_t served)
{
    if (h->kept_fd >= 0 && (!last || (max > 0 && served >= max))) {
        fcgix_keep_drop(h->lease.slot, h->lease.epoch, h->kept_fd);
    }
    h->kept_fd = -1;
}

/* The most requests a process of the class may have at once: 1 for an
 * exclusive (fcgid) class; a FastCgiServer's -max-conns, when given;
 * else 0, no limit. Never asked of the app (FCGI_GET_VALUES): libfcgi
 * and php-cgi answer, but Debian 12's Ruby fcgi exits on the question,
 * and a threaded libfcgi app says 1 however many threads accept. */
static int users_cap(const held_t *h)
{
    if (h->cr && h->cr->exclusive) {
        return 1;
    }
    return h->app && h->app->opts.max_conns > 0 ? h->app->opts.max_conns : 0;
}

/* Pool cleanup: give the process back; when it has served its
 * -max-requests, tell the PM, which replaces it once it is idle (no new
 * request is given to it meanwhile: fcgix_sb_acquire). */
static apr_status_t give_back(void *data)
{
    held_t *h = data;
    uint64_t max, served;
    int last;

    if (h->lease.slot < 0) {
        /* given back already (give_back_now), or no process was found
         * again after lease_another() gave one up */
        return APR_SUCCESS;
    }
    if (!fcgix_sb_unhold(managed.sb, h->record, &h->lease)) {
        /* the PM took us for dead and gave it back */
        if (h->kept_fd >= 0) {
            close(h->kept_fd);
            h->kept_fd = -1;
        }
        return APR_SUCCESS;
    }
    h->record = -1;
    max = fcgix_sb_class(managed.sb, h->cls)->max_requests;
    keep_before_release(h);
    served = fcgix_sb_release_last(managed.sb, &h->lease,
                                   apr_time_as_msec(apr_time_now()), &last);
    keep_after_release(h, last, max, served);
    if (h->cr && h->cr->exclusive) {
        fcgix_sb_class_note_given_back(managed.sb, h->cls);
    }
    else if (users_cap(h) > 0) {
        fcgix_sb_class_hand_off(managed.sb, h->cls);
    }
    if (apr_table_get(h->r->notes, FCGIX_NOTE_HUNG)
        && fcgix_sb_lease_current(managed.sb, &h->lease)) {
        /* The process did not answer within -idle-timeout: it may serve
         * nobody else; the PM kills and replaces it. */
        mark_for_replacement(h->lease.slot, FCGIX_SB_HUNG);
    }
    else if (max > 0 && served >= max) {
        tick_pm();
    }
    return APR_SUCCESS;
}

/* Whether the request's file is another than the one class k's
 * processes run: another mtime, or another inode (a deploy that renames
 * a new file over the old one may keep its mtime). */
static int file_changed(const request_rec *r, const fcgix_sb_class_t *k)
{
    if (apr_time_sec(r->finfo.mtime) != (apr_time_t)k->mtime_s) {
        return 1;
    }
    return (r->finfo.valid & APR_FINFO_INODE)
           && (uint64_t)r->finfo.inode != k->inode;
}

/* A dynamic app whose file changed under its processes: ask the PM once
 * to replace them (it does so as they become idle). */
static void note_update(request_rec *r, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(managed.sb, c);
    uint32_t no = 0;

    if (r->finfo.filetype == APR_REG && file_changed(r, k)
        && __atomic_compare_exchange_n(&k->update_wanted, &no, 1, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        tick_pm();
    }
}

/* Wake the PM for a busy class at most this often: at saturation every
 * request finds all processes busy. */
#define MORE_TICK_MS 100

/* Every process of the class had a request already: ask for one more. */
static void note_busy(int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(managed.sb, c);
    int64_t now = apr_time_as_msec(apr_time_now());
    int64_t last = __atomic_load_n(&k->more_tick_ms, __ATOMIC_ACQUIRE);

    if (k->kind != FCGIX_SB_DYNAMIC) {
        return;
    }
    __atomic_store_n(&k->more_wanted, 1, __ATOMIC_RELEASE);
    if (now - last >= MORE_TICK_MS
        && __atomic_compare_exchange_n(&k->more_tick_ms, &last, now, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        tick_pm();
    }
}

/* The board's key of a keyed class. */
static void key_of(const fcgix_class_req_t *cr, fcgix_sb_key_t *key)
{
    uint32_t vocab = cr->vocab == FCGIX_VOCAB_FCGID ? FCGIX_SB_VOCAB_FCGID
                                                    : FCGIX_SB_VOCAB_FASTCGI;

    if (cr->has_identity) {
        fcgix_sb_key_set(key, vocab, cr->tenant, cr->cmd, (uint32_t)cr->uid,
                         (uint32_t)cr->gid, cr->userdir ? 1 : 0);
    }
    else {
        fcgix_sb_key_set(key, vocab, cr->tenant, cr->cmd, FCGIX_SB_NO_ID,
                         FCGIX_SB_NO_ID, 0);
    }
}

/* The class of the app on the board, or -1; @gen its generation. */
static int class_of(const held_t *h, uint32_t *gen)
{
    fcgix_sb_key_t key;

    if (h->app) {
        /* An older generation's child may hold an index that another
         * pool has by now: then the pool is found by its path. */
        if (fcgix_sb_class_holds(managed.sb, h->app->board_class, h->app->path,
                                 gen)) {
            return h->app->board_class;
        }
        return fcgix_sb_find_class_gen(managed.sb, h->app->path, gen);
    }
    if (h->cr) {
        key_of(h->cr, &key);
        return fcgix_sb_find_class_key(managed.sb, &key, h->path, gen);
    }
    return fcgix_sb_find_class_gen(managed.sb, h->path, gen);
}

/* Where this thread's holder record usually is: its place among httpd's
 * worker scores (child_num * thread_limit + thread_num), so that records
 * rarely clash. Only a hint: fcgix_sb_hold() probes past a taken one. */
static unsigned holder_hint(const request_rec *r)
{
    worker_score *ws = NULL;
    uintptr_t base, at;

    if (r->connection->sbh && ap_scoreboard_image) {
        ws = ap_get_scoreboard_worker(r->connection->sbh);
    }
    if (ws == NULL) {
        return (unsigned)self_pid();
    }
    base = (uintptr_t)ap_scoreboard_image->servers[0];
    at = (uintptr_t)ws;
    return at >= base ? (unsigned)((at - base) / sizeof(*ws))
                      : (unsigned)self_pid();
}

/* Lease a process of the app's class, recording who holds it so that the
 * PM can give it back if this httpd child dies. A dynamic app's class
 * index may pass to another app meanwhile (the PM frees a class whose
 * last process is gone): the lease counts only if the class still has
 * the generation it had when its path matched. A process takes at most
 * users_cap() requests. @return 0, -1 (no process takes requests) or
 * FCGIX_SB_FULL (each has all it takes). */
static int lease_class(held_t *h)
{
    uint32_t gen;
    int tries, rc;

    for (tries = 0; tries < 4; tries++) {
        h->cls = class_of(h, &gen);
        if (h->cls < 0) {
            return -1;
        }
        rc = fcgix_sb_acquire_near(managed.sb, h->cls, users_cap(h),
                                   fcgix_keep_me(), &h->lease);
        if (rc != 0) {
            return rc;
        }
        if (fcgix_sb_class_is(managed.sb, h->cls, gen)) {
            h->record = fcgix_sb_hold(managed.sb, holder_hint(h->r), &h->lease,
                                      (int32_t)self_pid());
            /* another child's idle connection would hold the process */
            fcgix_sb_keeper_evict(managed.sb, h->lease.slot, fcgix_keep_me());
            return 0;
        }
        fcgix_sb_return(managed.sb, &h->lease); /* another app's process */
        h->lease.slot = -1;
    }
    return -1;
}

/* Count this request as waiting, on its class (or the board, for a class
 * not there yet) and its host, until uncount_waiting(). A holder record
 * says so too: if this httpd child dies meanwhile (kill -9), the PM takes
 * the counts back down, which would stay too high for good otherwise
 * (a host refused at its cap early, a class grown by one more). */
typedef struct {
    uint64_t waits; /* what is counted (fcgix_sb_waits_make()); 0: none */
    int record;     /* the holder record that says so, -1: none */
} waiting_t;

static void count_waiting(request_rec *r, waiting_t *w, int c, int tenant)
{
    if (w->waits == 0) {
        w->waits = fcgix_sb_waits_make(c, tenant);
        fcgix_sb_waits_add(managed.sb, w->waits, 1);
        w->record = fcgix_sb_hold_waits(managed.sb, holder_hint(r), w->waits,
                                        (int32_t)self_pid());
    }
}

static void uncount_waiting(waiting_t *w)
{
    if (w->waits != 0
        && fcgix_sb_unhold_waits(managed.sb, w->record, w->waits)) {
        fcgix_sb_waits_add(managed.sb, w->waits, -1);
    }
    w->waits = 0;
    w->record = -1;
}

/* start_class(), counted on the board as a waiting request while it
 * waits (the status page shows it): on the class, or, for an app that has
 * none yet (a dynamic app's first start), on the board. start_class()
 * returns on every path, so the count always comes back down. */
static int wait_for_start(request_rec *r, const fcgix_class_req_t *cr,
                          const char *path, int c)
{
    waiting_t w = {0, -1};
    int status;

    count_waiting(r, &w, c, -1);
    status = start_class(r, cr, path);
    uncount_waiting(&w);
    return status;
}

/* The host's record on the board, or NULL (no tenant, or out of the
 * board's range: the board is the handlers' own, but its size is ours). */
static fcgix_sb_tenant_t *tenant_of(const fcgix_class_req_t *cr)
{
    return cr->tenant > 0 ? fcgix_sb_tenant(managed.sb, (int)cr->tenant - 1)
                          : NULL;
}

/* A host at its process cap whose waiting requests already fill the
 * bound: more would only hold httpd workers that other hosts need. */
static int host_refuses(request_rec *r, const fcgix_class_req_t *cr,
                        fcgix_sb_tenant_t *t)
{
    uint32_t max, live, waiting;

    if (t == NULL || cr->tenant_wait_max <= 0) {
        return 0;
    }
    max = __atomic_load_n(&t->max, __ATOMIC_ACQUIRE);
    live = __atomic_load_n(&t->live, __ATOMIC_ACQUIRE);
    waiting = __atomic_load_n(&t->waiting, __ATOMIC_ACQUIRE);
    if (max == 0 || live < max || waiting < (uint32_t)cr->tenant_wait_max) {
        return 0;
    }
    __atomic_add_fetch(&t->refused, 1, __ATOMIC_RELAXED);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  FCGIX_LOGNO(00905) "%s: the virtual host is at its process "
                                     "cap (%u) and %u of its requests wait "
                                     "already; refused",
                  cr->path, (unsigned)max, (unsigned)waiting);
    return 1;
}

/* A pause before asking the PM again after its own start wait ended. */
#define EXCLUSIVE_PAUSE_MAX_MS 10

/* Longest sleep on the class's "freed" word while every process of an
 * exclusive class is busy. A process the PM starts wakes a sleeper at
 * once, a give-back as fcgix_sb_class_note_given_back() says (at once, or
 * within FCGIX_SB_HANDOFF_MS while other processes are busy); the timeout
 * only bounds a wake-up that was lost (a handler that died between the
 * two steps) and keeps the deadline. Short timeouts cost: 60 sleepers
 * waking every 10 ms took a fifth of the throughput of one core. */
#define EXCLUSIVE_SLEEP_MAX_MS 200

/* How long the next sleep may be: EXCLUSIVE_SLEEP_MAX_MS, or less to the
 * deadline (at least 1 ms). */
static int sleep_ms(apr_time_t deadline)
{
    apr_time_t left = apr_time_as_msec(deadline - apr_time_now());

    return left < 1                        ? 1
           : left > EXCLUSIVE_SLEEP_MAX_MS ? EXCLUSIVE_SLEEP_MAX_MS
                                           : (int)left;
}

/* One step of take_exclusive() when no process takes requests: have the
 * PM start one. OK: look again; else the status to answer. A "BUSY 1"
 * means the PM's own wait ended before ours: go on waiting. */
static int ask_for_process(request_rec *r, held_t *h, apr_time_t deadline)
{
    int status = start_class(r, h->cr, h->path);
    const char *retry = apr_table_get(r->err_headers_out, "Retry-After");

    if (status == HTTP_SERVICE_UNAVAILABLE && retry && !strcmp(retry, "1")
        && apr_time_now() < deadline) {
        apr_table_unset(r->err_headers_out, "Retry-After");
        apr_sleep(apr_time_from_msec(EXCLUSIVE_PAUSE_MAX_MS));
        return OK; /* the PM's own wait ended first: go on waiting */
    }
    return status;
}

/* mod_fcgid's one request per process, without its 1 s sleeps: lease an
 * idle process; with none open, have the PM start one; with all busy,
 * ask the PM for more (it grows the class by the waiting requests, up to
 * the caps) and sleep on the class's "freed" word, woken when a process
 * is given back or started, until cr->wait_ms. */
static int take_exclusive(request_rec *r, held_t *h)
{
    const fcgix_class_req_t *cr = h->cr;
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(cr->wait_ms);
    fcgix_sb_tenant_t *t = tenant_of(cr);
    waiting_t w = {0, -1};
    int rc, status = OK;
    /* Read before each look: a give-back after it changes the word, and
     * the sleep below then returns at once (no wake-up is lost). */
    uint32_t seen = fcgix_sb_class_freed(managed.sb, h->cls);

    while ((rc = lease_class(h)) != 0 && status == OK) {
        if (w.waits == 0 && host_refuses(r, cr, t)) {
            status = unavailable(r, 1);
            break;
        }
        count_waiting(r, &w, h->cls, t ? (int)cr->tenant - 1 : -1);
        if (rc != FCGIX_SB_FULL) {
            status = ask_for_process(r, h, deadline);
            continue;
        }
        note_busy(h->cls);
        if (apr_time_now() >= deadline) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          FCGIX_LOGNO(00906) "%s: every process was busy for "
                                             "%d ms (FcgidQueueTimeout)",
                          h->path, cr->wait_ms);
            status = unavailable(r, 1);
            break;
        }
        /* Sleep until a process of the class is given back or started
         * (woken at once; at once too if that happened since the last
         * look), at most until the deadline. */
        fcgix_sb_class_wait_freed(managed.sb, h->cls, seen, sleep_ms(deadline));
        seen = fcgix_sb_class_freed(managed.sb, h->cls);
    }
    uncount_waiting(&w);
    return rc == 0 ? OK : status;
}

/* How long a request may wait for a process with room: -appConnTimeout,
 * unset or 0 httpd's Timeout (the wait replaces the one in the socket's
 * listen queue). */
static apr_time_t room_deadline(const held_t *h)
{
    int s = h->app->opts.conn_timeout > 0
                ? h->app->opts.conn_timeout
                : (int)apr_time_sec(h->r->server->timeout);

    return apr_time_now() + apr_time_from_sec(s);
}

/* Every process of the pool has its -max-conns requests, or other
 * requests wait already (@behind: this one queues after them): wait for
 * a process to come free, woken in turn by a give-back
 * (fcgix_sb_class_hand_off()), counted as waiting on the class, at most
 * room_deadline(). Waiting here rather than in a busy process's listen
 * queue, the request takes the process that comes free first, over the
 * connection kept to it. @return as lease_class(). */
static int wait_for_room(request_rec *r, held_t *h, int behind)
{
    apr_time_t deadline = room_deadline(h);
    waiting_t w = {0, -1};
    uint32_t seen = fcgix_sb_class_freed(managed.sb, h->cls);
    int rc;

    count_waiting(r, &w, h->cls, -1);
    if (behind) {
        fcgix_sb_class_wait_freed(managed.sb, h->cls, seen, sleep_ms(deadline));
        seen = fcgix_sb_class_freed(managed.sb, h->cls);
    }
    while ((rc = lease_class(h)) == FCGIX_SB_FULL
           && apr_time_now() < deadline) {
        fcgix_sb_class_wait_freed(managed.sb, h->cls, seen, sleep_ms(deadline));
        seen = fcgix_sb_class_freed(managed.sb, h->cls);
    }
    uncount_waiting(&w);
    return rc;
}

/* Lease a process, waiting for room in a pool whose processes take a
 * limited number of requests (-max-conns). Only such a pool looks up its
 * class first (a fixed index): lease_class() finds any other. */
static int lease_or_wait(request_rec *r, held_t *h)
{
    uint32_t gen;
    int rc;

    if (users_cap(h) > 0 && (h->cls = class_of(h, &gen)) >= 0
        && fcgix_sb_class_waiting(managed.sb, h->cls) > 0) {
        return wait_for_room(r, h, 1);
    }
    rc = lease_class(h);
    return rc == FCGIX_SB_FULL ? wait_for_room(r, h, 0) : rc;
}

/* The path the PM knows the class by: a FastCgiServer pool's own, not
 * the script a request names through the fastcgi:PATH handler (a START
 * with the script's path would ask for a dynamic app of it: 500). */
static const char *class_path(const held_t *h)
{
    return h->app ? h->app->path : h->path;
}

/* No process of a -max-conns pool had room in time: logged, 503. */
static int no_room(request_rec *r, const held_t *h)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  FCGIX_LOGNO(00048) "FastCGI app %s: every process had its "
                                     "-max-conns %d requests until "
                                     "-appConnTimeout ran out",
                  class_path(h), users_cap(h));
    return unavailable(r, 1);
}

/* Take a process of the app at h->path, starting one if needed. */
static int take_process(request_rec *r, held_t *h)
{
    int status, rc;

    if (h->cr && h->cr->exclusive) {
        return take_exclusive(r, h);
    }
    if ((rc = lease_or_wait(r, h)) == 0) {
        return OK;
    }
    if (rc == FCGIX_SB_FULL) {
        return no_room(r, h);
    }
    status = wait_for_start(r, h->cr, class_path(h), h->cls);
    if (status != OK) {
        return status;
    }
    if ((rc = lease_or_wait(r, h)) == 0) {
        return OK;
    }
    if (rc == FCGIX_SB_FULL) {
        return no_room(r, h);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  FCGIX_LOGNO(00084) "FastCGI app %s: started, but every "
                                     "process was taken back before this "
                                     "request could use one",
                  class_path(h));
    return unavailable(r, 1);
}

/* Whether connections to the leased process may be kept: not with
 * -port (all processes of the pool share its address, so a connection
 * says nothing about which process it reached), and not in an httpd
 * child that keeps none (fcgi_keep.h). */
static int may_keep(const held_t *h)
{
    return fcgix_keep_me() != 0 && !(h->app && h->app->port);
}

/* The request's own copy of the app, pointing at the leased process's
 * socket. */
static fcgix_app_t *target_of(const held_t *h)
{
    const fcgix_app_t *base = h->app  ? h->app
                              : h->cr ? h->cr->app
                                      : managed.dynamic;
    fcgix_app_t *t = apr_pmemdup(h->r->pool, base, sizeof(*t));

    t->path = h->path;
    t->opts.keep_conn = may_keep(h);
    if (!(h->app && h->app->port)) { /* -port: 127.0.0.1:port, shared */
        char path[FCGIX_SB_SOCK_MAX];

        t->socket_path = apr_pstrdup(
            h->r->pool, fcgix_sb_slot_socket(managed.sb, h->lease.slot, path,
                                             sizeof(path)));
        t->host = NULL;
        t->addr = NULL;
    }
    return t;
}

/* Lease a process of the PM-run app at @path (@app: its FastCgiServer
 * definition, NULL for a dynamic app) for the rest of the request, and
 * make the request's own copy of the app that points at it. */
static int lease_target(request_rec *r, const fcgix_app_t *app,
                        const fcgix_class_req_t *cr, const char *path,
                        fcgix_app_t **target, held_t **held)
{
    held_t *h = apr_pcalloc(r->pool, sizeof(*h));
    uint32_t gen;
    int c, status;

    if (managed.sb == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      FCGIX_LOGNO(00085) "FastCGI app %s: the process "
                                         "manager is not running",
                      path);
        return unavailable(r, 5);
    }
    h->lease.slot = -1;
    h->record = -1;
    h->kept_fd = -1;
    h->r = r;
    h->app = app;
    h->path = path;
    /* A copy: the caller's is on its stack, and the pool cleanup that
     * gives the process back (give_back()) may run after it returned
     * (a request refused before the exchange, 413). */
    h->cr = cr ? apr_pmemdup(r->pool, cr, sizeof(*cr)) : NULL;
    /* A script replaced under a dynamic app: new processes for it. Every
     * fcgid script class behaves so (mod_fcgid made a new class per
     * inode). */
    c = class_of(h, &gen);
    if (app == NULL && c >= 0 && strcmp(path, r->filename) == 0
        && (cr ? cr->cmd == 0 : managed.auto_update)) {
        note_update(r, c);
    }
    status = take_process(r, h);
    if (status != OK) {
        return status;
    }
    apr_pool_cleanup_register(r->pool, h, give_back, apr_pool_cleanup_null);
    if (h->lease.busy) {
        note_busy(h->cls);
    }
    *target = target_of(h);
    *held = h;
    return OK;
}

/* fcgix_process_ops_t.done: the process is free before the request
 * ends; the pool cleanup then has nothing left to do. */
static void give_back_now(void *baton, int answered)
{
    held_t *h = baton;

    (void)answered; /* the PM watches its processes itself */
    give_back(h);
    h->lease.slot = -1;
}

/* fcgix_process_ops_t.answering: tell the PM the process answers, before
 * it may exit (fcgix_sb_note_answer()). */
static void note_answer(void *baton)
{
    held_t *h = baton;

    if (h->lease.slot >= 0) {
        fcgix_sb_note_answer(managed.sb, &h->lease);
    }
}

/* fcgix_process_ops_t.reuse: the connection this child keeps to the
 * leased process, or -1. */
static int reuse_kept(void *baton)
{
    held_t *h = baton;

    return fcgix_keep_take(h->lease.slot, h->lease.epoch);
}

/* fcgix_process_ops_t.keep: keep @fd when the process is given back. */
static void keep_conn(void *baton, int fd)
{
    held_t *h = baton;

    if (h->kept_fd >= 0) {
        close(h->kept_fd);
    }
    h->kept_fd = fd;
}

/* fcgix_process_ops_t.next: the leased process cannot be reached; have it
 * replaced and lease another (or wait for the PM to start one). */
static int lease_another(request_rec *r, void *baton, const fcgix_app_t **app,
                         int err)
{
    held_t *h = baton;
    int status;

    /* A reset means the process died (the PM sees that by itself); one
     * that takes no connection is replaced, unless the PM has done so
     * since the lease was taken. */
    if (err != ECONNRESET && fcgix_sb_lease_current(managed.sb, &h->lease)) {
        mark_for_replacement(h->lease.slot, FCGIX_SB_UNREACHABLE);
    }
    if (fcgix_sb_unhold(managed.sb, h->record, &h->lease)) {
        fcgix_sb_return(managed.sb, &h->lease); /* it served nothing */
    }
    h->record = -1;
    h->lease.slot = -1;
    status = take_process(r, h);
    if (status == OK) {
        *app = target_of(h);
    }
    return status;
}

/* A FastCgi dynamic app as a keyed class when the key must say more than
 * its path: with FastCgiWrapper, the identity it runs as (the request's
 * suexec identity, else httpd's User), so that two virtual hosts with
 * different SuexecUserGroup never share a process; with a per-host cap,
 * its virtual host. @return 1 and @cr filled, or 0: keyed by path alone. */
static int fastcgi_class(request_rec *r, const char *path,
                         fcgix_class_req_t *cr)
{
    ap_unix_identity_t *id;

    if (!managed.wrapper && !managed.host_caps) {
        return 0;
    }
    memset(cr, 0, sizeof(*cr));
    cr->vocab = FCGIX_VOCAB_FASTCGI;
    cr->path = path;
    cr->app = managed.dynamic;
    cr->wait_ms = managed.start_timeout * 1000;
    if (managed.host_caps) {
        cr->tenant = (unsigned)fcgix_srv_conf(r->server)->tenant + 1;
    }
    if (managed.wrapper) {
        id = ap_run_get_suexec_identity(r);
        cr->has_identity = 1;
        cr->uid = id ? (long)id->uid : (long)ap_unixd_config.user_id;
        cr->gid = id ? (long)id->gid : (long)ap_unixd_config.group_id;
        cr->userdir = id ? id->userdir : 0;
    }
    return 1;
}

/* What the handler tells the owner of a PM-run process's lease; each
 * request sets its own baton. */
static const fcgix_process_ops_t managed_ops = {
    lease_another, give_back_now, NULL,      0,
    NULL,          reuse_kept,    keep_conn, note_answer};

int fcgix_managed_serve(request_rec *r, const fcgix_app_t *app)
{
    fcgix_process_ops_t rt = managed_ops;
    fcgix_class_req_t cr;
    fcgix_app_t *target;
    held_t *h = NULL;
    int status;

    if (app == NULL && fastcgi_class(r, r->filename, &cr)) {
        return fcgix_managed_serve_class(r, &cr);
    }
    status = lease_target(r, app, NULL, r->filename, &target, &h);

    rt.baton = h;
    return status == OK ? fcgix_serve(r, target, &rt) : status;
}

int fcgix_managed_run(request_rec *r, const fcgix_app_t *app, fcgix_run_fn *fn,
                      void *baton)
{
    fcgix_process_ops_t rt = managed_ops;
    fcgix_app_t *target;
    held_t *h = NULL;
    int status = lease_target(r, app, NULL, app->path, &target, &h);

    rt.baton = h;
    return status == OK ? fn(r, target, &rt, baton) : status;
}

int fcgix_managed_serve_class(request_rec *r, const fcgix_class_req_t *cr)
{
    fcgix_process_ops_t rt = managed_ops;
    fcgix_app_t *target;
    held_t *h = NULL;
    int status = lease_target(r, NULL, cr, cr->path, &target, &h);

    rt.baton = h;
    return status == OK ? fcgix_serve(r, target, &rt) : status;
}

int fcgix_managed_authorize_class(request_rec *r, const fcgix_class_req_t *cr,
                                  const fcgix_auth_call_t *call,
                                  fcgix_auth_reply_t *reply)
{
    fcgix_process_ops_t rt = managed_ops;
    fcgix_app_t *target;
    held_t *h = NULL;
    int status = lease_target(r, NULL, cr, cr->path, &target, &h);

    if (status != OK) {
        return status == HTTP_SERVICE_UNAVAILABLE ? status
                                                  : HTTP_INTERNAL_SERVER_ERROR;
    }
    rt.baton = h;
    return fcgix_authorize(r, target, call, reply, &rt);
}

int fcgix_managed_authorize(request_rec *r, const fcgix_app_t *app,
                            const char *path, const fcgix_auth_call_t *call,
                            fcgix_auth_reply_t *reply)
{
    fcgix_process_ops_t rt = managed_ops;
    fcgix_class_req_t cr;
    fcgix_app_t *target;
    held_t *h = NULL;
    int status;

    if (app == NULL && fastcgi_class(r, path, &cr)) {
        return fcgix_managed_authorize_class(r, &cr, call, reply);
    }
    status = lease_target(r, app, NULL, path, &target, &h);

    /* A failure to get a process denies: 503 stays 503, else 500. */
    if (status != OK) {
        return status == HTTP_SERVICE_UNAVAILABLE ? status
                                                  : HTTP_INTERNAL_SERVER_ERROR;
    }
    rt.baton = h;
    return fcgix_authorize(r, target, call, reply, &rt);
}
