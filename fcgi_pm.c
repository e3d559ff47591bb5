/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm.c
 * @brief Process manager core: fcgix_pm_run(), setup and teardown,
 *        the main loop and its poll set, signals, reaping and restarts
 *        with back-off, graceful and hard stop, logging.
 *
 * The PM's other files and its private types: fcgi_pm_int.h. Signal
 * handlers only set flags and wake the loop through a self-pipe.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, strsignal */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_pm_int.h"

static volatile sig_atomic_t stop_flag;     /* signal number */
static volatile sig_atomic_t graceful_flag; /* SIGUSR1 */
static volatile sig_atomic_t wake_fd = -1;
static int wake_rd = -1;

static const int handled_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGUSR1,
                                      SIGCHLD};
#define NHANDLED (int)(sizeof(handled_signals) / sizeof(handled_signals[0]))

long long fcgix_pm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long fcgix_pm_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fcgix_pm_log(const pm_t *pm, int level, int logno, const pclass_t *cls,
                  pid_t pid, const char *fmt, ...)
{
    char msg[512], line[1600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cls) {
        snprintf(line, sizeof(line), "fastcgi pm: %sapp %s (pid %ld): %s",
                 cls->dynamic ? "dynamic " : "", cls->path, (long)pid, msg);
    }
    else {
        snprintf(line, sizeof(line), "fastcgi pm (pid %ld): %s", (long)pid,
                 msg);
    }
    pm->cfg->log(pm->cfg->baton, level, logno, line);
}

static const char *ordinal(int n)
{
    if (n % 100 >= 11 && n % 100 <= 13) {
        return "th";
    }
    switch (n % 10) {
    case 1:
        return "st";
    case 2:
        return "nd";
    case 3:
        return "rd";
    default:
        return "th";
    }
}

long fcgix_pm_backoff_ms(int restart_delay_ms, int failures)
{
    long delay;
    int i;

    if (failures <= 0) {
        return restart_delay_ms > 0 ? restart_delay_ms : 0;
    }
    delay = restart_delay_ms > FCGIX_PM_MIN_BACKOFF_MS
                ? restart_delay_ms
                : FCGIX_PM_MIN_BACKOFF_MS;
    /* The first failure waits -restart-delay (mod_fastcgi's meaning),
     * each one after it twice as long as the one before. */
    for (i = 1; i < failures && delay < FCGIX_PM_MAX_BACKOFF_MS; i++) {
        delay *= 2;
    }
    return delay < FCGIX_PM_MAX_BACKOFF_MS ? delay : FCGIX_PM_MAX_BACKOFF_MS;
}

int fcgix_pm_dynamic_room(const fcgix_pm_config_t *cfg, int *per_class)
{
    int max = cfg->max_processes > 0 ? cfg->max_processes
                                     : FCGIX_PM_DEFAULT_MAX_PROCESSES;
    int per = cfg->dynamic.processes > 0 ? cfg->dynamic.processes : 1;
    int classes;

    if (cfg->control_path == NULL) {
        *per_class = 0;
        return 0;
    }
    if (per > max) {
        per = max;
    }
    classes = max;
    if ((long)classes * per > FCGIX_PM_MAX_DYNAMIC_SLOTS) {
        classes = FCGIX_PM_MAX_DYNAMIC_SLOTS / per;
    }
    *per_class = per;
    return classes;
}

/* Room for static classes and their slots: twice the configuration's,
 * and a few more, so that a graceful restart that changes or adds pools
 * starts them while the old ones drain (fcgix_pm_reconcile()). */
#define STATIC_SPARE_CLASSES 4
#define STATIC_SPARE_SLOTS 8

static int static_room(const fcgix_pm_config_t *cfg, int *slots)
{
    int i, n = 0;

    for (i = 0; i < cfg->napps; i++) {
        n += cfg->apps[i].processes > 0 ? cfg->apps[i].processes : 1;
    }
    *slots = 2 * n + STATIC_SPARE_SLOTS;
    return 2 * cfg->napps + STATIC_SPARE_CLASSES;
}

#define SPARE_TENANTS 8

int fcgix_pm_board_tenants(const fcgix_pm_config_t *cfg)
{
    return 2 * (cfg->ntenants > 0 ? cfg->ntenants : 0) + SPARE_TENANTS;
}

