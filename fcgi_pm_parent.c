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
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi_pm_int.h"

/* The descriptor passed with a message, or -1; any further ones are
 * closed. */
static int passed_fd(struct msghdr *msg)
{
    struct cmsghdr *c;
    int fd = -1;

    for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n, i;
        int *fds;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        fds = (int *)CMSG_DATA(c);
        for (i = 0; i < n; i++) {
            int got;

            memcpy(&got, &fds[i], sizeof(got));
            if (fd < 0) {
                fd = got;
            }
            else {
                close(got);
            }
        }
    }
    return fd;
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

static void keep(pm_t *pm, const char *args, int log_fd)
{
    char *end;
    long level = strtol(args, &end, 10);

    if (pm->draining) {
        answer(pm, "DRAINING");
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00546), NULL,
                     getpid(),
                     "graceful restart: KEEP came after the drain began; "
                     "httpd starts a new process manager");
        return;
    }
    if (end == args || *end != '\0' || level < 0 || level > 15) {
        level = -1; /* keep the old one */
    }
    pm->hold_until = 0;
    answer(pm, "KEPT");
    if (pm->cfg->reopen_log) {
        pm->cfg->reopen_log(pm->cfg->baton, log_fd, (int)level);
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00543), NULL, getpid(),
                 "graceful restart: the new configuration keeps this process "
                 "manager and its %d class(es)",
                 pm->nclasses);
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
    int fd;

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
    fd = passed_fd(&msg);
    buf[n] = '\0';
    if (strcmp(buf, "HOLD") == 0) {
        hold(pm);
    }
    else if (strncmp(buf, "KEEP ", 5) == 0) {
        keep(pm, buf + 5, fd);
    }
    else {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00544), NULL,
                     getpid(),
                     "ignored a message from httpd's parent that is "
                     "neither HOLD nor KEEP");
    }
    if (fd >= 0) {
        close(fd);
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
