/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_launch_keep.c
 * @brief The running PM across configuration generations: its record in
 *        the process pool, whether a new configuration defines the same
 *        PM, and the HOLD and KEEP messages of a graceful restart.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "apr_file_io.h"
#include "apr_portable.h"
#include "apr_strings.h"
#include "unixd.h"
#include "scoreboard.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_build.h"
#include "fcgi_launch_keep.h"
#include "fcgi_log.h"
#include "fcgi_pmconf.h"

FCGIX_USE_LOG_MODULE;

#define KEPT_KEY "fcgix_kept_pm"
/* How long root waits for the PM's answer to KEEP: the PM's loop wakes
 * at least every 100 ms while held. */
#define KEEP_ANSWER_MS 1000

/* The running PM's pid in a layout every build of the module shares
 * ({1, pid}), so that a build that cannot read the last one's record can
 * still tell its PM to go. */
#define ANY_BUILD_PID_KEY "fcgix_pm_pid"

static int child_running(pid_t pid);

/* The PM the last build started, if it still runs: it drains. */
static void drain_other_builds_pm(server_rec *s, int *any_build_pid)
{
    pid_t pid = any_build_pid[0] == 1 ? (pid_t)any_build_pid[1] : 0;

    if (pid > 0 && child_running(pid) && kill(pid, SIGUSR1) == 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     FCGIX_LOGNO(00061) "the module's file was replaced "
                                        "since the last configuration (an "
                                        "upgrade?): the FastCGI process "
                                        "manager it started (pid %d) "
                                        "finishes its requests and stops, "
                                        "and a new one starts; statistics "
                                        "and balanced members' states start "
                                        "afresh",
                     (int)pid);
    }
    any_build_pid[1] = 0;
}

static int *any_build_pid(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    int *v = NULL;

    apr_pool_userdata_get((void **)&v, ANY_BUILD_PID_KEY, pp);
    if (v == NULL) {
        v = apr_pcalloc(pp, 2 * sizeof(*v));
        v[0] = 1;
        apr_pool_userdata_set(v, ANY_BUILD_PID_KEY, apr_pool_cleanup_null, pp);
    }
    return v;
}

fcgix_kept_pm_t *fcgix_kept_pm(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    const char *key = fcgix_build_key(s->process->pconf, KEPT_KEY);
    fcgix_kept_pm_t *k = NULL;

    apr_pool_userdata_get((void **)&k, key, pp);
    if (k == NULL) {
        k = apr_pcalloc(pp, sizeof(*k));
        k->chan_fd = k->startup_rd = k->control_fd = -1;
        k->any_build_pid = any_build_pid(s);
        drain_other_builds_pm(s, k->any_build_pid);
        apr_pool_userdata_set(k, key, apr_pool_cleanup_null, pp);
    }
    return k;
}

void fcgix_kept_pm_set_pid(fcgix_kept_pm_t *k, pid_t pid)
{
    k->pid = pid;
    k->any_build_pid[1] = (int)pid;
}

/* What the PM process is, besides its definitions: the user it runs as
 * (it owns the sockets; httpd's children of another User could not
 * connect), its chroot, the board's holder records, and the module its
 * log lines are tagged with (fastcgi_x or fcgid, fcgi_log.h). */
static const char *process_traits(int nholders, char *buf, size_t size)
{
    const char *tag = ap_find_module_short_name(APLOG_MODULE_INDEX);
    const char *chroot = ap_unixd_config.chroot_dir;

    snprintf(buf, size, "uid=%ld gid=%ld holders=%d chroot=%s log=%s",
             (long)ap_unixd_config.user_id, (long)ap_unixd_config.group_id,
             nholders, chroot ? chroot : "-", tag ? tag : "-");
    return buf;
}

/* @cfg's definitions and the PM's process traits, as bytes (malloc'd;
 * NULL when out of memory). */