int fcgix_pm_board_slots(const fcgix_pm_config_t *cfg, int *nclasses)
{
    int per, dyn = fcgix_pm_dynamic_room(cfg, &per), sslots,
             sclasses = static_room(cfg, &sslots);

    *nclasses = sclasses + dyn;
    return sslots + dyn * per;
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

static void on_signal(int sig)
{
    int saved = errno;
    char c = 0;

    if (sig == SIGUSR1) {
        graceful_flag = 1;
    }
    else if (sig != SIGCHLD) {
        stop_flag = sig;
    }
    if (wake_fd >= 0 && write(wake_fd, &c, 1) < 0) {
        /* pipe full: the loop is already due to wake up */
    }
    errno = saved;
}

static int install_signals(struct sigaction *old)
{
    struct sigaction sa;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    for (i = 0; i < NHANDLED; i++) {
        if (sigaction(handled_signals[i], &sa, &old[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static void restore_signals(const struct sigaction *old)
{
    int i;

    for (i = 0; i < NHANDLED; i++) {
        sigaction(handled_signals[i], &old[i], NULL);
    }
}

static void drain_wake_pipe(void)
{
    char buf[64];

    while (read(wake_rd, buf, sizeof(buf)) > 0) {
    }
}

/* ------------------------------------------------------------------ */
/* Supervision                                                         */
/* ------------------------------------------------------------------ */

static int find_slot(const pm_t *pm, pid_t pid)
{
    int i;

    for (i = 0; i < pm->nslots; i++) {
        if (pm->slots[i].pid == pid
            && (pm->slots[i].state == FCGIX_SB_RUNNING
                || pm->slots[i].state == FCGIX_SB_STOPPING)) {
            return i;
        }
    }
    return -1;
}

static void log_exit(const pm_t *pm, const pclass_t *cls, pid_t pid, int st)
{
    if (WIFEXITED(st)) {
        fcgix_pm_log(pm,
                     WEXITSTATUS(st) ? FCGIX_PM_LOG_WARN : FCGIX_PM_LOG_INFO,
                     FCGIX_PM_LOGNO(00508), cls, pid, "exited with status %d",
                     WEXITSTATUS(st));
    }
    else if (WIFSIGNALED(st)) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00509), cls, pid,
                     "died of signal %d (%s)%s", WTERMSIG(st),
                     strsignal(WTERMSIG(st)),
                     WCOREDUMP(st) ? ", core dumped" : "");
    }
}

/* Whether the process of slot @p i answered a request: a byte of it
 * reached a handler (fcgix_sb_note_answer()). Not the count of requests
 * given back: a request is given back, and counted, also when the
 * process died before answering it; and a process that exits right
 * after its answer may be reaped before its request is given back. */
static int started_well(const pm_t *pm, int i)
{
    return !pm->slots[i].exec_failed && fcgix_pm_slot_answered(pm, i);
}

/* A process that ends before -min-server-life (having lived @p lived ms)
 * without having served a request is a failed start, and so is one that
 * could not be executed: those are backed off. */
static int failed_start(const pm_t *pm, int c, int i, long long lived)
{
    if (pm->slots[i].exec_failed) {
        return 1;
    }
    return !started_well(pm, i) && lived < pm->classes[c].min_life;
}

/* A process died on its own: decide when its slot starts again. One
 * that served requests had started well; it crashed or exited (php-cgi
 * after PHP_FCGI_MAX_REQUESTS), and is replaced at once, so that the
 * requests after a crash are served. Other deaths wait -restart-delay,
 * failed starts longer each time in a row. */
static void schedule_restart(pm_t *pm, int c, int i, pid_t pid, long long lived)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    int failed = failed_start(pm, c, i, lived);
    long delay;

    ps->failures = failed ? ps->failures + 1 : 0;
    delay = started_well(pm, i)
                ? 0
                : fcgix_pm_backoff_ms(cls->cfg.restart_delay_ms, ps->failures);
    if (failed) {
        fcgix_sb_class(pm->sb, c)->failed_starts++;
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00510), cls, pid,
                     "exited after %lld ms, %d%s failure in a row; "
                     "backing off, next start in %ld ms",
                     lived, ps->failures, ordinal(ps->failures), delay);
    }
    else {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00511), cls, pid,
                     "lived %lld ms; restarting in %ld ms", lived, delay);
    }
    fcgix_pm_slot_schedule(pm, i, delay);
}

/* How long a dead process's verdict waits for its answer to show: the
 * handler marks it as soon as the first byte comes, so this only covers
 * an answer and an exit that came at once. */
