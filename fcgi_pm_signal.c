/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_signal.c
 * @brief Signals to the PM's own processes, also those that suexec (or a
 *        FastCgiWrapper program) runs as another user.
 *
 * The PM runs as httpd's User. A process that suexec started as a site's
 * user is not the User's to signal: kill() fails with EPERM, and the PM
 * could stop such a process neither when idle, nor at a cap, nor at
 * shutdown. mod_fcgid keeps root in its PM's saved uid for this; here
 * the PM stays unprivileged and a helper keeps root, for one job:
 *
 *   - it is forked by the PM's process before that drops its privileges,
 *     and talks only over a socket pair with it (nothing in the file
 *     system, nothing in shared memory is read);
 *   - a request is two integers, a pid and SIGTERM or SIGKILL, or 0 to
 *     watch that process; anything else is ignored;
 *   - it signals only a direct child of the PM (its own parent) that is
 *     not root, checked through a pidfd so that the pid cannot be reused
 *     between the check and the signal;
 *   - it ends when the PM's end of the socket closes: when the PM dies,
 *     the processes it was told to watch, which the kernel does not stop
 *     with the PM (PR_SET_PDEATHSIG does not survive suexec's setuid
 *     exec), get SIGTERM, then SIGKILL after 2 s; it holds a pidfd for
 *     each, so none can be mistaken for a later process with its pid.
 *
 * A process of the User that took over the PM could thus have the helper
 * stop a process the PM started itself, and nothing else.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fcgi_pm.h"

/* One request: which process, which signal. */
typedef struct {
    int32_t pid;
    int32_t sig;
} sig_req_t;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The parent pid of @pid from /proc/<pid>/stat (after the command name,
 * which may hold any byte); -1 when unreadable. */
static long proc_ppid(pid_t pid)
{
    char path[64], buf[512], *close_paren;
    long ppid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "re")) == NULL) {
        return -1;
    }
    if (fgets(buf, sizeof(buf), f)
        && (close_paren = strrchr(buf, ')')) != NULL) {
        /* ") S ppid ..." */
        if (sscanf(close_paren + 1, " %*c %ld", &ppid) != 1) {
            ppid = -1;
        }
    }
    fclose(f);
    return ppid;
}

/* The real uid of @pid from /proc/<pid>/status; -1 when unreadable. */
static long proc_uid(pid_t pid)
{
    char path[64], line[256];
    long uid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "re")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Uid: %ld", &uid) == 1) {
            break;
        }
    }
    fclose(f);
    return uid;
}

/* A pidfd of the PM's direct child @pid (@nonroot: not running as
 * root), or -1. Checked after the pidfd is held, so the check is about
 * the process the pidfd names. A process to watch may still be suexec
 * before its setuid: root is allowed there (it is the PM's own child). */
static int child_pidfd(pid_t pid, pid_t pm, int nonroot)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (fd >= 0
        && !(proc_ppid(pid) == (long)pm && (!nonroot || proc_uid(pid) > 0))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The processes to stop if the PM dies: pidfds, polled so that each is
 * closed when its process ends. */
#define WATCH_MAX 4096
static struct pollfd watched[1 + WATCH_MAX]; /* [0]: the PM's socket */
static int nwatched;

static void watch(pid_t pid, pid_t pm)
{
    int fd;

    if (nwatched >= WATCH_MAX || (fd = child_pidfd(pid, pm, 0)) < 0) {
        return;
    }
    watched[1 + nwatched].fd = fd;
    watched[1 + nwatched].events = POLLIN;
    nwatched++;
}

/* Close the pidfds of processes that ended (readable pidfds). */
static void forget_ended(void)
{
    int i;

    for (i = 0; i < nwatched; i++) {
        if (watched[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
            close(watched[1 + i].fd);
            watched[1 + i] = watched[nwatched];
            watched[nwatched].revents = 0;
            nwatched--;
            i--;
        }
    }
}

/* The PM is gone: stop what it started as other users. */
static void stop_watched(void)
{
    int i, left;

    for (i = 0; i < nwatched; i++) {
        syscall(SYS_pidfd_send_signal, watched[1 + i].fd, SIGTERM, NULL, 0);
    }
    for (left = 20; left > 0 && nwatched > 0; left--) {
        if (poll(watched + 1, (nfds_t)nwatched, 100) > 0) {
            forget_ended();
        }
    }
    for (i = 0; i < nwatched; i++) {
        syscall(SYS_pidfd_send_signal, watched[1 + i].fd, SIGKILL, NULL, 0);
    }
}

/* Carry out one request, if it is one the rules above allow. */
static void serve(const sig_req_t *q, pid_t pm)
{
    int fd;

    if (q->pid <= 1) {
        return;
    }
    if (q->sig == 0) {
        watch((pid_t)q->pid, pm);
        return;
    }
    if ((q->sig != SIGTERM && q->sig != SIGKILL)
        || (fd = child_pidfd((pid_t)q->pid, pm, 1)) < 0) {
        return;
    }
    syscall(SYS_pidfd_send_signal, fd, q->sig, NULL, 0);
    close(fd);
}

static void close_other_fds(int keep)
{
    long max = sysconf(_SC_OPEN_MAX);
    int fd;

    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (fd = 3; fd < max; fd++) {
        if (fd != keep) {
            close(fd);
        }
    }
}

/* One request from the PM's socket; 0, or -1 when the PM is gone. */
static int read_request(int fd, pid_t pm)
{
    sig_req_t q;
    ssize_t n = recv(fd, &q, sizeof(q), MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        return -1;
    }
    if (n == (ssize_t)sizeof(q)) {
        serve(&q, pm);
    }
    return 0;
}

static void run_helper(int fd, pid_t pm)
{
    struct rlimit rl = {WATCH_MAX + 64, WATCH_MAX + 64};

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != pm) {
        _exit(0); /* the PM is gone already */
    }
    close_other_fds(fd);
    setrlimit(RLIMIT_NOFILE, &rl); /* a pidfd per watched process */
    watched[0].fd = fd;
    watched[0].events = POLLIN;
    for (;;) {
        if (poll(watched, (nfds_t)(1 + nwatched), -1) < 0) {
            continue; /* EINTR */
        }
        forget_ended();
        if ((watched[0].revents & (POLLIN | POLLHUP | POLLERR))
            && read_request(fd, pm) != 0) {
            stop_watched();
            _exit(0);
        }
    }
}

int fcgix_pm_signal_helper_start(void)
{
    int sv[2];
    pid_t pm = getpid(), pid;

    if (geteuid() != 0
        || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        run_helper(sv[1], pm);
    }
    close(sv[1]);
    return sv[0];
}

int fcgix_pm_signal(const fcgix_pm_config_t *cfg, pid_t pid, int sig)
{
    sig_req_t q;

    if (kill(pid, sig) == 0) {
        return 0;
    }
    if (errno != EPERM || cfg->signal_fd <= 2) {
        return -1;
    }
    q.pid = (int32_t)pid;
    q.sig = sig;
    return send(cfg->signal_fd, &q, sizeof(q), MSG_DONTWAIT | MSG_NOSIGNAL)
                   == (ssize_t)sizeof(q)
               ? 0
               : -1;
}

void fcgix_pm_signal_watch(const fcgix_pm_config_t *cfg, pid_t pid)
{
    sig_req_t q;

    if (cfg->signal_fd > 2) {
        q.pid = (int32_t)pid;
        q.sig = 0;
        if (send(cfg->signal_fd, &q, sizeof(q), MSG_DONTWAIT | MSG_NOSIGNAL)
            < 0) {
            /* the helper is gone or full: the process stops with httpd */
        }
    }
}