static unsigned char *encode_key(const fcgix_pm_config_t *cfg, int nholders,
                                 size_t *len)
{
    char traits[PATH_MAX + 128];
    size_t n = fcgix_pmconf_encode(cfg, NULL, 0);
    size_t t = strlen(process_traits(nholders, traits, sizeof(traits)));
    unsigned char *key = malloc(n + t);

    if (key == NULL) {
        return NULL;
    }
    fcgix_pmconf_encode(cfg, key, n);
    memcpy(key + n, traits, t);
    *len = n + t;
    return key;
}

/* The key without what a running PM takes at a graceful restart
 * (fcgix_kept_pm_reconcile()): the static apps, the virtual hosts, the
 * commands, and the settings of dynamic apps (FastCgiConfig's template
 * but for how processes run as another user, the limits, the times; the
 * room they need is checked on its own, fcgix_kept_pm_room_fits()). What
 * is left must
 * not change: the PM's user, chroot, sockets, board and suexec. */
static unsigned char *encode_rest(const fcgix_pm_config_t *cfg, int nholders,
                                  size_t *len)
{
    fcgix_pm_config_t rest;

    memset(&rest, 0, sizeof(rest));
    rest.control_path = cfg->control_path;
    rest.dynamic_base = cfg->dynamic_base;
    rest.suexec = cfg->suexec;
    rest.dynamic.wrapper = cfg->dynamic.wrapper;
    rest.dynamic.user = cfg->dynamic.user;
    rest.dynamic.group = cfg->dynamic.group;
    return encode_key(&rest, nholders, len);
}

int fcgix_kept_pm_room_fits(const fcgix_kept_pm_t *k,
                            const fcgix_pm_config_t *cfg, char *why,
                            size_t size)
{
    int per, classes = fcgix_pm_dynamic_room(cfg, &per);

    if (classes <= k->dyn_classes && per <= k->dyn_per_class) {
        return 1;
    }
    snprintf(why, size,
             "the new limits of dynamic apps need room for %d classes of %d "
             "processes; its board has %d of %d (it can take lower limits, "
             "not higher ones)",
             classes, per, k->dyn_classes, k->dyn_per_class);
    return 0;
}

int fcgix_kept_pm_same_rest(const fcgix_kept_pm_t *k,
                            const fcgix_pm_config_t *cfg, int nholders)
{
    size_t len;
    unsigned char *key = encode_rest(cfg, nholders, &len);
    int same = key && k->rest_key && len == k->rest_key_len
               && memcmp(key, k->rest_key, len) == 0;

    free(key);
    return same;
}

void fcgix_kept_pm_set_room(fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg)
{
    k->dyn_classes = fcgix_pm_dynamic_room(cfg, &k->dyn_per_class);
}

int fcgix_kept_pm_same(const fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg,
                       int nholders)
{
    size_t len;
    unsigned char *key = encode_key(cfg, nholders, &len);
    int same =
        key && k->key && len == k->key_len && memcmp(key, k->key, len) == 0;

    free(key);
    return same;
}

void fcgix_kept_pm_set_classes(fcgix_kept_pm_t *k, const int *classes, int n)
{
    free(k->classes);
    k->nclasses = 0;
    k->classes = malloc(sizeof(*classes) * (size_t)(n + 1));
    if (k->classes) {
        memcpy(k->classes, classes, sizeof(*classes) * (size_t)n);
        k->nclasses = n;
    }
}

void fcgix_kept_pm_set_key(fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg,
                           int nholders)
{
    free(k->key);
    k->key = encode_key(cfg, nholders, &k->key_len);
    free(k->rest_key);
    k->rest_key = encode_rest(cfg, nholders, &k->rest_key_len);
}

/* Whether @pid is a child of ours that has not exited. WNOWAIT: look
 * without reaping. ECHILD: not ours (or reaped already: the pid may be
 * anyone's now). */
static int child_running(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof(info));
    return pid > 0
           && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
           && info.si_pid == 0;
}

int fcgix_kept_pm_alive(const fcgix_kept_pm_t *k)
{
    return child_running(k->pid);
}

/* How many of the MPM's child processes are still running. */
static int mpm_children_running(void)
{
    int i, n = 0, limit;

    if (ap_scoreboard_image == NULL) {
        return 0;
    }
    limit = ap_scoreboard_image->global->server_limit;
    for (i = 0; i < limit; i++) {
        n += child_running(ap_scoreboard_image->parent[i].pid);
    }
    return n;
}