#define VERDICT_WAIT_MS 200

/* Process @p pid of slot @p i died having lived @p lived ms, with
 * requests on it (@p holders before the slot was closed): when nothing
 * says yet that it answered, and it lived less than -min-server-life,
 * it could be a failed start or a process that answered and exited
 * before its handler said so. The slot waits in BACKOFF for the
 * verdict (fcgix_pm_slot_verdict()). @return 1 when it waits. */
static int await_verdict(pm_t *pm, int c, int i, pid_t pid, long long lived,
                         int holders)
{
    pslot_t *ps = &pm->slots[i];

    if (holders <= 0 || ps->exec_failed || started_well(pm, i)
        || lived >= pm->classes[c].min_life) {
        return 0;
    }
    ps->verdict_until = fcgix_pm_now_ms() + VERDICT_WAIT_MS;
    ps->lived_ms = lived;
    ps->dead_pid = pid;
    fcgix_pm_slot_schedule(pm, i, VERDICT_WAIT_MS);
    return 1;
}

int fcgix_pm_slot_verdict(pm_t *pm, int c, int i)
{
    pslot_t *ps = &pm->slots[i];

    if (!started_well(pm, i) && fcgix_pm_now_ms() < ps->verdict_until) {
        return 0;
    }
    ps->verdict_until = 0;
    schedule_restart(pm, c, i, ps->dead_pid, ps->lived_ms);
    return 1;
}

/* A process we stopped has exited. */
static void stopped(pm_t *pm, int i)
{
    pslot_t *ps = &pm->slots[i];

    if (ps->after_stop == AFTER_RESTART && !stop_flag && !graceful_flag) {
        ps->failures = 0;
        fcgix_pm_slot_schedule(pm, i, 0);
        return;
    }
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
    fcgix_pm_slot_unbind(pm, i);
}

/* Whether the slot of a process that died on its own starts again at once
 * (it had served: schedule_restart()). Its socket then stays bound:
 * connections queued on it, which the process never accepted (php-cgi
 * leaving after PHP_FCGI_MAX_REQUESTS while a request was handed its
 * slot), are accepted by the next process instead of being reset. Any
 * other slot's queued connections are reset (the socket is closed)
 * rather than left waiting for a restart that may be backed off for a
 * minute; their handlers send a bodiless GET again (FCGIX00106). */
static int restarts_at_once(const pm_t *pm, int c, int i)
{
    return started_well(pm, i) && !pm->classes[c].retiring && !stop_flag
           && !graceful_flag; /* graceful_flag: draining, no restart */
}

static void reap(pm_t *pm)
{
    pid_t pid;
    int st, i, c, holders;
    long long lived;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        i = find_slot(pm, pid);
        if (i < 0) {
            continue; /* not ours (the caller's own children) */
        }
        c = fcgix_pm_class_of_slot(pm, i);
        if (pm->slots[i].state == FCGIX_SB_STOPPING) {
            stopped(pm, i);
            continue;
        }
        /* No new request may queue on a socket nobody serves; leases
         * taken before are ignored when given back. */
        holders = fcgix_sb_users(fcgix_sb_slot(pm->sb, i));
        fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
        if (!restarts_at_once(pm, c, i)) {
            fcgix_pm_slot_unbind(pm, i);
        }
        log_exit(pm, &pm->classes[c], pid, st);
        if (pm->classes[c].retiring) {
            fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
            continue; /* its pool was changed or removed: no restart */
        }
        lived = fcgix_pm_now_ms() - pm->slots[i].started;
        if (!await_verdict(pm, c, i, pid, lived, holders)) {
            schedule_restart(pm, c, i, pid, lived);
        }
    }
}

/* Stop the process of a slot that no request uses any more. */
void fcgix_pm_slot_stop(pm_t *pm, int c, int i, int after, const char *why)
{
    pslot_t *ps = &pm->slots[i];

    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00512), &pm->classes[c],
                 ps->pid, "stopping: %s", why);
    ps->after_stop = after;
    /* An httpd child's idle kept connection would keep an app that
     * finishes its connection before it exits (libfcgi's, on SIGTERM)
     * alive: have it closed now, not when it times out. */
    fcgix_sb_keeper_evict(pm->sb, i, 0);
    fcgix_pm_signal(pm->cfg, ps->pid, SIGTERM);
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
}

/* ------------------------------------------------------------------ */
/* The poll set                                                        */
/* ------------------------------------------------------------------ */

