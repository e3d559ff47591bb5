/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_parent.c
 * @brief What httpd's parent tells the PM over their socket pair during a
 *        graceful restart: hold on (HOLD), then either "the new
 *        configuration keeps you" (KEEP, with the new error log) or
 *        SIGUSR1 (drain, as before). A PM held and never kept drains by
 *        itself once the hold has run out, so a new configuration that
 *        no longer loads the module leaves nothing behind.
 *
 * The socket pair is the only way in: httpd's parent made it before the
 * fork and keeps its end from its own children (fcgix_launch_child_init),
 * so no process of the User can send these messages. The PM still
 * checks what it reads. It answers KEEP with KEPT, or DRAINING once its
 * hold has run out (or SIGUSR1 came): root waits for that answer a
 * moment at most, and counts the PM as kept only on KEPT.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC */
#endif

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi_pm_int.h"
#include "fcgi_pmconf.h"

/* The descriptors passed with a message, in order: at most @p max of
 * them in @p fds (the rest -1); any further ones are closed. */
static void passed_fds(struct msghdr *msg, int *fds, int max)
{
    struct cmsghdr *c;
    int k = 0, i;

    for (i = 0; i < max; i++) {
        fds[i] = -1;
    }
    for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n, m;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (m = 0; m < n; m++) {
            int got;

            memcpy(&got, CMSG_DATA(c) + m * sizeof(int), sizeof(got));
            if (k < max) {
                fds[k++] = got;
            }
            else {
                close(got);
            }
        }
    }
}

static void hold(pm_t *pm)
{
    long hold_ms = pm->cfg->hold_ms > 0 ? pm->cfg->hold_ms : FCGIX_PM_HOLD_MS;

    pm->hold_until = fcgix_pm_now_ms() + hold_ms;
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00542), NULL, getpid(),
                 "graceful restart: waiting up to %ld ms for the new "
                 "configuration to keep this process manager",
                 hold_ms);
}

/* The answer to KEEP, which httpd's parent waits for (briefly): it
 * only counts the PM as kept on "KEPT". */
static void answer(pm_t *pm, const char *text)
{
    if (send(pm->cfg->parent_fd, text, strlen(text),
             MSG_DONTWAIT | MSG_NOSIGNAL)
        < 0) {
        /* the parent then starts a new PM, and this one drains */
    }
}

/* A KEEP or RECONCILE after the drain began comes too late. */
static int too_late(pm_t *pm, const char *what)
{
    if (!pm->draining) {
        return 0;
    }
    answer(pm, "DRAINING");
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00546), NULL, getpid(),
                 "graceful restart: %s came after the drain began; httpd "
                 "starts a new process manager",
                 what);
    return 1;
}

/* The hold is over: the new configuration keeps this PM. Its error log
 * (@p log_fd, -1: none passed) and this module's level (@p args). */
static void kept(pm_t *pm, const char *args, int log_fd)
{
    char *end;
    long level = strtol(args, &end, 10);

    if (end == args || *end != '\0' || level < 0 || level > 15) {
        level = -1; /* keep the old one */
    }
    pm->hold_until = 0;
    if (pm->cfg->reopen_log) {
        pm->cfg->reopen_log(pm->cfg->baton, log_fd, (int)level);
    }
}

static void keep(pm_t *pm, const char *args, int log_fd)
{
    if (too_late(pm, "KEEP")) {
        return;
    }
    answer(pm, "KEPT");
    kept(pm, args, log_fd);
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00543), NULL, getpid(),
                 "graceful restart: the new configuration keeps this process "
                 "manager and its %d class(es)",
                 pm->nclasses);
}

/* The definitions root passed in @p fd (a memfd), decoded into an arena
 * of their own (@p *arena, malloc'd, @p *arena_size bytes). @return 0,
 * or -1 (logged). */
static int read_definitions(pm_t *pm, int fd, fcgix_pm_config_t *next,
                            void **arena, size_t *arena_size)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t size = 0;
    int rc = -1;

    *arena = NULL;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0
        && st.st_size <= FCGIX_PM_DEFINITIONS_MAX) {
        size = (size_t)st.st_size;
        buf = malloc(size);
    }
    *arena_size = size * 4 + 4096;
    if (buf && pread(fd, buf, size, 0) == (ssize_t)size
        && (*arena = malloc(*arena_size)) != NULL) {
        memset(next, 0, sizeof(*next));
        rc = fcgix_pmconf_decode(buf, size, next, *arena, *arena_size)
                     == FCGIX_PMCONF_OK
                 ? 0
                 : -1;
    }
    free(buf);
    if (rc != 0) {
        free(*arena);
        *arena = NULL;
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00551), NULL,
                     getpid(),
                     "graceful restart: cannot read the new definitions "
                     "httpd's parent passed; httpd starts a new process "
                     "manager");
    }
    return rc;
}