void fcgix_kept_pm_wait_old_children(int ms)
{
    int waited;

    for (waited = 0; waited < ms && mpm_children_running() > 0; waited += 5) {
        apr_sleep(apr_time_from_msec(5));
    }
}

/* One message to the PM, never waiting: a PM that does not read must
 * not stall root. */
/* Send @p text with @p nfds descriptors (those < 0 are left out). */
static int send_to_pm(const fcgix_kept_pm_t *k, const char *text,
                      const int *fds, int nfds)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct iovec iov = {(void *)text, strlen(text)};
    struct msghdr msg;
    int pass[2], n = 0, i;

    if (k->chan_fd < 0) {
        return -1;
    }
    for (i = 0; i < nfds && n < 2; i++) {
        if (fds[i] >= 0) {
            pass[n++] = fds[i];
        }
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (n > 0) {
        struct cmsghdr *c;

        memset(&control, 0, sizeof(control));
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
        memcpy(CMSG_DATA(c), pass, (size_t)n * sizeof(int));
    }
    return sendmsg(k->chan_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)
                   == (ssize_t)iov.iov_len
               ? 0
               : -1;
}

int fcgix_kept_pm_hold(fcgix_kept_pm_t *k)
{
    return send_to_pm(k, "HOLD", NULL, 0);
}

/* Drop what the PM may have sent that nobody read (an answer that came
 * after its wait ran out); a few messages at most. */