/* Entries of the poll set that are not clients; the pipe of slot i is
 * OWNER_APPLOG + i. */
enum {
    OWNER_WAKE = -1,
    OWNER_LISTEN = -2,
    OWNER_PARENT = -3,
    OWNER_APPLOG = FCGIX_PM_CONTROL_CLIENTS
};

static void poll_add(pm_t *pm, int fd, int owner)
{
    pm->pfds[pm->npfds].fd = fd;
    pm->pfds[pm->npfds].events = POLLIN;
    pm->pfds[pm->npfds].revents = 0;
    pm->pfd_owner[pm->npfds++] = owner;
}

/* The wake pipe, the control socket (unless out of descriptors), every
 * client and every process's stderr. */
static void fill_poll_set(pm_t *pm)
{
    int i;

    pm->npfds = 0;
    poll_add(pm, wake_rd, OWNER_WAKE);
    if (pm->cfg->parent_fd > 2 && !pm->parent_closed) {
        poll_add(pm, pm->cfg->parent_fd, OWNER_PARENT);
    }
    if (pm->ctl_fd >= 0 && fcgix_pm_now_ms() >= pm->accept_paused) {
        poll_add(pm, pm->ctl_fd, OWNER_LISTEN);
    }
    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        if (pm->clients[i].fd >= 0) {
            poll_add(pm, pm->clients[i].fd, i);
        }
    }
    for (i = 0; i < pm->nslots; i++) {
        if (pm->applogs[i].fd >= 0) {
            poll_add(pm, pm->applogs[i].fd, OWNER_APPLOG + i);
        }
    }
}

/* Serve what poll() reported: clients first, then new connections
 * (which may take the entries of clients just served). */
static void serve_poll_set(pm_t *pm)
{
    int k, listen_ready = 0;

    for (k = 0; k < pm->npfds; k++) {
        int owner = pm->pfd_owner[k];

        if (pm->pfds[k].revents == 0) {
            continue;
        }
        if (owner == OWNER_WAKE) {
            drain_wake_pipe();
        }
        else if (owner == OWNER_LISTEN) {
            listen_ready = 1;
        }
        else if (owner == OWNER_PARENT) {
            fcgix_pm_parent_serve(pm);
        }
        else if (owner >= OWNER_APPLOG) {
            fcgix_pm_stderr_read(pm, owner - OWNER_APPLOG);
        }
        else if (pm->clients[owner].fd == pm->pfds[k].fd) {
            fcgix_pm_client_serve(pm, &pm->clients[owner]);
        }
    }
    if (listen_ready) {
        fcgix_pm_clients_accept(pm);
    }
}

/* ------------------------------------------------------------------ */
/* Main loop and shutdown                                              */
/* ------------------------------------------------------------------ */

/* Graceful stop: the old configuration's httpd children still finish
 * requests (and may start some) for a moment after the signal, so
 * everything keeps working; a process stops once it has been idle for
 * DRAIN_QUIET_MS, and the PM leaves when none is left and nothing has
 * happened for that long, or at drain_ms. */
#define DRAIN_QUIET_MS 1000

static int live_processes(const pm_t *pm)
{
    int i, live = 0;

    for (i = 0; i < pm->nslots; i++) {
        live += pm->slots[i].state == FCGIX_SB_RUNNING
                || pm->slots[i].state == FCGIX_SB_STOPPING;
    }
    return live;
}

/* The slot's process has had no request for DRAIN_QUIET_MS (counting
 * from the start of the drain at the earliest). */
static int quiet(pm_t *pm, int i, long long drain_start, long long now)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    long long idle_since = __atomic_load_n(&s->last_used_ms, __ATOMIC_ACQUIRE);

    if (idle_since < s->started_ms) {
        idle_since = s->started_ms;
    }
    if (idle_since < drain_start) {
        idle_since = drain_start;
    }
    return fcgix_sb_users(s) == 0 && now - idle_since >= DRAIN_QUIET_MS;
}

/* Processes sharing a -port socket are stopped together, once none of
 * their slots has a request: any of them may be serving any request. */