/* "KEPT c0 c1 ...": the class of each new static app, for root to tell
 * the new generation's handlers. */
static void answer_map(pm_t *pm, const int *map, int n)
{
    size_t cap = (size_t)n * 12 + 8, len;
    char *text = malloc(cap);
    int j;

    if (text == NULL) {
        answer(pm, "NOMEM");
        return;
    }
    len = (size_t)snprintf(text, cap, "KEPT");
    for (j = 0; j < n; j++) {
        len += (size_t)snprintf(text + len, cap - len, " %d", map[j]);
    }
    answer(pm, text);
    free(text);
}

/* What a refused RECONCILE answers. */
static const char *refusal(int rc)
{
    return rc == FCGIX_PM_NO_ROOM    ? "NOROOM"
           : rc == FCGIX_PM_NO_CLASS ? "NOSTART"
                                     : "NOMEM";
}

/* RECONCILE: the new configuration changes only FastCgiServer pools,
 * virtual hosts, commands and the settings of dynamic apps; take them
 * (fcgix_pm_tables_merge(), fcgix_pm_reconcile(),
 * fcgix_pm_settings_take()) and answer which class each pool has. The
 * definitions' arena is kept as long as a class points into it. */
static void reconcile(pm_t *pm, const char *args, int defs_fd, int log_fd)
{
    fcgix_pm_config_t next;
    fcgix_pm_config_t tables;
    void *arena;
    size_t arena_size;
    int *map, rc;

    if (too_late(pm, "RECONCILE")) {
        return;
    }
    if (read_definitions(pm, defs_fd, &next, &arena, &arena_size) != 0) {
        answer(pm, "UNREADABLE");
        return;
    }
    map = calloc((size_t)next.napps + 1, sizeof(*map));
    if (map == NULL || fcgix_pm_arena_keep(pm, arena, arena_size) != 0) {
        free(map);
        free(arena);
        answer(pm, "NOMEM");
        return;
    }
    pm->arenas_pinned = 1; /* next points into its arena until the end */
    rc = fcgix_pm_tables_merge(pm, &next, &tables);
    if (rc == 0) {
        rc = fcgix_pm_reconcile(pm, &next, map);
    }
    if (rc == 0) {
        fcgix_pm_tables_adopt(pm, &tables);
        fcgix_pm_settings_take(pm, &next);
        answer_map(pm, map, next.napps);
        kept(pm, args, log_fd);
    }
    else {
        answer(pm, refusal(rc));
    }
    free(map);
    pm->arenas_pinned = 0;
    fcgix_pm_arenas_sweep(pm);
    if (rc == 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00552), NULL,
                     getpid(),
                     "graceful restart: the new configuration keeps this "
                     "process manager; its FastCgiServer pools or virtual "
                     "hosts changed (%d pools, %d virtual host numbers now; "
                     "definitions of %d restart(s) held)",
                     next.napps, next.ntenants, pm->narenas);
    }
}

/* A SOCK_SEQPACKET read of 0 bytes is an empty message or the end:
 * only the latter comes with POLLHUP. */
static int parent_hung_up(const pm_t *pm)
{
    struct pollfd p = {pm->cfg->parent_fd, POLLIN, 0};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

void fcgix_pm_parent_serve(pm_t *pm)
{
    char buf[64];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg;
    ssize_t n;
    int fds[2];

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof(control.space);
    n = recvmsg(pm->cfg->parent_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n < 0 || (n == 0 && parent_hung_up(pm))) {
        pm->parent_closed = 1; /* the parent's end is gone: stop polling */
        return;
    }
    passed_fds(&msg, fds, 2);
    buf[n] = '\0';
    if (strcmp(buf, "HOLD") == 0) {
        hold(pm);
    }
    else if (strncmp(buf, "KEEP ", 5) == 0) {
        keep(pm, buf + 5, fds[0]);
    }
    else if (strncmp(buf, "RECONCILE ", 10) == 0) {
        reconcile(pm, buf + 10, fds[0], fds[1]);
    }
    else {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00544), NULL,
                     getpid(),
                     "ignored a message from httpd's parent that is "
                     "neither HOLD, KEEP nor RECONCILE");
    }
    for (n = 0; n < 2; n++) {
        if (fds[n] >= 0) {
            close(fds[n]);
        }
    }
}

int fcgix_pm_parent_hold_over(pm_t *pm)
{
    if (pm->hold_until == 0 || fcgix_pm_now_ms() < pm->hold_until) {
        return 0;
    }
    pm->hold_until = 0;
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00545), NULL, getpid(),
                 "graceful restart: no new configuration kept this process "
                 "manager; draining it");
    return 1;
}