static void discard_stale_answers(const fcgix_kept_pm_t *k)
{
    char buf[16];
    int i;

    for (i = 0; i < 16; i++) {
        if (recv(k->chan_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0) {
            return;
        }
    }
}

/* The PM's answer, within KEEP_ANSWER_MS, NUL-terminated in @p buf:
 * its length, or 0 (none came, or the pair failed). */
static size_t await_answer(const fcgix_kept_pm_t *k, char *buf, size_t cap)
{
    struct pollfd p = {k->chan_fd, POLLIN, 0};
    apr_time_t end = apr_time_now() + apr_time_from_msec(KEEP_ANSWER_MS);
    ssize_t n = 0;
    int rc;

    do {
        long left = (long)apr_time_as_msec(end - apr_time_now());

        rc = poll(&p, 1, left > 0 ? (int)left : 0);
    } while (rc < 0 && errno == EINTR);
    if (rc == 1 && (p.revents & POLLIN)) {
        n = recv(k->chan_fd, buf, cap - 1, MSG_DONTWAIT);
    }
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

/* Why the answer to KEEP is not KEPT, or NULL. */
static const char *kept_or_why(const char *answer, size_t n)
{
    if (n == 0) {
        return "it did not answer KEEP within a second";
    }
    if (strcmp(answer, "KEPT") == 0) {
        return NULL;
    }
    return strcmp(answer, "DRAINING") == 0
               ? "it had begun to drain (its hold ran out)"
               : "it answered KEEP with something else than KEPT";
}

/* The main server's error log, to pass to the PM; -1 for syslog or none
 * (the PM keeps what it has). */
static int error_log_fd(server_rec *s)
{
    apr_os_file_t fd = -1;

    if (s->error_log == NULL
        || apr_os_file_get(&fd, s->error_log) != APR_SUCCESS) {
        return -1;
    }
    return fd;
}

const char *fcgix_kept_pm_keep(fcgix_kept_pm_t *k, server_rec *s)
{
    int log_fd = error_log_fd(s);
    char text[32], answer[16];

    snprintf(text, sizeof(text), "KEEP %d",
             ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX));
    discard_stale_answers(k);
    if (send_to_pm(k, text, &log_fd, 1) != 0) {
        return apr_psprintf(s->process->pconf, "cannot tell it KEEP: %s",
                            strerror(errno));
    }
    return kept_or_why(answer, await_answer(k, answer, sizeof(answer)));
}

/* @p cfg's definitions in a memfd for the PM; -1 when that fails. */
static int definitions_fd(const fcgix_pm_config_t *cfg)
{
    size_t n = fcgix_pmconf_encode(cfg, NULL, 0);
    unsigned char *buf = malloc(n);
    int fd = memfd_create("fcgix-definitions", MFD_CLOEXEC);

    if (buf == NULL || fd < 0 || fcgix_pmconf_encode(cfg, buf, n) != n
        || write(fd, buf, n) != (ssize_t)n) {
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    free(buf);
    return fd;
}

/* "KEPT c0 c1 ...": the class of each of the @p n apps, distinct and on
 * the board. @return NULL, or what is wrong. */
static const char *read_map(const fcgix_kept_pm_t *k, const char *text, int n,
                            int *map)
{
    const char *p = text + 4;
    char *end;
    long c;
    int j, i;

    if (strncmp(text, "KEPT", 4) != 0) {
        return strncmp(text, "NOROOM", 6) == 0
                   ? "no room on its board for the new pools next to the "
                     "old ones"
               : strncmp(text, "NOSTART", 7) == 0
                   ? "it could not set up a new pool (its log line before "
                     "says why)"
               : strncmp(text, "DRAINING", 8) == 0
                   ? "it had begun to drain (its hold ran out)"
                   : "it could not take the new definitions";
    }
    for (j = 0; j < n; j++) {
        c = strtol(p, &end, 10);
        if (end == p || *p != ' ' || c < 0 || c >= k->board.nclasses) {
            return "its answer names no class for each pool";
        }
        map[j] = (int)c;
        for (i = 0; i < j; i++) {
            if (map[i] == map[j]) {
                return "its answer names a class twice";
            }
        }
        p = end;
    }
    return *p == '\0' ? NULL : "its answer names more classes than pools";
}

const char *fcgix_kept_pm_reconcile(fcgix_kept_pm_t *k, server_rec *s,
                                    const fcgix_pm_config_t *next, int *map)
{
    apr_pool_t *p = s->process->pconf;
    size_t cap = (size_t)next->napps * 12 + 64;
    char text[32], *answer = apr_palloc(p, cap);
    int fds[2], rc;

    fds[0] = definitions_fd(next);
    fds[1] = error_log_fd(s);
    if (fds[0] < 0) {
        return "cannot write the new definitions for it";
    }
    snprintf(text, sizeof(text), "RECONCILE %d",
             ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX));
    discard_stale_answers(k);
    rc = send_to_pm(k, text, fds, 2);
    close(fds[0]);
    if (rc != 0) {
        return apr_psprintf(p, "cannot tell it RECONCILE: %s", strerror(errno));
    }
    if (await_answer(k, answer, cap) == 0) {
        return "it did not answer RECONCILE within a second";
    }
    return read_map(k, answer, next->napps, map);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void fcgix_kept_pm_forget(fcgix_kept_pm_t *k)
{
    fcgix_kept_pm_set_pid(k, 0);
    k->held = 0;
    close_fd(&k->chan_fd);
    close_fd(&k->startup_rd);
    close_fd(&k->control_fd);
    free(k->control_path);
    k->control_path = NULL;
    free(k->key);
    k->key = NULL;
    free(k->rest_key);
    k->rest_key = NULL;
    fcgix_ids_free(&k->tenant_ids);
    fcgix_ids_free(&k->command_ids);
    free(k->classes);
    k->classes = NULL;
    k->nclasses = 0;
    if (k->shm) {
        apr_shm_destroy(k->shm);
        k->shm = NULL;
    }
}

void fcgix_kept_pm_close_parent_ends(fcgix_kept_pm_t *k)
{
    close_fd(&k->chan_fd);
    close_fd(&k->startup_rd);
}

void fcgix_kept_pm_reopen_log(void *baton, int fd, int level)
{
    server_rec *s = baton;
    apr_os_file_t old;

    if (fd >= 0 && s->error_log
        && apr_os_file_get(&old, s->error_log) == APR_SUCCESS) {
        dup2(fd, old);
        if (old != STDERR_FILENO) {
            dup2(fd, STDERR_FILENO);
        }
    }
    if (level >= 0) {
        s->log.level = level;
        s->log.module_levels = NULL; /* this module's level is @level */
    }
}