static void stop_quiet_shared(pm_t *pm, int c, long long drain_start,
                              long long now)
{
    int i, j;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING
            && !quiet(pm, i, drain_start, now)) {
            return;
        }
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING
            && !fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
            /* A request came: not yet; the slots closed before it open
             * again. */
            for (FCGIX_PM_CLASS_SLOTS(pm, c, j)) {
                if (j == i) {
                    break;
                }
                if (pm->slots[j].state == FCGIX_SB_RUNNING) {
                    fcgix_sb_open(fcgix_sb_slot(pm->sb, j));
                }
            }
            return;
        }
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING) {
            fcgix_pm_slot_stop(pm, c, i, AFTER_EMPTY,
                               "graceful stop, class idle");
        }
    }
}

void fcgix_pm_class_stop_quiet(pm_t *pm, int c, long long since)
{
    long long now = fcgix_pm_wall_ms();
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_BACKOFF) {
            fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY,
                                    0); /* no restart now */
            fcgix_pm_slot_unbind(pm, i);
        }
    }
    if (fcgix_pm_class_shared(&pm->classes[c])) {
        stop_quiet_shared(pm, c, since, now);
        return;
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING && quiet(pm, i, since, now)
            && fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
            fcgix_pm_slot_stop(pm, c, i, AFTER_EMPTY, "graceful stop, idle");
        }
    }
}

static void stop_quiet_processes(pm_t *pm, long long drain_start)
{
    int c;

    for (c = 0; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c)) {
            fcgix_pm_class_stop_quiet(pm, c, drain_start);
        }
    }
}

/* While draining: @return 1 when the PM may leave. */
static int drained(pm_t *pm, long long drain_start, long long deadline)
{
    long long now = fcgix_pm_wall_ms();

    stop_quiet_processes(pm, drain_start);
    if (now >= deadline) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00528), NULL,
                     getpid(),
                     "graceful stop: %d process(es) still busy after %d ms; "
                     "stopping them",
                     live_processes(pm), pm->cfg->drain_ms);
        return 1;
    }
    return live_processes(pm) == 0 && pm->nwaiters == 0
           && now - drain_start >= DRAIN_QUIET_MS;
}

static void supervise(pm_t *pm)
{
    long long timeout, drain_start = 0, deadline = 0;

    while (!stop_flag) {
        if (fcgix_pm_parent_hold_over(pm)) {
            graceful_flag = 1;
        }
        if (graceful_flag && drain_start == 0) {
            drain_start = fcgix_pm_wall_ms();
            pm->draining = 1; /* a KEEP now comes too late */
            deadline = drain_start + pm->cfg->drain_ms;
            fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00529), NULL,
                         getpid(),
                         "graceful stop: each process stops after %d ms idle, "
                         "within %d ms",
                         DRAIN_QUIET_MS, pm->cfg->drain_ms);
        }
        if (drain_start && drained(pm, drain_start, deadline)) {
            break;
        }
        timeout = fcgix_pm_maintain(pm);
        if ((pm->nwaiters > 0 || drain_start) && timeout > 50) {
            timeout = 50; /* waiters are answered by the next pass */
        }
        if (pm->hold_until && timeout > 100) {
            timeout = 100; /* the hold's end is seen within that */
        }
        if (pm->accept_paused > fcgix_pm_now_ms()
            && timeout > FCGIX_PM_ACCEPT_PAUSE_MS) {
            timeout = FCGIX_PM_ACCEPT_PAUSE_MS;
        }
        timeout = fcgix_pm_clients_expire(pm, timeout);
        fcgix_pm_stderr_report(pm);
        fill_poll_set(pm);
        if (poll(pm->pfds, (nfds_t)pm->npfds, (int)timeout) > 0) {
            serve_poll_set(pm);
        }
        reap(pm);
        if (getppid() != pm->parent) {
            fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00530), NULL,
                         getpid(), "parent %ld is gone; shutting down",
                         (long)pm->parent);
            break;
        }
    }
}

/* Signal every live process; return how many there are. */
static int signal_all(pm_t *pm, int sig)
{
    int i, live = 0;

    for (i = 0; i < pm->nslots; i++) {
        pslot_t *ps = &pm->slots[i];

        if (ps->state != FCGIX_SB_RUNNING && ps->state != FCGIX_SB_STOPPING) {
            continue;
        }
        if (sig == SIGKILL) {
            fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00531),
                         &pm->classes[fcgix_pm_class_of_slot(pm, i)], ps->pid,
                         "still running after %d ms; sending SIGKILL",
                         FCGIX_PM_SHUTDOWN_GRACE_MS);
        }
        if (sig != 0) {
            fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
            fcgix_sb_keeper_evict(pm->sb, i, 0);
            fcgix_pm_signal(pm->cfg, ps->pid, sig);
            ps->after_stop = AFTER_EMPTY;
            fcgix_pm_slot_set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
        }
        live++;
    }
    return live;
}

