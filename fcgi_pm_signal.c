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
 *   - a request is two integers, a pid and SIGTERM or SIGKILL; anything
 *     else is ignored;
 *   - it signals only a direct child of the PM (its own parent) that is
 *     not root, checked through a pidfd so that the pid cannot be reused
 *     between the check and the signal;
 *   - it ends when the PM's end of the socket closes, or with the PM
 *     (PR_SET_PDEATHSIG).
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
#include <sys/prctl.h>
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

/* Field @n (1-based) of /proc/<pid>/stat after the command name, and
 * the real uid from /proc/<pid>/status; -1 when unreadable. */
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

/* Carry out one request, if it is one the rules above allow. */
static void serve(const sig_req_t *q, pid_t pm)
{
    int fd;

    if ((q->sig != SIGTERM && q->sig != SIGKILL) || q->pid <= 1) {
        return;
    }
    fd = (int)syscall(SYS_pidfd_open, (pid_t)q->pid, 0);
    if (fd < 0) {
        return; /* gone already */
    }
    /* Checked after the pidfd is held: the pid now names this process
     * until the fd is closed. */
    if (proc_ppid(q->pid) == (long)pm && proc_uid(q->pid) > 0) {
        syscall(SYS_pidfd_send_signal, fd, q->sig, NULL, 0);
    }
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

static void run_helper(int fd, pid_t pm)
{
    sig_req_t q;
    ssize_t n;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != pm) {
        _exit(0); /* the PM is gone already */
    }
    close_other_fds(fd);
    for (;;) {
        n = recv(fd, &q, sizeof(q), 0);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            _exit(0);
        }
        if (n == (ssize_t)sizeof(q)) {
            serve(&q, pm);
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