/* Reap and wait on the wake pipe until @deadline or until no process is
 * left. @return processes left. */
static int wait_processes(pm_t *pm, long long deadline)
{
    struct pollfd pfd;
    long long left;

    pfd.fd = wake_rd;
    pfd.events = POLLIN;
    for (;;) {
        fcgix_pm_stderr_read_all(pm);
        reap(pm);
        if (signal_all(pm, 0) == 0
            || (left = deadline - fcgix_pm_now_ms()) <= 0) {
            return signal_all(pm, 0);
        }
        if (poll(&pfd, 1, (int)(left < 50 ? left : 50)) > 0) {
            drain_wake_pipe();
        }
    }
}

static void shutdown_all(pm_t *pm)
{
    int live;

    fcgix_pm_control_close(pm);
    live = signal_all(pm, SIGTERM);
    if (stop_flag) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00532), NULL,
                     getpid(), "%s received; stopping %d process(es)",
                     strsignal((int)stop_flag), live);
    }
    if (wait_processes(pm, fcgix_pm_now_ms() + FCGIX_PM_SHUTDOWN_GRACE_MS)
        == 0) {
        return;
    }
    signal_all(pm, SIGKILL);
    while (signal_all(pm, 0) > 0) {
        pid_t pid = waitpid(-1, NULL, 0);
        int i;

        if (pid < 0 && errno != EINTR) {
            break; /* ECHILD: nothing left to wait for */
        }
        if (pid > 0 && (i = find_slot(pm, pid)) >= 0) {
            fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Setup and teardown                                                  */
/* ------------------------------------------------------------------ */

/* A descriptor we open must not land on 0..2: a child would get our
 * error pipe or socket as stdout. */
static void ensure_stdio(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2) {
    }
    if (fd > 2) {
        close(fd);
    }
}

static int open_wake_pipe(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -1;
    }
    wake_rd = p[0];
    wake_fd = p[1];
    return 0;
}

static void close_wake_pipe(void)
{
    int wr = wake_fd;

    wake_fd = -1;
    close(wr);
    close(wake_rd);
    wake_rd = -1;
}

/* What the processes wrote last, then every pipe closed. */
static void free_applogs(pm_t *pm)
{
    int i;

    for (i = 0; pm->applogs && i < pm->nslots; i++) {
        fcgix_pm_stderr_read(pm, i);
        fcgix_pm_stderr_close(pm, &pm->applogs[i]);
        free(pm->applogs[i].line);
    }
    free(pm->applogs);
    pm->applogs = NULL;
}

static void free_pm(pm_t *pm)
{
    int c, i;

    fcgix_pm_control_close(pm);
    free_applogs(pm); /* its lines name the classes */
    for (i = 0; i < pm->nslots; i++) {
        fcgix_pm_slot_unbind(pm, i);
        fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
    }
    for (c = 0; c < pm->nclasses; c++) {
        free(pm->classes[c].path);
        free(pm->classes[c].base);
        free(pm->classes[c].dir);
        free(pm->classes[c].user);
        free(pm->classes[c].group);
        for (i = 0; pm->classes[c].argv && pm->classes[c].argv[i]; i++) {
            free(pm->classes[c].argv[i]);
        }
        free(pm->classes[c].argv);
    }
    fcgix_pm_tenants_free(pm);
    free(pm->classes);
    for (i = 0; i < pm->narenas; i++) {
        free(pm->arenas[i].mem);
    }
    free(pm->arenas);
    free(pm->slots);
    free(pm->clients);
    free(pm->pfds);
    free(pm->pfd_owner);
}

/* A PM restarted after a crash finds its predecessor's board: its
 * processes died with it, so close every slot and forget every class. */
static void forget_board(fcgix_sb_t *sb)
{
    int i;

    for (i = 0; i < (int)sb->nclasses; i++) {
        __atomic_store_n(&fcgix_sb_class(sb, i)->ready, 0, __ATOMIC_RELEASE);
    }
    for (i = 0; i < (int)sb->nslots; i++) {
        fcgix_sb_slot_t *s = fcgix_sb_slot(sb, i);

        fcgix_sb_close(s);
        s->pid = 0;
        s->state = FCGIX_SB_EMPTY;
    }
}

/* The client table, the stderr pipes of @nslots slots, and the poll
 * set: the wake pipe, the parent's socket, the control socket, the
 * clients and the pipes. */
static int init_poll(pm_t *pm, int nslots)
{
    int i, room = 3 + FCGIX_PM_CONTROL_CLIENTS + nslots;

    pm->applogs = calloc((size_t)nslots + 1, sizeof(applog_t));
    for (i = 0; pm->applogs && i <= nslots; i++) {
        pm->applogs[i].fd = -1;
    }
    pm->clients = calloc(FCGIX_PM_CONTROL_CLIENTS, sizeof(client_t));
    pm->pfds = calloc((size_t)room, sizeof(struct pollfd));
    pm->pfd_owner = calloc((size_t)room, sizeof(int));
    if (pm->applogs == NULL || pm->clients == NULL || pm->pfds == NULL
        || pm->pfd_owner == NULL) {
        return -1;
    }
    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        pm->clients[i].fd = -1;
    }
    return 0;
}

static int init_pm(pm_t *pm, const fcgix_pm_config_t *cfg)
{
    int nclasses, nslots = fcgix_pm_board_slots(cfg, &nclasses);

    memset(pm, 0, sizeof(*pm));
    pm->live = *cfg;
    pm->cfg = &pm->live;
    pm->sb = cfg->sb;
    pm->parent = getppid();
    pm->uid = geteuid();
    pm->ctl_fd = -1;
    pm->dyn_classes = fcgix_pm_dynamic_room(cfg, &pm->dyn_per_class);
    pm->static_cap = static_room(cfg, &pm->static_slot_cap);
    if (cfg->sb == NULL || (int)cfg->sb->nclasses < nclasses
        || (int)cfg->sb->nslots < nslots) {
        return -1;
    }
    pm->classes = calloc((size_t)nclasses + 1, sizeof(pclass_t));
    pm->slots = calloc((size_t)nslots + 1, sizeof(pslot_t));
    if (pm->classes == NULL || pm->slots == NULL || init_poll(pm, nslots) != 0
        || fcgix_pm_tenants_init(pm) != 0) {
        return -1;
    }
    forget_board(cfg->sb);
    cfg->sb->head->pm_pid = (uint32_t)getpid();
    cfg->sb->head->pm_started_ms = fcgix_pm_wall_ms();
    return 0;
}

int fcgix_pm_run(const fcgix_pm_config_t *cfg)
{
    struct sigaction old[NHANDLED];
    pm_t pm;
    int rc = FCGIX_PM_EXIT_STARTUP;

    if (cfg == NULL || cfg->log == NULL || cfg->napps < 0
        || (cfg->napps == 0 && cfg->control_path == NULL)) {
        return FCGIX_PM_EXIT_STARTUP;
    }
    ensure_stdio();
    if (init_pm(&pm, cfg) != 0) {
        free(pm.classes);
        free(pm.slots);
        free(pm.applogs);
        free(pm.clients);
        free(pm.pfds);
        free(pm.pfd_owner);
        fcgix_pm_tenants_free(&pm);
        return FCGIX_PM_EXIT_STARTUP;
    }
    if (fcgix_pm_classes_init(&pm) != 0 || fcgix_pm_control_open(&pm) != 0) {
        goto cleanup;
    }
    stop_flag = graceful_flag = 0;
    if (open_wake_pipe() != 0 || install_signals(old) != 0) {
        fcgix_pm_log(&pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00534), NULL,
                     getpid(), "cannot set up signals: %s", strerror(errno));
        goto cleanup;
    }
    fcgix_pm_log(&pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00535), NULL, getpid(),
                 "started, %d static app(s)%s", cfg->napps,
                 cfg->control_path ? ", dynamic apps on demand" : "");
    if (cfg->control_path) {
        fcgix_pm_log(
            &pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00541), NULL, getpid(),
            "room for %d dynamic classes of %d slots each; %d "
            "virtual host(s), %d command(s)",
            pm.dyn_classes, pm.dyn_per_class, cfg->ntenants, cfg->ncommands);
    }
    supervise(&pm);
    shutdown_all(&pm);
    restore_signals(old);
    fcgix_pm_log(&pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00536), NULL, getpid(),
                 "stopped");
    rc = 0;
cleanup:
    if (wake_rd >= 0) {
        close_wake_pipe();
    }
    free_pm(&pm);
    return rc;
}
